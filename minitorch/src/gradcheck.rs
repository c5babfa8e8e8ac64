//! Finite-difference gradient checks: the workshop's way of proving a backward pass right.
//!
//! For a sample of entries `θ_i` of every parameter (and, for a single layer, of the input), the
//! analytic derivative from `backward` is compared with the central difference
//!
//! ```text
//! (L(θ_i + ε) − L(θ_i − ε)) / 2ε
//! ```
//!
//! computed by rerunning `forward` on a fresh copy of the model each time. The copy carries the
//! dropout generators' state, so every rerun draws the same masks as the analytic pass.
//!
//! Where a ReLU input crosses zero between `θ − ε` and `θ + ε`, the central difference is not a
//! derivative at all. The check sees it from the layers' [`Layer::kink_fingerprint`]s, which
//! then differ from those of the unperturbed run; such an entry is counted in
//! [`GradientReport::kinks`] and not compared.
//!
//! The error of an entry is `|analytic − numeric| / max(|analytic|, |numeric|, 1e-2)`: relative for
//! ordinary gradients, absolute for small ones, whose f32 central differences carry rounding noise
//! of order `1e-7·|L| / ε`.

use std::fmt;

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use crate::{Batch, CrossEntropy, Error, Layer, Mode, Network, Parameters};

/// How to check.
#[derive(Clone, Copy, Debug)]
pub struct GradientCheck {
    /// The step `ε`. 1e-2 suits f32 models whose values are of order one: smaller steps drown
    /// in f32 rounding once a layer sums hundreds of products.
    pub epsilon: f32,
    /// At most this many entries of each tensor are checked, spread evenly across it.
    pub entries_per_tensor: usize,
}

impl Default for GradientCheck {
    fn default() -> Self {
        Self { epsilon: 1e-2, entries_per_tensor: 40 }
    }
}

/// One checked entry.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedEntry {
    /// `"input"`, or the parameter as `"{layer}.{name}"`.
    pub tensor: String,
    /// Position in the tensor's column-major storage.
    pub index: usize,
    /// From `backward`.
    pub analytic: f64,
    /// From the central difference.
    pub numeric: f64,
    /// See the module docs.
    pub error: f64,
}

/// The outcome of a check.
#[derive(Clone, Debug, Default)]
pub struct GradientReport {
    /// How many entries were compared.
    pub checked: usize,
    /// Entries skipped because the loss has a kink within `ε` of them.
    pub kinks: usize,
    /// The entry with the largest error.
    pub worst: Option<CheckedEntry>,
}

impl GradientReport {
    /// The largest error found (0 if nothing was checked).
    pub fn max_error(&self) -> f64 {
        self.worst.as_ref().map_or(0.0, |entry| entry.error)
    }

    /// Whether something was compared and every error is at most `tolerance`. (Kinks depend on
    /// the forward pass only, so a wrong backward pass cannot hide among them.)
    pub fn passed(&self, tolerance: f64) -> bool {
        self.checked > 0 && self.max_error() <= tolerance
    }

    fn record(&mut self, tensor: impl FnOnce() -> String, index: usize, analytic: f64, numeric: Difference) {
        let Difference::Smooth(numeric) = numeric else {
            self.kinks += 1;
            return;
        };
        let error = (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(1e-2);
        self.checked += 1;
        if self.worst.as_ref().is_none_or(|worst| error > worst.error) {
            self.worst = Some(CheckedEntry { tensor: tensor(), index, analytic, numeric, error });
        }
    }
}

impl fmt::Display for GradientReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} entries checked, {} skipped at kinks", self.checked, self.kinks)?;
        if let Some(w) = &self.worst {
            write!(
                f,
                ", worst {}[{}]: analytic {:.6e}, numeric {:.6e}, error {:.2e}",
                w.tensor, w.index, w.analytic, w.numeric, w.error
            )?;
        }
        Ok(())
    }
}

/// Checks a layer's backward pass: its parameter gradients and its input gradient, for the loss
/// `L = Σ R ⊙ output` with a fixed pseudo-random `R`.
///
/// ```
/// use minitorch::prelude::*;
/// use minitorch::gradcheck::{GradientCheck, check_layer};
/// use minitorch::rand::{SeedableRng, rngs::StdRng};
///
/// let layer = Linear::<3, 2>::new(&mut StdRng::seed_from_u64(1));
/// let input = Batch::<3>::from_fn(4, |r, c| (r as f32 - c as f32) / 3.0);
/// let report = check_layer(&layer, &input, Mode::Train, GradientCheck::default());
/// assert!(report.passed(1e-2), "{report}");
/// ```
pub fn check_layer<L, const IN: usize, const OUT: usize>(
    layer: &L,
    input: &Batch<IN>,
    mode: Mode,
    check: GradientCheck,
) -> GradientReport
where
    L: Layer<IN, OUT> + Clone,
{
    let mut rng = SmallRng::seed_from_u64(0x5eed);
    let weights = Batch::<OUT>::from_fn(input.ncols(), |_, _| rng.random_range(-1.0f32..1.0));
    let loss = |output: &Batch<OUT>| {
        output.iter().zip(weights.iter()).map(|(&y, &w)| f64::from(y) * f64::from(w)).sum::<f64>()
    };

    let run = |copy: &mut L, input: &Batch<IN>| {
        let loss = loss(copy.forward(input, mode));
        (loss, copy.kink_fingerprint())
    };

    let mut analytic = layer.clone();
    analytic.zero_grad();
    let (_, fingerprint) = run(&mut analytic, input);
    let grad_input = analytic.backward(input, &weights).clone();

    let mut report = GradientReport::default();
    check_parameters(layer, &mut analytic, fingerprint, |copy: &mut L| run(copy, input), check, &mut report);
    for index in sampled_indices(input.len(), check.entries_per_tensor) {
        let numeric = central_difference(input[index], check.epsilon, fingerprint, |value| {
            let mut perturbed = input.clone();
            perturbed[index] = value;
            run(&mut layer.clone(), &perturbed)
        });
        report.record(|| "input".to_string(), index, f64::from(grad_input[index]), numeric);
    }
    report
}

/// Checks a whole network's parameter gradients for the mean cross-entropy of its output against
/// `labels`, in the network's current mode.
///
/// ```
/// use minitorch::prelude::*;
/// use minitorch::gradcheck::{GradientCheck, check_network};
/// use minitorch::rand::{SeedableRng, rngs::StdRng};
///
/// net! { struct Small< Linear(3, 5), BatchNorm1d(5), ReLU, Dropout(0.3), Linear(5, 2) > }
///
/// let net = Small::new(&mut StdRng::seed_from_u64(2));
/// let input = Batch::<3>::from_fn(6, |r, c| ((r * 7 + c * 3) % 5) as f32 - 2.0);
/// let report = check_network(&net, &input, &[0, 1, 1, 0, 1, 0], GradientCheck::default())?;
/// assert!(report.passed(1e-2), "{report}");
/// # Ok::<(), minitorch::Error>(())
/// ```
///
/// # Errors
/// Those of [`Network::forward`] and [`CrossEntropy::forward`] for this input and labels.
pub fn check_network<N, const IN: usize, const OUT: usize>(
    network: &N,
    input: &Batch<IN>,
    labels: &[usize],
    check: GradientCheck,
) -> Result<GradientReport, Error>
where
    N: Network<IN, OUT> + Clone,
{
    let mut criterion = CrossEntropy::<OUT>::new();
    let mut analytic = network.clone();
    analytic.zero_grad();
    criterion.forward(analytic.forward(input)?, labels)?;
    analytic.backward(criterion.gradient())?;
    let fingerprint = analytic.kink_fingerprint();

    let mut report = GradientReport::default();
    let run = |copy: &mut N| {
        let logits = copy.forward(input).expect("checked by the analytic pass");
        let loss = criterion.forward(logits, labels).expect("checked by the analytic pass");
        (f64::from(loss), copy.kink_fingerprint())
    };
    check_parameters(network, &mut analytic, fingerprint, run, check, &mut report);
    Ok(report)
}

/// Compares the gradients held by `analytic` with central differences of `run`'s loss on copies of
/// `original`.
fn check_parameters<M: Parameters + Clone>(
    original: &M,
    analytic: &mut M,
    fingerprint: u64,
    mut run: impl FnMut(&mut M) -> (f64, u64),
    check: GradientCheck,
    report: &mut GradientReport,
) {
    let mut tensors = Vec::new();
    analytic.visit_parameters(&mut |p| {
        tensors.push((format!("{}.{}", p.layer, p.name), p.value.to_vec(), p.gradient.to_vec()));
    });
    for (tensor_index, (name, values, gradients)) in tensors.iter().enumerate() {
        for index in sampled_indices(values.len(), check.entries_per_tensor) {
            let numeric = central_difference(values[index], check.epsilon, fingerprint, |value| {
                let mut copy = original.clone();
                let mut position = 0;
                copy.visit_parameters(&mut |p| {
                    if position == tensor_index {
                        p.value[index] = value;
                    }
                    position += 1;
                });
                run(&mut copy)
            });
            report.record(|| name.clone(), index, f64::from(gradients[index]), numeric);
        }
    }
}

/// A numeric derivative, unless a kink lies within `ε`.
enum Difference {
    Smooth(f64),
    Kink,
}

/// `(f(x + ε) − f(x − ε)) / (actual distance)`, the distance measured after rounding to f32.
/// `f` returns the loss and the kink fingerprint of its run; a fingerprint other than
/// `fingerprint` (that of the unperturbed run) means a kink was crossed.
fn central_difference(
    x: f32,
    epsilon: f32,
    fingerprint: u64,
    mut f: impl FnMut(f32) -> (f64, u64),
) -> Difference {
    let (above, below) = (x + epsilon, x - epsilon);
    let ((f_above, fingerprint_above), (f_below, fingerprint_below)) = (f(above), f(below));
    if fingerprint_above != fingerprint || fingerprint_below != fingerprint {
        return Difference::Kink;
    }
    Difference::Smooth((f_above - f_below) / (f64::from(above) - f64::from(below)))
}

/// Up to `count` indices spread evenly over `0..len`.
fn sampled_indices(len: usize, count: usize) -> impl Iterator<Item = usize> {
    let stride = len.div_ceil(count.max(1)).max(1);
    (0..len).step_by(stride)
}
