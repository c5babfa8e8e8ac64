//! The built-in layer kinds, one entry each: everything `net!` knows about a kind is here.
//!
//! Adding a kind is one entry in [`KINDS`] plus its file in `minitorch/src/layers/`. An entry
//! says how the kind is written, what its arguments are and how they are checked, how the output
//! width follows from the input width, which library type and constructor it becomes, and which
//! tensors PyTorch's state dict holds for it.

use safetensors::Dtype;

/// One built-in layer kind.
pub struct LayerKind {
    /// The name as written in a layer list, then any other accepted spellings.
    pub names: &'static [&'static str],
    /// The arguments, in order; those with a default may be left out from the end.
    pub arguments: &'static [Argument],
    /// How the output width follows from the input width.
    pub shape: ShapeRule,
    /// The library type (under `::minitorch::layers`), generic over `<N>` or `<IN, OUT>` by
    /// `shape`.
    pub type_name: &'static str,
    /// Its constructor: `Type::constructor(number arguments…, rng?)`. Width arguments are in the
    /// type, not passed.
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
    /// The value when it is left out (PyTorch's default); `None` if it must be given.
    pub default: Option<f64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ArgumentKind {
    /// A positive integer literal: a number of features.
    Width,
    /// A number literal in `[0, 1)`.
    Probability,
    /// Any finite number literal.
    Number,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ShapeRule {
    /// Maps the width given by argument 0 to the width given by argument 1 (`Linear`).
    Map,
    /// Keeps the width given by argument 0, which must be the width before it (`BatchNorm1d`).
    KeepsDeclared,
    /// Keeps the width before it; cannot be first (activations, `Dropout`).
    Keeps,
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
    /// `[out, in]`.
    Matrix,
    /// `[out]`.
    Vector,
    /// `[]`.
    Scalar,
}

const WIDTH_IN: Argument = Argument { name: "in", kind: ArgumentKind::Width, default: None };
const WIDTH_OUT: Argument = Argument { name: "out", kind: ArgumentKind::Width, default: None };
const FEATURES: Argument = Argument { name: "features", kind: ArgumentKind::Width, default: None };

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
pub const KINDS: &[LayerKind] = &[
    LayerKind {
        names: &["Linear"],
        arguments: &[WIDTH_IN, WIDTH_OUT],
        shape: ShapeRule::Map,
        type_name: "Linear",
        constructor: "new",
        takes_rng: true,
        field: "linear",
        tensors: &[parameter("weight", TensorShape::Matrix), parameter("bias", TensorShape::Vector)],
    },
    LayerKind {
        names: &["BatchNorm1d", "BatchNorm1D"],
        arguments: &[FEATURES],
        shape: ShapeRule::KeepsDeclared,
        type_name: "BatchNorm1d",
        constructor: "new",
        takes_rng: false,
        field: "batchnorm",
        tensors: &[
            parameter("weight", TensorShape::Vector),
            parameter("bias", TensorShape::Vector),
            buffer("running_mean", TensorShape::Vector, Dtype::F32),
            buffer("running_var", TensorShape::Vector, Dtype::F32),
            buffer("num_batches_tracked", TensorShape::Scalar, Dtype::I64),
        ],
    },
    LayerKind {
        names: &["Dropout"],
        arguments: &[Argument { name: "p", kind: ArgumentKind::Probability, default: None }],
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
        arguments: &[Argument { name: "negative_slope", kind: ArgumentKind::Number, default: Some(0.01) }],
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
                Some(default) => format!("{} = {default}", argument.name),
                None => argument.name.to_string(),
            })
            .collect();
        format!("{}({})", self.names[0], arguments.join(", "))
    }

    /// How many arguments it needs at least.
    pub fn required_arguments(&self) -> usize {
        self.arguments.iter().filter(|argument| argument.default.is_none()).count()
    }
}
