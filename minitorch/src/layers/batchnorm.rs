//! Batch normalisation per channel: PyTorch's `nn.BatchNorm1d` (a channel is a feature) and
//! `nn.BatchNorm2d` (a channel is an image plane; its statistics run over the batch and every
//! position of the plane).
//!
//! Forward in training, for each channel over its `M` values in the batch (`M` = samples, or
//! samples × height × width):
//!
//! ```text
//! μ = (1/M) Σ x         σ² = (1/M) Σ (x − μ)²        (biased, to normalise)
//! x̂ = (x − μ) / √(σ² + ε)
//! y = γ·x̂ + β
//! running_mean ← (1 − m)·running_mean + m·μ
//! running_var  ← (1 − m)·running_var  + m·σ²·M/(M − 1)   (unbiased)
//! ```
//!
//! with `ε = 1e-5`, `m = 0.1`. In evaluation, `μ` and `σ²` are the running statistics and
//! nothing is updated.
//!
//! Backward, given `g = ∂L/∂y`, sums over the channel's `M` values:
//!
//! ```text
//! ∂L/∂β = Σ g        ∂L/∂γ = Σ g·x̂
//! ∂L/∂x = γ / (M·√(σ² + ε)) · (M·g − Σ g − x̂·Σ g·x̂)      (training: μ, σ² depend on x)
//! ∂L/∂x = γ / √(running_var + ε) · g                        (evaluation: an affine map)
//! ```
//!
//! Backward computes `x̂` again from `x` rather than keeping it from forward: that spares a
//! write and a buffer the size of the batch, and gives the same numbers. On a large batch each
//! pass runs on both cores: the sums with half the channels each, the element-wise passes with
//! half the samples each, so the results are the same bits either way.
//!
//! Tests: `tests/gradcheck.rs` (finite differences in both modes), `tests/parity.rs` and
//! `tests/cnn.rs` (PyTorch's values and running statistics), `tests/large_batches.rs` (batches
//! split between the cores, against the formulas in f64), `tests/network.rs` (batch-size
//! errors).

use std::fmt;

use crate::matrix::{resize_batch, sum_by_lanes};
use crate::parallel::{halves, halves_mut, on_both_cores};
use crate::{Batch, Error, HeapMatrix, Layer, Mode, Param, Parameters};

/// PyTorch's default `eps`.
pub const EPSILON: f32 = 1e-5;
/// PyTorch's default `momentum` for the running statistics.
pub const MOMENTUM: f32 = 0.1;

/// Batch normalisation of `N` features, each its own channel (PyTorch's `nn.BatchNorm1d(N)`).
///
/// ```
/// use minitorch::{Batch, BatchNorm1d, Layer, Mode};
/// let mut norm = BatchNorm1d::<1>::new();
/// let mut output = Batch::<1>::zeros(0);
/// norm.forward(&Batch::<1>::from_column_slice(&[1.0, 3.0]), &mut output, Mode::Train);
/// assert!((output[0] + 1.0).abs() < 1e-4 && (output[1] - 1.0).abs() < 1e-4);
/// // running mean moved 10% of the way to the batch mean 2; running variance towards 2 (unbiased)
/// assert!((norm.running_mean[0] - 0.2).abs() < 1e-6);
/// assert!((norm.running_var[0] - 1.1).abs() < 1e-6);
/// ```
pub type BatchNorm1d<const N: usize> = BatchNorm<N, N>;

/// Batch normalisation of `CHANNELS` image planes making up `N` numbers per sample (PyTorch's
/// `nn.BatchNorm2d(CHANNELS)`); `N` must be a multiple of `CHANNELS`, checked when the layer is
/// built.
///
/// ```
/// use minitorch::{Batch, BatchNorm2d, Layer, Mode};
/// // 2 channels of 2 positions: statistics of channel 0 over [1, 3] and [5, 7] of both samples.
/// let mut norm = BatchNorm2d::<2, 4>::new();
/// let batch = Batch::<4>::from_column_slice(&[1.0, 3.0, 0.0, 0.0, 5.0, 7.0, 0.0, 0.0]);
/// norm.forward(&batch, &mut Batch::zeros(0), Mode::Train);
/// assert!((norm.running_mean[0] - 0.4).abs() < 1e-6 && norm.running_mean[1] == 0.0);
/// ```
pub type BatchNorm2d<const CHANNELS: usize, const N: usize> = BatchNorm<CHANNELS, N>;

/// Normalises each of `CHANNELS` channels over the batch (and over its positions, when `N` is
/// larger than `CHANNELS`), then scales by `γ` and shifts by `β`. See [`BatchNorm1d`] and
/// [`BatchNorm2d`].
#[derive(Clone, Parameters)]
pub struct BatchNorm<const CHANNELS: usize, const N: usize> {
    /// `γ` (PyTorch's `weight`), initially 1, and `∂L/∂γ`.
    pub weight: Param<HeapMatrix<CHANNELS, 1>>,
    /// `β` (PyTorch's `bias`), initially 0, and `∂L/∂β`.
    pub bias: Param<HeapMatrix<CHANNELS, 1>>,
    /// Running mean used in evaluation, initially 0.
    #[buffer]
    pub running_mean: HeapMatrix<CHANNELS, 1>,
    /// Running (unbiased) variance used in evaluation, initially 1.
    #[buffer]
    pub running_var: HeapMatrix<CHANNELS, 1>,
    /// How many training batches updated the running statistics.
    #[buffer]
    pub num_batches_tracked: u64,
    /// `μ` of the last forward: the batch mean in training, the running mean in evaluation.
    mean: HeapMatrix<CHANNELS, 1>,
    /// `1/√(σ² + ε)` of the last forward.
    inverse_std: HeapMatrix<CHANNELS, 1>,
    /// Scratch: `Σ g` and `Σ g·x̂` of each channel.
    gradient_sums: Vec<[f32; 2]>,
    last_mode: Mode,
}

impl<const CHANNELS: usize, const N: usize> Default for BatchNorm<CHANNELS, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CHANNELS: usize, const N: usize> BatchNorm<CHANNELS, N> {
    /// Numbers per channel in one sample: 1 for `BatchNorm1d`, height × width for `BatchNorm2d`.
    const PLANE: usize = N / CHANNELS;
    /// The geometry, checked where the layer is built.
    const GEOMETRY: () = assert!(
        CHANNELS > 0 && N.is_multiple_of(CHANNELS),
        "BatchNorm: N must be a positive multiple of CHANNELS"
    );

    /// A layer initialised as PyTorch's: `γ = 1`, `β = 0`, running mean 0, running variance 1.
    pub fn new() -> Self {
        let () = Self::GEOMETRY;
        Self {
            weight: Param::new(HeapMatrix::from_fn(|_, _| 1.0)),
            bias: Param::new(HeapMatrix::zeros()),
            running_mean: HeapMatrix::zeros(),
            running_var: HeapMatrix::from_fn(|_, _| 1.0),
            num_batches_tracked: 0,
            mean: HeapMatrix::zeros(),
            inverse_std: HeapMatrix::zeros(),
            gradient_sums: vec![[0.0; 2]; CHANNELS],
            last_mode: Mode::Eval,
        }
    }

    /// Calls `add_plane(c, a's plane, b's plane, &mut sums[c])` for every channel `c` of each
    /// sample of the batches `a` and `b`, sample after sample. On a large batch each core takes
    /// half the channels, so every sum is taken in the same order either way.
    fn add_over_samples<T: Send>(
        a: &[f32],
        b: &[f32],
        sums: &mut [T],
        add_plane: impl Fn(usize, &[f32], &[f32], &mut T) + Sync,
    ) {
        let [first, second] = halves_mut(sums, 1);
        let second_start = first.len();
        on_both_cores(a.len(), [(0, first), (second_start, second)], |(start, sums)| {
            for (a, b) in a.chunks_exact(N).zip(b.chunks_exact(N)) {
                for (channel, sum) in (start..).zip(sums.iter_mut()) {
                    let plane = channel * Self::PLANE..(channel + 1) * Self::PLANE;
                    add_plane(channel, &a[plane.clone()], &b[plane], sum);
                }
            }
        });
    }

    /// Sets `mean` to the batch mean and `inverse_std` from the biased batch variance, and
    /// updates the running statistics.
    fn batch_statistics(&mut self, input: &Batch<N>) {
        let count = (input.ncols() * Self::PLANE) as f32;
        let (input, mean) = (input.as_slice(), self.mean.as_mut_slice());
        mean.fill(0.0);
        Self::add_over_samples(input, input, mean, |_, plane, _, sum| {
            *sum += sum_by_lanes(plane, plane, |x, _| x)
        });
        mean.iter_mut().for_each(|m| *m /= count);
        let mean = &*mean;
        // The variance goes through `inverse_std` before it becomes one.
        let variance = self.inverse_std.as_mut_slice();
        variance.fill(0.0);
        Self::add_over_samples(input, input, variance, |channel, plane, _, sum| {
            let m = mean[channel];
            *sum += sum_by_lanes(plane, plane, |x, _| (x - m) * (x - m))
        });
        variance.iter_mut().for_each(|v| *v /= count);

        let unbiased = count / (count - 1.0);
        for (running, &m) in self.running_mean.iter_mut().zip(mean) {
            *running = (1.0 - MOMENTUM) * *running + MOMENTUM * m;
        }
        for (running, &v) in self.running_var.iter_mut().zip(&*variance) {
            *running = (1.0 - MOMENTUM) * *running + MOMENTUM * v * unbiased;
        }
        self.num_batches_tracked += 1;
        variance.iter_mut().for_each(|v| *v = 1.0 / (*v + EPSILON).sqrt());
    }
}

impl<const CHANNELS: usize, const N: usize> fmt::Debug for BatchNorm<CHANNELS, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if CHANNELS == N {
            write!(f, "BatchNorm1d<{N}>")?;
        } else {
            write!(f, "BatchNorm2d<{CHANNELS}, {N}>")?;
        }
        write!(f, " {{ num_batches_tracked: {} }}", self.num_batches_tracked)
    }
}

impl<const CHANNELS: usize, const N: usize> Layer<N, N> for BatchNorm<CHANNELS, N> {
    /// One value per channel in training leaves no variance to normalise by (PyTorch raises too).
    fn check_batch(&self, samples: usize, mode: Mode) -> Result<(), Error> {
        if mode == Mode::Train && samples * Self::PLANE < 2 {
            return Err(Error::BatchTooSmallForBatchNorm { samples });
        }
        Ok(())
    }

    /// # Panics
    /// In training with one value per channel, where the variance is undefined (PyTorch raises
    /// too). A network's `forward` asks [`Layer::check_batch`] first and returns its error.
    fn forward(&mut self, input: &Batch<N>, output: &mut Batch<N>, mode: Mode) {
        self.last_mode = mode;
        match mode {
            Mode::Train => {
                assert!(
                    input.ncols() * Self::PLANE >= 2,
                    "batch normalisation needs 2 values per channel in training"
                );
                self.batch_statistics(input);
            }
            Mode::Eval => {
                self.mean.copy_from(&*self.running_mean);
                for (s, &v) in self.inverse_std.iter_mut().zip(self.running_var.iter()) {
                    *s = 1.0 / (v + EPSILON).sqrt();
                }
            }
        }
        resize_batch(output, input.ncols());
        let (mean, inverse_std) = (self.mean.as_slice(), self.inverse_std.as_slice());
        let (gamma, beta) = (self.weight.as_slice(), self.bias.as_slice());
        let [x_0, x_1] = halves(input.as_slice(), N);
        let [y_0, y_1] = halves_mut(output.as_mut_slice(), N);
        on_both_cores(input.len(), [(x_0, y_0), (x_1, y_1)], |(x, y)| {
            let planes = x.chunks_exact(Self::PLANE).zip(y.chunks_exact_mut(Self::PLANE));
            // Each half starts at a sample, so the plane's index still gives its channel.
            for (index, (x, y)) in planes.enumerate() {
                let channel = index % CHANNELS;
                let (mean, inverse_std, gamma, beta) =
                    (mean[channel], inverse_std[channel], gamma[channel], beta[channel]);
                for (y, &x) in y.iter_mut().zip(x) {
                    let x_hat = (x - mean) * inverse_std;
                    *y = gamma * x_hat + beta;
                }
            }
        });
    }

    fn backward(
        &mut self,
        input: &Batch<N>,
        output: &Batch<N>,
        grad_output: &Batch<N>,
        grad_input: &mut Batch<N>,
    ) {
        self.backward_parameters(input, output, grad_output, grad_input);
        let count = (grad_output.ncols() * Self::PLANE) as f32;
        resize_batch(grad_input, grad_output.ncols());
        let (gamma, mean, inverse_std) =
            (self.weight.as_slice(), self.mean.as_slice(), self.inverse_std.as_slice());
        let (gradient_sums, mode) = (&self.gradient_sums, self.last_mode);
        let [g_0, g_1] = halves(grad_output.as_slice(), N);
        let [x_0, x_1] = halves(input.as_slice(), N);
        let [dx_0, dx_1] = halves_mut(grad_input.as_mut_slice(), N);
        on_both_cores(grad_output.len(), [(g_0, x_0, dx_0), (g_1, x_1, dx_1)], |(g, x, dx)| {
            let planes = g
                .chunks_exact(Self::PLANE)
                .zip(x.chunks_exact(Self::PLANE))
                .zip(dx.chunks_exact_mut(Self::PLANE));
            for (index, ((g, x), dx)) in planes.enumerate() {
                let channel = index % CHANNELS;
                let (mean, inverse_std) = (mean[channel], inverse_std[channel]);
                let scale = gamma[channel] * inverse_std;
                let [sum, sum_product] = gradient_sums[channel];
                // The mode is matched once a plane, not once an entry: inside the loop it was
                // read from memory at every entry, which kept the loop from vector registers
                // (6.6% of a resnet training step: `perf record` of criterion's `train_step_resnet
                // --profile-time 10`, Intel Xeon model 106).
                let entries = dx.iter_mut().zip(g).zip(x);
                match mode {
                    Mode::Train => entries.for_each(|((dx, &g), &x)| {
                        let x_hat = (x - mean) * inverse_std;
                        *dx = scale / count * (count * g - sum - x_hat * sum_product);
                    }),
                    Mode::Eval => entries.for_each(|((dx, &g), _)| *dx = scale * g),
                }
            }
        });
    }

    /// Also leaves `Σ g` and `Σ g·x̂` of this batch in `gradient_sums` for `backward`.
    fn backward_parameters(
        &mut self,
        input: &Batch<N>,
        _output: &Batch<N>,
        grad_output: &Batch<N>,
        _grad_input: &mut Batch<N>,
    ) {
        let (g, x) = (grad_output.as_slice(), input.as_slice());
        let (mean, inverse_std) = (self.mean.as_slice(), self.inverse_std.as_slice());
        self.gradient_sums.fill([0.0; 2]);
        Self::add_over_samples(g, x, &mut self.gradient_sums, |channel, g, x, sums| {
            let (mean, inverse_std) = (mean[channel], inverse_std[channel]);
            // Both sums of a plane one after the other, while it is in the L1 cache.
            sums[0] += sum_by_lanes(g, g, |g, _| g);
            sums[1] += sum_by_lanes(g, x, |g, x| g * ((x - mean) * inverse_std));
        });
        for (channel, [sum, sum_product]) in self.gradient_sums.iter().enumerate() {
            self.bias.gradient[channel] += sum;
            self.weight.gradient[channel] += sum_product;
        }
    }
}
