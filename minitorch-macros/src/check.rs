//! Walks the tree of entries with the shape flowing through it, turning every mistake into an
//! error spanned at the entry or block at fault. Each rule is one function with a doc comment
//! that states it; the shape rules of built-in layers are in `rules.rs`.

use quote::quote;
use syn::{Error, Ident};

use crate::arguments::{arguments, resolve, size_literal};
use crate::errors::Errors;
use crate::model::{CheckedEntry, CheckedNetwork, Node, Sequence};
use crate::parse::{ConcatBlock, CustomLayer, Definition, Entry, LayerCall, ResidualBlock, ShapeSyntax};
use crate::rules::Call;
use crate::shape::{Before, Producer, Shape};

/// The most branches a `Concat` takes (the library implements its branches for tuples up to 8).
const MAX_BRANCHES: usize = 8;

/// Checks a whole definition, reporting every error found rather than only the first.
pub fn check(definition: Definition) -> syn::Result<CheckedNetwork> {
    let mut errors = Errors::default();
    if definition.entries.is_empty() {
        let (open, close) = (&definition.open, &definition.close);
        errors.push(Error::new_spanned(
            quote!(#open #close),
            "a network needs at least one layer, e.g. `Linear(784, 10)`",
        ));
    }
    let walk = check_list(&definition.entries, None, true, &mut errors);
    let root = errors.finish(walk.sequence)?;
    let Some(root) = root.filter(|root| root.layers().next().is_some()) else {
        return Err(Error::new_spanned(
            &definition.name,
            "a network needs at least one layer after its `Input`, e.g. `Flatten, Linear(784, 10)`",
        ));
    };
    Ok(CheckedNetwork { definition, root, weights: None })
}

/// What walking a list gave: the list if nothing in it was wrong, and the shape coming out of
/// it (as far as it is known after a mistake).
struct Walk {
    sequence: Option<Sequence>,
    output: Option<Shape>,
}

/// A list's entries in order, each checked against the shape the one before produces, starting
/// from `start` (`None` where the first entry must declare its input). After a mistake that
/// leaves the shape unknown, the entries that follow are checked only for their own arguments
/// until one declares its input (`Linear`, `BatchNorm1d`, a layer of the user's): one mistake
/// gives one error.
fn check_list(entries: &[Entry], start: Option<Shape>, top_level: bool, errors: &mut Errors) -> Walk {
    let mut checked = Vec::new();
    let mut failed = false;
    let mut shape = start;
    let mut producer = Producer::Layer;
    let mut shape_lost = false;
    let mut index = 0;
    for (position, entry) in entries.iter().enumerate() {
        if shape_lost {
            if let Some(declared) = declared_output(entry, errors) {
                shape = Some(declared);
                shape_lost = false;
            }
            continue;
        }
        let before = Before { shape, first: top_level && position == 0, producer };
        match check_entry(entry, &before, errors) {
            Ok(mut entry) => {
                shape = Some(entry.output);
                producer = producer_of(&entry);
                if !declares_input(&entry) {
                    entry.index = Some(index);
                    index += 1;
                }
                checked.push(entry);
            }
            Err(output) => {
                failed = true;
                // Carry on with the shape the entry claims, if it says.
                shape = output;
                shape_lost = output.is_none();
                producer = Producer::Layer;
                index += 1;
            }
        }
    }
    let sequence = (!failed && !checked.is_empty()).then_some(Sequence { entries: checked });
    Walk { sequence, output: if shape_lost { None } else { shape } }
}

fn declares_input(entry: &CheckedEntry) -> bool {
    matches!(&entry.node, Node::BuiltIn { kind, .. } if kind.rule.declares_input())
}

/// How the entry after `entry` names it in a message.
fn producer_of(entry: &CheckedEntry) -> Producer {
    match (&entry.node, entry.input, entry.output) {
        (Node::Residual { .. }, _, _) => Producer::Residual,
        (Node::Concat { branches }, _, output) => Producer::Concat {
            parts: branches
                .iter()
                .map(|branch| match (branch.output(), output) {
                    (Shape::Image { channels, .. }, Shape::Image { .. }) => channels,
                    (shape, _) => shape.features(),
                })
                .collect(),
        },
        (_, Shape::Image { channels, height, width }, Shape::Flat(_)) => {
            Producer::FromImage { written: entry.written.clone(), channels, height, width }
        }
        _ => Producer::Layer,
    }
}

/// An entry's errors are pushed to `errors`; on a mistake it gives the output shape it
/// declares anyway, if it says.
type Checked = Result<CheckedEntry, Option<Shape>>;

fn check_entry(entry: &Entry, before: &Before, errors: &mut Errors) -> Checked {
    match entry {
        Entry::BuiltIn(call) => check_built_in(call, before, errors),
        Entry::Custom(custom) => check_custom(custom, before, errors),
        Entry::Residual(block) => check_residual(block, before, errors),
        Entry::Concat(block) => check_concat(block, before, errors),
    }
}

/// For an entry after a mistake: its own arguments' errors, and the shape it declares if it
/// fixes its input whatever comes before it.
fn declared_output(entry: &Entry, errors: &mut Errors) -> Option<Shape> {
    match entry {
        Entry::Custom(custom) => errors.keep(custom_shapes(custom)).map(|(_, output)| output),
        Entry::BuiltIn(call) => {
            let kind = errors.keep(resolve(call))?;
            let bound = errors.keep(arguments(call, kind))?;
            kind.rule.declared_output(&bound.integers)
        }
        Entry::Residual(_) | Entry::Concat(_) => None,
    }
}

/// A built-in layer: its kind and arguments read, and its shape rule applied.
fn check_built_in(call: &LayerCall, before: &Before, errors: &mut Errors) -> Checked {
    let kind = errors.keep(resolve(call)).ok_or(None)?;
    let bound = errors.keep(arguments(call, kind)).ok_or(None)?;
    let written = call.source();
    let rule_call = Call { name: kind.names[0], written: &written, integers: &bound.integers };
    let output = kind.rule.output(&rule_call, before).map_err(|mistake| {
        errors.push(Error::new_spanned(call, mistake.message));
        mistake.output
    })?;
    // First in a list, a layer takes the input it declares (`Linear`), or its own shape.
    let input = before.shape.or_else(|| kind.rule.declared_input(&bound.integers)).unwrap_or(output);
    let node = Node::BuiltIn { kind, integers: bound.integers, numbers: bound.numbers };
    Ok(CheckedEntry { node, written, input, output, index: None })
}

/// A shape as written: `64`, or `(8, 10, 10)` for channels, height and width.
fn shape_of(syntax: &ShapeSyntax) -> syn::Result<Shape> {
    match syntax {
        ShapeSyntax::Flat(width) => Ok(Shape::Flat(size_literal(width, "a width")?)),
        ShapeSyntax::Image { sizes, .. } => {
            let sizes: Vec<usize> =
                sizes.iter().map(|size| size_literal(size, "a size")).collect::<syn::Result<_>>()?;
            match sizes[..] {
                [channels, height, width] => Ok(Shape::Image { channels, height, width }),
                _ => Err(Error::new_spanned(
                    syntax,
                    "an image shape is `(channels, height, width)`, e.g. `(8, 10, 10)`",
                )),
            }
        }
    }
}

/// A custom layer's declared input and output shapes.
fn custom_shapes(custom: &CustomLayer) -> syn::Result<(Shape, Shape)> {
    Ok((shape_of(&custom.inputs)?, shape_of(&custom.outputs)?))
}

/// `(8, 10, 10)` or `64`, as a shape is written in a layer list.
fn written_shape(shape: Shape) -> String {
    match shape {
        Shape::Flat(features) => features.to_string(),
        Shape::Image { channels, height, width } => format!("({channels}, {height}, {width})"),
    }
}

/// A layer the user wrote (or a network): its declared input must be what comes before it —
/// the same width for a flat declaration, the same image for an image one. On an image, a layer
/// declared flat that keeps the width keeps the image.
fn check_custom(custom: &CustomLayer, before: &Before, errors: &mut Errors) -> Checked {
    let (inputs, outputs) = errors.keep(custom_shapes(custom)).ok_or(None)?;
    let layer_type = &custom.layer_type;
    let written = format!(
        "{}: {} -> {}",
        quote!(#layer_type).to_string().replace(' ', ""),
        written_shape(inputs),
        written_shape(outputs)
    );
    let output = match (before.shape, inputs, outputs) {
        (Some(image @ Shape::Image { .. }), Shape::Flat(inputs), Shape::Flat(outputs))
            if outputs == inputs =>
        {
            image
        }
        _ => outputs,
    };
    let fits = match (before.shape, inputs) {
        (None, _) => true,
        (Some(produced), Shape::Flat(inputs)) => produced.features() == inputs,
        (Some(produced), image) => produced == image,
    };
    if !fits {
        let produced = before.shape.expect("a shape came before");
        let expected = match inputs {
            Shape::Flat(inputs) => format!("{inputs} input features"),
            image => format!("an image of {}", image.describe()),
        };
        errors.push(Error::new_spanned(
            custom,
            format!("`{written}` expects {expected}, but {}", before.produces(produced)),
        ));
        return Err(Some(output));
    }
    let node = Node::Custom(layer_type.clone());
    Ok(CheckedEntry { node, written, input: before.shape.unwrap_or(inputs), output, index: None })
}

/// A list inside a block: at least one entry, and at least one that runs. `what` names it in
/// messages ("the body of `Residual`").
fn check_inner_list(entries: &[Entry], before: &Before, at: &Ident, what: &str, errors: &mut Errors) -> Walk {
    if entries.is_empty() {
        errors.push(Error::new_spanned(at, format!("{what} is empty: it needs at least one layer")));
        return Walk { sequence: None, output: None };
    }
    let walk = check_list(entries, before.shape, false, errors);
    match walk.sequence {
        Some(sequence) if sequence.layers().next().is_none() => {
            errors.push(Error::new_spanned(at, format!("{what} has no layer that runs (only `Flatten`)")));
            Walk { sequence: None, output: walk.output }
        }
        _ => walk,
    }
}

/// `Residual(body…)` adds its input to the body's output, so the body must keep the shape;
/// `Residual(body… ; shortcut: layers…)` adds the shortcut's output, which must be the body's.
fn check_residual(block: &ResidualBlock, before: &Before, errors: &mut Errors) -> Checked {
    let keyword = &block.keyword;
    let body = check_inner_list(&block.body, before, keyword, "the body of `Residual`", errors);
    let shortcut = block.shortcut.as_ref().map(|(label, entries)| {
        (label, check_inner_list(entries, before, label, "the `shortcut:` of `Residual`", errors))
    });
    let Some(body) = body.sequence else {
        return Err(body.output);
    };
    let (input, output) = (body.input(), body.output());
    let shortcut = match shortcut {
        None if output != input => {
            let message = format!(
                "`Residual` adds its input to its body's output, but the body turns {} into {}; {}",
                input.describe(),
                output.describe(),
                projection_hint(input, output)
            );
            errors.push(Error::new_spanned(keyword, message));
            return Err(Some(output));
        }
        None => None,
        Some((_, Walk { sequence: None, .. })) => return Err(Some(output)),
        Some((label, Walk { sequence: Some(shortcut), .. })) => {
            if shortcut.input() != input {
                let message = format!(
                    "the shortcut takes {}, but the body takes {}: both take the block's input",
                    shortcut.input().describe(),
                    input.describe()
                );
                errors.push(Error::new_spanned(label, message));
                return Err(Some(output));
            }
            if shortcut.output() != output {
                let message = format!(
                    "the shortcut produces {}, but the body produces {}: `Residual` adds them, so they must \
                     agree (check the shortcut's stride and padding)",
                    shortcut.output().describe(),
                    output.describe()
                );
                errors.push(Error::new_spanned(label, message));
                return Err(Some(output));
            }
            Some(shortcut)
        }
    };
    let node = Node::Residual { body, shortcut };
    Ok(CheckedEntry { node, written: "Residual".to_string(), input, output, index: None })
}

/// A projection that turns `input` into `output`, for the message of a block without one: a
/// 1 × 1 convolution with the stride that gives the body's height and width, or a `Linear`.
fn projection_hint(input: Shape, output: Shape) -> String {
    let suggestion = match (input, output) {
        (
            Shape::Image { channels: from, height, width },
            Shape::Image { channels: to, height: out_height, width: out_width },
        ) => (1..=height.max(width))
            .find(|stride| (height - 1) / stride + 1 == out_height && (width - 1) / stride + 1 == out_width)
            .map(|stride| match stride {
                1 => format!("Conv2d({from}, {to}, 1)"),
                stride => format!("Conv2d({from}, {to}, 1, stride = {stride})"),
            }),
        (Shape::Flat(from), Shape::Flat(to)) => Some(format!("Linear({from}, {to})")),
        _ => None,
    };
    match suggestion {
        Some(layer) => format!("add a projection, e.g. `shortcut: {layer}`"),
        None => format!("add `shortcut:` layers that turn {} into {}", input.describe(), output.describe()),
    }
}

/// `Concat(branch… ; branch… ; …)`: every branch takes the block's input; the outputs are
/// joined along channels for images, whose heights and widths must then agree, or along
/// features for flat shapes. Images and flat features do not join.
fn check_concat(block: &ConcatBlock, before: &Before, errors: &mut Errors) -> Checked {
    let keyword = &block.keyword;
    if block.branches.len() > MAX_BRANCHES {
        let message =
            format!("`Concat` takes at most {MAX_BRANCHES} branches, found {}", block.branches.len());
        errors.push(Error::new_spanned(keyword, message));
        return Err(None);
    }
    let walks: Vec<Walk> = block
        .branches
        .iter()
        .enumerate()
        .map(|(k, branch)| {
            check_inner_list(branch, before, keyword, &format!("branch {k} of `Concat`"), errors)
        })
        .collect();
    let outputs: Option<Vec<Shape>> = walks.iter().map(|walk| walk.output).collect();
    let joined = outputs.as_deref().map(join).transpose().map_err(|message| {
        errors.push(Error::new_spanned(keyword, message));
    });
    let Ok(joined) = joined else { return Err(None) };
    let branches: Option<Vec<Sequence>> = walks.into_iter().map(|walk| walk.sequence).collect();
    let (Some(branches), Some(output)) = (branches, joined) else {
        return Err(joined);
    };
    let input = branches[0].input();
    if let Some((k, other)) = branches.iter().enumerate().find(|(_, branch)| branch.input() != input) {
        let message = format!(
            "branch {k} of `Concat` takes {}, but branch 0 takes {}: every branch takes the block's input",
            other.input().describe(),
            input.describe()
        );
        errors.push(Error::new_spanned(keyword, message));
        return Err(Some(output));
    }
    let node = Node::Concat { branches };
    Ok(CheckedEntry { node, written: "Concat".to_string(), input, output, index: None })
}

/// The branches' outputs joined, or why they do not join.
fn join(outputs: &[Shape]) -> Result<Shape, String> {
    let listed = || {
        let shapes: Vec<String> = outputs
            .iter()
            .enumerate()
            .map(|(k, shape)| format!("branch {k} gives {}", shape.describe()))
            .collect();
        shapes.join(", ")
    };
    match outputs[0] {
        Shape::Flat(_) if outputs.iter().all(|shape| matches!(shape, Shape::Flat(_))) => {
            Ok(Shape::Flat(outputs.iter().map(|shape| shape.features()).sum()))
        }
        Shape::Image { height, width, .. }
            if outputs.iter().all(|shape| matches!(shape, Shape::Image { .. })) =>
        {
            let agree = outputs
                .iter()
                .all(|shape| matches!(*shape, Shape::Image { height: h, width: w, .. } if (h, w) == (height, width)));
            if !agree {
                return Err(format!(
                    "`Concat` joins images along channels, so its branches' heights and widths must agree: {}",
                    listed()
                ));
            }
            let channels = outputs
                .iter()
                .map(|shape| match shape {
                    Shape::Image { channels, .. } => *channels,
                    Shape::Flat(_) => 0,
                })
                .sum();
            Ok(Shape::Image { channels, height, width })
        }
        _ => Err(format!(
            "`Concat` cannot join images and flat features: {}; flatten every branch or none",
            listed()
        )),
    }
}
