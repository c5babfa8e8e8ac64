//! The training loop the workshop wrote by hand, for any `net!` classifier and any [`Dataset`]:
//! shuffle, mini-batches of forward → cross-entropy → backward → SGD, then a validation pass,
//! once per epoch; a non-finite loss stops it with an error.

use std::fs;
use std::path::Path;
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::data::Dataset;
use crate::{Batch, CrossEntropy, Error, Mode, Network, Sgd, SgdConfig, predicted_classes};

/// How to train.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainingConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Images per SGD step.
    pub batch_size: usize,
    /// The optimiser's settings.
    pub optimizer: SgdConfig,
    /// Seeds the shuffling (the network's initialisation and dropout have their own seed).
    pub seed: u64,
    /// How the learning rate changes from epoch to epoch.
    pub schedule: Schedule,
}

/// The learning rate per epoch, from the optimiser's `learning_rate` `η₀`.
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

/// Trains `network` on `train` for `config.epochs` epochs, validating on `validation` after each,
/// and returns every epoch's metrics. The network is left in evaluation mode.
///
/// When the batch size does not divide the training set and leaves a final batch of a single
/// image, that image is skipped for the epoch: batch normalisation cannot train on one sample.
///
/// # Errors
/// [`Error::NonFiniteLoss`] when the loss stops being finite (the network then holds the
/// parameters of that step, so save nothing from it); no training images; a batch size of 0, or
/// of 1 for a network with batch normalisation; images of another size than the network's input;
/// labels out of the network's range.
pub fn fit<N, const IN: usize, const C: usize>(
    network: &mut N,
    train: &Dataset,
    validation: &Dataset,
    config: &TrainingConfig,
    observe: impl FnMut(Progress<'_>) + Send,
) -> Result<Vec<EpochMetrics>, Error>
where
    N: Network<IN, C> + Send,
{
    // The loop runs on a thread of rayon's pool. Each large product is forked in two halves; a
    // fork from inside the pool costs less than one from outside it, which must hand both
    // halves to pool threads and wait (measured: 5–10% less time per epoch).
    rayon::scope(|_| fit_here(network, train, validation, config, observe))
}

/// [`fit`] on the current thread.
fn fit_here<N, const IN: usize, const C: usize>(
    network: &mut N,
    train: &Dataset,
    validation: &Dataset,
    config: &TrainingConfig,
    mut observe: impl FnMut(Progress<'_>),
) -> Result<Vec<EpochMetrics>, Error>
where
    N: Network<IN, C>,
{
    if config.batch_size == 0 {
        return Err(Error::EmptyBatch { what: "training (batch size 0)" });
    }
    if train.is_empty() {
        return Err(Error::EmptyBatch { what: "training (no training images)" });
    }
    let mut optimizer = Sgd::new(config.optimizer)?;
    let mut criterion = CrossEntropy::<C>::new();
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let (mut inputs, mut labels) = (Batch::<IN>::zeros(0), Vec::with_capacity(config.batch_size));
    let mut history = Vec::with_capacity(config.epochs);

    for epoch in 1..=config.epochs {
        let learning_rate =
            config.schedule.learning_rate(config.optimizer.learning_rate, epoch - 1, config.epochs);
        optimizer.set_learning_rate(learning_rate)?;
        order.shuffle(&mut rng);
        let mut batches: Vec<&[usize]> = order.chunks(config.batch_size).collect();
        // A leftover single image would stop a network with batch normalisation; drop it.
        if config.batch_size > 1 && batches.last().is_some_and(|last| last.len() == 1) {
            batches.pop();
        }
        observe(Progress::EpochStarted { epoch, batches: batches.len() });
        network.train();
        let start = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (index, indices) in batches.iter().enumerate() {
            train.fill_batch(indices, &mut inputs, &mut labels)?;
            let logits = network.forward(&inputs)?;
            correct += predicted_classes(logits).zip(&labels).filter(|(p, l)| p == *l).count();
            let loss = criterion.forward(logits, &labels)?;
            if !loss.is_finite() {
                let learning_rate = optimizer.config().learning_rate;
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
        observe(Progress::EpochDone(&metrics));
        history.push(metrics);
    }
    Ok(history)
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
