//! `#[derive(Initialize)]`: how `net!` builds a layer, written on its fields. Read → check (each
//! mistake an error spanned at its attribute) → expand.
//!
//! - `#[init(expression)]` gives a field its initial value; the expression may draw from `rng`,
//!   the generator the network's `new` was given: `#[init(Param::new(HeapMatrix::from_fn(|_, _|
//!   0.25)))]`;
//! - every other field starts as `Default::default()`: a `Batch` with no samples, a `Param` of
//!   zeros, a zero count.
//!
//! A layer without settings of its own (outputs and gradients only) thus writes no `Initialize`
//! at all beyond the derive.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Error, Expr, Ident, Member};

use crate::errors::Errors;

/// Each field (by name, or by position in a tuple struct) with the span of its type and its
/// `#[init(…)]` expression, if it has one, in declaration order.
struct Initializers(Vec<(Member, Span, Option<Expr>)>);

pub fn derive(input: DeriveInput) -> syn::Result<TokenStream> {
    let initializers = check(&input)?;
    Ok(expand(&input, initializers))
}

/// Every field's initial value, or every mistake.
fn check(input: &DeriveInput) -> syn::Result<Initializers> {
    let Data::Struct(data) = &input.data else {
        return Err(Error::new(input.ident.span(), "`Initialize` can be derived for structs only"));
    };
    let mut errors = Errors::default();
    let mut fields = Vec::new();
    for (index, field) in data.fields.iter().enumerate() {
        let member = field.ident.clone().map_or_else(|| Member::from(index), Member::Named);
        let mut initial = None;
        for attribute in field.attrs.iter().filter(|attribute| attribute.path().is_ident("init")) {
            let expression = attribute.meta.require_list().and_then(|list| list.parse_args::<Expr>());
            match (expression, &initial) {
                (Ok(expression), None) => initial = Some(expression),
                (Ok(_), Some(_)) => errors.push(Error::new(attribute.meta.span(), "a field has one `#[init(…)]`: remove this one")),
                (Err(_), _) => errors.push(Error::new(
                    attribute.meta.span(),
                    "`#[init(…)]` takes the field's initial value: `#[init(Param::new(HeapMatrix::zeros()))]`",
                )),
            }
        }
        fields.push((member, field.ty.span(), initial));
    }
    errors.finish(Initializers(fields))
}

fn expand(input: &DeriveInput, Initializers(fields): Initializers) -> TokenStream {
    let name = &input.ident;
    let (impl_generics, type_generics, where_clause) = input.generics.split_for_impl();
    // Spanned at the call site, so that `rng` in a field's expression is this parameter.
    let rng = Ident::new("rng", Span::call_site());
    let values = fields.into_iter().map(|(member, type_span, initial)| {
        // A field without `Default` is reported at its type.
        let value = initial
            .map_or_else(|| quote_spanned!(type_span=> ::core::default::Default::default()), |e| quote!(#e));
        // `Self { 0: … }` builds a tuple struct too, and `Self {}` a unit struct.
        quote!(#member: #value)
    });
    quote! {
        impl #impl_generics ::minitorch::Initialize for #name #type_generics #where_clause {
            #[allow(unused_variables)] // a layer that draws nothing
            fn initialize(#rng: &mut impl ::minitorch::rand::Rng) -> Self {
                Self { #(#values),* }
            }
        }
    }
}
