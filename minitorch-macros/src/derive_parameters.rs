//! `#[derive(Parameters)]`: a layer's tensors found from its fields, named by field as PyTorch
//! names them. Read → check (each mistake an error spanned at its field) → expand.
//!
//! - a field of type `Param<…>` is a parameter: `weight`, `bias`;
//! - `#[buffer]` marks a tensor a checkpoint keeps that gradients do not train: `running_mean`,
//!   or a count such as `num_batches_tracked`;
//! - `#[random_state]` marks a generator's `u64` state, which a training checkpoint keeps;
//! - `#[module]` marks a part that has tensors of its own (a block's `body`), whose names then
//!   start with the field's: `body.0.weight`;
//! - every other field (outputs, scratch, settings) is the layer's own business.
//!
//! The tensors are visited in the order of the fields, which fixes the order optimisers keep
//! their state in.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Error, Fields, Ident, Type, parse_quote};

use crate::errors::Errors;

/// What a field is to the derive.
enum Role {
    Parameter,
    Buffer,
    RandomState,
    Module,
}

/// The fields the derive visits, with their roles.
struct Tensors(Vec<(Ident, Type, Role)>);

pub fn derive(input: DeriveInput) -> syn::Result<TokenStream> {
    let tensors = check(&input)?;
    Ok(expand(input, tensors))
}

/// The role of every field, or every mistake.
fn check(input: &DeriveInput) -> syn::Result<Tensors> {
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => fields.named.iter().collect(),
            Fields::Unit => Vec::new(),
            Fields::Unnamed(fields) => {
                let message = "`Parameters` names each tensor by its field: give the fields names";
                return Err(Error::new(fields.span(), message));
            }
        },
        _ => return Err(Error::new(input.ident.span(), "`Parameters` can be derived for structs only")),
    };
    let mut errors = Errors::default();
    let mut tensors = Vec::new();
    for field in fields {
        let ident = field.ident.clone().expect("named fields have names");
        let mut marked = Vec::new();
        for attribute in &field.attrs {
            let role =
                ["buffer", "random_state", "module"].into_iter().find(|name| attribute.path().is_ident(name));
            let Some(role) = role else { continue };
            match attribute.meta.require_path_only() {
                Ok(path) => marked.push((role, path.span())),
                Err(_) => {
                    errors.push(Error::new(attribute.meta.span(), format!("`#[{role}]` takes no arguments")))
                }
            }
        }
        let is_param = is_param_type(&field.ty);
        let role = match (marked.as_slice(), is_param) {
            ([], true) => Some(Role::Parameter),
            ([], false) => None,
            ([(_, span), ..], true) => {
                let message = "a `Param` field is a parameter already: remove this attribute";
                errors.push(Error::new(*span, message));
                None
            }
            ([(role, _)], false) => Some(match *role {
                "buffer" => Role::Buffer,
                "random_state" => Role::RandomState,
                _ => Role::Module,
            }),
            ([_, (_, span), ..], false) => {
                errors.push(Error::new(
                    *span,
                    "a field has one role: `#[buffer]`, `#[random_state]` or `#[module]`",
                ));
                None
            }
        };
        if let Some(role) = role {
            tensors.push((ident, field.ty.clone(), role));
        }
    }
    errors.finish(Tensors(tensors))
}

/// Whether `ty` is written `Param<…>` (or `path::Param<…>`).
fn is_param_type(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.qself.is_none()
        && path.path.segments.last().is_some_and(|segment| segment.ident == "Param"))
}

fn expand(input: DeriveInput, Tensors(tensors): Tensors) -> TokenStream {
    let name = &input.ident;
    let mut generics = input.generics.clone();
    let where_clause = generics.make_where_clause();
    for (_, ty, role) in &tensors {
        if let Role::Module = role {
            where_clause.predicates.push(parse_quote!(#ty: ::minitorch::Parameters));
        }
    }
    let (impl_generics, type_generics, where_clause) = generics.split_for_impl();

    let mut parameters = Vec::new();
    let mut buffers = Vec::new();
    let mut random_states = Vec::new();
    let mut counts = Vec::new();
    for (ident, _, role) in &tensors {
        let label = ident.to_string();
        match role {
            Role::Parameter => {
                parameters.push(quote!(visit(self.#ident.view(#label));));
                counts.push(quote!(self.#ident.len()));
            }
            Role::Buffer => buffers.push(quote! {
                visit(::minitorch::Buffer {
                    path: ::core::default::Default::default(),
                    name: #label,
                    value: ::minitorch::BufferValue::from(&mut self.#ident),
                });
            }),
            Role::RandomState => random_states.push(quote! {
                visit(::minitorch::RandomState {
                    path: ::core::default::Default::default(),
                    state: &mut self.#ident,
                });
            }),
            Role::Module => {
                let visits = [
                    (&mut parameters, quote!(visit_parameters)),
                    (&mut buffers, quote!(visit_buffers)),
                    (&mut random_states, quote!(visit_random_state)),
                ];
                for (list, method) in visits {
                    list.push(quote! {
                        ::minitorch::Parameters::#method(&mut self.#ident, &mut |t| visit(t.in_module(#label)));
                    });
                }
                counts.push(quote!(::minitorch::Parameters::parameter_count(&self.#ident)));
            }
        }
    }
    quote! {
        impl #impl_generics ::minitorch::Parameters for #name #type_generics #where_clause {
            #[allow(unused_variables)] // a layer without such tensors
            fn visit_parameters(&mut self, visit: &mut dyn FnMut(::minitorch::Parameter<'_>)) {
                #(#parameters)*
            }

            #[allow(unused_variables)] // a layer without such tensors
            fn visit_buffers(&mut self, visit: &mut dyn FnMut(::minitorch::Buffer<'_>)) {
                #(#buffers)*
            }

            #[allow(unused_variables)] // a layer without such tensors
            fn visit_random_state(&mut self, visit: &mut dyn FnMut(::minitorch::RandomState<'_>)) {
                #(#random_states)*
            }

            fn parameter_count(&self) -> usize {
                0 #(+ #counts)*
            }
        }
    }
}
