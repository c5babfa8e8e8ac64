//! What every element-wise activation shares: the layer around a function and its derivative.
//!
//! Forward, for each entry: `y = f(x)`.
//!
//! Backward, for each entry: `∂L/∂x = f'(x) · ∂L/∂y` (the chain rule; no parameters).
//!
//! A large batch is split between the two cores, each applying `f` (or `f'`) to half the
//! samples.
//!
//! Each activation's file gives its `f` and `f'`; tests: `tests/gradcheck.rs` (finite
//! differences), `tests/activations.rs` (values computed with PyTorch) and
//! `tests/large_batches.rs` (a batch split between the cores).

use std::fmt;

use rand::Rng;

use crate::matrix::resize_batch;
use crate::parallel::{halves, halves_mut, on_both_cores};
use crate::{Batch, Initialize, Layer, Mode, Parameters};

/// A function applied to every entry, with its derivative: what makes an activation. It is
/// `Sync` because both cores apply it to a large batch.
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
/// let (mut output, mut grad_input) = (Batch::<2>::zeros(0), Batch::<2>::zeros(0));
/// square.forward(&input, &mut output, Mode::Train);
/// assert_eq!(output.as_slice(), &[9.0, 1.0]);
/// let ones = Batch::<2>::from_column_slice(&[1.0, 1.0]);
/// square.backward(&input, &output, &ones, &mut grad_input);
/// assert_eq!(grad_input.as_slice(), &[6.0, -2.0]);
/// ```
pub trait Elementwise: Clone + fmt::Debug + Sync {
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
}

impl<F: Elementwise, const N: usize> Activation<F, N> {
    /// The layer around `function`.
    pub fn with_function(function: F) -> Self {
        Self { function }
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
    fn forward(&mut self, input: &Batch<N>, output: &mut Batch<N>, _mode: Mode) {
        resize_batch(output, input.ncols());
        let function = &self.function;
        let [x_0, x_1] = halves(input.as_slice(), N);
        let [y_0, y_1] = halves_mut(output.as_mut_slice(), N);
        on_both_cores(input.len(), [(x_0, y_0), (x_1, y_1)], |(x, y)| {
            y.iter_mut().zip(x).for_each(|(y, &x)| *y = function.value(x));
        });
    }

    fn backward(
        &mut self,
        input: &Batch<N>,
        output: &Batch<N>,
        grad_output: &Batch<N>,
        grad_input: &mut Batch<N>,
    ) {
        resize_batch(grad_input, grad_output.ncols());
        let function = &self.function;
        let [g_0, g_1] = halves(grad_output.as_slice(), N);
        let [x_0, x_1] = halves(input.as_slice(), N);
        let [y_0, y_1] = halves(output.as_slice(), N);
        let [dx_0, dx_1] = halves_mut(grad_input.as_mut_slice(), N);
        on_both_cores(input.len(), [(g_0, x_0, y_0, dx_0), (g_1, x_1, y_1, dx_1)], |(g, x, y, dx)| {
            let entries = dx.iter_mut().zip(g).zip(x.iter().zip(y));
            entries.for_each(|((dx, &g), (&x, &y))| *dx = function.derivative(x, y) * g);
        });
    }
}
