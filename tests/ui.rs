//! Every compile-time error `net!`, `#[derive(Parameters)]` and `#[derive(Initialize)]`
//! promise, with the exact message (`tests/ui/fail/*.stderr`), and the valid declarations
//! compiling and running (`tests/ui/pass`).
//!
//! After changing a message on purpose: `TRYBUILD=overwrite cargo test --test ui`, then review the
//! `.stderr` diff.

#[test]
fn net_macro_compile_errors() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
