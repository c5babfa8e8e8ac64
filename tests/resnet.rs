//! Networks that branch: parity with PyTorch on `tests/fixtures/tiny_resnet.json` (made by
//! `tests/fixtures/make_fixtures.py tiny_resnet` with PyTorch 2.15 in float64: identity and
//! projection shortcuts, a `Concat`, `AvgPool2d`, `AdaptiveAvgPool2d(1)` and a flat `Residual`;
//! every top-level output, the loss, every gradient, the input gradient, two SGD-momentum steps,
//! the running statistics and the eval-mode logits, within 1e-5 relative), gradients that add up
//! where a value feeds two paths, PyTorch's state-dict names for blocks, a network used as a
//! layer of another, the summary's tree, and gradient checks of whole branching networks.

use minitorch::gradcheck::{GradientCheck, check_layer, check_network};
use minitorch::layers::{Branch, Identity};
use minitorch::prelude::*;
use minitorch::rand::rngs::StdRng;
use minitorch::rand::{RngExt, SeedableRng};
use minitorch::{BufferValue, Concat, Residual, checkpoint};
use serde_json::Value;
use support::{assert_close, assert_parameters_close, backward, forward, load_pytorch_parameters, numbers};

mod support;

net! {
    /// The fixture's network, entry for entry.
    struct TinyResNet< Input(2, 8, 8), Conv2d(2, 4, 3, padding = 1), BatchNorm2d(4), ReLU,
        Residual(Conv2d(4, 4, 3, padding = 1), BatchNorm2d(4), ReLU, Conv2d(4, 4, 3, padding = 1)),
        ReLU,
        Residual(Conv2d(4, 6, 3, stride = 2, padding = 1), ReLU, Conv2d(6, 6, 3, padding = 1);
                 shortcut: Conv2d(4, 6, 1, stride = 2), BatchNorm2d(6)),
        Concat(Conv2d(6, 2, 1); Conv2d(6, 3, 3, padding = 1), ReLU),
        AvgPool2d(2), AdaptiveAvgPool2d(1), Flatten,
        Residual(Linear(5, 5), Tanh),
        Linear(5, 3) >
}

fn fixture() -> Value {
    serde_json::from_str(include_str!("fixtures/tiny_resnet.json")).expect("fixture is JSON")
}

fn input_and_labels(fixture: &Value) -> (Batch<128>, Vec<usize>) {
    let input = Batch::<128>::from_iterator(5, numbers(&fixture["input"]).into_iter().map(|x| x as f32));
    let labels = numbers(&fixture["labels"]).into_iter().map(|l| l as usize).collect();
    (input, labels)
}

/// Every running statistic named in `expected` (`3.body.1.running_mean`, …) against ours.
fn assert_running_statistics_close(net: &mut TinyResNet, expected: &Value, what: &str) {
    let mut compared = 0;
    net.visit_buffers(&mut |buffer| {
        let name = buffer.full_name();
        if let (BufferValue::Vector(values), Some(torch)) = (buffer.value, expected.get(&name)) {
            assert_close(&format!("{what} {name}"), values, &numbers(torch), 0.0);
            compared += 1;
        }
    });
    assert_eq!(compared, 6, "three batch norms, mean and variance each");
}

/// Gradients are compared relative to the largest gradient of the step: convolution biases
/// before batch normalisation have gradient 0 in exact arithmetic, where only rounding is left.
fn assert_step_close(net: &mut TinyResNet, expected: &Value, what: &str, gradients: bool) {
    let floor = if gradients { numbers(expected).iter().fold(0.0f64, |m, x| m.max(x.abs())) } else { 0.0 };
    assert_parameters_close(net, expected, what, gradients, floor);
}

#[test]
fn a_network_with_blocks_matches_pytorch_step_by_step() {
    let fixture = fixture();
    let mut net = TinyResNet::new(&mut StdRng::seed_from_u64(0));
    load_pytorch_parameters(&mut net, &fixture["params"]);
    let (input, labels) = input_and_labels(&fixture);
    let step1 = &fixture["step1"];

    let mut criterion = CrossEntropy::new();
    let loss = criterion.forward(net.forward(&input).unwrap(), &labels).unwrap();
    let outputs: [(&str, &[f32]); 12] = [
        ("layer0_out", net.conv2d0_output.as_slice()),
        ("layer1_out", net.batchnorm2d1_output.as_slice()),
        ("layer2_out", net.relu2_output.as_slice()),
        ("layer3_out", net.residual3_output.as_slice()),
        ("layer4_out", net.relu4_output.as_slice()),
        ("layer5_out", net.residual5_output.as_slice()),
        ("layer6_out", net.concat6_output.as_slice()),
        ("layer7_out", net.avgpool2d7_output.as_slice()),
        ("layer8_out", net.adaptive_avgpool2d8_output.as_slice()),
        // Flatten is no layer here: PyTorch's output of it is the pooling's, as stored.
        ("layer9_out", net.adaptive_avgpool2d8_output.as_slice()),
        ("layer10_out", net.residual10_output.as_slice()),
        ("layer11_out", net.linear11_output.as_slice()),
    ];
    for (name, ours) in outputs {
        assert_close(name, ours, &numbers(&step1[name]), 0.0);
    }
    assert_close("loss", &[loss], &[step1["loss"].as_f64().unwrap()], 0.0);
    assert_running_statistics_close(&mut net, &step1["running_stats_after"], "after the first forward");

    // The network computes no input gradient for its first layer; as a layer it does.
    let mut copy = net.clone();
    let output = copy.linear11_output.clone();
    let grad_input = backward(&mut copy, &input, &output, criterion.gradient());
    assert_close("grad_input", grad_input.as_slice(), &numbers(&step1["grad_input"]), 0.0);

    net.zero_grad();
    net.backward(criterion.gradient()).unwrap();
    assert_step_close(&mut net, &step1["grad"], "gradient of", true);

    let config = SgdConfig { learning_rate: 0.1, momentum: 0.9, weight_decay: 1e-4, ..SgdConfig::default() };
    let mut sgd = Sgd::new(config).unwrap();
    sgd.step(&mut net).unwrap();
    assert_step_close(&mut net, &fixture["params_after_step1"], "after step 1", false);
    let loss = criterion.forward(net.forward(&input).unwrap(), &labels).unwrap();
    assert_close("loss of step 2", &[loss], &[fixture["loss_step2"].as_f64().unwrap()], 0.0);
    net.zero_grad();
    net.backward(criterion.gradient()).unwrap();
    sgd.step(&mut net).unwrap();
    assert_step_close(&mut net, &fixture["params_after_step2"], "after step 2", false);
    assert_running_statistics_close(&mut net, &fixture["running_stats_after_step2"], "after step 2");

    net.eval();
    let logits = net.forward(&input).unwrap();
    assert_close("eval logits", logits.as_slice(), &numbers(&fixture["eval_logits_after_step2"]), 0.0);
}

/// The values PyTorch gives for `arange(25).view(1, 1, 5, 5)`: adaptive pooling to 3 × 3 uses
/// the bins `[⌊i·5/3⌋, ⌈(i+1)·5/3⌉)` = [0, 2), [1, 4), [3, 5); average pooling with kernel 3
/// every 2 uses the windows at rows and columns 0 and 2.
#[test]
fn average_pooling_takes_pytorchs_windows_and_bins() {
    let image = Batch::<25>::from_iterator(1, (0..25).map(|x| x as f32));
    let mut adaptive = minitorch::AdaptiveAvgPool2d::<1, 5, 5, 3, 25, 9>::new();
    let expected = [3.0, 4.5, 6.0, 10.5, 12.0, 13.5, 18.0, 19.5, 21.0];
    assert_eq!(forward(&mut adaptive, &image, Mode::Train).as_slice(), &expected);
    let mut pool = minitorch::AvgPool2d::<1, 3, 2, 5, 5, 25, 4>::new();
    let pooled = forward(&mut pool, &image, Mode::Train);
    assert_eq!(pooled.as_slice(), &[6.0, 8.0, 16.0, 18.0]);
    // Backward spreads each gradient evenly over its window; the centre is in all four.
    let back = backward(&mut pool, &image, &pooled, &Batch::<4>::from_element(1, 9.0));
    assert_eq!((back[0], back[2], back[12], back[4], back[24]), (1.0, 2.0, 4.0, 1.0, 1.0));
    // No parameters, and their geometry in `Debug`.
    assert_eq!((pool.parameter_count(), adaptive.parameter_count()), (0, 0));
    assert_eq!(format!("{pool:?}"), "AvgPool2d(3, stride = 2) on 1×5×5");
    assert_eq!(format!("{adaptive:?}"), "AdaptiveAvgPool2d(3) on 1×5×5");
}

#[test]
fn tensors_have_pytorch_names_under_their_blocks() {
    let fixture = fixture();
    let mut net = TinyResNet::new(&mut StdRng::seed_from_u64(0));
    let mut ours = Vec::new();
    let mut paths = Vec::new();
    net.visit_parameters(&mut |p| {
        ours.push(p.full_name());
        paths.push(format!("{:?}", p.path));
    });
    assert_eq!(paths[4], "ModulePath(3.body.0)", "{paths:?}");
    net.visit_buffers(&mut |b| {
        if !b.name.ends_with("num_batches_tracked") {
            ours.push(b.full_name());
        }
    });
    ours.sort();
    let mut torch: Vec<String> = fixture["params"].as_object().unwrap().keys().cloned().collect();
    torch.sort();
    assert_eq!(ours, torch);

    // A checkpoint round trip keeps every nested tensor.
    let bytes = checkpoint::to_bytes(&mut net).unwrap();
    let mut copy = TinyResNet::new(&mut StdRng::seed_from_u64(1));
    checkpoint::load_bytes(&mut copy, &bytes).unwrap();
    assert_eq!(copy.residual5.shortcut.conv2d0.weight.value, net.residual5.shortcut.conv2d0.weight.value);
    assert_eq!(
        copy.concat6.branches.1.layer.conv2d0.weight.value,
        net.concat6.branches.1.layer.conv2d0.weight.value
    );
}

/// Where a value feeds two paths its gradient is the sum of theirs. Each block's input gradient
/// is compared with the paths' input gradients computed apart: a block that overwrote one path's
/// gradient with the other's fails.
#[test]
fn gradients_that_meet_at_a_fork_add_up() {
    let mut rng = StdRng::seed_from_u64(3);
    let input = Batch::<4>::from_fn(3, |_, _| rng.random_range(-1.0..1.0));
    let grad_output = Batch::<4>::from_fn(3, |_, _| rng.random_range(-1.0..1.0));

    let mut residual = Residual::<4, 4, _, _>::new(Linear::<4, 4>::new(&mut rng), Identity);
    let mut body = residual.body.clone();
    let output = forward(&mut residual, &input, Mode::Train);
    let body_output = forward(&mut body, &input, Mode::Train);
    let expected = backward(&mut body, &input, &body_output, &grad_output) + &grad_output;
    assert_eq!(backward(&mut residual, &input, &output, &grad_output), expected);

    let mut projected =
        Residual::<4, 2, _, _>::new(Linear::<4, 2>::new(&mut rng), Linear::<4, 2>::new(&mut rng));
    let (mut body, mut shortcut) = (projected.body.clone(), projected.shortcut.clone());
    let grad_output2 = Batch::<2>::from_fn(3, |_, _| rng.random_range(-1.0..1.0));
    let output = forward(&mut projected, &input, Mode::Train);
    let (body_output, shortcut_output) =
        (forward(&mut body, &input, Mode::Train), forward(&mut shortcut, &input, Mode::Train));
    let expected = backward(&mut body, &input, &body_output, &grad_output2)
        + backward(&mut shortcut, &input, &shortcut_output, &grad_output2);
    assert_eq!(backward(&mut projected, &input, &output, &grad_output2), expected);

    let branches = (Branch::new(Linear::<4, 3>::new(&mut rng)), Branch::new(Tanh::<4>::new()));
    let mut concat = Concat::<4, 7, _>::new(branches);
    let (mut first, mut second) = (concat.branches.0.layer.clone(), concat.branches.1.layer.clone());
    let grad_joined = Batch::<7>::from_fn(3, |_, _| rng.random_range(-1.0..1.0));
    let joined = forward(&mut concat, &input, Mode::Train);
    let (first_output, second_output) =
        (forward(&mut first, &input, Mode::Train), forward(&mut second, &input, Mode::Train));
    let grad_first = Batch::<3>::from_fn(3, |i, j| grad_joined[(i, j)]);
    let grad_second = Batch::<4>::from_fn(3, |i, j| grad_joined[(i + 3, j)]);
    let expected = backward(&mut first, &input, &first_output, &grad_first)
        + backward(&mut second, &input, &second_output, &grad_second);
    assert_eq!(backward(&mut concat, &input, &joined, &grad_joined), expected);
}

net! {
    /// A block declared once, used twice below.
    pub struct Block< Input(3, 5, 5),
        Residual(Conv2d(3, 3, 3, padding = 1), BatchNorm2d(3), Tanh, Conv2d(3, 3, 3, padding = 1)) >

    /// Two `Block`s in a network.
    struct Stacked< Input(1, 5, 5), Conv2d(1, 3, 3, padding = 1), Tanh,
        Block: (3, 5, 5) -> (3, 5, 5), Sigmoid, Block: (3, 5, 5) -> (3, 5, 5),
        Flatten, Linear(75, 3) >

    /// Blocks inside blocks, on images and on flat features.
    struct Nested< Input(2, 6, 6),
        Concat(Residual(Conv2d(2, 2, 3, padding = 1), Tanh); Conv2d(2, 3, 3, stride = 2, padding = 1), AvgPool2d(1, stride = 1), Sigmoid, Conv2d(3, 1, 1), MaxPool2d(1), Residual(Tanh, Concat(Sigmoid; Tanh); shortcut: Concat(Tanh; ReLU)), LeakyReLU, Residual(Tanh, Conv2d(2, 2, 1)), AdaptiveAvgPool2d(6)),
        Flatten, Linear(144, 8),
        Residual(Concat(Linear(8, 4); Tanh, Linear(8, 4)), Residual(GELU, Linear(8, 8))),
        Linear(8, 3) >
}

#[test]
fn a_network_is_a_layer_of_another_with_its_tensors_under_its_index() {
    let mut net = Stacked::new(&mut StdRng::seed_from_u64(4));
    let mut names = Vec::new();
    net.visit_parameters(&mut |p| names.push(p.full_name()));
    assert!(names.contains(&"2.0.body.0.weight".to_string()), "{names:?}");
    assert!(names.contains(&"4.0.body.3.bias".to_string()), "{names:?}");
    assert_eq!(net.parameter_count(), (9 + 1) * 3 + 2 * (2 * (27 * 3 + 3) + 6) + 75 * 3 + 3);
    // Train and eval reach the block's batch norm through the outer network's mode.
    let input = Batch::<25>::from_fn(4, |i, j| (i * 7 + j * 3) as f32 % 5.0 - 2.0);
    net.forward(&input).unwrap();
    assert_eq!(net.layer2.residual0.body.batchnorm2d1.num_batches_tracked, 1);
    net.eval();
    net.forward(&input).unwrap();
    assert_eq!(net.layer2.residual0.body.batchnorm2d1.num_batches_tracked, 1);
}

net! {
    /// A flat block with batch normalisation, which refuses one sample in training.
    pub struct FlatBlock< Residual(Linear(4, 4), BatchNorm1d(4)) >
    struct UsesFlatBlock< Linear(3, 4), FlatBlock: 4 -> 4, Linear(4, 2) >
}

#[test]
fn a_block_inside_a_network_inside_a_network_refuses_what_its_layers_refuse() {
    let mut net = UsesFlatBlock::new(&mut StdRng::seed_from_u64(6));
    let error = net.forward(&Batch::<3>::zeros(1)).unwrap_err();
    assert!(error.to_string().contains("batch normalisation"), "{error}");
    net.eval();
    net.forward(&Batch::<3>::zeros(1)).unwrap();
}

#[test]
fn the_summary_shows_blocks_as_a_tree() {
    let summary = TinyResNet::summary();
    println!("{summary}");
    let line = |start: &str| {
        summary
            .lines()
            .find(|line| line.starts_with(start))
            .unwrap_or_else(|| panic!("no `{start}` in\n{summary}"))
    };
    assert!(line("5 ").contains("Residual") && line("5 ").contains("6 × 4 × 4"));
    assert!(line("5.shortcut.0 ").contains("    Conv2d(4, 6, 1, stride=2)"));
    assert!(line("6 ").contains("Concat") && line("6 ").contains("5 × 4 × 4"));
    assert!(line("6.branches.1.1 ").contains("    ReLU"));
    // 3.body: two 4→4 3×3 convolutions and a batch norm.
    assert!(line("3 ").ends_with(&format!("{}", 2 * (4 * 4 * 9 + 4) + 8)));
    assert!(summary.ends_with("TinyResNet: input 2 × 8 × 8, output 3, 1,209 trainable parameters"));
}

net! {
    /// `TinyResNet` with `Tanh` for every `ReLU`.
    struct SmoothResNet< Input(2, 8, 8), Conv2d(2, 4, 3, padding = 1), BatchNorm2d(4), Tanh,
        Residual(Conv2d(4, 4, 3, padding = 1), BatchNorm2d(4), Tanh, Conv2d(4, 4, 3, padding = 1)),
        Tanh,
        Residual(Conv2d(4, 6, 3, stride = 2, padding = 1), Tanh, Conv2d(6, 6, 3, padding = 1);
                 shortcut: Conv2d(4, 6, 1, stride = 2), BatchNorm2d(6)),
        Concat(Conv2d(6, 2, 1); Conv2d(6, 3, 3, padding = 1), Tanh),
        AvgPool2d(2), AdaptiveAvgPool2d(1), Flatten,
        Residual(Linear(5, 5), Tanh),
        Linear(5, 3) >
}

#[test]
fn branching_networks_pass_the_gradient_check() {
    let mut rng = StdRng::seed_from_u64(5);
    // The fixture's network with `Tanh` for every `ReLU`: with ReLU, the first layers' weights
    // reach hundreds of kinks through batch normalisation, too close together for finite
    // differences to step around (the ReLU network itself is checked against PyTorch above).
    let check = GradientCheck::default();
    let input = Batch::<128>::from_fn(4, |_, _| rng.random_range(-1.0..1.0));
    let mut smooth = SmoothResNet::new(&mut rng);
    for mode in [Mode::Train, Mode::Eval] {
        smooth.set_mode(mode);
        let report = check_network(&smooth, &input, &[0, 2, 1, 2], check).unwrap();
        assert!(report.passed(1e-2), "SmoothResNet in {mode:?}: {report}");
    }

    let input = Batch::<25>::from_fn(3, |_, _| rng.random_range(-1.0..1.0));
    let report = check_network(&Stacked::new(&mut rng), &input, &[0, 2, 1], check).unwrap();
    assert!(report.passed(1e-2), "Stacked: {report}");

    let input = Batch::<72>::from_fn(3, |_, _| rng.random_range(-1.0..1.0));
    let mut nested = Nested::new(&mut rng);
    for mode in [Mode::Train, Mode::Eval] {
        nested.set_mode(mode);
        let report = check_network(&nested, &input, &[0, 2, 1], check).unwrap();
        assert!(report.passed(1e-2), "Nested in {mode:?}: {report}");
    }
    // The block alone, its input gradient included.
    let block = Block::new(&mut rng);
    let input = Batch::<75>::from_fn(3, |_, _| rng.random_range(-1.0..1.0));
    let report = check_layer(&block, &input, Mode::Train, check);
    assert!(report.passed(1e-2), "Block as a layer: {report}");
}

net! {
    /// A branch with batch normalisation, one with dropout: buffers, generators and batch checks
    /// inside a `Concat`.
    struct BranchState< Linear(3, 4), Concat(BatchNorm1d(4); Dropout(0.5), Linear(4, 2)), Linear(6, 2) >

    /// A projection shortcut with batch normalisation, beside a body with dropout.
    struct ResidualState< Linear(3, 4),
        Residual(Dropout(0.5), Linear(4, 3); shortcut: Linear(4, 3), BatchNorm1d(3)), Linear(3, 2) >

    /// A block that comes first: no input gradient is asked of it, but its shortcut's parameters
    /// still need theirs.
    struct ResidualFirst< Input(2, 4, 4), Residual(Conv2d(2, 3, 3, padding = 1), Tanh; shortcut: Conv2d(2, 3, 1)),
        Flatten, Linear(48, 2) >
}

#[test]
fn what_a_residual_holds_is_reached_through_it() {
    let mut net = ResidualState::new(&mut StdRng::seed_from_u64(8));
    assert_eq!(net.parameter_count(), (3 * 4 + 4) + (4 * 3 + 3) + (4 * 3 + 3) + 2 * 3 + (3 * 2 + 2));
    let mut generators = Vec::new();
    net.visit_random_state(&mut |r| generators.push(r.path.join("generator")));
    assert_eq!(generators, ["1.body.0.generator"]);
    // Batch normalisation in the shortcut refuses one sample in training.
    let error = net.forward(&Batch::<3>::zeros(1)).unwrap_err();
    assert!(error.to_string().contains("batch normalisation"), "{error}");
    net.forward(&Batch::<3>::zeros(2)).unwrap();
}

#[test]
fn a_block_that_comes_first_still_gives_its_shortcut_gradients() {
    let mut rng = StdRng::seed_from_u64(9);
    let input = Batch::<32>::from_fn(3, |_, _| rng.random_range(-1.0..1.0));
    let report =
        check_network(&ResidualFirst::new(&mut rng), &input, &[0, 1, 1], GradientCheck::default()).unwrap();
    assert!(report.passed(1e-2), "ResidualFirst: {report}");
}

#[test]
fn what_branches_hold_is_reached_through_their_block() {
    let mut net = BranchState::new(&mut StdRng::seed_from_u64(7));
    assert_eq!(net.parameter_count(), (3 * 4 + 4) + 2 * 4 + (4 * 2 + 2) + (6 * 2 + 2));
    let mut buffers = Vec::new();
    net.visit_buffers(&mut |b| buffers.push(b.full_name()));
    assert_eq!(
        buffers,
        ["1.branches.0.0.running_mean", "1.branches.0.0.running_var", "1.branches.0.0.num_batches_tracked"]
    );
    let mut generators = Vec::new();
    net.visit_random_state(&mut |r| generators.push(r.path.join("generator")));
    assert_eq!(generators, ["1.branches.1.0.generator"]);
    // Batch normalisation inside a branch refuses one sample in training.
    assert!(net.forward(&Batch::<3>::zeros(1)).is_err());
    net.forward(&Batch::<3>::zeros(2)).unwrap();
    let debug = format!("{net:?}");
    assert!(
        debug.contains("concat1: Concat { branches: (BranchStateLayer1Branch0 { batchnorm0: BatchNorm1d<4>"),
        "{debug}"
    );
    let residual = format!("{:?}", Residual::<2, 2, _, _>::new(Tanh::<2>::new(), Identity));
    assert!(residual.starts_with("Residual { body: "), "{residual}");
}
