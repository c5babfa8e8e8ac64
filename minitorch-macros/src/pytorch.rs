//! The network as PyTorch code: `Network::pytorch_module()`, an `nn.Sequential` whose state dict
//! has the names and shapes of the network's checkpoints, so that a saved model loads into it
//! with `strict=True`; and `Network::input_shape()`. A model card prints both.
//!
//! A built-in kind is its PyTorch module of the same name, with its arguments in PyTorch's order
//! (every default written out); `Input` is no module. Blocks need two small modules that name
//! their parts as minitorch does, printed before the network when it has blocks. A layer the user
//! wrote has no known PyTorch module, so such a network has no code (`None`).

use proc_macro2::TokenStream;
use quote::quote;

use crate::kinds::ArgumentKind;
use crate::model::{CheckedNetwork, Node, Sequence};
use crate::shape::Shape;

/// PyTorch's modules for `Residual` and `Concat`, named as minitorch names their parts.
const BLOCK_MODULES: &str = r#"class Residual(nn.Module):
    """body(x) + x, or body(x) + shortcut(x)."""
    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x):
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


class Concat(nn.Module):
    """Every branch on x, joined along dimension 1."""
    def __init__(self, *branches):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], dim=1)


"#;

/// `model = nn.Sequential(…)`, after the block modules it uses; `None` with a layer the user
/// wrote.
fn code(network: &CheckedNetwork) -> Option<String> {
    let mut uses_blocks = false;
    let sequence = sequential(&network.root, 0, &mut uses_blocks)?;
    let blocks = if uses_blocks { BLOCK_MODULES } else { "" };
    Some(format!("{blocks}model = {sequence}\n"))
}

/// `nn.Sequential(` one module per line `)`, indented `depth` levels.
fn sequential(sequence: &Sequence, depth: usize, uses_blocks: &mut bool) -> Option<String> {
    let indent = "    ".repeat(depth + 1);
    let mut modules = Vec::new();
    for entry in &sequence.entries {
        let module = match &entry.node {
            _ if entry.index.is_none() => continue, // `Input`, the one entry that is no layer
            Node::BuiltIn { kind, integers, numbers } => {
                let (mut integers, mut numbers) = (integers.iter(), numbers.iter());
                let arguments: Vec<String> = kind
                    .arguments
                    .iter()
                    .map(|argument| match argument.kind {
                        ArgumentKind::Size | ArgumentKind::Padding => {
                            integers.next().map(usize::to_string).unwrap_or_default()
                        }
                        ArgumentKind::Probability | ArgumentKind::Number => {
                            numbers.next().map(|n| format!("{n:?}")).unwrap_or_default()
                        }
                    })
                    .collect();
                format!("nn.{}({})", kind.names[0], arguments.join(", "))
            }
            Node::Custom(_) => return None,
            Node::Residual { body, shortcut } => {
                *uses_blocks = true;
                let body = sequential(body, depth + 1, uses_blocks)?;
                match shortcut {
                    Some(shortcut) => {
                        format!("Residual({body}, {})", sequential(shortcut, depth + 1, uses_blocks)?)
                    }
                    None => format!("Residual({body})"),
                }
            }
            Node::Concat { branches } => {
                *uses_blocks = true;
                let branches: Option<Vec<String>> =
                    branches.iter().map(|branch| sequential(branch, depth + 1, uses_blocks)).collect();
                format!("Concat({})", branches?.join(", "))
            }
        };
        modules.push(format!("{indent}{module},\n"));
    }
    Some(format!("nn.Sequential(\n{}{})", modules.concat(), "    ".repeat(depth)))
}

/// The `Network` methods `input_shape()` and `pytorch_module()`.
pub fn pytorch_methods(network: &CheckedNetwork) -> TokenStream {
    let code = match code(network) {
        Some(code) => quote!(::core::option::Option::Some(#code)),
        None => quote!(::core::option::Option::None),
    };
    let shape: Vec<usize> = match network.input() {
        Shape::Flat(features) => vec![features],
        Shape::Image { channels, height, width } => vec![channels, height, width],
    };
    quote! {
        fn input_shape() -> &'static [usize] {
            &[#(#shape),*]
        }

        fn pytorch_module() -> ::core::option::Option<&'static str> {
            #code
        }
    }
}
