//! A fully connected layer.
//!
//! Forward, for a batch `X` (`IN × B`, one column per sample):
//!
//! ```text
//! Y = W·X + b        W: OUT × IN, b: OUT (added to every column)
//! ```
//!
//! Backward, given `G = ∂L/∂Y` (`OUT × B`):
//!
//! ```text
//! ∂L/∂W = G·Xᵀ       ∂L/∂b = Σ_columns G       ∂L/∂X = Wᵀ·G
//! ```
//!
//! Initialisation follows PyTorch's `nn.Linear`: every weight and bias is drawn from
//! `U(−1/√IN, 1/√IN)`.
//!
//! Tests: `tests/gradcheck.rs` (finite differences), `tests/parity.rs` (PyTorch's values),
//! `tests/network.rs` (initialisation).

use std::fmt;

use rand::{Rng, RngExt};

use crate::gemm::{Operand, gemm};
use crate::matrix::resize_batch;
use crate::{Batch, HeapMatrix, Layer, Mode, Param, Parameters};

/// `Y = W·X + b`, mapping `IN` features to `OUT`.
///
/// ```
/// use minitorch::{Batch, Layer, Linear, Mode};
/// use rand::SeedableRng;
/// let mut linear = Linear::<3, 2>::new(&mut rand::rngs::StdRng::seed_from_u64(0));
/// linear.weight.fill(1.0);
/// linear.bias.fill(0.5);
/// let mut output = Batch::<2>::zeros(0);
/// linear.forward(&Batch::<3>::from_column_slice(&[1.0, 2.0, 3.0]), &mut output, Mode::Eval);
/// assert_eq!(output.as_slice(), &[6.5, 6.5]);
/// ```
#[derive(Clone, Parameters)]
pub struct Linear<const IN: usize, const OUT: usize> {
    /// `W`, `OUT × IN` (PyTorch's `weight`, same shape), and `∂L/∂W`.
    pub weight: Param<HeapMatrix<OUT, IN>>,
    /// `b`, `OUT` (PyTorch's `bias`), and `∂L/∂b`.
    pub bias: Param<HeapMatrix<OUT, 1>>,
}

impl<const IN: usize, const OUT: usize> Linear<IN, OUT> {
    /// A layer initialised as PyTorch's `nn.Linear(IN, OUT)`, drawing from `rng`.
    pub fn new(rng: &mut impl Rng) -> Self {
        let bound = 1.0 / (IN as f32).sqrt();
        let mut weight = HeapMatrix::zeros();
        // PyTorch's order (row by row of the `OUT × IN` weight), so a seed's draws land on the
        // same entries whatever the storage order.
        for row in 0..OUT {
            for column in 0..IN {
                weight[(row, column)] = rng.random_range(-bound..bound);
            }
        }
        let bias = HeapMatrix::from_fn(|_, _| rng.random_range(-bound..bound));
        Self { weight: Param::new(weight), bias: Param::new(bias) }
    }

    /// `∂L/∂W += G·Xᵀ` and `∂L/∂b += Σ_columns G`.
    fn accumulate_parameter_gradients(&mut self, input: &Batch<IN>, grad_output: &Batch<OUT>) {
        gemm(&mut *self.weight.gradient, Operand::of(grad_output), Operand::of(input).transposed(), true);
        let bias_gradient = self.bias.gradient.as_mut_slice();
        for column in grad_output.as_slice().chunks_exact(OUT) {
            bias_gradient.iter_mut().zip(column).for_each(|(b, &g)| *b += g);
        }
    }
}

/// The layer's type, not its million numbers.
impl<const IN: usize, const OUT: usize> fmt::Debug for Linear<IN, OUT> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Linear<{IN}, {OUT}>")
    }
}

impl<const IN: usize, const OUT: usize> Layer<IN, OUT> for Linear<IN, OUT> {
    fn forward(&mut self, input: &Batch<IN>, output: &mut Batch<OUT>, _mode: Mode) {
        resize_batch(output, input.ncols());
        for column in output.as_mut_slice().chunks_exact_mut(OUT) {
            column.copy_from_slice(self.bias.as_slice());
        }
        gemm(output, Operand::of(&*self.weight), Operand::of(input), true);
    }

    fn backward(
        &mut self,
        input: &Batch<IN>,
        _output: &Batch<OUT>,
        grad_output: &Batch<OUT>,
        grad_input: &mut Batch<IN>,
    ) {
        self.accumulate_parameter_gradients(input, grad_output);
        resize_batch(grad_input, grad_output.ncols());
        gemm(grad_input, Operand::of(&*self.weight).transposed(), Operand::of(grad_output), false);
    }

    fn backward_parameters(
        &mut self,
        input: &Batch<IN>,
        _output: &Batch<OUT>,
        grad_output: &Batch<OUT>,
        _grad_input: &mut Batch<IN>,
    ) {
        self.accumulate_parameter_gradients(input, grad_output);
    }
}
