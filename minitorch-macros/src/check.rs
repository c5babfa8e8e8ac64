//! Resolves each layer and the shape flowing through the list, turning every mistake into an
//! error spanned at its cause.

use std::path::PathBuf;

use quote::{ToTokens, quote};
use syn::{Error, Expr, ExprAssign, ExprLit, ExprPath, ExprUnary, Lit, LitInt, Type, UnOp};

use crate::kinds::{ArgumentKind, Fallback, KINDS, LayerKind, ShapeRule, TensorShape};
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

/// What flows between layers: features, or an image of channels × height × width (whose flat
/// width is their product, in that order).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shape {
    Flat(usize),
    Image { channels: usize, height: usize, width: usize },
}

impl Shape {
    /// The flat width: the `N` of `Batch<N>`.
    pub fn features(self) -> usize {
        match self {
            Shape::Flat(features) => features,
            Shape::Image { channels, height, width } => channels * height * width,
        }
    }

    /// `512` or `32 × 26 × 26`, for documentation and messages.
    pub fn describe(self) -> String {
        match self {
            Shape::Flat(features) => features.to_string(),
            Shape::Image { channels, height, width } => format!("{channels} × {height} × {width}"),
        }
    }
}

/// An entry whose shapes are known and consistent with its neighbours.
pub struct CheckedLayer {
    pub source: LayerSource,
    /// As written, normalised, for documentation: `Linear(784, 512)`.
    pub written: String,
    pub input: Shape,
    pub output: Shape,
    /// Its index in PyTorch's `nn.Sequential`; `None` for `Input`, which is no layer.
    pub index: Option<usize>,
}

/// Where a layer comes from.
pub enum LayerSource {
    /// A built-in kind, with its integer arguments (defaults filled in) and its number
    /// arguments.
    BuiltIn { kind: &'static LayerKind, integers: Vec<usize>, numbers: Vec<f64> },
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
    pub fn inputs(&self) -> usize {
        self.input.features()
    }

    pub fn outputs(&self) -> usize {
        self.output.features()
    }

    /// Whether it is a struct field, run by `forward` (`Input` and `Flatten` are not).
    pub fn is_layer(&self) -> bool {
        match &self.source {
            LayerSource::BuiltIn { kind, .. } => kind.is_layer(),
            LayerSource::Custom(_) => true,
        }
    }

    /// The tensors a checkpoint holds for this layer, as PyTorch names them; `None` for a layer
    /// the user wrote, whose tensors only its code knows.
    pub fn tensors(&self) -> Option<Vec<TensorSpec>> {
        let LayerSource::BuiltIn { kind, integers, .. } = &self.source else {
            return None;
        };
        let index = self.index.unwrap_or_default();
        let per_output = match self.output {
            Shape::Flat(features) => features,
            Shape::Image { channels, .. } => channels,
        };
        let tensors = kind.tensors.iter().map(|tensor| TensorSpec {
            name: format!("{index}.{}", tensor.name),
            dtype: tensor.dtype,
            shape: match tensor.shape {
                TensorShape::Matrix => vec![self.outputs(), self.inputs()],
                TensorShape::Kernel => vec![integers[1], integers[0], integers[2], integers[2]],
                TensorShape::Vector => vec![per_output],
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
    /// Every entry, `Input` and `Flatten` included.
    pub layers: Vec<CheckedLayer>,
    /// The absolute path of the weights file, checked against the layers.
    pub weights: Option<PathBuf>,
}

impl CheckedNetwork {
    /// The entries that are layers at run time, with their fields.
    pub fn run_time_layers(&self) -> impl Iterator<Item = &CheckedLayer> {
        self.layers.iter().filter(|layer| layer.is_layer())
    }

    pub fn input(&self) -> Shape {
        self.layers[0].input
    }

    pub fn output(&self) -> Shape {
        self.layers[self.layers.len() - 1].output
    }
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

    let mut layers: Vec<CheckedLayer> = Vec::new();
    // The shape flowing out of the entries so far; `None` before the first.
    let mut shape: Option<Shape> = None;
    // After a mistake that leaves the shape unknown, the entries that follow are only checked
    // for their own arguments, until one declares its input (`Linear`, `BatchNorm1d`, a layer of
    // the user's): one mistake gives one error.
    let mut shape_lost = false;
    let mut index = 0;
    for (position, entry) in definition.layers.iter().enumerate() {
        if shape_lost {
            if let Some(declared) = declared_output(entry).map_err(|error| errors.push(error)).ok().flatten()
            {
                shape = Some(declared);
                shape_lost = false;
            }
            continue;
        }
        let before = Before { shape, layer: layers.last(), first: position == 0 };
        let checked = match entry {
            Entry::BuiltIn(call) => check_built_in(call, &before),
            Entry::Custom(custom) => check_custom(custom, &before),
        };
        match checked {
            Ok(mut layer) => {
                shape = Some(layer.output);
                if layer.index.is_some() {
                    layer.index = Some(index);
                    index += 1;
                }
                layers.push(layer);
            }
            Err((error, output)) => {
                errors.push(error);
                // Carry on with the shape the entry claims, if it says.
                shape = output;
                shape_lost = output.is_none();
                index += 1;
            }
        }
    }
    let layers = errors.finish(layers)?;
    if !layers.iter().any(CheckedLayer::is_layer) {
        return Err(Error::new_spanned(
            &definition.name,
            "a network needs at least one layer after its `Input`, e.g. `Flatten, Linear(784, 10)`",
        ));
    }
    let weights = match &definition.weights {
        Some(path) => Some(check_weights(path, &layers)?),
        None => None,
    };
    Ok(CheckedNetwork { definition, layers, weights })
}

/// For an entry after a mistake: its own arguments' errors, and the shape it declares if it
/// fixes its input whatever comes before it.
fn declared_output(entry: &Entry) -> syn::Result<Option<Shape>> {
    match entry {
        Entry::Custom(custom) => Ok(Some(Shape::Flat(size_literal(&custom.outputs, "a width")?))),
        Entry::BuiltIn(call) => {
            let kind = resolve(call)?;
            let (integers, _) = arguments(call, kind)?;
            Ok(match kind.shape {
                ShapeRule::Map => Some(Shape::Flat(integers[1])),
                ShapeRule::KeepsDeclared => Some(Shape::Flat(integers[0])),
                _ => None,
            })
        }
    }
}

/// What an entry follows.
struct Before<'a> {
    shape: Option<Shape>,
    /// The entry before it, if any was checked without error.
    layer: Option<&'a CheckedLayer>,
    first: bool,
}

impl Before<'_> {
    /// "the layer before it produces 512", or "`Flatten` produces 9216 (64 channels × 12 × 12)".
    fn produces(&self, shape: Shape) -> String {
        match (self.layer.map(|layer| (layer, layer.input)), shape) {
            // A flat shape made from an image: name the image it came from.
            (Some((layer, Shape::Image { channels, height, width })), Shape::Flat(features)) => {
                let plural = if channels == 1 { "" } else { "s" };
                format!(
                    "`{}` produces {features} ({channels} channel{plural} × {height} × {width})",
                    layer.written
                )
            }
            (_, Shape::Flat(features)) => format!("the layer before it produces {features}"),
            (_, image) => format!("the layer before it produces an image of {}", image.describe()),
        }
    }
}

/// An error, and the output shape the entry declares if that much was readable.
type EntryError = (Error, Option<Shape>);

fn error(entry: &impl ToTokens, message: String) -> Error {
    Error::new_spanned(entry, message)
}

fn check_custom(custom: &CustomLayer, before: &Before<'_>) -> Result<CheckedLayer, EntryError> {
    let inputs = size_literal(&custom.inputs, "a width").map_err(|e| (e, None))?;
    let outputs = size_literal(&custom.outputs, "a width").map_err(|e| (e, None))?;
    let layer_type = &custom.layer_type;
    let written = format!("{}: {inputs} -> {outputs}", quote!(#layer_type).to_string().replace(' ', ""));
    // On an image, a layer that keeps the width keeps the image; any other is flat after it.
    let output = match before.shape {
        Some(image @ Shape::Image { .. }) if outputs == inputs => image,
        _ => Shape::Flat(outputs),
    };
    match before.shape {
        Some(produced) if produced.features() != inputs => {
            let message =
                format!("`{written}` expects {inputs} input features, but {}", before.produces(produced));
            Err((error(custom, message), Some(output)))
        }
        produced => Ok(CheckedLayer {
            source: LayerSource::Custom(layer_type.clone()),
            written,
            input: produced.unwrap_or(Shape::Flat(inputs)),
            output,
            index: Some(0),
        }),
    }
}

fn check_built_in(call: &LayerCall, before: &Before<'_>) -> Result<CheckedLayer, EntryError> {
    let kind = resolve(call).map_err(|e| (e, None))?;
    let (integers, numbers) = arguments(call, kind).map_err(|e| (e, None))?;
    let written = call.source();
    let fail = |message: String, output: Option<Shape>| Err((error(call, message), output));
    let built = |input: Shape, output: Shape| {
        let index = (kind.shape != ShapeRule::Input).then_some(0);
        let source = LayerSource::BuiltIn { kind, integers: integers.clone(), numbers: numbers.clone() };
        Ok(CheckedLayer { source, written: written.clone(), input, output, index })
    };
    let needs_image = |shape: Option<Shape>| -> Result<(usize, usize, usize), EntryError> {
        match shape {
            Some(Shape::Image { channels, height, width }) => Ok((channels, height, width)),
            Some(Shape::Flat(features)) => Err((
                error(
                    call,
                    format!(
                        "`{written}` needs an image, but the shape is flat here ({features} features); \
                         image layers come before `Flatten`"
                    ),
                ),
                None,
            )),
            None => Err((
                error(
                    call,
                    format!(
                        "`{written}` needs an image: start the list with `Input(channels, height, width)`"
                    ),
                ),
                None,
            )),
        }
    };
    match kind.shape {
        ShapeRule::Input => {
            if !before.first {
                return fail(
                    format!("`{written}` declares the network's input and must come first"),
                    before.shape,
                );
            }
            let [channels, height, width] = [integers[0], integers[1], integers[2]];
            let image = Shape::Image { channels, height, width };
            built(image, image)
        }
        ShapeRule::Map => {
            let (inputs, outputs) = (integers[0], integers[1]);
            match before.shape {
                Some(image @ Shape::Image { .. }) => fail(
                    format!(
                        "`{written}` takes flat input, but {}; add `Flatten` before it (giving {} features)",
                        before.produces(image),
                        image.features()
                    ),
                    Some(Shape::Flat(outputs)),
                ),
                Some(Shape::Flat(produced)) if produced != inputs => fail(
                    format!(
                        "`{written}` expects {inputs} input features, but {}",
                        before.produces(Shape::Flat(produced))
                    ),
                    Some(Shape::Flat(outputs)),
                ),
                _ => built(Shape::Flat(inputs), Shape::Flat(outputs)),
            }
        }
        ShapeRule::KeepsDeclared => {
            let features = integers[0];
            match before.shape {
                Some(image @ Shape::Image { .. }) => fail(
                    format!(
                        "`{written}` takes flat input, but {}; use `BatchNorm2d(channels)` on images",
                        before.produces(image)
                    ),
                    None,
                ),
                // The layer keeps the width, so the layers after it see `produced`.
                Some(Shape::Flat(produced)) if produced != features => fail(
                    format!(
                        "`{written}` expects {features} input features, but {}",
                        before.produces(Shape::Flat(produced))
                    ),
                    None,
                ),
                _ => built(Shape::Flat(features), Shape::Flat(features)),
            }
        }
        ShapeRule::Keeps | ShapeRule::Flatten => {
            let Some(shape) = before.shape else {
                return fail(
                    format!(
                        "`{}` cannot be the first layer: it takes its shape from the layer before it; \
                         start with a layer that fixes the input, `Linear(in, out)`, `BatchNorm1d(features)` \
                         or `Input(channels, height, width)`",
                        call.name
                    ),
                    None,
                );
            };
            let output = if kind.shape == ShapeRule::Flatten { Shape::Flat(shape.features()) } else { shape };
            built(shape, output)
        }
        ShapeRule::Convolution => {
            let (channels, height, width) = needs_image(before.shape)?;
            let [in_channels, out_channels, kernel, stride, padding] =
                [integers[0], integers[1], integers[2], integers[3], integers[4]];
            let output = |height: usize, width: usize| Shape::Image {
                channels: out_channels,
                height: (height + 2 * padding).saturating_sub(kernel) / stride + 1,
                width: (width + 2 * padding).saturating_sub(kernel) / stride + 1,
            };
            if channels != in_channels {
                return fail(
                    format!(
                        "`{written}` expects {in_channels} input channels, but the layer before it produces \
                         {channels} ({channels} × {height} × {width})"
                    ),
                    Some(output(height, width)),
                );
            }
            if kernel > height + 2 * padding || kernel > width + 2 * padding {
                return fail(
                    format!(
                        "`{written}`: the kernel ({kernel} × {kernel}) is larger than its padded input ({} × {})",
                        height + 2 * padding,
                        width + 2 * padding
                    ),
                    None,
                );
            }
            built(before.shape.expect("an image"), output(height, width))
        }
        ShapeRule::Pooling => {
            let (channels, height, width) = needs_image(before.shape)?;
            let (kernel, stride) = (integers[0], integers[1]);
            if kernel > height || kernel > width {
                return fail(
                    format!(
                        "`{written}`: the window ({kernel} × {kernel}) is larger than its input ({height} × {width})"
                    ),
                    None,
                );
            }
            let output = Shape::Image {
                channels,
                height: (height - kernel) / stride + 1,
                width: (width - kernel) / stride + 1,
            };
            built(before.shape.expect("an image"), output)
        }
        ShapeRule::KeepsChannels => {
            let (channels, height, width) = needs_image(before.shape)?;
            if channels != integers[0] {
                return fail(
                    format!(
                        "`{written}` expects {} channels, but the layer before it produces {channels} \
                         ({channels} × {height} × {width})",
                        integers[0]
                    ),
                    None,
                );
            }
            let shape = before.shape.expect("an image");
            built(shape, shape)
        }
    }
}

/// The integer and the number arguments of `call`, in the kind's order, with defaults filled in.
fn arguments(call: &LayerCall, kind: &LayerKind) -> syn::Result<(Vec<usize>, Vec<f64>)> {
    let written: Vec<&Expr> = call.arguments.iter().flat_map(|(_, a)| a.iter()).collect();
    // Positional arguments first, then `name = value` ones.
    let mut given: Vec<Option<&Expr>> = vec![None; kind.arguments.len()];
    let mut positional = true;
    for expression in &written {
        if let Expr::Assign(ExprAssign { left, right, .. }) = expression {
            positional = false;
            let name = match &**left {
                Expr::Path(ExprPath { path, .. }) => path.get_ident().map(ToString::to_string),
                _ => None,
            };
            let slot = name.as_deref().and_then(|name| kind.arguments.iter().position(|a| a.name == name));
            let Some(slot) = slot else {
                return Err(Error::new_spanned(
                    left,
                    format!("`{}` has no argument of that name: `{}`", call.name, kind.signature()),
                ));
            };
            if given[slot].replace(right).is_some() {
                return Err(Error::new_spanned(
                    left,
                    format!("`{}` is given twice", kind.arguments[slot].name),
                ));
            }
        } else if !positional {
            return Err(Error::new_spanned(expression, "positional arguments come before named ones"));
        } else if let Some(slot) =
            given.iter().position(Option::is_none).filter(|&slot| slot < kind.arguments.len())
        {
            given[slot] = Some(expression);
        }
    }
    let positional_count = written.iter().filter(|e| !matches!(e, Expr::Assign(_))).count();
    let missing = kind
        .arguments
        .iter()
        .zip(&given)
        .any(|(argument, value)| argument.default.is_none() && value.is_none());
    if positional_count > kind.arguments.len() || missing {
        let (least, most) = (kind.required_arguments(), kind.arguments.len());
        let expected = match (least, most) {
            (0, 0) => "no arguments".to_string(),
            (1, 1) => "1 argument".to_string(),
            (least, most) if least == most => format!("{least} arguments"),
            (0, 1) => "at most 1 argument".to_string(),
            (0, most) => format!("at most {most} arguments"),
            (least, most) => format!("{least} to {most} arguments"),
        };
        let message =
            format!("`{}` takes {expected}: `{}`, found {}", call.name, kind.signature(), written.len());
        return Err(Error::new_spanned(call, message));
    }

    let (mut integers, mut numbers) = (Vec::new(), Vec::new());
    for (argument, value) in kind.arguments.iter().zip(&given) {
        let describe = match argument.name {
            "in" | "out" | "features" => "a width".to_string(),
            name => format!("`{name}`"),
        };
        match (argument.kind, value, argument.default) {
            (ArgumentKind::Size, Some(value), _) => integers.push(size_argument(value, &describe)?),
            (ArgumentKind::Padding, Some(value), _) => integers.push(padding_argument(value)?),
            (number_kind, Some(value), _) => numbers.push(number_argument(value, number_kind, kind)?),
            (ArgumentKind::Size | ArgumentKind::Padding, None, Some(Fallback::Value(value))) => {
                integers.push(value as usize)
            }
            (ArgumentKind::Size | ArgumentKind::Padding, None, Some(Fallback::SameAs(position))) => {
                integers.push(integers[position])
            }
            (_, None, Some(Fallback::Value(value))) => numbers.push(value),
            (_, None, _) => unreachable!("missing arguments were refused above"),
        }
    }
    Ok((integers, numbers))
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

fn size_argument(argument: &Expr, describe: &str) -> syn::Result<usize> {
    match argument {
        Expr::Lit(ExprLit { lit: Lit::Int(literal), .. }) => size_literal(literal, describe),
        _ => Err(Error::new_spanned(
            argument,
            format!("{describe} must be a positive integer literal, e.g. `784`"),
        )),
    }
}

fn size_literal(literal: &LitInt, describe: &str) -> syn::Result<usize> {
    match literal.base10_parse::<usize>() {
        Ok(0) => Err(Error::new_spanned(literal, format!("{describe} must be at least 1, found 0"))),
        Ok(size) => Ok(size),
        Err(_) => Err(Error::new_spanned(
            literal,
            format!("{describe} must be a positive integer literal, e.g. `784`"),
        )),
    }
}

fn padding_argument(argument: &Expr) -> syn::Result<usize> {
    let error = || Error::new_spanned(argument, "`padding` must be a non-negative integer literal, e.g. `1`");
    match argument {
        Expr::Lit(ExprLit { lit: Lit::Int(literal), .. }) => {
            literal.base10_parse::<usize>().map_err(|_| error())
        }
        _ => Err(error()),
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
