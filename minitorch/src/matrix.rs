//! The matrix types every layer shares, and the one GEMM entry point.
//!
//! - [`Batch<N>`] is an activation: `N` features (a type-level constant) × a batch of samples
//!   chosen at run time, one column per sample, column-major, on the heap.
//! - [`HeapMatrix<R, C>`] is a statically sized parameter matrix that lives on the heap. A
//!   `512 × 784` f32 matrix is 1.6 MB; building one by value (even as a temporary inside
//!   `Box::new`) overflows a 2 MB test thread in a debug build, so these are allocated zeroed
//!   directly on the heap and only ever changed in place.
//! - `gemm` is the only matrix product the layers use; it runs the `gemm` crate's kernels on the
//!   raw storage, because nalgebra's own products on static × static or transposed operands are
//!   7–8× slower on our shapes (see `README.md`, "Performance").

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use nalgebra::{Const, Dim, Dyn, Matrix, OMatrix, RawStorage, RawStorageMut, SMatrix};

use crate::parallel::{halves, halves_mut, on_both_cores};

/// A batch of activations: `N` features × any number of samples, one column per sample.
///
/// ```
/// use minitorch::Batch;
/// let batch = Batch::<3>::from_column_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// assert_eq!(batch.shape(), (3, 2));
/// assert_eq!(batch[(0, 1)], 4.0); // first feature of the second sample
/// ```
pub type Batch<const N: usize> = OMatrix<f32, Const<N>, Dyn>;

/// Makes `buffer` hold `columns` samples, allocating only when the batch size changes.
///
/// Layers keep their outputs and gradients in buffers they reuse from step to step; this is what
/// keeps a training step free of heap allocations once the batch size is stable. The contents
/// after a resize are zeros; otherwise they are left as they were, to be overwritten.
pub(crate) fn resize_batch<const N: usize>(buffer: &mut Batch<N>, columns: usize) {
    if buffer.ncols() != columns {
        *buffer = Batch::zeros(columns);
    }
}

/// Copies `source` into `destination`, resizing it if the batch size changed.
pub(crate) fn copy_batch<const N: usize>(destination: &mut Batch<N>, source: &Batch<N>) {
    resize_batch(destination, source.ncols());
    destination.copy_from(source);
}

/// `destination = a + b`, resizing it if the batch size changed: one pass where a copy then an
/// addition would take two, on both cores for a large batch. (A residual block's sum took 4% of
/// a resnet training step as a copy and an addition: perf, Intel Xeon model 106.)
///
/// # Panics
/// If `a` and `b` hold different numbers of samples; every caller's batches come from one step.
pub(crate) fn sum_batches<const N: usize>(destination: &mut Batch<N>, a: &Batch<N>, b: &Batch<N>) {
    assert_eq!(a.ncols(), b.ncols(), "sum_batches: batches of different sizes");
    resize_batch(destination, a.ncols());
    let ([a_0, a_1], [b_0, b_1]) = (halves(a.as_slice(), N), halves(b.as_slice(), N));
    let [sum_0, sum_1] = halves_mut(destination.as_mut_slice(), N);
    on_both_cores(a.len(), [(a_0, b_0, sum_0), (a_1, b_1, sum_1)], |(a, b, sum)| {
        sum.iter_mut().zip(a.iter().zip(b)).for_each(|(sum, (&a, &b))| *sum = a + b);
    });
}

/// `Σ term(a[i], b[i])` over two slices of equal length, added in 16 interleaved partial sums
/// that are then added together.
///
/// One running sum is a chain of dependent additions the compiler may not reorder (f32 addition
/// is not associative), so it runs one addition per cycle's latency; sixteen independent lanes
/// become vector additions. The order is fixed by this code, not by the CPU's vector width, so the
/// result is the same on every machine. Batch normalisation's statistics spent 12% of a resnet
/// training step in sequential sums (perf, Intel Xeon model 106).
pub(crate) fn sum_by_lanes(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f32) -> f32 {
    const LANES: usize = 16;
    assert_eq!(a.len(), b.len(), "sum_by_lanes: slices of different lengths");
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let rest = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(&x, &y)| term(x, y));
    let mut lanes = [0.0f32; LANES];
    for (a, b) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            lanes[lane] += term(a[lane], b[lane]);
        }
    }
    lanes.iter().sum::<f32>() + rest.sum::<f32>()
}

/// A statically sized `R × C` f32 matrix on the heap, built without ever being on the stack.
///
/// It dereferences to nalgebra's [`SMatrix`], so every in-place nalgebra operation works on it.
///
/// ```
/// use minitorch::HeapMatrix;
/// let mut weight = HeapMatrix::<512, 784>::zeros(); // 1.6 MB, allocated zeroed on the heap
/// weight[(511, 783)] = 1.0;
/// assert_eq!(weight.sum(), 1.0);
/// ```
pub struct HeapMatrix<const R: usize, const C: usize>(Box<SMatrix<f32, R, C>>);

impl<const R: usize, const C: usize> HeapMatrix<R, C> {
    /// An all-zero matrix, allocated zeroed on the heap.
    pub fn zeros() -> Self {
        Self(bytemuck::zeroed_box())
    }

    /// A matrix whose entries are `f(row, column)`, filled in place.
    pub fn from_fn(mut f: impl FnMut(usize, usize) -> f32) -> Self {
        let mut matrix = Self::zeros();
        for column in 0..C {
            for row in 0..R {
                matrix[(row, column)] = f(row, column);
            }
        }
        matrix
    }
}

/// All zeros, as [`HeapMatrix::zeros`].
impl<const R: usize, const C: usize> Default for HeapMatrix<R, C> {
    fn default() -> Self {
        Self::zeros()
    }
}

impl<const R: usize, const C: usize> Clone for HeapMatrix<R, C> {
    /// Copies into a fresh zeroed allocation: `Box::clone` may build the copy on the stack first.
    fn clone(&self) -> Self {
        let mut copy = Self::zeros();
        copy.copy_from(self);
        copy
    }
}

impl<const R: usize, const C: usize> Deref for HeapMatrix<R, C> {
    type Target = SMatrix<f32, R, C>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<const R: usize, const C: usize> DerefMut for HeapMatrix<R, C> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<const R: usize, const C: usize> fmt::Debug for HeapMatrix<R, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HeapMatrix<{R}, {C}>")
    }
}

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

    fn columns_until(self, end: usize) -> Self {
        Self { columns: end, ..self }
    }

    fn columns_from(self, start: usize) -> Self {
        let pointer = self.pointer.wrapping_offset(start as isize * self.column_stride);
        Self { pointer, columns: self.columns - start, ..self }
    }

    fn rows_until(self, end: usize) -> Self {
        Self { rows: end, ..self }
    }

    fn rows_from(self, start: usize) -> Self {
        let pointer = self.pointer.wrapping_offset(start as isize * self.row_stride);
        Self { pointer, rows: self.rows - start, ..self }
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
}

/// Products smaller than this many multiply-adds stay on one thread. It keeps the mlp's 256 → 10
/// layer (at most 164k at batch 64) whole: for that shape a second thread did not help with any
/// GEMM library measured on this machine (`../shared/notes/performance-facts.md`).
const PARALLEL_MIN_WORK: usize = 64 * 64 * 64;

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
    if m == 0 || n == 0 {
        return;
    }
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
    // nor `b`, which are borrowed shared for the duration of the call.
    unsafe { multiply(target, a, b, accumulate) };
}

/// Where a product goes: a raw, strided, mutable view.
#[derive(Clone, Copy)]
struct Target {
    pointer: *mut f32,
    row_stride: isize,
    column_stride: isize,
}

// SAFETY: a `Target` goes to another thread only as one of two disjoint halves of a destination
// that the caller borrows mutably for the whole call (see `multiply`); an `Operand` is a shared
// borrow of f32s.
unsafe impl Send for Target {}
unsafe impl Send for Operand<'_> {}

/// `target (+)= a · b`, on both cores when the work is large enough: the larger of the
/// product's rows and columns is split in two halves, one per core, each a single-threaded GEMM.
/// One fork per product costs less than the `gemm` crate's own finer-grained parallel schedule.
///
/// # Safety
/// `a` and `b` must chain (`a.columns == b.rows`); `target` must be valid for writes of an
/// `a.rows × b.columns` matrix with its strides, and must not overlap `a` or `b`.
unsafe fn multiply(target: Target, a: Operand<'_>, b: Operand<'_>, accumulate: bool) {
    let (m, n, k) = (a.rows, b.columns, a.columns);
    // A single sample (n = 1) is a matrix-vector product, bound by reading the matrix: waking a
    // second thread costs more than it saves there (measured: 25 µs serial, 36 µs split for the
    // mlp's 784 → 512 layer and the rest of its forward pass).
    if m * n * k < PARALLEL_MIN_WORK || n == 1 {
        // SAFETY: as the caller promised.
        return unsafe { multiply_serial(target, a, b, accumulate) };
    }
    // The two halves of the larger output dimension, as (target, a, b); each half's shape is
    // its operands'.
    let (first, second) = if n >= m {
        let half = n / 2;
        let right = Target {
            pointer: target.pointer.wrapping_offset(half as isize * target.column_stride),
            ..target
        };
        ((target, a, b.columns_until(half)), (right, a, b.columns_from(half)))
    } else {
        let half = m / 2;
        let lower =
            Target { pointer: target.pointer.wrapping_offset(half as isize * target.row_stride), ..target };
        ((target, a.rows_until(half), b), (lower, a.rows_from(half), b))
    };
    // SAFETY (both halves): disjoint ranges of `target`, each with the matching part of `a` or
    // `b`; `join` returns only when both are done, so every borrow outlives the work.
    let run = move |(target, a, b): (Target, Operand<'_>, Operand<'_>)| unsafe {
        multiply_serial(target, a, b, accumulate)
    };
    rayon::join(move || run(first), move || run(second));
}

/// One thread's GEMM, by the `gemm` crate.
///
/// # Safety
/// As [`multiply`].
unsafe fn multiply_serial(target: Target, a: Operand<'_>, b: Operand<'_>, accumulate: bool) {
    // SAFETY: as the caller promised; `a` and `b` describe live shared borrows.
    unsafe {
        gemm_f32::gemm::f32::get_gemm_fn()(
            a.rows,
            b.columns,
            a.columns,
            target.pointer,
            target.column_stride,
            target.row_stride,
            accumulate,
            a.pointer,
            a.column_stride,
            a.row_stride,
            b.pointer,
            b.column_stride,
            b.row_stride,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm_common::Parallelism::None,
        );
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
    fn sum_by_lanes_adds_every_term_on_odd_lengths() {
        // Small integers add exactly in f32, in any order.
        for length in [0, 1, 15, 16, 17, 33, 100] {
            let a: Vec<f32> = (0..length).map(|i| (i % 7) as f32 - 3.0).collect();
            let b: Vec<f32> = (0..length).map(|i| (i % 5) as f32 + 1.0).collect();
            let expected: f32 = a.iter().zip(&b).map(|(x, y)| x * y - 1.0).sum();
            assert_eq!(sum_by_lanes(&a, &b, |x, y| x * y - 1.0), expected, "length {length}");
        }
    }

    #[test]
    #[should_panic(expected = "different lengths")]
    fn sum_by_lanes_refuses_slices_of_different_lengths() {
        sum_by_lanes(&[1.0; 17], &[1.0; 16], |x, y| x + y);
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

    #[test]
    fn empty_inner_dimension_gives_zeros() {
        let a = DMatrix::<f32>::zeros(3, 0);
        let b = DMatrix::<f32>::zeros(0, 2);
        let mut product = DMatrix::from_element(3, 2, 5.0);
        gemm(&mut product, Operand::of(&a), Operand::of(&b), false);
        assert_eq!(product, DMatrix::zeros(3, 2));
    }

    #[test]
    #[should_panic(expected = "cannot multiply")]
    fn mismatched_shapes_are_refused() {
        let a = DMatrix::<f32>::zeros(3, 4);
        let mut product = DMatrix::<f32>::zeros(3, 3);
        gemm(&mut product, Operand::of(&a), Operand::of(&a), false);
    }

    #[test]
    fn large_heap_matrices_never_touch_the_stack() {
        // Runs in a 2 MB test thread; a by-value 1.6 MB matrix here would overflow in debug.
        let mut weight = HeapMatrix::<512, 784>::from_fn(|r, c| (r + c) as f32);
        let copy = weight.clone();
        weight.scale_mut(2.0);
        assert_eq!(copy[(511, 783)], 1294.0);
        assert_eq!(weight[(511, 783)], 2588.0);
    }
}
