//! Step 2 of the learning path: a network declared with `net!`, and what the macro generated.
//!
//! `net!` turns a layer list into a struct with one field per layer (named by kind and index,
//! as PyTorch's `nn.Sequential` numbers them), a `forward` that calls each layer in turn, and a
//! `backward` that calls them in reverse. `cargo doc --open` shows the struct's generated
//! documentation: every layer with its output width and PyTorch parameter names and shapes. A
//! width that does not chain, e.g. `Linear(784, 128), ReLU, Linear(64, 10)`, does not compile.
//!
//! Run: `cargo run --example 02_net_macro`. Next: `03_training_loop`.

use minitorch::prelude::*;
use minitorch::rand::{SeedableRng, rngs::StdRng};

net! {
    /// A small classifier for 28×28 images.
    struct Classifier< Linear(784, 128), ReLU, Dropout(0.2), Linear(128, 10) >
}

fn main() -> Result<(), Error> {
    let mut net = Classifier::new(&mut StdRng::seed_from_u64(0));
    // The fields are the layers, typed by their widths.
    let _first: &Linear<784, 128> = &net.linear0;
    let _activation: &ReLU<128> = &net.relu1;
    println!("{net:?}");

    // Parameters are visited with PyTorch's state-dict names and shapes.
    println!("{} trainable parameters:", net.parameter_count());
    net.visit_parameters(&mut |p| println!("  {}.{}  [{}, {}]", p.path, p.name, p.rows, p.columns));

    // forward: one column per sample; the output type says the width.
    let images = Batch::<784>::from_element(4, 0.5);
    let logits: &Batch<10> = net.forward(&images)?;
    println!("logits of 4 images: {:?}", logits.shape());

    // backward takes ∂L/∂logits for the same batch and accumulates every parameter's gradient.
    net.zero_grad();
    net.backward(&Batch::<10>::from_element(4, 0.1))?;
    println!("∂L/∂(last bias): {:?}", net.linear3.bias.gradient.as_slice());

    // A batch of another width is a type error, not a run-time one:
    // net.forward(&Batch::<100>::zeros(4));  // expected `Batch<784>`, found `Batch<100>`
    Ok(())
}
