//! A 2-D convolution over images (PyTorch's `nn.Conv2d` with square kernels, stride and zero
//! padding).
//!
//! Each sample is one column of `IN = C_in·H·W` numbers in PyTorch's channel, row, column order;
//! the output is `OUT = C_out·H_out·W_out`, with `H_out = ⌊(H + 2·padding − K) / stride⌋ + 1`
//! (and the same for widths). Forward, for output channel `o` at position `(y, x)`:
//!
//! ```text
//! out[o, y, x] = b[o] + Σ_{i, u, v} W[o, i, u, v] · in[i, y·stride + u − padding, x·stride + v − padding]
//! ```
//!
//! (entries outside the image count as 0). Computed as one product by im2col: the patches of
//! every sample become the columns of a matrix `X` (`C_in·K·K` rows, one column per output
//! position of every sample), and `Y = W·X` with `W` as a `C_out × C_in·K·K` matrix.
//!
//! Backward, given `G = ∂L/∂Y` in the same layout:
//!
//! ```text
//! ∂L/∂W = G·Xᵀ        ∂L/∂b[o] = Σ over samples and positions of G[o]
//! ∂L/∂X = Wᵀ·G        then col2im: each entry of ∂L/∂X is added back to the input position its
//!                     patch entry came from (positions in the padding are dropped)
//! ```
//!
//! Initialisation follows PyTorch's: weights and biases from `U(−1/√(C_in·K·K), 1/√(C_in·K·K))`.
//!
//! Tests: `tests/gradcheck.rs` (finite differences, with stride and padding), `tests/cnn.rs`
//! (PyTorch's values from `tests/fixtures/tiny_cnn.json`).

use std::fmt;

use nalgebra::DMatrix;
use rand::{Rng, RngExt};

use crate::matrix::{Operand, gemm, resize_batch};
use crate::{Batch, Layer, Mode, Parameter, Parameters};

/// A convolution from `IN_CHANNELS` to `OUT_CHANNELS` channels with a `KERNEL × KERNEL` kernel,
/// on `HEIGHT × WIDTH` images; `IN` and `OUT` are the flat widths, checked against the geometry
/// when the layer is built (a compile error where they do not fit). `net!` writes all of these
/// from `Conv2d(in, out, kernel, stride = s, padding = p)` and the shape before it.
///
/// ```
/// use minitorch::{Batch, Conv2d, Layer, Mode};
/// use minitorch::rand::{SeedableRng, rngs::StdRng};
/// // 1 channel → 1 channel, 2×2 kernel, stride 1, no padding, on a 3×3 image: a 2×2 output.
/// let mut conv = Conv2d::<1, 1, 2, 1, 0, 3, 3, 9, 4>::new(&mut StdRng::seed_from_u64(0));
/// conv.weight.fill(1.0);
/// conv.bias.fill(0.0);
/// let image = Batch::<9>::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
/// // Each output is the sum of a 2×2 patch.
/// assert_eq!(conv.forward(&image, Mode::Eval).as_slice(), &[12.0, 16.0, 24.0, 28.0]);
/// ```
#[derive(Clone)]
pub struct Conv2d<
    const IN_CHANNELS: usize,
    const OUT_CHANNELS: usize,
    const KERNEL: usize,
    const STRIDE: usize,
    const PADDING: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const IN: usize,
    const OUT: usize,
> {
    /// `W`, `C_out × (C_in·K·K)`; PyTorch's `weight` `[C_out, C_in, K, K]` in the same order.
    pub weight: Batch<OUT_CHANNELS>,
    /// `b`, one per output channel (PyTorch's `bias`).
    pub bias: Batch<OUT_CHANNELS>,
    /// `∂L/∂W`, accumulated.
    pub weight_gradient: Batch<OUT_CHANNELS>,
    /// `∂L/∂b`, accumulated.
    pub bias_gradient: Batch<OUT_CHANNELS>,
    /// `X` of the last forward: `C_in·K·K × (samples·positions)`.
    patches: DMatrix<f32>,
    /// `Yᵀ`, then `Gᵀ`: `(samples·positions) × C_out`, the layout of one product for the whole
    /// batch.
    product: DMatrix<f32>,
    /// `∂L/∂X`, before col2im.
    patch_gradient: DMatrix<f32>,
    output: Batch<OUT>,
    grad_input: Batch<IN>,
}

impl<
    const IN_CHANNELS: usize,
    const OUT_CHANNELS: usize,
    const KERNEL: usize,
    const STRIDE: usize,
    const PADDING: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const IN: usize,
    const OUT: usize,
> Conv2d<IN_CHANNELS, OUT_CHANNELS, KERNEL, STRIDE, PADDING, HEIGHT, WIDTH, IN, OUT>
{
    /// Output height, by PyTorch's formula.
    pub const OUT_HEIGHT: usize = (HEIGHT + 2 * PADDING - KERNEL) / STRIDE + 1;
    /// Output width, by PyTorch's formula.
    pub const OUT_WIDTH: usize = (WIDTH + 2 * PADDING - KERNEL) / STRIDE + 1;
    /// Output positions per channel.
    const POSITIONS: usize = Self::OUT_HEIGHT * Self::OUT_WIDTH;
    /// Numbers in one patch: `C_in·K·K`.
    const PATCH: usize = IN_CHANNELS * KERNEL * KERNEL;
    /// PyTorch's shape of the weight.
    const WEIGHT_SHAPE: &'static [usize] = &[OUT_CHANNELS, IN_CHANNELS, KERNEL, KERNEL];
    /// The geometry, checked where the layer is built: a wrong width wired by hand fails to
    /// compile there.
    const GEOMETRY: () = {
        assert!(IN_CHANNELS > 0 && OUT_CHANNELS > 0, "Conv2d: channel counts must be at least 1");
        assert!(KERNEL > 0 && STRIDE > 0, "Conv2d: kernel size and stride must be at least 1");
        assert!(
            KERNEL <= HEIGHT + 2 * PADDING && KERNEL <= WIDTH + 2 * PADDING,
            "Conv2d: the kernel is larger than the padded input"
        );
        assert!(IN == IN_CHANNELS * HEIGHT * WIDTH, "Conv2d: IN must be IN_CHANNELS · HEIGHT · WIDTH");
        assert!(
            OUT == OUT_CHANNELS * Self::OUT_HEIGHT * Self::OUT_WIDTH,
            "Conv2d: OUT must be OUT_CHANNELS · OUT_HEIGHT · OUT_WIDTH"
        );
    };

    /// A layer initialised as PyTorch's `nn.Conv2d`, drawing from `rng` (weights row by row of
    /// PyTorch's `[C_out, C_in, K, K]`, then biases, as PyTorch's order).
    pub fn new(rng: &mut impl Rng) -> Self {
        let () = Self::GEOMETRY;
        let bound = 1.0 / (Self::PATCH as f32).sqrt();
        let mut weight = Batch::<OUT_CHANNELS>::zeros(Self::PATCH);
        for row in 0..OUT_CHANNELS {
            for column in 0..Self::PATCH {
                weight[(row, column)] = rng.random_range(-bound..bound);
            }
        }
        let bias = Batch::<OUT_CHANNELS>::from_fn(1, |_, _| rng.random_range(-bound..bound));
        Self {
            weight,
            bias,
            weight_gradient: Batch::zeros(Self::PATCH),
            bias_gradient: Batch::zeros(1),
            patches: DMatrix::zeros(0, 0),
            product: DMatrix::zeros(0, 0),
            patch_gradient: DMatrix::zeros(0, 0),
            output: Batch::zeros(1),
            grad_input: Batch::zeros(0),
        }
    }

    /// Fills `patches` with every sample's patches (im2col).
    fn gather_patches(&mut self, input: &Batch<IN>) {
        let columns = input.ncols() * Self::POSITIONS;
        if self.patches.shape() != (Self::PATCH, columns) {
            self.patches = DMatrix::zeros(Self::PATCH, columns);
        }
        let patches = self.patches.as_mut_slice().chunks_exact_mut(Self::PATCH * Self::POSITIONS);
        for (patches, image) in patches.zip(input.as_slice().chunks_exact(IN)) {
            Self::for_each_patch_run(patches, |run, source| match source {
                Some(start) => run.copy_from_slice(&image[start..start + run.len()]),
                None => run.fill(0.0),
            });
        }
    }

    /// Calls `visit(run, source)` for every run of one sample's patches (position after
    /// position) that lies on one input row: the run's slice and where it starts in the sample's
    /// input, or `None` for a run in the padding. A run is part of one kernel row; a kernel row
    /// that reaches into the padding is split into its parts.
    fn for_each_patch_run(patches: &mut [f32], mut visit: impl FnMut(&mut [f32], Option<usize>)) {
        let mut kernel_rows = patches.chunks_exact_mut(KERNEL);
        for y in 0..Self::OUT_HEIGHT {
            for x in 0..Self::OUT_WIDTH {
                // The kernel's columns over the image (not the padding): `first..last`.
                let left = x * STRIDE;
                let first = PADDING.saturating_sub(left).min(KERNEL);
                let last = (WIDTH + PADDING).saturating_sub(left).clamp(first, KERNEL);
                for channel in 0..IN_CHANNELS {
                    for kernel_row in 0..KERNEL {
                        let part = kernel_rows.next().expect("one part per kernel row");
                        let row = (y * STRIDE + kernel_row).checked_sub(PADDING).filter(|&row| row < HEIGHT);
                        let Some(row) = row else {
                            visit(part, None);
                            continue;
                        };
                        let (before, rest) = part.split_at_mut(first);
                        let (inside, after) = rest.split_at_mut(last - first);
                        visit(before, None);
                        visit(inside, Some(channel * HEIGHT * WIDTH + row * WIDTH + left + first - PADDING));
                        visit(after, None);
                    }
                }
            }
        }
    }

    /// `∂L/∂W += G·Xᵀ`, `∂L/∂b += Σ G`, with `G` gathered into `product` first.
    fn accumulate_parameter_gradients(&mut self, grad_output: &Batch<OUT>) {
        let samples = grad_output.ncols();
        for sample in 0..samples {
            let source = &grad_output.as_slice()[sample * OUT..(sample + 1) * OUT];
            for (channel, gradients) in source.chunks_exact(Self::POSITIONS).enumerate() {
                let start = channel * samples * Self::POSITIONS + sample * Self::POSITIONS;
                self.product.as_mut_slice()[start..start + Self::POSITIONS].copy_from_slice(gradients);
                self.bias_gradient[channel] += gradients.iter().sum::<f32>();
            }
        }
        gemm(
            &mut self.weight_gradient,
            Operand::of(&self.product).transposed(),
            Operand::of(&self.patches).transposed(),
            true,
        );
    }
}

/// The layer's geometry, not its numbers.
impl<
    const IN_CHANNELS: usize,
    const OUT_CHANNELS: usize,
    const KERNEL: usize,
    const STRIDE: usize,
    const PADDING: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const IN: usize,
    const OUT: usize,
> fmt::Debug for Conv2d<IN_CHANNELS, OUT_CHANNELS, KERNEL, STRIDE, PADDING, HEIGHT, WIDTH, IN, OUT>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Conv2d({IN_CHANNELS}, {OUT_CHANNELS}, {KERNEL}, stride = {STRIDE}, padding = {PADDING}) on {IN_CHANNELS}×{HEIGHT}×{WIDTH}"
        )
    }
}

impl<
    const IN_CHANNELS: usize,
    const OUT_CHANNELS: usize,
    const KERNEL: usize,
    const STRIDE: usize,
    const PADDING: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const IN: usize,
    const OUT: usize,
> Parameters for Conv2d<IN_CHANNELS, OUT_CHANNELS, KERNEL, STRIDE, PADDING, HEIGHT, WIDTH, IN, OUT>
{
    fn visit_parameters(&mut self, visit: &mut dyn FnMut(Parameter<'_>)) {
        visit(Parameter {
            layer: 0,
            name: "weight",
            rows: OUT_CHANNELS,
            columns: Self::PATCH,
            pytorch_shape: Some(Self::WEIGHT_SHAPE),
            value: self.weight.as_mut_slice(),
            gradient: self.weight_gradient.as_mut_slice(),
        });
        visit(Parameter {
            layer: 0,
            name: "bias",
            rows: OUT_CHANNELS,
            columns: 1,
            pytorch_shape: None,
            value: self.bias.as_mut_slice(),
            gradient: self.bias_gradient.as_mut_slice(),
        });
    }

    fn parameter_count(&self) -> usize {
        OUT_CHANNELS * Self::PATCH + OUT_CHANNELS
    }
}

impl<
    const IN_CHANNELS: usize,
    const OUT_CHANNELS: usize,
    const KERNEL: usize,
    const STRIDE: usize,
    const PADDING: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const IN: usize,
    const OUT: usize,
> Layer<IN, OUT> for Conv2d<IN_CHANNELS, OUT_CHANNELS, KERNEL, STRIDE, PADDING, HEIGHT, WIDTH, IN, OUT>
{
    fn forward(&mut self, input: &Batch<IN>, _mode: Mode) -> &Batch<OUT> {
        let samples = input.ncols();
        self.gather_patches(input);
        let rows = samples * Self::POSITIONS;
        if self.product.shape() != (rows, OUT_CHANNELS) {
            self.product = DMatrix::zeros(rows, OUT_CHANNELS);
        }
        // Yᵀ = Xᵀ·Wᵀ: one row per output position of every sample, one column per channel.
        gemm(
            &mut self.product,
            Operand::of(&self.patches).transposed(),
            Operand::of(&self.weight).transposed(),
            false,
        );
        resize_batch(&mut self.output, samples);
        for sample in 0..samples {
            let target = &mut self.output.as_mut_slice()[sample * OUT..(sample + 1) * OUT];
            for (channel, values) in target.chunks_exact_mut(Self::POSITIONS).enumerate() {
                let start = channel * rows + sample * Self::POSITIONS;
                let computed = &self.product.as_slice()[start..start + Self::POSITIONS];
                let bias = self.bias[channel];
                values.iter_mut().zip(computed).for_each(|(y, &z)| *y = z + bias);
            }
        }
        &self.output
    }

    fn output(&self) -> &Batch<OUT> {
        &self.output
    }

    fn backward(&mut self, _input: &Batch<IN>, grad_output: &Batch<OUT>) -> &Batch<IN> {
        self.accumulate_parameter_gradients(grad_output);
        if self.patch_gradient.shape() != self.patches.shape() {
            self.patch_gradient = DMatrix::zeros(self.patches.nrows(), self.patches.ncols());
        }
        // ∂L/∂X = Wᵀ·G, with G held transposed in `product`.
        gemm(
            &mut self.patch_gradient,
            Operand::of(&self.weight).transposed(),
            Operand::of(&self.product).transposed(),
            false,
        );
        // col2im: every patch entry's gradient goes back to the input position it came from.
        resize_batch(&mut self.grad_input, grad_output.ncols());
        self.grad_input.fill(0.0);
        let patches = self.patch_gradient.as_mut_slice().chunks_exact_mut(Self::PATCH * Self::POSITIONS);
        for (patches, image) in patches.zip(self.grad_input.as_mut_slice().chunks_exact_mut(IN)) {
            Self::for_each_patch_run(patches, |run, source| {
                if let Some(start) = source {
                    let target = &mut image[start..start + run.len()];
                    target.iter_mut().zip(&*run).for_each(|(x, &g)| *x += g);
                }
            });
        }
        &self.grad_input
    }

    fn backward_parameters(&mut self, _input: &Batch<IN>, grad_output: &Batch<OUT>) {
        self.accumulate_parameter_gradients(grad_output);
    }
}
