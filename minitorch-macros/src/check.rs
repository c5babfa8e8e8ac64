//! Resolves each layer and its widths, turning every mistake into an error spanned at its cause.

use std::path::{Path, PathBuf};

use quote::{ToTokens, quote};
use safetensors::{Dtype, SafeTensors};
use syn::{Error, Expr, ExprLit, ExprUnary, Lit, LitStr, UnOp};

use crate::parse::{Definition, LayerCall};

/// The layers `net!` knows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Linear,
    ReLU,
    Dropout,
    BatchNorm1d,
}

/// Names as written in a layer list; `BatchNorm1D` is the workshop's spelling.
const KNOWN: [(&str, Kind); 5] = [
    ("Linear", Kind::Linear),
    ("ReLU", Kind::ReLU),
    ("Dropout", Kind::Dropout),
    ("BatchNorm1d", Kind::BatchNorm1d),
    ("BatchNorm1D", Kind::BatchNorm1d),
];

impl Kind {
    fn signature(self) -> &'static str {
        match self {
            Kind::Linear => "Linear(in, out)",
            Kind::ReLU => "ReLU",
            Kind::Dropout => "Dropout(p)",
            Kind::BatchNorm1d => "BatchNorm1d(features)",
        }
    }

    fn argument_count(self) -> usize {
        match self {
            Kind::Linear => 2,
            Kind::ReLU => 0,
            Kind::Dropout | Kind::BatchNorm1d => 1,
        }
    }
}

/// A layer whose widths are known and consistent with its neighbours.
pub struct Layer {
    pub kind: Kind,
    /// As written, normalised, for documentation: `Linear(784, 512)`.
    pub source: String,
    pub inputs: usize,
    pub outputs: usize,
    /// Drop probability, for `Dropout`.
    pub probability: f64,
}

/// One tensor of a checkpoint: PyTorch's name, dtype and shape.
pub struct TensorSpec {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// A trainable parameter (or else a buffer).
    pub trainable: bool,
}

impl Layer {
    /// The tensors a checkpoint holds for this layer at `index`, as PyTorch names them.
    pub fn tensors(&self, index: usize) -> Vec<TensorSpec> {
        let spec = |name: &str, dtype, shape: Vec<usize>, trainable| TensorSpec {
            name: format!("{index}.{name}"),
            dtype,
            shape,
            trainable,
        };
        let n = self.outputs;
        match self.kind {
            Kind::Linear => vec![
                spec("weight", Dtype::F32, vec![n, self.inputs], true),
                spec("bias", Dtype::F32, vec![n], true),
            ],
            Kind::BatchNorm1d => vec![
                spec("weight", Dtype::F32, vec![n], true),
                spec("bias", Dtype::F32, vec![n], true),
                spec("running_mean", Dtype::F32, vec![n], false),
                spec("running_var", Dtype::F32, vec![n], false),
                spec("num_batches_tracked", Dtype::I64, vec![], false),
            ],
            Kind::ReLU | Kind::Dropout => Vec::new(),
        }
    }
}

/// A network that passed every check.
pub struct Network {
    pub definition: Definition,
    pub layers: Vec<Layer>,
    /// The absolute path of the weights file, checked against the layers.
    pub weights: Option<PathBuf>,
}

/// Checks a whole definition, reporting every error found rather than only the first.
pub fn check(definition: Definition) -> syn::Result<Network> {
    let mut errors: Option<Error> = None;
    let mut report = |error: Error| match &mut errors {
        Some(errors) => errors.combine(error),
        None => errors = Some(error),
    };
    if definition.layers.is_empty() {
        let (open, close) = (&definition.open, &definition.close);
        report(Error::new_spanned(
            quote!(#open #close),
            "a network needs at least one layer, e.g. `Linear(784, 10)`",
        ));
    }

    let mut layers = Vec::new();
    // The width flowing out of the layers so far; `None` before the first layer.
    let mut width: Option<usize> = None;
    for call in &definition.layers {
        match check_layer(call, width) {
            Ok(layer) => {
                width = Some(layer.outputs);
                layers.push(layer);
            }
            Err((error, outputs)) => {
                report(error);
                // Carry on with the width the layer claims, so one mistake gives one error.
                width = outputs.or(width);
            }
        }
    }
    if let Some(errors) = errors {
        return Err(errors);
    }
    let weights = match &definition.weights {
        Some(path) => Some(check_weights(path, &layers)?),
        None => None,
    };
    Ok(Network { definition, layers, weights })
}

/// Reads the weights file named by `path` (relative to the invoking crate's manifest directory)
/// and checks that it holds exactly the tensors of `layers`, with their dtypes and shapes.
fn check_weights(path: &LitStr, layers: &[Layer]) -> syn::Result<PathBuf> {
    let error = |message: String| Error::new_spanned(path, message);
    let manifest_directory = std::env::var("CARGO_MANIFEST_DIR").map_err(|_| {
        error("CARGO_MANIFEST_DIR is not set: build with cargo to resolve the weights file".into())
    })?;
    let resolved = Path::new(&manifest_directory).join(path.value());
    let bytes = std::fs::read(&resolved).map_err(|e| {
        error(format!("cannot read weights file {} (relative to the crate's Cargo.toml): {e}", path.value()))
    })?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| error(format!("weights file {} is not a valid safetensors file: {e}", path.value())))?;

    let expected: Vec<TensorSpec> =
        layers.iter().enumerate().flat_map(|(i, layer)| layer.tensors(i)).collect();
    let mut problems: Option<Error> = None;
    let mut report = |message: String| {
        let e = error(format!("weights file {}: {message}", path.value()));
        match &mut problems {
            Some(problems) => problems.combine(e),
            None => problems = Some(e),
        }
    };
    for spec in &expected {
        match file.tensor(&spec.name) {
            Err(_) => report(format!("missing tensor `{}` ({:?} {:?})", spec.name, spec.dtype, spec.shape)),
            Ok(found) if found.dtype() != spec.dtype || found.shape() != spec.shape.as_slice() => {
                report(format!(
                    "tensor `{}` is {:?} {:?} in the architecture but {:?} {:?} in the file",
                    spec.name,
                    spec.dtype,
                    spec.shape,
                    found.dtype(),
                    found.shape()
                ))
            }
            Ok(_) => {}
        }
    }
    let mut names = file.names();
    names.sort();
    for name in names {
        if !expected.iter().any(|spec| spec.name == name) {
            report(format!("unexpected tensor `{name}`: the architecture has no such parameter or buffer"));
        }
    }
    match problems {
        Some(problems) => Err(problems),
        None => Ok(resolved),
    }
}

/// On failure, also returns the output width the layer declares, if that much was readable.
fn check_layer(call: &LayerCall, width: Option<usize>) -> Result<Layer, (Error, Option<usize>)> {
    let kind = resolve(call).map_err(|e| (e, None))?;
    if call.argument_count() != kind.argument_count() {
        let expected = match kind.argument_count() {
            0 => "no arguments".to_string(),
            1 => "1 argument".to_string(),
            n => format!("{n} arguments"),
        };
        let message = format!(
            "`{}` takes {expected}: `{}`, found {}",
            call.name,
            kind.signature(),
            call.argument_count()
        );
        return Err((Error::new_spanned(call, message), None));
    }
    let arguments: Vec<&Expr> = call.arguments.iter().flat_map(|(_, a)| a.iter()).collect();
    let source = call.source();
    let mismatch = |inputs: usize, produced: usize| {
        Error::new_spanned(
            call,
            format!(
                "`{source}` expects {inputs} input features, but the layer before it produces {produced}"
            ),
        )
    };
    match kind {
        Kind::Linear => {
            let inputs = width_argument(arguments[0]).map_err(|e| (e, None))?;
            let outputs = width_argument(arguments[1]).map_err(|e| (e, None))?;
            match width {
                Some(produced) if produced != inputs => Err((mismatch(inputs, produced), Some(outputs))),
                _ => Ok(Layer { kind, source, inputs, outputs, probability: 0.0 }),
            }
        }
        Kind::BatchNorm1d => {
            let features = width_argument(arguments[0]).map_err(|e| (e, None))?;
            match width {
                // Batch normalisation keeps the width, so the layers after it see `produced`.
                Some(produced) if produced != features => Err((mismatch(features, produced), None)),
                _ => Ok(Layer { kind, source, inputs: features, outputs: features, probability: 0.0 }),
            }
        }
        Kind::ReLU | Kind::Dropout => {
            let Some(features) = width else {
                let message = format!(
                    "`{}` cannot be the first layer: it takes its width from the layer before it; \
                     start with a layer that fixes the input width, `Linear(in, out)` or `BatchNorm1d(features)`",
                    call.name
                );
                return Err((Error::new_spanned(call, message), None));
            };
            let probability = match kind {
                Kind::Dropout => probability_argument(arguments[0]).map_err(|e| (e, None))?,
                _ => 0.0,
            };
            Ok(Layer { kind, source, inputs: features, outputs: features, probability })
        }
    }
}

fn resolve(call: &LayerCall) -> syn::Result<Kind> {
    let name = call.name.to_string();
    if let Some((_, kind)) = KNOWN.iter().find(|(known, _)| *known == name) {
        return Ok(*kind);
    }
    let lower = name.to_lowercase();
    let (closest, similarity) = KNOWN
        .iter()
        .map(|(known, _)| (*known, strsim::jaro_winkler(&lower, &known.to_lowercase())))
        .fold(("", 0.0), |best, candidate| if candidate.1 > best.1 { candidate } else { best });
    let message = if similarity >= 0.8 {
        format!("unknown layer `{name}`; did you mean `{closest}`?")
    } else {
        format!("unknown layer `{name}`; the layers are `Linear`, `ReLU`, `Dropout` and `BatchNorm1d`")
    };
    Err(Error::new_spanned(&call.name, message))
}

fn width_argument(argument: &Expr) -> syn::Result<usize> {
    let error = || Error::new_spanned(argument, "a width must be a positive integer literal, e.g. `784`");
    let Expr::Lit(ExprLit { lit: Lit::Int(literal), .. }) = argument else {
        return Err(error());
    };
    match literal.base10_parse::<usize>() {
        Ok(0) => Err(Error::new_spanned(argument, "a width must be at least 1, found 0")),
        Ok(width) => Ok(width),
        Err(_) => Err(error()),
    }
}

fn probability_argument(argument: &Expr) -> syn::Result<f64> {
    let (negative, literal) = match argument {
        Expr::Unary(ExprUnary { op: UnOp::Neg(_), expr, .. }) => (true, &**expr),
        other => (false, other),
    };
    let value = match literal {
        Expr::Lit(ExprLit { lit: Lit::Float(f), .. }) => f.base10_parse::<f64>(),
        Expr::Lit(ExprLit { lit: Lit::Int(i), .. }) => i.base10_parse::<f64>(),
        _ => {
            return Err(Error::new_spanned(
                argument,
                "a dropout probability must be a number literal, e.g. `0.2`",
            ));
        }
    }?;
    let value = if negative { -value } else { value };
    if (0.0..1.0).contains(&value) {
        Ok(value)
    } else {
        let shown = argument.to_token_stream().to_string().replace(' ', "");
        Err(Error::new_spanned(argument, format!("a dropout probability must be in [0, 1), found {shown}")))
    }
}
