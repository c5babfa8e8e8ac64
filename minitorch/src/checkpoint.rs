//! Saving and loading models as safetensors, with the names and layouts of the same model as a
//! PyTorch `nn.Sequential` state dict, so that checkpoints move both ways:
//!
//! ```text
//! {i}.weight  [out, in]  f32, row-major      Linear at index i of the layer list
//! {i}.bias    [out]      f32
//! {i}.weight, {i}.bias, {i}.running_mean, {i}.running_var  [n] f32     BatchNorm1d
//! {i}.num_batches_tracked  []  int64                                   BatchNorm1d
//! ```
//!
//! Indices count every layer, ReLU and Dropout included, as `nn.Sequential` does. A load checks
//! every tensor's presence, dtype and shape before it changes anything, and reports every
//! mismatch at once.
//!
//! ```
//! use minitorch::prelude::*;
//! use minitorch::checkpoint;
//! use minitorch::rand::{SeedableRng, rngs::StdRng};
//!
//! net! { struct Small< Linear(4, 3), ReLU, Linear(3, 2) > }
//!
//! let mut trained = Small::new(&mut StdRng::seed_from_u64(1));
//! let bytes = checkpoint::to_bytes(&mut trained)?;
//! let mut copy = Small::new(&mut StdRng::seed_from_u64(2));
//! checkpoint::load_bytes(&mut copy, &bytes)?;
//! assert_eq!(*copy.linear2.weight, *trained.linear2.weight);
//!
//! net! { struct Wider< Linear(4, 5), ReLU, Linear(5, 2) > }
//! let error = checkpoint::load_bytes(&mut Wider::new(&mut StdRng::seed_from_u64(3)), &bytes).unwrap_err();
//! assert!(error.to_string().contains("`0.weight`: expected F32 [5, 4], found F32 [3, 4]"), "{error}");
//! # Ok::<(), minitorch::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use crate::{Buffer, BufferValue, Error, Parameter, Parameters};

/// One tensor in PyTorch's layout.
struct Tensor {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// PyTorch's shape of a parameter: vectors are 1-D.
fn parameter_shape(p: &Parameter<'_>) -> Vec<usize> {
    if p.columns == 1 { vec![p.rows] } else { vec![p.rows, p.columns] }
}

/// Every tensor of `model`, by PyTorch name, in PyTorch's layout.
fn state_dict(model: &mut impl Parameters) -> BTreeMap<String, Tensor> {
    let mut tensors = BTreeMap::new();
    model.visit_parameters(&mut |p| {
        // Ours is column-major `rows × columns`; PyTorch's is row-major: walk rows first.
        let bytes = (0..p.rows)
            .flat_map(|r| (0..p.columns).map(move |c| r + c * p.rows))
            .flat_map(|i| p.value[i].to_le_bytes())
            .collect();
        let tensor = Tensor { dtype: Dtype::F32, shape: parameter_shape(&p), bytes };
        tensors.insert(format!("{}.{}", p.layer, p.name), tensor);
    });
    model.visit_buffers(&mut |b| {
        let tensor = match b.value {
            BufferValue::Vector(v) => Tensor {
                dtype: Dtype::F32,
                shape: vec![v.len()],
                bytes: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            },
            BufferValue::Count(n) => {
                let count = i64::try_from(*n).unwrap_or(i64::MAX);
                Tensor { dtype: Dtype::I64, shape: vec![], bytes: count.to_le_bytes().to_vec() }
            }
        };
        tensors.insert(format!("{}.{}", b.layer, b.name), tensor);
    });
    tensors
}

fn checkpoint_error(location: &str, problem: impl Into<String>) -> Error {
    Error::Checkpoint { location: location.to_string(), problem: problem.into() }
}

/// `model` as safetensors bytes.
///
/// # Errors
/// Only if safetensors refuses the tensors (it does not for `net!` models).
pub fn to_bytes(model: &mut impl Parameters) -> Result<Vec<u8>, Error> {
    let tensors = state_dict(model);
    let views = views(&tensors).map_err(|e| checkpoint_error("safetensors bytes", e.to_string()))?;
    safetensors::serialize(views, None).map_err(|e| checkpoint_error("safetensors bytes", e.to_string()))
}

/// Saves `model` to `path`, through a temporary file in the same folder that is then renamed, so
/// an interrupted save never leaves a broken file at `path`.
///
/// # Errors
/// [`Error::Write`] naming the file.
pub fn save(model: &mut impl Parameters, path: &Path) -> Result<(), Error> {
    let tensors = state_dict(model);
    let write_error =
        |e: safetensors::SafeTensorError| Error::Write { path: path.to_path_buf(), problem: e.to_string() };
    let views = views(&tensors).map_err(write_error)?;
    safetensors::serialize_to_file(views, None, path).map_err(write_error)?;
    // The temporary file was created private (0600); a model is an ordinary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| Error::Write { path: path.to_path_buf(), problem: e.to_string() })?;
    }
    Ok(())
}

fn views(
    tensors: &BTreeMap<String, Tensor>,
) -> Result<Vec<(&str, TensorView<'_>)>, safetensors::SafeTensorError> {
    tensors
        .iter()
        .map(|(name, t)| Ok((name.as_str(), TensorView::new(t.dtype, t.shape.clone(), &t.bytes)?)))
        .collect()
}

/// Loads the safetensors file at `path` into `model`.
///
/// # Errors
/// [`Error::Checkpoint`] naming the file: unreadable, not safetensors, or with tensors missing,
/// extra, or of another shape or dtype than the model's (each named with both shapes).
pub fn load(model: &mut impl Parameters, path: &Path) -> Result<(), Error> {
    let location = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| checkpoint_error(&location, format!("cannot read: {e}")))?;
    load_from(model, &bytes, &location)
}

/// Loads safetensors `bytes` into `model`.
///
/// # Errors
/// As [`load`].
pub fn load_bytes(model: &mut impl Parameters, bytes: &[u8]) -> Result<(), Error> {
    load_from(model, bytes, "safetensors bytes")
}

fn load_from(model: &mut impl Parameters, bytes: &[u8], location: &str) -> Result<(), Error> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| checkpoint_error(location, format!("not a valid safetensors file: {e}")))?;
    let expected = state_dict(model);
    let mut problems = Vec::new();
    for (name, tensor) in &expected {
        match file.tensor(name) {
            Err(_) => {
                problems.push(format!("missing tensor `{name}` ({:?} {:?})", tensor.dtype, tensor.shape))
            }
            Ok(found) if found.dtype() != tensor.dtype || found.shape() != tensor.shape.as_slice() => {
                problems.push(format!(
                    "tensor `{name}`: expected {:?} {:?}, found {:?} {:?}",
                    tensor.dtype,
                    tensor.shape,
                    found.dtype(),
                    found.shape()
                ));
            }
            Ok(found)
                if found.dtype() == Dtype::I64 && found.data().last().is_some_and(|&high| high >= 0x80) =>
            {
                problems.push(format!("tensor `{name}`: a count cannot be negative"));
            }
            Ok(_) => {}
        }
    }
    for name in file.names() {
        if !expected.contains_key(name) {
            let found = file.tensor(name).map_err(|e| checkpoint_error(location, e.to_string()))?;
            problems.push(format!(
                "unexpected tensor `{name}` ({:?} {:?}): the model has no such parameter or buffer",
                found.dtype(),
                found.shape()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(checkpoint_error(location, problems.join("; ")));
    }

    let f32s = |name: &str| -> Vec<f32> {
        let data = file.tensor(name).expect("checked above").data();
        data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    };
    model.visit_parameters(&mut |p| {
        let values = f32s(&format!("{}.{}", p.layer, p.name));
        for r in 0..p.rows {
            for c in 0..p.columns {
                p.value[r + c * p.rows] = values[r * p.columns + c];
            }
        }
    });
    model.visit_buffers(&mut |b: Buffer<'_>| {
        let name = format!("{}.{}", b.layer, b.name);
        match b.value {
            BufferValue::Vector(v) => v.copy_from_slice(&f32s(&name)),
            BufferValue::Count(n) => {
                let data = file.tensor(&name).expect("checked above").data();
                *n = u64::from_le_bytes(data.try_into().expect("checked: one non-negative int64"));
            }
        }
    });
    Ok(())
}
