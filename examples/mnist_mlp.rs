//! The workshop end to end: train a `net!` classifier on MNIST and report as the workshop did.
//!
//! ```sh
//! cargo run --release --example mnist_mlp                      # mlp, 10 epochs
//! cargo run --release --example mnist_mlp -- --arch mlp-bn
//! cargo run --release --example mnist_mlp -- --compare         # base, mlp and mlp-bn side by side
//! ```
//!
//! stdout gets one `key=value` line per epoch and a final test line; stderr a progress bar.
//! Into `--out` (default `runs/<arch>`): `metrics.csv`, `convergence.svg` and the trained
//! `model.safetensors` (PyTorch state-dict names: `nn.Sequential.load_state_dict` takes it).
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
use minitorch::data::{Dataset, Mnist, Normalization, find_mnist_files, read_idx_images};
use minitorch::plot::{plot_comparison, plot_convergence};
use minitorch::prelude::*;
use minitorch::progress::ProgressBars;
use minitorch::rand::{SeedableRng, rngs::StdRng};
use minitorch::train::{EpochMetrics, Schedule, TrainingConfig, evaluate, fit, write_metrics_csv};

net! {
    /// The workshop's first architecture.
    struct Base< Linear(784, 1024), Linear(1024, 10) >

    /// The workshop's second architecture.
    struct Mlp< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >

    /// The second architecture with batch normalisation after each hidden linear layer.
    struct MlpBn< Linear(784, 512), BatchNorm1d(512), ReLU, Dropout(0.2), Linear(512, 256), BatchNorm1d(256), ReLU, Linear(256, 10) >
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Architecture {
    Base,
    Mlp,
    MlpBn,
}

impl Architecture {
    fn name(self) -> &'static str {
        match self {
            Architecture::Base => "base",
            Architecture::Mlp => "mlp",
            Architecture::MlpBn => "mlp-bn",
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
    /// Passes over the 48,000 training images.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Images per SGD step.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// SGD learning rate.
    #[arg(long, default_value_t = 0.05)]
    lr: f32,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    momentum: f32,
    /// Learning-rate schedule over the epochs.
    #[arg(long, value_enum, default_value = "cosine")]
    schedule: LearningRateSchedule,
    /// Seeds initialisation, dropout, the validation split and shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder with the four IDX files (`.gz` or not).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/data/mnist"))]
    data_dir: PathBuf,
    /// Output folder (default `runs/<arch>`, or `runs/compare` with `--compare`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Train all three architectures with the same settings and compare them.
    #[arg(long)]
    compare: bool,
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

/// What one architecture's run produced.
struct Run {
    architecture: Architecture,
    parameters: usize,
    history: Vec<EpochMetrics>,
    test: Option<(f32, f32)>,
    /// Why training stopped early, if it did.
    failure: Option<Error>,
}

fn train<N: Network<784, 10> + Send>(
    mut network: N,
    architecture: Architecture,
    data: &Mnist,
    arguments: &Arguments,
    out: &Path,
) -> Result<Run, Error> {
    let config = TrainingConfig {
        epochs: arguments.epochs,
        batch_size: arguments.batch_size,
        optimizer: SgdConfig {
            learning_rate: arguments.lr,
            momentum: arguments.momentum,
            ..SgdConfig::default()
        },
        seed: arguments.seed,
        schedule: match arguments.schedule {
            LearningRateSchedule::Constant => Schedule::Constant,
            LearningRateSchedule::Cosine => Schedule::Cosine,
        },
    };
    let parameters = network.parameter_count();
    let start = Instant::now();
    let mut bars = ProgressBars::default();
    let mut history = Vec::new();
    let outcome = fit(&mut network, &data.train, &data.validation, &config, |event| {
        bars.observe(event);
        if let minitorch::train::Progress::EpochDone(m) = event {
            println!(
                "arch={} epoch={} train_loss={:.4} train_accuracy={:.4} val_loss={:.4} val_accuracy={:.4} seconds={:.2}",
                architecture.name(),
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
    // The metrics of whatever finished are written, also when training stopped early; the model
    // only when it did not (a model saved by an earlier run stays as it was).
    write_metrics_csv(&out.join("metrics.csv"), &history)?;
    plot_convergence(&out.join("convergence.svg"), architecture.name(), &history)?;
    if outcome.is_ok() {
        checkpoint::save(&mut network, &out.join("model.safetensors"))?;
    }
    if let Err(error) = outcome {
        return match error {
            Error::NonFiniteLoss { .. } => {
                Ok(Run { architecture, parameters, history, test: None, failure: Some(error) })
            }
            other => Err(other),
        };
    }
    let (test_loss, test_accuracy) = evaluate(&mut network, &data.test, 1000)?;
    println!(
        "arch={} test_loss={test_loss:.4} test_accuracy={test_accuracy:.4} params={parameters} seconds_total={:.1}",
        architecture.name(),
        start.elapsed().as_secs_f64()
    );
    Ok(Run { architecture, parameters, history, test: Some((test_loss, test_accuracy)), failure: None })
}

fn run_one(
    architecture: Architecture,
    data: &Mnist,
    arguments: &Arguments,
    out: &Path,
) -> Result<Run, Error> {
    std::fs::create_dir_all(out)
        .map_err(|e| Error::Write { path: out.to_path_buf(), problem: e.to_string() })?;
    let rng = &mut StdRng::seed_from_u64(arguments.seed);
    match architecture {
        Architecture::Base => train(Base::new(rng), architecture, data, arguments, out),
        Architecture::Mlp => train(Mlp::new(rng), architecture, data, arguments, out),
        Architecture::MlpBn => train(MlpBn::new(rng), architecture, data, arguments, out),
    }
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    match run(&arguments) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `index,label` for every image of `images`, classified by `network`.
fn predict<N: Network<784, 10>>(mut network: N, arguments: &Arguments, images: &Path) -> Result<(), Error> {
    let default_model = Path::new("runs").join(arguments.arch.name()).join("model.safetensors");
    checkpoint::load(&mut network, arguments.model.as_ref().unwrap_or(&default_model))?;
    network.eval();
    // The normalisation training used: the statistics of the training file in --data-dir.
    let [train_images, ..] = find_mnist_files(&arguments.data_dir)?;
    let normalization = Normalization::of(&read_idx_images(&train_images)?.pixels);
    let file = read_idx_images(images)?;
    let count = file.count;
    let data = Dataset::new(file.pixels, vec![0; count], file.rows * file.columns, normalization)?;
    let (mut batch, mut unused_labels) = (Batch::<784>::zeros(0), Vec::new());
    let mut csv = String::from("index,label\n");
    let indices: Vec<usize> = (0..count).collect();
    for chunk in indices.chunks(1000) {
        data.fill_batch(chunk, &mut batch, &mut unused_labels)?;
        for (index, label) in chunk.iter().zip(predicted_classes(network.forward(&batch)?)) {
            csv.push_str(&format!("{index},{label}\n"));
        }
    }
    let path = &arguments.predictions;
    std::fs::write(path, csv).map_err(|e| Error::Write { path: path.clone(), problem: e.to_string() })?;
    println!("predictions={} images={count}", path.display());
    Ok(())
}

fn run(arguments: &Arguments) -> Result<(), Error> {
    if let Some(images) = &arguments.predict {
        let rng = &mut StdRng::seed_from_u64(arguments.seed);
        return match arguments.arch {
            Architecture::Base => predict(Base::new(rng), arguments, images),
            Architecture::Mlp => predict(Mlp::new(rng), arguments, images),
            Architecture::MlpBn => predict(MlpBn::new(rng), arguments, images),
        };
    }
    let data = Mnist::load(&arguments.data_dir, 12_000, arguments.seed)?;
    if !arguments.compare {
        let out = arguments.out.clone().unwrap_or_else(|| Path::new("runs").join(arguments.arch.name()));
        let run = run_one(arguments.arch, &data, arguments, &out)?;
        return run.failure.map_or(Ok(()), Err);
    }
    let out = arguments.out.clone().unwrap_or_else(|| Path::new("runs").join("compare"));
    let mut runs = Vec::new();
    for architecture in [Architecture::Base, Architecture::Mlp, Architecture::MlpBn] {
        runs.push(run_one(architecture, &data, arguments, &out.join(architecture.name()))?);
    }
    println!("\n| arch | params | best val accuracy | test accuracy | seconds/epoch |");
    println!("|---|---|---|---|---|");
    for run in &runs {
        if let Some(failure) = &run.failure {
            eprintln!("{}: {failure}", run.architecture.name());
        }
        let best = run.history.iter().map(|m| m.validation_accuracy).fold(f32::NAN, f32::max);
        let per_epoch = run.history.iter().map(|m| m.seconds).sum::<f64>() / run.history.len().max(1) as f64;
        let test = match (&run.test, &run.failure) {
            (Some((_, accuracy)), _) => format!("{accuracy:.4}"),
            (None, Some(_)) => "diverged".to_string(),
            (None, None) => "–".to_string(),
        };
        println!(
            "| {} | {} | {best:.4} | {test} | {per_epoch:.2} |",
            run.architecture.name(),
            run.parameters
        );
    }
    let curves: Vec<(&str, &[EpochMetrics])> =
        runs.iter().map(|r| (r.architecture.name(), r.history.as_slice())).collect();
    plot_comparison(&out.join("validation_accuracy.svg"), &curves)
}
