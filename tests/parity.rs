//! Parity with PyTorch: the network of `tests/fixtures/tiny_net.json` (made by
//! `make_fixtures.py` with PyTorch 2.15 in float64, see that file's `description`) must give the
//! same layer outputs, loss, gradients, SGD steps, running statistics and eval logits.
//!
//! "The same" means, for every tensor, `max |ours − torch| ≤ 1e-5 · max |torch|`: our f32
//! against PyTorch's f64, relative to the tensor's scale. Parameter gradients are compared
//! relative to the largest gradient of the step, because one of them is zero in exact arithmetic
//! (a bias before batch normalisation), where only rounding is left to compare.

use minitorch::Initialize;
use minitorch::prelude::*;
use minitorch::rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::Value;
use support::{backward, numbers};

mod support;

net! {
    /// PyTorch's `nn.Sequential(Linear(4,5), BatchNorm1d(5), ReLU(), Dropout(0.5), Linear(5,3))`,
    /// its dropout with the mask PyTorch drew.
    struct Tiny< Linear(4, 5), BatchNorm1d(5), ReLU, PyTorchMaskDropout<5>: 5 -> 5, Linear(5, 3) >
}

/// Inverted dropout with a given keep mask `m`, as the fixture's: `y = x ⊙ m / (1 − p)` in
/// training, `y = x` in evaluation. `Dropout` draws its own masks from its own generator, which
/// cannot draw PyTorch's; its formula is checked in `tests/network.rs` and `tests/gradcheck.rs`.
#[derive(Clone, Debug, Parameters)]
struct PyTorchMaskDropout<const N: usize> {
    /// `m / (1 − p)`.
    scaled_mask: Batch<N>,
    last_mode: Mode,
}

impl<const N: usize> Initialize for PyTorchMaskDropout<N> {
    fn initialize(_rng: &mut impl Rng) -> Self {
        Self { scaled_mask: Batch::zeros(0), last_mode: Mode::Train }
    }
}

impl<const N: usize> Layer<N, N> for PyTorchMaskDropout<N> {
    fn forward(&mut self, x: &Batch<N>, y: &mut Batch<N>, mode: Mode) {
        self.last_mode = mode;
        *y = if mode == Mode::Train { x.component_mul(&self.scaled_mask) } else { x.clone() };
    }

    fn backward(&mut self, _x: &Batch<N>, _y: &Batch<N>, grad_y: &Batch<N>, grad_x: &mut Batch<N>) {
        *grad_x = if self.last_mode == Mode::Train {
            grad_y.component_mul(&self.scaled_mask)
        } else {
            grad_y.clone()
        };
    }
}

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/tiny_net.json")).expect("fixture is JSON")
}

/// A `[samples][features]` list as a batch (one column per sample).
fn batch<const N: usize>(value: &Value) -> Batch<N> {
    let flat = numbers(value);
    Batch::from_iterator(flat.len() / N, flat.into_iter().map(|x| x as f32))
}

/// Compares `ours` (column-major of an `rows × columns` tensor) with PyTorch's row-major list.
fn assert_close(name: &str, ours: &[f32], rows: usize, torch: &Value) {
    assert_close_at_scale(name, ours, rows, torch, 0.0);
}

/// As [`assert_close`], with the scale at least `scale_floor`.
fn assert_close_at_scale(name: &str, ours: &[f32], rows: usize, torch: &Value, scale_floor: f64) {
    let torch = numbers(torch);
    assert_eq!(ours.len(), torch.len(), "{name}: size");
    let columns = ours.len() / rows;
    let scale = torch.iter().fold(scale_floor, |m, x| m.max(x.abs()));
    let mut worst = 0.0f64;
    for r in 0..rows {
        for c in 0..columns {
            let difference = (f64::from(ours[r + c * rows]) - torch[r * columns + c]).abs();
            worst = worst.max(difference);
        }
    }
    assert!(worst <= 1e-5 * scale, "{name}: max difference {worst:e} vs scale {scale:e}");
}

/// For tensors kept one column per sample: a `[samples][features]` list is their exact layout.
fn assert_batch_close<const N: usize>(name: &str, ours: &Batch<N>, torch: &Value) {
    // Transpose the check: our batch is features × samples, PyTorch's samples × features.
    let transposed = ours.transpose();
    assert_close(name, transposed.as_slice(), ours.ncols(), torch);
}

fn assert_parameters_close(net: &mut Tiny, expected: &Value, what: &str) {
    net.visit_parameters(&mut |p| {
        let key = p.full_name();
        assert_close(&format!("{what} {key}"), p.value, p.rows, &expected[&key]);
    });
}

fn labels(fixture: &Value) -> Vec<usize> {
    numbers(&fixture["labels"]).into_iter().map(|l| l as usize).collect()
}

/// The fixture, its network with PyTorch's initial parameters and dropout mask, and its input.
fn fixture_network() -> (Value, Tiny, Batch<4>) {
    let fixture = fixture();
    let mut net = Tiny::new(&mut StdRng::seed_from_u64(0));
    support::load_pytorch_parameters(&mut net, &fixture["params"]);
    net.layer3.scaled_mask = batch::<5>(&fixture["dropout_keep_mask"]) / (1.0 - 0.5);
    let input = batch::<4>(&fixture["input"]);
    (fixture, net, input)
}

#[test]
fn one_training_step_matches_pytorch() {
    let (fixture, mut net, input) = fixture_network();
    let step = &fixture["step1"];

    let mut criterion = CrossEntropy::new();
    let loss = criterion.forward(net.forward(&input).unwrap(), &labels(&fixture)).unwrap();
    assert_batch_close("linear0 output", &net.linear0_output, &step["linear0_out"]);
    assert_batch_close("batchnorm1 output", &net.batchnorm1_output, &step["batchnorm1_out"]);
    assert_batch_close("relu2 output", &net.relu2_output, &step["relu2_out"]);
    assert_batch_close("dropout3 output", &net.layer3_output, &step["dropout3_out"]);
    assert_batch_close("logits", &net.linear4_output, &step["logits"]);
    let torch_loss = step["loss"].as_f64().unwrap();
    assert!((f64::from(loss) - torch_loss).abs() <= 1e-5 * torch_loss, "loss {loss} vs {torch_loss}");
    assert_batch_close("d loss / d logits", criterion.gradient(), &step["grad_logits"]);
    assert_close("running mean", net.batchnorm1.running_mean.as_slice(), 5, &step["running_mean_after"]);
    assert_close("running var", net.batchnorm1.running_var.as_slice(), 5, &step["running_var_after"]);

    net.zero_grad();
    net.backward(criterion.gradient()).unwrap();
    let largest_gradient = numbers(&step["grad"]).iter().fold(0.0f64, |m, x| m.max(x.abs()));
    net.visit_parameters(&mut |p| {
        let key = p.full_name();
        let name = format!("gradient of {key}");
        assert_close_at_scale(&name, p.gradient, p.rows, &step["grad"][&key], largest_gradient);
    });

    // The input gradient, which a network skips, through the layers' own backward passes.
    let g = backward(&mut net.linear4.clone(), &net.layer3_output, &net.linear4_output, criterion.gradient());
    let g = backward(&mut net.layer3.clone(), &net.relu2_output, &net.layer3_output, &g);
    let g = backward(&mut net.relu2.clone(), &net.batchnorm1_output, &net.relu2_output, &g);
    let g = backward(&mut net.batchnorm1.clone(), &net.linear0_output, &net.batchnorm1_output, &g);
    let grad_input = backward(&mut net.linear0.clone(), &input, &net.linear0_output, &g);
    assert_batch_close("d loss / d input", &grad_input, &step["grad_input"]);
}

#[test]
fn two_sgd_momentum_steps_and_eval_match_pytorch() {
    let (fixture, mut net, input) = fixture_network();
    let labels = labels(&fixture);
    let config = SgdConfig { learning_rate: 0.1, momentum: 0.9, weight_decay: 1e-4, ..SgdConfig::default() };
    let mut sgd = Sgd::new(config).unwrap();
    let mut criterion = CrossEntropy::new();

    let mut losses = Vec::new();
    for expected in ["params_after_step1", "params_after_step2"] {
        losses.push(criterion.forward(net.forward(&input).unwrap(), &labels).unwrap());
        net.zero_grad();
        net.backward(criterion.gradient()).unwrap();
        sgd.step(&mut net).unwrap();
        assert_parameters_close(&mut net, &fixture[expected], expected);
    }
    let torch_loss = fixture["loss_step2"].as_f64().unwrap();
    assert!((f64::from(losses[1]) - torch_loss).abs() <= 1e-5 * torch_loss, "second loss {losses:?}");
    assert_close(
        "running mean",
        net.batchnorm1.running_mean.as_slice(),
        5,
        &fixture["running_mean_after_step2"],
    );
    assert_close(
        "running var",
        net.batchnorm1.running_var.as_slice(),
        5,
        &fixture["running_var_after_step2"],
    );
    assert_eq!(
        net.batchnorm1.num_batches_tracked,
        fixture["num_batches_tracked_after_step2"].as_u64().unwrap()
    );

    net.eval();
    let logits = net.forward(&input).unwrap();
    assert_batch_close("eval logits", logits, &fixture["eval_logits_after_step2"]);
}
