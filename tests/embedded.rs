//! The trained MNIST models committed in `models/` (the mlp and the cnn), compiled into this test
//! binary by `net!`, classify the test set as they did when `mnist_mlp` trained them. (That the
//! mlp's single-sample inference allocates nothing is in `tests/allocations.rs`.)

use std::path::Path;

use minitorch::data::Mnist;
use minitorch::prelude::*;
use minitorch::train::evaluate;

net! {
    #[weights = "models/mnist_mlp.safetensors"]
    struct Classifier< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >

    #[weights = "models/mnist_cnn.safetensors"]
    struct CnnClassifier< Input(1, 28, 28), Conv2d(1, 32, 5), ReLU, MaxPool2d(2), Conv2d(32, 64, 5), ReLU, MaxPool2d(2),
        Flatten, Linear(1024, 128), ReLU, Dropout(0.5), Linear(128, 10) >
}

#[test]
fn the_embedded_model_classifies_mnist_as_when_it_was_trained() {
    let mut network = Classifier::pretrained();
    assert_eq!(network.mode(), Mode::Eval);
    let mnist = Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"), 12_000, 0).unwrap();
    let (loss, accuracy) = evaluate(&mut network, &mnist.test, 1000).unwrap();
    // README, "A default run": test_accuracy=0.9849.
    assert!((accuracy - 0.9849).abs() < 1e-6, "test accuracy {accuracy}, loss {loss}");
}

#[test]
fn the_embedded_cnn_classifies_mnist_as_when_it_was_trained() {
    let mut network = CnnClassifier::pretrained();
    let mnist = Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"), 12_000, 0).unwrap();
    let (loss, accuracy) = evaluate(&mut network, &mnist.test, 1000).unwrap();
    // README, "A default run": `--arch cnn` gave test_accuracy=0.9924.
    assert!((accuracy - 0.9924).abs() < 1e-6, "test accuracy {accuracy}, loss {loss}");
}
