//! The workshop's loop on a small real subset of MNIST: it learns with any optimiser, one seed
//! gives one result, a stopped run resumes to the same parameters bit for bit, and evaluation
//! runs in evaluation mode.

use std::path::Path;

use minitorch::checkpoint;
use minitorch::data::{Dataset, Mnist, RandomShift};
use minitorch::optim::{Adam, AdamConfig, AdamW, AdamWConfig};
use minitorch::prelude::*;
use minitorch::rand::{SeedableRng, rngs::StdRng};
use minitorch::train::{EpochMetrics, Progress, Schedule, TrainingConfig, evaluate, fit, predict};

net! {
    struct Mlp< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >
    struct Exploding< Linear(784, 64), ReLU, Linear(64, 10) >
    struct Small< Linear(784, 32), ReLU, Dropout(0.3), Linear(32, 10) >
    struct Wider< Linear(784, 48), ReLU, Dropout(0.3), Linear(48, 10) >
}

fn subset() -> (Dataset, Dataset) {
    let mnist = Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"), 12_000, 0).unwrap();
    let train: Vec<usize> = (0..3000).collect();
    let held_out: Vec<usize> = (0..1000).collect();
    (mnist.train.subset(&train), mnist.test.subset(&held_out))
}

fn config(epochs: usize) -> TrainingConfig {
    TrainingConfig { epochs, batch_size: 64, seed: 1, ..TrainingConfig::default() }
}

fn sgd(learning_rate: f32) -> Sgd {
    Sgd::new(SgdConfig { learning_rate, momentum: 0.9, ..SgdConfig::default() }).unwrap()
}

fn without_time(history: Vec<EpochMetrics>) -> Vec<EpochMetrics> {
    history.into_iter().map(|m| EpochMetrics { seconds: 0.0, ..m }).collect()
}

#[test]
fn mlp_learns_from_a_small_subset_and_is_deterministic() {
    let (train, held_out) = subset();
    let run = || {
        let mut net = Mlp::new(&mut StdRng::seed_from_u64(3));
        let history = fit(&mut net, &mut sgd(0.02), &train, &held_out, &config(2), |_| {}).unwrap();
        (without_time(history), evaluate(&mut net, &held_out, 500).unwrap())
    };
    let (history, (test_loss, test_accuracy)) = run();
    println!("{history:?} test loss {test_loss} accuracy {test_accuracy}");
    assert_eq!(history.len(), 2);
    assert!(history[1].train_loss < history[0].train_loss);
    assert!(history[1].train_accuracy > 0.8 && history[1].train_accuracy <= 1.0, "{:?}", history[1]);
    assert!(test_accuracy > 0.85, "held-out accuracy {test_accuracy} (chance is 0.1)");
    assert_eq!(run(), (history, (test_loss, test_accuracy)), "same seed, same metrics");
}

#[test]
fn adam_and_adamw_train_through_the_same_loop() {
    let (train, held_out) = subset();
    let mut optimizers: Vec<Box<dyn Optimizer + Send>> = vec![
        Box::new(Adam::new(AdamConfig::default()).unwrap()),
        Box::new(AdamW::new(AdamWConfig::default()).unwrap()),
    ];
    for optimizer in &mut optimizers {
        let mut net = Small::new(&mut StdRng::seed_from_u64(4));
        fit(&mut net, &mut **optimizer, &train, &held_out, &config(2), |_| {}).unwrap();
        let (_, accuracy) = evaluate(&mut net, &held_out, 500).unwrap();
        assert!(accuracy > 0.8, "{}: held-out accuracy {accuracy}", optimizer.name());
    }
}

#[test]
fn the_schedule_sets_the_optimizers_learning_rate_each_epoch() {
    let (train, held_out) = subset();
    let train = train.subset(&(0..200).collect::<Vec<_>>());
    let mut net = Small::new(&mut StdRng::seed_from_u64(5));
    let mut adam = Adam::new(AdamConfig { learning_rate: 0.01, ..AdamConfig::default() }).unwrap();
    let config = TrainingConfig { schedule: Schedule::Cosine, ..config(4) };
    fit(&mut net, &mut adam, &train, &held_out, &config, |_| {}).unwrap();
    assert_eq!(adam.learning_rate(), Schedule::Cosine.learning_rate(0.01, 3, 4));
    assert!(adam.learning_rate() < 0.002, "{}", adam.learning_rate());
    // Stopped after the second epoch, the rate is that of epoch 2 of 4 (index 1).
    let mut adam = Adam::new(AdamConfig { learning_rate: 0.01, ..AdamConfig::default() }).unwrap();
    let stopping = TrainingConfig { stop_after_epoch: Some(2), ..config };
    fit(&mut net, &mut adam, &train, &held_out, &stopping, |_| {}).unwrap();
    assert_eq!(adam.learning_rate(), Schedule::Cosine.learning_rate(0.01, 1, 4));
}

/// 4 epochs in one go, and 2 epochs, a stop, a fresh process's worth of objects, and 2 more.
#[test]
fn a_resumed_run_ends_bit_for_bit_where_an_uninterrupted_one_does() {
    let (train, held_out) = subset();
    let folder = tempfile::tempdir().unwrap();
    let state = folder.path().join("training_state.safetensors");
    let adam = || Adam::new(AdamConfig { learning_rate: 0.003, ..AdamConfig::default() }).unwrap();
    // With random shifts too: they are drawn per epoch, so the resumed run draws the same.
    let shift = Some(RandomShift { max: 2, width: 28 });
    let base = TrainingConfig { schedule: Schedule::Cosine, shift, ..config(4) };

    let (mut straight, mut straight_optimizer) = (Small::new(&mut StdRng::seed_from_u64(6)), adam());
    let straight_history =
        fit(&mut straight, &mut straight_optimizer, &train, &held_out, &base, |_| {}).unwrap();

    let mut first = Small::new(&mut StdRng::seed_from_u64(6));
    let stopping =
        TrainingConfig { stop_after_epoch: Some(2), state_file: Some(state.clone()), ..base.clone() };
    assert_eq!(fit(&mut first, &mut adam(), &train, &held_out, &stopping, |_| {}).unwrap().len(), 2);

    let mut resumed = Small::new(&mut StdRng::seed_from_u64(99)); // other initial values, overwritten
    let mut optimizer = adam();
    let completed_epochs = checkpoint::load_training_state(&state, &mut resumed, &mut optimizer).unwrap();
    assert_eq!(completed_epochs, 2);
    let resuming = TrainingConfig { completed_epochs, ..base };
    let resumed_history = fit(&mut resumed, &mut optimizer, &train, &held_out, &resuming, |_| {}).unwrap();

    assert_eq!(checkpoint::to_bytes(&mut resumed).unwrap(), checkpoint::to_bytes(&mut straight).unwrap());
    assert_eq!(without_time(resumed_history), without_time(straight_history[2..].to_vec()));
    assert_eq!(optimizer.state(), straight_optimizer.state());
}

#[test]
fn random_shifts_change_what_the_network_sees_and_are_checked_against_the_image() {
    let (train, held_out) = subset();
    let run = |shift| {
        let mut net = Small::new(&mut StdRng::seed_from_u64(8));
        let config = TrainingConfig { shift, ..config(1) };
        fit(&mut net, &mut sgd(0.05), &train, &held_out, &config, |_| {}).map(without_time)
    };
    let plain = run(None).unwrap();
    let shifted = run(Some(RandomShift { max: 2, width: 28 })).unwrap();
    assert_ne!(plain, shifted);
    assert!(shifted[0].validation_accuracy > 0.7, "{shifted:?}");
    // A run draws the same shifts each time.
    assert_eq!(run(Some(RandomShift { max: 2, width: 28 })).unwrap(), shifted);

    let error = run(Some(RandomShift { max: 2, width: 27 })).unwrap_err().to_string();
    assert!(error.contains("shift") && error.contains("784 pixels per image are not rows of 27"), "{error}");
    let error = run(Some(RandomShift { max: 14, width: 28 })).unwrap_err().to_string();
    assert!(error.contains("up to 14 pixels each way leaves nothing of a 28 × 28 image"), "{error}");
}

#[test]
fn a_state_file_that_does_not_fit_is_one_clear_error_and_changes_nothing() {
    let (train, held_out) = subset();
    let train = train.subset(&(0..128).collect::<Vec<_>>());
    let folder = tempfile::tempdir().unwrap();
    let state = folder.path().join("training_state.safetensors");
    let mut net = Small::new(&mut StdRng::seed_from_u64(7));
    let saving = TrainingConfig { state_file: Some(state.clone()), ..config(1) };
    fit(&mut net, &mut sgd(0.01), &train, &held_out, &saving, |_| {}).unwrap();
    let saved = std::fs::read(&state).unwrap();

    // Another architecture: each tensor named with both shapes, and the model left unchanged.
    let mut wider = Wider::new(&mut StdRng::seed_from_u64(8));
    let before = checkpoint::to_bytes(&mut wider).unwrap();
    let error = checkpoint::load_training_state(&state, &mut wider, &mut sgd(0.01)).unwrap_err().to_string();
    assert!(
        error.contains(
            "tensor `optimizer.0.weight.momentum_buffer`: expected F32 [48, 784], found F32 [32, 784]"
        ),
        "{error}"
    );
    assert!(
        error.contains("tensor `model.0.weight`: expected F32 [48, 784], found F32 [32, 784]"),
        "{error}"
    );
    assert_eq!(checkpoint::to_bytes(&mut wider).unwrap(), before);

    // Another optimiser.
    let mut adam = Adam::new(AdamConfig::default()).unwrap();
    let error = checkpoint::load_training_state(&state, &mut net, &mut adam).unwrap_err().to_string();
    assert!(error.contains(r#"saved with the optimiser "SGD", but resuming with "Adam""#), "{error}");
    assert_eq!(adam.state(), Adam::new(AdamConfig::default()).unwrap().state());

    // A missing file.
    let missing = folder.path().join("missing.safetensors");
    let error = checkpoint::load_training_state(&missing, &mut net, &mut sgd(0.01)).unwrap_err().to_string();
    assert!(error.contains("missing.safetensors: cannot read"), "{error}");
    assert_eq!(std::fs::read(&state).unwrap(), saved, "nothing was written");
}

#[test]
fn evaluation_runs_in_evaluation_mode() {
    let (_, held_out) = subset();
    let mut net = Mlp::new(&mut StdRng::seed_from_u64(9));
    net.train();
    let first = evaluate(&mut net, &held_out, 100).unwrap();
    assert_eq!(net.mode(), Mode::Eval);
    // In training mode dropout would draw new masks, and another batch size other batches.
    net.train();
    assert_eq!(evaluate(&mut net, &held_out, 250).unwrap().1, first.1);
    let (mut images, mut labels) = (Batch::<784>::zeros(0), Vec::new());
    held_out.fill_batch(&(0..1000).collect::<Vec<_>>(), &mut images, &mut labels).unwrap();
    let correct =
        predicted_classes(net.forward(&images).unwrap()).zip(&labels).filter(|(p, l)| p == *l).count();
    assert_eq!(correct as f32 / 1000.0, first.1);
}

#[test]
fn predictions_are_the_classes_evaluation_counts_in_order_in_any_batch_size() {
    let (_, held_out) = subset();
    let mut net = Mlp::new(&mut StdRng::seed_from_u64(9));
    net.train();
    let classes = predict(&mut net, &held_out, 300).unwrap();
    assert_eq!(net.mode(), Mode::Eval);
    assert_eq!(classes.len(), 1000);
    assert_eq!(predict(&mut net, &held_out, 7).unwrap(), classes);
    let correct = classes.iter().zip(held_out.labels()).filter(|&(&c, &l)| c == usize::from(l)).count();
    assert_eq!(correct as f32 / 1000.0, evaluate(&mut net, &held_out, 100).unwrap().1);
    assert!(predict(&mut net, &held_out, 0).is_err());
}

#[test]
fn progress_reports_every_batch_and_the_epochs_means() {
    let (train, held_out) = subset();
    let train = train.subset(&(0..640).collect::<Vec<_>>());
    let mut net = Small::new(&mut StdRng::seed_from_u64(10));
    let (mut started, mut batches, mut last_running, mut first_running) = (Vec::new(), Vec::new(), 0.0, 0.0);
    let began = std::time::Instant::now();
    let history = fit(&mut net, &mut sgd(0.02), &train, &held_out, &config(1), |event| match event {
        Progress::EpochStarted { epoch, batches } => started.push((epoch, batches)),
        Progress::BatchDone { batch, running_loss, images_per_second } => {
            assert!(running_loss > 0.0 && running_loss < 5.0, "running loss {running_loss}");
            // The loop started after `began`, so it has run no longer than this test has.
            let at_least = (batch * 64) as f64 / began.elapsed().as_secs_f64();
            assert!(images_per_second.is_finite() && images_per_second >= at_least, "{images_per_second}");
            batches.push(batch);
            last_running = running_loss;
            if batch == 1 {
                first_running = running_loss;
            }
        }
        Progress::EpochDone(metrics) => assert_eq!(metrics.train_loss, last_running),
    })
    .unwrap();
    assert_eq!(started, vec![(1, 10)]);
    assert_eq!(batches, (1..=10).collect::<Vec<_>>());
    // After one batch the running loss is that batch's loss: near ln 10 ≈ 2.30 for an untrained
    // classifier of 10 classes.
    assert!((first_running - 10f32.ln()).abs() < 0.7, "first running loss {first_running}");
    let metrics = history[0];
    assert!(metrics.train_loss > 0.0 && metrics.train_loss < 2.5, "{metrics:?}");
    assert!(metrics.train_accuracy > 0.3 && metrics.train_accuracy <= 1.0, "{metrics:?}");
    assert!(metrics.validation_accuracy > 0.3 && metrics.validation_accuracy <= 1.0, "{metrics:?}");
    assert!(metrics.seconds > 0.0);
    let row = metrics.csv_row();
    assert!(row.starts_with("1,") && row.split(',').count() == 6, "{row}");
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("metrics.csv");
    minitorch::train::write_metrics_csv(&path, &history).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{}\n{row}\n", EpochMetrics::CSV_HEADER));
}

#[test]
fn a_final_batch_of_one_image_is_left_out_and_no_other() {
    let (train, held_out) = subset();
    let count_batches = |images: usize| {
        let train = train.subset(&(0..images).collect::<Vec<_>>());
        let mut batches = 0;
        let mut net = Small::new(&mut StdRng::seed_from_u64(11));
        fit(&mut net, &mut sgd(0.01), &train, &held_out, &config(1), |event| {
            if let Progress::EpochStarted { batches: count, .. } = event {
                batches = count;
            }
        })
        .unwrap();
        batches
    };
    assert_eq!(count_batches(65), 1, "64 + a single image: the single one is left out");
    assert_eq!(count_batches(66), 2, "64 + 2");
    assert_eq!(count_batches(64), 1);
}

#[test]
fn a_diverging_run_stops_with_a_clear_error() {
    let (train, held_out) = subset();
    let mut net = Exploding::new(&mut StdRng::seed_from_u64(0));
    let error = fit(&mut net, &mut sgd(1e30), &train, &held_out, &config(2), |_| {}).unwrap_err();
    assert!(matches!(error, Error::NonFiniteLoss { epoch: 1, batch: 2, .. }), "{error:?}");
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
        struct Tiny< Linear(784, 16), ReLU, Linear(16, 10) >
        struct Normed< Linear(784, 16), BatchNorm1d(16), ReLU, Linear(16, 10) >
    }
    let (train, held_out) = subset();
    let (train, held_out) = (train.subset(&(0..50).collect::<Vec<_>>()), held_out.subset(&[0, 1, 2]));
    let config = TrainingConfig { batch_size: 1, ..config(1) };
    let mut batches = 0;
    let mut tiny = Tiny::new(&mut StdRng::seed_from_u64(0));
    fit(&mut tiny, &mut sgd(0.01), &train, &held_out, &config, |event| {
        if let Progress::BatchDone { .. } = event {
            batches += 1;
        }
    })
    .unwrap();
    assert_eq!(batches, 50, "every single-image batch is a step");

    let mut normed = Normed::new(&mut StdRng::seed_from_u64(0));
    let error = fit(&mut normed, &mut sgd(0.01), &train, &held_out, &config, |_| {}).unwrap_err();
    assert_eq!(error, Error::BatchTooSmallForBatchNorm { samples: 1 });
}

#[test]
fn nothing_to_train_on_is_an_error() {
    let (train, held_out) = subset();
    let mut net = Mlp::new(&mut StdRng::seed_from_u64(0));
    let empty = train.subset(&[]);
    let error = fit(&mut net, &mut sgd(0.01), &empty, &held_out, &config(1), |_| {}).unwrap_err();
    assert!(matches!(error, Error::EmptyBatch { .. }), "{error:?}");
    let zero = TrainingConfig { batch_size: 0, ..config(1) };
    assert!(fit(&mut net, &mut sgd(0.01), &train, &held_out, &zero, |_| {}).is_err());
}

#[test]
fn evaluation_is_the_mean_over_the_whole_set_whatever_the_batch_size() {
    let (_, held_out) = subset();
    let mut net = Small::new(&mut StdRng::seed_from_u64(13));
    let (loss, accuracy) = evaluate(&mut net, &held_out, 1000).unwrap();
    // By hand: one batch of all 1,000 images.
    let (mut images, mut labels) = (Batch::<784>::zeros(0), Vec::new());
    held_out.fill_batch(&(0..1000).collect::<Vec<_>>(), &mut images, &mut labels).unwrap();
    let mut criterion = CrossEntropy::new();
    let logits = net.forward(&images).unwrap();
    let correct = predicted_classes(logits).zip(&labels).filter(|(p, l)| p == *l).count();
    assert_eq!(accuracy, correct as f32 / 1000.0);
    assert!((loss - criterion.forward(logits, &labels).unwrap()).abs() < 1e-5, "{loss}");
    // Batches of 300 leave a last one of 100; the mean weighs each image once.
    let (loss_in_batches, accuracy_in_batches) = evaluate(&mut net, &held_out, 300).unwrap();
    assert!((loss_in_batches - loss).abs() < 1e-5 && accuracy_in_batches == accuracy);
    assert!(matches!(evaluate(&mut net, &held_out, 0), Err(Error::EmptyBatch { .. })));
    assert!(matches!(evaluate(&mut net, &held_out.subset(&[]), 10), Err(Error::EmptyBatch { .. })));
}
