minitorch::net! {
    #[weights = "../../../../tests/ui/weights/tiny.safetensors"]
    struct Wider< Linear(4, 5), ReLU, Linear(5, 2) >
}

fn main() {}
