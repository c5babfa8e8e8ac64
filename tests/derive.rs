//! What `#[derive(Parameters)]` finds in a layer's fields: parameters named by field, in field
//! order, with their shapes; buffers, random states and parts marked as such; and nothing else.

use minitorch::layers::BufferValue;
use minitorch::prelude::*;
use minitorch::rand::SeedableRng;
use minitorch::rand::rngs::StdRng;
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
