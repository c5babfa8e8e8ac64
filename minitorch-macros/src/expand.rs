//! Writes a checked network as the code a person would write by hand for that one network: a
//! struct with a field per layer, `forward` as one statement per layer, `backward` as one
//! statement per layer in reverse order. Each list inside a block (a body, a shortcut, a
//! branch) becomes a struct of its own, written by the same functions, and the block a field of
//! the library's `Residual` or `Concat` holding it. What is the same for every network lives in
//! the `minitorch` library, not here.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, Visibility};

use crate::model::{CheckedEntry, CheckedNetwork, Node, Sequence};
use crate::pytorch::pytorch_methods;
use crate::summary::{entry_doc, struct_doc, summary_text};

pub fn expand(network: &CheckedNetwork) -> TokenStream {
    let definition = &network.definition;
    let list =
        List { sequence: &network.root, name: definition.name.clone(), visibility: &definition.visibility };
    let parts = [
        network_struct(network, &list),
        constructor(&list, true),
        debug(&list, true),
        parameters(&list),
        layer_impl(&list),
        network_impl(network, &list),
        network_methods(network, &list),
        pretrained(network).unwrap_or_default(),
    ];
    let inner = inner_lists(&list).into_iter().map(|inner| inner_struct(&inner));
    quote!(#(#parts)* #(#inner)*)
}

/// A list that becomes a struct: the network's own, or one inside a block.
struct List<'a> {
    sequence: &'a Sequence,
    /// The struct's name: `ResNet`, `ResNetLayer3Body`, `ResNetLayer6Branch1`.
    name: Ident,
    visibility: &'a Visibility,
}

/// Every list inside a block of `list`, nested ones included, with its struct's name: the
/// body of the block at index 3 of `ResNet` is `ResNetLayer3Body`.
fn inner_lists<'a>(list: &List<'a>) -> Vec<(List<'a>, String)> {
    let mut lists = Vec::new();
    for entry in list.sequence.layers() {
        for (sequence, role) in entry_lists(entry) {
            let name = inner_name(&list.name, entry, &role);
            let inner = List { sequence, name, visibility: list.visibility };
            let nested = inner_lists(&inner);
            let described = format!(
                "{} of the `{}` at index {} of [`{}`]",
                role_text(&role),
                entry.written,
                index(entry),
                list.name
            );
            lists.push((inner, described));
            lists.extend(nested);
        }
    }
    lists
}

/// The lists a block holds, with their role: `Body`, `Shortcut`, `Branch0`.
fn entry_lists(entry: &CheckedEntry) -> Vec<(&Sequence, String)> {
    match &entry.node {
        Node::Residual { body, shortcut } => {
            let mut lists = vec![(body, "Body".to_string())];
            lists.extend(shortcut.iter().map(|shortcut| (shortcut, "Shortcut".to_string())));
            lists
        }
        Node::Concat { branches } => {
            branches.iter().enumerate().map(|(k, branch)| (branch, format!("Branch{k}"))).collect()
        }
        Node::BuiltIn { .. } | Node::Custom(_) => Vec::new(),
    }
}

fn role_text(role: &str) -> String {
    match role.strip_prefix("Branch") {
        Some(k) => format!("Branch {k}"),
        None => format!("The {}", role.to_lowercase()),
    }
}

fn inner_name(outer: &Ident, entry: &CheckedEntry, role: &str) -> Ident {
    format_ident!("{}Layer{}{}", outer, index(entry), role)
}

fn index(entry: &CheckedEntry) -> usize {
    entry.index.unwrap_or_default()
}

/// `linear0`, `relu1`, `conv2d3`, `residual4`: the kind and the index in the list. A layer the
/// user wrote is `layer{index}`.
fn field_name(entry: &CheckedEntry) -> Ident {
    let index = index(entry);
    match &entry.node {
        Node::BuiltIn { kind, .. } => format_ident!("{}{index}", kind.field),
        Node::Custom(_) => format_ident!("layer{index}"),
        Node::Residual { .. } => format_ident!("residual{index}"),
        Node::Concat { .. } => format_ident!("concat{index}"),
    }
}

fn fields(list: &List<'_>) -> Vec<Ident> {
    list.sequence.layers().map(field_name).collect()
}

/// The buffers a list keeps between its layers: `linear0_output`, the output of `linear0` that
/// the next layer reads, and `grad_linear0_output`, d loss / d that output, which the next
/// layer's backward writes and `linear0`'s reads. The last layer's output belongs to whoever
/// calls the list.
struct Buffers {
    outputs: Vec<Ident>,
    gradients: Vec<Ident>,
    types: Vec<TokenStream>,
    docs: Vec<String>,
}

fn buffers(list: &List<'_>) -> Buffers {
    let between: Vec<&CheckedEntry> = list.sequence.layers().collect();
    let between = &between[..between.len() - 1];
    Buffers {
        outputs: between.iter().map(|entry| output_field(entry)).collect(),
        gradients: between.iter().map(|entry| format_ident!("grad_{}", output_field(entry))).collect(),
        types: between
            .iter()
            .map(|entry| {
                let features = width(entry.output.features());
                quote!(::minitorch::Batch<#features>)
            })
            .collect(),
        docs: between
            .iter()
            .map(|entry| {
                format!(
                    " The output of `{}` in the last forward, which the next layer reads.",
                    field_name(entry)
                )
            })
            .collect(),
    }
}

/// The field that keeps a layer's output: `linear2_output` for `linear2`.
fn output_field(entry: &CheckedEntry) -> Ident {
    format_ident!("{}_output", field_name(entry))
}

/// The field that keeps a network's own output, its last layer's.
fn network_output_field(list: &List<'_>) -> Ident {
    output_field(list.sequence.layers().last().expect("a checked list has a layer"))
}

fn width(features: usize) -> Literal {
    Literal::usize_unsuffixed(features)
}

/// The field's type: a library layer with its generic arguments, the user's type, or a block
/// holding the structs of its lists.
fn entry_type(entry: &CheckedEntry, outer: &Ident) -> TokenStream {
    let (inputs, outputs) = (width(entry.input.features()), width(entry.output.features()));
    match &entry.node {
        Node::BuiltIn { kind, integers, .. } => {
            let name = format_ident!("{}", kind.type_name);
            let generics = kind.rule.generics(integers, entry.input, entry.output).into_iter().map(width);
            quote!(::minitorch::layers::#name<#(#generics),*>)
        }
        Node::Custom(written) => quote!(#written),
        Node::Residual { shortcut, .. } => {
            let body = inner_name(outer, entry, "Body");
            let shortcut = match shortcut {
                Some(_) => {
                    let shortcut = inner_name(outer, entry, "Shortcut");
                    quote!(#shortcut)
                }
                None => quote!(::minitorch::layers::Identity),
            };
            quote!(::minitorch::Residual<#inputs, #outputs, #body, #shortcut>)
        }
        Node::Concat { branches } => {
            let branches = branches.iter().enumerate().map(|(k, branch)| {
                let name = inner_name(outer, entry, &format!("Branch{k}"));
                let branch_width = width(branch.output().features());
                quote!(::minitorch::layers::Branch<#branch_width, #name>)
            });
            quote!(::minitorch::Concat<#inputs, #outputs, (#(#branches,)*)>)
        }
    }
}

/// `<Type as Layer<IN, OUT>>`, spanned at the user's type so that a type without that `Layer`
/// implementation is reported at its entry.
fn as_layer(entry: &CheckedEntry, outer: &Ident) -> TokenStream {
    let layer_type = entry_type(entry, outer);
    let (inputs, outputs) = (width(entry.input.features()), width(entry.output.features()));
    match &entry.node {
        Node::Custom(written) => {
            quote_spanned!(written.span()=> <#layer_type as ::minitorch::Layer<#inputs, #outputs>>)
        }
        _ => quote!(<#layer_type as ::minitorch::Layer<#inputs, #outputs>>),
    }
}

/// The expression that builds the field, drawing from `rng`.
fn entry_constructor(entry: &CheckedEntry, outer: &Ident) -> TokenStream {
    match &entry.node {
        Node::BuiltIn { kind, numbers, .. } => {
            let layer_type = entry_type(entry, outer);
            let function = format_ident!("{}", kind.constructor);
            let numbers = numbers.iter().map(|&number| Literal::f32_suffixed(number as f32));
            let rng = kind.takes_rng.then(|| quote!(rng));
            quote!(<#layer_type>::#function(#(#numbers,)* #rng))
        }
        Node::Custom(written) => {
            quote_spanned!(written.span()=> <#written as ::minitorch::Initialize>::initialize(rng))
        }
        Node::Residual { shortcut, .. } => {
            let body = inner_name(outer, entry, "Body");
            let shortcut = match shortcut {
                Some(_) => {
                    let shortcut = inner_name(outer, entry, "Shortcut");
                    quote!(#shortcut::new(rng))
                }
                None => quote!(::minitorch::layers::Identity),
            };
            quote!(::minitorch::Residual::new(#body::new(rng), #shortcut))
        }
        Node::Concat { branches } => {
            let branches = (0..branches.len()).map(|k| {
                let name = inner_name(outer, entry, &format!("Branch{k}"));
                quote!(::minitorch::layers::Branch::new(#name::new(rng)))
            });
            quote!(::minitorch::Concat::new((#(#branches,)*)))
        }
    }
}

fn network_struct(network: &CheckedNetwork, list: &List<'_>) -> TokenStream {
    let definition = &network.definition;
    let (attributes, visibility, name) = (&definition.attributes, &definition.visibility, &definition.name);
    let fields = fields(list);
    let types = list.sequence.layers().map(|entry| entry_type(entry, name));
    let field_docs = list.sequence.layers().map(entry_doc);
    let input_width = width(network.input().features());
    let output_width = width(network.output().features());
    let struct_doc = struct_doc(network);
    let Buffers { outputs, gradients, types: buffer_types, docs: buffer_docs } = buffers(list);
    let output = network_output_field(list);
    let output_doc =
        format!(" The network's output in the last forward: that of `{}`.", fields[fields.len() - 1]);
    quote! {
        #(#attributes)*
        #struct_doc
        #[derive(Clone)]
        #visibility struct #name {
            #(#field_docs pub #fields: #types,)*
            #(#[doc = #buffer_docs] pub #outputs: #buffer_types,)*
            #[doc = #output_doc]
            pub #output: ::minitorch::Batch<#output_width>,
            #(#gradients: #buffer_types,)*
            /// The input of the last forward, which the first layer's backward needs.
            input: ::minitorch::Batch<#input_width>,
            /// Where the first layer may write d loss / d input, which nobody reads.
            grad_input: ::minitorch::Batch<#input_width>,
            /// The batch size of the last forward (0 before the first).
            forward_samples: usize,
            mode: ::minitorch::Mode,
        }
    }
}

/// A list inside a block: its struct, built and run as the network's own list is.
fn inner_struct((list, described): &(List<'_>, String)) -> TokenStream {
    let (visibility, name) = (list.visibility, &list.name);
    let fields = fields(list);
    let types = list.sequence.layers().map(|entry| entry_type(entry, name));
    let field_docs = list.sequence.layers().map(entry_doc);
    let doc = format!(" {described}: `nn.Sequential` in PyTorch's names. Generated by `net!`.");
    let Buffers { outputs, gradients, types: buffer_types, docs: buffer_docs } = buffers(list);
    let parts = [constructor(list, false), debug(list, false), parameters(list), layer_impl(list)];
    quote! {
        #[doc = #doc]
        #[derive(Clone)]
        #visibility struct #name {
            #(#field_docs pub #fields: #types,)*
            #(#[doc = #buffer_docs] pub #outputs: #buffer_types,)*
            #(#gradients: #buffer_types,)*
        }
        #(#parts)*
    }
}

/// `new` and `Initialize`; a network's struct also starts its batch size and mode. Outputs start
/// with one sample's room, so that single-sample inference never allocates.
fn constructor(list: &List<'_>, network: bool) -> TokenStream {
    let (visibility, name) = (list.visibility, &list.name);
    let fields = fields(list);
    let constructors = list.sequence.layers().map(|entry| entry_constructor(entry, name));
    let Buffers { outputs, gradients, .. } = buffers(list);
    let network_fields = network.then(|| {
        let output = network_output_field(list);
        quote! {
            #output: ::minitorch::Batch::zeros(1),
            input: ::minitorch::Batch::zeros(1),
            grad_input: ::minitorch::Batch::zeros(0),
            forward_samples: 0,
            mode: ::minitorch::Mode::Train,
        }
    });
    quote! {
        impl #name {
            /// Built as PyTorch initialises the same layers, drawing from `rng`; a network
            /// starts in training mode.
            #visibility fn new(rng: &mut impl ::minitorch::rand::Rng) -> Self {
                Self {
                    #(#fields: #constructors,)*
                    #(#outputs: ::minitorch::Batch::zeros(1),)*
                    #(#gradients: ::minitorch::Batch::zeros(0),)*
                    #network_fields
                }
            }
        }

        impl ::minitorch::Initialize for #name {
            fn initialize(rng: &mut impl ::minitorch::rand::Rng) -> Self {
                Self::new(rng)
            }
        }
    }
}

fn debug(list: &List<'_>, network: bool) -> TokenStream {
    let name = &list.name;
    let name_text = name.to_string();
    let fields = fields(list);
    let field_texts = fields.iter().map(|field| field.to_string());
    let mode = network.then(|| quote!(.field("mode", &self.mode)));
    quote! {
        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#name_text)
                    #(.field(#field_texts, &self.#fields))*
                    #mode
                    .finish()
            }
        }
    }
}

/// Every layer is visited, its tensors named under its index; a layer without parameters or
/// buffers visits nothing.
fn parameters(list: &List<'_>) -> TokenStream {
    let name = &list.name;
    let fields = fields(list);
    let indices: Vec<Literal> = list.sequence.layers().map(|entry| width(index(entry))).collect();
    quote! {
        impl ::minitorch::Parameters for #name {
            fn visit_parameters(&mut self, visit: &mut dyn FnMut(::minitorch::Parameter<'_>)) {
                #(::minitorch::Parameters::visit_parameters(&mut self.#fields, &mut |p| visit(p.in_layer(#indices)));)*
            }

            fn parameter_count(&self) -> usize {
                0 #(+ ::minitorch::Parameters::parameter_count(&self.#fields))*
            }

            fn visit_buffers(&mut self, visit: &mut dyn FnMut(::minitorch::Buffer<'_>)) {
                #(::minitorch::Parameters::visit_buffers(&mut self.#fields, &mut |b| visit(b.in_layer(#indices)));)*
            }

            fn visit_random_state(&mut self, visit: &mut dyn FnMut(::minitorch::RandomState<'_>)) {
                #(::minitorch::Parameters::visit_random_state(&mut self.#fields, &mut |r| visit(r.in_layer(#indices)));)*
            }
        }
    }
}

/// One `Layer::forward` per layer, from `input` to `output`, through the buffers between them.
fn forward_steps(list: &List<'_>, input: &TokenStream, output: &TokenStream) -> TokenStream {
    let fields = fields(list);
    let as_layers: Vec<TokenStream> =
        list.sequence.layers().map(|entry| as_layer(entry, &list.name)).collect();
    let Buffers { outputs, .. } = buffers(list);
    let last = fields.len() - 1;
    let steps = (0..=last).map(|i| {
        let (field, layer) = (&fields[i], &as_layers[i]);
        let from = if i == 0 { input.clone() } else { buffer(&outputs[i - 1]) };
        let to = if i == last { output.clone() } else { buffer_mut(&outputs[i]) };
        quote!(#layer::forward(&mut self.#field, #from, #to, mode);)
    });
    quote!(#(#steps)*)
}

/// One `Layer::backward` per layer in reverse order: each layer gets the input and output it
/// had in forward, d loss / d its output, and the buffer for d loss / d its input. Layer 0 gets
/// `input` and writes into `grad_input`, and with `parameters_only` need not.
fn backward_steps(list: &List<'_>, ends: [&TokenStream; 4], parameters_only: bool) -> TokenStream {
    let [input, output, grad_output, grad_input] = ends;
    let fields = fields(list);
    let as_layers: Vec<TokenStream> =
        list.sequence.layers().map(|entry| as_layer(entry, &list.name)).collect();
    let Buffers { outputs, gradients, .. } = buffers(list);
    let last = fields.len() - 1;
    let steps = (0..=last).rev().map(|i| {
        let (field, layer) = (&fields[i], &as_layers[i]);
        let from = if i == 0 { input.clone() } else { buffer(&outputs[i - 1]) };
        let to = if i == last { output.clone() } else { buffer(&outputs[i]) };
        let grad_to = if i == last { grad_output.clone() } else { buffer(&gradients[i]) };
        let grad_from = if i == 0 { grad_input.clone() } else { buffer_mut(&gradients[i - 1]) };
        let method = if i == 0 && parameters_only { quote!(backward_parameters) } else { quote!(backward) };
        quote!(#layer::#method(&mut self.#field, #from, #to, #grad_to, #grad_from);)
    });
    quote!(#(#steps)*)
}

fn buffer(field: &Ident) -> TokenStream {
    quote!(&self.#field)
}

fn buffer_mut(field: &Ident) -> TokenStream {
    quote!(&mut self.#field)
}

/// The list as a layer: a block's list, or a network used inside another one.
fn layer_impl(list: &List<'_>) -> TokenStream {
    let name = &list.name;
    let inputs = width(list.sequence.input().features());
    let outputs = width(list.sequence.output().features());
    let fields = fields(list);
    let as_layers: Vec<TokenStream> = list.sequence.layers().map(|entry| as_layer(entry, name)).collect();
    let (input, output, grad_output, grad_input) =
        (quote!(input), quote!(output), quote!(grad_output), quote!(grad_input));
    let forward = forward_steps(list, &input, &output);
    let ends = [&input, &output, &grad_output, &grad_input];
    let backward = backward_steps(list, ends, false);
    let backward_parameters = backward_steps(list, ends, true);
    quote! {
        impl ::minitorch::Layer<#inputs, #outputs> for #name {
            fn forward(
                &mut self,
                input: &::minitorch::Batch<#inputs>,
                output: &mut ::minitorch::Batch<#outputs>,
                mode: ::minitorch::Mode,
            ) {
                #forward
            }

            fn backward(
                &mut self,
                input: &::minitorch::Batch<#inputs>,
                output: &::minitorch::Batch<#outputs>,
                grad_output: &::minitorch::Batch<#outputs>,
                grad_input: &mut ::minitorch::Batch<#inputs>,
            ) {
                #backward
            }

            fn backward_parameters(
                &mut self,
                input: &::minitorch::Batch<#inputs>,
                output: &::minitorch::Batch<#outputs>,
                grad_output: &::minitorch::Batch<#outputs>,
                grad_input: &mut ::minitorch::Batch<#inputs>,
            ) {
                #backward_parameters
            }

            fn check_batch(&self, samples: usize, mode: ::minitorch::Mode) -> ::core::result::Result<(), ::minitorch::Error> {
                #(#as_layers::check_batch(&self.#fields, samples, mode)?;)*
                Ok(())
            }
        }
    }
}

fn network_impl(network: &CheckedNetwork, list: &List<'_>) -> TokenStream {
    let name = &list.name;
    let inputs = width(network.input().features());
    let outputs = width(network.output().features());
    let output_field = network_output_field(list);
    let (input, output) = (quote!(&self.input), quote!(&mut self.#output_field));
    let forward = forward_steps(list, &input, &output);
    let (output, grad_output, grad_input) =
        (quote!(&self.#output_field), quote!(grad_output), quote!(&mut self.grad_input));
    let backward = backward_steps(list, [&input, &output, &grad_output, &grad_input], true);
    let (summary, pytorch) = (summary_text(network), pytorch_methods(network));
    quote! {
        impl ::minitorch::Network<#inputs, #outputs> for #name {
            fn forward(
                &mut self,
                input: &::minitorch::Batch<#inputs>,
            ) -> ::core::result::Result<&::minitorch::Batch<#outputs>, ::minitorch::Error> {
                let samples = input.ncols();
                ::minitorch::network::__private::check_forward(samples)?;
                <Self as ::minitorch::Layer<#inputs, #outputs>>::check_batch(self, samples, self.mode)?;
                ::minitorch::network::__private::copy_batch(&mut self.input, input);
                self.forward_samples = samples;
                let mode = self.mode;
                #forward
                Ok(&self.#output_field)
            }

            fn backward(
                &mut self,
                grad_output: &::minitorch::Batch<#outputs>,
            ) -> ::core::result::Result<(), ::minitorch::Error> {
                ::minitorch::network::__private::check_backward(self.forward_samples, grad_output.ncols())?;
                #backward
                Ok(())
            }

            fn mode(&self) -> ::minitorch::Mode {
                self.mode
            }

            fn set_mode(&mut self, mode: ::minitorch::Mode) {
                self.mode = mode;
            }

            fn summary() -> &'static str {
                #summary
            }

            #pytorch
        }
    }
}

/// `forward` and `backward` as inherent methods: a network is both a `Network` and a `Layer`,
/// and with both traits in scope `net.forward(&x)` would otherwise be ambiguous.
fn network_methods(network: &CheckedNetwork, list: &List<'_>) -> TokenStream {
    let (visibility, name) = (list.visibility, &list.name);
    let inputs = width(network.input().features());
    let outputs = width(network.output().features());
    quote! {
        impl #name {
            /// Runs the network on `input`, one column per sample: [`Network::forward`](::minitorch::Network::forward).
            ///
            /// # Errors
            /// An empty batch, or one a layer refuses (batch normalisation: one sample in training).
            #[allow(dead_code)]
            #visibility fn forward(
                &mut self,
                input: &::minitorch::Batch<#inputs>,
            ) -> ::core::result::Result<&::minitorch::Batch<#outputs>, ::minitorch::Error> {
                <Self as ::minitorch::Network<#inputs, #outputs>>::forward(self, input)
            }

            /// Adds every parameter's gradient for `grad_output`: [`Network::backward`](::minitorch::Network::backward).
            ///
            /// # Errors
            /// If `grad_output` has another batch size than the last `forward`.
            #[allow(dead_code)]
            #visibility fn backward(
                &mut self,
                grad_output: &::minitorch::Batch<#outputs>,
            ) -> ::core::result::Result<(), ::minitorch::Error> {
                <Self as ::minitorch::Network<#inputs, #outputs>>::backward(self, grad_output)
            }
        }
    }
}

fn pretrained(network: &CheckedNetwork) -> Option<TokenStream> {
    let definition = &network.definition;
    let (visibility, name) = (&definition.visibility, &definition.name);
    let path = network.weights.as_ref()?;
    let path_text = path.display().to_string();
    let written = definition.weights.as_ref().map(|w| w.value()).unwrap_or_default();
    let doc = format!(
        " The network with the weights of `{written}`, compiled into this binary and checked \
         against the architecture by `net!` at compile time; in evaluation mode."
    );
    Some(quote! {
        impl #name {
            #[doc = #doc]
            #visibility fn pretrained() -> Self {
                const WEIGHTS: &[u8] = include_bytes!(#path_text);
                let mut rng = <::minitorch::rand::rngs::StdRng as ::minitorch::rand::SeedableRng>::seed_from_u64(0);
                let mut network = Self::new(&mut rng);
                ::minitorch::checkpoint::load_bytes(&mut network, WEIGHTS)
                    .expect("net! checked these weights against the architecture at compile time");
                ::minitorch::Network::eval(&mut network);
                network
            }
        }
    })
}
