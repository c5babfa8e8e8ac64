//! Convolutional networks: parity with PyTorch on `tests/fixtures/tiny_cnn.json` (made by
//! `tests/fixtures/make_fixtures.py tiny_cnn` with PyTorch 2.15 in float64: every layer's
//! output, the loss, every gradient, the input gradient, two SGD-momentum steps, the running
//! statistics and the eval-mode logits, within 1e-5 relative), gradient checks of whole CNNs,
//! max pooling's ties, and the summary `net!` generates.
//!
//! Images are one column per sample in PyTorch's channel, row, column order, so a PyTorch
//! `[batch, C, H, W]` list flattened is exactly a batch's storage.

use minitorch::MaxPool2d;
use minitorch::gradcheck::{GradientCheck, check_network};
use minitorch::prelude::*;
use minitorch::rand::rngs::StdRng;
use minitorch::rand::{RngExt, SeedableRng};
use serde_json::Value;
use support::{assert_close, assert_parameters_close, backward, forward, load_pytorch_parameters, numbers};

mod support;

net! {
    /// `nn.Sequential(Conv2d(2,3,3,padding=1), BatchNorm2d(3), ReLU, MaxPool2d(2), Conv2d(3,4,2,stride=2), ReLU, Flatten, Linear(16,3))`.
    struct TinyCnn< Input(2, 9, 9), Conv2d(2, 3, 3, padding = 1), BatchNorm2d(3), ReLU, MaxPool2d(2),
        Conv2d(3, 4, 2, stride = 2), ReLU, Flatten, Linear(16, 3) >
}

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/tiny_cnn.json")).expect("fixture is JSON")
}

/// Gradients are compared relative to the largest gradient of the step: the first convolution's
/// bias, before batch normalisation, has gradient 0 in exact arithmetic, where only rounding is
/// left to compare.
fn assert_step_close(net: &mut TinyCnn, expected: &Value, what: &str, gradients: bool) {
    let floor = if gradients { numbers(expected).iter().fold(0.0f64, |m, x| m.max(x.abs())) } else { 0.0 };
    assert_parameters_close(net, expected, what, gradients, floor);
}

#[test]
fn a_small_cnn_matches_pytorch_step_by_step() {
    let fixture = fixture();
    let mut net = TinyCnn::new(&mut StdRng::seed_from_u64(0));
    load_pytorch_parameters(&mut net, &fixture["params"]);
    let input = Batch::<162>::from_iterator(5, numbers(&fixture["input"]).into_iter().map(|x| x as f32));
    let labels: Vec<usize> = numbers(&fixture["labels"]).into_iter().map(|l| l as usize).collect();
    let step1 = &fixture["step1"];

    let mut criterion = CrossEntropy::new();
    let loss = criterion.forward(net.forward(&input).unwrap(), &labels).unwrap();
    let outputs: [(&str, &[f32]); 7] = [
        ("conv2d0_out", net.conv2d0_output.as_slice()),
        ("batchnorm2d1_out", net.batchnorm2d1_output.as_slice()),
        ("relu2_out", net.relu2_output.as_slice()),
        ("maxpool2d3_out", net.maxpool2d3_output.as_slice()),
        ("conv2d4_out", net.conv2d4_output.as_slice()),
        ("relu5_out", net.relu5_output.as_slice()),
        ("linear7_out", net.linear7_output.as_slice()),
    ];
    for (name, ours) in outputs {
        assert_close(name, ours, &numbers(&step1[name]), 0.0);
    }
    // Flatten is no layer here: what it outputs in PyTorch is ReLU 5's output, as stored.
    assert_close("flatten6_out", net.relu5_output.as_slice(), &numbers(&step1["flatten6_out"]), 0.0);
    assert_close("loss", &[loss], &[step1["loss"].as_f64().unwrap()], 0.0);
    assert_close(
        "running_mean",
        net.batchnorm2d1.running_mean.as_slice(),
        &numbers(&step1["running_mean_after"]),
        0.0,
    );
    assert_close(
        "running_var",
        net.batchnorm2d1.running_var.as_slice(),
        &numbers(&step1["running_var_after"]),
        0.0,
    );

    // The network computes no input gradient for its first layer; run the chain by hand on a
    // copy, each layer given the output of the one before it.
    let mut copy = net.clone();
    let g = backward(&mut copy.linear7, &copy.relu5_output, &copy.linear7_output, criterion.gradient());
    let g = backward(&mut copy.relu5, &copy.conv2d4_output, &copy.relu5_output, &g);
    let g = backward(&mut copy.conv2d4, &copy.maxpool2d3_output, &copy.conv2d4_output, &g);
    let g = backward(&mut copy.maxpool2d3, &copy.relu2_output, &copy.maxpool2d3_output, &g);
    let g = backward(&mut copy.relu2, &copy.batchnorm2d1_output, &copy.relu2_output, &g);
    let g = backward(&mut copy.batchnorm2d1, &copy.conv2d0_output, &copy.batchnorm2d1_output, &g);
    let grad_input = backward(&mut copy.conv2d0, &input, &copy.conv2d0_output, &g);
    assert_close("grad_input", grad_input.as_slice(), &numbers(&step1["grad_input"]), 0.0);

    net.zero_grad();
    net.backward(criterion.gradient()).unwrap();
    assert_step_close(&mut net, &step1["grad"], "gradient of", true);

    let config = SgdConfig { learning_rate: 0.1, momentum: 0.9, weight_decay: 1e-4, ..SgdConfig::default() };
    let mut sgd = Sgd::new(config).unwrap();
    sgd.step(&mut net).unwrap();
    assert_step_close(&mut net, &fixture["params_after_step1"], "after step 1", false);
    let loss = criterion.forward(net.forward(&input).unwrap(), &labels).unwrap();
    assert_close("loss of step 2", &[loss], &[fixture["loss_step2"].as_f64().unwrap()], 0.0);
    net.zero_grad();
    net.backward(criterion.gradient()).unwrap();
    sgd.step(&mut net).unwrap();
    assert_step_close(&mut net, &fixture["params_after_step2"], "after step 2", false);

    let norm = &net.batchnorm2d1;
    assert_close(
        "running_mean",
        norm.running_mean.as_slice(),
        &numbers(&fixture["running_mean_after_step2"]),
        0.0,
    );
    assert_close(
        "running_var",
        norm.running_var.as_slice(),
        &numbers(&fixture["running_var_after_step2"]),
        0.0,
    );
    assert_eq!(norm.num_batches_tracked, 2);
    net.eval();
    let logits = net.forward(&input).unwrap();
    assert_close("eval logits", logits.as_slice(), &numbers(&fixture["eval_logits_after_step2"]), 0.0);
}

net! {
    struct Plain< Input(1, 8, 8), Conv2d(1, 4, 3), ReLU, MaxPool2d(2), Conv2d(4, 6, 2, padding = 1), Tanh, Flatten, Linear(96, 3) >
    struct Normed< Input(2, 7, 7), Conv2d(2, 3, 3, stride = 2, padding = 1), BatchNorm2d(3), ReLU, MaxPool2d(2, stride = 1), Flatten, Dropout(0.3), Linear(27, 4) >
}

#[test]
fn whole_cnns_pass_the_gradient_check_with_and_without_batchnorm() {
    let mut rng = StdRng::seed_from_u64(30);
    let plain = Plain::new(&mut rng);
    let input = Batch::<64>::from_fn(4, |_, _| rng.random_range(-1.0..1.0));
    // A first-layer weight touches every position of every image, so ReLU and pooling kinks lie
    // densely around it: at the default ε = 1e-2 one entry of `Normed` has kinks the half-steps
    // cannot separate from curvature. Half that step crosses fewer of them and stays well above
    // f32 rounding.
    let check = GradientCheck { epsilon: 5e-3, ..GradientCheck::default() };
    let report = check_network(&plain, &input, &[0, 2, 1, 2], check).unwrap();
    assert!(report.passed(1e-2), "Plain: {report}");
    let mut normed = Normed::new(&mut rng);
    let input = Batch::<98>::from_fn(5, |_, _| rng.random_range(-1.0..1.0));
    for mode in [Mode::Train, Mode::Eval] {
        normed.set_mode(mode);
        let report = check_network(&normed, &input, &[0, 3, 1, 2, 3], check).unwrap();
        assert!(report.passed(1e-2), "Normed {mode:?}: {report}");
    }
}

#[test]
fn max_pooling_routes_a_tie_to_the_first_maximum() {
    let mut pool = MaxPool2d::<1, 2, 2, 2, 2, 4, 1>::new();
    let image = Batch::<4>::from_column_slice(&[3.0, 1.0, 3.0, 3.0]);
    let output = forward(&mut pool, &image, Mode::Train);
    assert_eq!(output.as_slice(), &[3.0]);
    let grad = backward(&mut pool, &image, &output, &Batch::<1>::from_column_slice(&[1.0]));
    assert_eq!(grad.as_slice(), &[1.0, 0.0, 0.0, 0.0]);
}

#[test]
fn max_pooling_lets_nan_win_and_the_last_nan_win_most() {
    // PyTorch's rule, `value > max || isnan(value)`: a NaN replaces the maximum, a later number
    // does not replace a NaN, and a later NaN does.
    let mut pool = MaxPool2d::<1, 2, 2, 2, 2, 4, 1>::new();
    let image = Batch::<4>::from_column_slice(&[1.0, f32::NAN, 5.0, f32::NAN]);
    let output = forward(&mut pool, &image, Mode::Train);
    assert!(output[0].is_nan());
    let grad = backward(&mut pool, &image, &output, &Batch::<1>::from_column_slice(&[1.0]));
    assert_eq!(grad.as_slice(), &[0.0, 0.0, 0.0, 1.0]);
    // A NaN first in its window holds against every number after it.
    let image = Batch::<4>::from_column_slice(&[f32::NAN, 1.0, 5.0, 2.0]);
    let output = forward(&mut pool, &image, Mode::Train);
    assert!(output[0].is_nan());
    let grad = backward(&mut pool, &image, &output, &Batch::<1>::from_column_slice(&[1.0]));
    assert_eq!(grad.as_slice(), &[1.0, 0.0, 0.0, 0.0]);
}

/// Pools random images of small integers (so that ties are common) with a few NaNs, and checks
/// every output and input gradient against pooling window by window, as the doc formula says:
/// each window's maximum at its first position in row-major order (a NaN winning), and each
/// output gradient added at that position.
fn check_pooling_window_by_window<
    const C: usize,
    const K: usize,
    const S: usize,
    const H: usize,
    const W: usize,
    const IN: usize,
    const OUT: usize,
>(
    rng: &mut StdRng,
) {
    let mut pool = MaxPool2d::<C, K, S, H, W, IN, OUT>::new();
    let (out_height, out_width) = ((H - K) / S + 1, (W - K) / S + 1);
    let images = Batch::<IN>::from_fn(3, |_, _| match rng.random_range(0..40) {
        0 => f32::NAN,
        n => (n % 5) as f32,
    });
    let gradient = Batch::<OUT>::from_fn(3, |r, c| (r + 7 * c) as f32);
    let outputs = forward(&mut pool, &images, Mode::Train);
    let input_gradients = backward(&mut pool, &images, &outputs, &gradient);
    let planes = images.as_slice().chunks(H * W).zip(gradient.as_slice().chunks(out_height * out_width));
    for (plane, (image, gradient)) in planes.enumerate() {
        let (mut expected, mut expected_gradient) = (Vec::new(), vec![0.0; H * W]);
        for y in 0..out_height {
            for x in 0..out_width {
                let mut best_at = (y * S) * W + x * S;
                for u in 0..K {
                    for v in 0..K {
                        let at = (y * S + u) * W + x * S + v;
                        if image[at] > image[best_at] || image[at].is_nan() {
                            best_at = at;
                        }
                    }
                }
                expected.push(image[best_at]);
                expected_gradient[best_at] += gradient[y * out_width + x];
            }
        }
        let found = &outputs.as_slice()[plane * expected.len()..][..expected.len()];
        // Debug text, so that NaN equals NaN.
        assert_eq!(format!("{found:?}"), format!("{expected:?}"), "plane {plane}");
        assert_eq!(&input_gradients.as_slice()[plane * H * W..][..H * W], expected_gradient, "plane {plane}");
    }
}

#[test]
fn max_pooling_of_rows_wider_than_its_block_matches_pooling_window_by_window() {
    // Rows of 20 and 18 windows: more than the 16 compared at once, so a full block and a short
    // one; overlapping windows (kernel 3, stride 2) and tiling ones (2, 2).
    let mut rng = StdRng::seed_from_u64(11);
    check_pooling_window_by_window::<2, 3, 2, 5, 41, { 2 * 5 * 41 }, { 2 * 2 * 20 }>(&mut rng);
    check_pooling_window_by_window::<3, 2, 2, 4, 36, { 3 * 4 * 36 }, { 3 * 2 * 18 }>(&mut rng);
}

#[test]
fn max_pooling_gives_each_sample_of_a_batch_what_it_gives_the_sample_alone() {
    // The batch is split between two cores; an odd batch leaves them unequal halves.
    let mut rng = StdRng::seed_from_u64(3);
    let mut pool = MaxPool2d::<2, 3, 2, 7, 6, 84, 12>::new();
    let batch = Batch::<84>::from_fn(5, |_, _| rng.random_range(-1.0..1.0));
    let gradient = Batch::<12>::from_fn(5, |_, _| rng.random_range(-1.0..1.0));
    let outputs = forward(&mut pool, &batch, Mode::Train);
    let input_gradients = backward(&mut pool, &batch, &outputs, &gradient);
    for sample in 0..5 {
        let alone = Batch::<84>::from_column_slice(batch.column(sample).as_slice());
        let output = forward(&mut pool, &alone, Mode::Train);
        assert_eq!(output.as_slice(), outputs.column(sample).as_slice(), "sample {sample}");
        let sample_gradient = Batch::<12>::from_column_slice(gradient.column(sample).as_slice());
        let input_gradient = backward(&mut pool, &alone, &output, &sample_gradient);
        assert_eq!(input_gradient.as_slice(), input_gradients.column(sample).as_slice(), "sample {sample}");
    }
}

#[test]
fn the_summary_lists_every_layer_with_its_shape_and_parameters() {
    assert_eq!(
        TinyCnn::summary(),
        "#  layer                       output     parameters\n\
         –  Input(2, 9, 9)              2 × 9 × 9  0\n\
         0  Conv2d(2, 3, 3, padding=1)  3 × 9 × 9  57\n\
         1  BatchNorm2d(3)              3 × 9 × 9  6\n\
         2  ReLU                        3 × 9 × 9  0\n\
         3  MaxPool2d(2)                3 × 4 × 4  0\n\
         4  Conv2d(3, 4, 2, stride=2)   4 × 2 × 2  52\n\
         5  ReLU                        4 × 2 × 2  0\n\
         6  Flatten                     16         0\n\
         7  Linear(16, 3)               3          51\n\
         TinyCnn: input 2 × 9 × 9, output 3, 166 trainable parameters"
    );
}

/// A convolution's buffers grow with the batch and its tiles split the batch; neither may change
/// what a sample gives. Each sample of batches of growing and shrinking size matches the same
/// sample run alone.
#[test]
fn a_convolution_gives_each_sample_the_same_output_in_any_batch() {
    let mut rng = StdRng::seed_from_u64(31);
    // 4 channels of 16×16, kernel 5, padding 2: 100-number patches at 256 positions, so a tile
    // holds 5 samples and a batch of 40 makes 4 tiles per core.
    let mut conv = minitorch::Conv2d::<4, 2, 5, 1, 2, 16, 16, 1024, 512>::new(&mut rng);
    let mut alone = conv.clone();
    for samples in [1, 5, 2, 40, 3] {
        let input = Batch::<1024>::from_fn(samples, |_, _| rng.random_range(-1.0..1.0));
        let gradient = Batch::<512>::from_fn(samples, |_, _| rng.random_range(-1.0..1.0));
        let output = forward(&mut conv, &input, Mode::Train);
        let grad_input = backward(&mut conv, &input, &output, &gradient);
        for sample in 0..samples {
            let one = Batch::<1024>::from_column_slice(input.column(sample).as_slice());
            let expected = forward(&mut alone, &one, Mode::Train);
            let one_gradient = Batch::<512>::from_column_slice(gradient.column(sample).as_slice());
            let expected_grad = backward(&mut alone, &one, &expected, &one_gradient);
            assert!((output.column(sample) - expected.column(0)).abs().max() < 1e-5, "batch {samples}");
            assert!(
                (grad_input.column(sample) - expected_grad.column(0)).abs().max() < 1e-5,
                "batch {samples}"
            );
        }
    }
}

#[test]
fn a_convolution_computes_its_formula_where_output_rows_and_columns_read_only_padding() {
    // 2 channels of 4×5, kernel 2, stride 3, padding 2: output 3×3; the first output row and
    // column read only padding for some kernel entries, the last column for others (the
    // gradient check of this geometry is in `tests/gradcheck.rs`).
    let mut rng = StdRng::seed_from_u64(32);
    let mut conv = minitorch::Conv2d::<2, 3, 2, 3, 2, 4, 5, 40, 27>::new(&mut rng);
    let input = Batch::<40>::from_fn(3, |_, _| rng.random_range(-1.0..1.0));
    let output = forward(&mut conv, &input, Mode::Train);
    let pixel = |sample: usize, channel: usize, row: isize, column: isize| {
        let inside = (0..4).contains(&row) && (0..5).contains(&column);
        if inside { input[(channel * 20 + row as usize * 5 + column as usize, sample)] } else { 0.0 }
    };
    for (sample, out, y, x) in
        (0..3).flat_map(|s| (0..3).flat_map(move |o| (0..9).map(move |p| (s, o, p / 3, p % 3))))
    {
        let mut expected = conv.bias[out];
        for (channel, u, v) in (0..2).flat_map(|i| (0..2).flat_map(move |u| (0..2).map(move |v| (i, u, v)))) {
            let (row, column) = ((y * 3 + u) as isize - 2, (x * 3 + v) as isize - 2);
            expected += conv.weight[(out, channel * 4 + u * 2 + v)] * pixel(sample, channel, row, column);
        }
        let got = output[(out * 9 + y * 3 + x, sample)];
        assert!(
            (got - expected).abs() < 1e-6,
            "sample {sample}, channel {out}, ({y}, {x}): {got} ≠ {expected}"
        );
    }
}

#[test]
fn a_cnn_counts_its_parameters_and_shows_its_geometry() {
    let net = TinyCnn::new(&mut StdRng::seed_from_u64(32));
    assert_eq!(net.parameter_count(), 3 * 2 * 9 + 3 + 2 * 3 + 4 * 3 * 4 + 4 + 3 * 16 + 3);
    let shown = format!("{net:?}");
    assert!(shown.contains("conv2d0: Conv2d(2, 3, 3, stride = 1, padding = 1) on 2×9×9"), "{shown}");
    assert!(shown.contains("maxpool2d3: MaxPool2d(2, stride = 2) on 3×9×9"), "{shown}");
    assert!(shown.contains("batchnorm2d1: BatchNorm2d<3, 243> { num_batches_tracked: 0 }"), "{shown}");
}
