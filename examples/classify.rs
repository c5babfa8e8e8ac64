//! Classifies handwritten digits with the MNIST model compiled into this binary: no model file
//! is read at run time, and `net!` checked the weights against the architecture when this
//! example was compiled.
//!
//! ```sh
//! cargo run --release --example classify -- digit.png other.pgm   # 28×28 grayscale images
//! cargo run --release --example classify -- --index 0 --index 17  # images of the bundled test set
//! ```
//!
//! Like MNIST, images are light digits on a dark background; colour images are converted to
//! grayscale, and transparent pixels are laid over white.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use minitorch::data::{Normalization, find_mnist_files, read_idx_images, read_idx_labels};
use minitorch::image::GrayImage;
use minitorch::prelude::*;

net! {
    /// The workshop's mlp as `cargo run --release --example mnist_mlp` trained it (seed 0,
    /// 10 epochs): 98.41% on the MNIST test set.
    #[weights = "../models/mnist_mlp.safetensors"]
    struct Classifier< Linear(784, 512), ReLU, Dropout(0.2), Linear(512, 256), ReLU, Linear(256, 10) >
}

/// Classify 28×28 grayscale digit images (PNG or PGM) or images of the MNIST test set.
#[derive(Parser)]
struct Arguments {
    /// Image files.
    images: Vec<PathBuf>,
    /// Index of an image of the test set (repeatable).
    #[arg(long)]
    index: Vec<usize>,
    /// Folder with the MNIST files, for `--index`.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/mnist"))]
    data_dir: PathBuf,
}

/// The 784 pixels of a 28×28 image file, row by row.
fn read_image(path: &Path) -> Result<Vec<u8>, String> {
    let image = GrayImage::read(path).map_err(|e| e.to_string())?;
    if (image.width, image.height) != (28, 28) {
        return Err(format!(
            "{}: {}×{} pixels; the model takes 28×28",
            path.display(),
            image.width,
            image.height
        ));
    }
    Ok(image.pixels)
}

fn classify(network: &mut Classifier, name: &str, pixels: &[u8]) -> Result<(), String> {
    let Normalization { mean, std } = Normalization::MNIST;
    let input = Batch::<784>::from_iterator(1, pixels.iter().map(|&p| (f32::from(p) / 255.0 - mean) / std));
    let logits = network.forward(&input).map_err(|e| e.to_string())?;
    let probabilities = softmax(logits);
    let digit = predicted_classes(logits).next().expect("one sample");
    let listing: Vec<String> = probabilities.iter().enumerate().map(|(d, p)| format!("{d}:{p:.3}")).collect();
    println!("{name}: digit {digit} (probability {:.3})  {}", probabilities[digit], listing.join(" "));
    Ok(())
}

fn run(arguments: &Arguments) -> Result<(), String> {
    if arguments.images.is_empty() && arguments.index.is_empty() {
        return Err("give image files or --index N (see --help)".into());
    }
    let mut network = Classifier::pretrained();
    for path in &arguments.images {
        classify(&mut network, &path.display().to_string(), &read_image(path)?)?;
    }
    if !arguments.index.is_empty() {
        let [.., test_images, test_labels] =
            find_mnist_files(&arguments.data_dir).map_err(|e| e.to_string())?;
        let images = read_idx_images(&test_images).map_err(|e| e.to_string())?;
        let labels = read_idx_labels(&test_labels).map_err(|e| e.to_string())?;
        for &index in &arguments.index {
            if index >= images.count {
                return Err(format!("--index {index}: the test set has {} images", images.count));
            }
            let pixels = &images.pixels[index * 784..(index + 1) * 784];
            classify(&mut network, &format!("test image {index} (label {})", labels[index]), pixels)?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(&Arguments::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
