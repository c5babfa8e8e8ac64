//! The shape rules: for each way a layer's output shape follows from its input, everything
//! `net!` needs in one `impl` — the output shape (or the message for a shape that does not fit),
//! the library type's generic arguments, and the tensors of PyTorch's state dict.
//!
//! A new layer kind that follows an existing rule is an entry in `kinds.rs`; a new rule is one
//! more `impl ShapeRule` here.

use minitorch_safetensors::Dtype;

use crate::shape::{Before, Shape};

/// A built-in layer as the rules see it.
pub struct Call<'a> {
    /// The kind's name as written: `Dropout`.
    pub name: &'a str,
    /// The whole layer as written, normalised: `Dropout(0.5)`.
    pub written: &'a str,
    /// Its integer arguments, defaults filled in.
    pub integers: &'a [usize],
}

/// A shape that does not fit, and the output shape the layer declares anyway (so that the
/// entries after it are checked against it), if it says.
pub struct Mistake {
    pub message: String,
    pub output: Option<Shape>,
}

/// One tensor of a layer's state dict, named inside the layer.
pub struct Tensor {
    pub name: &'static str,
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    /// A trainable parameter (or else a buffer).
    pub trainable: bool,
}

pub trait ShapeRule: Sync {
    /// The output shape for the shape before, or what is wrong.
    fn output(&self, call: &Call<'_>, before: &Before) -> Result<Shape, Mistake>;

    /// The generic arguments of the layer's type, in order.
    fn generics(&self, integers: &[usize], input: Shape, output: Shape) -> Vec<usize>;

    /// The tensors PyTorch's state dict holds for the layer; none by default.
    fn tensors(&self, _integers: &[usize], _input: Shape, _output: Shape) -> Vec<Tensor> {
        Vec::new()
    }

    /// After a mistake has left the shape unknown: the output shape the layer fixes whatever
    /// comes before it (a `Linear` does; a `ReLU` does not).
    fn declared_output(&self, _integers: &[usize]) -> Option<Shape> {
        None
    }

    /// The input shape the layer declares, where it may start a list, when it is not its output
    /// shape: `Linear(784, 10)` takes 784 features.
    fn declared_input(&self, _integers: &[usize]) -> Option<Shape> {
        None
    }

    /// Whether the entry declares the network's input (`Input`), and so is no layer of
    /// PyTorch's numbering.
    fn declares_input(&self) -> bool {
        false
    }
}

fn mistake(message: String, output: Option<Shape>) -> Mistake {
    Mistake { message, output }
}

fn parameter(name: &'static str, shape: Vec<usize>) -> Tensor {
    Tensor { name, shape, dtype: Dtype::F32, trainable: true }
}

/// Batch normalisation's tensors, `features` of each but the count.
fn batchnorm_tensors(features: usize) -> Vec<Tensor> {
    let buffer = |name, shape, dtype| Tensor { name, shape, dtype, trainable: false };
    vec![
        parameter("weight", vec![features]),
        parameter("bias", vec![features]),
        buffer("running_mean", vec![features], Dtype::F32),
        buffer("running_var", vec![features], Dtype::F32),
        buffer("num_batches_tracked", vec![], Dtype::I64),
    ]
}

/// The image coming in, or why an image layer cannot stand here.
fn needs_image(call: &Call<'_>, before: &Before) -> Result<(usize, usize, usize), Mistake> {
    let written = call.written;
    match before.shape {
        Some(Shape::Image { channels, height, width }) => Ok((channels, height, width)),
        Some(Shape::Flat(features)) => Err(mistake(
            format!(
                "`{written}` needs an image, but the shape is flat here ({features} features); image layers \
                 come before `Flatten`"
            ),
            None,
        )),
        None => Err(mistake(
            format!("`{written}` needs an image: start the list with `Input(channels, height, width)`"),
            None,
        )),
    }
}

/// `Input(channels, height, width)`: declares the images the network takes; first only, and
/// no layer.
pub struct Input;

impl ShapeRule for Input {
    fn output(&self, call: &Call<'_>, before: &Before) -> Result<Shape, Mistake> {
        if !before.first {
            let message = format!("`{}` declares the network's input and must come first", call.written);
            return Err(mistake(message, before.shape));
        }
        let [channels, height, width] = [call.integers[0], call.integers[1], call.integers[2]];
        Ok(Shape::Image { channels, height, width })
    }

    fn generics(&self, _integers: &[usize], _input: Shape, _output: Shape) -> Vec<usize> {
        Vec::new()
    }

    fn declares_input(&self) -> bool {
        true
    }
}

/// `(in, out)`: maps `in` features to `out` (`Linear`); type `<IN, OUT>`.
pub struct Map;

impl ShapeRule for Map {
    fn output(&self, call: &Call<'_>, before: &Before) -> Result<Shape, Mistake> {
        let (written, inputs, outputs) = (call.written, call.integers[0], call.integers[1]);
        match before.shape {
            Some(image @ Shape::Image { .. }) => Err(mistake(
                format!(
                    "`{written}` takes flat input, but {}; add `Flatten` before it (giving {} features)",
                    before.produces(image),
                    image.features()
                ),
                Some(Shape::Flat(outputs)),
            )),
            Some(Shape::Flat(produced)) if produced != inputs => Err(mistake(
                format!(
                    "`{written}` expects {inputs} input features, but {}",
                    before.produces(Shape::Flat(produced))
                ),
                Some(Shape::Flat(outputs)),
            )),
            _ => Ok(Shape::Flat(outputs)),
        }
    }

    fn generics(&self, integers: &[usize], _input: Shape, _output: Shape) -> Vec<usize> {
        vec![integers[0], integers[1]]
    }

    fn tensors(&self, integers: &[usize], _input: Shape, _output: Shape) -> Vec<Tensor> {
        let (inputs, outputs) = (integers[0], integers[1]);
        vec![parameter("weight", vec![outputs, inputs]), parameter("bias", vec![outputs])]
    }

    fn declared_input(&self, integers: &[usize]) -> Option<Shape> {
        Some(Shape::Flat(integers[0]))
    }

    fn declared_output(&self, integers: &[usize]) -> Option<Shape> {
        Some(Shape::Flat(integers[1]))
    }
}

/// `(features)`: keeps `features` features, which must be the width before it (`BatchNorm1d`);
/// type `<N>`.
pub struct KeepsDeclared;

impl ShapeRule for KeepsDeclared {
    fn output(&self, call: &Call<'_>, before: &Before) -> Result<Shape, Mistake> {
        let (written, features) = (call.written, call.integers[0]);
        match before.shape {
            Some(image @ Shape::Image { .. }) => Err(mistake(
                format!(
                    "`{written}` takes flat input, but {}; use `BatchNorm2d(channels)` on images",
                    before.produces(image)
                ),
                None,
            )),
            // The layer keeps the width, so the layers after it see `produced`.
            Some(Shape::Flat(produced)) if produced != features => Err(mistake(
                format!(
                    "`{written}` expects {features} input features, but {}",
                    before.produces(Shape::Flat(produced))
                ),
                None,
            )),
            _ => Ok(Shape::Flat(features)),
        }
    }

    fn generics(&self, integers: &[usize], _input: Shape, _output: Shape) -> Vec<usize> {
        vec![integers[0]]
    }

    fn tensors(&self, integers: &[usize], _input: Shape, _output: Shape) -> Vec<Tensor> {
        batchnorm_tensors(integers[0])
    }

    fn declared_output(&self, integers: &[usize]) -> Option<Shape> {
        Some(Shape::Flat(integers[0]))
    }
}

/// The shape before, which a layer that takes its shape from its neighbour needs.
fn shape_before(call: &Call<'_>, before: &Before) -> Result<Shape, Mistake> {
    before.shape.ok_or_else(|| {
        mistake(
            format!(
                "`{}` cannot be the first layer: it takes its shape from the layer before it; start with a \
                 layer that fixes the input, `Linear(in, out)`, `BatchNorm1d(features)` or \
                 `Input(channels, height, width)`",
                call.name
            ),
            None,
        )
    })
}

/// Keeps the shape before it, flat or image; cannot be first (activations, `Dropout`); type
/// `<N>`.
pub struct Keeps;

impl ShapeRule for Keeps {
    fn output(&self, call: &Call<'_>, before: &Before) -> Result<Shape, Mistake> {
        shape_before(call, before)
    }

    fn generics(&self, _integers: &[usize], input: Shape, _output: Shape) -> Vec<usize> {
        vec![input.features()]
    }
}

/// Makes an image flat, in channel, row, column order (`Flatten`); a layer in PyTorch's
/// numbering, nothing at run time.
pub struct Flatten;

impl ShapeRule for Flatten {
    fn output(&self, call: &Call<'_>, before: &Before) -> Result<Shape, Mistake> {
        Ok(Shape::Flat(shape_before(call, before)?.features()))
    }

    fn generics(&self, _integers: &[usize], _input: Shape, _output: Shape) -> Vec<usize> {
        Vec::new()
    }
}

/// `(in_channels, out_channels, kernel, stride, padding)` on an image (`Conv2d`); type
/// `<IN_CHANNELS, OUT_CHANNELS, KERNEL, STRIDE, PADDING, HEIGHT, WIDTH, IN, OUT>`.
pub struct Convolution;

impl ShapeRule for Convolution {
    fn output(&self, call: &Call<'_>, before: &Before) -> Result<Shape, Mistake> {
        let (channels, height, width) = needs_image(call, before)?;
        let written = call.written;
        let [in_channels, out_channels, kernel, stride, padding] = call.integers[..5] else {
            unreachable!("a convolution has five integer arguments")
        };
        let output = |height: usize, width: usize| Shape::Image {
            channels: out_channels,
            height: (height + 2 * padding).saturating_sub(kernel) / stride + 1,
            width: (width + 2 * padding).saturating_sub(kernel) / stride + 1,
        };
        if channels != in_channels {
            return Err(mistake(
                format!(
                    "`{written}` expects {in_channels} input channels, but {}",
                    before.produces_channels(channels, height, width)
                ),
                Some(output(height, width)),
            ));
        }
        if kernel > height + 2 * padding || kernel > width + 2 * padding {
            return Err(mistake(
                format!(
                    "`{written}`: the kernel ({kernel} × {kernel}) is larger than its padded input ({} × {})",
                    height + 2 * padding,
                    width + 2 * padding
                ),
                None,
            ));
        }
        Ok(output(height, width))
    }

    fn generics(&self, integers: &[usize], input: Shape, output: Shape) -> Vec<usize> {
        let Shape::Image { height, width, .. } = input else { unreachable!("checked: an image") };
        let mut generics = integers.to_vec();
        generics.extend([height, width, input.features(), output.features()]);
        generics
    }

    fn tensors(&self, integers: &[usize], _input: Shape, _output: Shape) -> Vec<Tensor> {
        let [in_channels, out_channels, kernel] = [integers[0], integers[1], integers[2]];
        vec![
            parameter("weight", vec![out_channels, in_channels, kernel, kernel]),
            parameter("bias", vec![out_channels]),
        ]
    }
}

/// `(kernel, stride)` windows on an image (`MaxPool2d`, `AvgPool2d`); type `<CHANNELS, KERNEL,
/// STRIDE, HEIGHT, WIDTH, IN, OUT>`.
pub struct Pooling;

impl ShapeRule for Pooling {
    fn output(&self, call: &Call<'_>, before: &Before) -> Result<Shape, Mistake> {
        let (channels, height, width) = needs_image(call, before)?;
        let (kernel, stride) = (call.integers[0], call.integers[1]);
        if kernel > height || kernel > width {
            return Err(mistake(
                format!(
                    "`{}`: the window ({kernel} × {kernel}) is larger than its input ({height} × {width})",
                    call.written
                ),
                None,
            ));
        }
        Ok(Shape::Image {
            channels,
            height: (height - kernel) / stride + 1,
            width: (width - kernel) / stride + 1,
        })
    }

    fn generics(&self, integers: &[usize], input: Shape, output: Shape) -> Vec<usize> {
        let Shape::Image { channels, height, width } = input else { unreachable!("checked: an image") };
        vec![channels, integers[0], integers[1], height, width, input.features(), output.features()]
    }
}

/// `(size)`: averages an image down to `size × size` (`AdaptiveAvgPool2d`); type `<CHANNELS,
/// HEIGHT, WIDTH, SIZE, IN, OUT>`.
pub struct AdaptivePooling;

impl ShapeRule for AdaptivePooling {
    fn output(&self, call: &Call<'_>, before: &Before) -> Result<Shape, Mistake> {
        let (channels, _, _) = needs_image(call, before)?;
        let size = call.integers[0];
        Ok(Shape::Image { channels, height: size, width: size })
    }

    fn generics(&self, integers: &[usize], input: Shape, output: Shape) -> Vec<usize> {
        let Shape::Image { channels, height, width } = input else { unreachable!("checked: an image") };
        vec![channels, height, width, integers[0], input.features(), output.features()]
    }
}

/// `(channels)`: keeps an image of `channels` channels (`BatchNorm2d`); type `<CHANNELS, N>`.
pub struct KeepsChannels;

impl ShapeRule for KeepsChannels {
    fn output(&self, call: &Call<'_>, before: &Before) -> Result<Shape, Mistake> {
        let (channels, height, width) = needs_image(call, before)?;
        if channels != call.integers[0] {
            return Err(mistake(
                format!(
                    "`{}` expects {} channels, but {}",
                    call.written,
                    call.integers[0],
                    before.produces_channels(channels, height, width)
                ),
                None,
            ));
        }
        Ok(Shape::Image { channels, height, width })
    }

    fn generics(&self, integers: &[usize], input: Shape, _output: Shape) -> Vec<usize> {
        vec![integers[0], input.features()]
    }

    fn tensors(&self, integers: &[usize], _input: Shape, _output: Shape) -> Vec<Tensor> {
        batchnorm_tensors(integers[0])
    }
}
