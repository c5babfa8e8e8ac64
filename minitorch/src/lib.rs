//! Small neural networks whose shapes are checked by the compiler, with every derivative written
//! by hand — the MiniTorch workshop's framework, in Rust.
//!
//! # Declaring a network
//!
//! [`net!`] takes a layer list as a design writes it and expands into a struct whose layers are
//! const-generic over their widths:
//!
//! ```
//! use minitorch::prelude::*;
//! use minitorch::rand::{SeedableRng, rngs::StdRng};
//!
//! net! {
//!     /// The workshop's second architecture.
//!     pub struct Mlp< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >
//! }
//!
//! let mut net = Mlp::new(&mut StdRng::seed_from_u64(0));
//! assert_eq!(net.parameter_count(), 535_818);
//! let images = Batch::<784>::zeros(32); // 32 samples, one per column
//! let logits: &Batch<10> = net.forward(&images)?;
//! assert_eq!(logits.shape(), (10, 32));
//! # Ok::<(), minitorch::Error>(())
//! ```
//!
//! Built-in layers for features: `Linear(in, out)`, `BatchNorm1d(features)` (also spelt `BatchNorm1D`),
//! `Dropout(p)`, and the activations `ReLU`, `LeakyReLU` or `LeakyReLU(negative_slope)` (PyTorch's
//! default slope 0.01), `Sigmoid`, `Tanh` and `GELU` (the exact erf form). Activations and
//! `Dropout` take their width from the layer before them. Outer attributes, doc comments and
//! visibility carry over to the struct; one `net!` may declare several networks.
//!
//! # Convolutional networks
//!
//! `Input(channels, height, width)` first declares that the network takes images; then
//! `Conv2d(in, out, kernel)` (with optional `stride = s`, `padding = p`), `MaxPool2d(kernel)` and
//! `AvgPool2d(kernel)` (optional `stride`, by default the kernel size), `AdaptiveAvgPool2d(size)`
//! (`1` is global average pooling), `BatchNorm2d(channels)` and `Flatten` are available, and
//! activations and `Dropout` work on images element-wise. `net!` computes every
//! shape and reports a mistake at the layer that makes it, e.g. a `Linear` whose input width is
//! not what `Flatten` produces. An image is one column of `channels·height·width` numbers in
//! PyTorch's channel, row, column order.
//!
//! ```
//! use minitorch::prelude::*;
//! use minitorch::rand::{SeedableRng, rngs::StdRng};
//!
//! net! {
//!     struct Small< Input(1, 8, 8), Conv2d(1, 4, 3, padding = 1), ReLU, MaxPool2d(2), Flatten, Linear(64, 10) >
//! }
//!
//! let mut net = Small::new(&mut StdRng::seed_from_u64(0));
//! assert!(Small::summary().lines().any(|line| line.contains("MaxPool2d(2)") && line.contains("4 × 4 × 4")));
//! let logits = net.forward(&Batch::<64>::zeros(2))?; // two 8×8 images
//! assert_eq!(logits.shape(), (10, 2));
//! # Ok::<(), minitorch::Error>(())
//! ```
//!
//! # Networks that branch
//!
//! `Residual(body…)` is `body(x) + x`, and `Residual(body… ; shortcut: layers…)` is `body(x) +
//! shortcut(x)`; `Concat(branch… ; branch… ; …)` runs every branch on the same input and joins
//! their outputs along channels (images) or features. Blocks nest, and a `net!` network is a
//! layer of another, named with its shapes (`Block: (8, 6, 6) -> (8, 6, 6)`), so a repeated block
//! is declared once. Every shape is still computed and checked where it is written: a body that
//! changes the shape without a shortcut, a shortcut whose output is not the body's, branches whose
//! heights and widths differ, and the layer after a block that does not fit are compile errors at
//! the block or layer at fault. Backward adds the gradients that meet where a value feeds two
//! paths ([`Residual`], [`Concat`]). Tensors take PyTorch's names for the same modules
//! (`3.body.0.weight`, `5.shortcut.1.running_mean`, `6.branches.1.0.bias`; README gives the
//! PyTorch classes), and the summary shows each block's layers indented under it.
//!
//! ```
//! use minitorch::prelude::*;
//! use minitorch::rand::{SeedableRng, rngs::StdRng};
//!
//! net! {
//!     /// A basic residual block, declared once.
//!     pub struct Block< Input(8, 6, 6),
//!         Residual(Conv2d(8, 8, 3, padding = 1), BatchNorm2d(8), ReLU, Conv2d(8, 8, 3, padding = 1)) >
//!
//!     pub struct Branching< Input(1, 6, 6), Conv2d(1, 8, 3, padding = 1), ReLU,
//!         Block: (8, 6, 6) -> (8, 6, 6), ReLU, Block: (8, 6, 6) -> (8, 6, 6),
//!         Concat(Conv2d(8, 4, 1); Conv2d(8, 4, 3, padding = 1), ReLU),
//!         AdaptiveAvgPool2d(1), Flatten, Linear(8, 10) >
//! }
//!
//! let mut net = Branching::new(&mut StdRng::seed_from_u64(0));
//! let mut names = Vec::new();
//! net.visit_parameters(&mut |p| names.push(p.full_name()));
//! assert!(names.contains(&"2.0.body.0.weight".to_string())); // block 2, its Residual 0, body layer 0
//! assert!(names.contains(&"5.branches.1.0.bias".to_string()));
//! assert!(Branching::summary().lines().any(|line| line.starts_with("5.branches.1.1 ") && line.contains("ReLU")));
//! let logits = net.forward(&Batch::<36>::zeros(2))?;
//! assert_eq!(logits.shape(), (10, 2));
//! # Ok::<(), minitorch::Error>(())
//! ```
//!
//! # Your own layer in `net!`
//!
//! A type you write joins a layer list as `Type: in -> out`. It implements [`Layer<in, out>`]
//! by hand (`forward` writes `y` for `x`; `backward` adds its parameters' gradients and writes
//! `∂L/∂x` for `∂L/∂y`, into batches the network keeps) and `Clone` and `Debug`, and derives the
//! rest from its fields: [`Parameters`](macro@Parameters) (each [`Param`] field is a trainable
//! tensor named by the field; `#[buffer]`, `#[random_state]` and `#[module]` mark the other
//! kinds) and [`Initialize`](macro@Initialize) (how `new` builds it: `#[init(…)]` on a field,
//! `Default` for the rest). It then takes part in everything a built-in does: forward, backward,
//! `train()`/`eval()`, optimisers, and checkpoints, where its tensors are named by its index in
//! the list as in PyTorch's `nn.Sequential` (`1.gain`). Its field is `layer{index}`, and its
//! output of the last forward `layer{index}_output`. Widths that do not chain with its neighbours
//! are a compile error at the entry, as for built-ins, and so are widths its type does not
//! implement `Layer` for:
//!
//! ```
//! use minitorch::prelude::*;
//! use minitorch::HeapMatrix;
//!
//! /// `y = g ⊙ x` with a learnt gain `g` per feature, starting at 1.
//! #[derive(Clone, Debug, Parameters, Initialize)]
//! pub struct Gain<const N: usize> {
//!     #[init(Param::new(HeapMatrix::from_fn(|_, _| 1.0)))]
//!     gain: Param<HeapMatrix<N, 1>>,
//! }
//!
//! impl<const N: usize> Layer<N, N> for Gain<N> {
//!     fn forward(&mut self, x: &Batch<N>, y: &mut Batch<N>, _mode: Mode) {
//!         *y = x.map_with_location(|i, _, x| self.gain[i] * x);
//!     }
//!     fn backward(&mut self, x: &Batch<N>, _y: &Batch<N>, grad_y: &Batch<N>, grad_x: &mut Batch<N>) {
//!         *self.gain.gradient += grad_y.component_mul(x).column_sum(); // Σ over the batch of ∂L/∂y ⊙ x
//!         *grad_x = grad_y.map_with_location(|i, _, g| self.gain[i] * g);
//!     }
//! }
//!
//! net! { struct Gained< Linear(4, 8), Gain<8>: 8 -> 8, ReLU, Linear(8, 2) > }
//!
//! # use minitorch::rand::SeedableRng;
//! let mut net = Gained::new(&mut minitorch::rand::rngs::StdRng::seed_from_u64(0));
//! assert_eq!(net.parameter_count(), 4 * 8 + 8 + 8 + 8 * 2 + 2);
//! let logits = net.forward(&Batch::<4>::zeros(3))?;
//! assert_eq!(logits.shape(), (2, 3));
//! # Ok::<(), minitorch::Error>(())
//! ```
//!
//! `examples/04_custom_layer.rs` writes one, checks it with [`gradcheck`] and trains with it.
//!
//! # What `net!` generates
//!
//! For `pub struct Two< Linear(784, 64), ReLU, Linear(64, 10) >` the macro writes, in substance
//! (paths shortened; `cargo expand` from the `cargo-expand` crate shows the exact code, and the
//! struct's rustdoc lists every layer with its parameters' names and shapes):
//!
//! ```text
//! pub struct Two {
//!     pub linear0: Linear<784, 64>,
//!     pub relu1: ReLU<64>,
//!     pub linear2: Linear<64, 10>,
//!     pub linear0_output: Batch<64>,  // each layer's output of the last forward,
//!     pub relu1_output: Batch<64>,    // which the next layer reads, forward and backward
//!     pub linear2_output: Batch<10>,  // the network's output
//!     grad_linear0_output: Batch<64>, // d loss / d each output but the last, in backward
//!     grad_relu1_output: Batch<64>,
//!     input: Batch<784>,              // kept for the first layer's backward
//!     grad_input: Batch<784>,         // where linear0 could write d loss / d input
//!     forward_samples: usize,         // batch size of the last forward, checked by backward
//!     mode: Mode,
//! }
//!
//! impl Two {
//!     pub fn new(rng: &mut impl Rng) -> Self { /* Linear::new(rng), ReLU::new(), … */ }
//! }
//!
//! impl Network<784, 10> for Two {
//!     fn forward(&mut self, input: &Batch<784>) -> Result<&Batch<10>, Error> {
//!         check_forward(input.ncols())?;                      // an empty batch
//!         Layer::check_batch(self, input.ncols(), self.mode)?; // each layer's (batch norm: 1 sample)
//!         copy_batch(&mut self.input, input);
//!         self.forward_samples = input.ncols();
//!         let mode = self.mode;
//!         Layer::forward(&mut self.linear0, &self.input, &mut self.linear0_output, mode);
//!         Layer::forward(&mut self.relu1, &self.linear0_output, &mut self.relu1_output, mode);
//!         Layer::forward(&mut self.linear2, &self.relu1_output, &mut self.linear2_output, mode);
//!         Ok(&self.linear2_output)
//!     }
//!
//!     fn backward(&mut self, grad_output: &Batch<10>) -> Result<(), Error> {
//!         check_backward(self.forward_samples, grad_output.ncols())?;
//!         Layer::backward(&mut self.linear2, &self.relu1_output, &self.linear2_output,
//!                         grad_output, &mut self.grad_relu1_output);
//!         Layer::backward(&mut self.relu1, &self.linear0_output, &self.relu1_output,
//!                         &self.grad_relu1_output, &mut self.grad_linear0_output);
//!         Layer::backward_parameters(&mut self.linear0, &self.input, &self.linear0_output,
//!                                    &self.grad_linear0_output, &mut self.grad_input); // skips it
//!         Ok(())
//!     }
//!     // mode, set_mode; and `impl Parameters` visiting linear0 and linear2 as layers 0 and 2
//! }
//!
//! // The network is also a layer of other networks: `Layer<784, 10>` runs the same statements
//! // from the `x` it is given into the `y` it is given, and `Initialize` calls `new`. `Two::forward` and
//! // `Two::backward` are inherent methods calling `Network`'s, so that `net.forward(&x)` stays
//! // unambiguous with both traits in scope.
//! impl Layer<784, 10> for Two { /* … */ }
//! ```
//!
//! Each list inside a block becomes a struct of its own, generated the same way and named after
//! its place: the body of the `Residual` at index 3 of `ResNet` is `ResNetLayer3Body`, a field of
//! the library's `Residual<IN, OUT, ResNetLayer3Body, Identity>`.
//!
//! A network keeps every layer's output and its gradient in buffers it reuses (a layer keeps only
//! what its backward needs besides them, such as dropout's mask), so once the batch size is stable
//! a training step allocates nothing.
//!
//! # Shape errors are compile errors
//!
//! Inside a layer list, `Linear(784, 512), ReLU, Linear(256, 10)` fails to compile with
//! "`Linear(256, 10)` expects 256 input features, but the layer before it produces 512", pointing
//! at that layer. Between networks and data, widths are types: a `Batch<100>` cannot be passed
//! where a `Batch<784>` is expected.
//!
//! ```compile_fail
//! use minitorch::prelude::*;
//! net! { struct Classifier< Linear(784, 10) > }
//! fn run(net: &mut Classifier, images: &Batch<100>) {
//!     net.forward(images); // expected `Batch<784>`, found `Batch<100>`
//! }
//! ```
//!
//! # Trained weights compiled in
//!
//! `#[weights = "path/to/model.safetensors"]` on a network (the path relative to the compiling
//! crate's `Cargo.toml`) makes `net!` read the file while compiling, check every tensor's name,
//! dtype and shape against the layers (a mismatch is a compile error naming the tensor and both
//! shapes), and compile the file into the binary. `Classifier::pretrained()` then returns the
//! trained network in evaluation mode, with no file to read and no `Result` to handle:
//!
//! ```text
//! net! {
//!     #[weights = "models/mnist_mlp.safetensors"]
//!     pub struct Classifier< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >
//! }
//! let mut classifier = Classifier::pretrained();
//! ```
//!
//! Files use the names and layouts of PyTorch's `nn.Sequential` state dict; see [`checkpoint`].
//!
//! # Training
//!
//! A step is forward, [`CrossEntropy`], backward, and an [`Optimizer`] step ([`Sgd`], [`Adam`],
//! [`AdamW`]), as in PyTorch — see [`Network`]. `train::fit` runs the whole loop with any optimiser.
//! [`gradcheck`] checks any layer or network's backward pass against finite differences.

extern crate self as minitorch;

pub mod checkpoint;
#[cfg(feature = "train")]
pub mod data;
pub mod error;
mod gemm;
pub mod gradcheck;
#[cfg(feature = "images")]
pub mod image;
pub mod layers;
pub mod loss;
pub mod matrix;
#[cfg(feature = "pretrained")]
pub mod models;
pub mod network;
pub mod optim;
mod parallel;
#[cfg(feature = "plot")]
pub mod plot;
#[cfg(feature = "progress")]
pub mod progress;
#[cfg(feature = "train")]
pub mod run;
#[cfg(feature = "train")]
pub mod train;

pub use error::Error;
pub use layers::{
    Activation, AdaptiveAvgPool2d, AvgPool2d, BatchNorm, BatchNorm1d, BatchNorm2d, Buffer, BufferValue,
    Concat, Conv2d, Dropout, Elementwise, GELU, Initialize, Layer, LeakyReLU, Linear, MaxPool2d, Mode, Param,
    Parameter, Parameters, RandomState, ReLU, Residual, Sigmoid, Tanh,
};
pub use loss::{CrossEntropy, predicted_classes, softmax};
pub use matrix::{Batch, HeapMatrix};
/// Derives [`Initialize`](trait@Initialize), how `net!` builds a layer: a field marked
/// `#[init(expression)]` starts as the expression, which may draw from `rng` (the generator the
/// network's `new` was given); every other field starts as `Default::default()` (a [`Batch`]
/// with no samples, a [`Param`] of zeros). A layer with nothing to set writes the derive only.
///
/// ```
/// use minitorch::rand::{RngExt, SeedableRng, rngs::StdRng};
/// use minitorch::{Batch, HeapMatrix, Initialize, Param};
/// #[derive(Initialize)]
/// struct Scale {
///     #[init(Param::new(HeapMatrix::from_fn(|_, _| 0.25)))]
///     weight: Param<HeapMatrix<3, 1>>,
///     #[init(rng.random_range(0.5..1.0))]
///     noise: f32,
///     bias: Param<HeapMatrix<3, 1>>, // zeros
///     output: Batch<3>,             // no samples yet
/// }
/// let scale = Scale::initialize(&mut StdRng::seed_from_u64(0));
/// assert_eq!((scale.weight[2], scale.bias[2], scale.output.ncols()), (0.25, 0.0, 0));
/// assert!((0.5..1.0).contains(&scale.noise));
/// ```
pub use minitorch_macros::Initialize;
/// Derives [`Parameters`](trait@Parameters) from a layer's fields, named as PyTorch names them:
///
/// - each [`Param`] field is a trainable tensor, named by the field (`weight`, `bias`);
/// - `#[buffer]` marks a tensor a checkpoint keeps but gradients do not train (a
///   `HeapMatrix<N, 1>` or a `u64` count: `running_mean`, `num_batches_tracked`);
/// - `#[random_state]` marks a generator's `u64` state, kept by training checkpoints;
/// - `#[module]` marks a part with tensors of its own, whose names start with the field's
///   (`body.0.weight`);
/// - other fields are left alone. A layer without tensors derives it too, and has none.
///
/// The tensors are visited in field order. Mistakes (a tuple struct, two roles on one field) are
/// compile errors at the field.
///
/// ```
/// use minitorch::{HeapMatrix, Param, Parameters};
/// #[derive(Parameters)]
/// struct Scale {
///     weight: Param<HeapMatrix<3, 1>>,
///     #[buffer]
///     calls: u64,
///     width: usize, // not a tensor
/// }
/// let mut scale = Scale { weight: Param::new(HeapMatrix::zeros()), calls: 0, width: 3 };
/// let mut names = Vec::new();
/// scale.visit_parameters(&mut |p| names.push(p.full_name()));
/// scale.visit_buffers(&mut |b| names.push(b.full_name()));
/// assert_eq!(names, ["weight", "calls"]);
/// assert_eq!(scale.parameter_count(), scale.width);
/// ```
pub use minitorch_macros::Parameters;
pub use minitorch_macros::net;
pub use network::Network;
pub use optim::{Adam, AdamConfig, AdamW, AdamWConfig, Optimizer, Sgd, SgdConfig};
/// The `rand` this crate uses, so that generated code and users agree on its traits.
pub use rand;

/// `use minitorch::prelude::*;` brings what declaring, running and training a network takes, by
/// one rule: `net!` and the traits its networks implement ([`Layer`], [`Network`],
/// [`Parameters`] with its derive, [`Initialize`]); [`Batch`], [`Mode`], [`Param`] and [`Error`];
/// every layer; the loss with [`softmax`] and [`predicted_classes`]; and every optimiser with its
/// settings. Data sets, checkpoints, pictures and the training loop's helpers stay in their
/// modules (`data`, [`checkpoint`], `image`, `train`).
pub mod prelude {
    pub use crate::{
        Activation, Adam, AdamConfig, AdamW, AdamWConfig, AdaptiveAvgPool2d, AvgPool2d, Batch, BatchNorm,
        BatchNorm1d, BatchNorm2d, Concat, Conv2d, CrossEntropy, Dropout, Error, GELU, Initialize, Layer,
        LeakyReLU, Linear, MaxPool2d, Mode, Network, Optimizer, Param, Parameters, ReLU, Residual, Sgd,
        SgdConfig, Sigmoid, Tanh, net, predicted_classes, softmax,
    };
}
