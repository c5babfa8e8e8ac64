//! A network with compiled-in weights: no file is read and no `Result` is handled at run time.
use minitorch::prelude::*;

minitorch::net! {
    /// The weights resolve against the compiling crate's manifest directory (see weights/README.md).
    #[weights = "../../../../tests/ui/weights/tiny.safetensors"]
    pub struct Tiny< Linear(4, 3), ReLU, Linear(3, 2) >
}

fn main() {
    let mut network = Tiny::pretrained();
    assert_eq!(network.mode(), Mode::Eval);
    assert!(network.linear0.weight.iter().all(|w| w.abs() <= 0.5 && *w != 0.0));
    let logits = network.forward(&Batch::<4>::zeros(1)).unwrap().clone();
    // With a zero input the output is linear2.bias + linear2.weight · relu(linear0.bias).
    let hidden = network.linear0.bias.map(|b| b.max(0.0));
    let expected = &**network.linear2.weight * hidden + &**network.linear2.bias;
    assert!((logits.column(0) - expected).abs().max() < 1e-6);

    let mut cnn = TinyCnn::pretrained();
    // PyTorch's [2, 1, 3, 3] kernel, row-major, is the layer's 2 × 9 weight row by row.
    assert!(cnn.conv2d0.weight.iter().all(|w| w.abs() <= 0.5 && *w != 0.0));
    assert_eq!(cnn.forward(&Batch::<16>::zeros(1)).unwrap().shape(), (2, 1));

    let mut resnet = TinyResNet::pretrained();
    // `5.shortcut.0.weight[0, 0, 0, 0]` of the file, the fixture's first value of that tensor.
    assert_eq!(resnet.residual5.shortcut.conv2d0.weight[0], 0.470_756_6);
    assert_eq!(resnet.forward(&Batch::<128>::zeros(2)).unwrap().shape(), (3, 2));
}

minitorch::net! {
    /// A convolutional network's weights, checked with their 4-D kernel shapes.
    #[weights = "../../../../tests/ui/weights/tiny_cnn.safetensors"]
    pub struct TinyCnn< Input(1, 4, 4), Conv2d(1, 2, 3), ReLU, Flatten, Linear(8, 2) >
}

minitorch::net! {
    /// A branching network's weights, every nested tensor checked by its PyTorch name.
    #[weights = "../../../../tests/ui/weights/tiny_resnet.safetensors"]
    pub struct TinyResNet< Input(2, 8, 8), Conv2d(2, 4, 3, padding = 1), BatchNorm2d(4), ReLU,
        Residual(Conv2d(4, 4, 3, padding = 1), BatchNorm2d(4), ReLU, Conv2d(4, 4, 3, padding = 1)),
        ReLU,
        Residual(Conv2d(4, 6, 3, stride = 2, padding = 1), ReLU, Conv2d(6, 6, 3, padding = 1);
                 shortcut: Conv2d(4, 6, 1, stride = 2), BatchNorm2d(6)),
        Concat(Conv2d(6, 2, 1); Conv2d(6, 3, 3, padding = 1), ReLU),
        AvgPool2d(2), AdaptiveAvgPool2d(1), Flatten,
        Residual(Linear(5, 5), Tanh),
        Linear(5, 3) >
}
