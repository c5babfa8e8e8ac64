//! The workshop end to end: train a `net!` classifier on MNIST and report as the workshop did.
//!
//! ```sh
//! cargo run --release --example mnist_mlp                      # mlp, 10 epochs
//! cargo run --release --example mnist_mlp -- --arch mlp-bn
//! cargo run --release --example mnist_mlp -- --arch cnn        # a CNN: Adam, 3 epochs
//! cargo run --release --example mnist_mlp -- --arch resnet     # a small ResNet: AdamW, 10 epochs
//! cargo run --release --example mnist_mlp -- --compare         # base, mlp, mlp-bn, cnn and resnet side by side
//! cargo run --release --example mnist_mlp -- --optimizer adam  # SGD (default), Adam or AdamW
//! cargo run --release --example mnist_mlp -- --resume runs/mlp # continue a stopped run
//! ```
//!
//! stdout gets the network's summary, one `key=value` line per epoch and a final test line;
//! stderr a progress bar.
//! Into `--out` (default `runs/<arch>`), a run's folder (`minitorch::run`): `settings.txt`,
//! `metrics.csv`, `convergence.svg`, the trained `model.safetensors` (PyTorch state-dict names:
//! `nn.Sequential.load_state_dict` takes it) with its model card (`README.md`, `config.json`),
//! and, after every epoch, `training_state.safetensors`, from which `--resume` continues a
//! stopped run with its own settings.
//!
//! The workshop's competition submission: predictions for every image of an IDX file, as CSV.
//!
//! ```sh
//! cargo run --release --example mnist_mlp -- --predict data/mnist/t10k-images-idx3-ubyte.gz \
//!     --model runs/mlp/model.safetensors --predictions predictions.csv
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use minitorch::checkpoint;
use minitorch::data::{Dataset, Mnist, Normalization, RandomShift, find_mnist_files, read_idx_images};
use minitorch::optim::OptimizerSettings;
use minitorch::plot::{plot_comparison, plot_convergence};
use minitorch::prelude::*;
use minitorch::progress::ProgressBars;
use minitorch::rand::{SeedableRng, rngs::StdRng};
use minitorch::run::{ModelCard, RunFolder, RunSettings};
use minitorch::train::{EpochMetrics, Progress, Schedule, TrainingConfig, evaluate, fit, predict};

net! {
    /// The workshop's first architecture.
    struct Base< Linear(784, 1024), Linear(1024, 10) >

    /// The workshop's second architecture.
    struct Mlp< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >

    /// The second architecture with batch normalisation after each hidden linear layer.
    struct MlpBn< Linear(784, 512), BatchNorm1d(512), ReLU, Dropout(0.2), Linear(512, 256), BatchNorm1d(256), ReLU, Linear(256, 10) >

    /// A small convolutional network: two 5×5 convolutions with pooling.
    struct Cnn< Input(1, 28, 28), Conv2d(1, 32, 5), ReLU, MaxPool2d(2), Conv2d(32, 64, 5), ReLU, MaxPool2d(2),
        Flatten, Linear(1024, 128), ReLU, Dropout(0.5), Linear(128, 10) >

    /// A small ResNet: a stem and three stages of one basic block, 16/32/64 channels.
    struct ResNet< Input(1, 28, 28),
        Conv2d(1, 16, 3, padding = 1), BatchNorm2d(16), ReLU,
        Residual(Conv2d(16, 16, 3, padding = 1), BatchNorm2d(16), ReLU,
                 Conv2d(16, 16, 3, padding = 1), BatchNorm2d(16)),
        ReLU,
        Residual(Conv2d(16, 32, 3, stride = 2, padding = 1), BatchNorm2d(32), ReLU,
                 Conv2d(32, 32, 3, padding = 1), BatchNorm2d(32);
                 shortcut: Conv2d(16, 32, 1, stride = 2), BatchNorm2d(32)),
        ReLU,
        Residual(Conv2d(32, 64, 3, stride = 2, padding = 1), BatchNorm2d(64), ReLU,
                 Conv2d(64, 64, 3, padding = 1), BatchNorm2d(64);
                 shortcut: Conv2d(32, 64, 1, stride = 2), BatchNorm2d(64)),
        ReLU, AdaptiveAvgPool2d(1), Flatten, Linear(64, 10) >

    /// PyTorch's official MNIST example network.
    struct PytorchCnn< Input(1, 28, 28), Conv2d(1, 32, 3), ReLU, Conv2d(32, 64, 3), ReLU, MaxPool2d(2), Dropout(0.25),
        Flatten, Linear(9216, 128), ReLU, Dropout(0.5), Linear(128, 10) >
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Architecture {
    Base,
    Mlp,
    MlpBn,
    Cnn,
    PytorchCnn,
    Resnet,
}

impl Architecture {
    fn name(self) -> &'static str {
        match self {
            Architecture::Base => "base",
            Architecture::Mlp => "mlp",
            Architecture::MlpBn => "mlp-bn",
            Architecture::Cnn => "cnn",
            Architecture::PytorchCnn => "pytorch-cnn",
            Architecture::Resnet => "resnet",
        }
    }

    fn is_convolutional(self) -> bool {
        matches!(self, Architecture::Cnn | Architecture::PytorchCnn | Architecture::Resnet)
    }

    /// `sgd` for the multilayer perceptrons, `adam` for cnn and pytorch-cnn, `adamw` for the
    /// resnet, which overfits Fashion-MNIST without decoupled weight decay (train accuracy 0.96,
    /// validation 0.92 after 10 epochs of Adam).
    fn default_optimizer(self) -> OptimizerKind {
        match self {
            Architecture::Resnet => OptimizerKind::Adamw,
            _ if self.is_convolutional() => OptimizerKind::Adam,
            _ => OptimizerKind::Sgd,
        }
    }

    /// AdamW's decoupled weight decay: 0.05 for the resnet, PyTorch's 0.01 otherwise.
    fn default_adamw_weight_decay(self) -> f32 {
        if self == Architecture::Resnet { 0.05 } else { AdamWConfig::default().weight_decay }
    }

    /// Random shifts of the training images: up to 1 pixel each way for the resnet, which
    /// overfits Fashion-MNIST even with weight decay (train accuracy 0.96 against 0.925 on
    /// validation after 10 epochs); none otherwise. Chosen by validation accuracy on both data
    /// sets among shifts of 0, 1 and 2 (see README).
    fn default_shift(self) -> usize {
        if self == Architecture::Resnet { 1 } else { 0 }
    }

    /// 10 for the multilayer perceptrons and the resnet, 3 for the other convolutional
    /// networks. The resnet's are those of PyTorch's run of the same network on Fashion-MNIST
    /// (Adam, cosine schedule, 10 epochs: 0.9205).
    fn default_epochs(self) -> usize {
        if matches!(self, Architecture::Cnn | Architecture::PytorchCnn) { 3 } else { 10 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OptimizerKind {
    /// SGD with momentum: lr 0.05, momentum 0.9.
    Sgd,
    /// Adam: lr 0.001, betas (0.9, 0.999), eps 1e-8.
    Adam,
    /// AdamW: lr 0.001, weight decay 0.01 (decoupled).
    Adamw,
}

impl OptimizerKind {
    fn default_learning_rate(self) -> f32 {
        match self {
            OptimizerKind::Sgd => 0.05,
            OptimizerKind::Adam | OptimizerKind::Adamw => 1e-3,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LearningRateSchedule {
    /// `--lr` throughout.
    Constant,
    /// Cosine annealing from `--lr` towards 0.
    Cosine,
}

/// Train a classifier on MNIST-format data (MNIST, Fashion-MNIST).
#[derive(Parser, Debug)]
struct Arguments {
    /// Which architecture to train.
    #[arg(long, value_enum, default_value = "mlp")]
    arch: Architecture,
    /// Passes over the 48,000 training images (default: 10 for base, mlp, mlp-bn and resnet; 3
    /// for cnn and pytorch-cnn).
    #[arg(long)]
    epochs: Option<usize>,
    /// Images per optimiser step.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// The optimiser (default: sgd for base, mlp and mlp-bn; adam for cnn and pytorch-cnn; adamw
    /// for resnet).
    #[arg(long, value_enum)]
    optimizer: Option<OptimizerKind>,
    /// Learning rate (default: 0.05 for sgd, 0.001 for adam and adamw).
    #[arg(long)]
    lr: Option<f32>,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    momentum: f32,
    /// Weight decay (default: 0 for sgd and adam, an L2 term; for adamw, decoupled, 0.01, and
    /// 0.05 for resnet).
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Learning-rate schedule over the epochs.
    #[arg(long, value_enum, default_value = "cosine")]
    schedule: LearningRateSchedule,
    /// Move each training image by a random whole number of pixels, up to this many each way,
    /// every epoch (default: 1 for resnet, 0 otherwise).
    #[arg(long)]
    shift: Option<usize>,
    /// Seeds initialisation, dropout, the validation split and shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder with the four IDX files (`.gz` or not).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/mnist"))]
    data_dir: PathBuf,
    /// Output folder (default `runs/<arch>`, or `runs/compare` with `--compare`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Train base, mlp, mlp-bn, cnn and resnet, each with its defaults unless given, and compare
    /// them.
    #[arg(long)]
    compare: bool,
    /// Stop after this epoch, leaving a training state that `--resume` continues.
    #[arg(long, conflicts_with = "compare")]
    stop_after: Option<usize>,
    /// Continue the stopped run in this folder, with its own settings (no other training flags).
    #[arg(long, conflicts_with_all = [
        "arch", "epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule",
        "shift", "seed", "out", "compare", "predict",
    ])]
    resume: Option<PathBuf>,
    /// Instead of training: classify every image of this IDX image file with `--model`.
    #[arg(long, conflicts_with = "compare")]
    predict: Option<PathBuf>,
    /// The model for `--predict` (default `runs/<arch>/model.safetensors`).
    #[arg(long, requires = "predict")]
    model: Option<PathBuf>,
    /// Where `--predict` writes `index,label` rows.
    #[arg(long, default_value = "predictions.csv", requires = "predict")]
    predictions: PathBuf,
}

impl Arguments {
    /// The settings of a new run of `architecture`: the flags given, its defaults for the rest.
    fn settings(&self, architecture: Architecture) -> RunSettings {
        let kind = self.optimizer.unwrap_or(architecture.default_optimizer());
        let learning_rate = self.lr.unwrap_or(kind.default_learning_rate());
        let weight_decay = self.weight_decay.unwrap_or(match kind {
            OptimizerKind::Adamw => architecture.default_adamw_weight_decay(),
            OptimizerKind::Sgd | OptimizerKind::Adam => 0.0,
        });
        let optimizer = match kind {
            OptimizerKind::Sgd => OptimizerSettings::Sgd(SgdConfig {
                learning_rate,
                momentum: self.momentum,
                weight_decay,
                ..SgdConfig::default()
            }),
            OptimizerKind::Adam => {
                OptimizerSettings::Adam(AdamConfig { learning_rate, weight_decay, ..AdamConfig::default() })
            }
            OptimizerKind::Adamw => OptimizerSettings::AdamW(AdamWConfig {
                learning_rate,
                weight_decay,
                ..AdamWConfig::default()
            }),
        };
        RunSettings {
            architecture: architecture.name().to_string(),
            epochs: self.epochs.unwrap_or(architecture.default_epochs()),
            batch_size: self.batch_size,
            optimizer,
            schedule: match self.schedule {
                LearningRateSchedule::Constant => Schedule::Constant,
                LearningRateSchedule::Cosine => Schedule::Cosine,
            },
            shift: self.shift.unwrap_or(architecture.default_shift()),
            seed: self.seed,
        }
    }
}

/// Something to do with a network of the chosen architecture: train it, or classify with it.
trait Task {
    type Output;
    fn run<N: Network<784, 10> + Send>(self, network: N) -> Result<Self::Output, Error>;
}

/// Runs `task` on a new network of `architecture`, initialised from `seed`.
fn with_network<T: Task>(architecture: Architecture, seed: u64, task: T) -> Result<T::Output, Error> {
    let rng = &mut StdRng::seed_from_u64(seed);
    match architecture {
        Architecture::Base => task.run(Base::new(rng)),
        Architecture::Mlp => task.run(Mlp::new(rng)),
        Architecture::MlpBn => task.run(MlpBn::new(rng)),
        Architecture::Cnn => task.run(Cnn::new(rng)),
        Architecture::PytorchCnn => task.run(PytorchCnn::new(rng)),
        Architecture::Resnet => task.run(ResNet::new(rng)),
    }
}

/// Training, into a run's folder, from its start or from where it stopped.
struct Training<'a> {
    data: &'a Mnist,
    settings: &'a RunSettings,
    folder: &'a RunFolder,
    resume: bool,
    stop_after: Option<usize>,
}

/// What one architecture's run produced.
struct Run {
    architecture: String,
    parameters: usize,
    history: Vec<EpochMetrics>,
    test: Option<(f32, f32)>,
    /// Why training stopped early, if it did.
    failure: Option<Error>,
}

impl Task for Training<'_> {
    type Output = Run;

    fn run<N: Network<784, 10> + Send>(self, mut network: N) -> Result<Run, Error> {
        let Training { data, settings, folder, resume, stop_after } = self;
        let architecture = settings.architecture.clone();
        let mut optimizer = settings.optimizer.build()?;
        println!("{}", N::summary());
        let completed_epochs = match resume {
            true => checkpoint::load_training_state(&folder.state_file(), &mut network, &mut *optimizer)?,
            false => 0,
        };
        if resume {
            println!("resuming arch={architecture} after epoch {completed_epochs} of {}", settings.epochs);
        }
        let config = TrainingConfig {
            epochs: settings.epochs,
            batch_size: settings.batch_size,
            seed: settings.seed,
            schedule: settings.schedule,
            completed_epochs,
            stop_after_epoch: stop_after,
            state_file: Some(folder.state_file()),
            shift: (settings.shift > 0).then_some(RandomShift { max: settings.shift, width: 28 }),
        };
        let parameters = network.parameter_count();
        let start = Instant::now();
        let mut bars = ProgressBars::default();
        // A resumed run's metrics go on from those of the epochs before it.
        let mut history = if resume { folder.read_metrics()? } else { Vec::new() };
        history.truncate(completed_epochs);
        let outcome = fit(&mut network, &mut *optimizer, &data.train, &data.validation, &config, |event| {
            bars.observe(event);
            if let Progress::EpochDone(m) = event {
                println!(
                    "arch={architecture} epoch={} train_loss={:.4} train_accuracy={:.4} val_loss={:.4} val_accuracy={:.4} seconds={:.2}",
                    m.epoch,
                    m.train_loss,
                    m.train_accuracy,
                    m.validation_loss,
                    m.validation_accuracy,
                    m.seconds
                );
                history.push(*m);
            }
        });
        // The metrics of whatever finished are written, also when training stopped early; the
        // model only when it did not (a model saved by an earlier run stays as it was).
        folder.write_metrics(&history)?;
        plot_convergence(&folder.path().join("convergence.svg"), &architecture, &history)?;
        let mut run = Run { architecture, parameters, history, test: None, failure: None };
        match outcome {
            Err(error @ Error::NonFiniteLoss { .. }) => return Ok(Run { failure: Some(error), ..run }),
            Err(other) => return Err(other),
            Ok(_) if run.history.len() < settings.epochs => {
                let (done, out) = (run.history.len(), folder.path().display());
                println!("stopped after epoch {done}; continue with --resume {out}");
                return Ok(run);
            }
            Ok(_) => {}
        }
        let (test_loss, test_accuracy) = evaluate(&mut network, &data.test, 1000)?;
        println!(
            "arch={} test_loss={test_loss:.4} test_accuracy={test_accuracy:.4} params={parameters} seconds_total={:.1}",
            run.architecture,
            start.elapsed().as_secs_f64()
        );
        run.test = Some((test_loss, test_accuracy));
        checkpoint::save(&mut network, &folder.model_file())?;
        let card = ModelCard {
            summary: N::summary(),
            pytorch_module: N::pytorch_module(),
            input_shape: N::input_shape(),
            classes: 10,
            normalization: data.train.normalization(),
            split: [data.train.len(), data.validation.len(), data.test.len()],
            history: &run.history,
            test: run.test,
        };
        folder.write_model_card(settings, &card)?;
        Ok(run)
    }
}

/// Classifying every image of an IDX file, as the workshop's competition submission.
struct Prediction<'a> {
    arguments: &'a Arguments,
    images: &'a Path,
}

impl Task for Prediction<'_> {
    type Output = ();

    fn run<N: Network<784, 10> + Send>(self, mut network: N) -> Result<(), Error> {
        let Prediction { arguments, images } = self;
        let default_model = Path::new("runs").join(arguments.arch.name()).join("model.safetensors");
        checkpoint::load(&mut network, arguments.model.as_ref().unwrap_or(&default_model))?;
        // The normalisation training used: the statistics of the training file in --data-dir.
        let [train_images, ..] = find_mnist_files(&arguments.data_dir)?;
        let normalization = Normalization::of(&read_idx_images(&train_images)?.pixels);
        let file = read_idx_images(images)?;
        let data = Dataset::new(file.pixels, vec![0; file.count], file.rows * file.columns, normalization)?;
        let mut csv = String::from("index,label\n");
        for (index, label) in predict(&mut network, &data, 1000)?.into_iter().enumerate() {
            csv.push_str(&format!("{index},{label}\n"));
        }
        let path = &arguments.predictions;
        std::fs::write(path, csv).map_err(|e| Error::Write { path: path.clone(), problem: e.to_string() })?;
        println!("predictions={} images={}", path.display(), file.count);
        Ok(())
    }
}

fn main() -> ExitCode {
    match run(&Arguments::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(arguments: &Arguments) -> Result<(), Error> {
    if let Some(images) = &arguments.predict {
        return with_network(arguments.arch, arguments.seed, Prediction { arguments, images });
    }
    if let Some(path) = &arguments.resume {
        // The run goes on with its own settings, on this call's --data-dir.
        let folder = RunFolder::open(path)?;
        let settings = folder.read_settings()?;
        let architecture =
            Architecture::from_str(&settings.architecture, false).map_err(|problem| Error::Data {
                path: folder.path().join("settings.txt"),
                problem: format!("`architecture`: {problem}"),
            })?;
        let data = Mnist::load(&arguments.data_dir, 12_000, settings.seed)?;
        let training = Training {
            data: &data,
            settings: &settings,
            folder: &folder,
            resume: true,
            stop_after: arguments.stop_after,
        };
        return with_network(architecture, settings.seed, training)?.failure.map_or(Ok(()), Err);
    }
    let data = Mnist::load(&arguments.data_dir, 12_000, arguments.seed)?;
    let compared =
        [Architecture::Base, Architecture::Mlp, Architecture::MlpBn, Architecture::Cnn, Architecture::Resnet];
    let (architectures, out) = match arguments.compare {
        false => (
            &[arguments.arch][..],
            arguments.out.clone().unwrap_or_else(|| Path::new("runs").join(arguments.arch.name())),
        ),
        true => (&compared[..], arguments.out.clone().unwrap_or_else(|| Path::new("runs").join("compare"))),
    };
    let mut runs = Vec::new();
    for &architecture in architectures {
        let settings = arguments.settings(architecture);
        settings.optimizer.build()?; // refuses bad settings before anything is written
        let folder =
            RunFolder::create(if arguments.compare { out.join(architecture.name()) } else { out.clone() })?;
        folder.write_settings(&settings)?;
        let training = Training {
            data: &data,
            settings: &settings,
            folder: &folder,
            resume: false,
            stop_after: arguments.stop_after,
        };
        runs.push(with_network(architecture, settings.seed, training)?);
    }
    if !arguments.compare {
        return runs.pop().and_then(|run| run.failure).map_or(Ok(()), Err);
    }
    println!("\n| arch | params | best val accuracy | test accuracy | seconds/epoch |");
    println!("|---|---|---|---|---|");
    for run in &runs {
        if let Some(failure) = &run.failure {
            eprintln!("{}: {failure}", run.architecture);
        }
        let best = run.history.iter().map(|m| m.validation_accuracy).fold(f32::NAN, f32::max);
        let per_epoch = run.history.iter().map(|m| m.seconds).sum::<f64>() / run.history.len().max(1) as f64;
        let test = match (&run.test, &run.failure) {
            (Some((_, accuracy)), _) => format!("{accuracy:.4}"),
            (None, Some(_)) => "diverged".to_string(),
            (None, None) => "–".to_string(),
        };
        println!("| {} | {} | {best:.4} | {test} | {per_epoch:.2} |", run.architecture, run.parameters);
    }
    let curves: Vec<(&str, &[EpochMetrics])> =
        runs.iter().map(|r| (r.architecture.as_str(), r.history.as_slice())).collect();
    plot_comparison(&out.join("validation_accuracy.svg"), &curves)
}
