//! Average pooling over square windows, per channel (PyTorch's `nn.AvgPool2d(kernel_size,
//! stride)`, without padding; the stride defaults to the kernel size).
//!
//! Forward, for channel `c` at output position `(y, x)`, with `H_out = ⌊(H − K) / stride⌋ + 1`
//! (rows and columns that do not fill a window are left out, as PyTorch floors):
//!
//! ```text
//! out[c, y, x] = 1/K² · Σ over u, v < K of in[c, y·stride + u, x·stride + v]
//! ```
//!
//! Backward: each input position gets `1/K²` of the output gradient of every window it is in:
//!
//! ```text
//! ∂L/∂in[c, i, j] = 1/K² · Σ over windows (y, x) holding (i, j) of ∂L/∂out[c, y, x]
//! ```
//!
//! Tests: `tests/gradcheck.rs` (finite differences, overlapping and floored windows),
//! `tests/resnet.rs` (PyTorch's values from `tests/fixtures/tiny_resnet.json`).

use std::fmt;

use crate::matrix::resize_batch;
use crate::{Batch, Layer, Mode, Parameters};

/// Average pooling of `CHANNELS` channels of `HEIGHT × WIDTH` with `KERNEL × KERNEL` windows
/// every `STRIDE`; `IN` and `OUT` are the flat widths, checked against the geometry when the
/// layer is built. `net!` writes these from `AvgPool2d(kernel)` or `AvgPool2d(kernel, stride = s)`.
///
/// ```
/// use minitorch::{AvgPool2d, Batch, Layer, Mode};
/// let mut pool = AvgPool2d::<1, 2, 2, 3, 3, 9, 1>::new();
/// let image = Batch::<9>::from_column_slice(&[1.0, 5.0, 0.0, 2.0, 4.0, 0.0, 9.0, 9.0, 9.0]);
/// // One 2×2 window fits a 3×3 image; the last row and column are left out.
/// let mut output = Batch::zeros(0);
/// pool.forward(&image, &mut output, Mode::Eval);
/// assert_eq!(output.as_slice(), &[3.0]);
/// ```
#[derive(Clone, Parameters)]
pub struct AvgPool2d<
    const CHANNELS: usize,
    const KERNEL: usize,
    const STRIDE: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const IN: usize,
    const OUT: usize,
> {}

impl<
    const CHANNELS: usize,
    const KERNEL: usize,
    const STRIDE: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const IN: usize,
    const OUT: usize,
> AvgPool2d<CHANNELS, KERNEL, STRIDE, HEIGHT, WIDTH, IN, OUT>
{
    /// Output height, by PyTorch's formula.
    pub const OUT_HEIGHT: usize = (HEIGHT - KERNEL) / STRIDE + 1;
    /// Output width, by PyTorch's formula.
    pub const OUT_WIDTH: usize = (WIDTH - KERNEL) / STRIDE + 1;
    /// The geometry, checked where the layer is built.
    const GEOMETRY: () = {
        assert!(
            CHANNELS > 0 && KERNEL > 0 && STRIDE > 0,
            "AvgPool2d: channels, kernel and stride must be at least 1"
        );
        assert!(KERNEL <= HEIGHT && KERNEL <= WIDTH, "AvgPool2d: the kernel is larger than the input");
        assert!(IN == CHANNELS * HEIGHT * WIDTH, "AvgPool2d: IN must be CHANNELS · HEIGHT · WIDTH");
        assert!(
            OUT == CHANNELS * Self::OUT_HEIGHT * Self::OUT_WIDTH,
            "AvgPool2d: OUT must be CHANNELS · OUT_HEIGHT · OUT_WIDTH"
        );
    };

    /// A pooling layer.
    pub fn new() -> Self {
        let () = Self::GEOMETRY;
        Self {}
    }

    /// The input positions of output entry `(channel, y, x)`'s window, as flat indices.
    fn window(channel: usize, y: usize, x: usize) -> impl Iterator<Item = usize> {
        let corner = channel * HEIGHT * WIDTH + y * STRIDE * WIDTH + x * STRIDE;
        (0..KERNEL).flat_map(move |u| (0..KERNEL).map(move |v| corner + u * WIDTH + v))
    }

    /// Every output entry with its window, in the output's order.
    fn windows() -> impl Iterator<Item = (usize, usize, usize)> {
        (0..CHANNELS).flat_map(|channel| {
            (0..Self::OUT_HEIGHT).flat_map(move |y| (0..Self::OUT_WIDTH).map(move |x| (channel, y, x)))
        })
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
> Default for AvgPool2d<CHANNELS, KERNEL, STRIDE, HEIGHT, WIDTH, IN, OUT>
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
> fmt::Debug for AvgPool2d<CHANNELS, KERNEL, STRIDE, HEIGHT, WIDTH, IN, OUT>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AvgPool2d({KERNEL}, stride = {STRIDE}) on {CHANNELS}×{HEIGHT}×{WIDTH}")
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
> Layer<IN, OUT> for AvgPool2d<CHANNELS, KERNEL, STRIDE, HEIGHT, WIDTH, IN, OUT>
{
    fn forward(&mut self, input: &Batch<IN>, output: &mut Batch<OUT>, _mode: Mode) {
        resize_batch(output, input.ncols());
        let scale = 1.0 / (KERNEL * KERNEL) as f32;
        let samples = input.as_slice().chunks_exact(IN).zip(output.as_mut_slice().chunks_exact_mut(OUT));
        for (image, output) in samples {
            for (value, (channel, y, x)) in output.iter_mut().zip(Self::windows()) {
                *value = Self::window(channel, y, x).map(|i| image[i]).sum::<f32>() * scale;
            }
        }
    }

    fn backward(
        &mut self,
        _input: &Batch<IN>,
        _output: &Batch<OUT>,
        grad_output: &Batch<OUT>,
        grad_input: &mut Batch<IN>,
    ) {
        resize_batch(grad_input, grad_output.ncols());
        grad_input.fill(0.0);
        let scale = 1.0 / (KERNEL * KERNEL) as f32;
        let samples =
            grad_output.as_slice().chunks_exact(OUT).zip(grad_input.as_mut_slice().chunks_exact_mut(IN));
        for (gradients, target) in samples {
            for (&gradient, (channel, y, x)) in gradients.iter().zip(Self::windows()) {
                for i in Self::window(channel, y, x) {
                    target[i] += gradient * scale;
                }
            }
        }
    }
}
