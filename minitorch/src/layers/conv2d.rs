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
//! (entries outside the image count as 0). Computed as a product by im2col: the patches of the
//! samples become the columns of a matrix `X` (`C_in·K·K` rows, one column per output position
//! of every sample), and `Y = W·X` with `W` as a `C_out × C_in·K·K` matrix. `X` is stored
//! transposed, one output position after another for each patch entry `(i, u, v)`: with stride 1
//! a row of the output then reads a run of a whole input row, where a patch stored whole would
//! read `K` numbers at a time. Each sample is first staged: padded, and for a 3×3 kernel with a
//! stride its columns split by stride phase, so that a run is adjacent there too
//! (the constant `PHASES` says when). The batch is split in two halves, one per core, and each half
//! into tiles of a few samples whose `X` stays in the core's cache between being written and
//! being multiplied; backward rebuilds each tile's `X` rather than keeping the whole batch's (for
//! the MNIST CNN's second layer, 13 MB a batch).
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

use crate::gemm::{Operand, gemm};
use crate::matrix::{resize_batch, sum_by_lanes};
use crate::parallel::join;
use crate::{Batch, Layer, Mode, Param, Parameters};

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
/// let mut output = Batch::zeros(0);
/// conv.forward(&image, &mut output, Mode::Eval);
/// assert_eq!(output.as_slice(), &[12.0, 16.0, 24.0, 28.0]);
/// ```
#[derive(Clone, Parameters)]
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
    /// With `∂L/∂W`.
    pub weight: Param<Batch<OUT_CHANNELS>>,
    /// `b`, one per output channel (PyTorch's `bias`), and `∂L/∂b`.
    pub bias: Param<Batch<OUT_CHANNELS>>,
    /// Each core's buffers, reused from step to step.
    workspaces: [Workspace; 2],
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
    /// Height and width of the input with its padding.
    const PADDED_HEIGHT: usize = HEIGHT + 2 * PADDING;
    const PADDED_WIDTH: usize = WIDTH + 2 * PADDING;
    /// A run of `OUT_WIDTH` outputs reads padded columns `v, v + STRIDE, …`. With a stride, a
    /// staged row holds the padded row's columns by phase, those `≡ 0 (mod STRIDE)` first, then
    /// those `≡ 1`, and so on, each `PHASE_WIDTH` long: a run is then adjacent, and gathering it
    /// one copy, col2im one vector addition. Staging by phase copies the whole image, so it is
    /// done when the patches read more numbers than the image holds (a 3×3 kernel with stride 2),
    /// not for a 1×1 kernel with stride 2, which reads a quarter of it where it lies.
    const PHASES: usize =
        if KERNEL * KERNEL * Self::OUT_HEIGHT * Self::OUT_WIDTH >= HEIGHT * WIDTH { STRIDE } else { 1 };
    /// Whether a sample is copied into a staged image, with its padding and its phases, rather
    /// than read where it lies.
    const STAGED: bool = PADDING > 0 || Self::PHASES > 1;
    const PHASE_WIDTH: usize = Self::PADDED_WIDTH.div_ceil(Self::PHASES);
    const STAGED_WIDTH: usize = Self::PHASES * Self::PHASE_WIDTH;
    /// How far apart a run's numbers are in a staged row: 1 when staged by phase.
    const RUN_STEP: usize = STRIDE / Self::PHASES;
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
            weight: Param::with_pytorch_shape(weight, Self::WEIGHT_SHAPE),
            bias: Param::new(bias),
            workspaces: [Workspace::default(), Workspace::default()],
        }
    }

    /// Samples per tile: a tile's patches take at most about 512 KB.
    const TILE: usize = {
        let samples = (1 << 17) / (Self::PATCH * Self::POSITIONS);
        if samples == 0 { 1 } else { samples }
    };

    /// Sizes `workspace` for tiles of `samples` samples, at most [`Self::TILE`]; it only grows,
    /// so once the batch size is stable nothing is allocated.
    fn prepare(workspace: &mut Workspace, samples: usize) {
        let columns = samples.min(Self::TILE) * Self::POSITIONS;
        let staged = if Self::STAGED { IN_CHANNELS * Self::PADDED_HEIGHT * Self::STAGED_WIDTH } else { 0 };
        if workspace.patches.nrows() < columns || workspace.weight_gradient.ncols() != Self::PATCH {
            workspace.patches = DMatrix::zeros(columns, Self::PATCH);
            workspace.patch_gradient = DMatrix::zeros(columns, Self::PATCH);
            workspace.product = DMatrix::zeros(columns, OUT_CHANNELS);
            workspace.weight_gradient = DMatrix::zeros(OUT_CHANNELS, Self::PATCH);
        }
        if workspace.staged_image.len() != staged {
            workspace.staged_image = vec![0.0; staged];
            workspace.staged_gradient = vec![0.0; staged];
        }
    }

    /// Writes `Xᵀ` of the samples in `images` (one after another) into the first rows of
    /// `patches` (im2col). Each run of `Xᵀ` (one patch entry, one output row) is `OUT_WIDTH`
    /// adjacent numbers of the staged image, a copy of fixed length.
    fn gather_patches(images: &[f32], patches: &mut DMatrix<f32>, staged_image: &mut [f32]) {
        let rows = patches.nrows();
        for (sample, image) in images.chunks_exact(IN).enumerate() {
            let staged = Self::stage(image, staged_image);
            for (entry, column) in patches.as_mut_slice().chunks_exact_mut(rows).enumerate() {
                let positions = &mut column[sample * Self::POSITIONS..][..Self::POSITIONS];
                for (y, run) in positions.chunks_exact_mut(Self::OUT_WIDTH).enumerate() {
                    let source = &staged[Self::run_start(entry, y)..];
                    if Self::RUN_STEP == 1 {
                        run.copy_from_slice(&source[..Self::OUT_WIDTH]);
                    } else {
                        let source = source.iter().step_by(Self::RUN_STEP);
                        run.iter_mut().zip(source).for_each(|(x, &value)| *x = value);
                    }
                }
            }
        }
    }

    /// `image` staged into `staged` (see [`Self::PHASES`]): with `PADDING` zeros around each
    /// channel, which are never written and so stay zero, and its columns by phase; `image`
    /// itself when it needs neither.
    fn stage<'a>(image: &'a [f32], staged: &'a mut [f32]) -> &'a [f32] {
        if !Self::STAGED {
            return image;
        }
        let channels = staged.chunks_exact_mut(Self::PADDED_HEIGHT * Self::STAGED_WIDTH);
        for (staged, channel) in channels.zip(image.chunks_exact(HEIGHT * WIDTH)) {
            let rows = staged[PADDING * Self::STAGED_WIDTH..].chunks_exact_mut(Self::STAGED_WIDTH);
            for (staged, row) in rows.zip(channel.chunks_exact(WIDTH)) {
                if Self::PHASES == 1 {
                    staged[PADDING..PADDING + WIDTH].copy_from_slice(row);
                } else {
                    for (column, &value) in (PADDING..).zip(row) {
                        staged[Self::staged_column(column)] = value;
                    }
                }
            }
        }
        staged
    }

    /// Where padded column `column` is in a staged row.
    fn staged_column(column: usize) -> usize {
        column % Self::PHASES * Self::PHASE_WIDTH + column / Self::PHASES
    }

    /// col2im for one sample: adds each entry of `(∂L/∂X)ᵀ`'s runs to the position of the
    /// staged image it came from, in `staged_gradient`, which must start at zero.
    ///
    /// The patch entries `(i, u, v)` are visited from the last kernel row and column to the
    /// first, and the output rows in reading order: each input position receives its gradients
    /// in the order it did when each patch was stored whole, so the sums, and the training run
    /// of a seed, are the same bits.
    fn scatter_patch_gradients(patch_gradient: &DMatrix<f32>, sample: usize, staged_gradient: &mut [f32]) {
        let rows = patch_gradient.nrows();
        for (entry, column) in patch_gradient.as_slice().chunks_exact(rows).enumerate().rev() {
            let positions = &column[sample * Self::POSITIONS..][..Self::POSITIONS];
            for (y, run) in positions.chunks_exact(Self::OUT_WIDTH).enumerate() {
                let target = &mut staged_gradient[Self::run_start(entry, y)..];
                if Self::RUN_STEP == 1 {
                    add_run(&mut target[..Self::OUT_WIDTH], run);
                } else {
                    target.iter_mut().step_by(Self::RUN_STEP).zip(run).for_each(|(x, &g)| *x += g);
                }
            }
        }
    }

    /// Where, in the staged image of one sample, the run of patch entry `entry` for output row
    /// `y` starts: padded row `y·STRIDE + u`, padded column `v`.
    fn run_start(entry: usize, y: usize) -> usize {
        let (channel, kernel_row, kernel_column) =
            (entry / (KERNEL * KERNEL), entry / KERNEL % KERNEL, entry % KERNEL);
        (channel * Self::PADDED_HEIGHT + y * STRIDE + kernel_row) * Self::STAGED_WIDTH
            + Self::staged_column(kernel_column)
    }

    /// Forward for the samples of `inputs` into `outputs`, tile by tile, on the current thread.
    fn forward_samples(
        inputs: &[f32],
        outputs: &mut [f32],
        (weight, bias): (&Batch<OUT_CHANNELS>, &Batch<OUT_CHANNELS>),
        workspace: &mut Workspace,
    ) {
        Self::prepare(workspace, inputs.len() / IN);
        let stride = workspace.product.nrows();
        for (images, outputs) in inputs.chunks(Self::TILE * IN).zip(outputs.chunks_mut(Self::TILE * OUT)) {
            let positions = images.len() / IN * Self::POSITIONS;
            Self::gather_patches(images, &mut workspace.patches, &mut workspace.staged_image);
            // Yᵀ = Xᵀ·Wᵀ: one row per output position of the tile's samples, one column per channel.
            let patches = workspace.patches.rows(0, positions);
            let mut product = workspace.product.rows_mut(0, positions);
            gemm(&mut product, Operand::of(&patches), Operand::of(weight).transposed(), false);
            let computed = workspace.product.as_slice();
            for (sample, output) in outputs.chunks_exact_mut(OUT).enumerate() {
                for (channel, values) in output.chunks_exact_mut(Self::POSITIONS).enumerate() {
                    let start = channel * stride + sample * Self::POSITIONS;
                    let (computed, bias) = (&computed[start..start + Self::POSITIONS], bias[channel]);
                    values.iter_mut().zip(computed).for_each(|(y, &z)| *y = z + bias);
                }
            }
        }
    }

    /// Backward for the samples of `inputs` and `gradients`, tile by tile, on the current
    /// thread: adds `∂L/∂W` into the workspace's weight gradient and, if asked, writes `∂L/∂X`
    /// into `input_gradients`.
    fn backward_samples(
        inputs: &[f32],
        gradients: &[f32],
        mut input_gradients: Option<&mut [f32]>,
        weight: &Batch<OUT_CHANNELS>,
        workspace: &mut Workspace,
    ) {
        Self::prepare(workspace, inputs.len() / IN);
        workspace.weight_gradient.fill(0.0);
        workspace.bias_gradient.clear();
        workspace.bias_gradient.resize(OUT_CHANNELS, 0.0);
        let stride = workspace.product.nrows();
        let tiles = inputs.chunks(Self::TILE * IN).zip(gradients.chunks(Self::TILE * OUT));
        for (tile, (images, gradients)) in tiles.enumerate() {
            let positions = images.len() / IN * Self::POSITIONS;
            Self::gather_patches(images, &mut workspace.patches, &mut workspace.staged_image);
            // Gᵀ in the layout of Yᵀ.
            let product = workspace.product.as_mut_slice();
            for (sample, gradients) in gradients.chunks_exact(OUT).enumerate() {
                for (channel, gradients) in gradients.chunks_exact(Self::POSITIONS).enumerate() {
                    let start = channel * stride + sample * Self::POSITIONS;
                    product[start..start + Self::POSITIONS].copy_from_slice(gradients);
                    workspace.bias_gradient[channel] += sum_by_lanes(gradients, gradients, |g, _| g);
                }
            }
            let (patches, product) =
                (workspace.patches.rows(0, positions), workspace.product.rows(0, positions));
            gemm(
                &mut workspace.weight_gradient,
                Operand::of(&product).transposed(),
                Operand::of(&patches),
                true,
            );
            let Some(input_gradients) = input_gradients.as_deref_mut() else { continue };
            // (∂L/∂X)ᵀ = Gᵀ·W, then col2im: every entry goes back to the input position it came from.
            let mut patch_gradient = workspace.patch_gradient.rows_mut(0, positions);
            gemm(&mut patch_gradient, Operand::of(&product), Operand::of(weight), false);
            let images = &mut input_gradients[tile * Self::TILE * IN..][..images.len()];
            for (sample, image) in images.chunks_exact_mut(IN).enumerate() {
                if Self::STAGED {
                    let staged = &mut workspace.staged_gradient;
                    staged.fill(0.0);
                    Self::scatter_patch_gradients(&workspace.patch_gradient, sample, staged);
                    Self::unstage(staged, image);
                } else {
                    image.fill(0.0);
                    Self::scatter_patch_gradients(&workspace.patch_gradient, sample, image);
                }
            }
        }
    }

    /// Copies the inside of a staged image into `image`, [`Self::stage`] undone.
    fn unstage(staged: &[f32], image: &mut [f32]) {
        let channels = staged.chunks_exact(Self::PADDED_HEIGHT * Self::STAGED_WIDTH);
        for (staged, channel) in channels.zip(image.chunks_exact_mut(HEIGHT * WIDTH)) {
            let rows = staged[PADDING * Self::STAGED_WIDTH..].chunks_exact(Self::STAGED_WIDTH);
            for (staged, row) in rows.zip(channel.chunks_exact_mut(WIDTH)) {
                if Self::PHASES == 1 {
                    row.copy_from_slice(&staged[PADDING..PADDING + WIDTH]);
                } else {
                    for (column, value) in (PADDING..).zip(row) {
                        *value = staged[Self::staged_column(column)];
                    }
                }
            }
        }
    }

    /// `∂L/∂W`, `∂L/∂b` and, when `grad_input` is given, `∂L/∂X` into it, with the batch split
    /// between two cores; each core sums its own part of the parameter gradients.
    fn backward_batch(
        &mut self,
        input: &Batch<IN>,
        grad_output: &Batch<OUT>,
        grad_input: Option<&mut Batch<IN>>,
    ) {
        let samples = grad_output.ncols();
        let half = samples.div_ceil(2);
        let (inputs, gradients) =
            (input.as_slice().split_at(half * IN), grad_output.as_slice().split_at(half * OUT));
        let input_gradients = match grad_input {
            Some(grad_input) => {
                resize_batch(grad_input, samples);
                let (first, second) = grad_input.as_mut_slice().split_at_mut(half * IN);
                (Some(first), Some(second))
            }
            None => (None, None),
        };
        let [first, second] = &mut self.workspaces;
        let weight = &self.weight.value;
        join(
            || Self::backward_samples(inputs.0, gradients.0, input_gradients.0, weight, first),
            || Self::backward_samples(inputs.1, gradients.1, input_gradients.1, weight, second),
        );
        let gradient = self.weight.gradient.as_mut_slice().iter_mut();
        let parts = first.weight_gradient.as_slice().iter().zip(second.weight_gradient.as_slice());
        gradient.zip(parts).for_each(|(total, (a, b))| *total += a + b);
        let parts = first.bias_gradient.iter().zip(&second.bias_gradient);
        self.bias.gradient.iter_mut().zip(parts).for_each(|(total, (a, b))| *total += a + b);
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
> Layer<IN, OUT> for Conv2d<IN_CHANNELS, OUT_CHANNELS, KERNEL, STRIDE, PADDING, HEIGHT, WIDTH, IN, OUT>
{
    fn forward(&mut self, input: &Batch<IN>, output: &mut Batch<OUT>, _mode: Mode) {
        let samples = input.ncols();
        resize_batch(output, samples);
        let half = samples.div_ceil(2);
        let inputs = input.as_slice().split_at(half * IN);
        let outputs = output.as_mut_slice().split_at_mut(half * OUT);
        let [first, second] = &mut self.workspaces;
        let parameters = (&self.weight.value, &self.bias.value);
        join(
            || Self::forward_samples(inputs.0, outputs.0, parameters, first),
            || Self::forward_samples(inputs.1, outputs.1, parameters, second),
        );
    }

    fn backward(
        &mut self,
        input: &Batch<IN>,
        _output: &Batch<OUT>,
        grad_output: &Batch<OUT>,
        grad_input: &mut Batch<IN>,
    ) {
        self.backward_batch(input, grad_output, Some(grad_input));
    }

    fn backward_parameters(
        &mut self,
        input: &Batch<IN>,
        _output: &Batch<OUT>,
        grad_output: &Batch<OUT>,
        _grad_input: &mut Batch<IN>,
    ) {
        self.backward_batch(input, grad_output, None);
    }
}

/// `target[i] += run[i]` for every `i`, eight at a time: each chunk is read whole before it is
/// written, so the compiler adds it in vector registers (written entry by entry, it was compiled
/// to scalar additions, not knowing `target` and `run` apart).
#[inline(always)]
fn add_run(target: &mut [f32], run: &[f32]) {
    const LANES: usize = 8;
    let mut targets = target.chunks_exact_mut(LANES);
    let mut runs = run.chunks_exact(LANES);
    for (target, run) in (&mut targets).zip(&mut runs) {
        let sums: [f32; LANES] = std::array::from_fn(|i| target[i] + run[i]);
        target.copy_from_slice(&sums);
    }
    targets.into_remainder().iter_mut().zip(runs.remainder()).for_each(|(x, &g)| *x += g);
}

/// One core's buffers for a tile of samples.
struct Workspace {
    /// `Xᵀ` of a tile: `(samples·positions) × C_in·K·K`.
    patches: DMatrix<f32>,
    /// `Yᵀ`, then `Gᵀ`, of a tile: `(samples·positions) × C_out`.
    product: DMatrix<f32>,
    /// `(∂L/∂X)ᵀ` of a tile, before col2im.
    patch_gradient: DMatrix<f32>,
    /// This core's part of `∂L/∂W`.
    weight_gradient: DMatrix<f32>,
    /// This core's part of `∂L/∂b`, summed while `G` is gathered.
    bias_gradient: Vec<f32>,
    /// One sample's input, staged: with its zero border and its columns by phase (empty when
    /// the layer reads images where they lie).
    staged_image: Vec<f32>,
    /// One sample's `∂L/∂X`, staged the same way, summed by col2im.
    staged_gradient: Vec<f32>,
}

/// A copy starts with empty buffers: they hold nothing between a layer's calls that a copy
/// needs, and copying them would cost what the gradient checker's many copies cannot afford.
impl Clone for Workspace {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl Default for Workspace {
    fn default() -> Self {
        let empty = || DMatrix::zeros(0, 0);
        Self {
            patches: empty(),
            product: empty(),
            patch_gradient: empty(),
            weight_gradient: empty(),
            bias_gradient: Vec::new(),
            staged_image: Vec::new(),
            staged_gradient: Vec::new(),
        }
    }
}
