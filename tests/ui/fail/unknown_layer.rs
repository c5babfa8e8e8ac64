minitorch::net! {
    struct Close< Linear(784, 512), Relu, Linear(512, 10) >
    struct Spelled< Linear(784, 512), Droput(0.2), Linear(512, 10) >
    struct Far< Attention(8, 64), Linear(784, 10) >
}

fn main() {}
