//! Image layers wired by hand: widths that do not fit their geometry fail to compile.
use minitorch::rand::{SeedableRng, rngs::StdRng};
use minitorch::{Conv2d, MaxPool2d};

fn main() {
    // 1 channel of 8×8 with a 3×3 kernel gives 4 × 6 × 6 = 144 outputs, not 100.
    let _conv = Conv2d::<1, 4, 3, 1, 0, 8, 8, 64, 100>::new(&mut StdRng::seed_from_u64(0));
    // 2 channels of 4×4 are 32 inputs, not 16.
    let _pool = MaxPool2d::<2, 2, 2, 4, 4, 16, 8>::new();
}
