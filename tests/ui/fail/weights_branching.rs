minitorch::net! {
    /// The file's network has a projection shortcut in block 5; this one has none, and its
    /// concatenation's second branch has 4 channels where the file's has 3.
    #[weights = "../../../../tests/ui/weights/tiny_resnet.safetensors"]
    struct NoProjection< Input(2, 8, 8), Conv2d(2, 4, 3, padding = 1), BatchNorm2d(4), ReLU,
        Residual(Conv2d(4, 4, 3, padding = 1), BatchNorm2d(4), ReLU, Conv2d(4, 4, 3, padding = 1)),
        ReLU,
        Residual(Conv2d(4, 4, 3, padding = 1), ReLU, Conv2d(4, 4, 3, padding = 1)),
        Concat(Conv2d(4, 2, 1); Conv2d(4, 4, 3, padding = 1), ReLU),
        AvgPool2d(2), AdaptiveAvgPool2d(1), Flatten,
        Residual(Linear(6, 6), Tanh),
        Linear(6, 3) >
}

fn main() {}
