//! A network that passed every check: a tree of entries whose shapes are known and agree with
//! their neighbours, and the facts derived from it that both the weights check and the
//! expansion use (fields, tensors, parameter counts).

use std::path::PathBuf;

use syn::Type;

use crate::kinds::LayerKind;
use crate::parse::Definition;
use crate::shape::Shape;

/// A network that passed every check.
pub struct CheckedNetwork {
    pub definition: Definition,
    /// The network's own list.
    pub root: Sequence,
    /// The absolute path of the `#[weights]` file, once checked against the tensors.
    pub weights: Option<PathBuf>,
}

/// A list of entries run one after another: the network's, a block's body or shortcut, a
/// branch. PyTorch's `nn.Sequential`.
pub struct Sequence {
    /// Every entry, `Input` and `Flatten` included; at least one is a layer at run time.
    pub entries: Vec<CheckedEntry>,
}

/// An entry whose shapes are known.
pub struct CheckedEntry {
    pub node: Node,
    /// As written, normalised, for documentation: `Linear(784, 512)`; a block's keyword.
    pub written: String,
    pub input: Shape,
    pub output: Shape,
    /// Its index in its `nn.Sequential`; `None` for `Input`, which is no layer.
    pub index: Option<usize>,
}

/// What an entry is.
pub enum Node {
    /// A built-in kind, with its integer arguments (defaults filled in) and its number
    /// arguments.
    BuiltIn { kind: &'static LayerKind, integers: Vec<usize>, numbers: Vec<f64> },
    /// A type the user wrote, or another network.
    Custom(Type),
    /// `body(x) + x`, or `body(x) + shortcut(x)`.
    Residual { body: Sequence, shortcut: Option<Sequence> },
    /// The branches' outputs on the same input, joined.
    Concat { branches: Vec<Sequence> },
}

/// One tensor of a checkpoint: PyTorch's name, dtype and shape.
pub struct TensorSpec {
    pub name: String,
    pub dtype: minitorch_safetensors::Dtype,
    pub shape: Vec<usize>,
    /// A trainable parameter (or else a buffer).
    pub trainable: bool,
}

/// An entry whose tensors only its own code knows: a layer the user wrote.
pub struct UnknownTensors {
    /// Where it is: `3.body.1`.
    pub path: String,
    pub written: String,
}

impl Sequence {
    pub fn input(&self) -> Shape {
        self.entries[0].input
    }

    pub fn output(&self) -> Shape {
        self.entries[self.entries.len() - 1].output
    }

    /// The entries that are layers at run time (`Input` and `Flatten` are not), each a field.
    pub fn layers(&self) -> impl Iterator<Item = &CheckedEntry> {
        self.entries.iter().filter(|entry| entry.is_layer())
    }

    /// Every tensor of the state dict, named under `prefix` (`""` or `3.body.`).
    pub fn tensors(&self, prefix: &str) -> Result<Vec<TensorSpec>, UnknownTensors> {
        let mut tensors = Vec::new();
        for entry in &self.entries {
            tensors.extend(entry.tensors(&entry.path(prefix))?);
        }
        Ok(tensors)
    }
}

impl CheckedEntry {
    /// Whether it is a struct field, run by `forward` (`Input` and `Flatten` are not).
    pub fn is_layer(&self) -> bool {
        match &self.node {
            Node::BuiltIn { kind, .. } => kind.is_layer(),
            Node::Custom(_) | Node::Residual { .. } | Node::Concat { .. } => true,
        }
    }

    /// Its path in the state dict under `prefix`, with a dot to go on: `3.body.0.`.
    pub fn path(&self, prefix: &str) -> String {
        format!("{prefix}{}.", self.index.unwrap_or_default())
    }

    /// The tensors a checkpoint holds for this entry, named under `path` (`3.` or
    /// `3.body.0.`), as PyTorch names them.
    pub fn tensors(&self, path: &str) -> Result<Vec<TensorSpec>, UnknownTensors> {
        match &self.node {
            Node::BuiltIn { kind, integers, .. } => Ok(kind
                .rule
                .tensors(integers, self.input, self.output)
                .into_iter()
                .map(|tensor| TensorSpec {
                    name: format!("{path}{}", tensor.name),
                    dtype: tensor.dtype,
                    shape: tensor.shape,
                    trainable: tensor.trainable,
                })
                .collect()),
            Node::Custom(_) => Err(UnknownTensors {
                path: path.trim_end_matches('.').to_string(),
                written: self.written.clone(),
            }),
            Node::Residual { body, shortcut } => {
                let mut tensors = body.tensors(&format!("{path}body."))?;
                if let Some(shortcut) = shortcut {
                    tensors.extend(shortcut.tensors(&format!("{path}shortcut."))?);
                }
                Ok(tensors)
            }
            Node::Concat { branches } => {
                let mut tensors = Vec::new();
                for (k, branch) in branches.iter().enumerate() {
                    tensors.extend(branch.tensors(&format!("{path}branches.{k}."))?);
                }
                Ok(tensors)
            }
        }
    }

    /// The number of trainable numbers; `None` when a layer the user wrote is among them.
    pub fn parameter_count(&self) -> Option<usize> {
        let tensors = self.tensors("").ok()?;
        Some(tensors.iter().filter(|t| t.trainable).map(|t| t.shape.iter().product::<usize>()).sum())
    }
}

impl CheckedNetwork {
    pub fn input(&self) -> Shape {
        self.root.input()
    }

    pub fn output(&self) -> Shape {
        self.root.output()
    }
}
