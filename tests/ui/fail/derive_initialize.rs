use minitorch::{HeapMatrix, Initialize, Param};

#[derive(Initialize)]
enum NotAStruct {
    A,
}

#[derive(Initialize)]
struct Mistakes {
    // `#[init]` needs the value.
    #[init]
    weight: Param<HeapMatrix<2, 1>>,
    // It is an expression in parentheses.
    #[init = 0.5]
    scale: f32,
    // One per field.
    #[init(1)]
    #[init(2)]
    width: usize,
}

// A field without `#[init(…)]` starts as `Default::default()`, so its type needs `Default`.
struct NoDefault;

#[derive(Initialize)]
struct Missing {
    part: NoDefault,
}

fn main() {}
