//! What the tests that compare with PyTorch share: reading its JSON fixtures, loading its
//! parameters by state-dict name, and comparing tensors.
// Each test file uses part of this.
#![allow(dead_code)]

use minitorch::{Batch, Layer, Mode, Parameter, Parameters};
use serde_json::Value;

/// Every number of a (nested) JSON list or object, in order.
pub fn numbers(value: &Value) -> Vec<f64> {
    match value {
        Value::Array(items) => items.iter().flat_map(numbers).collect(),
        Value::Object(fields) => fields.values().flat_map(numbers).collect(),
        other => vec![other.as_f64().expect("a number")],
    }
}

/// A parameter's values in PyTorch's row-major order (rows, then the rest).
pub fn row_major(p: &Parameter<'_>, values: &[f32]) -> Vec<f32> {
    (0..p.rows).flat_map(|r| (0..p.columns).map(move |c| values[r + c * p.rows])).collect()
}

/// Sets every parameter of `model` from PyTorch's row-major lists, found by state-dict name.
pub fn load_pytorch_parameters(model: &mut impl Parameters, parameters: &Value) {
    model.visit_parameters(&mut |p| {
        let flat = numbers(&parameters[p.full_name()]);
        for r in 0..p.rows {
            for c in 0..p.columns {
                p.value[r + c * p.rows] = flat[r * p.columns + c] as f32;
            }
        }
    });
}

/// `max |ours − torch| ≤ 1e-5 · max(max |torch|, scale_floor)`, entry by entry in the same order:
/// our f32 against PyTorch's f64, relative to the tensor's scale.
pub fn assert_close(name: &str, ours: &[f32], torch: &[f64], scale_floor: f64) {
    assert_eq!(ours.len(), torch.len(), "{name}: size");
    let scale = torch.iter().fold(scale_floor, |m, x| m.max(x.abs()));
    let worst = ours.iter().zip(torch).map(|(&a, &b)| (f64::from(a) - b).abs()).fold(0.0, f64::max);
    assert!(worst <= 1e-5 * scale, "{name}: max difference {worst:e} vs scale {scale:e}");
}

/// Every parameter (or, with `gradients`, every gradient) of `model` against PyTorch's, by
/// state-dict name, at [`assert_close`]'s tolerance with the scale at least `scale_floor`.
pub fn assert_parameters_close(
    model: &mut impl Parameters,
    expected: &Value,
    what: &str,
    gradients: bool,
    scale_floor: f64,
) {
    model.visit_parameters(&mut |p| {
        let key = p.full_name();
        let ours = row_major(&p, if gradients { p.gradient } else { p.value });
        assert_close(&format!("{what} {key}"), &ours, &numbers(&expected[&key]), scale_floor);
    });
}

/// A layer's output for `x`, run on its own.
pub fn forward<L: Layer<IN, OUT>, const IN: usize, const OUT: usize>(
    layer: &mut L,
    x: &Batch<IN>,
    mode: Mode,
) -> Batch<OUT> {
    let mut y = Batch::zeros(0);
    layer.forward(x, &mut y, mode);
    y
}

/// A layer's input gradient for `grad_y`, given the `x` and `y` of its last forward.
pub fn backward<L: Layer<IN, OUT>, const IN: usize, const OUT: usize>(
    layer: &mut L,
    x: &Batch<IN>,
    y: &Batch<OUT>,
    grad_y: &Batch<OUT>,
) -> Batch<IN> {
    let mut grad_x = Batch::zeros(0);
    layer.backward(x, y, grad_y, &mut grad_x);
    grad_x
}
