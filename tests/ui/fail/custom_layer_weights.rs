//! `#[weights]` cannot check a layer the user wrote at compile time.
use minitorch::rand::Rng;
use minitorch::{Batch, Initialize, Layer, Mode, Parameter, Parameters};

#[derive(Clone, Debug)]
struct Identity(Batch<3>);

impl Initialize for Identity {
    fn initialize(_rng: &mut impl Rng) -> Self {
        Identity(Batch::zeros(1))
    }
}

impl Parameters for Identity {
    fn visit_parameters(&mut self, _visit: &mut dyn FnMut(Parameter<'_>)) {}
    fn parameter_count(&self) -> usize {
        0
    }
}

impl Layer<3, 3> for Identity {
    fn forward(&mut self, input: &Batch<3>, _mode: Mode) -> &Batch<3> {
        self.0 = input.clone();
        &self.0
    }
    fn output(&self) -> &Batch<3> {
        &self.0
    }
    fn backward(&mut self, _input: &Batch<3>, grad_output: &Batch<3>) -> &Batch<3> {
        self.0 = grad_output.clone();
        &self.0
    }
}

minitorch::net! {
    #[weights = "../../../../tests/ui/weights/tiny.safetensors"]
    struct Embedded< Linear(4, 3), Identity: 3 -> 3, Linear(3, 2) >
}

fn main() {}
