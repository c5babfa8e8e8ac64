//! What the workshop's `mlp` costs: training steps, inference, and each layer's
//! forward + backward; and a training step and inference of `mnist_mlp --arch resnet`. `cargo
//! bench` (criterion); `bench/ab.sh` runs it for two commits in turn; see docs/performance.md.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use minitorch::optim::{Adam, AdamConfig};
use minitorch::prelude::*;
use minitorch::rand::{RngExt, SeedableRng, rngs::StdRng};

net! {
    struct Mlp< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >

    /// `mnist_mlp --arch resnet`.
    struct ResNet< Input(1, 28, 28),
        Conv2d(1, 16, 3, padding = 1), BatchNorm2d(16), ReLU,
        Residual(Conv2d(16, 16, 3, padding = 1), BatchNorm2d(16), ReLU,
                 Conv2d(16, 16, 3, padding = 1), BatchNorm2d(16)),
        ReLU,
        Residual(Conv2d(16, 32, 3, stride = 2, padding = 1), BatchNorm2d(32), ReLU,
                 Conv2d(32, 32, 3, padding = 1), BatchNorm2d(32);
                 shortcut: Conv2d(16, 32, 1, stride = 2), BatchNorm2d(32)),
        ReLU,
        Residual(Conv2d(32, 64, 3, stride = 2, padding = 1), BatchNorm2d(64), ReLU,
                 Conv2d(64, 64, 3, padding = 1), BatchNorm2d(64);
                 shortcut: Conv2d(32, 64, 1, stride = 2), BatchNorm2d(64)),
        ReLU, AdaptiveAvgPool2d(1), Flatten, Linear(64, 10) >
}

fn random_batch<const N: usize>(samples: usize) -> Batch<N> {
    let mut rng = StdRng::seed_from_u64(1);
    Batch::from_fn(samples, |_, _| rng.random_range(-1.0..1.0))
}

fn training_steps(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step_mlp");
    for batch in [64, 128, 256] {
        let mut net = Mlp::new(&mut StdRng::seed_from_u64(0));
        let config = SgdConfig { learning_rate: 0.01, momentum: 0.9, ..SgdConfig::default() };
        let mut sgd = Sgd::new(config).unwrap();
        let mut criterion = CrossEntropy::new();
        let images = random_batch::<784>(batch);
        let labels: Vec<usize> = (0..batch).map(|i| i % 10).collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(BenchmarkId::from_parameter(batch), |b| {
            b.iter(|| {
                criterion.forward(net.forward(&images).unwrap(), &labels).unwrap();
                net.zero_grad();
                net.backward(criterion.gradient()).unwrap();
                sgd.step(&mut net).unwrap();
            })
        });
    }
    group.finish();
}

fn resnet_training_step(c: &mut Criterion) {
    let mut net = ResNet::new(&mut StdRng::seed_from_u64(0));
    let mut adam = Adam::new(AdamConfig::default()).unwrap();
    let mut criterion = CrossEntropy::new();
    let images = random_batch::<784>(64);
    let labels: Vec<usize> = (0..64).map(|i| i % 10).collect();
    let mut group = c.benchmark_group("train_step_resnet");
    group.sample_size(20).throughput(Throughput::Elements(64));
    group.bench_function(BenchmarkId::from_parameter(64), |b| {
        b.iter(|| {
            criterion.forward(net.forward(&images).unwrap(), &labels).unwrap();
            net.zero_grad();
            net.backward(criterion.gradient()).unwrap();
            adam.step(&mut net).unwrap();
        })
    });
    group.finish();
}

fn inference(c: &mut Criterion) {
    let mut group = c.benchmark_group("inference_mlp");
    for batch in [1, 64] {
        let mut net = Mlp::new(&mut StdRng::seed_from_u64(0));
        net.eval();
        let images = random_batch::<784>(batch);
        group.bench_function(BenchmarkId::from_parameter(batch), |b| {
            b.iter(|| black_box(net.forward(black_box(&images)).unwrap()[0]))
        });
    }
    group.finish();
    let mut net = ResNet::new(&mut StdRng::seed_from_u64(0));
    net.eval();
    let images = random_batch::<784>(64);
    let mut group = c.benchmark_group("inference_resnet");
    group.sample_size(20).throughput(Throughput::Elements(64));
    group.bench_function(BenchmarkId::from_parameter(64), |b| {
        b.iter(|| black_box(net.forward(black_box(&images)).unwrap()[0]))
    });
    group.finish();
}

/// Forward then backward of one layer at batch 128, as inside a training step.
fn layer<const IN: usize, const OUT: usize>(c: &mut Criterion, name: &str, mut layer: impl Layer<IN, OUT>) {
    let input = random_batch::<IN>(128);
    let grad_output = random_batch::<OUT>(128);
    let (mut output, mut grad_input) = (Batch::<OUT>::zeros(0), Batch::<IN>::zeros(0));
    c.bench_function(&format!("layer_forward_backward_128/{name}"), |b| {
        b.iter(|| {
            layer.forward(&input, &mut output, Mode::Train);
            layer.backward(&input, &output, &grad_output, &mut grad_input);
            black_box(grad_input[0]);
        })
    });
}

fn layers(c: &mut Criterion) {
    let rng = &mut StdRng::seed_from_u64(0);
    layer(c, "linear_784_512", Linear::<784, 512>::new(rng));
    layer(c, "linear_512_256", Linear::<512, 256>::new(rng));
    layer(c, "linear_256_10", Linear::<256, 10>::new(rng));
    layer(c, "relu_512", ReLU::<512>::new());
    layer(c, "dropout_512", Dropout::<512>::new(0.2, rng));
    layer(c, "batchnorm_512", BatchNorm1d::<512>::new());
    // The cnn's two poolings (`mnist_mlp --arch cnn`).
    layer(c, "maxpool_32x24x24", MaxPool2d::<32, 2, 2, 24, 24, { 32 * 24 * 24 }, { 32 * 12 * 12 }>::new());
    layer(c, "maxpool_64x8x8", MaxPool2d::<64, 2, 2, 8, 8, { 64 * 8 * 8 }, { 64 * 4 * 4 }>::new());
    // The resnet's first block's convolutions (`mnist_mlp --arch resnet`), the largest of its step.
    layer(c, "conv_16x28x28_3x3", Conv2d::<16, 16, 3, 1, 1, 28, 28, { 16 * 784 }, { 16 * 784 }>::new(rng));
}

criterion_group!(benches, training_steps, resnet_training_step, inference, layers);
criterion_main!(benches);
