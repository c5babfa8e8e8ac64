//! The optimisers: Adam and AdamW against PyTorch (`tests/fixtures/tiny_adam.json`, made by
//! `tests/fixtures/make_fixtures.py tiny_adam` with PyTorch 2.15 in float64), SGD's formulas by
//! hand in every configuration, learning-rate changes that take effect, settings PyTorch refuses,
//! and state that moves between optimisers.

use minitorch::optim::{Adam, AdamConfig, AdamW, AdamWConfig, OptimizerState};
use minitorch::prelude::*;
use minitorch::rand::SeedableRng;
use minitorch::rand::rngs::StdRng;
use serde_json::Value;
use support::{assert_parameters_close, load_pytorch_parameters, numbers};

mod support;

fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

net! {
    /// PyTorch's `nn.Sequential(Linear(4, 5), ReLU(), Linear(5, 3))`.
    struct Tiny< Linear(4, 5), ReLU, Linear(5, 3) >
}

/// Three steps of `optimizer` on the fixture's batch match PyTorch's run `run`.
fn assert_matches_pytorch(run: &str, optimizer: &mut dyn Optimizer) {
    let fixture: Value = serde_json::from_str(include_str!("fixtures/tiny_adam.json")).unwrap();
    let mut net = Tiny::new(&mut rng(0));
    load_pytorch_parameters(&mut net, &fixture["params"]);
    let input = Batch::<4>::from_iterator(6, numbers(&fixture["input"]).into_iter().map(|x| x as f32));
    let labels: Vec<usize> = numbers(&fixture["labels"]).into_iter().map(|l| l as usize).collect();
    let mut criterion = CrossEntropy::new();
    let steps = fixture["runs"][run]["steps"].as_array().expect("the run's steps");
    assert_eq!(steps.len(), 3);
    for (i, step) in steps.iter().enumerate() {
        let loss = criterion.forward(net.forward(&input).unwrap(), &labels).unwrap();
        let torch_loss = step["loss_before_step"].as_f64().unwrap();
        assert!(
            (f64::from(loss) - torch_loss).abs() <= 1e-5 * torch_loss,
            "{run} step {}: loss {loss}",
            i + 1
        );
        net.zero_grad();
        net.backward(criterion.gradient()).unwrap();
        optimizer.step(&mut net).unwrap();
        assert_parameters_close(
            &mut net,
            &step["params_after"],
            &format!("{run} after step {}", i + 1),
            false,
            0.0,
        );
    }
}

#[test]
fn adam_matches_pytorch() {
    let config = AdamConfig { learning_rate: 0.01, ..AdamConfig::default() };
    assert_matches_pytorch("adam", &mut Adam::new(config).unwrap());
}

#[test]
fn adam_with_l2_weight_decay_matches_pytorch() {
    let config = AdamConfig { learning_rate: 0.01, weight_decay: 0.01, ..AdamConfig::default() };
    assert_matches_pytorch("adam_l2", &mut Adam::new(config).unwrap());
}

#[test]
fn adamw_matches_pytorch() {
    let config = AdamWConfig { learning_rate: 0.01, ..AdamWConfig::default() };
    assert_eq!(config.weight_decay, 0.01, "PyTorch's default");
    assert_matches_pytorch("adamw", &mut AdamW::new(config).unwrap());
}

#[test]
fn defaults_are_pytorchs() {
    assert_eq!(
        AdamConfig::default(),
        AdamConfig { learning_rate: 1e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0 }
    );
    assert_eq!(
        AdamWConfig::default(),
        AdamWConfig { learning_rate: 1e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.01 }
    );
    assert_eq!(
        SgdConfig::default(),
        SgdConfig { learning_rate: 1e-3, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false }
    );
}

/// One scalar parameter θ = 1 with gradient 2 on every step, two steps; returns θ after each.
fn two_steps(optimizer: &mut dyn Optimizer) -> [f32; 2] {
    let mut layer = Linear::<1, 1>::new(&mut rng(0));
    layer.weight[0] = 1.0;
    let mut step = || {
        layer.weight.gradient[0] = 2.0;
        optimizer.step(&mut layer).unwrap();
        layer.weight[0]
    };
    [step(), step()]
}

fn close(ours: [f32; 2], expected: [f32; 2]) -> bool {
    ours.iter().zip(expected).all(|(a, b)| (a - b).abs() < 1e-6)
}

#[test]
fn sgd_without_momentum_steps_down_the_gradient_with_weight_decay() {
    // PyTorch's defaults but η = 0.5, λ = 0.1: θ ← θ − η(g + λθ).
    let config = SgdConfig { learning_rate: 0.5, weight_decay: 0.1, ..SgdConfig::default() };
    let thetas = two_steps(&mut Sgd::new(config).unwrap());
    let first = 1.0 - 0.5 * (2.0 + 0.1);
    let second = first - 0.5 * (2.0 + 0.1 * first);
    assert!(close(thetas, [first, second]), "{thetas:?}");
    let mut sgd = Sgd::new(SgdConfig { learning_rate: 0.5, ..SgdConfig::default() }).unwrap();
    let plain = two_steps(&mut sgd);
    assert!(close(plain, [0.0, -1.0]), "{plain:?}");
    assert_eq!(sgd.state().steps, 2);
    assert_eq!(sgd.config().learning_rate, 0.5);
    let mut with_momentum =
        Sgd::new(SgdConfig { learning_rate: 0.5, momentum: 0.5, ..SgdConfig::default() }).unwrap();
    two_steps(&mut with_momentum);
    assert_eq!(with_momentum.state().steps, 2);
}

#[test]
fn adam_steps_by_hand() {
    // Step 1: m = 0.1·2, v = 0.001·4; m̂ = 2, v̂ = 4: θ = 1 − η·2/(2 + ε).
    // Step 2: m = 0.9·0.2 + 0.2 = 0.38, v = 0.999·0.004 + 0.004; m̂ = 0.38/0.19 = 2, v̂ = 4.
    let thetas =
        two_steps(&mut Adam::new(AdamConfig { learning_rate: 0.1, ..AdamConfig::default() }).unwrap());
    assert!(close(thetas, [0.9, 0.8]), "{thetas:?}");
    // AdamW with λ = 0.5: θ ← θ(1 − ηλ) first, then the same Adam step.
    let config = AdamWConfig { learning_rate: 0.1, weight_decay: 0.5, ..AdamWConfig::default() };
    let thetas = two_steps(&mut AdamW::new(config).unwrap());
    let first = 1.0 * (1.0 - 0.05) - 0.1;
    assert!(close(thetas, [first, first * 0.95 - 0.1]), "{thetas:?}");
    // A large ε shows where it enters: θ ← θ − η·m̂/(√v̂ + ε) = 1 − 0.1·2/(2 + 1).
    let config = AdamConfig { learning_rate: 0.1, eps: 1.0, ..AdamConfig::default() };
    let [first, _] = two_steps(&mut Adam::new(config).unwrap());
    assert!((first - (1.0 - 0.1 * 2.0 / 3.0)).abs() < 1e-6, "{first}");
}

#[test]
fn a_new_learning_rate_takes_effect_on_the_next_step() {
    let mut optimizers: Vec<Box<dyn Optimizer>> = vec![
        Box::new(Sgd::new(SgdConfig { learning_rate: 0.5, ..SgdConfig::default() }).unwrap()),
        Box::new(Sgd::new(SgdConfig { learning_rate: 0.5, momentum: 0.9, ..SgdConfig::default() }).unwrap()),
        Box::new(Adam::new(AdamConfig { learning_rate: 0.5, ..AdamConfig::default() }).unwrap()),
        Box::new(
            AdamW::new(AdamWConfig { learning_rate: 0.5, weight_decay: 0.0, ..AdamWConfig::default() })
                .unwrap(),
        ),
    ];
    for optimizer in &mut optimizers {
        optimizer.set_learning_rate(0.25).unwrap();
        assert_eq!(optimizer.learning_rate(), 0.25);
        // Every first step here moves θ = 1 by η·2 (SGD) or by η (Adam's normalised step).
        let expected = if optimizer.name() == "SGD" { 1.0 - 0.25 * 2.0 } else { 1.0 - 0.25 };
        let [first, _] = two_steps(&mut **optimizer);
        assert!((first - expected).abs() < 1e-6, "{}: θ = {first}", optimizer.name());
        let error = optimizer.set_learning_rate(-1.0).unwrap_err();
        assert!(matches!(error, Error::InvalidHyperparameter { name: "learning_rate", .. }), "{error}");
        assert_eq!(optimizer.learning_rate(), 0.25, "a refused rate changes nothing");
    }
}

#[test]
fn settings_pytorch_refuses_are_errors_naming_the_setting() {
    let adam = |config| Adam::new(config).unwrap_err();
    let name = |error: Error| match error {
        Error::InvalidHyperparameter { name, .. } => name,
        other => panic!("{other:?}"),
    };
    let base = AdamConfig::default();
    assert_eq!(name(adam(AdamConfig { learning_rate: -0.1, ..base })), "learning_rate");
    assert_eq!(name(adam(AdamConfig { learning_rate: f32::INFINITY, ..base })), "learning_rate");
    assert_eq!(name(adam(AdamConfig { betas: (1.0, 0.999), ..base })), "betas.0");
    assert_eq!(name(adam(AdamConfig { betas: (0.9, -0.1), ..base })), "betas.1");
    assert_eq!(name(adam(AdamConfig { betas: (0.9, f32::NAN), ..base })), "betas.1");
    assert_eq!(name(adam(AdamConfig { eps: 0.0, ..base })), "eps");
    assert_eq!(name(adam(AdamConfig { weight_decay: -1e-4, ..base })), "weight_decay");
    let adamw = AdamW::new(AdamWConfig { eps: -1.0, ..AdamWConfig::default() }).unwrap_err();
    assert_eq!(adamw.to_string(), "invalid optimiser setting eps = -1: must be finite and > 0");
    assert!(
        Adam::new(AdamConfig { betas: (0.0, 0.0), learning_rate: 0.0, ..base }).is_ok(),
        "the edges are valid"
    );

    let sgd = |config| name(Sgd::new(config).unwrap_err());
    assert_eq!(sgd(SgdConfig { learning_rate: -1.0, ..SgdConfig::default() }), "learning_rate");
    assert_eq!(sgd(SgdConfig { nesterov: true, ..SgdConfig::default() }), "nesterov");
    assert_eq!(sgd(SgdConfig { momentum: f32::NAN, ..SgdConfig::default() }), "momentum");
    assert_eq!(sgd(SgdConfig { dampening: -1.0, ..SgdConfig::default() }), "dampening");
    assert_eq!(sgd(SgdConfig { weight_decay: -1.0, ..SgdConfig::default() }), "weight_decay");
}

#[test]
fn state_moves_between_optimisers_and_is_checked() {
    let mut first = Adam::new(AdamConfig { learning_rate: 0.1, ..AdamConfig::default() }).unwrap();
    let mut layer = Linear::<2, 3>::new(&mut rng(1));
    layer.weight.gradient.fill(0.5);
    first.step(&mut layer).unwrap();
    let state = first.state();
    assert_eq!(state.steps, 1);
    assert_eq!(first.state_names(), ["exp_avg", "exp_avg_sq"]);
    assert_eq!(state.tensors.len(), 2);
    assert!(state.tensors[0][0].iter().all(|m| (m - 0.05).abs() < 1e-7), "exp_avg of the weight: (1 − β₁)·g");

    // A copy carries on exactly as the original.
    let mut second = Adam::new(AdamConfig { learning_rate: 0.1, ..AdamConfig::default() }).unwrap();
    second.set_state(state.clone()).unwrap();
    let mut twin = layer.clone();
    first.step(&mut layer).unwrap();
    second.step(&mut twin).unwrap();
    assert_eq!(*layer.weight.value, *twin.weight.value);

    // State of the wrong kind, or stepped with another model.
    let error =
        Sgd::new(SgdConfig { momentum: 0.9, ..SgdConfig::default() }).unwrap().set_state(state).unwrap_err();
    assert!(error.to_string().contains("momentum_buffer"), "{error}");
    let broken = OptimizerState { steps: 1, tensors: vec![vec![vec![0.0; 6]], vec![]] };
    assert!(second.set_state(broken).is_err());
    let error = first.step(&mut Linear::<3, 3>::new(&mut rng(0))).unwrap_err();
    assert_eq!(error, Error::OptimizerModelMismatch { index: 0, expected: 6, found: 9 });
    // A model with the first parameter alike but fewer parameters.
    let mut weight_only = WeightOnly { value: vec![0.0; 6], gradient: vec![0.0; 6] };
    let error = first.step(&mut weight_only).unwrap_err();
    assert_eq!(error, Error::OptimizerModelMismatch { index: 1, expected: 3, found: 0 });
}

/// One parameter of 6 values: the weight of a `Linear<2, 3>` without its bias.
struct WeightOnly {
    value: Vec<f32>,
    gradient: Vec<f32>,
}

impl Parameters for WeightOnly {
    fn visit_parameters(&mut self, visit: &mut dyn FnMut(minitorch::Parameter<'_>)) {
        let (value, gradient) = (&mut self.value[..], &mut self.gradient[..]);
        visit(minitorch::Parameter {
            path: Default::default(),
            name: "weight",
            rows: 3,
            columns: 2,
            pytorch_shape: None,
            value,
            gradient,
        });
    }

    fn parameter_count(&self) -> usize {
        6
    }
}

#[test]
fn sgd_follows_pytorch_formulas() {
    // One scalar parameter θ = 1 with gradient 2 on every step; λ = 0.1, μ = 0.9, η = 0.5.
    let run = |nesterov, dampening| {
        let mut layer = Linear::<1, 1>::new(&mut rng(0));
        layer.weight[0] = 1.0;
        let config = SgdConfig { learning_rate: 0.5, momentum: 0.9, dampening, weight_decay: 0.1, nesterov };
        let mut sgd = Sgd::new(config).unwrap();
        let mut thetas = Vec::new();
        for _ in 0..2 {
            layer.weight.gradient[0] = 2.0;
            sgd.step(&mut layer).unwrap();
            thetas.push(layer.weight[0]);
        }
        thetas
    };
    // Step 1: g = 2 + 0.1·1 = 2.1, b = 2.1, θ = 1 − 0.5·2.1 = −0.05.
    // Step 2: g = 2 + 0.1·(−0.05) = 1.995, b = 0.9·2.1 + 1.995 = 3.885, θ = −0.05 − 1.9425.
    let plain = run(false, 0.0);
    assert!((plain[0] + 0.05).abs() < 1e-6 && (plain[1] + 1.9925).abs() < 1e-6, "{plain:?}");
    // Nesterov: step 1 uses g + μ·b = 2.1 + 1.89 = 3.99, θ = 1 − 1.995 = −0.995.
    // Step 2: g = 2 + 0.1·(−0.995) = 1.9005, b = 0.9·2.1 + 1.9005 = 3.7905,
    // θ = −0.995 − 0.5·(1.9005 + 0.9·3.7905) = −3.650975.
    let nesterov = run(true, 0.0);
    assert!((nesterov[0] + 0.995).abs() < 1e-6, "{nesterov:?}");
    assert!((nesterov[1] + 3.650_975).abs() < 1e-5, "{nesterov:?}");
    // Dampening 0.5 changes only the second step: b = 0.9·2.1 + 0.5·g.
    let damped = run(false, 0.5);
    let g2 = 2.0 + 0.1 * -0.05;
    assert!((damped[1] - (-0.05 - 0.5 * (0.9 * 2.1 + 0.5 * g2))).abs() < 1e-6, "{damped:?}");
}

#[test]
fn sgd_refuses_another_model_once_it_has_momentum_buffers() {
    let mut sgd = Sgd::new(SgdConfig { momentum: 0.9, ..SgdConfig::default() }).unwrap();
    sgd.step(&mut Linear::<2, 2>::new(&mut rng(0))).unwrap();
    let error = sgd.step(&mut Linear::<3, 2>::new(&mut rng(0))).unwrap_err();
    assert_eq!(error, Error::OptimizerModelMismatch { index: 0, expected: 4, found: 6 });
}

#[test]
fn optimizer_settings_build_what_they_say_and_print_what_differs() {
    use minitorch::optim::OptimizerSettings;
    let sgd = SgdConfig { learning_rate: 0.05, momentum: 0.9, ..SgdConfig::default() };
    let adam = AdamConfig { learning_rate: 0.002, ..AdamConfig::default() };
    let adamw = AdamWConfig { learning_rate: 0.003, ..AdamWConfig::default() };
    let all = [OptimizerSettings::Sgd(sgd), OptimizerSettings::Adam(adam), OptimizerSettings::AdamW(adamw)];
    let built: Vec<(&str, f32, f32)> = all
        .iter()
        .map(|settings| {
            let optimizer = settings.build().unwrap();
            (optimizer.name(), optimizer.learning_rate(), settings.learning_rate())
        })
        .collect();
    assert_eq!(built, [("SGD", 0.05, 0.05), ("Adam", 0.002, 0.002), ("AdamW", 0.003, 0.003)]);
    assert_eq!(all[0].to_string(), "SGD (lr 0.05, momentum 0.9, weight decay 0)");
    let nesterov = SgdConfig { dampening: 0.0, nesterov: true, ..sgd };
    assert_eq!(
        OptimizerSettings::Sgd(nesterov).to_string(),
        "SGD (lr 0.05, momentum 0.9, weight decay 0, Nesterov)"
    );
    let damped = SgdConfig { dampening: 0.5, ..sgd };
    assert_eq!(
        OptimizerSettings::Sgd(damped).to_string(),
        "SGD (lr 0.05, momentum 0.9, weight decay 0, dampening 0.5)"
    );
    assert_eq!(all[1].to_string(), "Adam (lr 0.002, betas (0.9, 0.999), eps 0.00000001, weight decay 0)");
    let bad = OptimizerSettings::Adam(AdamConfig { learning_rate: -1.0, ..adam });
    assert!(bad.build().is_err());
}
