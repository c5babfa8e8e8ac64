//! The `net!` macro of [minitorch](https://docs.rs/minitorch): see its documentation there.
//!
//! The macro is a pipeline over a tree of entries (layers, and blocks holding lists of
//! entries), one step per file, each importing only the steps before it:
//!
//! - `parse.rs` reads the definitions into a syntax tree; `arguments.rs` reads a layer's
//!   arguments;
//! - `check.rs` walks the tree with the shape flowing through it, `rules.rs` holding each shape
//!   rule (output shape, generic arguments, tensors) and `kinds.rs` the table of built-in kinds;
//!   every mistake becomes an error in `errors.rs`'s collector, spanned at the entry at fault;
//! - `weights.rs` checks a `#[weights = "…"]` file against the checked tree (`model.rs`);
//! - `expand.rs` writes the structs with their straight-line `forward` and `backward`, and
//!   `summary.rs` their documentation and `summary()`, `pytorch.rs` the same network as PyTorch
//!   code.
//!
//! `#[derive(Parameters)]` and `#[derive(Initialize)]` are apart from the pipeline, in
//! `derive_parameters.rs` and `derive_initialize.rs`.

use proc_macro::TokenStream;

mod arguments;
mod check;
mod derive_initialize;
mod derive_parameters;
mod errors;
mod expand;
mod kinds;
mod model;
mod parse;
mod pytorch;
mod rules;
mod shape;
mod summary;
#[cfg(test)]
mod tests;
mod weights;

/// Declares networks from layer lists; documented in the `minitorch` crate, which re-exports it.
#[proc_macro]
pub fn net(input: TokenStream) -> TokenStream {
    let definitions = syn::parse_macro_input!(input as parse::Definitions);
    let mut output = proc_macro2::TokenStream::new();
    for definition in definitions.0 {
        match check::check(definition).and_then(weights::check) {
            Ok(network) => output.extend(expand::expand(&network)),
            Err(error) => output.extend(error.to_compile_error()),
        }
    }
    output.into()
}

/// Finds a layer's parameters, buffers and parts from its fields; documented in the `minitorch`
/// crate, which re-exports it.
#[proc_macro_derive(Parameters, attributes(buffer, random_state, module))]
pub fn derive_parameters(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    derive_parameters::derive(input).unwrap_or_else(syn::Error::into_compile_error).into()
}

/// Builds a layer from `#[init(…)]` expressions on its fields and `Default` for the rest;
/// documented in the `minitorch` crate, which re-exports it.
#[proc_macro_derive(Initialize, attributes(init))]
pub fn derive_initialize(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    derive_initialize::derive(input).unwrap_or_else(syn::Error::into_compile_error).into()
}
