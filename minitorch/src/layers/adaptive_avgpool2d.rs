//! Adaptive average pooling to a fixed `S × S` output, per channel (PyTorch's
//! `nn.AdaptiveAvgPool2d(S)`); `S = 1` is global average pooling, a ResNet's last image layer.
//!
//! Forward: output row `y` averages the input rows `⌊y·H/S⌋ ≤ i < ⌈(y+1)·H/S⌉`, and likewise
//! for columns, PyTorch's bins (they may overlap when `S` does not divide `H`):
//!
//! ```text
//! out[c, y, x] = 1/|R_y|·|C_x| · Σ over i in R_y, j in C_x of in[c, i, j]
//! ```
//!
//! Backward: each input position gets its share of the output gradient of every bin it is in:
//!
//! ```text
//! ∂L/∂in[c, i, j] = Σ over bins (y, x) holding (i, j) of ∂L/∂out[c, y, x] / (|R_y|·|C_x|)
//! ```
//!
//! Tests: `tests/gradcheck.rs` (finite differences, bins that overlap), `tests/resnet.rs`
//! (PyTorch's values from `tests/fixtures/tiny_resnet.json`).

use std::fmt;
use std::ops::Range;

use crate::matrix::resize_batch;
use crate::{Batch, Layer, Mode, Parameters};

/// Adaptive average pooling of `CHANNELS` channels of `HEIGHT × WIDTH` to `SIZE × SIZE`; `IN`
/// and `OUT` are the flat widths, checked against the geometry when the layer is built. `net!`
/// writes these from `AdaptiveAvgPool2d(size)`.
///
/// ```
/// use minitorch::{AdaptiveAvgPool2d, Batch, Layer, Mode};
/// let mut pool = AdaptiveAvgPool2d::<2, 2, 2, 1, 8, 2>::new();
/// let image = Batch::<8>::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 0.0, 0.0, 0.0, 8.0]);
/// let mut output = Batch::zeros(0);
/// pool.forward(&image, &mut output, Mode::Eval);
/// assert_eq!(output.as_slice(), &[2.5, 2.0]); // one mean per channel
/// ```
#[derive(Clone, Parameters)]
pub struct AdaptiveAvgPool2d<
    const CHANNELS: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const SIZE: usize,
    const IN: usize,
    const OUT: usize,
> {}

impl<
    const CHANNELS: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const SIZE: usize,
    const IN: usize,
    const OUT: usize,
> AdaptiveAvgPool2d<CHANNELS, HEIGHT, WIDTH, SIZE, IN, OUT>
{
    /// The geometry, checked where the layer is built.
    const GEOMETRY: () = {
        assert!(CHANNELS > 0 && SIZE > 0, "AdaptiveAvgPool2d: channels and size must be at least 1");
        assert!(IN == CHANNELS * HEIGHT * WIDTH, "AdaptiveAvgPool2d: IN must be CHANNELS · HEIGHT · WIDTH");
        assert!(OUT == CHANNELS * SIZE * SIZE, "AdaptiveAvgPool2d: OUT must be CHANNELS · SIZE · SIZE");
    };

    /// A pooling layer.
    pub fn new() -> Self {
        let () = Self::GEOMETRY;
        Self {}
    }

    /// The input positions bin `index` of `SIZE` covers along a side of `length`.
    fn bin(index: usize, length: usize) -> Range<usize> {
        (index * length / SIZE)..((index + 1) * length).div_ceil(SIZE)
    }

    /// Every output entry's channel and bins, in the output's order, with `1 / bin area`.
    fn bins() -> impl Iterator<Item = (usize, Range<usize>, Range<usize>, f32)> {
        (0..CHANNELS).flat_map(|channel| {
            (0..SIZE).flat_map(move |y| {
                (0..SIZE).map(move |x| {
                    let (rows, columns) = (Self::bin(y, HEIGHT), Self::bin(x, WIDTH));
                    let scale = 1.0 / (rows.len() * columns.len()) as f32;
                    (channel, rows, columns, scale)
                })
            })
        })
    }
}

impl<
    const CHANNELS: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const SIZE: usize,
    const IN: usize,
    const OUT: usize,
> Default for AdaptiveAvgPool2d<CHANNELS, HEIGHT, WIDTH, SIZE, IN, OUT>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<
    const CHANNELS: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const SIZE: usize,
    const IN: usize,
    const OUT: usize,
> fmt::Debug for AdaptiveAvgPool2d<CHANNELS, HEIGHT, WIDTH, SIZE, IN, OUT>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AdaptiveAvgPool2d({SIZE}) on {CHANNELS}×{HEIGHT}×{WIDTH}")
    }
}

impl<
    const CHANNELS: usize,
    const HEIGHT: usize,
    const WIDTH: usize,
    const SIZE: usize,
    const IN: usize,
    const OUT: usize,
> Layer<IN, OUT> for AdaptiveAvgPool2d<CHANNELS, HEIGHT, WIDTH, SIZE, IN, OUT>
{
    fn forward(&mut self, input: &Batch<IN>, output: &mut Batch<OUT>, _mode: Mode) {
        resize_batch(output, input.ncols());
        let samples = input.as_slice().chunks_exact(IN).zip(output.as_mut_slice().chunks_exact_mut(OUT));
        for (image, output) in samples {
            for (value, (channel, rows, columns, scale)) in output.iter_mut().zip(Self::bins()) {
                let plane = &image[channel * HEIGHT * WIDTH..][..HEIGHT * WIDTH];
                let sum: f32 = rows.map(|i| plane[i * WIDTH..][columns.clone()].iter().sum::<f32>()).sum();
                *value = sum * scale;
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
        let samples =
            grad_output.as_slice().chunks_exact(OUT).zip(grad_input.as_mut_slice().chunks_exact_mut(IN));
        for (gradients, target) in samples {
            for (&gradient, (channel, rows, columns, scale)) in gradients.iter().zip(Self::bins()) {
                let plane = &mut target[channel * HEIGHT * WIDTH..][..HEIGHT * WIDTH];
                for i in rows {
                    for entry in &mut plane[i * WIDTH..][columns.clone()] {
                        *entry += gradient * scale;
                    }
                }
            }
        }
    }
}
