minitorch::net! {
    struct StartsWithReLU< ReLU, Linear(784, 10) >
    struct StartsWithDropout< Dropout(0.5), Linear(784, 10) >
}

fn main() {}
