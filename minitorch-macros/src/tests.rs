//! The pipeline's steps on definitions given as text: every shape rule, message, name and count,
//! in milliseconds (the trybuild snapshots in `tests/ui` pin the same messages as a user sees
//! them, spanned in their source, but take minutes).

use crate::check::check;
use crate::kinds::KINDS;
use crate::model::{CheckedNetwork, Node};
use crate::parse::Definitions;
use crate::shape::{Before, Producer, Shape};

fn checked(source: &str) -> syn::Result<CheckedNetwork> {
    let definitions: Definitions = syn::parse_str(source).expect("the definition parses");
    check(definitions.0.into_iter().next().expect("one definition"))
}

fn network(source: &str) -> CheckedNetwork {
    checked(source).unwrap_or_else(|error| panic!("{source}: {error}"))
}

/// Every message of the errors `source` gives, in order.
fn errors(source: &str) -> Vec<String> {
    match checked(source) {
        Ok(_) => panic!("{source} passed"),
        Err(error) => error.into_iter().map(|error| error.to_string()).collect(),
    }
}

fn error(source: &str) -> String {
    let errors = errors(source);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().expect("one error")
}

fn image(channels: usize, height: usize, width: usize) -> Shape {
    Shape::Image { channels, height, width }
}

const TINY_RESNET: &str =
    "struct TinyResNet< Input(2, 8, 8), Conv2d(2, 4, 3, padding = 1), BatchNorm2d(4), ReLU,
    Residual(Conv2d(4, 4, 3, padding = 1), BatchNorm2d(4), ReLU, Conv2d(4, 4, 3, padding = 1)),
    ReLU,
    Residual(Conv2d(4, 6, 3, stride = 2, padding = 1), ReLU, Conv2d(6, 6, 3, padding = 1);
             shortcut: Conv2d(4, 6, 1, stride = 2), BatchNorm2d(6)),
    Concat(Conv2d(6, 2, 1); Conv2d(6, 3, 3, padding = 1), ReLU),
    AvgPool2d(2), AdaptiveAvgPool2d(1), Flatten,
    Residual(Linear(5, 5), Tanh),
    Linear(5, 3) >";

#[test]
fn shapes_flow_through_blocks() {
    let network = network(TINY_RESNET);
    let outputs: Vec<Shape> = network.root.entries.iter().map(|entry| entry.output).collect();
    let expected = [
        image(2, 8, 8),
        image(4, 8, 8),
        image(4, 8, 8),
        image(4, 8, 8),
        image(4, 8, 8),
        image(4, 8, 8),
        image(6, 4, 4),
        image(5, 4, 4),
        image(5, 2, 2),
        image(5, 1, 1),
        Shape::Flat(5),
        Shape::Flat(5),
        Shape::Flat(3),
    ];
    assert_eq!(outputs, expected);
    let indices: Vec<Option<usize>> = network.root.entries.iter().map(|entry| entry.index).collect();
    assert_eq!(indices[0], None, "Input has no index");
    assert_eq!(indices[1..], (0..12).map(Some).collect::<Vec<_>>());
    let Node::Residual { body, shortcut: Some(shortcut) } = &network.root.entries[6].node else {
        panic!("entry 6 is a residual block with a shortcut")
    };
    assert_eq!((body.input(), body.output()), (image(4, 8, 8), image(6, 4, 4)));
    assert_eq!(shortcut.output(), image(6, 4, 4));
    assert_eq!(body.entries.iter().map(|entry| entry.index).collect::<Vec<_>>(), [Some(0), Some(1), Some(2)]);
    let Node::Concat { branches } = &network.root.entries[7].node else {
        panic!("entry 7 is a concatenation")
    };
    assert_eq!(
        branches.iter().map(|branch| branch.output()).collect::<Vec<_>>(),
        [image(2, 4, 4), image(3, 4, 4)]
    );
}

#[test]
fn tensors_are_named_as_pytorch_names_them() {
    let network = network(TINY_RESNET);
    let tensors = network.root.tensors("").unwrap_or_else(|_| panic!("built-in layers only"));
    let named = |name: &str| tensors.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no {name}"));
    assert_eq!(named("0.weight").shape, [4, 2, 3, 3]);
    assert_eq!(named("3.body.1.running_var").shape, [4]);
    assert!(!named("3.body.1.running_var").trainable);
    assert_eq!(named("3.body.1.num_batches_tracked").shape, Vec::<usize>::new());
    assert_eq!(named("5.shortcut.0.weight").shape, [6, 4, 1, 1]);
    assert_eq!(named("6.branches.1.0.weight").shape, [3, 6, 3, 3]);
    assert_eq!(named("10.body.0.weight").shape, [5, 5]);
    assert_eq!(named("11.bias").shape, [3]);
    assert_eq!(tensors.len(), 26 + 9, "26 parameters, 3 buffers for each of 3 batch norms");
    let counts: Vec<Option<usize>> =
        network.root.entries.iter().map(|entry| entry.parameter_count()).collect();
    assert_eq!(counts[4], Some(2 * (4 * 4 * 9 + 4) + 8));
    assert_eq!(counts[7], Some(6 * 2 + 2 + 6 * 3 * 9 + 3));
    assert_eq!(counts.iter().flatten().sum::<usize>(), 1209);
}

#[test]
fn a_residual_body_that_changes_the_shape_needs_a_shortcut() {
    let missing = "struct N< Input(16, 28, 28), Residual(Conv2d(16, 32, 3, stride = 2, padding = 1), ReLU), Flatten, Linear(6272, 10) >";
    assert_eq!(
        error(missing),
        "`Residual` adds its input to its body's output, but the body turns 16 × 28 × 28 into 32 × 14 × 14; \
         add a projection, e.g. `shortcut: Conv2d(16, 32, 1, stride = 2)`"
    );
    let channels_only =
        "struct N< Input(16, 8, 8), Residual(Conv2d(16, 32, 3, padding = 1)), Flatten, Linear(2048, 10) >";
    assert!(error(channels_only).ends_with("e.g. `shortcut: Conv2d(16, 32, 1)`"));
    let flat = "struct N< Linear(8, 64), Residual(Linear(64, 32), ReLU), Linear(32, 10) >";
    assert!(error(flat).ends_with("add a projection, e.g. `shortcut: Linear(64, 32)`"));
    // 9 → 4 has no 1 × 1 stride: (9 − 1) / s + 1 is 9, 5, 3, …
    let no_stride =
        "struct N< Input(1, 9, 9), Residual(Conv2d(1, 1, 3, stride = 2)), Flatten, Linear(16, 2) >";
    assert!(
        error(no_stride).ends_with("add `shortcut:` layers that turn 1 × 9 × 9 into 1 × 4 × 4"),
        "{}",
        error(no_stride)
    );
    let flattens = "struct N< Input(1, 2, 2), Residual(Flatten, ReLU), Linear(4, 2) >";
    assert!(error(flattens).ends_with("add `shortcut:` layers that turn 1 × 2 × 2 into 4"));
}

#[test]
fn a_shortcut_must_take_and_give_what_the_body_does() {
    let strided = "struct N< Input(16, 28, 28), Residual(Conv2d(16, 32, 3, stride = 2, padding = 1); \
                   shortcut: Conv2d(16, 32, 3, stride = 2)), Flatten, Linear(6272, 10) >";
    assert_eq!(
        error(strided),
        "the shortcut produces 32 × 13 × 13, but the body produces 32 × 14 × 14: `Residual` adds them, so they \
         must agree (check the shortcut's stride and padding)"
    );
    let first = "struct N< Residual(Linear(4, 8); shortcut: Linear(5, 8)), Linear(8, 2) >";
    assert_eq!(error(first), "the shortcut takes 5, but the body takes 4: both take the block's input");
    // A block first in a flat network takes the input its body declares.
    let network = network("struct N< Residual(Linear(4, 8); shortcut: Linear(4, 8)), Linear(8, 2) >");
    assert_eq!(network.input(), Shape::Flat(4));
}

#[test]
fn concatenations_join_channels_or_features() {
    let images = network(
        "struct N< Input(3, 8, 8), Concat(Conv2d(3, 2, 1); Conv2d(3, 5, 3, padding = 1); ReLU), Flatten, Linear(640, 2) >",
    );
    assert_eq!(images.root.entries[1].output, image(10, 8, 8));
    let flat = network("struct N< Linear(4, 32), Concat(Linear(32, 8); Sigmoid), Linear(40, 2) >");
    assert_eq!(flat.root.entries[1].output, Shape::Flat(40));
    assert_eq!(
        error(
            "struct N< Input(16, 28, 28), Concat(Conv2d(16, 8, 1); Conv2d(16, 8, 3)), Flatten, Linear(100, 10) >"
        ),
        "`Concat` joins images along channels, so its branches' heights and widths must agree: branch 0 gives \
         8 × 28 × 28, branch 1 gives 8 × 26 × 26"
    );
    // Heights that agree, widths that do not: stride 3 turns 4 × 6 into 2 × 2, stride 2 into 2 × 3.
    let widths = "struct N< Input(1, 4, 6), Concat(Conv2d(1, 1, 1, stride = 3); Conv2d(1, 1, 1, stride = 2)), Flatten, Linear(10, 2) >";
    assert!(
        error(widths).ends_with("branch 0 gives 1 × 2 × 2, branch 1 gives 1 × 2 × 3"),
        "{}",
        error(widths)
    );
    assert_eq!(
        error(
            "struct N< Input(16, 28, 28), Concat(Conv2d(16, 8, 1); Flatten, Linear(12544, 10)), Linear(10, 2) >"
        ),
        "`Concat` cannot join images and flat features: branch 0 gives 8 × 28 × 28, branch 1 gives 10; flatten \
         every branch or none"
    );
    assert_eq!(
        error(
            "struct N< Linear(4, 4), Concat(ReLU; ReLU; ReLU; ReLU; ReLU; ReLU; ReLU; ReLU; ReLU), Linear(36, 2) >"
        ),
        "`Concat` takes at most 8 branches, found 9"
    );
    assert!(
        checked(
            "struct N< Linear(4, 4), Concat(ReLU; ReLU; ReLU; ReLU; ReLU; ReLU; ReLU; ReLU), Linear(32, 2) >"
        )
        .is_ok()
    );
    assert_eq!(
        error("struct N< Concat(Linear(4, 2); Linear(5, 2)), Linear(4, 2) >"),
        "branch 1 of `Concat` takes 5, but branch 0 takes 4: every branch takes the block's input"
    );
}

#[test]
fn the_layer_after_a_block_is_told_where_its_number_comes_from() {
    assert_eq!(
        error(
            "struct N< Input(16, 28, 28), Concat(Conv2d(16, 8, 1); Conv2d(16, 16, 1)), Conv2d(32, 4, 1), Flatten, Linear(3136, 10) >"
        ),
        "`Conv2d(32, 4, 1)` expects 32 input channels, but `Concat` produces 24 (8 + 16) × 28 × 28"
    );
    assert_eq!(
        error(
            "struct N< Input(16, 4, 4), Concat(Conv2d(16, 8, 1); Conv2d(16, 16, 1)), BatchNorm2d(32), Flatten, Linear(384, 10) >"
        ),
        "`BatchNorm2d(32)` expects 32 channels, but `Concat` produces 24 (8 + 16) × 4 × 4"
    );
    assert_eq!(
        error("struct N< Linear(784, 32), Concat(Linear(32, 8); Sigmoid), Linear(32, 10) >"),
        "`Linear(32, 10)` expects 32 input features, but `Concat` produces 40 (8 + 32)"
    );
    assert_eq!(
        error(
            "struct N< Input(16, 28, 28), Concat(Conv2d(16, 8, 1); Conv2d(16, 16, 1)), AdaptiveAvgPool2d(1), Flatten, Linear(32, 10) >"
        ),
        "`Linear(32, 10)` expects 32 input features, but `Flatten` produces 24 (24 channels × 1 × 1)"
    );
    assert_eq!(
        error("struct N< Input(1, 2, 2), Flatten, Linear(3, 2) >"),
        "`Linear(3, 2)` expects 3 input features, but `Flatten` produces 4 (1 channel × 2 × 2)"
    );
    assert_eq!(
        error("struct N< Linear(8, 4), Residual(Linear(4, 4)), Linear(8, 2) >"),
        "`Linear(8, 2)` expects 8 input features, but the `Residual` before it produces 4"
    );
    assert_eq!(
        error("struct N< Input(4, 3, 3), Residual(ReLU), Conv2d(8, 2, 1), Flatten, Linear(18, 2) >"),
        "`Conv2d(8, 2, 1)` expects 8 input channels, but the `Residual` before it produces 4 (4 × 3 × 3)"
    );
    assert_eq!(
        error("struct N< Input(4, 3, 3), Concat(ReLU; Tanh), Linear(8, 2) >"),
        "`Linear(8, 2)` takes flat input, but `Concat` produces an image of 8 × 3 × 3; add `Flatten` before it \
         (giving 72 features)"
    );
}

#[test]
fn one_mistake_gives_one_error_inside_blocks_too() {
    // The body's first convolution is wrong; the block, its neighbours and the final widths are
    // not reported again.
    let inside = "struct N< Input(16, 8, 8), Residual(Conv2d(8, 16, 3, padding = 1), ReLU), Flatten, Linear(1024, 10) >";
    assert_eq!(
        error(inside),
        "`Conv2d(8, 16, 3, padding=1)` expects 8 input channels, but the layer before it produces 16 (16 × 8 × 8)"
    );
    let branch =
        "struct N< Input(4, 8, 8), Concat(Conv2d(3, 2, 1); Conv2d(4, 2, 1)), Flatten, Linear(256, 2) >";
    assert_eq!(errors(branch).len(), 1);
    // After a block whose shape is lost, the next layer that declares its input takes over, and
    // its own mistakes are still found.
    let lost =
        errors("struct N< Input(4, 8, 8), Concat(MaxPool2d(9); ReLU), ReLU, Linear(9, 2), Linear(3, 2) >");
    assert_eq!(lost.len(), 2, "{lost:#?}");
    assert_eq!(lost[1], "`Linear(3, 2)` expects 3 input features, but the layer before it produces 2");
    let arguments_after =
        errors("struct N< Input(4, 8, 8), Concat(MaxPool2d(9); ReLU), ReLU, Dropout(2.0), Linear(9, 2) >");
    assert_eq!(arguments_after.len(), 2, "{arguments_after:#?}");
    assert_eq!(arguments_after[1], "a dropout probability must be in [0, 1), found 2.0");
    // A residual whose body is wrong carries on with the body's output.
    let carries_on = "struct N< Linear(8, 4), Residual(Linear(4, 6), ReLU), Linear(6, 2) >";
    assert_eq!(errors(carries_on).len(), 1);
}

#[test]
fn blocks_need_layers_and_take_no_input() {
    assert_eq!(
        error("struct N< Linear(4, 4), Residual(), Linear(4, 2) >"),
        "the body of `Residual` is empty: it needs at least one layer"
    );
    assert_eq!(
        error("struct N< Linear(4, 4), Residual(Linear(4, 2); shortcut: ), Linear(2, 2) >"),
        "the `shortcut:` of `Residual` is empty: it needs at least one layer"
    );
    assert_eq!(
        error("struct N< Linear(4, 4), Concat(ReLU; ), Linear(8, 2) >"),
        "branch 1 of `Concat` is empty: it needs at least one layer"
    );
    assert_eq!(
        error("struct N< Input(1, 4, 4), Residual(Flatten), Linear(16, 2) >"),
        "the body of `Residual` has no layer that runs (only `Flatten`)"
    );
    assert_eq!(
        error("struct N< Input(1, 4, 4), Residual(Input(1, 4, 4), ReLU), Flatten, Linear(16, 2) >"),
        "`Input(1, 4, 4)` declares the network's input and must come first"
    );
    assert_eq!(
        error("struct N< Input(1, 4, 4) >"),
        "a network needs at least one layer after its `Input`, e.g. `Flatten, Linear(784, 10)`"
    );
    assert_eq!(error("struct N< >"), "a network needs at least one layer, e.g. `Linear(784, 10)`");
}

#[test]
fn layers_written_by_the_user_declare_flat_or_image_shapes() {
    let network = network(
        "struct N< Input(8, 10, 10), Block: (8, 10, 10) -> (8, 10, 10), Gain<800>: 800 -> 800, Flatten, Linear(800, 2) >",
    );
    assert_eq!(network.root.entries[1].output, image(8, 10, 10));
    assert_eq!(network.root.entries[1].written, "Block: (8, 10, 10) -> (8, 10, 10)");
    // A flat layer that keeps the width keeps the image.
    assert_eq!(network.root.entries[2].output, image(8, 10, 10));
    let flattens = super::tests::network("struct N< Input(2, 2, 2), Squash: 8 -> 4, Linear(4, 2) >");
    assert_eq!(flattens.root.entries[1].output, Shape::Flat(4));
    assert_eq!(
        error(
            "struct N< Input(3, 10, 10), Conv2d(3, 16, 3, padding = 1), Block: (8, 10, 10) -> (8, 10, 10), Flatten, Linear(800, 2) >"
        ),
        "`Block: (8, 10, 10) -> (8, 10, 10)` expects an image of 8 × 10 × 10, but the layer before it produces \
         an image of 16 × 10 × 10"
    );
    assert_eq!(
        error("struct N< Linear(4, 128), Double<64>: 64 -> 64, Linear(64, 10) >"),
        "`Double<64>: 64 -> 64` expects 64 input features, but the layer before it produces 128"
    );
    assert_eq!(
        error("struct N< Input(8, 10, 10), Block: (8, 10) -> (8, 10, 10), Flatten, Linear(800, 2) >"),
        "an image shape is `(channels, height, width)`, e.g. `(8, 10, 10)`"
    );
    assert_eq!(
        error("struct N< Input(8, 10, 10), Block: (8, 0, 10) -> (8, 10, 10), Flatten, Linear(800, 2) >"),
        "a size must be at least 1, found 0"
    );
    // First in a list, the layer declares the network's input.
    assert_eq!(super::tests::network("struct N< Block: (1, 4, 4) -> 2 >").input(), image(1, 4, 4));
    let Err(unknown) = network.root.tensors("") else { panic!("a user's tensors are unknown") };
    assert_eq!((unknown.path.as_str(), unknown.written.as_str()), ("0", "Block: (8, 10, 10) -> (8, 10, 10)"));
    assert_eq!(network.root.entries[1].parameter_count(), None);
}

#[test]
fn messages_name_what_the_entry_before_produced() {
    let before = |producer| Before { shape: None, first: false, producer };
    assert_eq!(before(Producer::Layer).produces(Shape::Flat(512)), "the layer before it produces 512");
    assert_eq!(
        before(Producer::Layer).produces(image(3, 4, 5)),
        "the layer before it produces an image of 3 × 4 × 5"
    );
    assert_eq!(
        before(Producer::Residual).produces_channels(32, 14, 14),
        "the `Residual` before it produces 32 (32 × 14 × 14)"
    );
    assert_eq!(
        before(Producer::Concat { parts: vec![8, 16, 2] }).produces(Shape::Flat(26)),
        "`Concat` produces 26 (8 + 16 + 2)"
    );
    let flatten = Producer::FromImage { written: "Flatten".to_string(), channels: 64, height: 12, width: 12 };
    assert_eq!(
        before(flatten).produces(Shape::Flat(9216)),
        "`Flatten` produces 9216 (64 channels × 12 × 12)"
    );
    let squash = Producer::FromImage { written: "S: 4 -> 4".to_string(), channels: 1, height: 2, width: 2 };
    assert_eq!(before(squash).produces(image(1, 2, 2)), "`S: 4 -> 4` produces an image of 1 × 2 × 2");
}

#[test]
fn every_rule_gives_the_generic_arguments_its_type_takes() {
    let generics = |source: &str, entry: usize| {
        let network = network(source);
        let entry = &network.root.entries[entry];
        let Node::BuiltIn { kind, integers, .. } = &entry.node else { panic!("a built-in layer") };
        kind.rule.generics(integers, entry.input, entry.output)
    };
    let convolution = "struct N< Input(2, 9, 7), Conv2d(2, 3, 3, stride = 2, padding = 1), AvgPool2d(2), MaxPool2d(2, stride = 1), BatchNorm2d(3), AdaptiveAvgPool2d(2), ReLU, Flatten, Linear(12, 5), BatchNorm1d(5), LeakyReLU(0.2) >";
    // 9 × 7 → 5 × 4 → 2 × 2 → 1 × 1 → 1 × 1 → 2 × 2.
    assert_eq!(generics(convolution, 1), [2, 3, 3, 2, 1, 9, 7, 126, 60]);
    assert_eq!(generics(convolution, 2), [3, 2, 2, 5, 4, 60, 12]);
    assert_eq!(generics(convolution, 3), [3, 2, 1, 2, 2, 12, 3]);
    assert_eq!(generics(convolution, 4), [3, 3]);
    assert_eq!(generics(convolution, 5), [3, 1, 1, 2, 3, 12]);
    assert_eq!(generics(convolution, 6), [12]);
    assert_eq!(generics(convolution, 8), [12, 5]);
    assert_eq!(generics(convolution, 9), [5]);
    assert_eq!(generics(convolution, 10), [5]);
    let network = network(convolution);
    let Node::BuiltIn { numbers, .. } = &network.root.entries[10].node else { panic!("LeakyReLU") };
    assert_eq!(numbers, &[0.2]);
}

#[test]
fn kinds_describe_their_signatures() {
    let kind = |name: &str| KINDS.iter().find(|kind| kind.names[0] == name).expect("a kind");
    assert_eq!(
        kind("Conv2d").signature(),
        "Conv2d(in_channels, out_channels, kernel_size, stride = 1, padding = 0)"
    );
    assert_eq!(kind("AvgPool2d").signature(), "AvgPool2d(kernel_size, stride = kernel_size)");
    assert_eq!(kind("ReLU").signature(), "ReLU");
    assert_eq!(kind("ReLU").expected_count(), "no arguments");
    assert_eq!(kind("Dropout").expected_count(), "1 argument");
    assert_eq!(kind("Linear").expected_count(), "2 arguments");
    assert_eq!(kind("LeakyReLU").expected_count(), "at most 1 argument");
    assert_eq!(kind("MaxPool2d").expected_count(), "1 to 2 arguments");
    assert_eq!(kind("Conv2d").expected_count(), "3 to 5 arguments");
    assert!(!kind("Flatten").is_layer() && !kind("Input").is_layer() && kind("AdaptiveAvgPool2d").is_layer());
}

#[test]
fn arguments_are_bound_by_position_name_and_default() {
    let integers = |source: &str| {
        let network = network(source);
        let Node::BuiltIn { integers, .. } = &network.root.entries[1].node else { panic!("a built-in") };
        integers.clone()
    };
    assert_eq!(
        integers("struct N< Input(1, 8, 8), Conv2d(1, 2, 3), Flatten, Linear(72, 2) >"),
        [1, 2, 3, 1, 0]
    );
    assert_eq!(
        integers(
            "struct N< Input(1, 8, 8), Conv2d(1, 2, 3, padding = 1, stride = 2), Flatten, Linear(32, 2) >"
        ),
        [1, 2, 3, 2, 1]
    );
    assert_eq!(integers("struct N< Input(1, 8, 8), MaxPool2d(3), Flatten, Linear(4, 2) >"), [3, 3]);
    assert_eq!(integers("struct N< Input(1, 8, 8), MaxPool2d(3, 1), Flatten, Linear(36, 2) >"), [3, 1]);
    assert_eq!(
        error("struct N< Linear(4, 4), LeakyReLU(1, 2), Linear(4, 2) >"),
        "`LeakyReLU` takes at most 1 argument: `LeakyReLU(negative_slope = 0.01)`, found 2"
    );
    assert_eq!(error("struct N< Linear(4) >"), "`Linear` takes 2 arguments: `Linear(in, out)`, found 1");
    assert_eq!(
        error("struct N< Input(1, 8, 8), Conv2d(1, 2, 3, stride = 1, stride = 2), Flatten, Linear(72, 2) >"),
        "`stride` is given twice"
    );
    assert_eq!(
        error("struct N< Input(1, 8, 8), Conv2d(1, 2, padding = 1, 3), Flatten, Linear(72, 2) >"),
        "positional arguments come before named ones"
    );
    assert!(
        error("struct N< Input(1, 8, 8), Conv2d(1, 2, 3, dilation = 2), Flatten, Linear(72, 2) >")
            .starts_with("`Conv2d` has no argument of that name")
    );
    assert_eq!(error("struct N< Linear(784, 0) >"), "a width must be at least 1, found 0");
    assert_eq!(
        error("struct N< Linear(784, HIDDEN) >"),
        "a width must be a positive integer literal, e.g. `784`"
    );
    assert_eq!(
        error("struct N< Input(1, 8, 8), Conv2d(1, 2, 3, padding = -1), Flatten, Linear(72, 2) >"),
        "`padding` must be a non-negative integer literal, e.g. `1`"
    );
    assert_eq!(
        error("struct N< Linear(4, 4), Dropout(1.0) >"),
        "a dropout probability must be in [0, 1), found 1.0"
    );
    assert!(checked("struct N< Linear(4, 4), Dropout(0) >").is_ok());
    assert_eq!(
        error("struct N< Linear(4, 4), LeakyReLU(1e39) >"),
        "the argument of `LeakyReLU` must be a finite f32, found 1e39"
    );
    let negative = network("struct N< Linear(4, 4), LeakyReLU(-0.5) >");
    let Node::BuiltIn { numbers, .. } = &negative.root.entries[1].node else { panic!("LeakyReLU") };
    assert_eq!(numbers, &[-0.5]);
}

#[test]
fn unknown_names_suggest_the_closest_kind_or_block() {
    assert_eq!(error("struct N< Linear(4, 4), Relu >"), "unknown layer `Relu`; did you mean `ReLU`?");
    assert_eq!(
        error("struct N< Linear(4, 4), Residul(ReLU) >"),
        "unknown layer `Residul`; did you mean `Residual`?"
    );
    assert!(
        error("struct N< Attention(8, 64) >").starts_with("unknown layer `Attention`: not a built-in layer")
    );
    // Every spelling is accepted.
    assert!(
        checked(
            "struct N< Input(1, 4, 4), Conv2D(1, 2, 3), BatchNorm2D(2), MaxPool2D(2), Flatten, Linear(2, 2) >"
        )
        .is_ok()
    );
}

#[test]
fn the_summary_is_a_tree_with_paths_and_counts() {
    let text = crate::summary::summary_text(&network(TINY_RESNET));
    let rows: Vec<String> =
        text.lines().map(|line| line.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    for row in [
        "# layer output parameters",
        "– Input(2, 8, 8) 2 × 8 × 8 0",
        "3 Residual 4 × 8 × 8 304",
        "3.body.0 Conv2d(4, 4, 3, padding=1) 4 × 8 × 8 148",
        "5.shortcut.1 BatchNorm2d(6) 6 × 4 × 4 12",
        "6 Concat 5 × 4 × 4 179",
        "6.branches.1.1 ReLU 3 × 4 × 4 0",
        "TinyResNet: input 2 × 8 × 8, output 3, 1,209 trainable parameters",
    ] {
        assert!(rows.iter().any(|line| line == row), "no `{row}` in\n{text}");
    }
    // A block's layers are indented two places under it.
    let column = |start: &str, layer: &str| {
        let line = text.lines().find(|line| line.starts_with(start)).expect("the row");
        line.find(layer).expect("the layer")
    };
    assert_eq!(column("3 ", "Residual") + 2, column("3.body.0 ", "Conv2d"));
    assert_eq!(column("3 ", "Residual") + 2, column("6.branches.1.1 ", "ReLU"));
    let custom = crate::summary::summary_text(&network(
        "struct N< Linear(4, 1000), G: 1000 -> 1000, Linear(1000, 1000) >",
    ));
    assert!(custom.contains("see its type"), "{custom}");
    assert!(custom.ends_with("1,006,000 trainable parameters in its built-in layers"), "{custom}");
}

/// `#[weights]` against the files in `tests/ui/weights` (see its README).
fn weights_errors(source: &str) -> Vec<String> {
    match crate::weights::check(network(source)) {
        Ok(_) => panic!("{source} passed"),
        Err(error) => error.into_iter().map(|error| error.to_string()).collect(),
    }
}

#[test]
fn a_weights_file_is_checked_tensor_by_tensor() {
    let tiny =
        r#"#[weights = "../tests/ui/weights/tiny.safetensors"] struct T< Linear(4, 3), ReLU, Linear(3, 2) >"#;
    let checked = crate::weights::check(network(tiny)).unwrap_or_else(|error| panic!("{error}"));
    assert!(checked.weights.expect("a path").ends_with("tests/ui/weights/tiny.safetensors"));
    let resnet = format!(r#"#[weights = "../tests/ui/weights/tiny_resnet.safetensors"] {TINY_RESNET}"#);
    assert!(crate::weights::check(network(&resnet)).is_ok());

    let file = "weights file ../tests/ui/weights/tiny.safetensors";
    let wrong = r#"#[weights = "../tests/ui/weights/tiny.safetensors"] struct T< Linear(4, 3), ReLU, Linear(3, 4), Linear(4, 2) >"#;
    assert_eq!(
        weights_errors(wrong),
        [
            format!("{file}: tensor `2.weight` is F32 [4, 3] in the architecture but F32 [2, 3] in the file"),
            format!("{file}: tensor `2.bias` is F32 [4] in the architecture but F32 [2] in the file"),
            format!("{file}: missing tensor `3.weight` (F32 [2, 4])"),
            format!("{file}: missing tensor `3.bias` (F32 [2])"),
        ]
    );
    let fewer = r#"#[weights = "../tests/ui/weights/tiny.safetensors"] struct T< Linear(4, 3) >"#;
    assert_eq!(
        weights_errors(fewer),
        [
            format!("{file}: unexpected tensor `2.bias`: the architecture has no such parameter or buffer"),
            format!("{file}: unexpected tensor `2.weight`: the architecture has no such parameter or buffer"),
        ]
    );
    let nan =
        r#"#[weights = "../tests/ui/weights/nan.safetensors"] struct T< Linear(4, 3), ReLU, Linear(3, 2) >"#;
    assert_eq!(
        weights_errors(nan),
        [
            "weights file ../tests/ui/weights/nan.safetensors: tensor `2.weight` holds NaN at index 1: weights must be finite"
        ]
    );
    let custom = r#"#[weights = "../tests/ui/weights/tiny.safetensors"] struct T< Linear(4, 3), Residual(Gain: 3 -> 3), Linear(3, 2) >"#;
    assert_eq!(
        weights_errors(custom),
        [
            "`#[weights]` checks every tensor at compile time, and it cannot know those of your layer `Gain: 3 -> 3` \
          (layer 1.body.0); load the file at run time with `minitorch::checkpoint::load`"
        ]
    );
    let missing = r#"#[weights = "../tests/ui/weights/none.safetensors"] struct T< Linear(4, 3) >"#;
    assert!(
        weights_errors(missing)[0]
            .starts_with("cannot read weights file ../tests/ui/weights/none.safetensors")
    );
    let not_safetensors = r#"#[weights = "../tests/ui/weights/README.md"] struct T< Linear(4, 3) >"#;
    assert!(weights_errors(not_safetensors)[0].contains("is not a valid safetensors file"));
}

#[test]
fn gaps_found_by_mutation_testing() {
    // A body with a mistake is not checked as if it were the layers that passed: here the
    // shortcut would otherwise be compared with a body of ReLU alone.
    let body_wrong = "struct N< Input(16, 8, 8), Residual(ReLU, Conv2d(8, 32, 3, padding = 1); shortcut: Conv2d(16, 32, 1)), Flatten, Linear(2048, 10) >";
    assert_eq!(errors(body_wrong).len(), 1, "{:#?}", errors(body_wrong));
    // No 1 × 1 stride turns 8 × 16 into 2 × 5: stride 4 gives the height only.
    let no_stride =
        "struct N< Input(1, 8, 16), Residual(Conv2d(1, 1, 3, stride = 3)), Flatten, Linear(10, 2) >";
    assert!(
        error(no_stride).ends_with("add `shortcut:` layers that turn 1 × 8 × 16 into 1 × 2 × 5"),
        "{}",
        error(no_stride)
    );
    // A flat branch before an image one.
    assert!(error("struct N< Input(1, 4, 4), Concat(Flatten, Tanh; ReLU), Linear(32, 2) >").starts_with(
        "`Concat` cannot join images and flat features: branch 0 gives 16, branch 1 gives 1 × 4 × 4"
    ));
    // Of two spellings equally close, the first (the documented one).
    assert_eq!(
        error("struct N< Linear(4, 4), Batchnorm1d(4) >"),
        "unknown layer `Batchnorm1d`; did you mean `BatchNorm1d`?"
    );
    // A block without its parentheses.
    let bare = "struct N< Linear(4, 4), Residual, Linear(4, 2) >";
    let definitions = syn::parse_str::<Definitions>(bare).err().expect("a syntax error").to_string();
    assert!(definitions.starts_with("`Residual` holds its layers in parentheses"), "{definitions}");
}

#[test]
fn batchnorm1d_takes_flat_features_of_its_width() {
    assert_eq!(
        error("struct N< Input(4, 2, 2), BatchNorm1d(16), Flatten, Linear(16, 2) >"),
        "`BatchNorm1d(16)` takes flat input, but the layer before it produces an image of 4 × 2 × 2; use \
         `BatchNorm2d(channels)` on images"
    );
    assert_eq!(
        error("struct N< Linear(4, 8), BatchNorm1d(6), Linear(8, 2) >"),
        "`BatchNorm1d(6)` expects 6 input features, but the layer before it produces 8"
    );
    let network = network("struct N< BatchNorm1d(6), Linear(6, 2) >");
    assert_eq!(network.input(), Shape::Flat(6));
    let tensors = network.root.tensors("").unwrap_or_else(|_| panic!("built-in layers only"));
    let names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names[..5],
        ["0.weight", "0.bias", "0.running_mean", "0.running_var", "0.num_batches_tracked"]
    );
    // After a lost shape, BatchNorm1d fixes it again: the width after it is 4.
    let recovered = errors("struct N< Input(1, 4, 4), MaxPool2d(5), ReLU, BatchNorm1d(4), Linear(5, 2) >");
    assert_eq!(recovered[1], "`Linear(5, 2)` expects 5 input features, but the layer before it produces 4");
}

#[test]
fn kernels_and_windows_must_fit_their_input() {
    // Padding 1 makes 4 × 4 into 6 × 6: a 6 × 6 kernel fits, a 7 × 7 one does not.
    assert!(
        checked("struct N< Input(1, 4, 4), Conv2d(1, 2, 6, padding = 1), Flatten, Linear(2, 2) >").is_ok()
    );
    assert_eq!(
        error("struct N< Input(1, 4, 4), Conv2d(1, 2, 7, padding = 1), Flatten, Linear(2, 2) >"),
        "`Conv2d(1, 2, 7, padding=1)`: the kernel (7 × 7) is larger than its padded input (6 × 6)"
    );
    // Too wide only, and too high only.
    assert!(error("struct N< Input(1, 8, 4), Conv2d(1, 1, 5), Flatten, Linear(4, 2) >").contains("(8 × 4)"));
    assert!(error("struct N< Input(1, 4, 8), Conv2d(1, 1, 5), Flatten, Linear(4, 2) >").contains("(4 × 8)"));
    assert!(checked("struct N< Input(1, 4, 4), MaxPool2d(4), Flatten, Linear(1, 2) >").is_ok());
    assert_eq!(
        error("struct N< Input(1, 8, 4), MaxPool2d(5), Flatten, Linear(4, 2) >"),
        "`MaxPool2d(5)`: the window (5 × 5) is larger than its input (8 × 4)"
    );
    assert!(error("struct N< Input(1, 4, 8), AvgPool2d(5), Flatten, Linear(4, 2) >").contains("(4 × 8)"));
}

#[test]
fn the_documentation_lists_every_layer_of_the_tree() {
    let network = network(TINY_RESNET);
    let lines = crate::summary::struct_doc_lines(&network);
    let indent = "\u{a0}\u{a0}";
    for line in [
        "Generated by `net!` from `Input(2, 8, 8), Conv2d(2, 4, 3, padding=1), BatchNorm2d(4), ReLU, Residual, ReLU, \
         Residual, Concat, AvgPool2d(2), AdaptiveAvgPool2d(1), Flatten, Residual, Linear(5, 3)`."
            .to_string(),
        "Input 2 × 8 × 8, output 3, 1,209 trainable parameters.".to_string(),
        "| – | `Input(2, 8, 8)` | 2 × 8 × 8 | 0 | – |".to_string(),
        "| 3 | `Residual` | 4 × 8 × 8 | 304 | those of its layers |".to_string(),
        format!("| 3.body.0 | {indent}`Conv2d(4, 4, 3, padding=1)` | 4 × 8 × 8 | 148 | `3.body.0.weight` [4, 4, 3, 3], `3.body.0.bias` [4] |"),
        format!("| 5.shortcut.1 | {indent}`BatchNorm2d(6)` | 6 × 4 × 4 | 12 | `5.shortcut.1.weight` [6], `5.shortcut.1.bias` [6] |"),
        format!("| 6.branches.1.1 | {indent}`ReLU` | 3 × 4 × 4 | 0 | – |"),
    ] {
        assert!(lines.contains(&line), "no `{line}` in {lines:#?}");
    }
    let entry_doc = |index: usize| crate::summary::entry_doc_text(&network.root.entries[index]);
    assert_eq!(
        entry_doc(1),
        "Layer 0: `Conv2d(2, 4, 3, padding=1)` → 4 × 8 × 8; `0.weight` [4, 2, 3, 3], `0.bias` [4]."
    );
    assert_eq!(entry_doc(3), "Layer 2: `ReLU` → 4 × 8 × 8; no parameters.");
    assert_eq!(entry_doc(7), "Layer 6: `Concat` → 5 × 4 × 4; 179 parameters in its layers.");
    let custom = super::tests::network("struct N< Linear(4, 4), Residual(G: 4 -> 4), Gain<4>: 4 -> 4 >");
    assert_eq!(
        crate::summary::entry_doc_text(&custom.root.entries[1]),
        "Layer 1: `Residual` → 4; see its layers."
    );
    assert_eq!(
        crate::summary::entry_doc_text(&custom.root.entries[2]),
        "Layer 2: `Gain<4>: 4 -> 4` → 4; those of `Gain<4>`."
    );
    // The shortcut's layers are indented under their block as the body's are.
    let text = crate::summary::summary_text(&network);
    let column = |start: &str, layer: &str| {
        let line = text.lines().find(|line| line.starts_with(start)).expect("the row");
        line.find(layer).expect("the layer")
    };
    assert_eq!(column("5 ", "Residual") + 2, column("5.shortcut.0 ", "Conv2d"));
}

/// An `int64` count whose low bytes read as a NaN `f32` is a count, not a weight.
#[test]
fn only_f32_tensors_must_be_finite() {
    let path =
        std::env::temp_dir().join(format!("minitorch-macros-count-{}.safetensors", std::process::id()));
    let header = r#"{"0.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"0.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"0.running_mean":{"dtype":"F32","shape":[2],"data_offsets":[16,24]},"0.running_var":{"dtype":"F32","shape":[2],"data_offsets":[24,32]},"0.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[32,40]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend([0u8; 32]);
    bytes.extend(0x7fc0_0000_i64.to_le_bytes());
    std::fs::write(&path, bytes).expect("a temporary file");
    let source = format!(r#"#[weights = "{}"] struct N< BatchNorm1d(2) >"#, path.display());
    let result = crate::weights::check(network(&source));
    std::fs::remove_file(&path).expect("removed");
    assert!(result.is_ok(), "{:?}", result.err().map(|e| e.to_string()));
}

#[test]
fn each_list_inside_a_block_becomes_a_documented_struct() {
    let code = crate::expand::expand(&network(TINY_RESNET)).to_string();
    for piece in [
        "The body of the `Residual` at index 3 of [`TinyResNet`]",
        "The shortcut of the `Residual` at index 5 of [`TinyResNet`]",
        "Branch 1 of the `Concat` at index 6 of [`TinyResNet`]",
        "struct TinyResNetLayer3Body",
        "struct TinyResNetLayer5Shortcut",
        "struct TinyResNetLayer6Branch0",
        "struct TinyResNetLayer10Body",
    ] {
        assert!(code.contains(piece), "no `{piece}` in the expansion");
    }
    // Nested: a block inside a branch is named after the branch.
    let nested = crate::expand::expand(&network(
        "struct N< Linear(4, 4), Concat(Residual(ReLU); Tanh), Linear(8, 2) >",
    ));
    let nested = nested.to_string();
    assert!(nested.contains("struct NLayer1Branch0Layer0Body"), "{nested}");
    assert!(nested.contains("The body of the `Residual` at index 0 of [`NLayer1Branch0`]"), "{nested}");
}
