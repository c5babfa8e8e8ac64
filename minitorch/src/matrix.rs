//! The matrix types every layer shares.
//!
//! - [`Batch<N>`] is an activation: `N` features (a type-level constant) × a batch of samples
//!   chosen at run time, one column per sample, column-major, on the heap.
//! - [`HeapMatrix<R, C>`] is a statically sized parameter matrix that lives on the heap. A
//!   `512 × 784` f32 matrix is 1.6 MB; building one by value (even as a temporary inside
//!   `Box::new`) overflows a 2 MB test thread in a debug build, so these are allocated zeroed
//!   directly on the heap and only ever changed in place.
//!
//! The layers multiply these with `crate::gemm`, on their raw storage: nalgebra's own products
//! on static × static or transposed operands are 7–8× slower on our shapes (see `README.md`,
//! "Performance").

use std::fmt;
use std::ops::{Deref, DerefMut};

use nalgebra::{Const, Dyn, OMatrix, SMatrix};

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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn large_heap_matrices_never_touch_the_stack() {
        // Runs in a 2 MB test thread; a by-value 1.6 MB matrix here would overflow in debug.
        let mut weight = HeapMatrix::<512, 784>::from_fn(|r, c| (r + c) as f32);
        let copy = weight.clone();
        weight.scale_mut(2.0);
        assert_eq!(copy[(511, 783)], 1294.0);
        assert_eq!(weight[(511, 783)], 2588.0);
    }
}
