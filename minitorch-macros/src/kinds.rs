//! The built-in layer kinds, one entry each: how a kind is written, its arguments, its shape
//! rule (`rules.rs`), and the library type and constructor it becomes.
//!
//! Adding a kind that follows an existing rule is one entry in [`KINDS`] plus its file in
//! `minitorch/src/layers/`.

use crate::rules::{self, ShapeRule};

/// The blocks, which are not kinds (they hold lists of entries) but are suggested for a
/// misspelt name.
pub const BLOCK_NAMES: &[&str] = &["Residual", "Concat"];

/// One built-in layer kind.
pub struct LayerKind {
    /// The name as written in a layer list, then any other accepted spellings.
    pub names: &'static [&'static str],
    /// The arguments, in order; those with a default may be left out from the end, or given by
    /// name (`stride = 2`).
    pub arguments: &'static [Argument],
    /// How the output shape follows from the input shape, the type's generic arguments and its
    /// tensors.
    pub rule: &'static dyn ShapeRule,
    /// The library type (under `::minitorch::layers`), generic as `rule` says; empty for
    /// entries that are no layer at run time (`Input`, `Flatten`).
    pub type_name: &'static str,
    /// Its constructor: `Type::constructor(number arguments…, rng?)`. Integer arguments are in
    /// the type, not passed.
    pub constructor: &'static str,
    /// Whether the constructor takes the network's random generator last.
    pub takes_rng: bool,
    /// The start of the struct field's name: `linear` gives `linear0`.
    pub field: &'static str,
}

/// One argument of a layer kind.
pub struct Argument {
    /// Its name in the signature shown in messages: `Linear(in, out)`.
    pub name: &'static str,
    pub kind: ArgumentKind,
    /// What it is when left out (PyTorch's default); `None` if it must be given.
    pub default: Option<Fallback>,
    /// How messages call it: "a width", "`stride`", "a dropout probability".
    pub what: &'static str,
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

const fn width(name: &'static str) -> Argument {
    Argument { name, kind: ArgumentKind::Size, default: None, what: "a width" }
}

const fn size(name: &'static str, what: &'static str) -> Argument {
    Argument { name, kind: ArgumentKind::Size, default: None, what }
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
        rule: &rules::Keeps,
        type_name,
        constructor: "new",
        takes_rng: false,
        field,
    }
}

/// A kind without a layer at run time.
const fn declaration(
    names: &'static [&'static str],
    arguments: &'static [Argument],
    rule: &'static dyn ShapeRule,
    field: &'static str,
) -> LayerKind {
    LayerKind { names, arguments, rule, type_name: "", constructor: "", takes_rng: false, field }
}

/// A layer without number arguments or a random generator.
const fn layer(
    names: &'static [&'static str],
    arguments: &'static [Argument],
    rule: &'static dyn ShapeRule,
    type_name: &'static str,
    field: &'static str,
) -> LayerKind {
    LayerKind { names, arguments, rule, type_name, constructor: "new", takes_rng: false, field }
}

const POOLING: &[Argument] = &[
    size("kernel_size", "`kernel_size`"),
    Argument {
        name: "stride",
        kind: ArgumentKind::Size,
        default: Some(Fallback::SameAs(0)),
        what: "`stride`",
    },
];

/// Every built-in kind. `BatchNorm1D` is the workshop's spelling.
pub const KINDS: &[LayerKind] = &[
    declaration(
        &["Input"],
        &[size("channels", "`channels`"), size("height", "`height`"), size("width", "`width`")],
        &rules::Input,
        "input",
    ),
    LayerKind {
        takes_rng: true,
        ..layer(&["Linear"], &[width("in"), width("out")], &rules::Map, "Linear", "linear")
    },
    LayerKind {
        takes_rng: true,
        ..layer(
            &["Conv2d", "Conv2D"],
            &[
                size("in_channels", "`in_channels`"),
                size("out_channels", "`out_channels`"),
                size("kernel_size", "`kernel_size`"),
                Argument {
                    name: "stride",
                    kind: ArgumentKind::Size,
                    default: Some(Fallback::Value(1.0)),
                    what: "`stride`",
                },
                Argument {
                    name: "padding",
                    kind: ArgumentKind::Padding,
                    default: Some(Fallback::Value(0.0)),
                    what: "`padding`",
                },
            ],
            &rules::Convolution,
            "Conv2d",
            "conv2d",
        )
    },
    layer(&["MaxPool2d", "MaxPool2D"], POOLING, &rules::Pooling, "MaxPool2d", "maxpool2d"),
    layer(&["AvgPool2d", "AvgPool2D"], POOLING, &rules::Pooling, "AvgPool2d", "avgpool2d"),
    layer(
        &["AdaptiveAvgPool2d", "AdaptiveAvgPool2D"],
        &[size("output_size", "`output_size`")],
        &rules::AdaptivePooling,
        "AdaptiveAvgPool2d",
        "adaptive_avgpool2d",
    ),
    layer(
        &["BatchNorm1d", "BatchNorm1D"],
        &[width("features")],
        &rules::KeepsDeclared,
        "BatchNorm1d",
        "batchnorm",
    ),
    layer(
        &["BatchNorm2d", "BatchNorm2D"],
        &[size("channels", "`channels`")],
        &rules::KeepsChannels,
        "BatchNorm2d",
        "batchnorm2d",
    ),
    declaration(&["Flatten"], &[], &rules::Flatten, "flatten"),
    LayerKind {
        takes_rng: true,
        ..layer(
            &["Dropout"],
            &[Argument {
                name: "p",
                kind: ArgumentKind::Probability,
                default: None,
                what: "a dropout probability",
            }],
            &rules::Keeps,
            "Dropout",
            "dropout",
        )
    },
    activation(&["ReLU"], "ReLU", "relu"),
    LayerKind {
        arguments: &[Argument {
            name: "negative_slope",
            kind: ArgumentKind::Number,
            default: Some(Fallback::Value(0.01)),
            what: "the argument of `LeakyReLU`",
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

    /// "2 arguments", "at most 1 argument", "no arguments", for messages.
    pub fn expected_count(&self) -> String {
        let least = self.arguments.iter().filter(|argument| argument.default.is_none()).count();
        match (least, self.arguments.len()) {
            (0, 0) => "no arguments".to_string(),
            (1, 1) => "1 argument".to_string(),
            (least, most) if least == most => format!("{least} arguments"),
            (0, 1) => "at most 1 argument".to_string(),
            (0, most) => format!("at most {most} arguments"),
            (least, most) => format!("{least} to {most} arguments"),
        }
    }

    /// Whether it is a layer at run time (`Input` and `Flatten` are not).
    pub fn is_layer(&self) -> bool {
        !self.type_name.is_empty()
    }
}
