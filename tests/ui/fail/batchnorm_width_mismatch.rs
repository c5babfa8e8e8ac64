minitorch::net! {
    struct Normed< Linear(784, 512), BatchNorm1d(256), ReLU, Linear(512, 10) >
}

fn main() {}
