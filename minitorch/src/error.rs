//! The library's error type.

/// What went wrong, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A batch with no samples was given to something that needs at least one.
    #[error("{what}: the batch is empty")]
    EmptyBatch {
        /// The operation that was refused.
        what: &'static str,
    },
    /// Batch normalisation cannot compute a variance from one sample in training.
    #[error(
        "batch normalisation needs at least 2 samples per batch in training, got {samples} (evaluation mode takes one)"
    )]
    BatchTooSmallForBatchNorm {
        /// The batch size given.
        samples: usize,
    },
    /// Two things that must describe the same batch do not.
    #[error("{what}: expected {expected} samples, got {found}")]
    BatchSizeMismatch {
        /// The operation that was refused.
        what: &'static str,
        /// The batch size that was needed.
        expected: usize,
        /// The batch size given.
        found: usize,
    },
    /// A count that is not what the data or the network needs (pixels, features), as opposed to
    /// a number of samples.
    #[error("{what}: expected {expected}, found {found}")]
    SizeMismatch {
        /// What was counted, with its unit.
        what: &'static str,
        /// The count that was needed.
        expected: usize,
        /// The count given.
        found: usize,
    },
    /// A class label is not smaller than the number of classes.
    #[error("label {label} of sample {sample} is out of range: there are {classes} classes (0..{classes})")]
    LabelOutOfRange {
        /// The sample's position in the batch.
        sample: usize,
        /// The label given.
        label: usize,
        /// The number of classes (the network's output width).
        classes: usize,
    },
    /// An optimiser setting outside its valid range.
    #[error("invalid optimiser setting {name} = {value}: {reason}")]
    InvalidHyperparameter {
        /// The setting's name.
        name: &'static str,
        /// The value given.
        value: f32,
        /// What it must be.
        reason: &'static str,
    },
    /// A training setting that cannot work with the data or the network.
    #[error("invalid training setting {name}: {reason}")]
    InvalidSetting {
        /// The setting's name.
        name: &'static str,
        /// Why it cannot work.
        reason: String,
    },
    /// A data file that is missing, unreadable or not what it claims to be.
    #[error("{}: {problem}", path.display())]
    Data {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// Training diverged: the loss stopped being a number.
    #[error(
        "training diverged: the loss is {loss} at epoch {epoch}, batch {batch} (learning rate {learning_rate:e})"
    )]
    NonFiniteLoss {
        /// The loss seen.
        loss: f32,
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch.
        batch: usize,
        /// The learning rate in use.
        learning_rate: f32,
    },
    /// A checkpoint that does not fit the model, or is not a valid safetensors file.
    #[error("{location}: {problem}")]
    Checkpoint {
        /// The file, or `"safetensors bytes"`.
        location: String,
        /// Every tensor that is missing, extra or of another shape or dtype; or why the data
        /// could not be parsed.
        problem: String,
    },
    /// An image file that cannot be read, is not PNG or PGM, or is corrupt.
    #[error("{location}: {problem}")]
    Image {
        /// The file, or what named the bytes.
        location: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Writing an output file failed.
    #[error("{}: cannot write: {problem}", path.display())]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// An optimiser with state for one model was stepped with another.
    #[error(
        "the optimiser's state does not fit this model: parameter {index} has {found} values, its momentum buffer {expected}"
    )]
    OptimizerModelMismatch {
        /// The parameter's position in visiting order.
        index: usize,
        /// The size of the optimiser's buffer.
        expected: usize,
        /// The size of the parameter.
        found: usize,
    },
}
