//! `#[weights = "…"]`: reads the file while compiling and checks it against the layers.

use std::path::{Path, PathBuf};

use minitorch_safetensors::{Dtype, SafeTensors};
use syn::{Error, LitStr};

use crate::errors::Errors;
use crate::model::{CheckedNetwork, TensorSpec};

/// With `#[weights = "…"]`: reads the file (relative to the invoking crate's manifest
/// directory) and checks that it holds exactly the network's tensors, with their dtypes and
/// shapes; the network then knows the file's absolute path.
pub fn check(mut network: CheckedNetwork) -> syn::Result<CheckedNetwork> {
    if let Some(path) = &network.definition.weights {
        network.weights = Some(check_file(path, &network)?);
    }
    Ok(network)
}

fn check_file(path: &LitStr, network: &CheckedNetwork) -> syn::Result<PathBuf> {
    let error = |message: String| Error::new_spanned(path, message);
    let expected: Vec<TensorSpec> = network.root.tensors("").map_err(|unknown| {
        error(format!(
            "`#[weights]` checks every tensor at compile time, and it cannot know those of your \
             layer `{}` (layer {}); load the file at run time with `minitorch::checkpoint::load`",
            unknown.written, unknown.path
        ))
    })?;
    let manifest_directory = std::env::var("CARGO_MANIFEST_DIR").map_err(|_| {
        error("CARGO_MANIFEST_DIR is not set: build with cargo to resolve the weights file".into())
    })?;
    let resolved = Path::new(&manifest_directory).join(path.value());
    let bytes = std::fs::read(&resolved).map_err(|e| {
        error(format!("cannot read weights file {} (relative to the crate's Cargo.toml): {e}", path.value()))
    })?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| error(format!("weights file {} is not a valid safetensors file: {e}", path.value())))?;

    let mut problems = Errors::default();
    let mut report =
        |message: String| problems.push(error(format!("weights file {}: {message}", path.value())));
    for spec in &expected {
        match file.tensor(&spec.name) {
            None => report(format!("missing tensor `{}` ({:?} {:?})", spec.name, spec.dtype, spec.shape)),
            Some(found) if found.dtype() != spec.dtype || found.shape() != spec.shape.as_slice() => {
                report(format!(
                    "tensor `{}` is {:?} {:?} in the architecture but {:?} {:?} in the file",
                    spec.name,
                    spec.dtype,
                    spec.shape,
                    found.dtype(),
                    found.shape()
                ))
            }
            Some(found) if found.dtype() == Dtype::F32 => {
                let values =
                    found.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                if let Some((index, value)) = values.enumerate().find(|(_, value)| !value.is_finite()) {
                    report(format!(
                        "tensor `{}` holds {value} at index {index}: weights must be finite",
                        spec.name
                    ));
                }
            }
            Some(_) => {}
        }
    }
    for name in file.names() {
        if !expected.iter().any(|spec| spec.name == name) {
            report(format!("unexpected tensor `{name}`: the architecture has no such parameter or buffer"));
        }
    }
    problems.finish(resolved)
}
