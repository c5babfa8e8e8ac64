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
use crate::parallel::join;
use crate::{Batch, Layer, Mode, Parameters};

/// Windows compared at once. The default x86-64 build compares them as four 4-lane SSE vectors
/// (packed `cmpltps` and `cmpunordps` in the release build's disassembly); a build for an
/// AVX-512 CPU could take all 16 in one register.
const BLOCK: usize = 16;

/// Max pooling of `CHANNELS` channels of `HEIGHT × WIDTH` with `KERNEL × KERNEL` windows every
/// `STRIDE`; `IN` and `OUT` are the flat widths, checked against the geometry when the layer is
/// built. `net!` writes these from `MaxPool2d(kernel)` or `MaxPool2d(kernel, stride = s)`.
///
/// ```
/// use minitorch::{Batch, Layer, MaxPool2d, Mode};
/// let mut pool = MaxPool2d::<1, 2, 2, 3, 3, 9, 1>::new();
/// let image = Batch::<9>::from_column_slice(&[1.0, 5.0, 0.0, 2.0, 3.0, 0.0, 9.0, 9.0, 9.0]);
/// // One 2×2 window fits a 3×3 image; the last row and column are left out.
/// let mut output = Batch::zeros(0);
/// pool.forward(&image, &mut output, Mode::Eval);
/// assert_eq!(output.as_slice(), &[5.0]);
/// ```
#[derive(Clone, Parameters)]
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
        Self { chosen: vec![0; OUT] }
    }

    /// Pools the samples of `images` (one after another) into `outputs`, and writes where each
    /// maximum was into `chosen`.
    fn pool(images: &[f32], outputs: &mut [f32], chosen: &mut [u32]) {
        let per_plane = Self::OUT_HEIGHT * Self::OUT_WIDTH;
        let planes = images.chunks_exact(HEIGHT * WIDTH);
        let outputs = outputs.chunks_exact_mut(per_plane).zip(chosen.chunks_exact_mut(per_plane));
        // One plane (a channel of a sample) at a time; `offset` places it in its sample.
        for (plane, (image, (outputs, chosen))) in planes.zip(outputs).enumerate() {
            let offset = (plane % CHANNELS) * HEIGHT * WIDTH;
            let rows =
                outputs.chunks_exact_mut(Self::OUT_WIDTH).zip(chosen.chunks_exact_mut(Self::OUT_WIDTH));
            for (y, (values, chosen)) in rows.enumerate() {
                // A row of windows is taken in blocks of `BLOCK`, one window position (u, v)
                // after another in row-major order: the candidates of a position are gathered
                // into an array, and comparing them with the running maxima is the same
                // branch-free step for every lane, which the compiler turns into vector
                // instructions. Keeping the running maxima in the output row instead compiled to
                // scalar code with branches on the data: criterion's `maxpool_32x24x24` (forward
                // and backward, batch 128) took 5.8–6.7 ms that way and 1.2–1.9 ms this way
                // (Intel Xeon model 106, 2026-12-02); an MNIST cnn epoch, 10.4–10.6 s → 9.3–9.6 s.
                let blocks = values.chunks_mut(BLOCK).zip(chosen.chunks_mut(BLOCK));
                for (block, (values, chosen)) in blocks.enumerate() {
                    let mut best = [f32::NEG_INFINITY; BLOCK];
                    let mut best_at = [0u32; BLOCK];
                    for u in 0..KERNEL {
                        for v in 0..KERNEL {
                            let start = (y * STRIDE + u) * WIDTH + v + block * BLOCK * STRIDE;
                            let mut candidates = [f32::NEG_INFINITY; BLOCK];
                            for (x, candidate) in candidates.iter_mut().take(values.len()).enumerate() {
                                *candidate = image[start + x * STRIDE];
                            }
                            let first = u == 0 && v == 0;
                            for x in 0..BLOCK {
                                // Strictly greater keeps the first of equal values; NaN wins,
                                // as in PyTorch.
                                let better = first | (candidates[x] > best[x]) | candidates[x].is_nan();
                                best[x] = if better { candidates[x] } else { best[x] };
                                let index = (offset + start + x * STRIDE) as u32;
                                best_at[x] = if better { index } else { best_at[x] };
                            }
                        }
                    }
                    values.copy_from_slice(&best[..values.len()]);
                    chosen.copy_from_slice(&best_at[..values.len()]);
                }
            }
        }
    }

    /// Whether the windows tile the image: side by side without overlap or gaps (`STRIDE ==
    /// KERNEL`, dividing both sides), so that every input position is in exactly one window.
    const TILED: bool = STRIDE == KERNEL && HEIGHT.is_multiple_of(KERNEL) && WIDTH.is_multiple_of(KERNEL);

    /// Routes each sample's output gradient to the input positions its maxima came from.
    fn route_back(gradients: &[f32], chosen: &[u32], targets: &mut [f32]) {
        let samples = gradients.chunks_exact(OUT).zip(chosen.chunks_exact(OUT));
        for ((gradients, chosen), target) in samples.zip(targets.chunks_exact_mut(IN)) {
            if Self::TILED {
                Self::route_back_tiled(gradients, chosen, target);
                continue;
            }
            target.fill(0.0);
            for (&gradient, &index) in gradients.iter().zip(chosen) {
                target[index as usize] += gradient;
            }
        }
    }

    /// [`Self::route_back`] for one sample when the windows tile it: a row of windows at a time,
    /// its `KERNEL` input rows zeroed and its gradients added at their maxima while the rows are
    /// in the L1 cache. Zeroing the whole batch first and then adding each gradient went over the
    /// memory twice, the second time out of cache: the MNIST cnn's first pooling layer takes
    /// 4.7 MB of gradients a batch of 64, and routing them back and `memset` (most of it this
    /// zeroing) took 3.7% of its training steps' CPU time, 2.7% this way (perf, AMD EPYC family
    /// 25 model 1).
    fn route_back_tiled(gradients: &[f32], chosen: &[u32], target: &mut [f32]) {
        let rows_of_windows = target.chunks_exact_mut(KERNEL * WIDTH);
        let windows = gradients.chunks_exact(Self::OUT_WIDTH).zip(chosen.chunks_exact(Self::OUT_WIDTH));
        for (index, (rows, (gradients, chosen))) in rows_of_windows.zip(windows).enumerate() {
            rows.fill(0.0);
            let start = index * KERNEL * WIDTH;
            for (&gradient, &at) in gradients.iter().zip(chosen) {
                rows[at as usize - start] += gradient;
            }
        }
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
> Layer<IN, OUT> for MaxPool2d<CHANNELS, KERNEL, STRIDE, HEIGHT, WIDTH, IN, OUT>
{
    fn forward(&mut self, input: &Batch<IN>, output: &mut Batch<OUT>, _mode: Mode) {
        let samples = input.ncols();
        resize_batch(output, samples);
        self.chosen.resize(samples * OUT, 0);
        // Half the batch on each core, as the convolutions before and after it run.
        let half = samples.div_ceil(2);
        let inputs = input.as_slice().split_at(half * IN);
        let outputs = output.as_mut_slice().split_at_mut(half * OUT);
        let chosen = self.chosen.split_at_mut(half * OUT);
        join(|| Self::pool(inputs.0, outputs.0, chosen.0), || Self::pool(inputs.1, outputs.1, chosen.1));
    }

    fn backward(
        &mut self,
        _input: &Batch<IN>,
        _output: &Batch<OUT>,
        grad_output: &Batch<OUT>,
        grad_input: &mut Batch<IN>,
    ) {
        let samples = grad_output.ncols();
        resize_batch(grad_input, samples);
        let half = samples.div_ceil(2);
        let gradients = grad_output.as_slice().split_at(half * OUT);
        let chosen = self.chosen.split_at(half * OUT);
        let targets = grad_input.as_mut_slice().split_at_mut(half * IN);
        join(
            || Self::route_back(gradients.0, chosen.0, targets.0),
            || Self::route_back(gradients.1, chosen.1, targets.1),
        );
    }
}
