//! Step 3 of the learning path: a training loop written out, step by step.
//!
//! What `minitorch::train::fit` does, without it: shuffle, cut into batches, and for each batch
//! forward → loss → zero the gradients → backward → optimiser step; then measure on held-out
//! images in evaluation mode. Trains on 6,000 MNIST images for 3 epochs (seconds in release).
//!
//! Run: `cargo run --release --example 03_training_loop`. Next: `04_custom_layer`.

use std::path::Path;
use std::process::ExitCode;

use minitorch::data::Mnist;
use minitorch::optim::{Adam, AdamConfig};
use minitorch::prelude::*;
use minitorch::rand::seq::SliceRandom;
use minitorch::rand::{SeedableRng, rngs::StdRng};

net! {
    struct Classifier< Linear(784, 128), ReLU, Linear(128, 10) >
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Error> {
    let data = Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist"), 12_000, 0)?;
    let train = data.train.subset(&(0..6000).collect::<Vec<_>>());
    let mut rng = StdRng::seed_from_u64(0);
    let mut net = Classifier::new(&mut rng);
    let mut optimizer = Adam::new(AdamConfig::default())?;
    let mut loss = CrossEntropy::new();
    let (mut images, mut labels) = (Batch::<784>::zeros(0), Vec::new());
    let mut order: Vec<usize> = (0..train.len()).collect();

    for epoch in 1..=3 {
        net.train();
        order.shuffle(&mut rng);
        let mut total = 0.0;
        for batch in order.chunks(64) {
            train.fill_batch(batch, &mut images, &mut labels)?; // pixels, normalised
            let logits = net.forward(&images)?; //                  forward
            total += loss.forward(logits, &labels)?; //             mean cross-entropy
            net.zero_grad(); //                                      gradients start at 0
            net.backward(loss.gradient())?; //                       ∂L/∂θ for every θ
            optimizer.step(&mut net)?; //                            θ ← θ − step
        }
        let batches = order.len().div_ceil(64) as f32;

        net.eval(); // no dropout, running statistics
        let mut correct = 0;
        for batch in (0..data.validation.len()).collect::<Vec<_>>().chunks(1000) {
            data.validation.fill_batch(batch, &mut images, &mut labels)?;
            let predictions = predicted_classes(net.forward(&images)?);
            correct += predictions.zip(&labels).filter(|(p, l)| p == *l).count();
        }
        let accuracy = correct as f32 / data.validation.len() as f32;
        println!("epoch {epoch}: train loss {:.4}, validation accuracy {accuracy:.4}", total / batches);
    }
    Ok(())
}
