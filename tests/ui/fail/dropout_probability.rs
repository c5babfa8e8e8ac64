minitorch::net! {
    struct One< Linear(784, 512), Dropout(1.0), Linear(512, 10) >
    struct Negative< Linear(784, 512), Dropout(-0.1), Linear(512, 10) >
    struct Percent< Linear(784, 512), Dropout(20), Linear(512, 10) >
    struct Named< Linear(784, 512), Dropout(P), Linear(512, 10) >
}

fn main() {}
