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
    let expected = &*network.linear2.weight * hidden + &*network.linear2.bias;
    assert!((logits.column(0) - expected).abs().max() < 1e-6);
}
