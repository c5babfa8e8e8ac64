//! Syntax: `#[attrs] vis struct Name< Layer(args), Layer, Type: in -> out, … >`, one or more per
//! `net!`. An entry is a built-in layer (`Linear(784, 512)`, `ReLU`) or a layer the user wrote,
//! given as its Rust type and widths (`Gain<128>: 128 -> 128`).

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{
    Attribute, Expr, ExprLit, Ident, Lit, LitInt, LitStr, Meta, MetaNameValue, Token, Type, Visibility,
    parenthesized, token,
};

/// Everything inside one `net! { … }`.
pub struct Definitions(pub Vec<Definition>);

/// One network as written.
pub struct Definition {
    /// The attributes to pass through to the struct (without `#[weights = …]`).
    pub attributes: Vec<Attribute>,
    /// `#[weights = "path"]`: a safetensors file to compile in, relative to the invoking crate's
    /// manifest directory.
    pub weights: Option<LitStr>,
    pub visibility: Visibility,
    pub name: Ident,
    pub layers: Vec<Entry>,
    /// The list's brackets, for errors about the list as a whole.
    pub open: Token![<],
    pub close: Token![>],
}

/// One entry of a layer list.
pub enum Entry {
    BuiltIn(LayerCall),
    /// Boxed: a parsed `Type` is several times larger than a built-in's call.
    Custom(Box<CustomLayer>),
}

/// A layer the user wrote: `Gain<128>: 128 -> 128`.
pub struct CustomLayer {
    pub layer_type: Type,
    pub colon: Token![:],
    pub inputs: LitInt,
    pub arrow: Token![->],
    pub outputs: LitInt,
}

impl ToTokens for CustomLayer {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.layer_type.to_tokens(tokens);
        self.colon.to_tokens(tokens);
        self.inputs.to_tokens(tokens);
        self.arrow.to_tokens(tokens);
        self.outputs.to_tokens(tokens);
    }
}

impl ToTokens for Entry {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Entry::BuiltIn(call) => call.to_tokens(tokens),
            Entry::Custom(custom) => custom.to_tokens(tokens),
        }
    }
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        // A type followed by `:` is the user's layer; anything else is read as a built-in.
        let fork = input.fork();
        if fork.parse::<Type>().is_ok() && fork.peek(Token![:]) {
            return Ok(Entry::Custom(Box::new(CustomLayer {
                layer_type: input.parse()?,
                colon: input.parse()?,
                inputs: input.parse()?,
                arrow: input.parse()?,
                outputs: input.parse()?,
            })));
        }
        Ok(Entry::BuiltIn(input.parse()?))
    }
}

/// One built-in layer as written: `Linear(784, 512)`, `ReLU`, `Dropout(0.2)`.
pub struct LayerCall {
    pub name: Ident,
    pub arguments: Option<(token::Paren, Punctuated<Expr, Token![,]>)>,
}

impl LayerCall {
    /// The layer as it was written, normalised (`Linear(784, 512)`), for documentation.
    pub fn source(&self) -> String {
        match &self.arguments {
            None => self.name.to_string(),
            Some((_, arguments)) => {
                let arguments: Vec<String> =
                    arguments.iter().map(|a| a.to_token_stream().to_string().replace(' ', "")).collect();
                format!("{}({})", self.name, arguments.join(", "))
            }
        }
    }
}

impl ToTokens for LayerCall {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.name.to_tokens(tokens);
        if let Some((paren, arguments)) = &self.arguments {
            paren.surround(tokens, |tokens| arguments.to_tokens(tokens));
        }
    }
}

impl Parse for Definitions {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut definitions = Vec::new();
        while !input.is_empty() {
            definitions.push(input.parse()?);
        }
        if definitions.is_empty() {
            return Err(input.error("expected a network: `struct Name< Linear(784, 10) >`"));
        }
        Ok(Self(definitions))
    }
}

impl Parse for Definition {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut attributes = input.call(Attribute::parse_outer)?;
        let mut weights = None;
        for attribute in attributes.extract_if(.., |a| a.path().is_ident("weights")) {
            let error = || {
                syn::Error::new_spanned(&attribute, "expected `#[weights = \"path/to/model.safetensors\"]`")
            };
            let Meta::NameValue(MetaNameValue {
                value: Expr::Lit(ExprLit { lit: Lit::Str(path), .. }), ..
            }) = &attribute.meta
            else {
                return Err(error());
            };
            if weights.replace(path.clone()).is_some() {
                return Err(syn::Error::new_spanned(&attribute, "only one `#[weights = …]` per network"));
            }
        }
        let visibility = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name = input.parse()?;
        let open: Token![<] = input.parse()?;
        let mut layers = Vec::new();
        while !input.peek(Token![>]) {
            layers.push(input.parse()?);
            if input.peek(Token![>]) {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        let close: Token![>] = input.parse()?;
        Ok(Self { attributes, weights, visibility, name, layers, open, close })
    }
}

impl Parse for LayerCall {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name = input.parse()?;
        let arguments = if input.peek(token::Paren) {
            let content;
            let paren = parenthesized!(content in input);
            Some((paren, content.parse_terminated(Expr::parse, Token![,])?))
        } else {
            None
        };
        Ok(Self { name, arguments })
    }
}
