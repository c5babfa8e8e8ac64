//! A layer the user wrote, given with widths that do not chain, and with widths its type does not
//! implement `Layer` for.
use minitorch::rand::Rng;
use minitorch::{Batch, Initialize, Layer, Mode, Parameter, Parameters};

/// Doubles each of `N` features.
#[derive(Clone, Debug)]
struct Double<const N: usize>;

impl<const N: usize> Initialize for Double<N> {
    fn initialize(_rng: &mut impl Rng) -> Self {
        Double
    }
}

impl<const N: usize> Parameters for Double<N> {
    fn visit_parameters(&mut self, _visit: &mut dyn FnMut(Parameter<'_>)) {}
    fn parameter_count(&self) -> usize {
        0
    }
}

impl<const N: usize> Layer<N, N> for Double<N> {
    fn forward(&mut self, x: &Batch<N>, y: &mut Batch<N>, _mode: Mode) {
        *y = x * 2.0;
    }
    fn backward(&mut self, _x: &Batch<N>, _y: &Batch<N>, grad_y: &Batch<N>, grad_x: &mut Batch<N>) {
        *grad_x = grad_y * 2.0;
    }
}

minitorch::net! {
    struct DoesNotChain< Linear(784, 128), Double<64>: 64 -> 64, Linear(64, 10) >
    struct AfterItDoesNotChain< Linear(784, 64), Double<64>: 64 -> 64, Linear(128, 10) >
}

minitorch::net! {
    struct TypeHasOtherWidths< Linear(784, 128), Double<64>: 128 -> 128, Linear(128, 10) >
}

fn main() {}
