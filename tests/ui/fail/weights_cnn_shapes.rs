minitorch::net! {
    /// The file holds a 3×3 kernel; this network has a 2×2 one.
    #[weights = "../../../../tests/ui/weights/tiny_cnn.safetensors"]
    struct SmallerKernel< Input(1, 4, 4), Conv2d(1, 2, 2), ReLU, Flatten, Linear(18, 2) >
}

fn main() {}
