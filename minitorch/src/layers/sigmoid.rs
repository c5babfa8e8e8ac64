//! The logistic sigmoid, element-wise.
//!
//! Forward: `y = σ(x) = 1 / (1 + e⁻ˣ)`.
//!
//! Backward: `∂L/∂x = y·(1 − y) · ∂L/∂y`.
//!
//! Tests: `tests/gradcheck.rs`, `tests/activations.rs` (PyTorch's values).

use super::{Activation, Elementwise};

/// `y = 1 / (1 + e⁻ˣ)` on `N` features; it has no parameters.
///
/// ```
/// use minitorch::{Batch, Layer, Mode, Sigmoid};
/// let mut sigmoid = Sigmoid::<1>::new();
/// let mut output = Batch::zeros(0);
/// sigmoid.forward(&Batch::<1>::from_column_slice(&[0.0]), &mut output, Mode::Train);
/// assert_eq!(output[0], 0.5);
/// ```
pub type Sigmoid<const N: usize> = Activation<SigmoidFunction, N>;

/// `σ(x)` and its derivative, for [`Sigmoid`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SigmoidFunction;

impl Elementwise for SigmoidFunction {
    const NAME: &'static str = "Sigmoid";

    /// Written so that `e^|x|` never overflows: for negative `x`, `σ(x) = eˣ / (1 + eˣ)`.
    fn value(&self, x: f32) -> f32 {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            let e = x.exp();
            e / (1.0 + e)
        }
    }

    fn derivative(&self, _x: f32, y: f32) -> f32 {
        y * (1.0 - y)
    }
}
