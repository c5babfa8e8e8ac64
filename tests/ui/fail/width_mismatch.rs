minitorch::net! {
    struct Mlp< Linear(784, 512), ReLU, Linear(256, 10) >
}

fn main() {}
