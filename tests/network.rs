//! What a `net!` network promises at run time: modes, errors, determinism, initialisation,
//! gradient accumulation, and that training learns (optimisers: `tests/optimizers.rs`).

use minitorch::prelude::*;
use minitorch::rand::rngs::StdRng;
use minitorch::rand::{RngExt, SeedableRng};
use support::{backward, forward};

mod support;

net! {
    struct Mlp< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >
    struct Normed< Linear(8, 16), BatchNorm1D(16), ReLU, Dropout(0.5), Linear(16, 3) >
}

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

fn random_batch<const N: usize>(samples: usize, seed: u64) -> Batch<N> {
    let mut rng = rng(seed);
    Batch::from_fn(samples, |_, _| rng.random_range(-1.0..1.0))
}

#[test]
fn parameters_are_named_and_counted_as_in_pytorch() {
    let mut net = Mlp::new(&mut rng(0));
    assert_eq!(net.parameter_count(), 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10);
    let mut seen = Vec::new();
    net.visit_parameters(&mut |p| seen.push((p.full_name(), p.rows, p.columns)));
    let expected = [("0.weight", 512, 784), ("0.bias", 512, 1), ("3.weight", 256, 512)];
    for (i, (name, rows, columns)) in expected.iter().enumerate() {
        assert_eq!(seen[i], (name.to_string(), *rows, *columns));
    }
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[5].0, "5.bias");
}

#[test]
fn initialisation_follows_pytorch() {
    let net = Mlp::new(&mut rng(1));
    let bound = 1.0 / 784f32.sqrt();
    let weights = net.linear0.weight.as_slice();
    assert!(weights.iter().all(|w| w.abs() <= bound));
    let mean = weights.iter().sum::<f32>() / weights.len() as f32;
    let variance = weights.iter().map(|w| (w - mean).powi(2)).sum::<f32>() / weights.len() as f32;
    assert!(mean.abs() < 1e-3, "mean {mean}");
    // U(−b, b) has variance b²/3.
    assert!((variance / (bound * bound / 3.0) - 1.0).abs() < 0.01, "variance {variance}");
    assert!(net.linear0.bias.iter().all(|b| b.abs() <= bound) && net.linear0.bias.iter().any(|&b| b != 0.0));
    assert!(net.linear5.weight.iter().all(|w| w.abs() <= 1.0 / 16.0));

    let normed = Normed::new(&mut rng(1));
    assert!(normed.batchnorm1.weight.iter().all(|&w| w == 1.0));
    assert!(normed.batchnorm1.bias.iter().all(|&b| b == 0.0));
    assert!(normed.batchnorm1.running_mean.iter().all(|&m| m == 0.0));
    assert!(normed.batchnorm1.running_var.iter().all(|&v| v == 1.0));
}

#[test]
fn dropout_is_active_only_in_training() {
    let mut net = Mlp::new(&mut rng(2));
    let input = random_batch::<784>(8, 3);
    let first = net.forward(&input).unwrap().clone();
    let second = net.forward(&input).unwrap().clone();
    assert_ne!(first, second, "training draws a new mask per forward");
    let dropped = net.dropout2_output.iter().filter(|&&y| y == 0.0).count();
    let active = net.relu1_output.iter().filter(|&&y| y > 0.0).count();
    let share = 1.0 - (net.dropout2_output.len() - dropped) as f64 / active as f64;
    assert!((share - 0.2).abs() < 0.03, "dropped share of active units {share}");
    // Inverted dropout: every kept value is scaled by 1/(1 − p), in forward and in backward.
    let kept = net.relu1_output.iter().zip(net.dropout2_output.iter()).filter(|&(_, &y)| y != 0.0);
    for (&x, &y) in kept {
        assert_eq!(y, x * 1.25, "a kept value is scaled by 1/(1 − 0.2)");
    }
    let ones = Batch::<512>::from_element(8, 1.0);
    let grad = backward(&mut net.dropout2, &net.relu1_output, &net.dropout2_output, &ones);
    assert!(grad.iter().all(|&g| g == 0.0 || g == 1.25), "backward scales by the same mask");
    let passed = grad.iter().filter(|&&g| g == 1.25).count() as f64 / grad.len() as f64;
    assert!((passed - 0.8).abs() < 0.02, "share of gradients passed {passed}");

    net.eval();
    let first = net.forward(&input).unwrap().clone();
    assert_eq!(&first, net.forward(&input).unwrap());
    assert_eq!(net.dropout2_output, net.relu1_output);
}

#[test]
fn the_same_seed_gives_bit_identical_training() {
    let run = |seed| {
        let mut net = Normed::new(&mut rng(seed));
        let config = SgdConfig { learning_rate: 0.1, momentum: 0.9, ..SgdConfig::default() };
        let mut sgd = Sgd::new(config).unwrap();
        let mut criterion = CrossEntropy::new();
        let mut losses = Vec::new();
        for step in 0..5 {
            let input = random_batch::<8>(16, step);
            let labels: Vec<usize> = (0..16).map(|i| (i + step as usize) % 3).collect();
            losses.push(criterion.forward(net.forward(&input).unwrap(), &labels).unwrap());
            net.zero_grad();
            net.backward(criterion.gradient()).unwrap();
            sgd.step(&mut net).unwrap();
        }
        (losses, net.linear4.weight.as_slice().to_vec())
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7).0, run(8).0);
}

#[test]
fn gradients_accumulate_until_zero_grad() {
    let mut net = Normed::new(&mut rng(3));
    let input = random_batch::<8>(4, 4);
    net.eval(); // deterministic forward
    let mut criterion = CrossEntropy::new();
    criterion.forward(net.forward(&input).unwrap(), &[0, 1, 2, 0]).unwrap();
    net.zero_grad();
    net.backward(criterion.gradient()).unwrap();
    let once = net.linear0.weight.gradient.clone();
    net.backward(criterion.gradient()).unwrap();
    assert_eq!(*net.linear0.weight.gradient, *once * 2.0);
    net.zero_grad();
    assert!(net.linear0.weight.gradient.iter().all(|&g| g == 0.0));
    assert!(net.batchnorm1.weight.gradient.iter().all(|&g| g == 0.0));
}

#[test]
fn zero_grad_zeroes_a_gradient_large_enough_to_be_split_between_the_cores() {
    // 512 × 784 entries: `zero_grad` zeroes each half of it on its own core.
    let mut layer = Linear::<784, 512>::new(&mut rng(5));
    layer.weight.gradient.fill(1.5);
    layer.bias.gradient.fill(2.5);
    layer.zero_grad();
    assert!(layer.weight.gradient.iter().chain(layer.bias.gradient.iter()).all(|&g| g == 0.0));
}

#[test]
fn bad_batches_are_errors_not_panics() {
    let mut net = Normed::new(&mut rng(4));
    assert_eq!(net.forward(&Batch::<8>::zeros(0)).unwrap_err(), Error::EmptyBatch { what: "forward" });
    let one = random_batch::<8>(1, 5);
    let error = net.forward(&one).unwrap_err();
    assert_eq!(error, Error::BatchTooSmallForBatchNorm { samples: 1 });
    assert!(error.to_string().contains("at least 2 samples"), "{error}");
    net.eval();
    assert!(net.forward(&one).is_ok(), "one sample is fine in evaluation");

    let error = net.backward(&Batch::<3>::zeros(5)).unwrap_err();
    assert!(matches!(error, Error::BatchSizeMismatch { expected: 1, found: 5, .. }), "{error}");
    let mut fresh = Normed::new(&mut rng(4));
    assert!(fresh.backward(&Batch::<3>::zeros(2)).is_err(), "backward before any forward");
    net.train();
    assert!(net.forward(&random_batch::<8>(2, 6)).is_ok(), "two samples are enough in training");
    // An image's channel has a value per position, so one image is enough for BatchNorm2d.
    assert_eq!(BatchNorm2d::<2, 8>::new().check_batch(1, Mode::Train), Ok(()));
    assert!(BatchNorm2d::<2, 2>::new().check_batch(1, Mode::Train).is_err(), "1 value per channel");
}

#[test]
fn bad_labels_are_errors() {
    let mut criterion = CrossEntropy::<3>::new();
    let logits = random_batch::<3>(2, 6);
    let error = criterion.forward(&logits, &[0, 3]).unwrap_err();
    assert_eq!(error, Error::LabelOutOfRange { sample: 1, label: 3, classes: 3 });
    assert_eq!(error.to_string(), "label 3 of sample 1 is out of range: there are 3 classes (0..3)");
    assert!(matches!(criterion.forward(&logits, &[0]), Err(Error::BatchSizeMismatch { .. })));
}

#[test]
fn cross_entropy_is_stable_for_huge_logits() {
    let mut criterion = CrossEntropy::<2>::new();
    let logits = Batch::<2>::from_column_slice(&[1000.0, -1000.0, 0.0, 1e4]);
    let loss = criterion.forward(&logits, &[0, 0]).unwrap();
    assert!((loss - 5000.0).abs() < 1e-3, "{loss}");
    assert!(criterion.gradient().iter().all(|g| g.is_finite()));
}

#[test]
fn training_learns_a_simple_rule() {
    // Class = which of the first three features is largest: learnable, not memorisable by chance.
    let mut net = Normed::new(&mut rng(5));
    let config = SgdConfig { learning_rate: 0.1, momentum: 0.9, ..SgdConfig::default() };
    let mut sgd = Sgd::new(config).unwrap();
    let mut criterion = CrossEntropy::new();
    let label_of = |batch: &Batch<8>| -> Vec<usize> {
        batch.column_iter().map(|c| (0..3).max_by(|&a, &b| c[a].total_cmp(&c[b])).unwrap()).collect()
    };
    for step in 0..300 {
        let input = random_batch::<8>(32, 100 + step);
        let labels = label_of(&input);
        criterion.forward(net.forward(&input).unwrap(), &labels).unwrap();
        net.zero_grad();
        net.backward(criterion.gradient()).unwrap();
        sgd.step(&mut net).unwrap();
    }
    net.eval();
    let test = random_batch::<8>(1000, 9);
    let labels = label_of(&test);
    let correct =
        predicted_classes(net.forward(&test).unwrap()).zip(&labels).filter(|(p, l)| p == *l).count();
    assert!(correct > 900, "{correct}/1000 correct");
}

#[test]
fn debug_output_shows_the_architecture_not_the_numbers() {
    let mut net = Normed::new(&mut rng(0));
    net.eval();
    assert_eq!(
        format!("{net:?}"),
        "Normed { linear0: Linear<8, 16>, batchnorm1: BatchNorm1d<16> { num_batches_tracked: 0 }, relu2: ReLU<16>, \
         dropout3: Dropout<16>(0.5), linear4: Linear<16, 3>, mode: Eval }"
    );
}

#[test]
fn predictions_take_the_first_of_equal_logits_as_pytorchs_argmax_does() {
    let logits = Batch::<3>::from_column_slice(&[0.5, 0.5, 0.1, -1.0, 2.0, 2.0, 0.0, 0.0, 0.0]);
    assert_eq!(predicted_classes(&logits).collect::<Vec<_>>(), vec![0, 1, 0]);
    assert_eq!(format!("{:?}", CrossEntropy::<10>::new()), "CrossEntropy<10>");
}

#[test]
fn dropout_drops_every_entry_at_its_rate_even_the_last_of_an_odd_batch() {
    // One entry per forward: always the odd one out of the masks' pairs of 32-bit draws.
    let mut dropout = Dropout::<1>::new(0.3, &mut rng(12));
    assert_eq!(dropout.probability(), 0.3);
    let one = Batch::<1>::from_element(1, 1.0);
    let dropped = (0..10_000).filter(|_| forward(&mut dropout, &one, Mode::Train)[0] == 0.0).count();
    assert!((2_800..3_200).contains(&dropped), "{dropped} of 10,000 dropped at p = 0.3");
}
