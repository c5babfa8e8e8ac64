//! Inference latency of the workshop's `mlp` in evaluation mode, as `bench/pytorch_mnist.py
//! latency` measures PyTorch's: 500 warm-up calls, then the median of 5,000 timed calls, for a
//! batch of 1 and of 64.
//!
//! Run: `cargo run --release --example latency`

use std::hint::black_box;
use std::time::Instant;

use minitorch::prelude::*;
use minitorch::rand::{RngExt, SeedableRng, rngs::StdRng};

net! {
    struct Mlp< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >
}

fn main() -> Result<(), Error> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut network = Mlp::new(&mut rng);
    network.eval();
    for batch in [1, 64] {
        let images = Batch::<784>::from_fn(batch, |_, _| rng.random_range(-1.0..1.0));
        for _ in 0..500 {
            network.forward(&images)?;
        }
        let mut seconds = Vec::with_capacity(5000);
        for _ in 0..5000 {
            let start = Instant::now();
            black_box(network.forward(black_box(&images))?);
            seconds.push(start.elapsed().as_secs_f64());
        }
        seconds.sort_by(f64::total_cmp);
        println!("batch={batch} median_us={:.1}", seconds[seconds.len() / 2] * 1e6);
    }
    Ok(())
}
