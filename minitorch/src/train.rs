//! The training loop the workshop wrote by hand, for any `net!` classifier, any [`Optimizer`]
//! and any [`Dataset`]: shuffle, mini-batches of forward → cross-entropy → backward → optimiser
//! step, then a validation pass, once per epoch; a non-finite loss stops it with an error. A run
//! can save its whole state after every epoch and be resumed from it, with the same result bit
//! for bit as a run that was never stopped.
//!
//! Tests: `tests/training.rs`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::data::{Dataset, RandomShift};
use crate::{Batch, CrossEntropy, Error, Mode, Network, Optimizer, checkpoint, predicted_classes};

/// How to train.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainingConfig {
    /// Passes over the training set, in all.
    pub epochs: usize,
    /// Images per optimiser step.
    pub batch_size: usize,
    /// Seeds the shuffling (the network's initialisation and dropout have their own seed).
    pub seed: u64,
    /// How the learning rate changes from epoch to epoch.
    pub schedule: Schedule,
    /// Epochs already done: 0 for a new run; for a resumed run, what
    /// [`checkpoint::load_training_state`] returned. Training continues with the next epoch.
    pub completed_epochs: usize,
    /// Stop after this epoch even if `epochs` is larger (the schedule still spans `epochs`); the
    /// run can be resumed from its state file later. `None` runs to the end.
    pub stop_after_epoch: Option<usize>,
    /// Where to save the training state after every epoch (see
    /// [`checkpoint::save_training_state`]), so that the run can be resumed; `None` saves
    /// nothing.
    pub state_file: Option<PathBuf>,
    /// Random translations of the training images, drawn from the seed and the epoch (so a
    /// resumed run draws what the whole run would have); `None` trains on the images as they are.
    pub shift: Option<RandomShift>,
}

impl Default for TrainingConfig {
    /// 10 epochs of batches of 64, seed 0, a constant learning rate, nothing saved, no shifts.
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 64,
            seed: 0,
            schedule: Schedule::Constant,
            completed_epochs: 0,
            stop_after_epoch: None,
            state_file: None,
            shift: None,
        }
    }
}

/// The learning rate per epoch, from the optimiser's learning rate `η₀` when [`fit`] starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Schedule {
    /// `η₀` throughout.
    #[default]
    Constant,
    /// Cosine annealing to 0 over the run, one value per epoch (PyTorch's `CosineAnnealingLR`
    /// with `T_max` = epochs, stepped once per epoch): `η_e = η₀·(1 + cos(π·e/E))/2` for epoch
    /// `e = 0, 1, …, E − 1`.
    Cosine,
}

impl Schedule {
    /// The learning rate of epoch `epoch` (0-based) of `epochs`.
    pub fn learning_rate(self, initial: f32, epoch: usize, epochs: usize) -> f32 {
        match self {
            Schedule::Constant => initial,
            Schedule::Cosine => {
                let progress = epoch as f64 / epochs.max(1) as f64;
                (f64::from(initial) * (1.0 + (std::f64::consts::PI * progress).cos()) / 2.0) as f32
            }
        }
    }
}

/// What one epoch measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochMetrics {
    /// 1-based.
    pub epoch: usize,
    /// Mean loss over the epoch's training batches (in training mode, as they were trained).
    pub train_loss: f32,
    /// Share of training images classified right during the epoch.
    pub train_accuracy: f32,
    /// Mean loss on the validation set, in evaluation mode after the epoch.
    pub validation_loss: f32,
    /// Share of validation images classified right.
    pub validation_accuracy: f32,
    /// Wall-clock seconds of the epoch's training steps (validation excluded).
    pub seconds: f64,
}

impl EpochMetrics {
    /// The header of [`EpochMetrics::csv_row`].
    pub const CSV_HEADER: &'static str =
        "epoch,train_loss,train_accuracy,validation_loss,validation_accuracy,seconds";

    /// One comma-separated row.
    pub fn csv_row(&self) -> String {
        format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.3}",
            self.epoch,
            self.train_loss,
            self.train_accuracy,
            self.validation_loss,
            self.validation_accuracy,
            self.seconds
        )
    }
}

/// What [`fit`] reports while it runs.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// An epoch begins, with this many batches.
    EpochStarted {
        /// 1-based.
        epoch: usize,
        /// Batches in the epoch.
        batches: usize,
    },
    /// A training step is done.
    BatchDone {
        /// 1-based within the epoch.
        batch: usize,
        /// Mean training loss of the epoch so far.
        running_loss: f32,
        /// Training throughput of the epoch so far.
        images_per_second: f64,
    },
    /// An epoch and its validation pass are done.
    EpochDone(&'a EpochMetrics),
}

/// Trains `network` with `optimizer` on `train` for the epochs of `config` not yet completed,
/// validating on `validation` after each, and returns those epochs' metrics. The network is left
/// in evaluation mode.
///
/// The optimiser's learning rate when `fit` starts is `η₀` of `config.schedule`; each epoch sets
/// the optimiser's rate from it. The training images are shuffled anew each epoch, from
/// `config.seed` and the epoch's number alone, so a resumed run sees the same batches.
///
/// When the batch size does not divide the training set and leaves a final batch of a single
/// image, that image is skipped for the epoch: batch normalisation cannot train on one sample.
///
/// # Errors
/// [`Error::NonFiniteLoss`] when the loss stops being finite (the network then holds the
/// parameters of that step, so save nothing from it); no training images; a batch size of 0, or
/// of 1 for a network with batch normalisation; images of another size than the network's input;
/// labels out of the network's range; a state file that cannot be written.
pub fn fit<N, O, const IN: usize, const C: usize>(
    network: &mut N,
    optimizer: &mut O,
    train: &Dataset,
    validation: &Dataset,
    config: &TrainingConfig,
    mut observe: impl FnMut(Progress<'_>),
) -> Result<Vec<EpochMetrics>, Error>
where
    N: Network<IN, C>,
    O: Optimizer + ?Sized,
{
    if config.batch_size == 0 {
        return Err(Error::EmptyBatch { what: "training (batch size 0)" });
    }
    if train.is_empty() {
        return Err(Error::EmptyBatch { what: "training (no training images)" });
    }
    if let Some(shift) = config.shift {
        shift.check(IN)?;
    }
    let background = {
        let normalization = train.normalization();
        -normalization.mean / normalization.std
    };
    let mut scratch = Vec::new();
    let initial_learning_rate = optimizer.learning_rate();
    let mut criterion = CrossEntropy::<C>::new();
    let mut order: Vec<usize> = Vec::with_capacity(train.len());
    let (mut inputs, mut labels) = (Batch::<IN>::zeros(0), Vec::with_capacity(config.batch_size));
    let mut history = Vec::with_capacity(config.epochs);

    let last_epoch = config.stop_after_epoch.map_or(config.epochs, |stop| stop.min(config.epochs));
    for epoch in config.completed_epochs + 1..=last_epoch {
        let learning_rate = config.schedule.learning_rate(initial_learning_rate, epoch - 1, config.epochs);
        optimizer.set_learning_rate(learning_rate)?;
        order.clear();
        order.extend(0..train.len());
        order.shuffle(&mut StdRng::seed_from_u64(epoch_seed(config.seed, epoch)));
        let mut batches: Vec<&[usize]> = order.chunks(config.batch_size).collect();
        // A leftover single image would stop a network with batch normalisation; drop it.
        if config.batch_size > 1 && batches.last().is_some_and(|last| last.len() == 1) {
            batches.pop();
        }
        // Its own stream, so that the shuffle above stays what it was without shifts.
        let mut shifts = StdRng::seed_from_u64(epoch_seed(config.seed, epoch) ^ SHIFT_STREAM);
        observe(Progress::EpochStarted { epoch, batches: batches.len() });
        network.train();
        let start = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (index, indices) in batches.iter().enumerate() {
            train.fill_batch(indices, &mut inputs, &mut labels)?;
            if let Some(shift) = config.shift {
                shift.apply(&mut inputs, background, &mut shifts, &mut scratch);
            }
            let logits = network.forward(&inputs)?;
            correct += predicted_classes(logits).zip(&labels).filter(|(p, l)| p == *l).count();
            let loss = criterion.forward(logits, &labels)?;
            if !loss.is_finite() {
                let learning_rate = optimizer.learning_rate();
                return Err(Error::NonFiniteLoss { loss, epoch, batch: index + 1, learning_rate });
            }
            network.zero_grad();
            network.backward(criterion.gradient())?;
            optimizer.step(network)?;
            loss_sum += f64::from(loss) * indices.len() as f64;
            seen += indices.len();
            observe(Progress::BatchDone {
                batch: index + 1,
                running_loss: (loss_sum / seen as f64) as f32,
                images_per_second: seen as f64 / start.elapsed().as_secs_f64(),
            });
        }
        let seconds = start.elapsed().as_secs_f64();
        let (validation_loss, validation_accuracy) = evaluate(network, validation, config.batch_size)?;
        let metrics = EpochMetrics {
            epoch,
            train_loss: (loss_sum / seen.max(1) as f64) as f32,
            train_accuracy: correct as f32 / seen.max(1) as f32,
            validation_loss,
            validation_accuracy,
            seconds,
        };
        if let Some(path) = &config.state_file {
            checkpoint::save_training_state(path, network, optimizer, epoch)?;
        }
        observe(Progress::EpochDone(&metrics));
        history.push(metrics);
    }
    Ok(history)
}

/// Set apart the random shifts' seed of an epoch from its shuffling seed.
const SHIFT_STREAM: u64 = 0x5348_4946_5453_5f31;

/// The shuffling seed of `epoch`, from the run's seed alone.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Mean cross-entropy and accuracy of `network` on `data`, in evaluation mode (the network is
/// left in evaluation mode).
///
/// # Errors
/// An empty dataset or batch size; images or labels that do not fit the network.
pub fn evaluate<N, const IN: usize, const C: usize>(
    network: &mut N,
    data: &Dataset,
    batch_size: usize,
) -> Result<(f32, f32), Error>
where
    N: Network<IN, C>,
{
    if data.is_empty() || batch_size == 0 {
        return Err(Error::EmptyBatch { what: "evaluation" });
    }
    network.set_mode(Mode::Eval);
    let mut criterion = CrossEntropy::<C>::new();
    let (mut inputs, mut labels) = (Batch::<IN>::zeros(0), Vec::with_capacity(batch_size));
    let indices: Vec<usize> = (0..data.len()).collect();
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    for chunk in indices.chunks(batch_size) {
        data.fill_batch(chunk, &mut inputs, &mut labels)?;
        let logits = network.forward(&inputs)?;
        correct += predicted_classes(logits).zip(&labels).filter(|(p, l)| p == *l).count();
        loss_sum += f64::from(criterion.forward(logits, &labels)?) * chunk.len() as f64;
    }
    Ok(((loss_sum / data.len() as f64) as f32, correct as f32 / data.len() as f32))
}

/// The class `network` predicts for every image of `data`, in order, `batch_size` at a time in
/// evaluation mode (the workshop's competition submission). `data`'s labels are not read.
///
/// ```
/// use minitorch::data::{Dataset, Normalization};
/// use minitorch::prelude::*;
/// use minitorch::train::predict;
/// # use minitorch::rand::{SeedableRng, rngs::StdRng};
/// net! { struct Tiny< Linear(4, 3) > }
/// let mut network = Tiny::new(&mut StdRng::seed_from_u64(0));
/// let images = Dataset::new(vec![0, 9, 0, 0, 255, 0, 0, 7], vec![0, 0], 4, Normalization::MNIST)?;
/// let classes = predict(&mut network, &images, 1000)?;
/// assert_eq!(classes.len(), 2);
/// assert!(classes.iter().all(|&class| class < 3));
/// # Ok::<(), minitorch::Error>(())
/// ```
///
/// # Errors
/// [`Error::EmptyBatch`] for no images or a batch size of 0; the network's errors.
pub fn predict<N, const IN: usize, const C: usize>(
    network: &mut N,
    data: &Dataset,
    batch_size: usize,
) -> Result<Vec<usize>, Error>
where
    N: Network<IN, C>,
{
    if data.is_empty() || batch_size == 0 {
        return Err(Error::EmptyBatch { what: "prediction" });
    }
    network.set_mode(Mode::Eval);
    let (mut inputs, mut labels) = (Batch::<IN>::zeros(0), Vec::with_capacity(batch_size));
    let indices: Vec<usize> = (0..data.len()).collect();
    let mut classes = Vec::with_capacity(data.len());
    for chunk in indices.chunks(batch_size) {
        data.fill_batch(chunk, &mut inputs, &mut labels)?;
        classes.extend(predicted_classes(network.forward(&inputs)?));
    }
    Ok(classes)
}

/// Writes the metrics as CSV (header and one row per epoch).
///
/// # Errors
/// [`Error::Write`] naming the file.
pub fn write_metrics_csv(path: &Path, history: &[EpochMetrics]) -> Result<(), Error> {
    let mut text = format!("{}\n", EpochMetrics::CSV_HEADER);
    for metrics in history {
        text.push_str(&metrics.csv_row());
        text.push('\n');
    }
    fs::write(path, text).map_err(|e| Error::Write { path: path.to_path_buf(), problem: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A saved training state resumes with the shuffles of the epochs after it only while this
    /// derivation stays the same: these values pin it.
    #[test]
    fn epoch_seeds_are_stable_and_distinct() {
        assert_eq!(epoch_seed(0, 1), 0x9E37_79B9_7F4A_7C15);
        assert_eq!(epoch_seed(5, 2), 5 ^ 0x9E37_79B9_7F4A_7C15u64.wrapping_mul(2));
        assert_eq!(epoch_seed(0x9E37_79B9_7F4A_7C15, 1), 0);
        assert_ne!(epoch_seed(1, 1), epoch_seed(1, 2));
    }
}
