//! The trained MNIST model committed in `models/`, compiled into this test binary by `net!`:
//! it classifies the test set as it did when it was trained, and single-sample inference
//! allocates nothing, not even on the first call.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use minitorch::data::Mnist;
use minitorch::prelude::*;
use minitorch::train::evaluate;

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
    #[weights = "models/mnist_mlp.safetensors"]
    struct Classifier< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >
}

/// One test: the allocation counter is global to the binary.
#[test]
fn the_embedded_model_classifies_mnist_and_single_inference_does_not_allocate() {
    let mut network = Classifier::pretrained();
    let image = Batch::<784>::from_fn(1, |r, _| ((r % 28) as f32 / 28.0) - 0.4);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..3 {
        network.forward(&image).unwrap();
    }
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed) - before, 0, "allocations in single-sample inference");

    // The same numbers as when `mnist_mlp` trained it (README): test accuracy 0.9814.
    let mnist = Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"), 12_000, 0).unwrap();
    let (loss, accuracy) = evaluate(&mut network, &mnist.test, 1000).unwrap();
    assert!((accuracy - 0.9814).abs() < 1e-6, "test accuracy {accuracy}, loss {loss}");
}
