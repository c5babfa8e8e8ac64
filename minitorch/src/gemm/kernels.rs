//! The GEMM's inner loops, written once in plain Rust and compiled once per instruction set.
//!
//! - [`tile`], the micro-kernel: one `MR × NR` tile of the product from a panel of `A` and a panel
//!   of `B`, both packed so that it reads them front to back (`pack.rs`).
//! - [`matrix_vector`]: `y (+)= A·x` straight from a column-major `A`, for single-sample
//!   inference, where packing `A` would triple the memory traffic the product is bound by.
//!
//! Each instruction set gets both compiled by a `#[target_feature]` wrapper, with a tile shape
//! that fits its registers:
//!
//! | instruction set | tile | accumulators |
//! |---|---|---|
//! | [`Avx512`]: AVX-512F and FMA | 48 × 8 | 24 of 32 zmm registers |
//! | [`Avx2`]: AVX2 and FMA | 16 × 6 | 12 of 16 ymm registers |
//! | [`Portable`]: the build's own | 8 × 4 | – |
//!
//! Every entry of a product is summed the same way whatever the instruction set, tile or
//! thread: over one depth block of at most [`DEPTH_BLOCK`] terms at a time ([`depth_blocks`]), in
//! order, from zero, each
//! term by a fused multiply-add (`f32::mul_add`, one rounding), and each block's sum then added
//! to the entry. So every kernel gives the same bits (`every_instruction_set_gives_the_same_bits`
//! in `gemm/mod.rs`, for the instruction sets the testing CPU has), and a product's result does
//! not depend on which CPU computes it.

use super::Operand;
use super::pack::pack_panels;

/// At most how many terms of a product's sum are added up before they are added to the entry:
/// the depth of a packed panel, whose `B` part then stays in the L1 cache while the micro-kernel
/// sweeps it.
pub(super) const DEPTH_BLOCK: usize = 256;

/// The depth blocks of a sum of `depth` terms, as `(first term, terms)`: as few as
/// [`DEPTH_BLOCK`] allows, and of equal length but for the last, so that no block is much shorter
/// than the others (784 terms are 4 blocks of 196, not 3 of 256 and 1 of 16: a short block costs a
/// whole read and write of the tile for little arithmetic). They depend on `depth` alone, which is
/// what keeps the bits the same everywhere.
pub(super) fn depth_blocks(depth: usize) -> impl Iterator<Item = (usize, usize)> {
    let length = depth.div_ceil(depth.div_ceil(DEPTH_BLOCK).max(1));
    (0..depth).step_by(length.max(1)).map(move |first| (first, length.min(depth - first)))
}

/// Where the micro-kernel reads a panel: `MR` rows of `A` or `NR` columns of `B` (its lanes),
/// `depth` steps long. Lane `l` of step `p` is at `start + p·step_stride + l·lane_stride`. A packed
/// panel has strides `(height, 1)`; one read where it lies in the operand has the operand's.
#[derive(Clone, Copy)]
pub(super) struct Panel {
    pub(super) start: *const f32,
    pub(super) step_stride: usize,
    pub(super) lane_stride: usize,
}

impl Panel {
    /// Lane `lane` of step `p`.
    ///
    /// # Safety
    /// `(p, lane)` is inside the panel.
    #[inline(always)]
    unsafe fn get(self, p: usize, lane: usize) -> f32 {
        unsafe { *self.start.add(p * self.step_stride + lane * self.lane_stride) }
    }

    /// Where step `p` starts.
    #[inline(always)]
    fn step(self, p: usize) -> *const f32 {
        self.start.wrapping_add(p * self.step_stride)
    }
}

/// A tile shape and the inner loops compiled for one instruction set.
pub(super) trait InstructionSet {
    /// Floats in one vector register.
    const LANES: usize;
    /// Rows of a tile: the height of a packed panel of `A`, a multiple of `LANES`.
    const MR: usize;
    /// Columns of a tile: the width of a packed panel of `B`.
    const NR: usize;

    /// [`tile`] with `(row_vectors·LANES) × NR`, compiled for this instruction set: a whole tile
    /// has `MR / LANES` row vectors; the last panel of a product whose rows end sooner is
    /// computed with fewer, as far as its rows go. `destination` is [`tile`]'s: `C`, its column
    /// stride, and how many of the tile's columns to store there.
    ///
    /// # Safety
    /// The CPU has the instruction set; `1 <= row_vectors <= MR / LANES`; otherwise as [`tile`]
    /// with `MR` replaced by `row_vectors·LANES` (the panel of `A` keeps its step stride).
    unsafe fn tile(
        row_vectors: usize,
        depth: usize,
        a: Panel,
        b: Panel,
        destination: (*mut f32, usize, usize),
        add_to_c: bool,
    );

    /// [`matrix_vector`], compiled for this instruction set.
    ///
    /// # Safety
    /// The CPU has the instruction set; otherwise as [`matrix_vector`].
    unsafe fn matrix_vector(
        a: Operand<'_>,
        x: *const f32,
        x_stride: isize,
        y: *mut f32,
        y_stride: isize,
        add: bool,
    );

    /// `pack.rs`'s [`pack_panels`], compiled for this instruction set: its fixed-length copies
    /// become vector moves rather than calls to `memcpy`.
    ///
    /// # Safety
    /// The CPU has the instruction set; otherwise as [`pack_panels`].
    unsafe fn pack_panels(destination: &mut [f32], block: Operand<'_>, height: usize);
}

/// `c[i + j·column_stride] (+)= Σ_p a(p, i)·b(p, j)` for `i < MR`, `j < columns ≤ NR`,
/// `p < depth`: added to what `c` holds when `add_to_c`. The sums live in an array that the
/// compiler keeps in vector registers, `MR` rows to a column, across the `NR` columns; a tile
/// whose columns end sooner (the last panel of `B`) is computed whole and stored as far as they
/// go.
///
/// # Safety
/// `a` holds `depth × MR` entries and `b` `depth × NR`; `c` is valid for reads and writes of an
/// `MR × columns` column-major tile with `column_stride`, and overlaps neither panel.
#[inline(always)]
unsafe fn tile<const MR: usize, const NR: usize>(
    depth: usize,
    a: Panel,
    b: Panel,
    (c, column_stride, columns): (*mut f32, usize, usize),
    add_to_c: bool,
) {
    let mut sums = [[0.0f32; MR]; NR];
    for p in 0..depth {
        for (j, column_sums) in sums.iter_mut().enumerate() {
            // SAFETY: `p < depth`, `i < MR`, `j < NR`, as the caller promised.
            let b_pj = unsafe { b.get(p, j) };
            for (i, sum) in column_sums.iter_mut().enumerate() {
                *sum = unsafe { a.get(p, i) }.mul_add(b_pj, *sum);
            }
        }
    }
    for (j, column_sums) in sums.iter().enumerate().take(columns) {
        // SAFETY: the caller promised an `MR × columns` tile at `c` with this column stride.
        let column = unsafe { std::slice::from_raw_parts_mut(c.add(j * column_stride), MR) };
        if add_to_c {
            column.iter_mut().zip(column_sums).for_each(|(c, &sum)| *c += sum);
        } else {
            column.copy_from_slice(column_sums);
        }
    }
}

/// `y (+)= A·x` for an `A` whose rows are adjacent in memory (row stride 1), summed as the
/// micro-kernel sums (see the module's documentation): it reads each column of `A` once, front to
/// back, which is all the time this product takes.
///
/// # Safety
/// `a` describes live memory with row stride 1; `x` holds `a.columns` floats `x_stride` apart
/// and `y` `a.rows` floats `y_stride` apart, valid for reads (`x`) and writes (`y`), `y`
/// overlapping neither.
#[inline(always)]
unsafe fn matrix_vector(
    a: Operand<'_>,
    x: *const f32,
    x_stride: isize,
    y: *mut f32,
    y_stride: isize,
    add: bool,
) {
    // Rows taken together: their sums stay in the L1 cache while the columns stream past.
    const ROWS: usize = 1024;
    let mut sums = [0.0f32; ROWS];
    for first_row in (0..a.rows).step_by(ROWS) {
        let rows = ROWS.min(a.rows - first_row);
        let sums = &mut sums[..rows];
        for (first_term, terms) in depth_blocks(a.columns) {
            sums.fill(0.0);
            let end = first_term + terms;
            // SAFETY (both closures): `p < a.columns`, and the rows of `a`'s column `p` are adjacent.
            let x = |p: usize| unsafe { *x.offset(p as isize * x_stride) };
            let column = |p: usize| unsafe { std::slice::from_raw_parts(a.at(first_row, p), rows) };
            // Four columns per pass over the sums, each sum taking them in order as one chain of
            // multiply-adds: the same arithmetic as one column per pass, with a quarter of the
            // loads and stores of the sums.
            let mut p = first_term;
            while p + 4 <= end {
                let (x_0, x_1, x_2, x_3) = (x(p), x(p + 1), x(p + 2), x(p + 3));
                let columns = column(p).iter().zip(column(p + 1)).zip(column(p + 2)).zip(column(p + 3));
                for (sum, (((&a_0, &a_1), &a_2), &a_3)) in sums.iter_mut().zip(columns) {
                    *sum = a_3.mul_add(x_3, a_2.mul_add(x_2, a_1.mul_add(x_1, a_0.mul_add(x_0, *sum))));
                }
                p += 4;
            }
            for p in p..end {
                let x_p = x(p);
                sums.iter_mut().zip(column(p)).for_each(|(sum, &a_ip)| *sum = a_ip.mul_add(x_p, *sum));
            }
            for (i, &sum) in sums.iter().enumerate() {
                // SAFETY: `first_row + i < a.rows`, the length of `y`.
                let y_i = unsafe { &mut *y.offset((first_row + i) as isize * y_stride) };
                *y_i = if add || first_term > 0 { *y_i + sum } else { sum };
            }
        }
    }
}

/// AVX-512F with FMA: Intel Xeon from Skylake-SP on, AMD from Zen 4.
#[cfg(target_arch = "x86_64")]
pub(super) struct Avx512;

/// AVX2 with FMA: x86-64 CPUs from Intel Haswell and AMD Zen 1 on.
#[cfg(target_arch = "x86_64")]
pub(super) struct Avx2;

/// The build's own instruction set: any CPU, and the reference the others are tested against.
pub(super) struct Portable;

#[cfg(target_arch = "x86_64")]
impl InstructionSet for Avx512 {
    const LANES: usize = 16;
    const MR: usize = 48;
    const NR: usize = 8;

    #[target_feature(enable = "avx512f,fma")]
    unsafe fn tile(
        row_vectors: usize,
        depth: usize,
        a: Panel,
        b: Panel,
        destination: (*mut f32, usize, usize),
        add_to_c: bool,
    ) {
        let adjacent_b = b.lane_stride == 1;
        // SAFETY (all six): as the caller promised.
        match (row_vectors, adjacent_b) {
            (1, true) => unsafe { avx512_tile::<1, true>(depth, a, b, destination, add_to_c) },
            (1, false) => unsafe { avx512_tile::<1, false>(depth, a, b, destination, add_to_c) },
            (2, true) => unsafe { avx512_tile::<2, true>(depth, a, b, destination, add_to_c) },
            (2, false) => unsafe { avx512_tile::<2, false>(depth, a, b, destination, add_to_c) },
            (_, true) => unsafe { avx512_tile::<3, true>(depth, a, b, destination, add_to_c) },
            (_, false) => unsafe { avx512_tile::<3, false>(depth, a, b, destination, add_to_c) },
        }
    }

    #[target_feature(enable = "avx512f,fma")]
    unsafe fn matrix_vector(
        a: Operand<'_>,
        x: *const f32,
        x_stride: isize,
        y: *mut f32,
        y_stride: isize,
        add: bool,
    ) {
        // SAFETY: as the caller promised.
        unsafe { matrix_vector(a, x, x_stride, y, y_stride, add) }
    }

    #[target_feature(enable = "avx512f,fma")]
    unsafe fn pack_panels(destination: &mut [f32], block: Operand<'_>, height: usize) {
        // SAFETY: as the caller promised.
        unsafe { pack_panels::<{ Self::MR }, { Self::NR }>(destination, block, height) }
    }
}

#[cfg(target_arch = "x86_64")]
impl InstructionSet for Avx2 {
    const LANES: usize = 8;
    // Not 24 × 4, which has as many sums but needs a third register for `A`: with all 16 in
    // use the compiler kept one sum on the stack, and the product ran at 33 GFLOP/s on one
    // core of the AMD EPYC (PyTorch's 78; `docs/performance.md`, "The AVX2 kernel on the AMD EPYC").
    const MR: usize = 16;
    const NR: usize = 6;

    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile(
        row_vectors: usize,
        depth: usize,
        a: Panel,
        b: Panel,
        destination: (*mut f32, usize, usize),
        add_to_c: bool,
    ) {
        let adjacent_b = b.lane_stride == 1;
        // SAFETY (all four): as the caller promised.
        match (row_vectors, adjacent_b) {
            (1, true) => unsafe { avx2_tile::<1, true>(depth, a, b, destination, add_to_c) },
            (1, false) => unsafe { avx2_tile::<1, false>(depth, a, b, destination, add_to_c) },
            (_, true) => unsafe { avx2_tile::<2, true>(depth, a, b, destination, add_to_c) },
            (_, false) => unsafe { avx2_tile::<2, false>(depth, a, b, destination, add_to_c) },
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn matrix_vector(
        a: Operand<'_>,
        x: *const f32,
        x_stride: isize,
        y: *mut f32,
        y_stride: isize,
        add: bool,
    ) {
        // SAFETY: as the caller promised.
        unsafe { matrix_vector(a, x, x_stride, y, y_stride, add) }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn pack_panels(destination: &mut [f32], block: Operand<'_>, height: usize) {
        // SAFETY: as the caller promised.
        unsafe { pack_panels::<{ Self::MR }, { Self::NR }>(destination, block, height) }
    }
}

impl InstructionSet for Portable {
    const LANES: usize = 8;
    const MR: usize = 8;
    const NR: usize = 4;

    unsafe fn tile(
        _row_vectors: usize,
        depth: usize,
        a: Panel,
        b: Panel,
        destination: (*mut f32, usize, usize),
        add_to_c: bool,
    ) {
        // SAFETY: as the caller promised.
        unsafe { tile::<{ Self::MR }, { Self::NR }>(depth, a, b, destination, add_to_c) }
    }

    unsafe fn matrix_vector(
        a: Operand<'_>,
        x: *const f32,
        x_stride: isize,
        y: *mut f32,
        y_stride: isize,
        add: bool,
    ) {
        // SAFETY: as the caller promised.
        unsafe { matrix_vector(a, x, x_stride, y, y_stride, add) }
    }

    unsafe fn pack_panels(destination: &mut [f32], block: Operand<'_>, height: usize) {
        // SAFETY: as the caller promised.
        unsafe { pack_panels::<{ Self::MR }, { Self::NR }>(destination, block, height) }
    }
}

/// [`tile`] for AVX-512: `V` vectors of 16 rows × 8 columns, the vectors spelled out (the
/// compiler did not find them in [`tile`] itself).
///
/// # Safety
/// The CPU has AVX-512F and FMA; as [`tile`] with `MR = 16·V`, `NR = 8`, and the rows of a step
/// of `a` adjacent.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
#[inline]
unsafe fn avx512_tile<const V: usize, const ADJACENT_B: bool>(
    depth: usize,
    a: Panel,
    b: Panel,
    (c, column_stride, columns): (*mut f32, usize, usize),
    add_to_c: bool,
) {
    use std::arch::x86_64::{__m512, _mm512_add_ps, _mm512_fmadd_ps, _mm512_loadu_ps};
    use std::arch::x86_64::{_mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps};
    debug_assert_eq!(a.lane_stride, 1, "the rows of a panel of A are adjacent");
    // When a step's columns of `B` are adjacent (a packed panel, or a transposed operand read in
    // place), their offsets are constants, and the compiler computes no addresses.
    let b = if ADJACENT_B { Panel { lane_stride: 1, ..b } } else { b };
    let mut sums: [[__m512; V]; 8] = [[_mm512_setzero_ps(); V]; 8];
    for p in 0..depth {
        // SAFETY: each load reads 16 of the step's adjacent rows.
        let a_vectors: [__m512; V] =
            std::array::from_fn(|v| unsafe { _mm512_loadu_ps(a.step(p).add(16 * v)) });
        for (j, column_sums) in sums.iter_mut().enumerate() {
            // SAFETY: `p < depth`, `j < 8`, as the caller promised.
            let b_vector = _mm512_set1_ps(unsafe { b.get(p, j) });
            for (sum, &a_vector) in column_sums.iter_mut().zip(&a_vectors) {
                *sum = _mm512_fmadd_ps(a_vector, b_vector, *sum);
            }
        }
    }
    for (j, column_sums) in sums.iter().enumerate().take(columns) {
        for (v, &sum) in column_sums.iter().enumerate() {
            // SAFETY: the caller promised a `16·V × columns` tile at `c` with this column stride.
            unsafe {
                let c = c.add(j * column_stride + v * 16);
                _mm512_storeu_ps(c, if add_to_c { _mm512_add_ps(_mm512_loadu_ps(c), sum) } else { sum });
            }
        }
    }
}

/// [`avx512_tile`] for AVX2: `V` vectors of 8 rows × 6 columns.
///
/// # Safety
/// The CPU has AVX2 and FMA; as [`tile`] with `MR = 8·V`, `NR = 6`, and the rows of a step of
/// `a` adjacent.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn avx2_tile<const V: usize, const ADJACENT_B: bool>(
    depth: usize,
    a: Panel,
    b: Panel,
    (c, column_stride, columns): (*mut f32, usize, usize),
    add_to_c: bool,
) {
    use std::arch::x86_64::{__m256, _mm256_add_ps, _mm256_fmadd_ps, _mm256_loadu_ps};
    use std::arch::x86_64::{_mm256_set1_ps, _mm256_setzero_ps, _mm256_storeu_ps};
    debug_assert_eq!(a.lane_stride, 1, "the rows of a panel of A are adjacent");
    // As in `avx512_tile`.
    let b = if ADJACENT_B { Panel { lane_stride: 1, ..b } } else { b };
    let mut sums: [[__m256; V]; 6] = [[_mm256_setzero_ps(); V]; 6];
    for p in 0..depth {
        // SAFETY: each load reads 8 of the step's adjacent rows.
        let a_vectors: [__m256; V] =
            std::array::from_fn(|v| unsafe { _mm256_loadu_ps(a.step(p).add(8 * v)) });
        for (j, column_sums) in sums.iter_mut().enumerate() {
            // SAFETY: `p < depth`, `j < 6`, as the caller promised.
            let b_vector = _mm256_set1_ps(unsafe { b.get(p, j) });
            for (sum, &a_vector) in column_sums.iter_mut().zip(&a_vectors) {
                *sum = _mm256_fmadd_ps(a_vector, b_vector, *sum);
            }
        }
    }
    for (j, column_sums) in sums.iter().enumerate().take(columns) {
        for (v, &sum) in column_sums.iter().enumerate() {
            // SAFETY: the caller promised an `8·V × columns` tile at `c` with this column stride.
            unsafe {
                let c = c.add(j * column_stride + v * 8);
                _mm256_storeu_ps(c, if add_to_c { _mm256_add_ps(_mm256_loadu_ps(c), sum) } else { sum });
            }
        }
    }
}
