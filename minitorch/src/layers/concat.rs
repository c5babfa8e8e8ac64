//! Concatenation (the Inception and DenseNet pattern): every branch takes the same input, and
//! their outputs are joined in order. `net!` writes one from `Concat(branch… ; branch… ; …)`.
//!
//! An image is one column of `channels · height · width` numbers in channel-major order, so
//! joining images along channels (when heights and widths agree) and joining flat features are
//! the same thing here: each sample's column is branch 0's column, then branch 1's, and so on.
//!
//! Forward, with `B_k` the branches and `O_k` their widths:
//!
//! ```text
//! y = [B_0(x); B_1(x); …]        y[O_0 + … + O_(k−1) + i] = B_k(x)[i]
//! ```
//!
//! Backward: branch `k` gets its own rows of the output gradient, and `x`, which feeds every
//! branch, gets the **sum** of what they send back:
//!
//! ```text
//! ∂L/∂B_k(x) = rows O_0 + … + O_(k−1) ..< O_0 + … + O_k of ∂L/∂y
//! ∂L/∂x      = Σ_k B_k′(x)ᵀ · ∂L/∂B_k(x)
//! ```
//!
//! In a state dict the block is PyTorch's module holding `branches`, an `nn.ModuleList` of
//! `nn.Sequential`: `6.branches.1.0.weight` is the first layer of the second branch.
//!
//! Tests: `tests/resnet.rs` (PyTorch's values from `tests/fixtures/tiny_resnet.json`),
//! `tests/gradcheck.rs` (finite differences through blocks).

use std::fmt;

use crate::matrix::resize_batch;
use crate::{Batch, Buffer, Error, Layer, Mode, Parameter, Parameters, RandomState};

/// One branch of a [`Concat`]: a layer of `OUT` outputs, with its own output and the buffer its
/// share of the output gradient is copied into.
#[derive(Clone)]
pub struct Branch<const OUT: usize, L> {
    /// The branch's layers.
    pub layer: L,
    output: Batch<OUT>,
    grad_output: Batch<OUT>,
}

impl<const OUT: usize, L> Branch<OUT, L> {
    /// A branch of `layer`.
    pub fn new(layer: L) -> Self {
        Self { layer, output: Batch::zeros(1), grad_output: Batch::zeros(0) }
    }

    /// Runs the layer and copies its output into rows `offset..offset + OUT` of every column of
    /// `joined` (columns of `height` rows); returns where the next branch starts.
    fn forward_into<const IN: usize>(
        &mut self,
        input: &Batch<IN>,
        mode: Mode,
        joined: &mut [f32],
        height: usize,
        offset: usize,
    ) -> usize
    where
        L: Layer<IN, OUT>,
    {
        self.layer.forward(input, &mut self.output, mode);
        for (column, part) in joined.chunks_exact_mut(height).zip(self.output.as_slice().chunks_exact(OUT)) {
            column[offset..offset + OUT].copy_from_slice(part);
        }
        offset + OUT
    }

    /// Takes rows `offset..offset + OUT` of `grad_joined` as the layer's output gradient and runs
    /// its backward: the input gradient goes into `grad_input` (`Set`), is added to it (`Add`,
    /// by way of a scratch buffer), or is not computed (`Skip`, for a block first in its
    /// network). Returns where the next branch starts.
    fn backward_from<const IN: usize>(
        &mut self,
        input: &Batch<IN>,
        joined: &[f32],
        height: usize,
        offset: usize,
        grad_input: InputGradient<'_, IN>,
    ) -> usize
    where
        L: Layer<IN, OUT>,
    {
        let samples = joined.len() / height;
        resize_batch(&mut self.grad_output, samples);
        for (part, column) in
            self.grad_output.as_mut_slice().chunks_exact_mut(OUT).zip(joined.chunks_exact(height))
        {
            part.copy_from_slice(&column[offset..offset + OUT]);
        }
        let (output, grad_output) = (&self.output, &self.grad_output);
        match grad_input {
            InputGradient::Set(target) => self.layer.backward(input, output, grad_output, target),
            InputGradient::Add(target, scratch) => {
                self.layer.backward(input, output, grad_output, scratch);
                *target += &*scratch;
            }
            InputGradient::Skip(scratch) => {
                self.layer.backward_parameters(input, output, grad_output, scratch)
            }
        }
        offset + OUT
    }
}

impl<const OUT: usize, L: fmt::Debug> fmt::Debug for Branch<OUT, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.layer.fmt(f)
    }
}

/// What a branch's backward does with its input gradient.
enum InputGradient<'a, const IN: usize> {
    /// The first branch writes it.
    Set(&'a mut Batch<IN>),
    /// The others add theirs (computed in the scratch buffer): the input feeds them all.
    Add(&'a mut Batch<IN>, &'a mut Batch<IN>),
    /// Not needed; a branch may still write it to the scratch buffer.
    Skip(&'a mut Batch<IN>),
}

/// The branches of a [`Concat`] on `IN` features: a tuple of one to eight [`Branch`]es. Their
/// tensors are named by branch index, as in PyTorch's `nn.ModuleList`: `0.weight`.
pub trait Branches<const IN: usize>: Parameters + Clone + fmt::Debug {
    /// The joined width, the sum of the branches' widths.
    const WIDTH: usize;

    /// Runs every branch on `input` and joins their outputs into `joined`.
    fn forward(&mut self, input: &Batch<IN>, mode: Mode, joined: &mut [f32]);

    /// Runs every branch's backward on its rows of `grad_joined`, summing their input gradients
    /// into `grad_input` (or computing none, when it is `None`); `scratch` holds one branch's.
    fn backward(
        &mut self,
        input: &Batch<IN>,
        grad_joined: &[f32],
        grad_input: Option<&mut Batch<IN>>,
        scratch: &mut Batch<IN>,
    );

    /// Asks every branch whether it takes a batch of `samples`.
    ///
    /// # Errors
    /// The first branch's reason.
    fn check_batch(&self, samples: usize, mode: Mode) -> Result<(), Error>;
}

/// `Branches` for the tuple of the branches listed (index, layer type, width).
macro_rules! branches {
    ($(($index:tt, $layer:ident, $width:ident)),+) => {
        impl<const IN: usize, $(const $width: usize, $layer: Layer<IN, $width> + Clone + fmt::Debug),+>
            Branches<IN> for ($(Branch<$width, $layer>,)+)
        {
            const WIDTH: usize = 0 $(+ $width)+;

            fn forward(&mut self, input: &Batch<IN>, mode: Mode, joined: &mut [f32]) {
                let offset = 0;
                $(let offset = self.$index.forward_into(input, mode, joined, Self::WIDTH, offset);)+
                debug_assert_eq!(offset, Self::WIDTH);
            }

            fn backward(
                &mut self,
                input: &Batch<IN>,
                grad_joined: &[f32],
                mut grad_input: Option<&mut Batch<IN>>,
                scratch: &mut Batch<IN>,
            ) {
                let offset = 0;
                $(
                    let target = match grad_input.as_deref_mut() {
                        Some(target) if $index == 0 => InputGradient::Set(target),
                        Some(target) => InputGradient::Add(target, scratch),
                        None => InputGradient::Skip(scratch),
                    };
                    let offset = self.$index.backward_from(input, grad_joined, Self::WIDTH, offset, target);
                )+
                debug_assert_eq!(offset, Self::WIDTH);
            }

            fn check_batch(&self, samples: usize, mode: Mode) -> Result<(), Error> {
                $(self.$index.layer.check_batch(samples, mode)?;)+
                Ok(())
            }

        }

        impl<$(const $width: usize, $layer: Parameters),+> Parameters for ($(Branch<$width, $layer>,)+) {
            fn visit_parameters(&mut self, visit: &mut dyn FnMut(Parameter<'_>)) {
                $(self.$index.layer.visit_parameters(&mut |p| visit(p.in_layer($index)));)+
            }

            fn visit_buffers(&mut self, visit: &mut dyn FnMut(Buffer<'_>)) {
                $(self.$index.layer.visit_buffers(&mut |b| visit(b.in_layer($index)));)+
            }

            fn visit_random_state(&mut self, visit: &mut dyn FnMut(RandomState<'_>)) {
                $(self.$index.layer.visit_random_state(&mut |r| visit(r.in_layer($index)));)+
            }

            fn parameter_count(&self) -> usize {
                0 $(+ self.$index.layer.parameter_count())+
            }
        }
    };
}

branches!((0, A, WA));
branches!((0, A, WA), (1, B, WB));
branches!((0, A, WA), (1, B, WB), (2, C, WC));
branches!((0, A, WA), (1, B, WB), (2, C, WC), (3, D, WD));
branches!((0, A, WA), (1, B, WB), (2, C, WC), (3, D, WD), (4, E, WE));
branches!((0, A, WA), (1, B, WB), (2, C, WC), (3, D, WD), (4, E, WE), (5, F, WF));
branches!((0, A, WA), (1, B, WB), (2, C, WC), (3, D, WD), (4, E, WE), (5, F, WF), (6, G, WG));
branches!((0, A, WA), (1, B, WB), (2, C, WC), (3, D, WD), (4, E, WE), (5, F, WF), (6, G, WG), (7, H, WH));

/// The outputs of every branch on the same input, joined: from `IN` features to `OUT`, the sum
/// of the branches' widths (checked when the block is built).
///
/// ```
/// use minitorch::layers::Branch;
/// use minitorch::{Batch, Concat, Layer, Mode, ReLU, Tanh};
/// let mut block = Concat::<2, 4, _>::new((Branch::new(ReLU::<2>::new()), Branch::new(Tanh::<2>::new())));
/// let x = Batch::<2>::from_column_slice(&[-1.0, 0.0]);
/// let (mut y, mut back) = (Batch::<4>::zeros(0), Batch::<2>::zeros(0));
/// block.forward(&x, &mut y, Mode::Train);
/// assert_eq!(y.as_slice(), &[0.0, 0.0, (-1.0f32).tanh(), 0.0]);
/// // Both branches send a gradient back to x, and they add up: ReLU′(−1) = 0, tanh′(−1) ≈ 0.42.
/// let grad = Batch::<4>::from_column_slice(&[1.0, 1.0, 1.0, 1.0]);
/// block.backward(&x, &y, &grad, &mut back);
/// assert!((back[0] - (1.0 - (-1.0f32).tanh().powi(2))).abs() < 1e-6 && back[1] == 1.0);
/// ```
#[derive(Clone, Parameters)]
pub struct Concat<const IN: usize, const OUT: usize, B> {
    /// The branches, a tuple of [`Branch`]es in the order their outputs are joined.
    #[module]
    pub branches: B,
    /// One branch's input gradient, before it is added to the others'.
    branch_grad_input: Batch<IN>,
}

impl<const IN: usize, const OUT: usize, B: Branches<IN>> Concat<IN, OUT, B> {
    /// `OUT` must be the branches' widths summed; checked where the block is built.
    const WIDTHS: () = assert!(B::WIDTH == OUT, "Concat: OUT must be the sum of the branches' widths");

    /// A block joining the outputs of `branches`.
    pub fn new(branches: B) -> Self {
        let () = Self::WIDTHS;
        Self { branches, branch_grad_input: Batch::zeros(0) }
    }
}

impl<const IN: usize, const OUT: usize, B: fmt::Debug> fmt::Debug for Concat<IN, OUT, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Concat").field("branches", &self.branches).finish()
    }
}

impl<const IN: usize, const OUT: usize, B: Branches<IN>> Layer<IN, OUT> for Concat<IN, OUT, B> {
    fn forward(&mut self, input: &Batch<IN>, output: &mut Batch<OUT>, mode: Mode) {
        resize_batch(output, input.ncols());
        self.branches.forward(input, mode, output.as_mut_slice());
    }

    fn backward(
        &mut self,
        input: &Batch<IN>,
        _output: &Batch<OUT>,
        grad_output: &Batch<OUT>,
        grad_input: &mut Batch<IN>,
    ) {
        self.branches.backward(input, grad_output.as_slice(), Some(grad_input), &mut self.branch_grad_input);
    }

    fn backward_parameters(
        &mut self,
        input: &Batch<IN>,
        _output: &Batch<OUT>,
        grad_output: &Batch<OUT>,
        _grad_input: &mut Batch<IN>,
    ) {
        self.branches.backward(input, grad_output.as_slice(), None, &mut self.branch_grad_input);
    }

    fn check_batch(&self, samples: usize, mode: Mode) -> Result<(), Error> {
        self.branches.check_batch(samples, mode)
    }
}
