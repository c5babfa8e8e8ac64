//! Resolves each layer and its widths, turning every mistake into an error spanned at its cause.

use std::path::PathBuf;

use quote::{ToTokens, quote};
use syn::{Error, Expr, ExprLit, ExprUnary, Lit, LitInt, Type, UnOp};

use crate::kinds::{ArgumentKind, KINDS, LayerKind, ShapeRule, TensorShape};
use crate::parse::{CustomLayer, Definition, Entry, LayerCall};
use crate::weights::check_weights;

/// Every error found, reported together rather than only the first.
#[derive(Default)]
pub struct Errors(Option<Error>);

impl Errors {
    pub fn push(&mut self, error: Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn finish<T>(self, value: T) -> syn::Result<T> {
        self.0.map_or(Ok(value), Err)
    }
}

/// A layer whose widths are known and consistent with its neighbours.
pub struct CheckedLayer {
    pub source: LayerSource,
    /// As written, normalised, for documentation: `Linear(784, 512)`.
    pub written: String,
    pub inputs: usize,
    pub outputs: usize,
}

/// Where a layer comes from.
pub enum LayerSource {
    /// A built-in kind, with the values of its number arguments (defaults filled in).
    BuiltIn { kind: &'static LayerKind, numbers: Vec<f64> },
    /// A type the user wrote.
    Custom(Type),
}

/// One tensor of a checkpoint: PyTorch's name, dtype and shape.
pub struct TensorSpec {
    pub name: String,
    pub dtype: safetensors::Dtype,
    pub shape: Vec<usize>,
    /// A trainable parameter (or else a buffer).
    pub trainable: bool,
}

impl CheckedLayer {
    /// The tensors a checkpoint holds for this layer at `index`, as PyTorch names them; `None` for
    /// a layer the user wrote, whose tensors only its code knows.
    pub fn tensors(&self, index: usize) -> Option<Vec<TensorSpec>> {
        let LayerSource::BuiltIn { kind, .. } = &self.source else {
            return None;
        };
        let tensors = kind.tensors.iter().map(|tensor| TensorSpec {
            name: format!("{index}.{}", tensor.name),
            dtype: tensor.dtype,
            shape: match tensor.shape {
                TensorShape::Matrix => vec![self.outputs, self.inputs],
                TensorShape::Vector => vec![self.outputs],
                TensorShape::Scalar => vec![],
            },
            trainable: tensor.trainable,
        });
        Some(tensors.collect())
    }
}

/// A network that passed every check.
pub struct CheckedNetwork {
    pub definition: Definition,
    pub layers: Vec<CheckedLayer>,
    /// The absolute path of the weights file, checked against the layers.
    pub weights: Option<PathBuf>,
}

/// Checks a whole definition, reporting every error found rather than only the first.
pub fn check(definition: Definition) -> syn::Result<CheckedNetwork> {
    let mut errors = Errors::default();
    if definition.layers.is_empty() {
        let (open, close) = (&definition.open, &definition.close);
        errors.push(Error::new_spanned(
            quote!(#open #close),
            "a network needs at least one layer, e.g. `Linear(784, 10)`",
        ));
    }

    let mut layers = Vec::new();
    // The width flowing out of the layers so far; `None` before the first layer.
    let mut width: Option<usize> = None;
    for entry in &definition.layers {
        let checked = match entry {
            Entry::BuiltIn(call) => check_built_in(call, width),
            Entry::Custom(custom) => check_custom(custom, width),
        };
        match checked {
            Ok(layer) => {
                width = Some(layer.outputs);
                layers.push(layer);
            }
            Err((error, outputs)) => {
                errors.push(error);
                // Carry on with the width the layer claims, so one mistake gives one error.
                width = outputs.or(width);
            }
        }
    }
    let layers = errors.finish(layers)?;
    let weights = match &definition.weights {
        Some(path) => Some(check_weights(path, &layers)?),
        None => None,
    };
    Ok(CheckedNetwork { definition, layers, weights })
}

/// An error, and the output width the layer declares if that much was readable.
type LayerError = (Error, Option<usize>);

fn mismatch(entry: &impl ToTokens, written: &str, inputs: usize, produced: usize) -> Error {
    Error::new_spanned(
        entry,
        format!("`{written}` expects {inputs} input features, but the layer before it produces {produced}"),
    )
}

fn check_custom(custom: &CustomLayer, width: Option<usize>) -> Result<CheckedLayer, LayerError> {
    let inputs = width_literal(&custom.inputs).map_err(|e| (e, None))?;
    let outputs = width_literal(&custom.outputs).map_err(|e| (e, None))?;
    let layer_type = &custom.layer_type;
    let written = format!("{}: {inputs} -> {outputs}", quote!(#layer_type).to_string().replace(' ', ""));
    match width {
        Some(produced) if produced != inputs => {
            Err((mismatch(custom, &written, inputs, produced), Some(outputs)))
        }
        _ => Ok(CheckedLayer { source: LayerSource::Custom(layer_type.clone()), written, inputs, outputs }),
    }
}

fn check_built_in(call: &LayerCall, width: Option<usize>) -> Result<CheckedLayer, LayerError> {
    let kind = resolve(call).map_err(|e| (e, None))?;
    let given = call.argument_count();
    if given < kind.required_arguments() || given > kind.arguments.len() {
        let (least, most) = (kind.required_arguments(), kind.arguments.len());
        let expected = match (least, most) {
            (0, 0) => "no arguments".to_string(),
            (1, 1) => "1 argument".to_string(),
            (least, most) if least == most => format!("{least} arguments"),
            (0, 1) => "at most 1 argument".to_string(),
            (0, most) => format!("at most {most} arguments"),
            (least, most) => format!("{least} to {most} arguments"),
        };
        let message = format!("`{}` takes {expected}: `{}`, found {given}", call.name, kind.signature());
        return Err((Error::new_spanned(call, message), None));
    }
    let written: Vec<&Expr> = call.arguments.iter().flat_map(|(_, a)| a.iter()).collect();
    // Widths go into the layer's type, numbers to its constructor.
    let (mut widths, mut numbers) = (Vec::new(), Vec::new());
    for (position, argument) in kind.arguments.iter().enumerate() {
        match (argument.kind, written.get(position)) {
            (ArgumentKind::Width, Some(expression)) => {
                widths.push(width_argument(expression).map_err(|e| (e, None))?)
            }
            (number_kind, Some(expression)) => {
                numbers.push(number_argument(expression, number_kind, kind).map_err(|e| (e, None))?)
            }
            // The count check above lets only arguments with a default be left out.
            (_, None) => numbers.push(argument.default.expect("a left-out argument has a default")),
        }
    }
    let source = call.source();
    let built = |inputs, outputs| CheckedLayer {
        source: LayerSource::BuiltIn { kind, numbers: numbers.clone() },
        written: source.clone(),
        inputs,
        outputs,
    };
    match kind.shape {
        ShapeRule::Map => {
            let (inputs, outputs) = (widths[0], widths[1]);
            match width {
                Some(produced) if produced != inputs => {
                    Err((mismatch(call, &source, inputs, produced), Some(outputs)))
                }
                _ => Ok(built(inputs, outputs)),
            }
        }
        ShapeRule::KeepsDeclared => {
            let features = widths[0];
            match width {
                // The layer keeps the width, so the layers after it see `produced`.
                Some(produced) if produced != features => {
                    Err((mismatch(call, &source, features, produced), None))
                }
                _ => Ok(built(features, features)),
            }
        }
        ShapeRule::Keeps => match width {
            Some(features) => Ok(built(features, features)),
            None => {
                let message = format!(
                    "`{}` cannot be the first layer: it takes its width from the layer before it; \
                     start with a layer that fixes the input width, `Linear(in, out)` or `BatchNorm1d(features)`",
                    call.name
                );
                Err((Error::new_spanned(call, message), None))
            }
        },
    }
}

fn resolve(call: &LayerCall) -> syn::Result<&'static LayerKind> {
    let name = call.name.to_string();
    let spellings = || KINDS.iter().flat_map(|kind| kind.names.iter().map(move |&known| (known, kind)));
    if let Some((_, kind)) = spellings().find(|(known, _)| *known == name) {
        return Ok(kind);
    }
    let lower = name.to_lowercase();
    let (closest, similarity) = spellings()
        .map(|(known, _)| (known, strsim::jaro_winkler(&lower, &known.to_lowercase())))
        .fold(("", 0.0), |best, candidate| if candidate.1 > best.1 { candidate } else { best });
    let message = if similarity >= 0.8 {
        format!("unknown layer `{name}`; did you mean `{closest}`?")
    } else {
        let names: Vec<String> = KINDS.iter().map(|kind| format!("`{}`", kind.names[0])).collect();
        let (last, others) = names.split_last().expect("there are built-in kinds");
        format!(
            "unknown layer `{name}`; the built-in layers are {} and {last}; a layer you wrote is given \
             as its type and widths, e.g. `MyLayer<64>: 64 -> 64`",
            others.join(", ")
        )
    };
    Err(Error::new_spanned(&call.name, message))
}

fn width_argument(argument: &Expr) -> syn::Result<usize> {
    match argument {
        Expr::Lit(ExprLit { lit: Lit::Int(literal), .. }) => width_literal(literal),
        _ => Err(Error::new_spanned(argument, "a width must be a positive integer literal, e.g. `784`")),
    }
}

fn width_literal(literal: &LitInt) -> syn::Result<usize> {
    match literal.base10_parse::<usize>() {
        Ok(0) => Err(Error::new_spanned(literal, "a width must be at least 1, found 0")),
        Ok(width) => Ok(width),
        Err(_) => Err(Error::new_spanned(literal, "a width must be a positive integer literal, e.g. `784`")),
    }
}

fn number_argument(argument: &Expr, kind: ArgumentKind, layer: &LayerKind) -> syn::Result<f64> {
    let what = match kind {
        ArgumentKind::Probability => "a dropout probability".to_string(),
        _ => format!("the argument of `{}`", layer.names[0]),
    };
    let (negative, literal) = match argument {
        Expr::Unary(ExprUnary { op: UnOp::Neg(_), expr, .. }) => (true, &**expr),
        other => (false, other),
    };
    let value = match literal {
        Expr::Lit(ExprLit { lit: Lit::Float(f), .. }) => f.base10_parse::<f64>(),
        Expr::Lit(ExprLit { lit: Lit::Int(i), .. }) => i.base10_parse::<f64>(),
        _ => {
            return Err(Error::new_spanned(argument, format!("{what} must be a number literal, e.g. `0.2`")));
        }
    }?;
    let value = if negative { -value } else { value };
    let shown = argument.to_token_stream().to_string().replace(' ', "");
    match kind {
        ArgumentKind::Probability if !(0.0..1.0).contains(&value) => {
            Err(Error::new_spanned(argument, format!("{what} must be in [0, 1), found {shown}")))
        }
        _ if !(value as f32).is_finite() => {
            Err(Error::new_spanned(argument, format!("{what} must be a finite f32, found {shown}")))
        }
        _ => Ok(value),
    }
}
