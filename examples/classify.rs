//! Classifies handwritten digits with the convolutional MNIST model compiled into this binary
//! (`minitorch::models::MnistCnn`): no model file is read at run time, and `net!` checked the
//! weights against the architecture when the library was compiled.
//!
//! ```sh
//! cargo run --release --example classify -- digit.png other.pgm   # PNG or PGM, any size
//! cargo run --release --example classify -- --index 0 --index 17  # images of the bundled test set
//! ```
//!
//! A picture is first made into MNIST's form (`GrayImage::to_mnist`): a light background is
//! inverted, the ink cropped, scaled to fit 20 × 20 and centred by its centre of mass in 28 × 28;
//! each line says what was done. `--raw` skips that for pictures that are MNIST-like already
//! (28 × 28, light digit on black).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use minitorch::data::{Normalization, find_mnist_files, read_idx_images, read_idx_labels};
use minitorch::image::GrayImage;
use minitorch::models::MnistCnn as Classifier;
use minitorch::prelude::*;

/// Classify pictures of handwritten digits (PNG or PGM) or images of the MNIST test set.
#[derive(Parser)]
struct Arguments {
    /// Image files.
    images: Vec<PathBuf>,
    /// Index of an image of the test set (repeatable).
    #[arg(long)]
    index: Vec<usize>,
    /// Take the image files as they are: 28×28, a light digit on black, as MNIST's.
    #[arg(long)]
    raw: bool,
    /// Folder with the MNIST files, for `--index`.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/mnist"))]
    data_dir: PathBuf,
}

/// The 784 pixels the network reads from an image file, and what was done to get them.
fn read_image(path: &Path, raw: bool) -> Result<(Vec<u8>, String), String> {
    let image = GrayImage::read(path).map_err(|e| e.to_string())?;
    if raw {
        if (image.width, image.height) != (28, 28) {
            return Err(format!(
                "{}: {}×{} pixels; with --raw the model takes 28×28",
                path.display(),
                image.width,
                image.height
            ));
        }
        return Ok((image.pixels, "raw".into()));
    }
    let digit = image.to_mnist().map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((digit.pixels.clone(), digit.to_string()))
}

fn classify(network: &mut Classifier, name: &str, pixels: &[u8]) -> Result<(), String> {
    let input = Normalization::MNIST.batch::<784>(pixels).map_err(|e| e.to_string())?;
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
        let (pixels, done) = read_image(path, arguments.raw)?;
        classify(&mut network, &format!("{} ({done})", path.display()), &pixels)?;
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
