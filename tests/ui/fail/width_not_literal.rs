const HIDDEN: usize = 512;

minitorch::net! {
    struct Named< Linear(784, HIDDEN), Linear(HIDDEN, 10) >
    struct Fraction< Linear(784.0, 10) >
}

fn main() {}
