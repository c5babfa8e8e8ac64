//! Writes a checked network as the code a person would write by hand for that one network: a
//! struct with a field per layer, `forward` as one statement per layer, `backward` as one
//! statement per layer in reverse order. What is the same for every network lives in the
//! `minitorch` library, not here. One function per piece of output.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::check::{CheckedLayer, CheckedNetwork, LayerSource, Shape};
use crate::kinds::ShapeRule;

pub fn expand(network: &CheckedNetwork) -> TokenStream {
    let parts = [
        network_struct(network),
        constructor(network),
        debug(network),
        parameters(network),
        forward_and_backward(network),
        pretrained(network).unwrap_or_default(),
        summary(network),
    ];
    quote!(#(#parts)*)
}

/// `linear0`, `relu1`, `dropout2`, `conv2d3`: the kind and PyTorch's index in the sequence. A
/// layer the user wrote is `layer{index}`.
fn field_name(layer: &CheckedLayer) -> syn::Ident {
    let index = layer.index.unwrap_or_default();
    match &layer.source {
        LayerSource::BuiltIn { kind, .. } => format_ident!("{}{index}", kind.field),
        LayerSource::Custom(_) => format_ident!("layer{index}"),
    }
}

/// The fields, one per layer that runs (`Input` and `Flatten` have none).
fn fields(network: &CheckedNetwork) -> Vec<syn::Ident> {
    network.run_time_layers().map(field_name).collect()
}

fn layer_type(layer: &CheckedLayer) -> TokenStream {
    let (kind, integers) = match &layer.source {
        LayerSource::BuiltIn { kind, integers, .. } => (kind, integers),
        LayerSource::Custom(layer_type) => return quote!(#layer_type),
    };
    let name = format_ident!("{}", kind.type_name);
    let number = |n: usize| Literal::usize_unsuffixed(n);
    let (inputs, outputs) = (number(layer.inputs()), number(layer.outputs()));
    let image = |shape: Shape| match shape {
        Shape::Image { channels, height, width } => (channels, height, width),
        Shape::Flat(_) => unreachable!("checked: an image layer has an image input"),
    };
    let generics = match kind.shape {
        ShapeRule::Map => quote!(#inputs, #outputs),
        ShapeRule::Keeps | ShapeRule::KeepsDeclared => quote!(#inputs),
        ShapeRule::Convolution => {
            let (_, height, width) = image(layer.input);
            let arguments = integers.iter().copied().chain([height, width]).map(number);
            quote!(#(#arguments,)* #inputs, #outputs)
        }
        ShapeRule::Pooling => {
            let (channels, height, width) = image(layer.input);
            let arguments = [channels, integers[0], integers[1], height, width].map(number);
            quote!(#(#arguments,)* #inputs, #outputs)
        }
        ShapeRule::KeepsChannels => {
            let channels = number(integers[0]);
            quote!(#channels, #inputs)
        }
        ShapeRule::Input | ShapeRule::Flatten => unreachable!("not a layer at run time"),
    };
    quote!(::minitorch::layers::#name<#generics>)
}

/// `<Type as Layer<IN, OUT>>`, spanned at the user's type so that a type without that `Layer`
/// implementation is reported at its entry.
fn as_layer(layer: &CheckedLayer) -> TokenStream {
    let layer_type = layer_type(layer);
    let inputs = Literal::usize_unsuffixed(layer.inputs());
    let outputs = Literal::usize_unsuffixed(layer.outputs());
    match &layer.source {
        LayerSource::Custom(written) => {
            quote_spanned!(written.span()=> <#layer_type as ::minitorch::Layer<#inputs, #outputs>>)
        }
        LayerSource::BuiltIn { .. } => quote!(<#layer_type as ::minitorch::Layer<#inputs, #outputs>>),
    }
}

fn network_struct(network: &CheckedNetwork) -> TokenStream {
    let definition = &network.definition;
    let (attributes, visibility, name) = (&definition.attributes, &definition.visibility, &definition.name);
    let fields = fields(network);
    let types = network.run_time_layers().map(layer_type);
    let field_docs = network.run_time_layers().map(field_doc);
    let input_width = Literal::usize_unsuffixed(network.input().features());
    let struct_doc = struct_doc(network);
    quote! {
        #(#attributes)*
        #struct_doc
        #[derive(Clone)]
        #visibility struct #name {
            #(#field_docs pub #fields: #types,)*
            /// The input of the last forward, which the first layer's backward needs.
            input: ::minitorch::Batch<#input_width>,
            /// The batch size of the last forward (0 before the first).
            forward_samples: usize,
            mode: ::minitorch::Mode,
        }
    }
}

fn constructor(network: &CheckedNetwork) -> TokenStream {
    let (visibility, name) = (&network.definition.visibility, &network.definition.name);
    let fields = fields(network);
    let constructors = network.run_time_layers().map(|layer| match &layer.source {
        LayerSource::BuiltIn { kind, numbers, .. } => {
            let layer_type = layer_type(layer);
            let function = format_ident!("{}", kind.constructor);
            let numbers = numbers.iter().map(|&number| Literal::f32_suffixed(number as f32));
            let rng = kind.takes_rng.then(|| quote!(rng));
            quote!(<#layer_type>::#function(#(#numbers,)* #rng))
        }
        LayerSource::Custom(written) => {
            quote_spanned!(written.span()=> <#written as ::minitorch::Initialize>::initialize(rng))
        }
    });
    quote! {
        impl #name {
            /// A network initialised as PyTorch initialises the same layers, drawing from `rng`;
            /// it starts in training mode.
            #visibility fn new(rng: &mut impl ::minitorch::rand::Rng) -> Self {
                Self {
                    #(#fields: #constructors,)*
                    input: ::minitorch::Batch::zeros(1),
                    forward_samples: 0,
                    mode: ::minitorch::Mode::Train,
                }
            }
        }
    }
}

fn debug(network: &CheckedNetwork) -> TokenStream {
    let name = &network.definition.name;
    let name_text = name.to_string();
    let fields = fields(network);
    let field_texts = fields.iter().map(|field| field.to_string());
    quote! {
        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#name_text)
                    #(.field(#field_texts, &self.#fields))*
                    .field("mode", &self.mode)
                    .finish()
            }
        }
    }
}

/// Every layer is visited; a layer without parameters or buffers visits nothing.
fn parameters(network: &CheckedNetwork) -> TokenStream {
    let name = &network.definition.name;
    let fields = fields(network);
    let indices: Vec<Literal> = network
        .run_time_layers()
        .map(|layer| Literal::usize_unsuffixed(layer.index.unwrap_or_default()))
        .collect();
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

fn forward_and_backward(network: &CheckedNetwork) -> TokenStream {
    let name = &network.definition.name;
    let layers: Vec<&CheckedLayer> = network.run_time_layers().collect();
    let fields = fields(network);
    let as_layers: Vec<TokenStream> = layers.iter().copied().map(as_layer).collect();
    let input_width = Literal::usize_unsuffixed(network.input().features());
    let output_width = Literal::usize_unsuffixed(network.output().features());

    let checks = fields
        .iter()
        .zip(&as_layers)
        .map(|(field, layer)| quote!(#layer::check_batch(&self.#field, samples, self.mode)?;));
    let (first_field, first_layer) = (&fields[0], &as_layers[0]);
    let forward_steps = fields
        .iter()
        .zip(&as_layers)
        .skip(1)
        .map(|(field, layer)| quote!(let x = #layer::forward(&mut self.#field, x, mode);));

    // Backward: layer i gets the output of layer i − 1 as its input; layer 0 gets the network's
    // input and computes no input gradient.
    let last = layers.len() - 1;
    let backward_steps = (1..=last).rev().map(|i| {
        let (field, layer, previous, previous_layer) =
            (&fields[i], &as_layers[i], &fields[i - 1], &as_layers[i - 1]);
        let grad = if i == last { quote!(grad_output) } else { quote!(grad) };
        quote! {
            let grad = #layer::backward(&mut self.#field, #previous_layer::output(&self.#previous), #grad);
        }
    });
    let first_grad = if last == 0 { quote!(grad_output) } else { quote!(grad) };

    quote! {
        impl ::minitorch::Network<#input_width, #output_width> for #name {
            fn forward(
                &mut self,
                input: &::minitorch::Batch<#input_width>,
            ) -> ::core::result::Result<&::minitorch::Batch<#output_width>, ::minitorch::Error> {
                let samples = input.ncols();
                ::minitorch::network::__private::check_forward(samples)?;
                #(#checks)*
                ::minitorch::network::__private::copy_batch(&mut self.input, input);
                self.forward_samples = samples;
                let mode = self.mode;
                let x = #first_layer::forward(&mut self.#first_field, &self.input, mode);
                #(#forward_steps)*
                Ok(x)
            }

            fn backward(
                &mut self,
                grad_output: &::minitorch::Batch<#output_width>,
            ) -> ::core::result::Result<(), ::minitorch::Error> {
                ::minitorch::network::__private::check_backward(self.forward_samples, grad_output.ncols())?;
                #(#backward_steps)*
                #first_layer::backward_parameters(&mut self.#first_field, &self.input, #first_grad);
                Ok(())
            }

            fn mode(&self) -> ::minitorch::Mode {
                self.mode
            }

            fn set_mode(&mut self, mode: ::minitorch::Mode) {
                self.mode = mode;
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

/// `0.weight [512, 784]` for each trainable parameter of the layer; for a layer the user wrote,
/// a pointer to its type.
fn parameter_shapes(layer: &CheckedLayer) -> String {
    let Some(tensors) = layer.tensors() else {
        return format!("those of `{}`", layer.written.split(':').next().unwrap_or_default());
    };
    let shapes: Vec<String> =
        tensors.iter().filter(|t| t.trainable).map(|t| format!("`{}` {:?}", t.name, t.shape)).collect();
    if shapes.is_empty() { "no parameters".to_string() } else { shapes.join(", ") }
}

/// The number of trainable numbers, for built-in layers.
fn parameter_count(layer: &CheckedLayer) -> Option<usize> {
    let tensors = layer.tensors()?;
    Some(tensors.iter().filter(|t| t.trainable).map(|t| t.shape.iter().product::<usize>()).sum())
}

fn field_doc(layer: &CheckedLayer) -> TokenStream {
    let index = layer.index.unwrap_or_default();
    let doc = format!(
        " Layer {index}: `{}` → {}; {}.",
        layer.written,
        layer.output.describe(),
        parameter_shapes(layer)
    );
    quote!(#[doc = #doc])
}

/// One row per entry: index, layer, output shape, parameter count, as torchinfo prints them.
fn summary_rows(network: &CheckedNetwork) -> Vec<[String; 4]> {
    network
        .layers
        .iter()
        .map(|layer| {
            let index = layer.index.map_or("–".to_string(), |index| index.to_string());
            let count = parameter_count(layer).map_or("see its type".to_string(), group_thousands);
            [index, layer.written.clone(), layer.output.describe(), count]
        })
        .collect()
}

fn total_parameters(network: &CheckedNetwork) -> String {
    let total: usize = network.layers.iter().filter_map(parameter_count).sum();
    let custom = network.layers.iter().any(|layer| matches!(layer.source, LayerSource::Custom(_)));
    if custom {
        format!("{} trainable parameters in its built-in layers", group_thousands(total))
    } else {
        format!("{} trainable parameters", group_thousands(total))
    }
}

fn struct_doc(network: &CheckedNetwork) -> TokenStream {
    let list: Vec<&str> = network.layers.iter().map(|layer| layer.written.as_str()).collect();
    let mut lines = vec![
        String::new(),
        "# Layers".to_string(),
        String::new(),
        format!("Generated by `net!` from `{}`.", list.join(", ")),
        format!(
            "Input {}, output {}, {}.",
            network.input().describe(),
            network.output().describe(),
            total_parameters(network)
        ),
        String::new(),
        "| # | layer | output | parameters | PyTorch names and shapes |".to_string(),
        "|---|---|---|---|---|".to_string(),
    ];
    for (layer, [index, written, output, count]) in network.layers.iter().zip(summary_rows(network)) {
        let shapes = parameter_shapes(layer);
        let shapes = if shapes == "no parameters" { "–".to_string() } else { shapes };
        lines.push(format!("| {index} | `{written}` | {output} | {count} | {shapes} |"));
    }
    let lines = lines.iter().map(|line| format!(" {line}"));
    quote!(#(#[doc = #lines])*)
}

/// `Name::summary()`: the same table as text, for printing at run time.
fn summary(network: &CheckedNetwork) -> TokenStream {
    let (visibility, name) = (&network.definition.visibility, &network.definition.name);
    let rows = summary_rows(network);
    let widths: Vec<usize> = (0..4)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .chain([["#", "layer", "output", "parameters"][column].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 4]| {
        let padded: Vec<String> =
            cells.iter().zip(&widths).map(|(cell, &width)| format!("{cell:<width$}")).collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut text = vec![line(["#", "layer", "output", "parameters"])];
    text.extend(rows.iter().map(|row| line([&row[0], &row[1], &row[2], &row[3]])));
    text.push(format!(
        "{}: input {}, output {}, {}",
        name,
        network.input().describe(),
        network.output().describe(),
        total_parameters(network)
    ));
    let text = text.join("\n");
    quote! {
        impl #name {
            /// Every layer with its output shape and parameter count, one per line, as torchinfo
            /// prints them (the table in this type's documentation).
            #visibility fn summary() -> &'static str {
                #text
            }
        }
    }
}

fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut grouped = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}
