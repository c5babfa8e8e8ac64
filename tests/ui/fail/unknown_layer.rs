minitorch::net! {
    struct Close< Linear(784, 512), Relu, Linear(512, 10) >
    struct Spelled< Linear(784, 512), Droput(0.2), Linear(512, 10) >
    struct Far< Conv2d(1, 32), Linear(784, 10) >
}

fn main() {}
