//! The rectified linear unit, element-wise.
//!
//! Forward: `y = max(x, 0)`.
//!
//! Backward: `∂L/∂x = ∂L/∂y` where `x > 0`, else `0` (PyTorch's choice of 0 at the kink).
//!
//! Tests: `tests/gradcheck.rs`, `tests/activations.rs` (PyTorch's values).

use super::{Activation, Elementwise};

/// `y = max(x, 0)` on `N` features; it has no parameters.
///
/// ```
/// use minitorch::{Batch, Layer, Mode, ReLU};
/// let mut relu = ReLU::<3>::new();
/// let mut output = Batch::zeros(0);
/// relu.forward(&Batch::<3>::from_column_slice(&[-2.0, 0.0, 3.0]), &mut output, Mode::Train);
/// assert_eq!(output.as_slice(), &[0.0, 0.0, 3.0]);
/// ```
pub type ReLU<const N: usize> = Activation<ReLUFunction, N>;

/// `max(x, 0)` and its derivative, for [`ReLU`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReLUFunction;

impl Elementwise for ReLUFunction {
    const NAME: &'static str = "ReLU";

    fn value(&self, x: f32) -> f32 {
        x.max(0.0)
    }

    /// From the output: `y > 0` exactly where `x > 0`.
    fn derivative(&self, _x: f32, y: f32) -> f32 {
        if y > 0.0 { 1.0 } else { 0.0 }
    }
}
