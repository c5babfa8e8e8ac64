//! Every shape mistake of a concatenation, and of the layers after a block, at the entry that
//! makes it.
minitorch::net! {
    /// Heights and widths differ: a padding is missing in the second branch.
    struct SizesDiffer< Input(16, 28, 28), Concat(Conv2d(16, 8, 1); Conv2d(16, 8, 3)), Flatten, Linear(100, 10) >

    struct ImagesAndFlat< Input(16, 28, 28), Concat(Conv2d(16, 8, 1); Flatten, Linear(12544, 10)), Linear(10, 2) >

    /// The next layer counts the channels of one branch only.
    struct ChannelsAfterConcat< Input(16, 28, 28), Concat(Conv2d(16, 8, 1); Conv2d(16, 16, 1)),
        Conv2d(32, 4, 1), Flatten, Linear(3136, 10) >

    /// The flatten width after a block.
    struct FlattenAfterConcat< Input(16, 28, 28), Concat(Conv2d(16, 8, 1); Conv2d(16, 16, 1)),
        AdaptiveAvgPool2d(1), Flatten, Linear(32, 10) >

    /// A flat concatenation: 8 + 32 features.
    struct FeaturesAfterConcat< Linear(784, 32), Concat(Linear(32, 8); Sigmoid), Linear(32, 10) >

    struct EmptyBranch< Linear(4, 4), Concat(ReLU; ), Linear(8, 2) >

    struct TooManyBranches< Linear(4, 4), Concat(ReLU; ReLU; ReLU; ReLU; ReLU; ReLU; ReLU; ReLU; ReLU), Linear(36, 2) >

    /// A network used as a layer, given the image it takes.
    struct BlockGetsTheWrongImage< Input(3, 10, 10), Conv2d(3, 16, 3, padding = 1),
        Block: (8, 10, 10) -> (8, 10, 10), Flatten, Linear(800, 2) >

    struct Misspelt< Linear(4, 4), Residul(ReLU), Linear(4, 2) >
}

fn main() {}
