//! The `net!` macro of [minitorch](https://docs.rs/minitorch): see its documentation there.
//!
//! The macro works in three steps, one file each: `parse.rs` reads the layer list into a small
//! syntax tree, `check.rs` resolves the layers and their widths (every mistake becomes an error
//! spanned at the layer that causes it), and `expand.rs` writes the network's struct with its
//! straight-line `forward` and `backward`. `kinds.rs` describes each built-in layer kind in one
//! entry, and `weights.rs` checks a `#[weights = "…"]` file against the layers.

use proc_macro::TokenStream;

mod check;
mod expand;
mod kinds;
mod parse;
mod weights;

/// Declares networks from layer lists; documented in the `minitorch` crate, which re-exports it.
#[proc_macro]
pub fn net(input: TokenStream) -> TokenStream {
    let definitions = syn::parse_macro_input!(input as parse::Definitions);
    let mut output = proc_macro2::TokenStream::new();
    for definition in definitions.0 {
        match check::check(definition) {
            Ok(network) => output.extend(expand::expand(&network)),
            Err(error) => output.extend(error.to_compile_error()),
        }
    }
    output.into()
}
