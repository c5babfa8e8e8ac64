//! What every element-wise activation shares: the layer around a function and its derivative.
//!
//! Forward, for each entry: `y = f(x)`.
//!
//! Backward, for each entry: `∂L/∂x = f'(x) · ∂L/∂y` (the chain rule; no parameters).
//!
//! Each activation's file gives its `f` and `f'`; tests: `tests/gradcheck.rs` (finite
//! differences) and `tests/activations.rs` (values computed with PyTorch).

use std::fmt;

use rand::Rng;

use crate::matrix::resize_batch;
use crate::{Batch, Initialize, Layer, Mode, Parameters};

/// A function applied to every entry, with its derivative: what makes an activation.
///
/// Implement it for your own activation and use it as `Activation<YourFunction, N>`:
///
/// ```
/// use minitorch::{Activation, Batch, Elementwise, Layer, Mode};
/// /// `y = x²`, `dy/dx = 2x`.
/// #[derive(Clone, Copy, Debug, Default)]
/// struct Square;
/// impl Elementwise for Square {
///     const NAME: &'static str = "Square";
///     fn value(&self, x: f32) -> f32 { x * x }
///     fn derivative(&self, x: f32, _y: f32) -> f32 { 2.0 * x }
/// }
/// let mut square = Activation::<Square, 2>::new();
/// let input = Batch::<2>::from_column_slice(&[3.0, -1.0]);
/// assert_eq!(square.forward(&input, Mode::Train).as_slice(), &[9.0, 1.0]);
/// let ones = Batch::<2>::from_column_slice(&[1.0, 1.0]);
/// assert_eq!(square.backward(&input, &ones).as_slice(), &[6.0, -2.0]);
/// ```
pub trait Elementwise: Clone + fmt::Debug {
    /// The layer's name, as `net!` and PyTorch write it.
    const NAME: &'static str;

    /// `f(x)`.
    fn value(&self, x: f32) -> f32;

    /// `f'(x)`, given also `y = f(x)`: many derivatives are cheapest from the output (for the
    /// sigmoid, `y·(1 − y)`).
    fn derivative(&self, x: f32, y: f32) -> f32;
}

/// The layer that applies `F` to each of `N` features; it has no parameters.
#[derive(Clone, Parameters)]
pub struct Activation<F, const N: usize> {
    function: F,
    output: Batch<N>,
    grad_input: Batch<N>,
}

impl<F: Elementwise, const N: usize> Activation<F, N> {
    /// The layer around `function`.
    pub fn with_function(function: F) -> Self {
        Self { function, output: Batch::zeros(1), grad_input: Batch::zeros(0) }
    }

    /// The function this layer applies.
    pub fn function(&self) -> &F {
        &self.function
    }
}

impl<F: Elementwise + Default, const N: usize> Activation<F, N> {
    /// The layer around the function's default (PyTorch's defaults for built-ins).
    pub fn new() -> Self {
        Self::with_function(F::default())
    }
}

/// So that your own activation can be named in `net!`: `Activation<Square, 64>: 64 -> 64`.
impl<F: Elementwise + Default, const N: usize> Initialize for Activation<F, N> {
    fn initialize(_rng: &mut impl Rng) -> Self {
        Self::new()
    }
}

impl<F: Elementwise + Default, const N: usize> Default for Activation<F, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<F: Elementwise, const N: usize> fmt::Debug for Activation<F, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}<{N}>", F::NAME)
    }
}

impl<F: Elementwise, const N: usize> Layer<N, N> for Activation<F, N> {
    fn forward(&mut self, input: &Batch<N>, _mode: Mode) -> &Batch<N> {
        resize_batch(&mut self.output, input.ncols());
        for (y, &x) in self.output.as_mut_slice().iter_mut().zip(input.as_slice()) {
            *y = self.function.value(x);
        }
        &self.output
    }

    fn output(&self) -> &Batch<N> {
        &self.output
    }

    fn backward(&mut self, input: &Batch<N>, grad_output: &Batch<N>) -> &Batch<N> {
        resize_batch(&mut self.grad_input, grad_output.ncols());
        let entries = self
            .grad_input
            .as_mut_slice()
            .iter_mut()
            .zip(grad_output.as_slice())
            .zip(input.as_slice().iter().zip(self.output.as_slice()));
        for ((grad_input, &grad), (&x, &y)) in entries {
            *grad_input = self.function.derivative(x, y) * grad;
        }
        &self.grad_input
    }
}
