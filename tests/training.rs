//! The workshop's loop on a small real subset of MNIST: it learns, and one seed gives one result.

use std::path::Path;

use minitorch::data::Mnist;
use minitorch::prelude::*;
use minitorch::rand::{SeedableRng, rngs::StdRng};
use minitorch::train::{EpochMetrics, Schedule, TrainingConfig, evaluate, fit};

net! {
    struct Mlp< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >
    struct Exploding< Linear(784, 64), ReLU, Linear(64, 10) >
}

fn subset() -> (minitorch::data::Dataset, minitorch::data::Dataset) {
    let mnist = Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"), 12_000, 0).unwrap();
    let train: Vec<usize> = (0..3000).collect();
    let held_out: Vec<usize> = (0..1000).collect();
    (mnist.train.subset(&train), mnist.test.subset(&held_out))
}

fn config(learning_rate: f32) -> TrainingConfig {
    TrainingConfig {
        epochs: 2,
        batch_size: 64,
        optimizer: SgdConfig { learning_rate, momentum: 0.9, ..SgdConfig::default() },
        seed: 1,
        schedule: Schedule::Constant,
    }
}

#[test]
fn mlp_learns_from_a_small_subset_and_is_deterministic() {
    let (train, held_out) = subset();
    let run = || {
        let mut net = Mlp::new(&mut StdRng::seed_from_u64(3));
        let history = fit(&mut net, &train, &held_out, &config(0.02), |_| {}).unwrap();
        let test = evaluate(&mut net, &held_out, 500).unwrap();
        let without_time: Vec<EpochMetrics> =
            history.into_iter().map(|m| EpochMetrics { seconds: 0.0, ..m }).collect();
        (without_time, test)
    };
    let (history, (test_loss, test_accuracy)) = run();
    println!("{history:?} test loss {test_loss} accuracy {test_accuracy}");
    assert_eq!(history.len(), 2);
    assert!(history[1].train_loss < history[0].train_loss);
    assert!(test_accuracy > 0.85, "held-out accuracy {test_accuracy} (chance is 0.1)");
    assert_eq!(run(), (history, (test_loss, test_accuracy)), "same seed, same metrics");
}

#[test]
fn a_diverging_run_stops_with_a_clear_error() {
    let (train, held_out) = subset();
    let mut net = Exploding::new(&mut StdRng::seed_from_u64(0));
    let error = fit(&mut net, &train, &held_out, &config(1e30), |_| {}).unwrap_err();
    assert!(matches!(error, Error::NonFiniteLoss { epoch: 1, .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with("training diverged") && message.contains("learning rate 1e30"), "{message}");
}

#[test]
fn cosine_schedule_follows_pytorch_cosine_annealing() {
    // CosineAnnealingLR(T_max = 10, eta_min = 0) stepped once per epoch.
    let rate = |epoch| Schedule::Cosine.learning_rate(0.1, epoch, 10);
    assert_eq!(rate(0), 0.1);
    assert!((rate(5) - 0.05).abs() < 1e-7);
    assert!((rate(9) - 0.1 * (1.0 + (0.9 * std::f32::consts::PI).cos()) / 2.0).abs() < 1e-7);
    assert!(rate(9) > 0.0 && rate(9) < rate(8));
    assert_eq!(Schedule::Constant.learning_rate(0.1, 7, 10), 0.1);
}

#[test]
fn batch_size_one_trains_plain_networks_and_is_an_error_with_batchnorm() {
    net! {
        struct Small< Linear(784, 16), ReLU, Linear(16, 10) >
        struct Normed< Linear(784, 16), BatchNorm1d(16), ReLU, Linear(16, 10) >
    }
    let (train, held_out) = subset();
    let (train, held_out) = (train.subset(&(0..50).collect::<Vec<_>>()), held_out.subset(&[0, 1, 2]));
    let config = TrainingConfig { epochs: 1, batch_size: 1, ..config(0.01) };
    let mut batches = 0;
    let mut small = Small::new(&mut StdRng::seed_from_u64(0));
    fit(&mut small, &train, &held_out, &config, |event| {
        if let minitorch::train::Progress::BatchDone { .. } = event {
            batches += 1;
        }
    })
    .unwrap();
    assert_eq!(batches, 50, "every single-image batch is a step");

    let mut normed = Normed::new(&mut StdRng::seed_from_u64(0));
    let error = fit(&mut normed, &train, &held_out, &config, |_| {}).unwrap_err();
    assert_eq!(error, Error::BatchTooSmallForBatchNorm { samples: 1 });
}

#[test]
fn nothing_to_train_on_is_an_error() {
    let (train, held_out) = subset();
    let mut net = Mlp::new(&mut StdRng::seed_from_u64(0));
    let empty = train.subset(&[]);
    let error = fit(&mut net, &empty, &held_out, &config(0.01), |_| {}).unwrap_err();
    assert!(matches!(error, Error::EmptyBatch { .. }), "{error:?}");
    let zero = TrainingConfig { batch_size: 0, ..config(0.01) };
    assert!(fit(&mut net, &train, &held_out, &zero, |_| {}).is_err());
}
