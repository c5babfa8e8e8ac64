//! The trained MNIST models the library ships (`minitorch::models`, the mlp and the cnn, compiled
//! in from `minitorch/models/` by `net!`) classify the test set as they did when `mnist_mlp` trained them. (That the
//! mlp's single-sample inference allocates nothing is in `tests/allocations.rs`.)

use std::path::Path;

use minitorch::data::Mnist;
use minitorch::models::{MnistCnn, MnistMlp};
use minitorch::prelude::*;
use minitorch::train::evaluate;

#[test]
fn the_embedded_model_classifies_mnist_as_when_it_was_trained() {
    let mut network = MnistMlp::pretrained();
    assert_eq!(network.mode(), Mode::Eval);
    let mnist = Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"), 12_000, 0).unwrap();
    let (loss, accuracy) = evaluate(&mut network, &mnist.test, 1000).unwrap();
    // docs/results.md, "A default run", the run that trained these weights: test_accuracy=0.9849.
    assert!((accuracy - 0.9849).abs() < 1e-6, "test accuracy {accuracy}, loss {loss}");
}

#[test]
fn the_embedded_cnn_classifies_mnist_as_when_it_was_trained() {
    let mut network = MnistCnn::pretrained();
    let mnist = Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"), 12_000, 0).unwrap();
    let (loss, accuracy) = evaluate(&mut network, &mnist.test, 1000).unwrap();
    // docs/results.md: the `--arch cnn` run that trained these weights gave test_accuracy=0.9924.
    assert!((accuracy - 0.9924).abs() < 1e-6, "test accuracy {accuracy}, loss {loss}");
}
