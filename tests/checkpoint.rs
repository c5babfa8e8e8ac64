//! Safetensors checkpoints: round trips, a model trained in PyTorch giving PyTorch's logits, and
//! a clear error for every way a file can fail to fit.

use std::path::Path;

use minitorch::checkpoint::{load, load_bytes, save, to_bytes};
use minitorch::prelude::*;
use minitorch::rand::{RngExt, SeedableRng, rngs::StdRng};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

net! {
    struct Mlp< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >
    struct Normed< Linear(6, 5), BatchNorm1d(5), ReLU, Linear(5, 3) >
    struct Forked< Input(2, 4, 4), Conv2d(2, 3, 3, padding = 1), Residual(BatchNorm2d(3), LeakyReLU;
        shortcut: MaxPool2d(1)), Concat(AvgPool2d(2); Conv2d(3, 1, 2, stride = 2)), Flatten, Dropout(0.5),
        Linear(16, 2) >
    struct Square< Linear(4, 4) >
    struct WithOwnLayer< Linear(4, 4), Square: 4 -> 4 >
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)).unwrap()
}

fn problem(error: Error) -> String {
    match error {
        Error::Checkpoint { problem, .. } => problem,
        other => panic!("expected a checkpoint error, got {other:?}"),
    }
}

/// A trained-looking `Normed`: parameters and running statistics away from their initial values.
fn trained_normed() -> Normed {
    let mut rng = StdRng::seed_from_u64(1);
    let mut net = Normed::new(&mut rng);
    for _ in 0..3 {
        let input = Batch::<6>::from_fn(8, |_, _| rng.random_range(-1.0..1.0));
        net.forward(&input).unwrap();
    }
    net.batchnorm1.weight.iter_mut().for_each(|w| *w = rng.random_range(0.5..1.5));
    net.eval();
    net
}

#[test]
fn a_pytorch_trained_model_gives_pytorch_logits() {
    let mut net = Mlp::new(&mut StdRng::seed_from_u64(0));
    load_bytes(&mut net, &fixture("mnist_mlp_pytorch.safetensors")).unwrap();
    net.eval();
    let io = fixture("mnist_mlp_pytorch_io.safetensors");
    let io = SafeTensors::deserialize(&io).unwrap();
    let floats = |name: &str| -> Vec<f32> {
        io.tensor(name)
            .unwrap()
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect()
    };
    // `inputs` is [100, 784] row-major: one image after another, exactly our column-major batch.
    let inputs = Batch::<784>::from_vec(floats("inputs"));
    let logits = net.forward(&inputs).unwrap();
    let expected = Batch::<10>::from_vec(floats("logits"));
    let worst = (logits - &expected).abs().max();
    let scale = expected.abs().max();
    assert!(worst <= 1e-4 * scale, "max logit difference {worst} at scale {scale}");
}

#[test]
fn save_and_load_round_trip_parameters_and_buffers() {
    let mut original = trained_normed();
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("normed.safetensors");
    save(&mut original, &path).unwrap();

    let mut loaded = Normed::new(&mut StdRng::seed_from_u64(99));
    load(&mut loaded, &path).unwrap();
    loaded.eval();
    assert_eq!(loaded.batchnorm1.num_batches_tracked, 3);
    assert_eq!(*loaded.batchnorm1.running_var, *original.batchnorm1.running_var);
    let input = Batch::<6>::from_fn(4, |r, c| (r as f32 - c as f32) / 5.0);
    assert_eq!(loaded.forward(&input).unwrap(), original.forward(&input).unwrap());
    assert_eq!(std::fs::read(&path).unwrap(), to_bytes(&mut original).unwrap());
}

#[test]
fn files_use_pytorch_names_shapes_and_layouts() {
    let mut net = trained_normed();
    let bytes = to_bytes(&mut net).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut names = file.names();
    names.sort();
    assert_eq!(
        names,
        [
            "0.bias",
            "0.weight",
            "1.bias",
            "1.num_batches_tracked",
            "1.running_mean",
            "1.running_var",
            "1.weight",
            "3.bias",
            "3.weight"
        ]
    );
    let weight = file.tensor("0.weight").unwrap();
    assert_eq!((weight.dtype(), weight.shape()), (Dtype::F32, &[5, 6][..]));
    // Row-major [out, in]: the second value is row 0, column 1.
    let second = f32::from_le_bytes(weight.data()[4..8].try_into().unwrap());
    assert_eq!(second, net.linear0.weight[(0, 1)]);
    let count = file.tensor("1.num_batches_tracked").unwrap();
    assert_eq!((count.dtype(), count.shape(), count.data()), (Dtype::I64, &[][..], &3i64.to_le_bytes()[..]));
}

/// `net`'s checkpoint with `edit` applied to its list of tensors.
fn edited(edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>)) -> Vec<u8> {
    let bytes = to_bytes(&mut trained_normed()).unwrap();
    let file = SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<_> = file
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec()))
        .collect();
    edit(&mut tensors);
    let views: Vec<_> =
        tensors.iter().map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize(views, None).unwrap()
}

fn load_problem(bytes: &[u8]) -> String {
    let mut net = Normed::new(&mut StdRng::seed_from_u64(5));
    let before = net.linear0.weight.value.clone();
    let error = problem(load_bytes(&mut net, bytes).unwrap_err());
    assert_eq!(*net.linear0.weight.value, *before, "a failed load changed the model");
    error
}

#[test]
fn missing_extra_reshaped_and_retyped_tensors_are_named() {
    let missing = edited(|t| t.retain(|(n, ..)| n != "3.bias"));
    assert_eq!(load_problem(&missing), "missing tensor `3.bias` (F32 [3])");

    let extra = edited(|t| t.push(("7.weight".into(), Dtype::F32, vec![2], vec![0; 8])));
    assert_eq!(
        load_problem(&extra),
        "unexpected tensor `7.weight` (F32 [2]): the model has no such parameter or buffer"
    );

    let reshaped = edited(|t| {
        let weight = t.iter_mut().find(|(n, ..)| n == "0.weight").unwrap();
        weight.2 = vec![6, 5];
    });
    assert_eq!(load_problem(&reshaped), "tensor `0.weight`: expected F32 [5, 6], found F32 [6, 5]");

    let retyped = edited(|t| {
        let mean = t.iter_mut().find(|(n, ..)| n == "1.running_mean").unwrap();
        *mean = (mean.0.clone(), Dtype::F64, vec![5], vec![0; 40]);
    });
    assert_eq!(load_problem(&retyped), "tensor `1.running_mean`: expected F32 [5], found F64 [5]");

    let negative = edited(|t| {
        let count = t.iter_mut().find(|(n, ..)| n == "1.num_batches_tracked").unwrap();
        count.3 = (-1i64).to_le_bytes().to_vec();
    });
    assert_eq!(load_problem(&negative), "tensor `1.num_batches_tracked`: a count cannot be negative");
}

#[test]
fn truncated_and_malformed_files_are_errors() {
    let bytes = to_bytes(&mut trained_normed()).unwrap();
    for cut in [0, 5, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        let message = load_problem(&bytes[..cut]);
        assert!(message.starts_with("not a valid safetensors file"), "cut at {cut}: {message}");
    }
    assert!(load_problem(b"this is not a checkpoint at all").starts_with("not a valid safetensors file"));

    let mut net = trained_normed();
    let error = load(&mut net, Path::new("/nonexistent/model.safetensors")).unwrap_err();
    assert!(error.to_string().starts_with("/nonexistent/model.safetensors: cannot read"), "{error}");
}

#[test]
fn a_failed_save_leaves_the_previous_file_intact() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("model.safetensors");
    let mut net = trained_normed();
    save(&mut net, &path).unwrap();
    let before = std::fs::read(&path).unwrap();
    // A save into a folder that does not exist fails before touching anything.
    let error = save(&mut net, &directory.path().join("missing/model.safetensors")).unwrap_err();
    assert!(matches!(error, Error::Write { .. }), "{error:?}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // Only the checkpoint is in the folder: no temporary file was left behind.
    assert_eq!(std::fs::read_dir(directory.path()).unwrap().count(), 1);
}

#[test]
fn an_overwrite_that_fails_at_the_last_step_keeps_what_was_there() {
    // The save writes a whole temporary file beside the target, then renames it over the target;
    // here the rename fails, because the target is a folder with a file in it. What was at the
    // path must be untouched, and the temporary file gone.
    let directory = tempfile::tempdir().unwrap();
    let target = directory.path().join("model.safetensors");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("kept.txt"), "old contents").unwrap();
    let mut net = trained_normed();
    let error = save(&mut net, &target).unwrap_err();
    assert!(matches!(&error, Error::Write { path, .. } if *path == target), "{error:?}");
    assert_eq!(std::fs::read_to_string(target.join("kept.txt")).unwrap(), "old contents");
    assert_eq!(std::fs::read_dir(directory.path()).unwrap().count(), 1, "a temporary file was left");
}

#[test]
fn weights_holding_nan_or_infinity_are_refused_by_name() {
    let with = |value: f32, index: usize| {
        edited(|t| {
            let (_, _, _, bytes) = t.iter_mut().find(|(n, ..)| n == "3.weight").unwrap();
            bytes[index * 4..index * 4 + 4].copy_from_slice(&value.to_le_bytes());
        })
    };
    assert_eq!(
        load_problem(&with(f32::NAN, 2)),
        "tensor `3.weight` holds NaN at index 2: weights must be finite"
    );
    assert_eq!(
        load_problem(&with(f32::NEG_INFINITY, 0)),
        "tensor `3.weight` holds -inf at index 0: weights must be finite"
    );
}

/// The PyTorch code a model card prints. `bench/.venv` can check it for real: a model saved by
/// a network with every block kind loaded into this code with `strict=True` and gave its
/// logits within 2e-8 (PyTorch 2.15, 2026-12-01).
#[test]
fn networks_describe_themselves_as_pytorch_code() {
    assert_eq!((Mlp::input_shape(), Forked::input_shape()), (&[784][..], &[2, 4, 4][..]));
    let code = Forked::pytorch_module().unwrap();
    let model = &code[code.find("model = ").expect("the model comes last")..];
    assert_eq!(
        model,
        "model = nn.Sequential(
    nn.Conv2d(2, 3, 3, 1, 1),
    Residual(nn.Sequential(
        nn.BatchNorm2d(3),
        nn.LeakyReLU(0.01),
    ), nn.Sequential(
        nn.MaxPool2d(1, 1),
    )),
    Concat(nn.Sequential(
        nn.AvgPool2d(2, 2),
    ), nn.Sequential(
        nn.Conv2d(3, 1, 2, 2, 0),
    )),
    nn.Flatten(),
    nn.Dropout(0.5),
    nn.Linear(16, 2),
)
"
    );
    assert!(code.starts_with("class Residual(nn.Module):") && code.contains("class Concat(nn.Module):"));
    // Without blocks, no block modules; with a layer PyTorch does not know, no code.
    assert!(Mlp::pytorch_module().unwrap().starts_with("model = nn.Sequential(\n    nn.Linear(784, 512),\n"));
    assert_eq!(WithOwnLayer::pytorch_module(), None);
}
