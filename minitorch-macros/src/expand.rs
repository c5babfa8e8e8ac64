//! Writes a checked network as the code a person would write by hand for that one network: a
//! struct with a field per layer, `forward` as one statement per layer, `backward` as one
//! statement per layer in reverse order. What is the same for every network lives in the
//! `minitorch` library, not here.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

use crate::check::{Kind, Layer, Network};

pub fn expand(network: &Network) -> TokenStream {
    let definition = &network.definition;
    let (attributes, visibility, name) = (&definition.attributes, &definition.visibility, &definition.name);
    let layers = &network.layers;
    let first = &layers[0];
    let last = &layers[layers.len() - 1];
    let input_width = Literal::usize_unsuffixed(first.inputs);
    let output_width = Literal::usize_unsuffixed(last.outputs);

    let fields: Vec<_> = layers.iter().enumerate().map(|(i, layer)| field_name(i, layer)).collect();
    let types: Vec<_> = layers.iter().map(layer_type).collect();
    let field_docs: Vec<_> = layers.iter().enumerate().map(|(i, layer)| field_doc(i, layer)).collect();
    let constructors: Vec<_> = layers.iter().map(constructor).collect();
    let struct_doc = struct_doc(network);
    let has_batchnorm = layers.iter().any(|layer| layer.kind == Kind::BatchNorm1d);

    let forward_steps = fields
        .iter()
        .skip(1)
        .map(|field| quote!(let x = ::minitorch::Layer::forward(&mut self.#field, x, mode);));
    let first_field = &fields[0];
    let name_text = name.to_string();
    let field_texts: Vec<String> = fields.iter().map(|field| field.to_string()).collect();

    // Backward: layer i gets the output of layer i − 1 as its input; layer 0 gets the network's
    // input and computes no input gradient.
    let last_index = layers.len() - 1;
    let backward_steps = (1..=last_index).rev().map(|i| {
        let (field, previous) = (&fields[i], &fields[i - 1]);
        let grad = if i == last_index { quote!(grad_output) } else { quote!(grad) };
        quote! {
            let grad = ::minitorch::Layer::backward(&mut self.#field, ::minitorch::Layer::output(&self.#previous), #grad);
        }
    });
    let first_grad = if last_index == 0 { quote!(grad_output) } else { quote!(grad) };

    let visits = layers.iter().enumerate().filter(|(_, layer)| has_parameters(layer)).map(|(i, _)| {
        let field = &fields[i];
        let index = Literal::usize_unsuffixed(i);
        quote!(::minitorch::Parameters::visit_parameters(&mut self.#field, &mut |p| visit(p.in_layer(#index)));)
    });
    let buffer_visits = layers.iter().enumerate().filter(|(_, layer)| layer.kind == Kind::BatchNorm1d).map(|(i, _)| {
        let field = &fields[i];
        let index = Literal::usize_unsuffixed(i);
        quote!(::minitorch::Parameters::visit_buffers(&mut self.#field, &mut |b| visit(b.in_layer(#index)));)
    });
    let counts = fields.iter().map(|field| quote!(::minitorch::Parameters::parameter_count(&self.#field)));

    let pretrained = network.weights.as_ref().map(|path| {
        let path_text = path.display().to_string();
        let written = definition.weights.as_ref().map(|w| w.value()).unwrap_or_default();
        let doc = format!(
            " The network with the weights of `{written}`, compiled into this binary and checked \
             against the architecture by `net!` at compile time; in evaluation mode."
        );
        quote! {
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
        }
    });

    quote! {
        #pretrained

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

        impl ::core::fmt::Debug for #name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(#name_text)
                    #(.field(#field_texts, &self.#fields))*
                    .field("mode", &self.mode)
                    .finish()
            }
        }

        impl ::minitorch::Parameters for #name {
            fn visit_parameters(&mut self, visit: &mut dyn FnMut(::minitorch::Parameter<'_>)) {
                #(#visits)*
            }

            fn parameter_count(&self) -> usize {
                0 #(+ #counts)*
            }

            fn visit_buffers(&mut self, visit: &mut dyn FnMut(::minitorch::Buffer<'_>)) {
                #(#buffer_visits)*
            }
        }

        impl ::minitorch::Network<#input_width, #output_width> for #name {
            fn forward(
                &mut self,
                input: &::minitorch::Batch<#input_width>,
            ) -> ::core::result::Result<&::minitorch::Batch<#output_width>, ::minitorch::Error> {
                ::minitorch::network::__private::check_forward(input.ncols(), self.mode, #has_batchnorm)?;
                ::minitorch::network::__private::copy_batch(&mut self.input, input);
                self.forward_samples = input.ncols();
                let mode = self.mode;
                let x = ::minitorch::Layer::forward(&mut self.#first_field, &self.input, mode);
                #(#forward_steps)*
                Ok(x)
            }

            fn backward(
                &mut self,
                grad_output: &::minitorch::Batch<#output_width>,
            ) -> ::core::result::Result<(), ::minitorch::Error> {
                ::minitorch::network::__private::check_backward(self.forward_samples, grad_output.ncols())?;
                #(#backward_steps)*
                ::minitorch::Layer::backward_parameters(&mut self.#first_field, &self.input, #first_grad);
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

/// `linear0`, `relu1`, `dropout2`, `batchnorm3`: the kind and PyTorch's index in the sequence.
fn field_name(index: usize, layer: &Layer) -> syn::Ident {
    let kind = match layer.kind {
        Kind::Linear => "linear",
        Kind::ReLU => "relu",
        Kind::Dropout => "dropout",
        Kind::BatchNorm1d => "batchnorm",
    };
    format_ident!("{kind}{index}")
}

fn layer_type(layer: &Layer) -> TokenStream {
    let inputs = Literal::usize_unsuffixed(layer.inputs);
    let outputs = Literal::usize_unsuffixed(layer.outputs);
    match layer.kind {
        Kind::Linear => quote!(::minitorch::Linear<#inputs, #outputs>),
        Kind::ReLU => quote!(::minitorch::ReLU<#inputs>),
        Kind::Dropout => quote!(::minitorch::Dropout<#inputs>),
        Kind::BatchNorm1d => quote!(::minitorch::BatchNorm1d<#inputs>),
    }
}

fn constructor(layer: &Layer) -> TokenStream {
    match layer.kind {
        Kind::Linear => quote!(::minitorch::Linear::new(rng)),
        Kind::ReLU => quote!(::minitorch::ReLU::new()),
        Kind::Dropout => {
            let probability = Literal::f32_suffixed(layer.probability as f32);
            quote!(::minitorch::Dropout::new(#probability, rng))
        }
        Kind::BatchNorm1d => quote!(::minitorch::BatchNorm1d::new()),
    }
}

fn has_parameters(layer: &Layer) -> bool {
    matches!(layer.kind, Kind::Linear | Kind::BatchNorm1d)
}

/// `0.weight [512, 784]` for each trainable parameter of the layer at `index`.
fn parameter_shapes(index: usize, layer: &Layer) -> Vec<String> {
    let tensors = layer.tensors(index).into_iter().filter(|t| t.trainable);
    tensors.map(|t| format!("`{}` {:?}", t.name, t.shape)).collect()
}

fn field_doc(index: usize, layer: &Layer) -> TokenStream {
    let shapes = parameter_shapes(index, layer);
    let parameters = if shapes.is_empty() { "no parameters".to_string() } else { shapes.join(", ") };
    let doc = format!(" Layer {index}: `{}` → {} features; {parameters}.", layer.source, layer.outputs);
    quote!(#[doc = #doc])
}

fn struct_doc(network: &Network) -> TokenStream {
    let layers = &network.layers;
    let tensors = layers.iter().enumerate().flat_map(|(i, layer)| layer.tensors(i));
    let total: usize = tensors.filter(|t| t.trainable).map(|t| t.shape.iter().product::<usize>()).sum();
    let list: Vec<&str> = layers.iter().map(|layer| layer.source.as_str()).collect();
    let mut lines = vec![
        String::new(),
        "# Layers".to_string(),
        String::new(),
        format!("Generated by `net!` from `{}`.", list.join(", ")),
        format!(
            "Input width {}, output width {}, {} trainable parameters.",
            layers[0].inputs,
            layers[layers.len() - 1].outputs,
            group_thousands(total)
        ),
        String::new(),
        "| # | field | layer | output | parameters (PyTorch names and shapes) |".to_string(),
        "|---|---|---|---|---|".to_string(),
    ];
    for (index, layer) in layers.iter().enumerate() {
        let shapes = parameter_shapes(index, layer);
        lines.push(format!(
            "| {index} | `{}` | `{}` | {} | {} |",
            field_name(index, layer),
            layer.source,
            layer.outputs,
            if shapes.is_empty() { "–".to_string() } else { shapes.join(", ") }
        ));
    }
    let lines = lines.iter().map(|line| format!(" {line}"));
    quote!(#(#[doc = #lines])*)
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
