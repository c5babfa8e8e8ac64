//! A `Residual` whose second list is not labelled `shortcut:`, and one without its parentheses.
minitorch::net! {
    struct Typo< Linear(4, 4), Residual(Linear(4, 4); shortcat: Linear(4, 4)), Linear(4, 2) >
}

minitorch::net! {
    struct Bare< Linear(4, 4), Residual, Linear(4, 2) >
}

fn main() {}
