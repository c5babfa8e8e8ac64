//! The hyperbolic tangent, element-wise.
//!
//! Forward: `y = tanh(x)`.
//!
//! Backward: `∂L/∂x = (1 − y²) · ∂L/∂y`.
//!
//! Tests: `tests/gradcheck.rs`, `tests/activations.rs` (PyTorch's values).

use super::{Activation, Elementwise};

/// `y = tanh(x)` on `N` features; it has no parameters.
///
/// ```
/// use minitorch::{Batch, Layer, Mode, Tanh};
/// let mut tanh = Tanh::<2>::new();
/// let mut output = Batch::zeros(0);
/// tanh.forward(&Batch::<2>::from_column_slice(&[0.0, 20.0]), &mut output, Mode::Train);
/// assert_eq!(output.as_slice(), &[0.0, 1.0]);
/// ```
pub type Tanh<const N: usize> = Activation<TanhFunction, N>;

/// `tanh(x)` and its derivative, for [`Tanh`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TanhFunction;

impl Elementwise for TanhFunction {
    const NAME: &'static str = "Tanh";

    fn value(&self, x: f32) -> f32 {
        x.tanh()
    }

    fn derivative(&self, _x: f32, y: f32) -> f32 {
        1.0 - y * y
    }
}
