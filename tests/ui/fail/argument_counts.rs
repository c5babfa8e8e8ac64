minitorch::net! {
    struct A< Linear(784), Linear(784, 10) >
    struct B< Linear(784, 10), ReLU(10) >
    struct C< Linear(784, 10), Dropout >
    struct D< BatchNorm1d(784, 1), Linear(784, 10) >
    struct E< Linear(784, 10, 3) >
}

fn main() {}
