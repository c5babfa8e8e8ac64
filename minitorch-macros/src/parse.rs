//! Syntax: `#[attrs] vis struct Name< entry, entry, … >`, one or more per `net!`. The entries
//! form a tree:
//!
//! - a built-in layer: `Linear(784, 512)`, `ReLU`, `Conv2d(1, 16, 3, padding = 1)`;
//! - a layer the user wrote (or another network), as its type and shapes: `Gain<128>: 128 -> 128`,
//!   `Block: (8, 10, 10) -> (8, 10, 10)`;
//! - `Residual(entries…)` or `Residual(entries… ; shortcut: entries…)`;
//! - `Concat(entries… ; entries… ; …)`, one list per branch.
//!
//! Nothing is checked here beyond the syntax; an empty list parses, and `check.rs` reports it.

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
    pub entries: Vec<Entry>,
    /// The list's brackets, for errors about the list as a whole.
    pub open: Token![<],
    pub close: Token![>],
}

/// One entry of a layer list.
pub enum Entry {
    BuiltIn(LayerCall),
    /// Boxed: a parsed `Type` is several times larger than a built-in's call.
    Custom(Box<CustomLayer>),
    Residual(ResidualBlock),
    Concat(ConcatBlock),
}

/// A layer the user wrote: `Gain<128>: 128 -> 128`, `Block: (8, 10, 10) -> (8, 10, 10)`.
pub struct CustomLayer {
    pub layer_type: Type,
    pub colon: Token![:],
    pub inputs: ShapeSyntax,
    pub arrow: Token![->],
    pub outputs: ShapeSyntax,
}

/// A shape as written: a width, or `(channels, height, width)`.
pub enum ShapeSyntax {
    Flat(LitInt),
    Image { paren: token::Paren, sizes: Punctuated<LitInt, Token![,]> },
}

/// `Residual(body… )` or `Residual(body… ; shortcut: layers… )`.
pub struct ResidualBlock {
    /// `Residual`, where errors about the block as a whole point.
    pub keyword: Ident,
    pub body: Vec<Entry>,
    /// `shortcut` and its layers.
    pub shortcut: Option<(Ident, Vec<Entry>)>,
}

/// `Concat(branch… ; branch… ; …)`.
pub struct ConcatBlock {
    /// `Concat`, where errors about the block as a whole point.
    pub keyword: Ident,
    pub branches: Vec<Vec<Entry>>,
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
        let mut entries = Vec::new();
        while !input.peek(Token![>]) {
            entries.push(input.parse()?);
            if input.peek(Token![>]) {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        let close: Token![>] = input.parse()?;
        Ok(Self { attributes, weights, visibility, name, entries, open, close })
    }
}

/// Entries separated by commas, up to a `;` or the end of the group.
fn entry_list(input: ParseStream) -> syn::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    while !input.is_empty() && !input.peek(Token![;]) {
        entries.push(input.parse()?);
        if input.is_empty() || input.peek(Token![;]) {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(entries)
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        // A type followed by `:` is the user's layer; a block keyword followed by parentheses is a
        // block; anything else is read as a built-in.
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
        let fork = input.fork();
        let keyword =
            fork.parse::<Ident>().ok().filter(|keyword| keyword == "Residual" || keyword == "Concat");
        if let Some(keyword) = keyword {
            input.parse::<Ident>()?;
            if !input.peek(token::Paren) {
                return Err(syn::Error::new_spanned(
                    &keyword,
                    format!(
                        "`{keyword}` holds its layers in parentheses: `Residual(Linear(64, 64), ReLU)`, \
                         `Concat(Linear(32, 8); Sigmoid)`"
                    ),
                ));
            }
            let content;
            parenthesized!(content in input);
            if keyword == "Concat" {
                let mut branches = vec![entry_list(&content)?];
                while content.parse::<Option<Token![;]>>()?.is_some() {
                    branches.push(entry_list(&content)?);
                }
                return Ok(Entry::Concat(ConcatBlock { keyword, branches }));
            }
            let body = entry_list(&content)?;
            let shortcut = if content.parse::<Option<Token![;]>>()?.is_some() {
                let label: Ident = content.parse()?;
                if label != "shortcut" {
                    return Err(syn::Error::new_spanned(
                        label,
                        "expected `shortcut:` after the `;` of a `Residual`",
                    ));
                }
                content.parse::<Token![:]>()?;
                Some((label, entry_list(&content)?))
            } else {
                None
            };
            if !content.is_empty() {
                return Err(content.error("a `Residual` has one body and at most one `shortcut:`"));
            }
            return Ok(Entry::Residual(ResidualBlock { keyword, body, shortcut }));
        }
        Ok(Entry::BuiltIn(input.parse()?))
    }
}

impl Parse for ShapeSyntax {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(token::Paren) {
            let content;
            let paren = parenthesized!(content in input);
            let sizes = content.parse_terminated(|input: ParseStream| input.parse::<LitInt>(), Token![,])?;
            return Ok(ShapeSyntax::Image { paren, sizes });
        }
        Ok(ShapeSyntax::Flat(input.parse()?))
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

impl ToTokens for LayerCall {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.name.to_tokens(tokens);
        if let Some((paren, arguments)) = &self.arguments {
            paren.surround(tokens, |tokens| arguments.to_tokens(tokens));
        }
    }
}

impl ToTokens for ShapeSyntax {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            ShapeSyntax::Flat(width) => width.to_tokens(tokens),
            ShapeSyntax::Image { paren, sizes } => paren.surround(tokens, |tokens| sizes.to_tokens(tokens)),
        }
    }
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
