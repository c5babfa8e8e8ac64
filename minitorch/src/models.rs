//! The trained models this repository ships, compiled in with `#[weights]`: each is the default
//! run of `mnist_mlp` for its architecture, and reads a digit as [`MnistDigit::to_input`] gives
//! it. Nothing is read at run time. Built with the `pretrained` feature.
//!
//! ```
//! use minitorch::models::MnistCnn;
//! use minitorch::prelude::*;
//! let mut network = MnistCnn::pretrained(); // in evaluation mode
//! assert_eq!(network.forward(&Batch::<784>::zeros(1))?.shape(), (10, 1));
//! # Ok::<(), minitorch::Error>(())
//! ```
//!
//! Tests: `tests/embedded.rs` (each classifies the MNIST test set as when it was trained).
//!
//! [`MnistDigit::to_input`]: crate::image::MnistDigit::to_input

use crate::net;

net! {
    /// The workshop's `mlp` as `cargo run --release --example mnist_mlp` trained it (seed 0, 10
    /// epochs, SGD with momentum): 98.49% on the MNIST test set.
    #[weights = "models/mnist_mlp.safetensors"]
    pub struct MnistMlp< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >

    /// The convolutional network as `cargo run --release --example mnist_mlp -- --arch cnn`
    /// trained it (seed 0, 3 epochs, Adam): 99.24% on the MNIST test set.
    #[weights = "models/mnist_cnn.safetensors"]
    pub struct MnistCnn< Input(1, 28, 28), Conv2d(1, 32, 5), ReLU, MaxPool2d(2), Conv2d(32, 64, 5), ReLU,
        MaxPool2d(2), Flatten, Linear(1024, 128), ReLU, Dropout(0.5), Linear(128, 10) >
}
