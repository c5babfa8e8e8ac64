//! Checks the workshop's two architectures' backward passes against finite differences, the way
//! the workshop checked its derivatives by hand.
//!
//! Run: `cargo run --release --example check_gradients`

use minitorch::gradcheck::{GradientCheck, check_network};
use minitorch::prelude::*;
use minitorch::rand::rngs::StdRng;
use minitorch::rand::{RngExt, SeedableRng};

net! {
    /// The workshop's first architecture.
    struct Base< Linear(784, 1024), Linear(1024, 10) >

    /// The workshop's second architecture.
    struct Mlp< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >
}

fn main() {
    let mut rng = StdRng::seed_from_u64(0);
    let input = Batch::<784>::from_fn(16, |_, _| rng.random_range(-1.0..1.0));
    let labels: Vec<usize> = (0..16).map(|i| i % 10).collect();
    let check = GradientCheck::default();
    let reports = [
        ("base", check_network(&Base::new(&mut rng), &input, &labels, check)),
        ("mlp", check_network(&Mlp::new(&mut rng), &input, &labels, check)),
    ];
    let mut failed = false;
    for (name, report) in reports {
        match report {
            Ok(report) => {
                let verdict = if report.passed(1e-2) { "ok" } else { "FAILED" };
                failed |= !report.passed(1e-2);
                println!("{name}: {verdict}: {report}");
            }
            Err(error) => {
                eprintln!("{name}: error: {error}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
}
