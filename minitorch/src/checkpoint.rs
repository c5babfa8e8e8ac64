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
//! A layer may give a parameter another PyTorch shape of the same size
//! ([`Parameter::pytorch_shape`]): the file holds that shape, with the values in the same order.
//!
//! Indices count every layer, ReLU and Dropout included, as `nn.Sequential` does. Inside a block
//! the name goes on with the block's parts, as PyTorch names the same modules (see
//! [`Residual`](crate::Residual) and [`Concat`](crate::Concat)): `3.body.0.weight`,
//! `5.shortcut.1.running_mean`, `6.branches.1.0.bias`. A load checks
//! every tensor's presence, dtype and shape before it changes anything, and reports every
//! mismatch at once.
//!
//! A *training state* ([`save_training_state`], [`load_training_state`]) is everything a stopped
//! run needs to go on as if it had not stopped, in one safetensors file:
//!
//! ```text
//! model.{name}                     the model's tensors, named as above
//! optimizer.{name}.{slot}          per parameter: momentum_buffer, or exp_avg and exp_avg_sq
//! optimizer.steps   []  int64      steps taken
//! random.{path}.generator  []  uint64 the generator state of the layer at that path (dropout)
//! epoch             []  int64      epochs completed
//! ```
//!
//! and the optimiser's name (`SGD`, `Adam`, `AdamW`) in the file's metadata.
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
//! assert_eq!(*copy.linear2.weight.value, *trained.linear2.weight.value);
//!
//! net! { struct Wider< Linear(4, 5), ReLU, Linear(5, 2) > }
//! let error = checkpoint::load_bytes(&mut Wider::new(&mut StdRng::seed_from_u64(3)), &bytes).unwrap_err();
//! assert!(error.to_string().contains("`0.weight`: expected F32 [5, 4], found F32 [3, 4]"), "{error}");
//! # Ok::<(), minitorch::Error>(())
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use minitorch_safetensors::{Dtype, FormatError, SafeTensors, serialize};

use crate::optim::OptimizerState;
use crate::{Buffer, BufferValue, Error, Optimizer, Parameter, Parameters};

/// One tensor in PyTorch's layout.
struct Tensor {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// PyTorch's shape of a parameter: vectors are 1-D, and a layer may give another shape of the
/// same size (a convolution's weight is 4-D).
fn parameter_shape(p: &Parameter<'_>) -> Vec<usize> {
    match p.pytorch_shape {
        Some(shape) => shape.to_vec(),
        None if p.columns == 1 => vec![p.rows],
        None => vec![p.rows, p.columns],
    }
}

/// Every tensor of `model`, by PyTorch name, in PyTorch's layout.
fn state_dict(model: &mut dyn Parameters) -> BTreeMap<String, Tensor> {
    let mut tensors = BTreeMap::new();
    model.visit_parameters(&mut |p| {
        // Ours is column-major `rows × columns`; PyTorch's is row-major: walk rows first.
        let bytes = (0..p.rows)
            .flat_map(|r| (0..p.columns).map(move |c| r + c * p.rows))
            .flat_map(|i| p.value[i].to_le_bytes())
            .collect();
        let tensor = Tensor { dtype: Dtype::F32, shape: parameter_shape(&p), bytes };
        tensors.insert(p.full_name(), tensor);
    });
    model.visit_buffers(&mut |b| {
        let name = b.full_name();
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
        tensors.insert(name, tensor);
    });
    tensors
}

fn checkpoint_error(location: &str, problem: impl Into<String>) -> Error {
    Error::Checkpoint { location: location.to_string(), problem: problem.into() }
}

/// `model` as safetensors bytes.
///
/// # Errors
/// Only if a tensor's bytes do not fit its shape (they always do for `net!` models).
pub fn to_bytes(model: &mut dyn Parameters) -> Result<Vec<u8>, Error> {
    let tensors = state_dict(model);
    serialize_tensors(&tensors, &[]).map_err(|e| checkpoint_error("safetensors bytes", e.to_string()))
}

/// Saves `model` to `path`, through a temporary file in the same folder that is then renamed, so
/// an interrupted save never leaves a broken file at `path`.
///
/// # Errors
/// [`Error::Write`] naming the file.
pub fn save(model: &mut dyn Parameters, path: &Path) -> Result<(), Error> {
    write_file(&state_dict(model), &[], path)
}

/// Writes `tensors` to `path` through a temporary file beside it that is then renamed over it
/// (a rename within a folder is atomic), so that a reader never sees half a file; a failed write
/// removes the temporary file.
fn write_file(
    tensors: &BTreeMap<String, Tensor>,
    metadata: &[(String, String)],
    path: &Path,
) -> Result<(), Error> {
    let write_error = |problem: String| Error::Write { path: path.to_path_buf(), problem };
    let bytes = serialize_tensors(tensors, metadata).map_err(|e| write_error(e.to_string()))?;
    // Unique per process and per save, so that concurrent saves never share a temporary file.
    static SAVES: AtomicUsize = AtomicUsize::new(0);
    let name = path.file_name().ok_or_else(|| write_error("the path names no file".into()))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(format!(".{}-{}.tmp", std::process::id(), SAVES.fetch_add(1, Ordering::Relaxed)));
    let temporary = path.with_file_name(temporary_name);
    let written = std::fs::File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(&bytes)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(error) = written {
        // The temporary file may not exist (creating it failed); nothing more to undo then.
        let _ = std::fs::remove_file(&temporary);
        return Err(write_error(error.to_string()));
    }
    Ok(())
}

fn serialize_tensors(
    tensors: &BTreeMap<String, Tensor>,
    metadata: &[(String, String)],
) -> Result<Vec<u8>, FormatError> {
    serialize(
        tensors.iter().map(|(name, t)| (name.as_str(), t.dtype, t.shape.as_slice(), t.bytes.as_slice())),
        metadata,
    )
}

/// Loads the safetensors file at `path` into `model`.
///
/// # Errors
/// [`Error::Checkpoint`] naming the file: unreadable, not safetensors, or with tensors missing,
/// extra, or of another shape or dtype than the model's (each named with both shapes).
pub fn load(model: &mut dyn Parameters, path: &Path) -> Result<(), Error> {
    let location = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| checkpoint_error(&location, format!("cannot read: {e}")))?;
    load_from(model, &bytes, &location)
}

/// Loads safetensors `bytes` into `model`.
///
/// # Errors
/// As [`load`].
pub fn load_bytes(model: &mut dyn Parameters, bytes: &[u8]) -> Result<(), Error> {
    load_from(model, bytes, "safetensors bytes")
}

fn load_from(model: &mut dyn Parameters, bytes: &[u8], location: &str) -> Result<(), Error> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| checkpoint_error(location, format!("not a valid safetensors file: {e}")))?;
    let problems = problems(&file, &state_dict(model));
    if !problems.is_empty() {
        return Err(checkpoint_error(location, problems.join("; ")));
    }
    copy_model_tensors(&file, model, "");
    Ok(())
}

/// Every tensor of `expected` that is missing from `file`, of another dtype or shape there, or
/// holds NaN or infinity; and every tensor of `file` that `expected` lacks.
fn problems(file: &SafeTensors<'_>, expected: &BTreeMap<String, Tensor>) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, tensor) in expected {
        match file.tensor(name) {
            None => problems.push(format!("missing tensor `{name}` ({:?} {:?})", tensor.dtype, tensor.shape)),
            Some(found) if found.dtype() != tensor.dtype || found.shape() != tensor.shape.as_slice() => {
                problems.push(format!(
                    "tensor `{name}`: expected {:?} {:?}, found {:?} {:?}",
                    tensor.dtype,
                    tensor.shape,
                    found.dtype(),
                    found.shape()
                ));
            }
            Some(found)
                if found.dtype() == Dtype::I64 && found.data().last().is_some_and(|&high| high >= 0x80) =>
            {
                problems.push(format!("tensor `{name}`: a count cannot be negative"));
            }
            Some(found) if found.dtype() == Dtype::F32 => {
                let values =
                    found.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                if let Some((index, value)) = values.enumerate().find(|(_, value)| !value.is_finite()) {
                    problems.push(format!(
                        "tensor `{name}` holds {value} at index {index}: weights must be finite"
                    ));
                }
            }
            Some(_) => {}
        }
    }
    for (name, found) in file.tensors() {
        if !expected.contains_key(name) {
            problems.push(format!(
                "unexpected tensor `{name}` ({:?} {:?}): the model has no such parameter or buffer",
                found.dtype(),
                found.shape()
            ));
        }
    }
    problems
}

/// The f32 values of a tensor that [`problems`] found present and well-typed.
fn f32s(file: &SafeTensors<'_>, name: &str) -> Vec<f32> {
    let data = file.tensor(name).expect("checked before").data();
    data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// The 8 bytes of a scalar tensor that [`problems`] found present and well-typed.
fn scalar(file: &SafeTensors<'_>, name: &str) -> [u8; 8] {
    file.tensor(name).expect("checked before").data().try_into().expect("checked: one 8-byte scalar")
}

/// Copies the model's tensors, checked before, from `file`, where their names start with `prefix`.
fn copy_model_tensors(file: &SafeTensors<'_>, model: &mut dyn Parameters, prefix: &str) {
    model.visit_parameters(&mut |p| {
        let values = f32s(file, &format!("{prefix}{}", p.full_name()));
        for r in 0..p.rows {
            for c in 0..p.columns {
                p.value[r + c * p.rows] = values[r * p.columns + c];
            }
        }
    });
    model.visit_buffers(&mut |b: Buffer<'_>| {
        let name = format!("{prefix}{}", b.full_name());
        match b.value {
            BufferValue::Vector(v) => v.copy_from_slice(&f32s(file, &name)),
            BufferValue::Count(n) => *n = u64::from_le_bytes(scalar(file, &name)),
        }
    });
}

fn scalar_tensor(dtype: Dtype, bytes: [u8; 8]) -> Tensor {
    Tensor { dtype, shape: vec![], bytes: bytes.to_vec() }
}

/// The tensors of a training state, with the optimiser's tensors taken from `state` (those of
/// the parameters' shapes, empty before the first step).
fn training_tensors(
    model: &mut dyn Parameters,
    names: &[&str],
    state: &OptimizerState,
    epoch: usize,
) -> BTreeMap<String, Tensor> {
    let mut tensors: BTreeMap<String, Tensor> =
        state_dict(model).into_iter().map(|(name, tensor)| (format!("model.{name}"), tensor)).collect();
    let mut index = 0;
    model.visit_parameters(&mut |p| {
        for (slot, per_parameter) in names.iter().zip(&state.tensors) {
            let values = per_parameter.get(index).map_or(&[][..], Vec::as_slice);
            let bytes = values.iter().flat_map(|x| x.to_le_bytes()).collect();
            let tensor = Tensor { dtype: Dtype::F32, shape: parameter_shape(&p), bytes };
            tensors.insert(format!("optimizer.{}.{slot}", p.full_name()), tensor);
        }
        index += 1;
    });
    let steps = i64::try_from(state.steps).unwrap_or(i64::MAX);
    tensors.insert("optimizer.steps".into(), scalar_tensor(Dtype::I64, steps.to_le_bytes()));
    model.visit_random_state(&mut |r| {
        tensors.insert(
            format!("random.{}", r.path.join("generator")),
            scalar_tensor(Dtype::U64, r.state.to_le_bytes()),
        );
    });
    let epoch = i64::try_from(epoch).unwrap_or(i64::MAX);
    tensors.insert("epoch".into(), scalar_tensor(Dtype::I64, epoch.to_le_bytes()));
    tensors
}

/// Saves everything a training run needs to continue after `epoch` completed epochs: `model`
/// (parameters, buffers, dropout generators), `optimizer`'s state and the epoch, to `path`
/// (through a temporary file that is then renamed). See the module docs for the names.
///
/// # Errors
/// [`Error::Write`] naming the file.
pub fn save_training_state<O: Optimizer + ?Sized>(
    path: &Path,
    model: &mut dyn Parameters,
    optimizer: &O,
    epoch: usize,
) -> Result<(), Error> {
    let mut state = optimizer.state();
    if state.tensors.iter().all(Vec::is_empty) {
        // Before the first step there is nothing yet: save zeros of the parameters' shapes, which
        // is what the first step starts from.
        state.tensors.clear();
    }
    let mut tensors = training_tensors(model, optimizer.state_names(), &state, epoch);
    if state.tensors.is_empty() {
        tensors.retain(|name, _| !name.starts_with("optimizer.") || name == "optimizer.steps");
    }
    let metadata = [("optimizer".to_string(), optimizer.name().to_string())];
    write_file(&tensors, &metadata, path)
}

/// Loads a training state saved by [`save_training_state`] into `model` and `optimizer`, and
/// returns the number of completed epochs, to continue from.
///
/// Everything is checked before anything changes: the optimiser's kind, and every tensor's
/// presence, dtype and shape.
///
/// # Errors
/// [`Error::Checkpoint`] naming the file: unreadable, not safetensors, saved with another
/// optimiser, or with tensors missing, extra, or of other shapes than the model's and the
/// optimiser's (each named with both shapes).
pub fn load_training_state<O: Optimizer + ?Sized>(
    path: &Path,
    model: &mut dyn Parameters,
    optimizer: &mut O,
) -> Result<usize, Error> {
    let location = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| checkpoint_error(&location, format!("cannot read: {e}")))?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| checkpoint_error(&location, format!("not a valid safetensors file: {e}")))?;
    let saved_with = file.metadata("optimizer").unwrap_or_default();
    if saved_with != optimizer.name() {
        return Err(checkpoint_error(
            &location,
            format!("saved with the optimiser {saved_with:?}, but resuming with {:?}", optimizer.name()),
        ));
    }
    let names = optimizer.state_names();
    // Without optimiser tensors in the file, the run stopped before its first step.
    let has_optimizer_tensors =
        file.tensors().any(|(name, _)| name.starts_with("optimizer.") && name != "optimizer.steps");
    let template = OptimizerState {
        steps: 0,
        tensors: if has_optimizer_tensors { vec![Vec::new(); names.len()] } else { Vec::new() },
    };
    let mut expected = training_tensors(model, names, &template, 0);
    if !has_optimizer_tensors {
        expected.retain(|name, _| !name.starts_with("optimizer.") || name == "optimizer.steps");
    }
    // The optimiser's tensors in `expected` are empty; only their dtypes and shapes matter here.
    let problems = problems(&file, &expected);
    if !problems.is_empty() {
        return Err(checkpoint_error(&location, problems.join("; ")));
    }

    let mut state =
        OptimizerState { steps: u64::from_le_bytes(scalar(&file, "optimizer.steps")), tensors: Vec::new() };
    if has_optimizer_tensors {
        for slot in names {
            let mut per_parameter = Vec::new();
            model.visit_parameters(&mut |p| {
                per_parameter.push(f32s(&file, &format!("optimizer.{}.{slot}", p.full_name())));
            });
            state.tensors.push(per_parameter);
        }
    } else {
        state.tensors = vec![Vec::new(); names.len()];
    }
    optimizer.set_state(state)?;
    copy_model_tensors(&file, model, "model.");
    model.visit_random_state(&mut |r| {
        *r.state = u64::from_le_bytes(scalar(&file, &format!("random.{}", r.path.join("generator"))))
    });
    let epoch = i64::from_le_bytes(scalar(&file, "epoch"));
    usize::try_from(epoch).map_err(|_| checkpoint_error(&location, format!("`epoch` is {epoch}")))
}
