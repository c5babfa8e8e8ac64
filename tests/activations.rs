//! The element-wise activations against PyTorch: outputs and input gradients at the inputs of
//! `tests/fixtures/activations.json`, made by `tests/fixtures/make_activations.py` (PyTorch 2.15,
//! float64), including 0 and large magnitudes.

use minitorch::prelude::*;
use serde_json::Value;

const INPUTS: usize = 15;

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/activations.json")).expect("fixture is JSON")
}

fn batch(value: &Value) -> Batch<INPUTS> {
    let numbers: Vec<f32> = value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    Batch::from_column_slice(&numbers)
}

/// Runs `layer` forward and backward on the fixture's inputs and compares with PyTorch's `name`
/// entry at 1e-6 relative (absolute below 1).
fn assert_matches_pytorch<L: Layer<INPUTS, INPUTS>>(name: &str, mut layer: L) {
    let fixture = fixture();
    let expected = &fixture["activations"][name];
    assert!(expected.is_object(), "no PyTorch values for {name}");
    let input = batch(&fixture["inputs"]);
    let (mut output, mut grad_input) = (Batch::zeros(0), Batch::zeros(0));
    layer.forward(&input, &mut output, Mode::Train);
    layer.backward(&input, &output, &batch(&fixture["grad_output"]), &mut grad_input);
    for (what, ours, theirs) in [
        ("output", &output, batch(&expected["output"])),
        ("grad_input", &grad_input, batch(&expected["grad_input"])),
    ] {
        for (i, (&a, &b)) in ours.iter().zip(theirs.iter()).enumerate() {
            let error = (a - b).abs() / b.abs().max(1.0);
            assert!(error <= 1e-6, "{name} {what}[{i}] at x = {}: ours {a}, PyTorch {b}", input[i]);
        }
    }
}

#[test]
fn relu() {
    assert_matches_pytorch("ReLU", ReLU::<INPUTS>::new());
}

#[test]
fn leaky_relu_with_pytorchs_default_and_a_chosen_slope() {
    assert_matches_pytorch("LeakyReLU", LeakyReLU::<INPUTS>::new());
    assert_matches_pytorch("LeakyReLU(0.2)", LeakyReLU::<INPUTS>::with_negative_slope(0.2));
}

#[test]
fn sigmoid() {
    assert_matches_pytorch("Sigmoid", Sigmoid::<INPUTS>::new());
}

#[test]
fn tanh() {
    assert_matches_pytorch("Tanh", Tanh::<INPUTS>::new());
}

#[test]
fn gelu_exact_erf_form() {
    assert_matches_pytorch("GELU", GELU::<INPUTS>::new());
}

#[test]
fn net_builds_each_activation_with_its_arguments() {
    use minitorch::rand::{SeedableRng, rngs::StdRng};
    net! {
        struct Every< Linear(13, 13), Sigmoid, Tanh, LeakyReLU, LeakyReLU(0.2), GELU, ReLU >
    }
    let every = Every::new(&mut StdRng::seed_from_u64(0));
    assert_eq!(every.leaky_relu3.function().negative_slope, 0.01);
    assert_eq!(every.leaky_relu4.function().negative_slope, 0.2);
    assert_eq!(
        format!("{every:?}"),
        "Every { linear0: Linear<13, 13>, sigmoid1: Sigmoid<13>, tanh2: Tanh<13>, leaky_relu3: LeakyReLU<13>, \
         leaky_relu4: LeakyReLU<13>, gelu5: GELU<13>, relu6: ReLU<13>, mode: Train }"
    );
}
