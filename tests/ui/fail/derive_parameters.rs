use minitorch::{HeapMatrix, Param, Parameters};

// A tensor is named by its field, so the fields need names.
#[derive(Parameters)]
struct Unnamed(Param<HeapMatrix<2, 1>>);

#[derive(Parameters)]
enum NotAStruct {
    A,
}

#[derive(Parameters)]
struct Roles {
    // A `Param` is a parameter already.
    #[buffer]
    weight: Param<HeapMatrix<2, 1>>,
    // One role per field.
    #[buffer]
    #[module]
    running_mean: HeapMatrix<2, 1>,
    // Role attributes take no arguments.
    #[module(name = "body")]
    body: Param<HeapMatrix<2, 1>>,
}

fn main() {}
