//! The forms `net!` accepts, compiled and run.
use minitorch::prelude::*;
use minitorch::rand::{SeedableRng, rngs::StdRng};

net! {
    /// Doc comments and attributes pass through.
    #[allow(dead_code)]
    pub struct Mlp< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >

    /// The workshop's spelling of batch normalisation, a trailing comma, `ReLU()`, `Dropout(0)`.
    pub(crate) struct WithNorm< Linear(4, 8), BatchNorm1D(8), ReLU(), Dropout(0), Linear(8, 2), >

    struct NormFirst< BatchNorm1d(3), Linear(3, 3) >
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

    let (mut first, mut second) = (WithNorm::new(&mut rng), NormFirst::new(&mut rng));
    chain(&mut first, &mut second, &Batch::<4>::zeros(2))
}
