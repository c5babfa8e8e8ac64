//! Batch normalisation over the batch dimension, per feature (PyTorch's `nn.BatchNorm1d`).
//!
//! Forward in training, for each feature over the `B` samples of the batch:
//!
//! ```text
//! μ = (1/B) Σ x         σ² = (1/B) Σ (x − μ)²        (biased, to normalise)
//! x̂ = (x − μ) / √(σ² + ε)
//! y = γ·x̂ + β
//! running_mean ← (1 − m)·running_mean + m·μ
//! running_var  ← (1 − m)·running_var  + m·σ²·B/(B − 1)   (unbiased)
//! ```
//!
//! with `ε = 1e-5`, `m = 0.1`. In evaluation, `μ` and `σ²` are the running statistics and
//! nothing is updated.
//!
//! Backward, given `g = ∂L/∂y`, sums over the batch:
//!
//! ```text
//! ∂L/∂β = Σ g        ∂L/∂γ = Σ g·x̂
//! ∂L/∂x = γ / (B·√(σ² + ε)) · (B·g − Σ g − x̂·Σ g·x̂)      (training: μ, σ² depend on x)
//! ∂L/∂x = γ / √(running_var + ε) · g                        (evaluation: an affine map)
//! ```
//!
//! Tests: `tests/gradcheck.rs` (finite differences in both modes), `tests/parity.rs` (PyTorch's
//! values and running statistics), `tests/network.rs` (batch-size errors).

use std::fmt;

use crate::matrix::resize_batch;
use crate::{Batch, Buffer, BufferValue, Error, HeapMatrix, Layer, Mode, Parameter, Parameters};

/// PyTorch's default `eps`.
pub const EPSILON: f32 = 1e-5;
/// PyTorch's default `momentum` for the running statistics.
pub const MOMENTUM: f32 = 0.1;

/// Normalises each of `N` features over the batch, then scales by `γ` and shifts by `β`.
///
/// ```
/// use minitorch::{Batch, BatchNorm1d, Layer, Mode};
/// let mut norm = BatchNorm1d::<1>::new();
/// let output = norm.forward(&Batch::<1>::from_column_slice(&[1.0, 3.0]), Mode::Train);
/// assert!((output[0] + 1.0).abs() < 1e-4 && (output[1] - 1.0).abs() < 1e-4);
/// // running mean moved 10% of the way to the batch mean 2; running variance towards 2 (unbiased)
/// assert!((norm.running_mean[0] - 0.2).abs() < 1e-6);
/// assert!((norm.running_var[0] - 1.1).abs() < 1e-6);
/// ```
#[derive(Clone)]
pub struct BatchNorm1d<const N: usize> {
    /// `γ` (PyTorch's `weight`), initially 1.
    pub weight: HeapMatrix<N, 1>,
    /// `β` (PyTorch's `bias`), initially 0.
    pub bias: HeapMatrix<N, 1>,
    /// `∂L/∂γ`, accumulated.
    pub weight_gradient: HeapMatrix<N, 1>,
    /// `∂L/∂β`, accumulated.
    pub bias_gradient: HeapMatrix<N, 1>,
    /// Running mean used in evaluation, initially 0.
    pub running_mean: HeapMatrix<N, 1>,
    /// Running (unbiased) variance used in evaluation, initially 1.
    pub running_var: HeapMatrix<N, 1>,
    /// How many training batches updated the running statistics.
    pub num_batches_tracked: u64,
    /// `x̂` of the last forward.
    normalized: Batch<N>,
    /// `1/√(σ² + ε)` of the last forward.
    inverse_std: HeapMatrix<N, 1>,
    /// Scratch: batch mean, then `Σ g`.
    sum: HeapMatrix<N, 1>,
    /// Scratch: `Σ g·x̂`.
    sum_product: HeapMatrix<N, 1>,
    last_mode: Mode,
    output: Batch<N>,
    grad_input: Batch<N>,
}

impl<const N: usize> Default for BatchNorm1d<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> BatchNorm1d<N> {
    /// A layer initialised as PyTorch's `nn.BatchNorm1d(N)`: `γ = 1`, `β = 0`, running mean 0,
    /// running variance 1.
    pub fn new() -> Self {
        Self {
            weight: HeapMatrix::from_fn(|_, _| 1.0),
            bias: HeapMatrix::zeros(),
            weight_gradient: HeapMatrix::zeros(),
            bias_gradient: HeapMatrix::zeros(),
            running_mean: HeapMatrix::zeros(),
            running_var: HeapMatrix::from_fn(|_, _| 1.0),
            num_batches_tracked: 0,
            normalized: Batch::zeros(1),
            inverse_std: HeapMatrix::zeros(),
            sum: HeapMatrix::zeros(),
            sum_product: HeapMatrix::zeros(),
            last_mode: Mode::Eval,
            output: Batch::zeros(1),
            grad_input: Batch::zeros(0),
        }
    }

    /// Sets `sum` to the batch mean and `inverse_std` from the biased batch variance, and updates
    /// the running statistics.
    fn batch_statistics(&mut self, input: &Batch<N>) {
        let batch = input.ncols() as f32;
        let mean = self.sum.as_mut_slice();
        mean.fill(0.0);
        for column in input.as_slice().chunks_exact(N) {
            mean.iter_mut().zip(column).for_each(|(m, &x)| *m += x);
        }
        mean.iter_mut().for_each(|m| *m /= batch);
        // The variance goes through `inverse_std` before it becomes one.
        let variance = self.inverse_std.as_mut_slice();
        variance.fill(0.0);
        for column in input.as_slice().chunks_exact(N) {
            for ((v, &m), &x) in variance.iter_mut().zip(&*mean).zip(column) {
                *v += (x - m) * (x - m);
            }
        }
        variance.iter_mut().for_each(|v| *v /= batch);

        let unbiased = batch / (batch - 1.0);
        for (running, &m) in self.running_mean.iter_mut().zip(&*mean) {
            *running = (1.0 - MOMENTUM) * *running + MOMENTUM * m;
        }
        for (running, &v) in self.running_var.iter_mut().zip(&*variance) {
            *running = (1.0 - MOMENTUM) * *running + MOMENTUM * v * unbiased;
        }
        self.num_batches_tracked += 1;
        variance.iter_mut().for_each(|v| *v = 1.0 / (*v + EPSILON).sqrt());
    }
}

impl<const N: usize> fmt::Debug for BatchNorm1d<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BatchNorm1d<{N}> {{ num_batches_tracked: {} }}", self.num_batches_tracked)
    }
}

impl<const N: usize> Parameters for BatchNorm1d<N> {
    fn visit_parameters(&mut self, visit: &mut dyn FnMut(Parameter<'_>)) {
        visit(Parameter {
            layer: 0,
            name: "weight",
            rows: N,
            columns: 1,
            value: self.weight.as_mut_slice(),
            gradient: self.weight_gradient.as_mut_slice(),
        });
        visit(Parameter {
            layer: 0,
            name: "bias",
            rows: N,
            columns: 1,
            value: self.bias.as_mut_slice(),
            gradient: self.bias_gradient.as_mut_slice(),
        });
    }

    fn parameter_count(&self) -> usize {
        2 * N
    }

    fn visit_buffers(&mut self, visit: &mut dyn FnMut(Buffer<'_>)) {
        let buffers = [
            ("running_mean", BufferValue::Vector(self.running_mean.as_mut_slice())),
            ("running_var", BufferValue::Vector(self.running_var.as_mut_slice())),
            ("num_batches_tracked", BufferValue::Count(&mut self.num_batches_tracked)),
        ];
        for (name, value) in buffers {
            visit(Buffer { layer: 0, name, value });
        }
    }
}

impl<const N: usize> Layer<N, N> for BatchNorm1d<N> {
    fn check_batch(&self, samples: usize, mode: Mode) -> Result<(), Error> {
        if mode == Mode::Train && samples < 2 {
            return Err(Error::BatchTooSmallForBatchNorm { samples });
        }
        Ok(())
    }

    /// # Panics
    /// In training with fewer than 2 samples, where the variance is undefined (PyTorch raises
    /// too). A network's `forward` asks [`Layer::check_batch`] first and returns its error.
    fn forward(&mut self, input: &Batch<N>, mode: Mode) -> &Batch<N> {
        self.last_mode = mode;
        match mode {
            Mode::Train => {
                assert!(input.ncols() >= 2, "BatchNorm1d needs at least 2 samples in training");
                self.batch_statistics(input);
            }
            Mode::Eval => {
                self.sum.copy_from(&*self.running_mean);
                for (s, &v) in self.inverse_std.iter_mut().zip(self.running_var.iter()) {
                    *s = 1.0 / (v + EPSILON).sqrt();
                }
            }
        }
        resize_batch(&mut self.normalized, input.ncols());
        resize_batch(&mut self.output, input.ncols());
        let columns = input
            .as_slice()
            .chunks_exact(N)
            .zip(self.normalized.as_mut_slice().chunks_exact_mut(N))
            .zip(self.output.as_mut_slice().chunks_exact_mut(N));
        for ((x, x_hat), y) in columns {
            for i in 0..N {
                x_hat[i] = (x[i] - self.sum[i]) * self.inverse_std[i];
                y[i] = self.weight[i] * x_hat[i] + self.bias[i];
            }
        }
        &self.output
    }

    fn output(&self) -> &Batch<N> {
        &self.output
    }

    fn backward(&mut self, _input: &Batch<N>, grad_output: &Batch<N>) -> &Batch<N> {
        self.backward_parameters(_input, grad_output);
        let batch = grad_output.ncols() as f32;
        resize_batch(&mut self.grad_input, grad_output.ncols());
        let columns = grad_output
            .as_slice()
            .chunks_exact(N)
            .zip(self.normalized.as_slice().chunks_exact(N))
            .zip(self.grad_input.as_mut_slice().chunks_exact_mut(N));
        for ((g, x_hat), dx) in columns {
            for i in 0..N {
                let scale = self.weight[i] * self.inverse_std[i];
                dx[i] = match self.last_mode {
                    Mode::Train => {
                        scale / batch * (batch * g[i] - self.sum[i] - x_hat[i] * self.sum_product[i])
                    }
                    Mode::Eval => scale * g[i],
                };
            }
        }
        &self.grad_input
    }

    /// Also leaves `Σ g` and `Σ g·x̂` of this batch in the scratch vectors for `backward`.
    fn backward_parameters(&mut self, _input: &Batch<N>, grad_output: &Batch<N>) {
        self.sum.fill(0.0);
        self.sum_product.fill(0.0);
        let columns = grad_output.as_slice().chunks_exact(N).zip(self.normalized.as_slice().chunks_exact(N));
        for (g, x_hat) in columns {
            for i in 0..N {
                self.sum[i] += g[i];
                self.sum_product[i] += g[i] * x_hat[i];
            }
        }
        *self.bias_gradient += &*self.sum;
        *self.weight_gradient += &*self.sum_product;
    }
}
