minitorch::net! {
    #[weights("tiny.safetensors")]
    struct WrongSyntax< Linear(4, 3), ReLU, Linear(3, 2) >
}

fn main() {}
