//! Step 4 of the learning path: write your own layer, check its derivatives, and train with it.
//!
//! The layer is PReLU: a leaky ReLU whose negative slope `aᵢ` is learnt, one per feature
//! (PyTorch's `nn.PReLU(N)`, whose state dict holds the slopes as `weight [N]`):
//!
//! ```text
//! forward:   yᵢ = xᵢ            if xᵢ > 0,   aᵢ·xᵢ   otherwise
//! backward:  ∂L/∂xᵢ = gᵢ        if xᵢ > 0,   aᵢ·gᵢ   otherwise
//!            ∂L/∂aᵢ = Σ over the batch of gᵢ·xᵢ where xᵢ ≤ 0
//! ```
//!
//! Its slopes are a `Param` field, which owns their value and gradient; `#[derive(Parameters)]`
//! hands it to optimisers and checkpoints under its field name, `weight`, and
//! `#[derive(Initialize)]` builds the layer with the slopes at PyTorch's 0.25 (`#[init(…)]`). By
//! hand it implements `Layer`: `forward` writes `y` for `x`, and `backward` adds `∂L/∂a` and
//! writes `∂L/∂x` for `∂L/∂y` (`grad_y`), into batches the network keeps between its layers. It
//! joins a layer list as `PReLU<128>: 128 -> 128`. `gradcheck::check_layer` compares its backward with finite
//! differences before it trains.
//!
//! Run: `cargo run --release --example 04_custom_layer`. Next: `mnist_mlp`.

use std::path::Path;
use std::process::ExitCode;

use minitorch::data::Mnist;
use minitorch::gradcheck::{GradientCheck, check_layer};
use minitorch::optim::{Adam, AdamConfig};
use minitorch::prelude::*;
use minitorch::rand::{RngExt, SeedableRng, rngs::StdRng};
use minitorch::train::{TrainingConfig, evaluate, fit};
use minitorch::{HeapMatrix, checkpoint};

/// A ReLU with a learnt slope for negative inputs, per feature.
#[derive(Clone, Debug, Parameters, Initialize)]
struct PReLU<const N: usize> {
    /// The slopes `aᵢ` and their gradient, named `weight` as in PyTorch's state dict.
    #[init(Param::new(HeapMatrix::from_fn(|_, _| 0.25)))]
    weight: Param<HeapMatrix<N, 1>>,
}

impl<const N: usize> Layer<N, N> for PReLU<N> {
    fn forward(&mut self, x: &Batch<N>, y: &mut Batch<N>, _mode: Mode) {
        *y = x.map_with_location(|i, _, x| if x > 0.0 { x } else { self.weight[i] * x });
    }

    fn backward(&mut self, x: &Batch<N>, _y: &Batch<N>, grad_y: &Batch<N>, grad_x: &mut Batch<N>) {
        grad_x.clone_from(grad_y);
        // Column-major: entry `k` of the batch is feature `k % N` of a sample.
        for (k, (g, &x)) in grad_x.iter_mut().zip(x.iter()).enumerate() {
            if x <= 0.0 {
                self.weight.gradient[k % N] += *g * x;
                *g *= self.weight[k % N];
            }
        }
    }
}

net! {
    struct WithPReLU< Linear(784, 128), PReLU<128>: 128 -> 128, Linear(128, 10) >
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Check the derivatives on its own, with slopes away from their start.
    let mut rng = StdRng::seed_from_u64(0);
    let mut layer = PReLU::<16>::initialize(&mut rng);
    layer.weight.iter_mut().for_each(|a| *a = rng.random_range(0.0..0.5));
    let input = Batch::<16>::from_fn(8, |_, _| rng.random_range(-2.0..2.0));
    let report = check_layer(&layer, &input, Mode::Train, GradientCheck::default());
    println!("gradient check: {report}");
    if !report.passed(1e-2) {
        return Err(format!("PReLU's backward disagrees with finite differences: {report}").into());
    }

    // 2. Train a network that uses it, with the library's loop.
    let data = Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist"), 12_000, 0)?;
    let train = data.train.subset(&(0..12_000).collect::<Vec<_>>());
    let mut net = WithPReLU::new(&mut rng);
    let mut adam = Adam::new(AdamConfig::default())?;
    let config = TrainingConfig { epochs: 2, ..TrainingConfig::default() };
    for m in fit(&mut net, &mut adam, &train, &data.validation, &config, |_| {})? {
        println!("epoch {}: validation accuracy {:.4}", m.epoch, m.validation_accuracy);
    }
    let (_, accuracy) = evaluate(&mut net, &data.test, 1000)?;
    let slopes = net.layer1.weight.as_slice();
    let mean = slopes.iter().sum::<f32>() / slopes.len() as f32;
    println!("test accuracy {accuracy:.4}; the learnt slopes average {mean:.3} (they started at 0.25)");

    // 3. Its slopes are saved and loaded like any parameter, named as PyTorch would: `1.weight`.
    let mut names = Vec::new();
    net.visit_parameters(&mut |p| names.push(format!("{} {:?}", p.full_name(), [p.rows, p.columns])));
    println!("checkpoint tensors: {}", names.join(", "));
    let mut copy = WithPReLU::new(&mut rng);
    checkpoint::load_bytes(&mut copy, &checkpoint::to_bytes(&mut net)?)?;
    assert_eq!(*copy.layer1.weight.value, *net.layer1.weight.value);
    Ok(())
}
