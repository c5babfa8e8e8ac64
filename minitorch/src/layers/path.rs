//! Where a tensor sits in a network, as PyTorch spells it in a state dict: `3.body.0` for the
//! first layer of the body of the block at index 3.
//!
//! A layer names its own tensors (`weight`); each container it sits in puts its own part in
//! front while passing the tensor outwards (a network its index, a block `body` or
//! `branches.k`), so that a layer never needs to know where it is used. The path is a small
//! fixed array rather than a `String`, because optimisers visit every parameter on every step
//! and a step allocates nothing.

use std::fmt;

/// The most parts a path holds: a layer in a block in a block in a network used as a layer,
/// five levels down, takes 11.
pub const MAX_PATH_PARTS: usize = 16;

/// One part of a [`ModulePath`]: an index in a sequence, or the name of a sub-module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathPart {
    /// A position in an `nn.Sequential` or `nn.ModuleList`.
    Index(usize),
    /// A named sub-module: `body`, `shortcut`, `branches`.
    Name(&'static str),
}

/// The path of a module inside its network, outermost part first; empty for a layer used on
/// its own.
///
/// ```
/// use minitorch::layers::ModulePath;
/// let path = ModulePath::default().inside_index(0).inside_name("body").inside_index(3);
/// assert_eq!(path.to_string(), "3.body.0");
/// assert_eq!(path.join("weight"), "3.body.0.weight");
/// assert_eq!(ModulePath::default().join("weight"), "weight");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ModulePath {
    /// Innermost part first, so that putting a container's part in front is a push.
    reversed: [Option<PathPart>; MAX_PATH_PARTS],
    len: usize,
}

impl ModulePath {
    /// The same path inside a sequence, at `index`.
    ///
    /// # Panics
    /// Past [`MAX_PATH_PARTS`] parts, which `net!` networks do not reach.
    #[must_use]
    pub fn inside_index(self, index: usize) -> Self {
        self.inside(PathPart::Index(index))
    }

    /// The same path inside the sub-module `name`.
    ///
    /// # Panics
    /// Past [`MAX_PATH_PARTS`] parts.
    #[must_use]
    pub fn inside_name(self, name: &'static str) -> Self {
        self.inside(PathPart::Name(name))
    }

    fn inside(mut self, part: PathPart) -> Self {
        assert!(self.len < MAX_PATH_PARTS, "a module path deeper than {MAX_PATH_PARTS} parts");
        self.reversed[self.len] = Some(part);
        self.len += 1;
        self
    }

    /// The parts, outermost first.
    pub fn parts(&self) -> impl Iterator<Item = PathPart> + '_ {
        self.reversed[..self.len].iter().rev().flatten().copied()
    }

    /// Whether this is the path of a layer used on its own.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `name` under this path, as a state dict names it: `3.body.0.weight`, or `weight` alone.
    pub fn join(&self, name: &str) -> String {
        if self.is_empty() { name.to_string() } else { format!("{self}.{name}") }
    }
}

impl fmt::Display for ModulePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, part) in self.parts().enumerate() {
            if position > 0 {
                f.write_str(".")?;
            }
            match part {
                PathPart::Index(index) => write!(f, "{index}")?,
                PathPart::Name(name) => f.write_str(name)?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ModulePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModulePath({self})")
    }
}
