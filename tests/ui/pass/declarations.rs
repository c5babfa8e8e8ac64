//! The forms `net!` accepts, compiled and run.
use minitorch::prelude::*;
use minitorch::Initialize;
use minitorch::rand::{SeedableRng, rngs::StdRng};

net! {
    /// Doc comments and attributes pass through.
    #[allow(dead_code)]
    pub struct Mlp< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >

    /// The workshop's spelling of batch normalisation, a trailing comma, `ReLU()`, `Dropout(0)`.
    pub(crate) struct WithNorm< Linear(4, 8), BatchNorm1D(8), ReLU(), Dropout(0), Linear(8, 2), >

    struct NormFirst< BatchNorm1d(3), Linear(3, 3) >

    /// Every activation; `LeakyReLU` with PyTorch's default slope and with its own.
    struct Activations< Linear(4, 8), Sigmoid, Tanh, LeakyReLU, LeakyReLU(0.2), LeakyReLU(-1), GELU, Linear(8, 2) >

    /// A layer written by the user, between built-ins, and last.
    struct WithCustom< Linear(4, 3), Double<3>: 3 -> 3, ReLU, Linear(3, 2), Double<2>: 2 -> 2 >
}

/// Doubles each of `N` features.
#[derive(Clone, Debug)]
struct Double<const N: usize>;

impl<const N: usize> Initialize for Double<N> {
    fn initialize(_rng: &mut impl minitorch::rand::Rng) -> Self {
        Double
    }
}

impl<const N: usize> Parameters for Double<N> {
    fn visit_parameters(&mut self, _visit: &mut dyn FnMut(minitorch::Parameter<'_>)) {}
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

/// One network's output feeds another whose input width matches.
fn chain(first: &mut WithNorm, second: &mut NormFirst, input: &Batch<4>) -> Result<(), Error> {
    let hidden: Batch<2> = first.forward(input)?.clone();
    let _ = hidden;
    let _: &Batch<3> = second.forward(&Batch::<3>::zeros(2))?;
    Ok(())
}

fn main() -> Result<(), Error> {
    let mut rng = StdRng::seed_from_u64(0);
    let mut mlp = Mlp::new(&mut rng);
    assert_eq!(mlp.parameter_count(), 535_818);
    let logits = mlp.forward(&Batch::<784>::zeros(3))?;
    assert_eq!(logits.shape(), (10, 3));
    mlp.backward(&Batch::<10>::zeros(3))?;

    let mut activations = Activations::new(&mut rng);
    assert_eq!(activations.leaky_relu4.function().negative_slope, 0.2);
    assert_eq!(activations.leaky_relu5.function().negative_slope, -1.0);
    activations.forward(&Batch::<4>::zeros(2))?;
    let mut custom = WithCustom::new(&mut rng);
    let input = Batch::<4>::from_element(1, 1.0);
    let logits = custom.forward(&input)?.clone();
    assert_eq!(logits, &custom.linear3_output * 2.0);
    assert_eq!(custom.layer1_output, &custom.linear0_output * 2.0);
    custom.backward(&Batch::<2>::zeros(1))?;

    let (mut first, mut second) = (WithNorm::new(&mut rng), NormFirst::new(&mut rng));
    chain(&mut first, &mut second, &Batch::<4>::zeros(2))
}
