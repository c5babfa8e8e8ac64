//! Finite-difference checks of every layer's backward pass and of whole networks, proof that the
//! checker catches a wrong derivative, and the checker's report: when it passes, how it reads.

use minitorch::gradcheck::{CheckedEntry, GradientCheck, GradientReport, check_layer, check_network};
use minitorch::prelude::*;
use minitorch::rand::rngs::StdRng;
use minitorch::rand::{RngExt, SeedableRng};
use minitorch::{AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, HeapMatrix, MaxPool2d, Parameter};

const TOLERANCE: f64 = 1e-2;

fn random_batch<const N: usize>(samples: usize, seed: u64) -> Batch<N> {
    let mut rng = StdRng::seed_from_u64(seed);
    Batch::from_fn(samples, |_, _| rng.random_range(-2.0..2.0))
}

fn assert_passed(what: &str, report: GradientReport) {
    println!("{what}: {report}");
    assert!(report.passed(TOLERANCE), "{what}: {report}");
}

#[test]
fn linear() {
    let layer = Linear::<6, 4>::new(&mut StdRng::seed_from_u64(1));
    let report = check_layer(&layer, &random_batch::<6>(5, 2), Mode::Train, GradientCheck::default());
    // Every entry of the weight, the bias and the input (fewer than 40 each); a linear map has no
    // kinks, even where its slopes differ only by rounding.
    assert_eq!((report.checked, report.kinks, report.unresolved), (24 + 4 + 30, 0, 0), "{report}");
    assert_passed("Linear", report);
    // At most 10 entries of each, spread over it: every third of the 24 weights and the 30 inputs.
    let sampled = GradientCheck { entries_per_tensor: 10, ..GradientCheck::default() };
    let report = check_layer(&layer, &random_batch::<6>(5, 2), Mode::Train, sampled);
    assert_eq!(report.checked, 8 + 4 + 10, "{report}");
}

#[test]
fn relu() {
    let report =
        check_layer(&ReLU::<7>::new(), &random_batch::<7>(5, 3), Mode::Train, GradientCheck::default());
    assert_passed("ReLU", report);
}

#[test]
fn every_activation() {
    let input = random_batch::<7>(5, 13);
    let check = GradientCheck::default();
    assert_passed("LeakyReLU", check_layer(&LeakyReLU::<7>::new(), &input, Mode::Train, check));
    assert_passed(
        "LeakyReLU(0.2)",
        check_layer(&LeakyReLU::<7>::with_negative_slope(0.2), &input, Mode::Train, check),
    );
    assert_passed("Sigmoid", check_layer(&Sigmoid::<7>::new(), &input, Mode::Train, check));
    assert_passed("Tanh", check_layer(&Tanh::<7>::new(), &input, Mode::Train, check));
    assert_passed("GELU", check_layer(&GELU::<7>::new(), &input, Mode::Train, check));
}

#[test]
fn convolution_with_stride_and_padding() {
    // 2 channels of 5×5 → 3 channels, kernel 3, stride 2, padding 1: 3×3 outputs.
    let layer = Conv2d::<2, 3, 3, 2, 1, 5, 5, 50, 27>::new(&mut StdRng::seed_from_u64(18));
    let check = GradientCheck::default();
    assert_passed("Conv2d", check_layer(&layer, &random_batch::<50>(3, 19), Mode::Train, check));
    // Stride 1 without padding, a kernel as large as the image on one side.
    let layer = Conv2d::<1, 2, 3, 1, 0, 3, 4, 12, 4>::new(&mut StdRng::seed_from_u64(20));
    assert_passed("Conv2d 3×4", check_layer(&layer, &random_batch::<12>(2, 21), Mode::Train, check));
    // Padding as wide as the kernel and a stride past it: some output rows and columns read only
    // padding for some kernel entries.
    let layer = Conv2d::<2, 3, 2, 3, 2, 4, 5, 40, 27>::new(&mut StdRng::seed_from_u64(22));
    assert_passed("Conv2d stride 3", check_layer(&layer, &random_batch::<40>(3, 23), Mode::Train, check));
    // Stride 1 with padding on a 3×10 image: output rows of 10, longer than the 8 entries the
    // input gradient adds at a time, with 2 left over.
    let layer = Conv2d::<1, 2, 3, 1, 1, 3, 10, 30, 60>::new(&mut StdRng::seed_from_u64(24));
    assert_passed("Conv2d rows of 10", check_layer(&layer, &random_batch::<30>(2, 25), Mode::Train, check));
    // 1×1 kernels with stride 2 read the image where it lies, or padded but not split by phase
    // (the kernels with a stride above are).
    let layer = Conv2d::<2, 3, 1, 2, 0, 5, 6, 60, 27>::new(&mut StdRng::seed_from_u64(26));
    assert_passed("Conv2d 1×1 stride 2", check_layer(&layer, &random_batch::<60>(2, 27), Mode::Train, check));
    let layer = Conv2d::<2, 3, 1, 2, 1, 5, 6, 60, 48>::new(&mut StdRng::seed_from_u64(28));
    let input = random_batch::<60>(2, 29);
    assert_passed("Conv2d 1×1 stride 2 padding 1", check_layer(&layer, &input, Mode::Train, check));
}

#[test]
fn max_pooling_on_an_odd_size_with_overlapping_and_with_tiling_windows() {
    // 2 channels of 5×5, windows of 2: the last row and column are left out (floor).
    let layer = MaxPool2d::<2, 2, 2, 5, 5, 50, 8>::new();
    let report = check_layer(&layer, &random_batch::<50>(3, 22), Mode::Train, GradientCheck::default());
    assert_passed("MaxPool2d", report);
    // Overlapping windows: stride 1.
    let layer = MaxPool2d::<1, 2, 1, 3, 3, 9, 4>::new();
    let report = check_layer(&layer, &random_batch::<9>(2, 23), Mode::Train, GradientCheck::default());
    assert_passed("MaxPool2d overlapping", report);
    // Windows that tile the image (3 channels of 4×6, windows of 2), routed back a row of
    // windows at a time.
    let layer = MaxPool2d::<3, 2, 2, 4, 6, 72, 18>::new();
    let report = check_layer(&layer, &random_batch::<72>(3, 24), Mode::Train, GradientCheck::default());
    assert_passed("MaxPool2d tiled", report);
}

#[test]
fn average_pooling_with_overlapping_and_floored_windows() {
    let check = GradientCheck::default();
    // 2 channels of 5×5, kernel 3 every 2: windows share a row and a column.
    let layer = AvgPool2d::<2, 3, 2, 5, 5, 50, 8>::new();
    assert_passed(
        "AvgPool2d overlapping",
        check_layer(&layer, &random_batch::<50>(3, 24), Mode::Train, check),
    );
    // Kernel 2 on 5×5: the last row and column are in no window.
    let layer = AvgPool2d::<1, 2, 2, 5, 5, 25, 4>::new();
    assert_passed("AvgPool2d floored", check_layer(&layer, &random_batch::<25>(2, 25), Mode::Train, check));
}

#[test]
fn adaptive_average_pooling_global_and_with_overlapping_bins() {
    let check = GradientCheck::default();
    let layer = AdaptiveAvgPool2d::<2, 5, 5, 1, 50, 2>::new();
    assert_passed(
        "AdaptiveAvgPool2d(1)",
        check_layer(&layer, &random_batch::<50>(3, 26), Mode::Train, check),
    );
    // 5 → 3: PyTorch's bins [0, 2), [1, 4), [3, 5) overlap.
    let layer = AdaptiveAvgPool2d::<2, 5, 5, 3, 50, 18>::new();
    assert_passed(
        "AdaptiveAvgPool2d(3)",
        check_layer(&layer, &random_batch::<50>(3, 27), Mode::Train, check),
    );
    // 3 → 4: more bins than rows.
    let layer = AdaptiveAvgPool2d::<1, 3, 3, 4, 9, 16>::new();
    assert_passed("AdaptiveAvgPool2d(4)", check_layer(&layer, &random_batch::<9>(2, 28), Mode::Train, check));
}

#[test]
fn batchnorm2d_in_training_and_evaluation() {
    let mut layer = BatchNorm2d::<3, 12>::new();
    let mut rng = StdRng::seed_from_u64(24);
    layer.weight.iter_mut().for_each(|w| *w = rng.random_range(0.5..1.5));
    layer.bias.iter_mut().for_each(|b| *b = rng.random_range(-0.5..0.5));
    layer.running_mean.iter_mut().for_each(|m| *m = rng.random_range(-0.5..0.5));
    layer.running_var.iter_mut().for_each(|v| *v = rng.random_range(0.5..2.0));
    let input = random_batch::<12>(3, 25);
    for mode in [Mode::Train, Mode::Eval] {
        assert_passed(
            &format!("BatchNorm2d {mode:?}"),
            check_layer(&layer, &input, mode, GradientCheck::default()),
        );
    }
}

#[test]
fn dropout_in_training_and_evaluation() {
    let layer = Dropout::<8>::new(0.4, &mut StdRng::seed_from_u64(4));
    let input = random_batch::<8>(5, 5);
    for mode in [Mode::Train, Mode::Eval] {
        assert_passed(
            &format!("Dropout {mode:?}"),
            check_layer(&layer, &input, mode, GradientCheck::default()),
        );
    }
}

#[test]
fn batchnorm_in_training_and_evaluation() {
    let mut layer = BatchNorm1d::<5>::new();
    // Parameters and running statistics away from their initial values, so every term matters.
    let mut rng = StdRng::seed_from_u64(7);
    layer.weight.iter_mut().for_each(|w| *w = rng.random_range(0.5..1.5));
    layer.bias.iter_mut().for_each(|b| *b = rng.random_range(-0.5..0.5));
    layer.running_mean.iter_mut().for_each(|m| *m = rng.random_range(-0.5..0.5));
    layer.running_var.iter_mut().for_each(|v| *v = rng.random_range(0.5..2.0));
    let input = random_batch::<5>(6, 8);
    for mode in [Mode::Train, Mode::Eval] {
        assert_passed(
            &format!("BatchNorm1d {mode:?}"),
            check_layer(&layer, &input, mode, GradientCheck::default()),
        );
    }
}

net! {
    struct Plain< Linear(12, 16), ReLU, Linear(16, 8), ReLU, Linear(8, 4) >
    struct Normed< Linear(12, 16), BatchNorm1d(16), ReLU, Dropout(0.25), Linear(16, 8), BatchNorm1d(8), ReLU, Linear(8, 4) >
    struct Workshop< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >
    struct Smooth< Linear(12, 16), GELU, Linear(16, 8), Tanh, Linear(8, 8), Sigmoid, Linear(8, 4) >
    struct Leaky< Linear(12, 16), LeakyReLU(0.2), Linear(16, 4) >
}

#[test]
fn whole_networks_with_and_without_batchnorm_in_both_modes() {
    let input = random_batch::<12>(6, 9);
    let labels = [0, 3, 1, 2, 3, 0];
    let mut rng = StdRng::seed_from_u64(10);
    let mut plain = Plain::new(&mut rng);
    let mut normed = Normed::new(&mut rng);
    for mode in [Mode::Train, Mode::Eval] {
        plain.set_mode(mode);
        normed.set_mode(mode);
        let check = GradientCheck::default();
        assert_passed(&format!("Plain {mode:?}"), check_network(&plain, &input, &labels, check).unwrap());
        assert_passed(&format!("Normed {mode:?}"), check_network(&normed, &input, &labels, check).unwrap());
    }
}

#[test]
fn networks_of_every_activation() {
    let input = random_batch::<12>(6, 14);
    let labels = [0, 3, 1, 2, 3, 0];
    let mut rng = StdRng::seed_from_u64(15);
    let check = GradientCheck::default();
    assert_passed("Smooth", check_network(&Smooth::new(&mut rng), &input, &labels, check).unwrap());
    assert_passed("Leaky", check_network(&Leaky::new(&mut rng), &input, &labels, check).unwrap());
}

#[test]
fn the_workshop_architecture() {
    let mut rng = StdRng::seed_from_u64(11);
    let net = Workshop::new(&mut rng);
    let input = Batch::<784>::from_fn(4, |_, _| rng.random_range(-1.0..1.0));
    let check = GradientCheck { entries_per_tensor: 12, ..GradientCheck::default() };
    assert_passed("Workshop mlp", check_network(&net, &input, &[3, 1, 4, 1], check).unwrap());
}

/// `y = s·x` with one parameter `s`, whose backward can be made wrong on purpose.
#[derive(Clone)]
struct Scale {
    s: HeapMatrix<1, 1>,
    s_gradient: HeapMatrix<1, 1>,
    wrong_parameter_gradient: bool,
    wrong_input_gradient: bool,
}

impl Parameters for Scale {
    fn visit_parameters(&mut self, visit: &mut dyn FnMut(Parameter<'_>)) {
        let (value, gradient) = (self.s.as_mut_slice(), self.s_gradient.as_mut_slice());
        visit(Parameter {
            path: Default::default(),
            name: "s",
            rows: 1,
            columns: 1,
            pytorch_shape: None,
            value,
            gradient,
        });
    }

    fn parameter_count(&self) -> usize {
        1
    }
}

impl Layer<3, 3> for Scale {
    fn forward(&mut self, input: &Batch<3>, output: &mut Batch<3>, _mode: Mode) {
        *output = input * self.s[0];
    }

    fn backward(
        &mut self,
        input: &Batch<3>,
        _output: &Batch<3>,
        grad_output: &Batch<3>,
        grad_input: &mut Batch<3>,
    ) {
        let exact = grad_output.dot(input);
        self.s_gradient[0] += if self.wrong_parameter_gradient { 1.1 * exact } else { exact };
        let factor = if self.wrong_input_gradient { -self.s[0] } else { self.s[0] };
        *grad_input = grad_output * factor;
    }
}

#[test]
fn the_checker_catches_wrong_derivatives() {
    let layer = |wrong_parameter_gradient, wrong_input_gradient| Scale {
        s: HeapMatrix::from_fn(|_, _| 0.7),
        s_gradient: HeapMatrix::zeros(),
        wrong_parameter_gradient,
        wrong_input_gradient,
    };
    let input = random_batch::<3>(4, 12);
    let check = |layer: &Scale| check_layer(layer, &input, Mode::Train, GradientCheck::default());
    assert!(check(&layer(false, false)).passed(TOLERANCE));
    let report = check(&layer(true, false));
    assert!(!report.passed(TOLERANCE), "a 10% error in ∂L/∂s passed: {report}");
    assert_eq!(report.worst.unwrap().tensor, "s");
    let report = check(&layer(false, true));
    assert!(!report.passed(TOLERANCE), "a sign error in ∂L/∂x passed: {report}");
    assert_eq!(report.worst.unwrap().tensor, "input");
}

/// ReLU whose backward forgets the mask: a kinked layer with a wrong derivative.
#[derive(Clone, Copy, Debug, Default)]
struct MasklessReLU;

impl minitorch::Elementwise for MasklessReLU {
    const NAME: &'static str = "MasklessReLU";
    fn value(&self, x: f32) -> f32 {
        x.max(0.0)
    }
    fn derivative(&self, _x: f32, _y: f32) -> f32 {
        1.0
    }
}

net! {
    struct WrongInside< Linear(12, 16), minitorch::Activation<MasklessReLU, 16>: 16 -> 16, Linear(16, 4) >
}

#[test]
fn the_checker_catches_a_wrong_derivative_at_kinks() {
    let input = random_batch::<12>(6, 16);
    let network = WrongInside::new(&mut StdRng::seed_from_u64(17));
    let report = check_network(&network, &input, &[0, 3, 1, 2, 3, 0], GradientCheck::default()).unwrap();
    assert!(!report.passed(TOLERANCE), "a ReLU passing gradients where it is off passed: {report}");
    // Where the wrong derivative meets a kink, no half-step difference comes near it.
    assert!(report.unresolved > 0, "{report}");
    assert_eq!(report.worst.unwrap().tensor.split('.').next(), Some("0"), "the layer before it is wrong");
}

/// A report of `checked` compared entries, `unresolved` others, and a worst error `error`.
fn report(checked: usize, unresolved: usize, error: f64) -> GradientReport {
    let worst =
        CheckedEntry { tensor: "weight".into(), index: 3, analytic: 1.0, numeric: 1.0 - error, error };
    GradientReport { checked, kinks: 2, unresolved, worst: Some(worst) }
}

#[test]
fn a_report_passes_with_entries_checked_errors_within_tolerance_and_one_in_ten_unresolved() {
    assert!(!GradientReport::default().passed(1.0), "nothing was compared");
    assert!(report(9, 1, 0.01).passed(0.01), "one in ten unresolved, the error at the tolerance");
    assert!(!report(8, 1, 0.001).passed(0.01), "one in nine unresolved");
    assert!(!report(9, 0, 0.0101).passed(0.01), "an error above the tolerance");
    assert_eq!((report(9, 1, 0.25).max_error(), GradientReport::default().max_error()), (0.25, 0.0));
}

#[test]
fn a_report_reads_as_its_counts_and_its_worst_entry() {
    assert_eq!(
        report(9, 1, 0.5).to_string(),
        "9 entries checked, 2 of them at kinks, 1 unresolved, worst weight[3]: analytic 1.000000e0, \
         numeric 5.000000e-1, error 5.00e-1"
    );
    assert_eq!(GradientReport::default().to_string(), "0 entries checked, 0 of them at kinks, 0 unresolved");
}

#[test]
fn kinks_within_the_step_are_counted_and_the_first_of_equal_errors_is_reported() {
    // ReLU inputs within ε = 1e-2 of zero put its kink inside the differences.
    let input = Batch::<4>::from_column_slice(&[0.004, -0.003, 0.5, -0.5, 0.002, 1.0, -1.0, -0.006]);
    let report = check_layer(&ReLU::<4>::new(), &input, Mode::Train, GradientCheck::default());
    assert!(report.passed(TOLERANCE) && report.kinks >= 3, "{report}");
    // Away from the kink every entry is exact, with error 0: the first is the one reported.
    let input = Batch::<4>::from_column_slice(&[-0.5, -1.0, -1.5, -2.0, -0.7, -0.9, -1.1, -1.3]);
    let report = check_layer(&ReLU::<4>::new(), &input, Mode::Train, GradientCheck::default());
    let worst = report.worst.clone().unwrap();
    assert_eq!(
        (report.checked, report.kinks, worst.tensor.as_str(), worst.index, worst.error),
        (8, 0, "input", 0, 0.0)
    );
}

/// `50x²` on one side of a kink at `kink`, flat on the other: strong curvature right beside a
/// kink, where only a one-sided second-order difference comes within the tolerance.
#[derive(Clone, Copy, Debug)]
struct ParabolaBesideKink {
    kink: f32,
    parabola_below: bool,
}

impl ParabolaBesideKink {
    fn on_parabola(&self, x: f32) -> bool {
        (x < self.kink) == self.parabola_below
    }
}

impl minitorch::Elementwise for ParabolaBesideKink {
    const NAME: &'static str = "ParabolaBesideKink";
    fn value(&self, x: f32) -> f32 {
        let x = if self.on_parabola(x) { x } else { self.kink };
        50.0 * x * x
    }
    fn derivative(&self, x: f32, _y: f32) -> f32 {
        if self.on_parabola(x) { 100.0 * x } else { 0.0 }
    }
}

#[test]
fn beside_a_kink_the_derivative_is_taken_from_the_smooth_side_to_second_order() {
    // At 0.1 the derivative is 10; the kink lies 0.002 away, inside the step ε = 0.01. The slope
    // of the half-step next to 0.1 on the smooth side is 2.5% off (curvature), the one-sided
    // second-order difference exact.
    let input = Batch::<1>::from_column_slice(&[0.1]);
    for (kink, parabola_below) in [(0.102, true), (0.098, false)] {
        let layer = Activation::<_, 1>::with_function(ParabolaBesideKink { kink, parabola_below });
        let report = check_layer(&layer, &input, Mode::Train, GradientCheck::default());
        assert!((report.checked, report.kinks) == (1, 1) && report.max_error() < 1e-4, "{report}");
    }
}

/// `y = 1000·x`: large gradients.
#[derive(Clone, Copy, Debug, Default)]
struct TimesThousand;

impl minitorch::Elementwise for TimesThousand {
    const NAME: &'static str = "TimesThousand";
    fn value(&self, x: f32) -> f32 {
        1000.0 * x
    }
    fn derivative(&self, _x: f32, _y: f32) -> f32 {
        1000.0
    }
}

#[test]
fn large_gradients_are_compared_relative_to_their_size() {
    // Gradients of several hundred: the f32 differences of a loss of a few thousand are off by
    // several hundredths, a relative error of about 1e-4.
    let layer = Activation::<TimesThousand, 3>::new();
    let report = check_layer(&layer, &random_batch::<3>(4, 21), Mode::Train, GradientCheck::default());
    assert!(report.passed(TOLERANCE), "{report}");
    let worst = report.worst.unwrap();
    assert!((worst.analytic - worst.numeric).abs() > TOLERANCE, "the absolute error is larger: {worst:?}");
}
