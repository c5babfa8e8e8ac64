//! The built-in layer kinds, one entry each: everything `net!` knows about a kind is here.
//!
//! Adding a kind is one entry in [`KINDS`] plus its file in `minitorch/src/layers/`. An entry
//! says how the kind is written, what its arguments are and how they are checked, how the output
//! shape follows from the input shape, which library type and constructor it becomes, and which
//! tensors PyTorch's state dict holds for it.

use safetensors::Dtype;

/// One built-in layer kind.
pub struct LayerKind {
    /// The name as written in a layer list, then any other accepted spellings.
    pub names: &'static [&'static str],
    /// The arguments, in order; those with a default may be left out from the end, or given by
    /// name (`stride = 2`).
    pub arguments: &'static [Argument],
    /// How the output shape follows from the input shape, and so the type's generic arguments.
    pub shape: ShapeRule,
    /// The library type (under `::minitorch::layers`), generic as `shape` says; empty for
    /// entries that are no layer at run time (`Input`, `Flatten`).
    pub type_name: &'static str,
    /// Its constructor: `Type::constructor(number arguments…, rng?)`. Integer arguments are in
    /// the type, not passed.
    pub constructor: &'static str,
    /// Whether the constructor takes the network's random generator last.
    pub takes_rng: bool,
    /// The start of the struct field's name: `linear` gives `linear0`.
    pub field: &'static str,
    /// The tensors of PyTorch's state dict for this layer, after `{index}.`.
    pub tensors: &'static [Tensor],
}

/// One argument of a layer kind.
pub struct Argument {
    /// Its name in the signature shown in messages: `Linear(in, out)`.
    pub name: &'static str,
    pub kind: ArgumentKind,
    /// What it is when left out (PyTorch's default); `None` if it must be given.
    pub default: Option<Fallback>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ArgumentKind {
    /// A positive integer literal: a number of features or channels, a size, a stride.
    Size,
    /// A non-negative integer literal: a padding.
    Padding,
    /// A number literal in `[0, 1)`.
    Probability,
    /// Any finite number literal.
    Number,
}

/// An argument's value when it is left out.
#[derive(Clone, Copy, PartialEq)]
pub enum Fallback {
    Value(f64),
    /// The value of the argument at this position (pooling's stride is its kernel size).
    SameAs(usize),
}

/// How a kind's output shape follows from its input shape and its integer arguments (in
/// order), and so which generic arguments its type takes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ShapeRule {
    /// `Input(channels, height, width)`: declares the images the network takes; first only, and
    /// no layer.
    Input,
    /// `(in, out)`: maps `in` features to `out` (`Linear`); type `<IN, OUT>`.
    Map,
    /// `(features)`: keeps `features` features, which must be the width before it
    /// (`BatchNorm1d`); type `<N>`.
    KeepsDeclared,
    /// Keeps the shape before it, flat or image; cannot be first (activations, `Dropout`); type
    /// `<N>`.
    Keeps,
    /// `(in_channels, out_channels, kernel, stride, padding)` on an image (`Conv2d`); type
    /// `<IN_CHANNELS, OUT_CHANNELS, KERNEL, STRIDE, PADDING, HEIGHT, WIDTH, IN, OUT>`.
    Convolution,
    /// `(kernel, stride)` on an image (`MaxPool2d`); type `<CHANNELS, KERNEL, STRIDE, HEIGHT,
    /// WIDTH, IN, OUT>`.
    Pooling,
    /// `(channels)`: keeps an image of `channels` channels (`BatchNorm2d`); type `<CHANNELS, N>`.
    KeepsChannels,
    /// Makes an image flat, in channel, row, column order (`Flatten`); a layer in PyTorch's
    /// numbering, nothing at run time.
    Flatten,
}

/// A tensor of a layer's state dict.
pub struct Tensor {
    pub name: &'static str,
    pub shape: TensorShape,
    pub dtype: Dtype,
    /// A trainable parameter (or else a buffer).
    pub trainable: bool,
}

#[derive(Clone, Copy)]
pub enum TensorShape {
    /// `[out, in]`: a linear layer's weight.
    Matrix,
    /// `[out_channels, in_channels, kernel, kernel]`: a convolution's weight.
    Kernel,
    /// One per output feature, or per output channel of an image.
    Vector,
    /// `[]`.
    Scalar,
}

const fn required(name: &'static str, kind: ArgumentKind) -> Argument {
    Argument { name, kind, default: None }
}

const fn parameter(name: &'static str, shape: TensorShape) -> Tensor {
    Tensor { name, shape, dtype: Dtype::F32, trainable: true }
}

const fn buffer(name: &'static str, shape: TensorShape, dtype: Dtype) -> Tensor {
    Tensor { name, shape, dtype, trainable: false }
}

/// An element-wise layer without arguments or tensors.
const fn activation(
    names: &'static [&'static str],
    type_name: &'static str,
    field: &'static str,
) -> LayerKind {
    LayerKind {
        names,
        arguments: &[],
        shape: ShapeRule::Keeps,
        type_name,
        constructor: "new",
        takes_rng: false,
        field,
        tensors: &[],
    }
}

/// Every built-in kind. `BatchNorm1D` is the workshop's spelling.
/// A kind that is no layer at run time.
const fn declaration(
    names: &'static [&'static str],
    arguments: &'static [Argument],
    shape: ShapeRule,
    field: &'static str,
) -> LayerKind {
    LayerKind {
        names,
        arguments,
        shape,
        type_name: "",
        constructor: "",
        takes_rng: false,
        field,
        tensors: &[],
    }
}

const BATCHNORM_TENSORS: &[Tensor] = &[
    parameter("weight", TensorShape::Vector),
    parameter("bias", TensorShape::Vector),
    buffer("running_mean", TensorShape::Vector, Dtype::F32),
    buffer("running_var", TensorShape::Vector, Dtype::F32),
    buffer("num_batches_tracked", TensorShape::Scalar, Dtype::I64),
];

/// Every built-in kind. `BatchNorm1D` is the workshop's spelling.
pub const KINDS: &[LayerKind] = &[
    declaration(
        &["Input"],
        &[
            required("channels", ArgumentKind::Size),
            required("height", ArgumentKind::Size),
            required("width", ArgumentKind::Size),
        ],
        ShapeRule::Input,
        "input",
    ),
    LayerKind {
        names: &["Linear"],
        arguments: &[required("in", ArgumentKind::Size), required("out", ArgumentKind::Size)],
        shape: ShapeRule::Map,
        type_name: "Linear",
        constructor: "new",
        takes_rng: true,
        field: "linear",
        tensors: &[parameter("weight", TensorShape::Matrix), parameter("bias", TensorShape::Vector)],
    },
    LayerKind {
        names: &["Conv2d", "Conv2D"],
        arguments: &[
            required("in_channels", ArgumentKind::Size),
            required("out_channels", ArgumentKind::Size),
            required("kernel_size", ArgumentKind::Size),
            Argument { name: "stride", kind: ArgumentKind::Size, default: Some(Fallback::Value(1.0)) },
            Argument { name: "padding", kind: ArgumentKind::Padding, default: Some(Fallback::Value(0.0)) },
        ],
        shape: ShapeRule::Convolution,
        type_name: "Conv2d",
        constructor: "new",
        takes_rng: true,
        field: "conv2d",
        tensors: &[parameter("weight", TensorShape::Kernel), parameter("bias", TensorShape::Vector)],
    },
    LayerKind {
        names: &["MaxPool2d", "MaxPool2D"],
        arguments: &[
            required("kernel_size", ArgumentKind::Size),
            Argument { name: "stride", kind: ArgumentKind::Size, default: Some(Fallback::SameAs(0)) },
        ],
        shape: ShapeRule::Pooling,
        type_name: "MaxPool2d",
        constructor: "new",
        takes_rng: false,
        field: "maxpool2d",
        tensors: &[],
    },
    LayerKind {
        names: &["BatchNorm1d", "BatchNorm1D"],
        arguments: &[required("features", ArgumentKind::Size)],
        shape: ShapeRule::KeepsDeclared,
        type_name: "BatchNorm1d",
        constructor: "new",
        takes_rng: false,
        field: "batchnorm",
        tensors: BATCHNORM_TENSORS,
    },
    LayerKind {
        names: &["BatchNorm2d", "BatchNorm2D"],
        arguments: &[required("channels", ArgumentKind::Size)],
        shape: ShapeRule::KeepsChannels,
        type_name: "BatchNorm2d",
        constructor: "new",
        takes_rng: false,
        field: "batchnorm2d",
        tensors: BATCHNORM_TENSORS,
    },
    declaration(&["Flatten"], &[], ShapeRule::Flatten, "flatten"),
    LayerKind {
        names: &["Dropout"],
        arguments: &[required("p", ArgumentKind::Probability)],
        shape: ShapeRule::Keeps,
        type_name: "Dropout",
        constructor: "new",
        takes_rng: true,
        field: "dropout",
        tensors: &[],
    },
    activation(&["ReLU"], "ReLU", "relu"),
    LayerKind {
        names: &["LeakyReLU"],
        arguments: &[Argument {
            name: "negative_slope",
            kind: ArgumentKind::Number,
            default: Some(Fallback::Value(0.01)),
        }],
        constructor: "with_negative_slope",
        ..activation(&["LeakyReLU"], "LeakyReLU", "leaky_relu")
    },
    activation(&["Sigmoid"], "Sigmoid", "sigmoid"),
    activation(&["Tanh"], "Tanh", "tanh"),
    activation(&["GELU"], "GELU", "gelu"),
];

impl LayerKind {
    /// How it is written, for messages: `Linear(in, out)`, `LeakyReLU(negative_slope = 0.01)`.
    pub fn signature(&self) -> String {
        if self.arguments.is_empty() {
            return self.names[0].to_string();
        }
        let arguments: Vec<String> = self
            .arguments
            .iter()
            .map(|argument| match argument.default {
                Some(Fallback::Value(value)) => format!("{} = {value}", argument.name),
                Some(Fallback::SameAs(position)) => {
                    format!("{} = {}", argument.name, self.arguments[position].name)
                }
                None => argument.name.to_string(),
            })
            .collect();
        format!("{}({})", self.names[0], arguments.join(", "))
    }

    /// How many arguments it needs at least.
    pub fn required_arguments(&self) -> usize {
        self.arguments.iter().filter(|argument| argument.default.is_none()).count()
    }

    /// Whether it is a layer at run time (`Input` and `Flatten` are not).
    pub fn is_layer(&self) -> bool {
        !self.type_name.is_empty()
    }
}
