//! The rectified linear unit, elementwise.
//!
//! Forward: `y = max(x, 0)`.
//!
//! Backward: `∂L/∂x = ∂L/∂y` where `y > 0`, else `0` (PyTorch's choice of 0 at the kink).

use std::fmt;

use crate::matrix::resize_batch;
use crate::{Batch, Layer, Mode, Parameter, Parameters};

/// `y = max(x, 0)` on `N` features; it has no parameters.
///
/// ```
/// use minitorch::{Batch, Layer, Mode, ReLU};
/// let mut relu = ReLU::<3>::new();
/// let output = relu.forward(&Batch::<3>::from_column_slice(&[-2.0, 0.0, 3.0]), Mode::Train);
/// assert_eq!(output.as_slice(), &[0.0, 0.0, 3.0]);
/// ```
#[derive(Clone, Default)]
pub struct ReLU<const N: usize> {
    output: Batch<N>,
    grad_input: Batch<N>,
}

impl<const N: usize> ReLU<N> {
    /// A ReLU for `N` features.
    pub fn new() -> Self {
        Self { output: Batch::zeros(1), grad_input: Batch::zeros(0) }
    }
}

impl<const N: usize> fmt::Debug for ReLU<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReLU<{N}>")
    }
}

impl<const N: usize> Parameters for ReLU<N> {
    fn visit_parameters(&mut self, _visit: &mut dyn FnMut(Parameter<'_>)) {}

    fn parameter_count(&self) -> usize {
        0
    }
}

impl<const N: usize> Layer<N, N> for ReLU<N> {
    fn forward(&mut self, input: &Batch<N>, _mode: Mode) -> &Batch<N> {
        resize_batch(&mut self.output, input.ncols());
        for (y, &x) in self.output.as_mut_slice().iter_mut().zip(input.as_slice()) {
            *y = x.max(0.0);
        }
        &self.output
    }

    fn output(&self) -> &Batch<N> {
        &self.output
    }

    /// Uses its own output (`y > 0` exactly where `x > 0`), so `input` is not read.
    fn backward(&mut self, _input: &Batch<N>, grad_output: &Batch<N>) -> &Batch<N> {
        resize_batch(&mut self.grad_input, grad_output.ncols());
        let entries =
            self.grad_input.as_mut_slice().iter_mut().zip(grad_output.as_slice()).zip(self.output.as_slice());
        for ((grad_input, &grad), &y) in entries {
            *grad_input = if y > 0.0 { grad } else { 0.0 };
        }
        &self.grad_input
    }
}
