//! A trainable tensor as a layer owns it: its value, its gradient and its shape, in one field.
//!
//! A layer declares its parameters as `Param` fields named as PyTorch names them (`weight`,
//! `bias`) and derives [`Parameters`](trait@crate::Parameters): the derive hands each field to
//! optimisers and checkpoints under its field name. What they see of it is a
//! [`Parameter`], a borrowed view.
//!
//! Tests: `tests/derive.rs` (what the derive finds, names and counts), and every layer's tests.

use std::ops::{Deref, DerefMut};

use nalgebra::{Const, Dyn};

use crate::layers::ModulePath;
use crate::{Batch, HeapMatrix, Parameter};

/// A matrix that can be a parameter's value: its shape, its numbers in nalgebra's column-major
/// order, and a zero matrix of the same shape for its gradient.
pub trait Tensor: Clone {
    /// `(rows, columns)`.
    fn shape(&self) -> (usize, usize);
    /// The numbers, column-major.
    fn values_mut(&mut self) -> &mut [f32];
    /// A matrix of zeros of the same shape.
    fn zeros_like(&self) -> Self;
}

impl<const R: usize, const C: usize> Tensor for HeapMatrix<R, C> {
    fn shape(&self) -> (usize, usize) {
        (R, C)
    }

    fn values_mut(&mut self) -> &mut [f32] {
        self.as_mut_slice()
    }

    fn zeros_like(&self) -> Self {
        HeapMatrix::zeros()
    }
}

/// A matrix whose column count is known only at run time (a convolution's weight has
/// `C_in·K·K` columns, which stable Rust cannot write as a type).
impl<const R: usize> Tensor for Batch<R> {
    fn shape(&self) -> (usize, usize) {
        (R, self.ncols())
    }

    fn values_mut(&mut self) -> &mut [f32] {
        self.as_mut_slice()
    }

    fn zeros_like(&self) -> Self {
        nalgebra::Matrix::zeros_generic(Const::<R>, Dyn(self.ncols()))
    }
}

/// A trainable tensor: its value, and `∂L/∂value` accumulated by backward passes since the last
/// `zero_grad`. It dereferences to its value, so `layer.weight[(i, j)]` reads a weight.
///
/// ```
/// use minitorch::{HeapMatrix, Param};
/// let mut slopes = Param::new(HeapMatrix::<3, 1>::from_fn(|_, _| 0.25));
/// slopes.gradient[2] += 1.0;
/// assert_eq!((slopes[0], slopes.gradient[2], slopes.len()), (0.25, 1.0, 3));
/// ```
#[derive(Clone, Debug)]
pub struct Param<T> {
    /// The value.
    pub value: T,
    /// `∂L/∂value`, accumulated.
    pub gradient: T,
    pytorch_shape: Option<&'static [usize]>,
}

impl<T: Tensor> Param<T> {
    /// A parameter with this value and a zero gradient.
    pub fn new(value: T) -> Self {
        Self { gradient: value.zeros_like(), value, pytorch_shape: None }
    }

    /// A parameter whose PyTorch shape is not `[rows, columns]`: a convolution's weight is
    /// `[out, in, kh, kw]`, its rows `out` and its columns running over `in, kh, kw`.
    pub fn with_pytorch_shape(value: T, pytorch_shape: &'static [usize]) -> Self {
        Self { pytorch_shape: Some(pytorch_shape), ..Self::new(value) }
    }

    /// How many numbers it holds.
    #[allow(clippy::len_without_is_empty)] // a parameter is never empty
    pub fn len(&self) -> usize {
        let (rows, columns) = self.value.shape();
        rows * columns
    }

    /// The view an optimiser or a checkpoint sees, under `name` (the field's name, given by the
    /// derive of [`Parameters`](trait@crate::Parameters)).
    pub fn view(&mut self, name: &'static str) -> Parameter<'_> {
        let (rows, columns) = self.value.shape();
        Parameter {
            path: ModulePath::default(),
            name,
            rows,
            columns,
            pytorch_shape: self.pytorch_shape,
            value: self.value.values_mut(),
            gradient: self.gradient.values_mut(),
        }
    }
}

/// A parameter of zeros (a bias's usual start), with a zero gradient.
impl<T: Tensor + Default> Default for Param<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T> Deref for Param<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Param<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}
