//! Every shape mistake of a convolutional layer list, at the layer that makes it.
minitorch::net! {
    /// PyTorch's MNIST example with the flatten width of a 5×5 kernel's network.
    struct FlattenWidth< Input(1, 28, 28), Conv2d(1, 32, 3), ReLU, Conv2d(32, 64, 3), ReLU, MaxPool2d(2),
        Flatten, Linear(4608, 128), ReLU, Linear(128, 10) >

    struct ChannelsDoNotChain< Input(1, 28, 28), Conv2d(1, 32, 3), Conv2d(16, 8, 3), Flatten, Linear(4608, 10) >

    struct NormChannels< Input(3, 8, 8), Conv2d(3, 4, 3), BatchNorm2d(3), Flatten, Linear(144, 2) >

    struct KernelTooLarge< Input(1, 4, 4), Conv2d(1, 2, 7, padding = 1), Flatten, Linear(2, 2) >

    struct WindowTooLarge< Input(1, 4, 4), MaxPool2d(5), Flatten, Linear(1, 2) >

    struct LinearAfterImage< Input(1, 28, 28), Conv2d(1, 8, 5), ReLU, Linear(4608, 10) >

    struct ConvolutionAfterFlat< Input(1, 8, 8), Flatten, Conv2d(1, 4, 3), Linear(144, 2) >
    struct PoolingAfterFlat< Input(1, 8, 8), Flatten, MaxPool2d(2), Linear(16, 2) >
    struct NormAfterFlat< Input(1, 8, 8), Flatten, BatchNorm2d(1), Linear(64, 2) >

    struct NoInput< Conv2d(1, 4, 3), Flatten, Linear(4, 2) >

    struct InputNotFirst< Linear(4, 4), Input(1, 2, 2), Linear(4, 2) >

    struct Zeros< Input(0, 8, 8), Conv2d(1, 4, 0), MaxPool2d(2, stride = 0), Flatten, Linear(4, 2) >

    struct NamedArguments< Input(1, 8, 8), Conv2d(1, 4, 3, stride = 1, stride = 2), Conv2d(4, 4, 3, dilation = 2),
        Conv2d(4, 4, padding = 1, 3), Flatten, Linear(4, 2) >
}

fn main() {}
