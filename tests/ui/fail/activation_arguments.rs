minitorch::net! {
    struct TwoSlopes< Linear(4, 3), LeakyReLU(0.1, 0.2), Linear(3, 2) >
    struct NamedSlope< Linear(4, 3), LeakyReLU(slope), Linear(3, 2) >
    struct TanhWithWidth< Linear(4, 3), Tanh(3), Linear(3, 2) >
    struct GeluFirst< GELU, Linear(3, 2) >
}

fn main() {}
