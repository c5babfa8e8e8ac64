//! Once the batch size is stable, minitorch's own code allocates nothing per step: single-sample
//! inference allocates nothing at all, and a training step allocates only the GEMM kernels'
//! packing workspace (the `gemm` crate allocates it on each call and offers no way to pass one
//! in; see README, "Known limitations"). One test only: the counter is global.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

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
}

#[test]
fn training_steps_and_inference_do_not_allocate_once_warm() {
    let mut net = Mlp::new(&mut StdRng::seed_from_u64(0));
    let mut sgd = Sgd::new(SgdConfig { learning_rate: 0.01, momentum: 0.9, ..SgdConfig::default() }).unwrap();
    let mut criterion = CrossEntropy::new();
    let images = Batch::<784>::from_fn(64, |r, c| ((r * 7 + c * 13) % 17) as f32 / 17.0);
    let labels: Vec<usize> = (0..64).map(|i| i % 10).collect();
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
    // 8 GEMM calls per step (3 forward, 3 weight gradients, 2 input gradients), each allocating
    // at most a packing buffer, a flag vector and a parallel job's state.
    let per_step = (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / 3.0;
    assert!(per_step <= 8.0 * 3.0, "{per_step} allocations per training step");

    net.eval();
    let single = Batch::<784>::from_fn(1, |r, _| r as f32 / 784.0);
    net.forward(&single).unwrap();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..3 {
        net.forward(&single).unwrap();
    }
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed) - before, 0, "allocations in 3 single-image inferences");
}
