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
//! Where a ReLU input crosses zero (or a max-pooling window changes its maximum) between
//! `θ − ε` and `θ + ε`, the central difference is not a derivative at all: it averages the
//! slopes on both sides of the kink. The check tells such an entry from a wrong derivative on its
//! own, asking nothing of the layers: it also evaluates the loss at `θ_i ± ε/2`, and looks at the
//! four half-step slopes. On a smooth stretch they change steadily, and the entry is compared with
//! the central differences (Richardson-extrapolated). Where one jumps, a kink lies within `ε`:
//! the derivative at `θ_i` is then what the half-steps beside the kink give (the central
//! difference over `±ε/2`, a one-sided difference from either side, or the slope next to `θ_i`
//! on either side, since `θ_i` may sit on either side of a kink right beside it), and the entry
//! is compared with the nearest of those and counted in [`GradientReport::kinks`]. An entry no
//! such difference comes within [`KINK_LIMIT`] of, because kinks crowd both sides, is counted in
//! [`GradientReport::unresolved`]; where kinks lie depends on the forward pass only, so a wrong
//! derivative still shows on the smooth entries, and a check with more than one entry in ten
//! unresolved does not pass.
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
    /// `"input"`, or the parameter's state-dict name (`"3.body.0.weight"`; `"weight"` for a
    /// layer checked on its own).
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
    /// Of the compared entries, those where a kink lies within `ε`, so that the derivative was
    /// taken from the half-steps beside it (see the module docs).
    pub kinks: usize,
    /// Entries not compared: kinks lie so close on both sides that no half-step gives a
    /// derivative within [`KINK_LIMIT`] of the analytic one. Where they lie depends on the
    /// forward pass only.
    pub unresolved: usize,
    /// The entry with the largest error.
    pub worst: Option<CheckedEntry>,
}

impl GradientReport {
    /// The largest error found (0 if nothing was checked).
    pub fn max_error(&self) -> f64 {
        self.worst.as_ref().map_or(0.0, |entry| entry.error)
    }

    /// Whether something was compared, every error is at most `tolerance`, and at most one entry
    /// in ten was left unresolved.
    pub fn passed(&self, tolerance: f64) -> bool {
        self.checked > 0
            && self.max_error() <= tolerance
            && self.unresolved * 10 <= self.checked + self.unresolved
    }

    fn record(&mut self, tensor: impl FnOnce() -> String, index: usize, analytic: f64, numeric: Differences) {
        let (numeric, at_kink) = match numeric.reference() {
            Reference::Smooth(numeric) => (numeric, false),
            Reference::Kink(candidates) => {
                let nearest = candidates
                    .into_iter()
                    .min_by(|a, b| relative_error(analytic, *a).total_cmp(&relative_error(analytic, *b)))
                    .expect("there are candidates");
                if relative_error(analytic, nearest) > KINK_LIMIT {
                    self.unresolved += 1;
                    return;
                }
                (nearest, true)
            }
        };
        let error = relative_error(analytic, numeric);
        self.checked += 1;
        self.kinks += usize::from(at_kink);
        if self.worst.as_ref().is_none_or(|worst| error > worst.error) {
            self.worst = Some(CheckedEntry { tensor: tensor(), index, analytic, numeric, error });
        }
    }
}

impl fmt::Display for GradientReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} entries checked, {} of them at kinks, {} unresolved",
            self.checked, self.kinks, self.unresolved
        )?;
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

    let run = |copy: &mut L, input: &Batch<IN>, output: &mut Batch<OUT>| {
        copy.forward(input, output, mode);
        loss(output)
    };

    let mut analytic = layer.clone();
    analytic.zero_grad();
    let (mut output, mut grad_input) = (Batch::zeros(0), Batch::zeros(0));
    let unperturbed = run(&mut analytic, input, &mut output);
    analytic.backward(input, &output, &weights, &mut grad_input);

    let mut report = GradientReport::default();
    check_parameters(
        layer,
        &mut analytic,
        unperturbed,
        |copy: &mut L| run(copy, input, &mut Batch::zeros(0)),
        check,
        &mut report,
    );
    for index in sampled_indices(input.len(), check.entries_per_tensor) {
        let numeric = differences(input[index], check.epsilon, unperturbed, |value| {
            let mut perturbed = input.clone();
            perturbed[index] = value;
            run(&mut layer.clone(), &perturbed, &mut Batch::zeros(0))
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
    let unperturbed = f64::from(criterion.forward(analytic.forward(input)?, labels)?);
    analytic.backward(criterion.gradient())?;

    let mut report = GradientReport::default();
    let run = |copy: &mut N| {
        let logits = copy.forward(input).expect("checked by the analytic pass");
        f64::from(criterion.forward(logits, labels).expect("checked by the analytic pass"))
    };
    check_parameters(network, &mut analytic, unperturbed, run, check, &mut report);
    Ok(report)
}

/// Compares the gradients held by `analytic` with central differences of `run`'s loss on copies of
/// `original`.
fn check_parameters<M: Parameters + Clone>(
    original: &M,
    analytic: &mut M,
    unperturbed: f64,
    mut run: impl FnMut(&mut M) -> f64,
    check: GradientCheck,
    report: &mut GradientReport,
) {
    let mut tensors = Vec::new();
    analytic.visit_parameters(&mut |p| {
        tensors.push((p.full_name(), p.value.to_vec(), p.gradient.to_vec()));
    });
    for (tensor_index, (name, values, gradients)) in tensors.iter().enumerate() {
        for index in sampled_indices(values.len(), check.entries_per_tensor) {
            let numeric = differences(values[index], check.epsilon, unperturbed, |value| {
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

/// The slopes of the loss over the four half-steps around one entry: from `θ − ε` to `θ − ε/2`,
/// on to `θ`, on to `θ + ε/2`, on to `θ + ε` (see the module docs).
struct Differences {
    slopes: [f64; 4],
    /// How much f32 rounding of the loss may move a slope.
    noise: f64,
}

/// At a kink, an entry further than this from every derivative the half-steps suggest is not
/// compared but counted as unresolved.
pub const KINK_LIMIT: f64 = 0.05;

/// What the half-step slopes give to compare with.
enum Reference {
    /// No kink within `ε`: one number.
    Smooth(f64),
    /// A kink within `ε`: what each stretch without a jump suggests; at a kink the derivative
    /// is that of the side `θ` lies on, which the slopes alone cannot always tell.
    Kink([f64; 5]),
}

impl Differences {
    /// On a smooth stretch the slope changes steadily from one half-step to the next, by about
    /// `(ε/2)·L''` each time; a kink makes it jump. When the three changes are alike, the central
    /// differences over `±ε/2` and `±ε` are combined by Richardson's extrapolation (its error is
    /// of order `ε⁴`). Otherwise the candidates are the central difference over `±ε/2`, the
    /// second-order one-sided differences `(3·s₁ − s₀)/2` from each side (slopes `s₁` next to
    /// `θ`, `s₀` beyond it), and the two slopes next to `θ`.
    fn reference(&self) -> Reference {
        let [far_below, near_below, near_above, far_above] = self.slopes;
        let changes = [near_below - far_below, near_above - near_below, far_above - near_above];
        let lowest = changes.iter().copied().fold(f64::INFINITY, f64::min);
        let highest = changes.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let largest = changes.iter().fold(0.0f64, |m, c| m.max(c.abs()));
        let inner = (near_below + near_above) / 2.0;
        // Steady: the changes agree in sign and size, up to half the largest and rounding.
        if highest - lowest <= 0.5 * largest + 2.0 * self.noise {
            // Richardson's extrapolation cancels the ε² error terms of the two central
            // differences, which strong curvature (batch normalisation of a few samples) makes as
            // large as the derivative itself.
            let outer = (far_below + near_below + near_above + far_above) / 4.0;
            return Reference::Smooth((4.0 * inner - outer) / 3.0);
        }
        Reference::Kink([
            inner,
            (3.0 * near_below - far_below) / 2.0,
            (3.0 * near_above - far_above) / 2.0,
            near_below,
            near_above,
        ])
    }
}

/// `|a − b| / max(|a|, |b|, 1e-2)`: relative for ordinary values, absolute for small ones.
fn relative_error(a: f64, b: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(1e-2)
}

/// The half-step slopes of `f` around `x`, given `f(x)`.
fn differences(x: f32, epsilon: f32, f_x: f64, mut f: impl FnMut(f32) -> f64) -> Differences {
    // The points as they are after rounding to f32, so that each slope divides by the distance
    // actually taken.
    let points = [x - epsilon, x - epsilon / 2.0, x, x + epsilon / 2.0, x + epsilon];
    let losses = points.map(|point| if point == x { f_x } else { f(point) });
    let slope = |i: usize| (losses[i + 1] - losses[i]) / (f64::from(points[i + 1]) - f64::from(points[i]));
    // Two units in the last place of an f32 loss, over a half-step.
    let noise = 2.0 * f_x.abs() * f64::from(f32::EPSILON) / f64::from(epsilon / 2.0);
    Differences { slopes: [slope(0), slope(1), slope(2), slope(3)], noise }
}

/// Up to `count` indices spread evenly over `0..len`.
fn sampled_indices(len: usize, count: usize) -> impl Iterator<Item = usize> {
    let stride = len.div_ceil(count.max(1)).max(1);
    (0..len).step_by(stride)
}
