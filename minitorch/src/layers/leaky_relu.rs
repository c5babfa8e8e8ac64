//! The leaky rectified linear unit, element-wise, with negative slope `a` (PyTorch's default
//! 0.01).
//!
//! Forward: `y = x` where `x > 0`, else `a·x`.
//!
//! Backward: `∂L/∂x = ∂L/∂y` where `x > 0`, else `a·∂L/∂y` (PyTorch's choice of `a` at 0).
//!
//! Tests: `tests/gradcheck.rs`, `tests/activations.rs` (PyTorch's values).

use super::{Activation, Elementwise};

/// `y = x` for positive `x`, `a·x` otherwise, on `N` features; it has no parameters.
///
/// ```
/// use minitorch::{Batch, Layer, LeakyReLU, Mode};
/// let mut leaky = LeakyReLU::<2>::with_negative_slope(0.5);
/// let mut output = Batch::zeros(0);
/// leaky.forward(&Batch::<2>::from_column_slice(&[-2.0, 3.0]), &mut output, Mode::Train);
/// assert_eq!(output.as_slice(), &[-1.0, 3.0]);
/// assert_eq!(LeakyReLU::<2>::new().function().negative_slope, 0.01);
/// ```
pub type LeakyReLU<const N: usize> = Activation<LeakyReLUFunction, N>;

/// The leaky rectifier and its derivative, for [`LeakyReLU`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeakyReLUFunction {
    /// `a`, the slope for negative inputs.
    pub negative_slope: f32,
}

/// PyTorch's default slope, 0.01.
impl Default for LeakyReLUFunction {
    fn default() -> Self {
        Self { negative_slope: 0.01 }
    }
}

impl<const N: usize> LeakyReLU<N> {
    /// A leaky ReLU with slope `negative_slope` for negative inputs (`net!`: `LeakyReLU(0.2)`).
    pub fn with_negative_slope(negative_slope: f32) -> Self {
        Self::with_function(LeakyReLUFunction { negative_slope })
    }
}

impl Elementwise for LeakyReLUFunction {
    const NAME: &'static str = "LeakyReLU";

    fn value(&self, x: f32) -> f32 {
        if x > 0.0 { x } else { self.negative_slope * x }
    }

    fn derivative(&self, x: f32, _y: f32) -> f32 {
        if x > 0.0 { 1.0 } else { self.negative_slope }
    }
}
