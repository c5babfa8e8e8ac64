//! Batches large enough that batch normalisation, the activations and a residual block's sum
//! split their passes between the two cores (2¹⁷ entries and more): the results are what the
//! formulas give, computed here in f64 one entry after another, for odd and even sample and
//! channel counts, and for values far from zero, whose variance rounding would lose if it were
//! taken as `Σx² − M·μ²` rather than `Σ(x − μ)²`. The small batches of the other tests take the one-core path.

use minitorch::Residual;
use minitorch::layers::Identity;
use minitorch::prelude::*;
use minitorch::rand::rngs::StdRng;
use minitorch::rand::{RngExt, SeedableRng};
use support::{assert_close, backward, forward};

mod support;

fn random_batch<const N: usize>(samples: usize, seed: u64) -> Batch<N> {
    let mut rng = StdRng::seed_from_u64(seed);
    Batch::from_fn(samples, |_, _| rng.random_range(-2.0..3.0))
}

/// What batch normalisation gives, in f64: the output, the input gradient for `grad_output`,
/// `∂L/∂γ`, `∂L/∂β`, and the running mean and variance after one update from 0 and 1.
struct Expected {
    output: Vec<f64>,
    grad_input: Vec<f64>,
    grad_weight: Vec<f64>,
    grad_bias: Vec<f64>,
    running_mean: Vec<f64>,
    running_var: Vec<f64>,
}

fn batch_norm_in_f64(
    channels: usize,
    input: &[f32],
    grad_output: &[f32],
    (gamma, beta): (&[f32], &[f32]),
    samples: usize,
) -> Expected {
    let plane = input.len() / samples / channels;
    let count = (samples * plane) as f64;
    // The positions of channel `c`'s values, sample after sample.
    let positions =
        |c: usize| (0..samples).flat_map(move |s| (0..plane).map(move |p| (s * channels + c) * plane + p));
    let mut expected = Expected {
        output: vec![0.0; input.len()],
        grad_input: vec![0.0; input.len()],
        grad_weight: vec![0.0; channels],
        grad_bias: vec![0.0; channels],
        running_mean: vec![0.0; channels],
        running_var: vec![0.0; channels],
    };
    for c in 0..channels {
        let mean = positions(c).map(|i| f64::from(input[i])).sum::<f64>() / count;
        let variance = positions(c).map(|i| (f64::from(input[i]) - mean).powi(2)).sum::<f64>() / count;
        let inverse_std = 1.0 / (variance + 1e-5).sqrt();
        let x_hat = |i: usize| (f64::from(input[i]) - mean) * inverse_std;
        let g = |i: usize| f64::from(grad_output[i]);
        let sum = positions(c).map(g).sum::<f64>();
        let sum_product = positions(c).map(|i| g(i) * x_hat(i)).sum::<f64>();
        let gamma = f64::from(gamma[c]);
        for i in positions(c) {
            expected.output[i] = gamma * x_hat(i) + f64::from(beta[c]);
            expected.grad_input[i] =
                gamma * inverse_std / count * (count * g(i) - sum - x_hat(i) * sum_product);
        }
        (expected.grad_weight[c], expected.grad_bias[c]) = (sum_product, sum);
        expected.running_mean[c] = 0.1 * mean;
        expected.running_var[c] = 0.9 + 0.1 * variance * count / (count - 1.0);
    }
    expected
}

/// Checks a batch normalisation layer of `channels` channels (`N` numbers a sample) on
/// `samples` samples against [`batch_norm_in_f64`].
fn check_batch_norm<const C: usize, const N: usize>(mut layer: BatchNorm<C, N>, samples: usize) {
    assert!(samples * N >= 1 << 17, "a batch this small stays on one core");
    let mut rng = StdRng::seed_from_u64(3);
    layer.weight.iter_mut().for_each(|g| *g = rng.random_range(0.5..2.0));
    layer.bias.iter_mut().for_each(|b| *b = rng.random_range(-1.0..1.0));
    let (input, grad_output) = (random_batch::<N>(samples, 1), random_batch::<N>(samples, 2));
    let expected = batch_norm_in_f64(
        C,
        input.as_slice(),
        grad_output.as_slice(),
        (layer.weight.as_slice(), layer.bias.as_slice()),
        samples,
    );

    let output = forward(&mut layer, &input, Mode::Train);
    assert_close("output", output.as_slice(), &expected.output, 1.0);
    assert_close("running_mean", layer.running_mean.as_slice(), &expected.running_mean, 1.0);
    assert_close("running_var", layer.running_var.as_slice(), &expected.running_var, 1.0);
    let grad_input = backward(&mut layer, &input, &output, &grad_output);
    assert_close("grad_input", grad_input.as_slice(), &expected.grad_input, 1.0);
    assert_close("weight.grad", layer.weight.gradient.as_slice(), &expected.grad_weight, 1.0);
    assert_close("bias.grad", layer.bias.gradient.as_slice(), &expected.grad_bias, 1.0);

    // In evaluation the layer is the affine map of its running statistics.
    let output = forward(&mut layer, &input, Mode::Eval);
    let grad_input = backward(&mut layer, &input, &output, &grad_output);
    let plane = N / C;
    for (i, (&y, &dx)) in output.iter().zip(grad_input.iter()).enumerate() {
        let c = i / plane % C;
        let scale = f64::from(layer.weight[c]) / (f64::from(layer.running_var[c]) + 1e-5).sqrt();
        let x_hat = (f64::from(input.as_slice()[i]) - f64::from(layer.running_mean[c])) * scale;
        assert!((f64::from(y) - x_hat - f64::from(layer.bias[c])).abs() < 1e-4, "eval output {i}");
        assert!(
            (f64::from(dx) - scale * f64::from(grad_output.as_slice()[i])).abs() < 1e-5,
            "eval gradient {i}"
        );
    }
}

#[test]
fn batchnorm1d_with_an_even_split_of_channels_and_an_odd_one_of_samples() {
    check_batch_norm(BatchNorm1d::<512>::new(), 257);
}

#[test]
fn batchnorm2d_with_odd_counts_of_channels_and_samples() {
    check_batch_norm(BatchNorm2d::<3, { 3 * 48 * 48 }>::new(), 21);
}

#[test]
fn batchnorm2d_with_even_counts() {
    check_batch_norm(BatchNorm2d::<16, { 16 * 14 * 14 }>::new(), 44);
}

#[test]
fn batchnorm_of_values_far_from_zero() {
    // Values from 9.8 to 10.3: the normalised output has the digits of `x − μ`, not of `x`.
    let mut layer = BatchNorm2d::<16, { 16 * 14 * 14 }>::new();
    let input = random_batch::<{ 16 * 14 * 14 }>(44, 6).map(|u| 10.0 + 0.1 * u);
    let no_gradient = Batch::<{ 16 * 14 * 14 }>::zeros(44);
    let ones = vec![1.0; 16];
    let expected = batch_norm_in_f64(16, input.as_slice(), no_gradient.as_slice(), (&ones, &[0.0; 16]), 44);
    let output = forward(&mut layer, &input, Mode::Train);
    assert_close("output", output.as_slice(), &expected.output, 1.0);
    assert_close("running_var", layer.running_var.as_slice(), &expected.running_var, 1.0);
}

#[test]
fn activations_are_their_formula_at_every_entry() {
    let input = random_batch::<512>(301, 4);
    let grad_output = random_batch::<512>(301, 5);
    let mut tanh = Tanh::<512>::new();
    let output = forward(&mut tanh, &input, Mode::Train);
    let grad_input = backward(&mut tanh, &input, &output, &grad_output);
    for (i, (&x, &g)) in input.iter().zip(grad_output.iter()).enumerate() {
        let y = x.tanh();
        assert!((output[i] - y).abs() <= 1e-6, "tanh({x}) at {i}: {}", output[i]);
        let derivative = 1.0 - output[i] * output[i];
        assert_eq!(grad_input[i], derivative * g, "gradient at {i}");
    }
    let mut relu = ReLU::<512>::new();
    let output = forward(&mut relu, &input, Mode::Train);
    let grad_input = backward(&mut relu, &input, &output, &grad_output);
    for (i, (&x, &g)) in input.iter().zip(grad_output.iter()).enumerate() {
        assert_eq!((output[i], grad_input[i]), if x > 0.0 { (x, g) } else { (0.0, 0.0) }, "ReLU at {i}");
    }
}

#[test]
fn a_residual_block_adds_its_paths_at_every_entry() {
    // y = tanh(x) + x and ∂L/∂x = tanh′(x)·g + g, each entry on its own.
    let input = random_batch::<512>(301, 6);
    let grad_output = random_batch::<512>(301, 7);
    let mut block = Residual::<512, 512, Tanh<512>, Identity>::new(Tanh::new(), Identity);
    let output = forward(&mut block, &input, Mode::Train);
    let grad_input = backward(&mut block, &input, &output, &grad_output);
    let body_output = forward(&mut Tanh::<512>::new(), &input, Mode::Train);
    for (i, (&x, &g)) in input.iter().zip(grad_output.iter()).enumerate() {
        assert!((output[i] - (x.tanh() + x)).abs() <= 1e-6, "output at {i}: {} for x = {x}", output[i]);
        let through_body = (1.0 - body_output[i] * body_output[i]) * g;
        assert_eq!(grad_input[i], through_body + g, "gradient at {i}");
    }
}
