//! Reading a built-in layer as written: which kind its name is, and the values of its
//! arguments, bound to the kind's signature with defaults filled in. This is syntax work — what
//! the literals say — and knows nothing of shapes.

use quote::ToTokens;
use syn::{Error, Expr, ExprAssign, ExprLit, ExprPath, ExprUnary, Lit, LitInt, UnOp};

use crate::kinds::{ArgumentKind, BLOCK_NAMES, Fallback, KINDS, LayerKind};
use crate::parse::LayerCall;

/// A built-in layer's arguments, in the kind's order, defaults filled in.
pub struct Arguments {
    /// The integer arguments (sizes, strides, paddings).
    pub integers: Vec<usize>,
    /// The number arguments (a dropout probability, a negative slope).
    pub numbers: Vec<f64>,
}

/// The kind `call` names; an unknown name suggests the closest known one.
pub fn resolve(call: &LayerCall) -> syn::Result<&'static LayerKind> {
    let name = call.name.to_string();
    let spellings = || KINDS.iter().flat_map(|kind| kind.names.iter().map(move |&known| (known, kind)));
    if let Some((_, kind)) = spellings().find(|(known, _)| *known == name) {
        return Ok(kind);
    }
    let lower = name.to_lowercase();
    let (closest, similarity) = spellings()
        .map(|(known, _)| known)
        .chain(BLOCK_NAMES.iter().copied())
        .map(|known| (known, strsim::jaro_winkler(&lower, &known.to_lowercase())))
        .fold(("", 0.0), |best, candidate| if candidate.1 > best.1 { candidate } else { best });
    let message = if similarity >= 0.8 {
        format!("unknown layer `{name}`; did you mean `{closest}`?")
    } else {
        format!(
            "unknown layer `{name}`: not a built-in layer (`minitorch::layers` lists them) nor a block \
             (`Residual`, `Concat`); a layer you wrote is given as its type and shapes, e.g. \
             `MyLayer<64>: 64 -> 64`"
        )
    };
    Err(Error::new_spanned(&call.name, message))
}

/// The arguments of `call`, bound to `kind`'s signature: positional ones first, then
/// `name = value` ones, then the defaults of those left out.
pub fn arguments(call: &LayerCall, kind: &LayerKind) -> syn::Result<Arguments> {
    let written: Vec<&Expr> = call.arguments.iter().flat_map(|(_, a)| a.iter()).collect();
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
        } else if let Some(slot) = given.iter().position(Option::is_none) {
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
        let message = format!(
            "`{}` takes {}: `{}`, found {}",
            call.name,
            kind.expected_count(),
            kind.signature(),
            written.len()
        );
        return Err(Error::new_spanned(call, message));
    }

    let mut bound = Arguments { integers: Vec::new(), numbers: Vec::new() };
    for (argument, value) in kind.arguments.iter().zip(&given) {
        match (argument.kind, value, argument.default) {
            (ArgumentKind::Size, Some(value), _) => bound.integers.push(size_argument(value, argument.what)?),
            (ArgumentKind::Padding, Some(value), _) => bound.integers.push(padding_argument(value)?),
            (number_kind, Some(value), _) => {
                bound.numbers.push(number_argument(value, number_kind, argument.what)?)
            }
            (ArgumentKind::Size | ArgumentKind::Padding, None, Some(Fallback::Value(value))) => {
                bound.integers.push(value as usize)
            }
            (ArgumentKind::Size | ArgumentKind::Padding, None, Some(Fallback::SameAs(position))) => {
                bound.integers.push(bound.integers[position])
            }
            (_, None, Some(Fallback::Value(value))) => bound.numbers.push(value),
            (_, None, _) => unreachable!("missing arguments were refused above"),
        }
    }
    Ok(bound)
}

fn size_argument(argument: &Expr, what: &str) -> syn::Result<usize> {
    match argument {
        Expr::Lit(ExprLit { lit: Lit::Int(literal), .. }) => size_literal(literal, what),
        _ => Err(Error::new_spanned(
            argument,
            format!("{what} must be a positive integer literal, e.g. `784`"),
        )),
    }
}

/// A positive integer literal: a width, a number of channels, a size.
pub fn size_literal(literal: &LitInt, what: &str) -> syn::Result<usize> {
    match literal.base10_parse::<usize>() {
        Ok(0) => Err(Error::new_spanned(literal, format!("{what} must be at least 1, found 0"))),
        Ok(size) => Ok(size),
        Err(_) => {
            Err(Error::new_spanned(literal, format!("{what} must be a positive integer literal, e.g. `784`")))
        }
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

fn number_argument(argument: &Expr, kind: ArgumentKind, what: &str) -> syn::Result<f64> {
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
