//! Inference latency of the workshop's `mlp` in evaluation mode, as `bench/pytorch_mnist.py
//! latency` measures PyTorch's: 500 warm-up calls, then the median of 5,000 timed calls, for a
//! batch of 1 and of 64. Then the speed of the GEMM all layers use, on a 2048³ product (what
//! `bench/compare.sh` computes its floors from).
//!
//! Run: `cargo run --release --example latency`

use std::hint::black_box;
use std::time::Instant;

use minitorch::prelude::*;
use minitorch::rand::{RngExt, SeedableRng, rngs::StdRng};
use minitorch::{Layer, Linear, Mode};

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
    println!("gemm_2048 gflops={:.1}", gemm_gflops(&mut rng));
    Ok(())
}

/// GFLOP/s of a 2048 × 2048 × 2048 product through the library's one GEMM entry point, on both
/// cores as every layer runs it: a `Linear(2048, 2048)` forward on 2048 samples is that product
/// (8.6 GFLOP) plus a bias add that costs a thousandth of it. The median of 7 after 2 warm-ups.
fn gemm_gflops(rng: &mut StdRng) -> f64 {
    let mut layer = Linear::<2048, 2048>::new(rng);
    let input = Batch::<2048>::from_fn(2048, |_, _| rng.random_range(-1.0..1.0));
    let mut output = Batch::<2048>::zeros(0);
    let mut seconds: Vec<f64> = (0..9)
        .map(|_| {
            let start = Instant::now();
            layer.forward(black_box(&input), &mut output, Mode::Eval);
            black_box(output[0]);
            start.elapsed().as_secs_f64()
        })
        .skip(2)
        .collect();
    seconds.sort_by(f64::total_cmp);
    2.0 * 2048f64.powi(3) / seconds[seconds.len() / 2] / 1e9
}
