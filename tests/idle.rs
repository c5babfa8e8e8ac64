//! Nothing keeps a core busy while the library is idle: after training steps and inference on
//! both cores, the two threads spin for a short, bounded time and then sleep, so an idle process
//! uses no CPU. (One test in this file, so that no other test runs in the process meanwhile.)

use std::time::Duration;

use minitorch::optim::{Adam, AdamConfig};
use minitorch::prelude::*;
use minitorch::rand::{RngExt, SeedableRng, rngs::StdRng};

net! {
    struct Cnn< Input(1, 28, 28), Conv2d(1, 8, 5), ReLU, MaxPool2d(2), Flatten, Linear(1152, 10) >
}

/// CPU time all of this process's threads have used, from the kernel's per-thread accounting
/// (nanoseconds, in the first field of each thread's `schedstat`).
#[cfg(target_os = "linux")]
fn process_cpu_seconds() -> f64 {
    let threads = std::fs::read_dir("/proc/self/task").expect("Linux's /proc");
    let nanoseconds: u64 = threads
        .filter_map(|thread| std::fs::read_to_string(thread.ok()?.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    nanoseconds as f64 / 1e9
}

#[cfg(target_os = "linux")]
#[test]
fn an_idle_process_uses_no_cpu() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut network = Cnn::new(&mut rng);
    let mut optimizer = Adam::new(AdamConfig::default()).unwrap();
    let mut loss = CrossEntropy::new();
    let images = Batch::<784>::from_fn(64, |_, _| rng.random_range(0.0..1.0));
    let labels: Vec<usize> = (0..64).map(|sample| sample % 10).collect();
    let busy_start = process_cpu_seconds();
    for _ in 0..5 {
        let logits = network.forward(&images).unwrap();
        loss.forward(logits, &labels).unwrap();
        network.zero_grad();
        network.backward(loss.gradient()).unwrap();
        optimizer.step(&mut network).unwrap();
    }
    network.eval();
    network.forward(&images).unwrap();
    let busy = process_cpu_seconds() - busy_start;
    // Long enough for any spinning thread to have gone to sleep.
    std::thread::sleep(Duration::from_millis(200));
    let idle_start = process_cpu_seconds();
    std::thread::sleep(Duration::from_secs(1));
    let idle = process_cpu_seconds() - idle_start;
    println!("{busy:.3} s of CPU for the work, {idle:.4} s in the idle second after it");
    assert!(busy > 0.0, "the CPU accounting saw the work");
    assert!(idle < 0.02, "{idle:.3} s of CPU used in one idle second");
}
