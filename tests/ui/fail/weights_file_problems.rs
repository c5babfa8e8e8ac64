minitorch::net! {
    #[weights = "../../../../tests/ui/weights/does-not-exist.safetensors"]
    struct Missing< Linear(4, 3), ReLU, Linear(3, 2) >

    #[weights = "../../../../tests/ui/weights/README.md"]
    struct NotSafetensors< Linear(4, 3), ReLU, Linear(3, 2) >
}

fn main() {}
