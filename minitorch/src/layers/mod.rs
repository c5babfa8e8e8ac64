//! The layers, one small file each, and the traits they share.
//!
//! Element-wise activations (`ReLU`, `LeakyReLU`, `Sigmoid`, `Tanh`, `GELU`) are each a function
//! and its derivative in their own file, made a layer by [`Activation`].
//!
//! Every layer keeps its own output and input-gradient buffers (reused from step to step) and
//! whatever its backward pass needs from the forward pass. The forward buffers start with one
//! column, so that single-sample inference allocates nothing, not even on its first call. Its input is *not* copied: the network
//! hands the previous layer's output back to [`Layer::backward`].

mod activation;
mod adaptive_avgpool2d;
mod avgpool2d;
mod batchnorm;
mod concat;
mod conv2d;
mod dropout;
mod gelu;
mod leaky_relu;
mod linear;
mod maxpool2d;
mod param;
mod path;
mod relu;
mod residual;
mod sigmoid;
mod tanh;

pub use activation::{Activation, Elementwise};
pub use adaptive_avgpool2d::AdaptiveAvgPool2d;
pub use avgpool2d::AvgPool2d;
pub use batchnorm::{BatchNorm, BatchNorm1d, BatchNorm2d};
pub use concat::{Branch, Branches, Concat};
pub use conv2d::Conv2d;
pub use dropout::Dropout;
pub use gelu::{GELU, GELUFunction};
pub use leaky_relu::{LeakyReLU, LeakyReLUFunction};
pub use linear::Linear;
pub use maxpool2d::MaxPool2d;
pub use param::{Param, Tensor};
pub use path::{MAX_PATH_PARTS, ModulePath, PathPart};
pub use relu::{ReLU, ReLUFunction};
pub use residual::{Identity, Residual, Shortcut, ShortcutBuffers};
pub use sigmoid::{Sigmoid, SigmoidFunction};
pub use tanh::{Tanh, TanhFunction};

use rand::Rng;

use crate::parallel::{halves_mut, on_both_cores};
use crate::{Batch, Error, HeapMatrix};

/// Training or evaluation, as PyTorch's `module.train()` / `module.eval()`.
///
/// Dropout drops only in training; batch normalisation uses the batch's statistics (and updates
/// its running ones) in training, and the running statistics in evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Dropout active, batch statistics.
    #[default]
    Train,
    /// Dropout off, running statistics.
    Eval,
}

/// One trainable tensor and its gradient, as an optimiser or a checkpoint sees it.
///
/// `value` and `gradient` hold the tensor in nalgebra's column-major order of its shape
/// `rows × columns` (for a [`Linear`] weight: `out × in`).
#[derive(Debug)]
pub struct Parameter<'a> {
    /// Where its layer sits in the network, as PyTorch's state dict names it (`3.body.0`),
    /// counting every layer as `nn.Sequential` does; empty for a layer used on its own. A layer
    /// gives the default; the containers it sits in fill it in.
    pub path: ModulePath,
    /// The parameter's name inside its layer, as in PyTorch: `"weight"` or `"bias"`.
    pub name: &'static str,
    /// Rows of the parameter's shape.
    pub rows: usize,
    /// Columns of the parameter's shape (1 for a vector).
    pub columns: usize,
    /// PyTorch's shape of the tensor when it is not `[rows, columns]` (or `[rows]` for a
    /// vector): a convolution's `[out, in, kh, kw]`, whose rows are `out` and whose columns run
    /// over `in, kh, kw` in that order. `None` for most parameters.
    pub pytorch_shape: Option<&'static [usize]>,
    /// The values, column-major.
    pub value: &'a mut [f32],
    /// d loss / d value, accumulated by backward passes since the last `zero_grad`.
    pub gradient: &'a mut [f32],
}

impl Parameter<'_> {
    /// The same parameter, as found in the layer at `index` of a sequence.
    pub fn in_layer(self, index: usize) -> Self {
        Self { path: self.path.inside_index(index), ..self }
    }

    /// The same parameter, as found in the sub-module `name` (`body`, `branches`).
    pub fn in_module(self, name: &'static str) -> Self {
        Self { path: self.path.inside_name(name), ..self }
    }

    /// Its state-dict name: `3.body.0.weight`.
    pub fn full_name(&self) -> String {
        self.path.join(self.name)
    }
}

/// A tensor a checkpoint keeps that is not trained by gradients: batch normalisation's running
/// statistics and its count of training batches.
#[derive(Debug)]
pub struct Buffer<'a> {
    /// Where its layer sits, as for [`Parameter::path`].
    pub path: ModulePath,
    /// The buffer's name inside its layer, as in PyTorch: `"running_mean"`, `"running_var"`,
    /// `"num_batches_tracked"`.
    pub name: &'static str,
    /// The values.
    pub value: BufferValue<'a>,
}

/// The contents of a [`Buffer`].
#[derive(Debug)]
pub enum BufferValue<'a> {
    /// A vector of f32 (PyTorch shape `[len]`).
    Vector(&'a mut [f32]),
    /// A count (PyTorch: an int64 scalar).
    Count(&'a mut u64),
}

impl<'a, const N: usize> From<&'a mut HeapMatrix<N, 1>> for BufferValue<'a> {
    fn from(vector: &'a mut HeapMatrix<N, 1>) -> Self {
        Self::Vector(vector.as_mut_slice())
    }
}

impl<'a> From<&'a mut u64> for BufferValue<'a> {
    fn from(count: &'a mut u64) -> Self {
        Self::Count(count)
    }
}

impl Buffer<'_> {
    /// The same buffer, as found in the layer at `index` of a sequence.
    pub fn in_layer(self, index: usize) -> Self {
        Self { path: self.path.inside_index(index), ..self }
    }

    /// The same buffer, as found in the sub-module `name`.
    pub fn in_module(self, name: &'static str) -> Self {
        Self { path: self.path.inside_name(name), ..self }
    }

    /// Its state-dict name: `3.body.1.running_mean`.
    pub fn full_name(&self) -> String {
        self.path.join(self.name)
    }
}

/// The state of a layer's random generator (dropout's masks), so that a resumed training run
/// draws what an uninterrupted one would have.
#[derive(Debug)]
pub struct RandomState<'a> {
    /// Where its layer sits, as for [`Parameter::path`].
    pub path: ModulePath,
    /// The generator's 64-bit state.
    pub state: &'a mut u64,
}

impl RandomState<'_> {
    /// The same state, as found in the layer at `index` of a sequence.
    pub fn in_layer(self, index: usize) -> Self {
        Self { path: self.path.inside_index(index), ..self }
    }

    /// The same state, as found in the sub-module `name`.
    pub fn in_module(self, name: &'static str) -> Self {
        Self { path: self.path.inside_name(name), ..self }
    }
}

/// Something with trainable parameters: a layer or a whole network.
///
/// A layer derives it from its fields (see [the derive](macro@crate::Parameters)); `net!`
/// implements it for a network, naming each layer's tensors by the layer's index.
pub trait Parameters {
    /// Calls `visit` on every parameter, always in the same order (optimisers rely on it).
    fn visit_parameters(&mut self, visit: &mut dyn FnMut(Parameter<'_>));

    /// Calls `visit` on every buffer a checkpoint must keep besides the parameters; none by
    /// default.
    fn visit_buffers(&mut self, _visit: &mut dyn FnMut(Buffer<'_>)) {}

    /// Calls `visit` on the state of every random generator, which a training checkpoint keeps
    /// (a model file does not: PyTorch has no such tensors); none by default.
    fn visit_random_state(&mut self, _visit: &mut dyn FnMut(RandomState<'_>)) {}

    /// How many trainable numbers there are.
    fn parameter_count(&self) -> usize;

    /// Sets every gradient to zero; backward passes add to them, as in PyTorch.
    fn zero_grad(&mut self) {
        // A large gradient is zeroed on both cores, each a half: the mlp's training steps at
        // batches 64, 128 and 256 were 2–6% faster than with one core zeroing all 2.1 MB (a
        // throwaway test alternating the two in one process, medians of 40 rotated rounds, two
        // runs; AMD EPYC family 25 model 1, 2026-12-03; docs/performance.md, "Zeroing gradients").
        self.visit_parameters(&mut |parameter| {
            let entries = parameter.gradient.len();
            on_both_cores(entries, halves_mut(parameter.gradient, 1), |half| half.fill(0.0));
        });
    }
}

/// A layer that maps `IN` features to `OUT` features, with a hand-written backward pass.
///
/// A layer keeps its parameters and what its backward needs besides its input `x` and output `y`
/// (a mask, an argmax); the batches that flow between layers belong to whoever calls it. A
/// network made by `net!` keeps each layer's output and its gradient, calls `forward` once per
/// layer in order and `backward` once per layer in reverse order. A layer used on its own works
/// the same way:
///
/// ```
/// use minitorch::{Batch, Layer, Mode, ReLU};
/// let mut relu = ReLU::<2>::new();
/// let input = Batch::<2>::from_column_slice(&[-1.0, 2.0]);
/// let mut output = Batch::<2>::zeros(0);
/// relu.forward(&input, &mut output, Mode::Train);
/// assert_eq!(output.as_slice(), &[0.0, 2.0]);
/// let grad_output = Batch::<2>::from_column_slice(&[5.0, 5.0]);
/// let mut grad_input = Batch::<2>::zeros(0);
/// relu.backward(&input, &output, &grad_output, &mut grad_input);
/// assert_eq!(grad_input.as_slice(), &[0.0, 5.0]);
/// ```
pub trait Layer<const IN: usize, const OUT: usize>: Parameters {
    /// Writes the output `y` for the input `x` (one column per sample) into `y`, which it sizes
    /// to the batch, and keeps what `backward` will need besides the two.
    fn forward(&mut self, x: &Batch<IN>, y: &mut Batch<OUT>, mode: Mode);

    /// Given `x` and `y` of the last `forward` and `grad_y` = d loss / d `y`, adds this batch's
    /// parameter gradients to the accumulated ones and writes d loss / d `x` into `grad_x`,
    /// which it sizes to the batch.
    fn backward(&mut self, x: &Batch<IN>, y: &Batch<OUT>, grad_y: &Batch<OUT>, grad_x: &mut Batch<IN>);

    /// [`Layer::backward`] where nobody needs d loss / d `x` (the first layer of a network).
    /// Layers for which that gradient costs real work skip it and leave `grad_x` as it is.
    fn backward_parameters(
        &mut self,
        x: &Batch<IN>,
        y: &Batch<OUT>,
        grad_y: &Batch<OUT>,
        grad_x: &mut Batch<IN>,
    ) {
        self.backward(x, y, grad_y, grad_x);
    }

    /// Refuses a batch of `samples` samples that this layer cannot take in `mode`, before anything
    /// runs; every batch is fine by default. A network's `forward` asks every layer and returns
    /// the first error. [`BatchNorm1d`] refuses one sample in training.
    ///
    /// # Errors
    /// The layer's reason, as an [`Error`].
    fn check_batch(&self, _samples: usize, _mode: Mode) -> Result<(), Error> {
        Ok(())
    }
}

/// How `net!` builds a layer you wrote: derive it (see [the derive](macro@crate::Initialize)) or
/// implement it, with [`Layer`], `Clone` and `Debug`, and name the type in a layer list with its
/// widths, `MyLayer<64>: 64 -> 64`. By hand:
///
/// ```
/// use minitorch::{Initialize, rand::{Rng, RngExt}};
/// #[derive(Clone, Debug)]
/// struct Noise { scale: f32 }
/// impl Initialize for Noise {
///     fn initialize(rng: &mut impl Rng) -> Self {
///         Noise { scale: rng.random_range(0.5..1.0) }
///     }
/// }
/// # let mut rng = <minitorch::rand::rngs::StdRng as minitorch::rand::SeedableRng>::seed_from_u64(0);
/// assert!(Noise::initialize(&mut rng).scale >= 0.5);
/// ```
pub trait Initialize {
    /// A new layer, drawing any random initial values from `rng` (the generator the network's
    /// `new` was given, so one seed fixes every layer).
    fn initialize(rng: &mut impl Rng) -> Self;
}
