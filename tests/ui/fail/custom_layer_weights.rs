//! `#[weights]` cannot check a layer the user wrote at compile time.
use minitorch::rand::Rng;
use minitorch::{Batch, Initialize, Layer, Mode, Parameter, Parameters};

#[derive(Clone, Debug)]
struct Identity;

impl Initialize for Identity {
    fn initialize(_rng: &mut impl Rng) -> Self {
        Identity
    }
}

impl Parameters for Identity {
    fn visit_parameters(&mut self, _visit: &mut dyn FnMut(Parameter<'_>)) {}
    fn parameter_count(&self) -> usize {
        0
    }
}

impl Layer<3, 3> for Identity {
    fn forward(&mut self, x: &Batch<3>, y: &mut Batch<3>, _mode: Mode) {
        y.clone_from(x);
    }
    fn backward(&mut self, _x: &Batch<3>, _y: &Batch<3>, grad_y: &Batch<3>, grad_x: &mut Batch<3>) {
        grad_x.clone_from(grad_y);
    }
}

minitorch::net! {
    #[weights = "../../../../tests/ui/weights/tiny.safetensors"]
    struct Embedded< Linear(4, 3), Identity: 3 -> 3, Linear(3, 2) >
}

fn main() {}
