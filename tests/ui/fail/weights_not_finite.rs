minitorch::net! {
    #[weights = "../../../../tests/ui/weights/nan.safetensors"]
    struct HoldsNaN< Linear(4, 3), ReLU, Linear(3, 2) >
}

fn main() {}
