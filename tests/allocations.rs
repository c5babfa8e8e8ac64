//! Heap allocations at run time. Single-sample inference allocates nothing, not even on the first
//! call after construction, once the second core's thread has started (which the process's first
//! work split between the cores does, whatever it is). Once the batch size is stable, a training
//! step allocates nothing, of an mlp or of a CNN (every optimiser's step allocates nothing at
//! all), but for the GEMM's packing buffer, which each thread allocates once, on its first
//! product: a thread that had not run one before may do so.
//! A branching network's step, with every kind of fork, allocates nothing at all.
//! One test only: the counter is global to the binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use minitorch::models::MnistMlp;
use minitorch::optim::{Adam, AdamConfig, AdamW, AdamWConfig};
use minitorch::prelude::*;
use minitorch::rand::{SeedableRng, rngs::StdRng};

struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

net! {
    struct Mlp< Linear(784, 512), BatchNorm1d(512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >
    struct SmallCnn< Input(1, 12, 12), Conv2d(1, 4, 3), ReLU, MaxPool2d(2), Conv2d(4, 8, 3), ReLU, Flatten, Linear(72, 10) >

    /// Blocks of every kind, nested, and no layer that calls the GEMM: a step must allocate
    /// nothing.
    struct Forks< Input(2, 4, 4), BatchNorm2d(2),
        Residual(BatchNorm2d(2), Tanh; shortcut: AvgPool2d(1), BatchNorm2d(2)),
        Concat(Residual(Sigmoid); Tanh, MaxPool2d(1)),
        AdaptiveAvgPool2d(1), Flatten, Residual(BatchNorm1d(4)), Dropout(0.1) >
}

#[test]
fn inference_allocates_nothing_and_training_only_packing_buffers_once() {
    let mut classifier = MnistMlp::pretrained();
    let image = Batch::<784>::from_fn(1, |r, _| ((r % 28) as f32 / 28.0) - 0.4);
    // Another network's forward starts the second core's thread: its first layer is large
    // enough to be split between the cores.
    MnistMlp::pretrained().forward(&image).unwrap();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..3 {
        classifier.forward(&image).unwrap();
    }
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed) - before, 0, "allocations in single-sample inference");

    let mut net = Mlp::new(&mut StdRng::seed_from_u64(0));
    let mut criterion = CrossEntropy::new();
    let images = Batch::<784>::from_fn(64, |r, c| ((r * 7 + c * 13) % 17) as f32 / 17.0);
    let labels: Vec<usize> = (0..64).map(|i| i % 10).collect();
    let mut optimizers: Vec<Box<dyn Optimizer>> = vec![
        Box::new(Sgd::new(SgdConfig { learning_rate: 0.01, ..SgdConfig::default() }).unwrap()),
        Box::new(
            Sgd::new(SgdConfig {
                learning_rate: 0.01,
                momentum: 0.9,
                nesterov: true,
                ..SgdConfig::default()
            })
            .unwrap(),
        ),
        Box::new(Adam::new(AdamConfig::default()).unwrap()),
        Box::new(AdamW::new(AdamWConfig::default()).unwrap()),
    ];
    for optimizer in &mut optimizers {
        optimizer.step(&mut net).unwrap(); // makes its state
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..3 {
            optimizer.step(&mut net).unwrap();
        }
        assert_eq!(
            ALLOCATIONS.load(Ordering::Relaxed) - before,
            0,
            "allocations in {} steps",
            optimizer.name()
        );
    }

    let mut sgd = Sgd::new(SgdConfig { learning_rate: 0.01, momentum: 0.9, ..SgdConfig::default() }).unwrap();
    let mut step = |net: &mut Mlp| {
        criterion.forward(net.forward(&images).unwrap(), &labels).unwrap();
        net.zero_grad();
        net.backward(criterion.gradient()).unwrap();
        sgd.step(net).unwrap();
    };
    step(&mut net); // sizes the buffers and the momentum state
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..3 {
        step(&mut net);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    // At most the first packing buffer of each of the two threads, had one run no product in the
    // first step.
    let threads = 2;
    assert!(allocations <= threads, "{allocations} allocations in 3 mlp training steps");

    // A convolutional network: its layers keep their buffers (im2col tiles, pooling choices)
    // from step to step.
    let mut cnn = SmallCnn::new(&mut StdRng::seed_from_u64(0));
    let mut adam = Adam::new(AdamConfig::default()).unwrap();
    let images = Batch::<144>::from_fn(8, |r, c| ((r * 5 + c * 11) % 13) as f32 / 13.0);
    let labels: Vec<usize> = (0..8).collect();
    let mut step = |net: &mut SmallCnn| {
        criterion.forward(net.forward(&images).unwrap(), &labels).unwrap();
        net.zero_grad();
        net.backward(criterion.gradient()).unwrap();
        adam.step(net).unwrap();
    };
    step(&mut cnn);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..3 {
        step(&mut cnn);
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert!(allocations <= threads, "{allocations} allocations in 3 cnn training steps");

    // Forks: each block keeps its sum of the paths' gradients, and each branch its share of the
    // output gradient, from step to step.
    let mut forks = Forks::new(&mut StdRng::seed_from_u64(0));
    let mut adam = Adam::new(AdamConfig::default()).unwrap();
    let images = Batch::<32>::from_fn(8, |r, c| ((r * 5 + c * 11) % 13) as f32 / 13.0);
    let labels: Vec<usize> = (0..8).map(|i| i % 4).collect();
    let mut criterion = CrossEntropy::new();
    let mut step = || {
        criterion.forward(forks.forward(&images).unwrap(), &labels).unwrap();
        forks.zero_grad();
        forks.backward(criterion.gradient()).unwrap();
        adam.step(&mut forks).unwrap();
    };
    step();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..3 {
        step();
    }
    let per_step = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(per_step, 0, "allocations in 3 steps of a branching network");
}
