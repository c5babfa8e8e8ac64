//! Every shape mistake of a residual block, at the block or layer that makes it.
minitorch::net! {
    /// A strided body without a projection shortcut: PyTorch says "The size of tensor a (14)
    /// must match the size of tensor b (28)" at run time.
    struct MissingShortcut< Input(16, 28, 28),
        Residual(Conv2d(16, 32, 3, stride = 2, padding = 1), BatchNorm2d(32), ReLU,
                 Conv2d(32, 32, 3, padding = 1), BatchNorm2d(32)),
        ReLU, AdaptiveAvgPool2d(1), Flatten, Linear(32, 10) >

    /// A stride without the padding: the shortcut gives 13 × 13, the body 14 × 14.
    struct ShortcutDoesNotMatch< Input(16, 28, 28),
        Residual(Conv2d(16, 32, 3, stride = 2, padding = 1), ReLU;
                 shortcut: Conv2d(16, 32, 3, stride = 2)),
        Flatten, Linear(6272, 10) >

    struct FlatBodyChangesWidth< Linear(784, 64), Residual(Linear(64, 32), ReLU), Linear(32, 10) >

    /// A layer inside a block is checked as at the top level, with one error for one mistake.
    struct InsideTheBody< Input(16, 8, 8), Residual(Conv2d(8, 16, 3, padding = 1), ReLU), Flatten, Linear(1024, 10) >

    struct EmptyBody< Linear(4, 4), Residual(), Linear(4, 2) >
    struct EmptyShortcut< Linear(4, 4), Residual(Linear(4, 2); shortcut: ), Linear(2, 2) >
    struct InputInABlock< Input(1, 4, 4), Residual(Input(1, 4, 4), ReLU), Flatten, Linear(16, 2) >
    struct NothingRuns< Input(1, 4, 4), Residual(Flatten), Linear(16, 2) >
}

fn main() {}
