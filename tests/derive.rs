//! What `#[derive(Parameters)]` finds in a layer's fields: parameters named by field, in field
//! order, with their shapes; buffers, random states and parts marked as such; and nothing else.
//! And what `#[derive(Initialize)]` builds: each `#[init(…)]` field from its expression, drawing
//! from the network's generator, and every other field from `Default`.

use minitorch::layers::BufferValue;
use minitorch::prelude::*;
use minitorch::rand::rngs::StdRng;
use minitorch::rand::{RngExt, SeedableRng};
use minitorch::{Conv2d, HeapMatrix, Param};

/// Every kind of field the derive knows, and two it must leave alone.
#[derive(Parameters)]
struct Everything<Part> {
    scale: Param<HeapMatrix<3, 2>>,
    #[buffer]
    running_mean: HeapMatrix<4, 1>,
    #[buffer]
    steps: u64,
    #[random_state]
    generator: u64,
    #[module]
    part: Part,
    shift: Param<Batch<2>>,
    // Neither a tensor nor marked: the derive must not visit these.
    _scratch: HeapMatrix<5, 1>,
    _settings: f32,
}

fn everything() -> Everything<Linear<2, 3>> {
    everything_with(Linear::new(&mut StdRng::seed_from_u64(0)))
}

fn everything_with<Part>(part: Part) -> Everything<Part> {
    Everything {
        scale: Param::new(HeapMatrix::from_fn(|row, column| (row * 2 + column) as f32)),
        running_mean: HeapMatrix::from_fn(|_, _| 0.5),
        steps: 7,
        generator: 11,
        part,
        shift: Param::new(Batch::<2>::from_element(4, 1.0)),
        _scratch: HeapMatrix::zeros(),
        _settings: 0.0,
    }
}

#[test]
fn parameters_are_named_by_field_in_field_order_with_their_shapes() {
    let mut layer = everything();
    let mut seen = Vec::new();
    layer.visit_parameters(&mut |p| {
        seen.push((p.full_name(), p.rows, p.columns, p.pytorch_shape, p.value.len(), p.gradient.len()))
    });
    assert_eq!(
        seen,
        [
            ("scale".to_string(), 3, 2, None, 6, 6),
            ("part.weight".to_string(), 3, 2, None, 6, 6),
            ("part.bias".to_string(), 3, 1, None, 3, 3),
            ("shift".to_string(), 2, 4, None, 8, 8),
        ]
    );
    assert_eq!(layer.parameter_count(), 6 + 6 + 3 + 8);
}

#[test]
fn a_visit_hands_out_the_fields_own_numbers() {
    let mut layer = everything();
    layer.visit_parameters(&mut |p| {
        if p.full_name() == "scale" {
            assert_eq!(p.value, &[0.0, 2.0, 4.0, 1.0, 3.0, 5.0]); // column-major
            p.gradient[1] = 9.0;
        }
    });
    assert_eq!(layer.scale.gradient[(1, 0)], 9.0);
    layer.shift.gradient.fill(3.0);
    layer.part.bias.gradient.fill(2.0);
    layer.zero_grad();
    assert!(layer.scale.gradient.iter().chain(layer.shift.gradient.iter()).all(|&g| g == 0.0));
    assert!(layer.part.bias.gradient.iter().all(|&g| g == 0.0));
}

#[test]
fn buffers_random_states_and_parts_are_visited_under_their_names() {
    let mut layer = everything();
    let mut buffers = Vec::new();
    layer.visit_buffers(&mut |b| {
        let name = b.full_name();
        buffers.push(match b.value {
            BufferValue::Vector(values) => format!("{name} {values:?}"),
            BufferValue::Count(count) => {
                *count += 1;
                format!("{name} {count}")
            }
        })
    });
    assert_eq!(buffers, ["running_mean [0.5, 0.5, 0.5, 0.5]", "steps 8"]);
    assert_eq!(layer.steps, 8, "a buffer is the field itself, not a copy");

    let mut states = Vec::new();
    layer.visit_random_state(&mut |r| states.push((r.path.to_string(), *r.state)));
    assert_eq!(states, [(String::new(), 11)]);

    // A part's own kinds of tensors go through too, under the part's name.
    let mut nested = everything_with(BatchNorm1d::<3>::new());
    let mut names = Vec::new();
    nested.visit_buffers(&mut |b| names.push(b.full_name()));
    assert_eq!(
        names,
        ["running_mean", "steps", "part.running_mean", "part.running_var", "part.num_batches_tracked"]
    );
    let mut dropped = everything_with(Dropout::<3>::new(0.5, &mut StdRng::seed_from_u64(0)));
    let mut paths = Vec::new();
    dropped.visit_random_state(&mut |r| paths.push(r.path.to_string()));
    assert_eq!(paths, ["", "part"]);
}

#[test]
fn a_layer_without_tensors_has_none() {
    #[derive(Parameters)]
    struct Plain {
        _width: usize,
    }
    #[derive(Parameters)]
    struct Unit;
    let (mut plain, mut unit) = (Plain { _width: 3 }, Unit);
    let mut count = 0;
    plain.visit_parameters(&mut |_| count += 1);
    plain.visit_buffers(&mut |_| count += 1);
    unit.visit_random_state(&mut |_| count += 1);
    assert_eq!((count, plain.parameter_count(), unit.parameter_count()), (0, 0, 0));
}

#[test]
fn a_convolution_weight_keeps_its_pytorch_shape() {
    let mut conv = Conv2d::<2, 3, 2, 1, 0, 4, 4, 32, 27>::new(&mut StdRng::seed_from_u64(0));
    let mut shapes = Vec::new();
    conv.visit_parameters(&mut |p| shapes.push((p.name, p.rows, p.columns, p.pytorch_shape)));
    assert_eq!(shapes, [("weight", 3, 8, Some(&[3, 2, 2, 2][..])), ("bias", 3, 1, None)]);
}

/// Fields of every kind the derive builds: from an expression, from the generator, from
/// `Default`; and a PReLU-like layer in a network.
#[derive(Clone, Debug, Parameters, Initialize)]
struct Initialized<const N: usize> {
    #[init(Param::new(HeapMatrix::from_fn(|row, _| row as f32 + 0.5)))]
    weight: Param<HeapMatrix<N, 1>>,
    bias: Param<HeapMatrix<N, 1>>,
    #[init(rng.random_range(10.0..20.0))]
    drawn: f32,
    #[init(N * 2)]
    width: usize,
    scratch: Batch<N>,
}

impl<const N: usize> Layer<N, N> for Initialized<N> {
    fn forward(&mut self, input: &Batch<N>, output: &mut Batch<N>, _mode: Mode) {
        *output = input.map_with_location(|i, _, x| self.weight[i] * x + self.bias[i]);
    }
    fn backward(
        &mut self,
        input: &Batch<N>,
        _output: &Batch<N>,
        grad_output: &Batch<N>,
        grad_input: &mut Batch<N>,
    ) {
        *self.weight.gradient += grad_output.component_mul(input).column_sum();
        *self.bias.gradient += grad_output.column_sum();
        *grad_input = grad_output.map_with_location(|i, _, g| self.weight[i] * g);
    }
}

#[test]
fn initialize_takes_each_init_expression_and_defaults_the_rest() {
    let layer = Initialized::<3>::initialize(&mut StdRng::seed_from_u64(0));
    assert_eq!(layer.weight.as_slice(), &[0.5, 1.5, 2.5]);
    assert_eq!(layer.weight.gradient.as_slice(), &[0.0; 3]);
    assert_eq!((layer.bias.as_slice(), layer.bias.gradient.as_slice()), (&[0.0; 3][..], &[0.0; 3][..]));
    assert_eq!((layer.width, layer.scratch.shape()), (6, (3, 0)));
    assert!((10.0..20.0).contains(&layer.drawn), "{}", layer.drawn);
}

#[test]
fn initialize_draws_from_the_generator_it_is_given() {
    let drawn = |seed| Initialized::<3>::initialize(&mut StdRng::seed_from_u64(seed)).drawn;
    assert_eq!(drawn(1), drawn(1));
    assert_ne!(drawn(1), drawn(2));
    let mut expected = StdRng::seed_from_u64(1);
    assert_eq!(drawn(1), expected.random_range(10.0..20.0));
}

#[test]
fn initialize_builds_tuple_and_unit_structs() {
    #[derive(Initialize)]
    struct Pair(#[init(7)] u32, Batch<2>);
    #[derive(Initialize)]
    struct Unit;
    let pair = Pair::initialize(&mut StdRng::seed_from_u64(0));
    assert_eq!((pair.0, pair.1.ncols()), (7, 0));
    let Unit = Unit::initialize(&mut StdRng::seed_from_u64(0));
}

#[test]
fn a_derived_layer_is_built_and_trained_by_a_network() {
    net! { struct WithInitialized< Linear(2, 3), Initialized<3>: 3 -> 3, Linear(3, 2) > }
    let mut net = WithInitialized::new(&mut StdRng::seed_from_u64(0));
    assert_eq!(net.layer1.weight.as_slice(), &[0.5, 1.5, 2.5]);
    assert_eq!(net.parameter_count(), 2 * 3 + 3 + 3 + 3 + 3 * 2 + 2);
    let input = Batch::<2>::from_fn(4, |r, c| (r + c) as f32 - 1.5);
    let report =
        minitorch::gradcheck::check_network(&net, &input, &[0, 1, 1, 0], Default::default()).unwrap();
    assert!(report.passed(1e-2), "{report}");
    net.forward(&input).unwrap();
    assert_eq!(net.layer1_output.ncols(), 4);

    // First in its network, where the network asks only for its parameters' gradients
    // (`Layer::backward_parameters`, which a layer need not write).
    net! { struct InitializedFirst< Initialized<2>: 2 -> 2, Linear(2, 3) > }
    let first = InitializedFirst::new(&mut StdRng::seed_from_u64(1));
    let report =
        minitorch::gradcheck::check_network(&first, &input, &[0, 1, 2, 0], Default::default()).unwrap();
    assert!(report.passed(1e-2), "{report}");
}
