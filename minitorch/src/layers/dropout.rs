//! Inverted dropout, elementwise.
//!
//! Forward in training, with a fresh keep mask `m` (each entry kept with probability `1 − p`):
//!
//! ```text
//! y = x ⊙ m / (1 − p)
//! ```
//!
//! and `y = x` in evaluation. Scaling the kept values in training, rather than scaling everything
//! in evaluation, is what PyTorch does: inference then costs nothing.
//!
//! Backward: `∂L/∂x = ∂L/∂y ⊙ m / (1 − p)` in training, `∂L/∂x = ∂L/∂y` in evaluation.
//!
//! Tests: `tests/gradcheck.rs` (finite differences), `tests/network.rs` (drop rate, scale, modes),
//! `tests/training.rs` (a resumed run draws the same masks). PyTorch draws its masks from its own
//! generator, so `tests/parity.rs` puts PyTorch's mask in a layer of its own in this one's place.

use std::fmt;

use rand::Rng;

use crate::matrix::resize_batch;
use crate::{Batch, Layer, Mode, Parameters};

/// Zeroes each of `N` features with probability `p` in training and scales the rest by
/// `1/(1 − p)`; the identity in evaluation.
///
/// The layer draws its masks from its own generator, seeded from the generator it was built
/// with, so one seed fixes every mask of a run. The generator is SplitMix64, whose whole state
/// is one 64-bit number that a training checkpoint keeps ([`Parameters::visit_random_state`]).
///
/// ```
/// use minitorch::{Batch, Dropout, Layer, Mode};
/// use rand::SeedableRng;
/// let mut dropout = Dropout::<1000>::new(0.2, &mut rand::rngs::StdRng::seed_from_u64(0));
/// let ones = Batch::<1000>::from_element(1, 1.0);
/// let mut output = Batch::<1000>::zeros(0);
/// dropout.forward(&ones, &mut output, Mode::Train);
/// let kept = output.iter().filter(|&&y| y != 0.0).count();
/// assert!((750..850).contains(&kept));
/// assert!(output.iter().all(|&y| y == 0.0 || y == 1.25));
/// dropout.forward(&ones, &mut output, Mode::Eval);
/// assert_eq!(output, ones);
/// ```
#[derive(Clone, Parameters)]
pub struct Dropout<const N: usize> {
    probability: f32,
    /// `m / (1 − p)`: 0 where dropped, `1/(1 − p)` where kept.
    scaled_mask: Batch<N>,
    /// The SplitMix64 state.
    #[random_state]
    generator: u64,
    last_mode: Mode,
}

impl<const N: usize> Dropout<N> {
    /// Dropout with drop probability `probability`, seeding its mask generator from `rng`.
    ///
    /// # Panics
    /// If `probability` is not in `[0, 1)`. (`net!` checks this at compile time.)
    pub fn new(probability: f32, rng: &mut impl Rng) -> Self {
        assert!(
            (0.0..1.0).contains(&probability),
            "Dropout probability must be in [0, 1), got {probability}"
        );
        Self { probability, scaled_mask: Batch::zeros(0), generator: rng.next_u64(), last_mode: Mode::Eval }
    }

    /// The drop probability `p`.
    pub fn probability(&self) -> f32 {
        self.probability
    }

    fn draw_mask(&mut self, columns: usize) {
        resize_batch(&mut self.scaled_mask, columns);
        // Kept when a uniform 32-bit number is at least p·2³², i.e. with probability 1 − p.
        // Each 64-bit draw gives two such numbers.
        let threshold = (f64::from(self.probability) * 4_294_967_296.0) as u64;
        let scale = 1.0 / (1.0 - self.probability);
        let keep = |bits: u64| if bits >= threshold { scale } else { 0.0 };
        let mut pairs = self.scaled_mask.as_mut_slice().chunks_exact_mut(2);
        for pair in &mut pairs {
            let bits = split_mix_64(&mut self.generator);
            pair[0] = keep(bits & 0xffff_ffff);
            pair[1] = keep(bits >> 32);
        }
        for last in pairs.into_remainder() {
            *last = keep(split_mix_64(&mut self.generator) >> 32);
        }
    }
}

/// The next 64 random bits of SplitMix64 (Steele, Lea and Flood, 2014): a Weyl sequence through
/// a mixing function; fast, and statistically sound for masks.
fn split_mix_64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl<const N: usize> fmt::Debug for Dropout<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Dropout<{N}>({})", self.probability)
    }
}

impl<const N: usize> Layer<N, N> for Dropout<N> {
    fn forward(&mut self, input: &Batch<N>, output: &mut Batch<N>, mode: Mode) {
        self.last_mode = mode;
        resize_batch(output, input.ncols());
        if mode == Mode::Eval || self.probability == 0.0 {
            output.copy_from(input);
            return;
        }
        self.draw_mask(input.ncols());
        let entries = output.as_mut_slice().iter_mut().zip(input.as_slice()).zip(self.scaled_mask.as_slice());
        for ((y, &x), &m) in entries {
            *y = x * m;
        }
    }

    fn backward(
        &mut self,
        _input: &Batch<N>,
        _output: &Batch<N>,
        grad_output: &Batch<N>,
        grad_input: &mut Batch<N>,
    ) {
        resize_batch(grad_input, grad_output.ncols());
        if self.last_mode == Mode::Eval || self.probability == 0.0 {
            grad_input.copy_from(grad_output);
            return;
        }
        let entries =
            grad_input.as_mut_slice().iter_mut().zip(grad_output.as_slice()).zip(self.scaled_mask.as_slice());
        for ((grad_input, &grad), &m) in entries {
            *grad_input = grad * m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_mix_64;

    /// The first outputs of SplitMix64 seeded with 1234567, as published with the algorithm's
    /// reference implementation.
    #[test]
    fn split_mix_64_is_the_published_generator() {
        let mut state = 1_234_567;
        let outputs: Vec<u64> = (0..5).map(|_| split_mix_64(&mut state)).collect();
        let expected = [
            6_457_827_717_110_365_317,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423,
            4_593_380_528_125_082_431,
            16_408_922_859_458_223_821,
        ];
        assert_eq!(outputs, expected);
    }
}
