//! A residual block (He et al., 2015): a body whose output is added to its input, or to a
//! shortcut's output when the body changes the shape. `net!` writes one from
//! `Residual(body… )` or `Residual(body… ; shortcut: layers… )`.
//!
//! Forward, with `S` the identity or the shortcut:
//!
//! ```text
//! y = body(x) + S(x)
//! ```
//!
//! Backward: `x` feeds two paths, so its gradient is the **sum** of what each path sends back —
//! the chain rule for a value used twice:
//!
//! ```text
//! ∂L/∂x = body′(x)ᵀ · ∂L/∂y  +  S′(x)ᵀ · ∂L/∂y        (with the identity, S′(x)ᵀ · ∂L/∂y = ∂L/∂y)
//! ```
//!
//! Each path adds its own parameters' gradients as it goes back. The block keeps the body's
//! output and input gradient (and a shortcut's) in buffers reused from step to step, and writes
//! each sum in one pass.
//!
//! In a state dict the block is PyTorch's module with a `body` (`nn.Sequential`) and, when it has
//! one, a `shortcut` (`nn.Sequential`): `3.body.0.weight`, `5.shortcut.1.running_mean`.
//!
//! Tests: `tests/resnet.rs` (PyTorch's values from `tests/fixtures/tiny_resnet.json`, and a fork
//! whose gradients must add up), `tests/gradcheck.rs` (finite differences through blocks).

use std::fmt::Debug;

use crate::matrix::sum_batches;
use crate::{Batch, Error, Layer, Mode, Parameters};

/// The path beside a residual block's body: the [`Identity`], or any layer with the body's
/// input and output widths (a projection such as `Conv2d(16, 32, 1, stride = 2)`).
pub trait Shortcut<const IN: usize, const OUT: usize>: Parameters {
    /// Writes the body's output plus the shortcut's output for `input` into `sum`.
    fn forward_sum(
        &mut self,
        input: &Batch<IN>,
        mode: Mode,
        body_output: &Batch<OUT>,
        buffers: &mut ShortcutBuffers<IN, OUT>,
        sum: &mut Batch<OUT>,
    );

    /// Writes the body's d loss / d input plus the shortcut's into `grad_input`, and adds the
    /// shortcut's parameters' gradients to theirs.
    fn backward_sum(
        &mut self,
        input: &Batch<IN>,
        grad_output: &Batch<OUT>,
        body_grad_input: &Batch<IN>,
        buffers: &mut ShortcutBuffers<IN, OUT>,
        grad_input: &mut Batch<IN>,
    );

    /// Adds its parameters' gradients only, for a block that is the first layer of its network.
    fn backward_parameters(
        &mut self,
        input: &Batch<IN>,
        grad_output: &Batch<OUT>,
        buffers: &mut ShortcutBuffers<IN, OUT>,
    );

    /// Refuses a batch it cannot take, as [`Layer::check_batch`].
    ///
    /// # Errors
    /// The shortcut's layers' reason.
    fn check_batch(&self, samples: usize, mode: Mode) -> Result<(), Error>;
}

/// The output and input gradient of a shortcut made of layers, kept from forward to backward;
/// the [`Identity`] leaves them empty.
#[derive(Clone)]
pub struct ShortcutBuffers<const IN: usize, const OUT: usize> {
    output: Batch<OUT>,
    grad_input: Batch<IN>,
}

impl<const IN: usize, const OUT: usize> Default for ShortcutBuffers<IN, OUT> {
    fn default() -> Self {
        Self { output: Batch::zeros(1), grad_input: Batch::zeros(0) }
    }
}

/// The shortcut of a block whose body keeps the shape: `y = body(x) + x`.
#[derive(Clone, Copy, Debug, Default, Parameters)]
pub struct Identity;

impl<const N: usize> Shortcut<N, N> for Identity {
    fn forward_sum(
        &mut self,
        input: &Batch<N>,
        _mode: Mode,
        body_output: &Batch<N>,
        _buffers: &mut ShortcutBuffers<N, N>,
        sum: &mut Batch<N>,
    ) {
        sum_batches(sum, body_output, input);
    }

    fn backward_sum(
        &mut self,
        _input: &Batch<N>,
        grad_output: &Batch<N>,
        body_grad_input: &Batch<N>,
        _buffers: &mut ShortcutBuffers<N, N>,
        grad_input: &mut Batch<N>,
    ) {
        sum_batches(grad_input, body_grad_input, grad_output);
    }

    fn backward_parameters(
        &mut self,
        _input: &Batch<N>,
        _grad_output: &Batch<N>,
        _buffers: &mut ShortcutBuffers<N, N>,
    ) {
    }

    fn check_batch(&self, _samples: usize, _mode: Mode) -> Result<(), Error> {
        Ok(())
    }
}

impl<const IN: usize, const OUT: usize, L: Layer<IN, OUT>> Shortcut<IN, OUT> for L {
    fn forward_sum(
        &mut self,
        input: &Batch<IN>,
        mode: Mode,
        body_output: &Batch<OUT>,
        buffers: &mut ShortcutBuffers<IN, OUT>,
        sum: &mut Batch<OUT>,
    ) {
        self.forward(input, &mut buffers.output, mode);
        sum_batches(sum, body_output, &buffers.output);
    }

    fn backward_sum(
        &mut self,
        input: &Batch<IN>,
        grad_output: &Batch<OUT>,
        body_grad_input: &Batch<IN>,
        buffers: &mut ShortcutBuffers<IN, OUT>,
        grad_input: &mut Batch<IN>,
    ) {
        self.backward(input, &buffers.output, grad_output, &mut buffers.grad_input);
        sum_batches(grad_input, body_grad_input, &buffers.grad_input);
    }

    fn backward_parameters(
        &mut self,
        input: &Batch<IN>,
        grad_output: &Batch<OUT>,
        buffers: &mut ShortcutBuffers<IN, OUT>,
    ) {
        Layer::backward_parameters(self, input, &buffers.output, grad_output, &mut buffers.grad_input);
    }

    fn check_batch(&self, samples: usize, mode: Mode) -> Result<(), Error> {
        Layer::check_batch(self, samples, mode)
    }
}

/// `y = body(x) + shortcut(x)` from `IN` features to `OUT`, as a layer.
///
/// ```
/// use minitorch::layers::Identity;
/// use minitorch::{Batch, Layer, Linear, Mode, Residual};
/// # use minitorch::rand::{SeedableRng, rngs::StdRng};
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut block = Residual::<2, 2, _, _>::new(Linear::<2, 2>::new(&mut rng), Identity);
/// block.body.weight.fill(0.0);
/// block.body.bias.fill(1.0);
/// let x = Batch::<2>::from_column_slice(&[3.0, 4.0]);
/// let (mut y, mut grad_x) = (Batch::<2>::zeros(0), Batch::<2>::zeros(0));
/// block.forward(&x, &mut y, Mode::Train);
/// assert_eq!(y.as_slice(), &[4.0, 5.0]); // 0·x + 1 + x
/// // The input's gradient is the body's (0) plus the identity's (the output gradient itself).
/// let grad = Batch::<2>::from_column_slice(&[1.0, 2.0]);
/// block.backward(&x, &y, &grad, &mut grad_x);
/// assert_eq!(grad_x.as_slice(), &[1.0, 2.0]);
/// ```
#[derive(Clone, Parameters)]
pub struct Residual<const IN: usize, const OUT: usize, Body, Shortcut = Identity> {
    /// The layers whose output is added to the shortcut's.
    #[module]
    pub body: Body,
    /// The [`Identity`], or the layers that bring the input to the body's output shape.
    #[module]
    pub shortcut: Shortcut,
    body_output: Batch<OUT>,
    body_grad_input: Batch<IN>,
    shortcut_buffers: ShortcutBuffers<IN, OUT>,
}

impl<const IN: usize, const OUT: usize, Body: Layer<IN, OUT>, S: Shortcut<IN, OUT>>
    Residual<IN, OUT, Body, S>
{
    /// A block of `body` and `shortcut`.
    pub fn new(body: Body, shortcut: S) -> Self {
        Self {
            body,
            shortcut,
            body_output: Batch::zeros(1),
            body_grad_input: Batch::zeros(0),
            shortcut_buffers: ShortcutBuffers::default(),
        }
    }
}

impl<const IN: usize, const OUT: usize, Body, S> Layer<IN, OUT> for Residual<IN, OUT, Body, S>
where
    Body: Layer<IN, OUT>,
    S: Shortcut<IN, OUT>,
{
    fn forward(&mut self, input: &Batch<IN>, output: &mut Batch<OUT>, mode: Mode) {
        self.body.forward(input, &mut self.body_output, mode);
        self.shortcut.forward_sum(input, mode, &self.body_output, &mut self.shortcut_buffers, output);
    }

    fn backward(
        &mut self,
        input: &Batch<IN>,
        _output: &Batch<OUT>,
        grad_output: &Batch<OUT>,
        grad_input: &mut Batch<IN>,
    ) {
        self.body.backward(input, &self.body_output, grad_output, &mut self.body_grad_input);
        self.shortcut.backward_sum(
            input,
            grad_output,
            &self.body_grad_input,
            &mut self.shortcut_buffers,
            grad_input,
        );
    }

    fn backward_parameters(
        &mut self,
        input: &Batch<IN>,
        _output: &Batch<OUT>,
        grad_output: &Batch<OUT>,
        _grad_input: &mut Batch<IN>,
    ) {
        self.body.backward_parameters(input, &self.body_output, grad_output, &mut self.body_grad_input);
        self.shortcut.backward_parameters(input, grad_output, &mut self.shortcut_buffers);
    }

    fn check_batch(&self, samples: usize, mode: Mode) -> Result<(), Error> {
        self.body.check_batch(samples, mode)?;
        self.shortcut.check_batch(samples, mode)
    }
}

/// The paths, without the buffers.
impl<const IN: usize, const OUT: usize, Body: Debug, S: Debug> Debug for Residual<IN, OUT, Body, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Residual").field("body", &self.body).field("shortcut", &self.shortcut).finish()
    }
}
