//! The Gaussian error linear unit, element-wise, in its exact form (PyTorch's default,
//! `approximate='none'`).
//!
//! Forward: `y = x·Φ(x)`, where `Φ(x) = (1 + erf(x/√2)) / 2` is the standard normal
//! distribution function.
//!
//! Backward: `∂L/∂x = (Φ(x) + x·φ(x)) · ∂L/∂y`, where `φ(x) = e^(−x²/2) / √(2π)` is the
//! standard normal density.
//!
//! Tests: `tests/gradcheck.rs`, `tests/activations.rs` (PyTorch's values).

use super::{Activation, Elementwise};

/// `y = x·Φ(x)` on `N` features; it has no parameters.
///
/// ```
/// use minitorch::{Batch, Layer, Mode, GELU};
/// let mut gelu = GELU::<2>::new();
/// let mut output = Batch::zeros(0);
/// gelu.forward(&Batch::<2>::from_column_slice(&[0.0, 1.0]), &mut output, Mode::Train);
/// assert_eq!(output[0], 0.0);
/// assert!((output[1] - 0.841_344_7).abs() < 1e-6);
/// ```
pub type GELU<const N: usize> = Activation<GELUFunction, N>;

/// `x·Φ(x)` and its derivative, for [`GELU`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GELUFunction;

/// `Φ(x)`. The standard library's `erf` is not stable yet; `libm`'s is the one C's libm has.
fn normal_cdf(x: f32) -> f32 {
    0.5 * (1.0 + libm::erff(x * std::f32::consts::FRAC_1_SQRT_2))
}

impl Elementwise for GELUFunction {
    const NAME: &'static str = "GELU";

    fn value(&self, x: f32) -> f32 {
        x * normal_cdf(x)
    }

    fn derivative(&self, x: f32, _y: f32) -> f32 {
        // 1/√(2π)
        const INVERSE_SQRT_TAU: f32 = 0.398_942_3;
        normal_cdf(x) + x * INVERSE_SQRT_TAU * (-0.5 * x * x).exp()
    }
}
