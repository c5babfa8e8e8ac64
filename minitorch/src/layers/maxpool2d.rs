//! Max pooling over square windows, per channel (PyTorch's `nn.MaxPool2d(kernel_size, stride)`,
//! without padding; the stride defaults to the kernel size).
//!
//! Forward, for channel `c` at output position `(y, x)`, with `H_out = ⌊(H − K) / stride⌋ + 1`
//! (rows and columns that do not fill a window are left out, as PyTorch floors):
//!
//! ```text
//! out[c, y, x] = max over u, v < K of in[c, y·stride + u, x·stride + v]
//! ```
//!
//! The position of the maximum is remembered; among equal values the first in row-major order
//! wins, as in PyTorch.
//!
//! Backward: `∂L/∂in` is `∂L/∂out[c, y, x]` at the remembered position of each window, added up
//! where windows overlap, and 0 elsewhere.
//!
//! Tests: `tests/gradcheck.rs` (finite differences, an odd size and a tie), `tests/cnn.rs`
//! (PyTorch's values from `tests/fixtures/tiny_cnn.json`).

use std::fmt;

use crate::matrix::resize_batch;
use crate::{Batch, Layer, Mode, Parameter, Parameters};

/// Max pooling of `CHANNELS` channels of `HEIGHT × WIDTH` with `KERNEL × KERNEL` windows every
/// `STRIDE`; `IN` and `OUT` are the flat widths, checked against the geometry when the layer is
/// built. `net!` writes these from `MaxPool2d(kernel)` or `MaxPool2d(kernel, stride = s)`.
///
/// ```
/// use minitorch::{Batch, Layer, MaxPool2d, Mode};
/// let mut pool = MaxPool2d::<1, 2, 2, 3, 3, 9, 1>::new();
/// let image = Batch::<9>::from_column_slice(&[1.0, 5.0, 0.0, 2.0, 3.0, 0.0, 9.0, 9.0, 9.0]);
/// // One 2×2 window fits a 3×3 image; the last row and column are left out.
/// assert_eq!(pool.forward(&image, Mode::Eval).as_slice(), &[5.0]);
/// ```
#[derive(Clone)]
pub struct MaxPool2d<
    const CHANNELS: usize,
    const KERNEL: usize,
    const STRIDE: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const IN: usize,
    const OUT: usize,
> {
    /// For each output entry of the last forward, the index of its maximum in the sample.
    chosen: Vec<u32>,
    output: Batch<OUT>,
    grad_input: Batch<IN>,
}

impl<
    const CHANNELS: usize,
    const KERNEL: usize,
    const STRIDE: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const IN: usize,
    const OUT: usize,
> MaxPool2d<CHANNELS, KERNEL, STRIDE, HEIGHT, WIDTH, IN, OUT>
{
    /// Output height, by PyTorch's formula.
    pub const OUT_HEIGHT: usize = (HEIGHT - KERNEL) / STRIDE + 1;
    /// Output width, by PyTorch's formula.
    pub const OUT_WIDTH: usize = (WIDTH - KERNEL) / STRIDE + 1;
    /// The geometry, checked where the layer is built.
    const GEOMETRY: () = {
        assert!(
            CHANNELS > 0 && KERNEL > 0 && STRIDE > 0,
            "MaxPool2d: channels, kernel and stride must be at least 1"
        );
        assert!(KERNEL <= HEIGHT && KERNEL <= WIDTH, "MaxPool2d: the kernel is larger than the input");
        assert!(IN == CHANNELS * HEIGHT * WIDTH, "MaxPool2d: IN must be CHANNELS · HEIGHT · WIDTH");
        assert!(
            OUT == CHANNELS * Self::OUT_HEIGHT * Self::OUT_WIDTH,
            "MaxPool2d: OUT must be CHANNELS · OUT_HEIGHT · OUT_WIDTH"
        );
        assert!(IN <= u32::MAX as usize, "MaxPool2d: a sample must have fewer than 2³² entries");
    };

    /// A pooling layer.
    pub fn new() -> Self {
        let () = Self::GEOMETRY;
        Self { chosen: vec![0; OUT], output: Batch::zeros(1), grad_input: Batch::zeros(0) }
    }
}

impl<
    const CHANNELS: usize,
    const KERNEL: usize,
    const STRIDE: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const IN: usize,
    const OUT: usize,
> Default for MaxPool2d<CHANNELS, KERNEL, STRIDE, HEIGHT, WIDTH, IN, OUT>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<
    const CHANNELS: usize,
    const KERNEL: usize,
    const STRIDE: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const IN: usize,
    const OUT: usize,
> fmt::Debug for MaxPool2d<CHANNELS, KERNEL, STRIDE, HEIGHT, WIDTH, IN, OUT>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaxPool2d({KERNEL}, stride = {STRIDE}) on {CHANNELS}×{HEIGHT}×{WIDTH}")
    }
}

impl<
    const CHANNELS: usize,
    const KERNEL: usize,
    const STRIDE: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const IN: usize,
    const OUT: usize,
> Parameters for MaxPool2d<CHANNELS, KERNEL, STRIDE, HEIGHT, WIDTH, IN, OUT>
{
    fn visit_parameters(&mut self, _visit: &mut dyn FnMut(Parameter<'_>)) {}

    fn parameter_count(&self) -> usize {
        0
    }
}

impl<
    const CHANNELS: usize,
    const KERNEL: usize,
    const STRIDE: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const IN: usize,
    const OUT: usize,
> Layer<IN, OUT> for MaxPool2d<CHANNELS, KERNEL, STRIDE, HEIGHT, WIDTH, IN, OUT>
{
    fn forward(&mut self, input: &Batch<IN>, _mode: Mode) -> &Batch<OUT> {
        let samples = input.ncols();
        resize_batch(&mut self.output, samples);
        self.chosen.resize(samples * OUT, 0);
        let per_plane = Self::OUT_HEIGHT * Self::OUT_WIDTH;
        let images = input.as_slice().chunks_exact(HEIGHT * WIDTH);
        let outputs = self.output.as_mut_slice().chunks_exact_mut(per_plane);
        let chosen = self.chosen.chunks_exact_mut(per_plane);
        // One plane (a channel of a sample) at a time; `offset` places it in its sample.
        for (plane, ((image, outputs), chosen)) in images.zip(outputs).zip(chosen).enumerate() {
            let offset = (plane % CHANNELS) * HEIGHT * WIDTH;
            let windows = outputs.iter_mut().zip(chosen.iter_mut());
            for (window, (value, chosen)) in windows.enumerate() {
                let (top, left) = (window / Self::OUT_WIDTH * STRIDE, window % Self::OUT_WIDTH * STRIDE);
                let mut best = top * WIDTH + left;
                for row in top..top + KERNEL {
                    for index in row * WIDTH + left..row * WIDTH + left + KERNEL {
                        // Strictly greater keeps the first of equal values; NaN wins, as in PyTorch.
                        if image[index] > image[best] || image[index].is_nan() {
                            best = index;
                        }
                    }
                }
                *value = image[best];
                *chosen = (offset + best) as u32;
            }
        }
        &self.output
    }

    fn output(&self) -> &Batch<OUT> {
        &self.output
    }

    fn backward(&mut self, _input: &Batch<IN>, grad_output: &Batch<OUT>) -> &Batch<IN> {
        resize_batch(&mut self.grad_input, grad_output.ncols());
        self.grad_input.fill(0.0);
        let gradients = grad_output.as_slice().chunks_exact(OUT);
        let chosen = self.chosen.chunks_exact(OUT);
        let targets = self.grad_input.as_mut_slice().chunks_exact_mut(IN);
        for ((gradients, chosen), target) in gradients.zip(chosen).zip(targets) {
            for (&gradient, &index) in gradients.iter().zip(chosen) {
                target[index as usize] += gradient;
            }
        }
        &self.grad_input
    }
}
