minitorch::net! {
    #[weights = "../../../../tests/ui/weights/tiny.safetensors"]
    struct Deeper< Linear(4, 3), ReLU, Linear(3, 2), ReLU, Linear(2, 2) >

    #[weights = "../../../../tests/ui/weights/tiny.safetensors"]
    struct Shallower< Linear(4, 3) >
}

fn main() {}
