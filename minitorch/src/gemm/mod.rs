//! The one matrix product every layer uses: `C (+)= A·B` on f32 matrices of any strides.
//!
//! It is built the way BLIS builds one (Goto and van de Geijn, "Anatomy of high-performance
//! matrix multiplication", 2008), small enough to read:
//!
//! 1. **Cores.** A product large enough is cut in two halves along its longer side, one per core
//!    ([`multiply`]).
//! 2. **Blocks.** Each core walks its half in blocks: [`COLUMN_BLOCK`] columns of `B`, then
//!    [`DEPTH_BLOCK`] steps of the sum, then [`ROW_BLOCK`] rows of `A`. It copies each block of
//!    `B` and of `A` into panels (`pack.rs`) in a buffer of its own that it keeps for the next
//!    product, so a product allocates nothing once each core has run one.
//! 3. **Tiles.** The micro-kernel (`kernels.rs`) multiplies one panel of `A` by one panel of `B`
//!    into a tile of `C` held in vector registers, compiled for the CPU's widest instruction set
//!    (AVX-512, AVX2 or the build's own, chosen at run time).
//!
//! Not every panel is copied: `B` is read where it lies when its rows or its columns are
//! adjacent, and so is a column-major `A` when few panels of `B` reuse it ([`A_IN_PLACE_MAX_COLUMNS`]). A product with one column
//! (single-sample inference) skips the blocks: it streams `A` once through
//! [`kernels::InstructionSet::matrix_vector`], half of its rows on each core when `A` is large
//! ([`MATRIX_VECTOR_PARALLEL_MIN_ENTRIES`]).
//!
//! Whatever the path, every entry is summed in the same order, so the bits of a result depend on
//! neither the CPU nor the threads (`kernels.rs` says how).

mod kernels;
mod pack;

use std::cell::RefCell;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use nalgebra::{Dim, Matrix, RawStorage, RawStorageMut};

use crate::parallel::join;

#[cfg(target_arch = "x86_64")]
use kernels::{Avx2, Avx512};
use kernels::{DEPTH_BLOCK, InstructionSet, Panel, Portable, depth_blocks};

/// Rows of `A` packed at a time: 192 rows of 256 steps is 192 KB, which stays in a core's L2
/// cache while the micro-kernel sweeps the block once per panel of `B`. A multiple of every
/// instruction set's tile height.
const ROW_BLOCK: usize = 192;

/// Columns of `B` packed at a time: 1032 columns of 256 steps is 1 MB. A multiple of every
/// instruction set's tile width (8, 6 and 4).
const COLUMN_BLOCK: usize = 1032;

/// A column-major `A` is read where it lies in products with at most this many columns: the
/// convolutions' forward products (16 or 32 output channels), where packing `A` took as long as
/// multiplying it (pack 14% of a resnet training step; perf, Intel Xeon model 106). Wider
/// products pack it, since each of their many panels of `B` sweeps it again.
const A_IN_PLACE_MAX_COLUMNS: usize = 32;

/// A matrix-vector product over a matrix with fewer entries than this stays on one core: 2¹⁶
/// splits the `mlp`'s first two layers (784 → 512 and 512 → 256): 58–59 µs against 63.5 µs with
/// the first alone (medians of five alternated `latency` runs, Intel Xeon model 106, 2026-12-02).
///
/// One core streams the first layer's 1.6 MB from L3; two stream half each. On the Intel Xeon
/// that paid even when the halves went through rayon (74.4 / 86.1 µs on one core against
/// 59.6 / 68.5 µs split, medians of two sets of six alternated `latency` runs, model 106,
/// 2026-12-02). On the AMD EPYC (family 25, model 1, 2026-12-03) it paid only once the fork was
/// [`join`]'s own: 31–44 µs split against 37–49 µs on one core (mean 38.4 against 43.2 µs, ten
/// alternated `latency` runs), where through rayon it had cost 58–101 µs against 39–52.
const MATRIX_VECTOR_PARALLEL_MIN_ENTRIES: usize = 1 << 16;

/// Products smaller than this many multiply-adds stay on one thread. It keeps the mlp's 256 → 10
/// layer (at most 164k at batch 64) whole: for that shape a second thread did not help with any
/// GEMM library measured on this machine (`../shared/notes/performance-facts.md`).
const PARALLEL_MIN_WORK: usize = 64 * 64 * 64;

/// A read-only operand of [`gemm`]: a matrix's raw storage with its shape and strides, possibly
/// transposed (a transpose swaps the strides; nothing is copied).
#[derive(Clone, Copy)]
pub(crate) struct Operand<'a> {
    pointer: *const f32,
    rows: usize,
    columns: usize,
    row_stride: isize,
    column_stride: isize,
    _borrow: PhantomData<&'a f32>,
}

impl<'a> Operand<'a> {
    pub(crate) fn of<R: Dim, C: Dim, S: RawStorage<f32, R, C>>(matrix: &'a Matrix<f32, R, C, S>) -> Self {
        let (row_stride, column_stride) = matrix.strides();
        Self {
            pointer: matrix.as_ptr(),
            rows: matrix.nrows(),
            columns: matrix.ncols(),
            row_stride: row_stride as isize,
            column_stride: column_stride as isize,
            _borrow: PhantomData,
        }
    }

    pub(crate) fn transposed(self) -> Self {
        Self {
            rows: self.columns,
            columns: self.rows,
            row_stride: self.column_stride,
            column_stride: self.row_stride,
            ..self
        }
    }

    /// The `rows × columns` part whose first entry is `(first_row, first_column)`.
    fn block(self, first_row: usize, first_column: usize, rows: usize, columns: usize) -> Self {
        debug_assert!(first_row + rows <= self.rows && first_column + columns <= self.columns);
        Self { pointer: self.at(first_row, first_column), rows, columns, ..self }
    }

    /// Where entry `(row, column)` is; reading it is safe when it is inside the operand.
    fn at(self, row: usize, column: usize) -> *const f32 {
        self.pointer.wrapping_offset(row as isize * self.row_stride + column as isize * self.column_stride)
    }
}

/// Where a product goes: a raw, strided, mutable view.
#[derive(Clone, Copy)]
struct Target {
    pointer: *mut f32,
    row_stride: isize,
    column_stride: isize,
}

impl Target {
    fn at(self, row: usize, column: usize) -> *mut f32 {
        self.pointer.wrapping_offset(row as isize * self.row_stride + column as isize * self.column_stride)
    }
}

// SAFETY: a `Target` goes to another thread only as one of two disjoint halves of a destination
// that the caller borrows mutably for the whole call (see `multiply`); an `Operand` is a shared
// borrow of f32s.
unsafe impl Send for Target {}
unsafe impl Send for Operand<'_> {}

/// `destination = a · b`, or `destination += a · b` when `accumulate` is true.
///
/// # Panics
/// If the shapes do not chain; every caller's shapes are fixed by its types, so this is a bug.
pub(crate) fn gemm<R: Dim, C: Dim, S: RawStorageMut<f32, R, C>>(
    destination: &mut Matrix<f32, R, C, S>,
    a: Operand<'_>,
    b: Operand<'_>,
    accumulate: bool,
) {
    let (m, n, k) = (a.rows, b.columns, a.columns);
    assert!(
        destination.shape() == (m, n) && b.rows == k,
        "gemm: cannot multiply {}×{} by {}×{} into {:?}",
        a.rows,
        a.columns,
        b.rows,
        b.columns,
        destination.shape()
    );
    if k == 0 {
        if !accumulate {
            destination.fill(0.0);
        }
        return;
    }
    let (row_stride, column_stride) = destination.strides();
    let target = Target {
        pointer: destination.as_mut_ptr(),
        row_stride: row_stride as isize,
        column_stride: column_stride as isize,
    };
    // SAFETY: `target` describes `destination` exactly (taken from nalgebra above, shape
    // checked by the assertion); `destination` is borrowed mutably, so it aliases neither `a`
    // nor `b`, which are borrowed shared for the duration of the call. Each instruction set is
    // used only on a CPU that has it.
    unsafe {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("fma") {
            return multiply::<Avx512>(target, a, b, accumulate);
        } else if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return multiply::<Avx2>(target, a, b, accumulate);
        }
        multiply::<Portable>(target, a, b, accumulate)
    }
}

/// `target (+)= a · b` with instruction set `I`: a matrix-vector product straight from `a`, or
/// the blocked product on both cores when the work is large enough.
///
/// # Safety
/// The CPU has instruction set `I`; `a` and `b` chain (`a.columns == b.rows`, none of the three
/// dimensions zero); `target` is valid for writes of an `a.rows × b.columns` matrix with its
/// strides, and overlaps neither `a` nor `b`.
unsafe fn multiply<I: InstructionSet>(target: Target, a: Operand<'_>, b: Operand<'_>, accumulate: bool) {
    if b.columns == 1 && a.row_stride == 1 {
        // SAFETY: as the caller promised.
        return unsafe { matrix_vector_on_cores::<I>(target, a, b, accumulate) };
    }
    // SAFETY: as the caller promised.
    unsafe { multiply_on_cores::<I>(target, a, b, accumulate) }
}

/// `target (+)= a·b` for a `b` of one column (a single sample): [`kernels::InstructionSet::matrix_vector`]
/// streams `a` once, on one core, or, when `a` is large, each core its half of the rows. Each
/// row's sum is taken whole by one core, so the split leaves the bits as they are.
///
/// # Safety
/// As [`multiply`], with `b.columns == 1` and `a.row_stride == 1`.
unsafe fn matrix_vector_on_cores<I: InstructionSet>(
    target: Target,
    a: Operand<'_>,
    b: Operand<'_>,
    accumulate: bool,
) {
    // SAFETY (both): `a` is read where it lies, as the caller promised; `b` is a column of
    // `a.columns` entries, `target` one of `a.rows`.
    let run = move |target: Target, a: Operand<'_>, x: Operand<'_>| unsafe {
        I::matrix_vector(a, x.pointer, x.row_stride, target.pointer, target.row_stride, accumulate)
    };
    if a.rows * a.columns < MATRIX_VECTOR_PARALLEL_MIN_ENTRIES {
        return run(target, a, b);
    }
    // Cut at a whole vector, so that each half's rows start on one.
    let half = (a.rows / 2).next_multiple_of(I::LANES).min(a.rows);
    let (top, bottom) = (a.block(0, 0, half, a.columns), a.block(half, 0, a.rows - half, a.columns));
    let lower = Target { pointer: target.at(half, 0), ..target };
    // The two halves write disjoint rows of `target`; `join` returns when both are done.
    join(move || run(target, top, b), move || run(lower, bottom, b));
}

/// [`multiply_serial`] on one core, or split between the two when the work is large enough.
///
/// # Safety
/// As [`multiply`].
unsafe fn multiply_on_cores<I: InstructionSet>(
    target: Target,
    a: Operand<'_>,
    b: Operand<'_>,
    accumulate: bool,
) {
    let (m, n, k) = (a.rows, b.columns, a.columns);
    if m * n * k < PARALLEL_MIN_WORK {
        // SAFETY: as the caller promised.
        return unsafe { multiply_serial::<I>(target, a, b, accumulate) };
    }
    // The two halves of the larger output dimension, as (target, a, b), cut at a whole tile.
    let (first, second) = if n >= m {
        let half = (n / 2).next_multiple_of(I::NR).min(n);
        let right = Target { pointer: target.at(0, half), ..target };
        ((target, a, b.block(0, 0, k, half)), (right, a, b.block(0, half, k, n - half)))
    } else {
        let half = (m / 2).next_multiple_of(I::MR).min(m);
        let lower = Target { pointer: target.at(half, 0), ..target };
        ((target, a.block(0, 0, half, k), b), (lower, a.block(half, 0, m - half, k), b))
    };
    // SAFETY (both halves): disjoint ranges of `target`, each with the matching part of `a` or
    // `b`; `join` returns only when both are done, so every borrow outlives the work.
    let run = move |(target, a, b): (Target, Operand<'_>, Operand<'_>)| unsafe {
        multiply_serial::<I>(target, a, b, accumulate)
    };
    join(move || run(first), move || run(second));
}

thread_local! {
    /// This thread's packing buffer: a block of `A` (`ROW_BLOCK × DEPTH_BLOCK`), then one of `B`
    /// (`DEPTH_BLOCK × COLUMN_BLOCK`). Allocated whole by the thread's first product, 1.2 MB.
    static PACKED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// A 64-byte cache line, in floats: the room the packing buffer needs to start on one.
const CACHE_LINE_FLOATS: usize = 16;

/// The largest tile of any instruction set, for tiles that do not fit `C` whole.
const TILE_CAPACITY: usize = 48 * 8;

/// One thread's product, in blocks and tiles (see the module's documentation).
///
/// # Safety
/// As [`multiply`].
unsafe fn multiply_serial<I: InstructionSet>(
    target: Target,
    a: Operand<'_>,
    b: Operand<'_>,
    accumulate: bool,
) {
    let (m, n, k) = (a.rows, b.columns, a.columns);
    PACKED.with_borrow_mut(|packed| {
        if packed.is_empty() {
            packed.resize(ROW_BLOCK * DEPTH_BLOCK + DEPTH_BLOCK * COLUMN_BLOCK + CACHE_LINE_FLOATS, 0.0);
        }
        // Panels start on a cache line, so that no vector load of them straddles two lines.
        let start = packed.as_ptr().align_offset(64);
        let aligned = &mut packed[start..];
        let (packed_a, packed_b) = aligned.split_at_mut(ROW_BLOCK * DEPTH_BLOCK);
        for first_column in (0..n).step_by(COLUMN_BLOCK) {
            let columns = COLUMN_BLOCK.min(n - first_column);
            for (first_term, depth) in depth_blocks(k) {
                // The first depth block writes `C`, the next ones add to it.
                let add_to_c = accumulate || first_term > 0;
                // `B` is read where it lies when its columns or its steps are adjacent: the
                // micro-kernel takes its entries one at a time, and packing them would only
                // reorder the same reads (the cnn's second convolution repacked its weights for
                // every tile: 10% of an epoch; perf, Intel Xeon model 106). A column-major `A`
                // is read where it lies when few panels of `B` reuse it.
                let b_block = b.block(first_term, first_column, depth, columns).transposed();
                // SAFETY: blocks inside `a` and `b`, which describe live memory.
                let b_in_place = b.row_stride == 1 || b.column_stride == 1;
                let b_panels = unsafe { Panels::new::<I>(packed_b, b_block, I::NR, b_in_place) };
                for first_row in (0..m).step_by(ROW_BLOCK) {
                    let rows = ROW_BLOCK.min(m - first_row);
                    let a_block = a.block(first_row, first_term, rows, depth);
                    let a_in_place = a.row_stride == 1 && n <= A_IN_PLACE_MAX_COLUMNS;
                    let a_panels = unsafe { Panels::new::<I>(packed_a, a_block, I::MR, a_in_place) };
                    for column_panel in 0..b_panels.count() {
                        for row_panel in 0..a_panels.count() {
                            let (row, column) =
                                (first_row + row_panel * I::MR, first_column + column_panel * I::NR);
                            let (a_panel, b_panel) = (a_panels.get(row_panel), b_panels.get(column_panel));
                            // SAFETY: the tile's entries inside `target` (`row < m`, `column < n`);
                            // the panels inside `a` and `b` or the packing buffer.
                            unsafe {
                                write_tile::<I>(
                                    target,
                                    (row, column),
                                    (m, n),
                                    depth,
                                    a_panel,
                                    b_panel,
                                    add_to_c,
                                )
                            };
                        }
                    }
                }
            }
        }
    });
}

/// The panels of one block of an operand, `A`'s or `Bᵀ`'s (`lanes × depth`): whole panels read
/// where they lie or all packed, and a last panel narrower than `height` always packed, with
/// zeros to fill it.
struct Panels<'a> {
    block: Operand<'a>,
    height: usize,
    /// Lanes read where they lie: a whole number of panels from the first.
    in_place: usize,
    packed: &'a [f32],
}

impl<'a> Panels<'a> {
    /// # Safety
    /// `block` describes live memory; when `in_place`, its lanes are adjacent if it is `A`'s.
    unsafe fn new<I: InstructionSet>(
        buffer: &'a mut [f32],
        block: Operand<'a>,
        height: usize,
        in_place: bool,
    ) -> Self {
        let in_place = if in_place { block.rows / height * height } else { 0 };
        let rest = block.block(in_place, 0, block.rows - in_place, block.columns);
        // SAFETY: as the caller promised; the buffer holds a block of either operand.
        unsafe { I::pack_panels(buffer, rest, height) };
        Self { block, height, in_place, packed: buffer }
    }

    fn count(&self) -> usize {
        self.block.rows.div_ceil(self.height)
    }

    fn get(&self, index: usize) -> Panel {
        let lane = index * self.height;
        if lane < self.in_place {
            let (step_stride, lane_stride) =
                (self.block.column_stride as usize, self.block.row_stride as usize);
            Panel { start: self.block.at(lane, 0), step_stride, lane_stride }
        } else {
            let start = self.packed[(lane - self.in_place) * self.block.columns..].as_ptr();
            Panel { start, step_stride: self.height, lane_stride: 1 }
        }
    }
}

/// One micro-kernel call: straight into `C` when the tile's rows fill whole vectors and are
/// adjacent in memory, storing as many columns as `C` has left; otherwise through a tile on the
/// stack whose entries inside `C` are copied.
///
/// A tile short of columns is common: 32 or 64 output channels, or a batch half of 32, are not
/// a multiple of the AVX2 tile's 6. Through the stack, each such tile cost a 1.5 KB `memset` and
/// a call to `memcpy` per column; with the packing's calls (`pack.rs`) that was 1.6% of an MNIST
/// cnn epoch's CPU time, and none of it now (perf, AMD EPYC family 25 model 1).
///
/// # Safety
/// As [`multiply`]; `(row, column)` is inside the `m × n` target.
#[allow(clippy::too_many_arguments)]
unsafe fn write_tile<I: InstructionSet>(
    target: Target,
    (row, column): (usize, usize),
    (m, n): (usize, usize),
    depth: usize,
    a_panel: Panel,
    b_panel: Panel,
    add_to_c: bool,
) {
    let (rows, columns) = (I::MR.min(m - row), I::NR.min(n - column));
    // The last panel of a product whose rows end sooner than a whole tile's runs as far as
    // its rows go, in whole vectors: 16 rows with AVX-512 where a tile has 48.
    let row_vectors = rows.div_ceil(I::LANES);
    if rows == row_vectors * I::LANES && target.row_stride == 1 {
        // SAFETY: the tile's `rows × columns` are inside `target`, its rows adjacent.
        return unsafe {
            let c = target.at(row, column);
            let column_stride = target.column_stride as usize;
            I::tile(row_vectors, depth, a_panel, b_panel, (c, column_stride, columns), add_to_c)
        };
    }
    // Only the entries the kernel writes are read back, so the tile needs no zeros.
    let mut tile = [const { MaybeUninit::<f32>::uninit() }; TILE_CAPACITY];
    let tile = tile.as_mut_ptr().cast::<f32>();
    // SAFETY: `tile` holds an `MR × NR` tile with column stride `MR`.
    unsafe { I::tile(row_vectors, depth, a_panel, b_panel, (tile, I::MR, I::NR), false) };
    for j in 0..columns {
        // SAFETY: the kernel wrote rows `0..row_vectors·LANES ⊇ 0..rows` of each of its columns.
        let tile_column = unsafe { std::slice::from_raw_parts(tile.add(j * I::MR), rows) };
        if target.row_stride == 1 {
            // SAFETY: rows `row..row + rows` of column `column + j` are inside `target`, adjacent.
            let c = unsafe { std::slice::from_raw_parts_mut(target.at(row, column + j), rows) };
            if add_to_c {
                c.iter_mut().zip(tile_column).for_each(|(c, &sum)| *c += sum);
            } else {
                c.copy_from_slice(tile_column);
            }
            continue;
        }
        for (i, &sum) in tile_column.iter().enumerate() {
            // SAFETY: `(row + i, column + j)` is inside `target`.
            let c = unsafe { &mut *target.at(row + i, column + j) };
            *c = if add_to_c { *c + sum } else { sum };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::DMatrix;

    fn pseudo_random(rows: usize, columns: usize, seed: u32) -> DMatrix<f32> {
        DMatrix::from_fn(rows, columns, |r, c| {
            let x = (r as u32 * 31 + c as u32 * 17 + seed * 7) % 23;
            x as f32 / 11.0 - 1.0
        })
    }

    #[test]
    fn gemm_matches_nalgebra_for_every_transposition() {
        // 70×65 and 65×70 are large enough to be split between the cores, by rows and by columns.
        for (m, n, k) in [(3, 4, 5), (70, 65, 80), (65, 70, 80), (1, 1, 1), (10, 1, 300)] {
            let a = pseudo_random(m, k, 1);
            let b = pseudo_random(k, n, 2);
            let at = a.transpose();
            let bt = b.transpose();
            let expected = &a * &b;
            for (left, right) in [
                (Operand::of(&a), Operand::of(&b)),
                (Operand::of(&at).transposed(), Operand::of(&b)),
                (Operand::of(&a), Operand::of(&bt).transposed()),
                (Operand::of(&at).transposed(), Operand::of(&bt).transposed()),
            ] {
                let mut product = DMatrix::from_element(m, n, 1.0);
                gemm(&mut product, left, right, false);
                assert!((&product - &expected).abs().max() < 1e-4, "{m}×{k}·{k}×{n}");
                gemm(&mut product, left, right, true);
                assert!((&product - &expected * 2.0).abs().max() < 1e-4, "accumulate {m}×{k}·{k}×{n}");
            }
        }
    }

    /// `initial (+)= a·b` with instruction set `I`, on the blocked path alone when `serial`.
    fn product_with<I: InstructionSet>(
        a: Operand<'_>,
        b: Operand<'_>,
        initial: &DMatrix<f32>,
        serial: bool,
    ) -> DMatrix<f32> {
        let mut product = initial.clone();
        let target = Target { pointer: product.as_mut_ptr(), row_stride: 1, column_stride: a.rows as isize };
        // SAFETY: `product` is `a.rows × b.columns`, column-major, and overlaps neither operand;
        // the callers check the CPU.
        unsafe {
            if serial {
                multiply_serial::<I>(target, a, b, true);
            } else {
                multiply::<I>(target, a, b, true);
            }
        }
        product
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        // Sizes around the tiles' edges (16, 48 and 8 for AVX-512; 8, 16 and 6 for AVX2), depths
        // of one block and of several (784 is 4 blocks of 196), one column (the matrix-vector
        // path), and products large enough to be split between the cores.
        let shapes = [
            (1, 1, 1),
            (47, 9, 3),
            (49, 17, 257),
            (97, 33, 784),
            (16, 144, 100),
            (300, 70, 513),
            (130, 1, 600),
        ];
        for (m, n, k) in shapes {
            let (a, b) = (pseudo_random(m, k, 3), pseudo_random(k, n, 4));
            let (at, bt) = (a.transpose(), b.transpose());
            let initial = pseudo_random(m, n, 5);
            let expected = &initial + &a * &b;
            for (left, right) in [
                (Operand::of(&a), Operand::of(&b)),
                (Operand::of(&at).transposed(), Operand::of(&bt).transposed()),
            ] {
                let portable = product_with::<Portable>(left, right, &initial, false);
                let scale = expected.abs().max().max(1.0);
                assert!((&portable - &expected).abs().max() < 1e-5 * scale * k as f32, "{m}×{k}·{k}×{n}");
                #[cfg(target_arch = "x86_64")]
                {
                    use std::arch::is_x86_feature_detected as has;
                    if has!("avx512f") && has!("fma") {
                        assert_eq!(
                            product_with::<Avx512>(left, right, &initial, false),
                            portable,
                            "AVX-512 {m}×{k}·{k}×{n}"
                        );
                    }
                    if has!("avx2") && has!("fma") {
                        assert_eq!(
                            product_with::<Avx2>(left, right, &initial, false),
                            portable,
                            "AVX2 {m}×{k}·{k}×{n}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn neither_the_cores_nor_the_matrix_vector_path_change_the_bits() {
        let (a, b) = (pseudo_random(300, 513, 6), pseudo_random(513, 70, 7));
        let initial = pseudo_random(300, 70, 8);
        let split = product_with::<Portable>(Operand::of(&a), Operand::of(&b), &initial, false);
        let whole = product_with::<Portable>(Operand::of(&a), Operand::of(&b), &initial, true);
        assert_eq!(split, whole);
        // Column 0 alone takes the matrix-vector path, split between the cores (300·513 entries
        // are enough), and the kernel alone takes it on one.
        const { assert!(300 * 513 >= MATRIX_VECTOR_PARALLEL_MIN_ENTRIES) };
        let column = b.columns(0, 1);
        let (mut on_cores, mut on_one): (DMatrix<f32>, DMatrix<f32>) =
            (initial.columns(0, 1).into(), initial.columns(0, 1).into());
        let target = Target { pointer: on_cores.as_mut_ptr(), row_stride: 1, column_stride: 300 };
        // SAFETY: each destination is a column of 300 rows, apart from `a` and `column`.
        unsafe {
            matrix_vector_on_cores::<Portable>(target, Operand::of(&a), Operand::of(&column), true);
            Portable::matrix_vector(Operand::of(&a), column.as_ptr(), 1, on_one.as_mut_ptr(), 1, true);
        }
        assert_eq!(on_cores, split.columns(0, 1));
        assert_eq!(on_one, split.columns(0, 1));
    }

    #[test]
    fn a_tile_short_of_columns_writes_only_the_destinations_columns() {
        // 9 columns end inside a tile for every instruction set (tiles 8, 6 and 4 wide); 32 rows
        // are whole vectors, so the last tiles are stored straight into the destination.
        let (a, b) = (pseudo_random(32, 5, 13), pseudo_random(5, 9, 14));
        let expected = &a * &b;
        let check = |name: &str, run: &dyn Fn(Target)| {
            let mut storage = DMatrix::from_element(32, 16, 7.0);
            run(Target { pointer: storage.as_mut_ptr(), row_stride: 1, column_stride: 32 });
            assert!((storage.columns(0, 9) - &expected).abs().max() < 1e-5, "{name}");
            assert!(storage.columns(9, 7).iter().all(|&x| x == 7.0), "{name} wrote past column 9");
        };
        let (left, right) = (Operand::of(&a), Operand::of(&b));
        // SAFETY (each): the target is 32 × 9 with column stride 32 inside `storage`'s 32 × 16,
        // apart from the operands; each instruction set is used only where the CPU has it.
        check("portable", &|target| unsafe { multiply_serial::<Portable>(target, left, right, false) });
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f") && has!("fma") {
                check("AVX-512", &|target| unsafe { multiply_serial::<Avx512>(target, left, right, false) });
            }
            if has!("avx2") && has!("fma") {
                check("AVX2", &|target| unsafe { multiply_serial::<Avx2>(target, left, right, false) });
            }
        }
    }

    #[test]
    fn depth_blocks_are_even_and_cover_the_sum() {
        let blocks = |depth| depth_blocks(depth).collect::<Vec<_>>();
        assert_eq!(blocks(784), [(0, 196), (196, 196), (392, 196), (588, 196)]);
        assert_eq!(blocks(257), [(0, 129), (129, 128)]);
        assert_eq!(blocks(256), [(0, 256)]);
        assert_eq!(blocks(3), [(0, 3)]);
        assert_eq!(blocks(0), []);
    }

    #[test]
    fn a_destination_with_rows_apart_is_written_where_its_rows_are() {
        let (a, b) = (pseudo_random(50, 20, 9), pseudo_random(20, 9, 10));
        let mut storage = DMatrix::from_element(100, 9, 7.0);
        let mut every_other_row = storage.rows_with_step_mut(0, 50, 1);
        gemm(&mut every_other_row, Operand::of(&a), Operand::of(&b), false);
        let expected = &a * &b;
        for row in 0..100 {
            for column in 0..9 {
                let value = storage[(row, column)];
                if row % 2 == 1 {
                    assert_eq!(value, 7.0, "row {row} is not the destination's");
                } else {
                    assert!((value - expected[(row / 2, column)]).abs() < 1e-4, "({row}, {column})");
                }
            }
        }
    }

    #[test]
    fn empty_inner_dimension_gives_zeros() {
        let a = DMatrix::<f32>::zeros(3, 0);
        let b = DMatrix::<f32>::zeros(0, 2);
        let mut product = DMatrix::from_element(3, 2, 5.0);
        gemm(&mut product, Operand::of(&a), Operand::of(&b), false);
        assert_eq!(product, DMatrix::zeros(3, 2));
    }

    #[test]
    fn products_without_rows_or_columns_write_nothing() {
        for (m, n, k) in [(0, 3, 4), (3, 0, 4), (0, 1, 4), (0, 0, 0)] {
            let (a, b) = (pseudo_random(m, k, 11), pseudo_random(k, n, 12));
            let mut product = DMatrix::<f32>::zeros(m, n);
            gemm(&mut product, Operand::of(&a), Operand::of(&b), false);
            assert_eq!(product.shape(), (m, n));
        }
    }

    #[test]
    #[should_panic(expected = "cannot multiply")]
    fn mismatched_shapes_are_refused() {
        let a = DMatrix::<f32>::zeros(3, 4);
        let mut product = DMatrix::<f32>::zeros(3, 3);
        gemm(&mut product, Operand::of(&a), Operand::of(&a), false);
    }
}
