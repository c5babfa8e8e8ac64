//! The readers never panic: thousands of damaged IDX, safetensors, PNG and PGM inputs (truncated,
//! bit-flipped, with lying headers) each give an error or a valid result.
//!
//! The damage is drawn from a seeded generator, so a failure names a reproducible case.

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use minitorch::checkpoint;
use minitorch::data::{read_idx_images, read_idx_labels};
use minitorch::prelude::*;
use minitorch::rand::rngs::StdRng;
use minitorch::rand::{RngExt, SeedableRng};

net! {
    struct Small< Linear(4, 3), BatchNorm1d(3), ReLU, Dropout(0.5), Linear(3, 2) >
    struct SmallCnn< Input(1, 4, 4), Conv2d(1, 2, 3), ReLU, Flatten, Linear(8, 2) >
}

/// `original` with one kind of damage: cut short, bits flipped, or a header word replaced.
fn damaged(original: &[u8], rng: &mut StdRng, header: usize) -> Vec<u8> {
    let mut bytes = original.to_vec();
    match rng.random_range(0..4) {
        0 => bytes.truncate(rng.random_range(0..bytes.len())),
        3 => {
            // Every header word after the first replaced: sizes that together promise too much.
            for at in (4..header.min(bytes.len()).saturating_sub(3)).step_by(4) {
                let value: u32 = if rng.random_range(0..2) == 0 { u32::MAX } else { rng.random() };
                bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
            }
        }
        1 => {
            for _ in 0..rng.random_range(1..9) {
                let at = rng.random_range(0..bytes.len());
                bytes[at] ^= 1 << rng.random_range(0..8);
            }
        }
        _ => {
            // A lying header: a 4-byte word within it replaced by a chosen or random value.
            let at = rng.random_range(0..header.min(bytes.len()).saturating_sub(3).max(1));
            let value: u32 = match rng.random_range(0..4) {
                0 => 0,
                1 => u32::MAX,
                2 => rng.random_range(0..1000),
                _ => rng.random(),
            };
            let end = (at + 4).min(bytes.len());
            bytes[at..end].copy_from_slice(&value.to_be_bytes()[..end - at]);
        }
    }
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn idx(magic: u32, sizes: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    sizes.iter().for_each(|size| bytes.extend(size.to_be_bytes()));
    bytes.extend(payload);
    bytes
}

fn never_panics<T>(what: &str, case: usize, run: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(run)).unwrap_or_else(|_| panic!("{what}: case {case} panicked"))
}

#[test]
fn damaged_idx_files_are_errors_or_valid() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("damaged");
    let pixels: Vec<u8> = (0..5 * 28 * 28).map(|i| (i % 251) as u8).collect();
    let images = idx(0x0000_0803, &[5, 28, 28], &pixels);
    let labels = idx(0x0000_0801, &[5], &[7, 2, 1, 0, 4]);
    let mut rng = StdRng::seed_from_u64(1);
    let (mut errors, mut valid) = (0, 0);
    for case in 0..2000 {
        let (original, is_images) = if case % 2 == 0 { (&images, true) } else { (&labels, false) };
        let mut bytes = damaged(original, &mut rng, if is_images { 16 } else { 8 });
        if case % 4 < 2 {
            bytes = gzip(&bytes);
            if case % 8 < 2 {
                bytes = damaged(&bytes, &mut rng, 10); // damage the compressed stream too
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let outcome = if is_images {
            never_panics("IDX images", case, || read_idx_images(&path).map(|i| i.pixels.len()))
        } else {
            never_panics("IDX labels", case, || read_idx_labels(&path).map(|l| l.len()))
        };
        match outcome {
            Ok(_) => valid += 1,
            Err(error) => {
                assert!(error.to_string().starts_with(&path.display().to_string()), "{error}");
                errors += 1;
            }
        }
    }
    println!("{errors} errors, {valid} still valid");
    assert!(errors > 1500, "most damage is detected: {errors} errors");
}

/// Loads `bytes` into `network`, which must be unchanged by a failed load.
fn load_into<N: Parameters + Clone>(network: &mut N, bytes: &[u8], case: usize) {
    let before = checkpoint::to_bytes(&mut network.clone()).unwrap();
    let outcome = never_panics("safetensors", case, || checkpoint::load_bytes(network, bytes));
    if outcome.is_err() {
        assert_eq!(
            checkpoint::to_bytes(network).unwrap(),
            before,
            "case {case}: a failed load changed the model"
        );
    }
}

#[test]
fn damaged_safetensors_files_are_errors_or_valid() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut small = Small::new(&mut rng);
    let mut cnn = SmallCnn::new(&mut rng);
    let small_bytes = checkpoint::to_bytes(&mut small).unwrap();
    let cnn_bytes = checkpoint::to_bytes(&mut cnn).unwrap();
    for case in 0..3000 {
        let (original, header) = if case % 2 == 0 { (&small_bytes, 200) } else { (&cnn_bytes, 200) };
        let bytes = damaged(original, &mut rng, header);
        if case % 2 == 0 {
            load_into(&mut small, &bytes, case);
        } else {
            load_into(&mut cnn, &bytes, case);
        }
    }
}

#[test]
fn damaged_training_states_are_errors_or_valid() {
    let folder = tempfile::tempdir().unwrap();
    let (saved, damaged_path) = (folder.path().join("state"), folder.path().join("damaged"));
    let mut rng = StdRng::seed_from_u64(3);
    let mut net = Small::new(&mut rng);
    let mut adam = minitorch::optim::Adam::new(minitorch::optim::AdamConfig::default()).unwrap();
    net.zero_grad();
    adam.step(&mut net).unwrap();
    checkpoint::save_training_state(&saved, &mut net, &adam, 1).unwrap();
    let original = std::fs::read(&saved).unwrap();
    for case in 0..500 {
        std::fs::write(&damaged_path, damaged(&original, &mut rng, 300)).unwrap();
        never_panics("training state", case, || {
            checkpoint::load_training_state(Path::new(&damaged_path), &mut net, &mut adam).map(|_| ())
        })
        .ok();
    }
}

#[test]
fn damaged_images_are_errors_or_valid() {
    // A PNG of each colour type the reader converts, and both PGM forms.
    let mut originals = Vec::new();
    for (colour, channels) in [(png::ColorType::Grayscale, 1), (png::ColorType::Rgba, 4)] {
        let mut bytes = Vec::new();
        let mut encoder = png::Encoder::new(&mut bytes, 12, 9);
        encoder.set_color(colour);
        let mut writer = encoder.write_header().unwrap();
        let samples: Vec<u8> = (0..12 * 9 * channels).map(|i| (i * 37 % 256) as u8).collect();
        writer.write_image_data(&samples).unwrap();
        writer.finish().unwrap();
        originals.push(bytes);
    }
    let mut pgm = b"P5\n# comment\n12 9\n255\n".to_vec();
    pgm.extend((0..12 * 9).map(|i| (i * 11 % 256) as u8));
    originals.push(pgm);
    originals.push(b"P2 3 2 65535\n0 65535 7\n1 2 30000\n".to_vec());
    let mut rng = StdRng::seed_from_u64(4);
    let (mut errors, mut valid) = (0, 0);
    for case in 0..4000 {
        let original = &originals[case % originals.len()];
        let bytes = damaged(original, &mut rng, 40);
        match never_panics("image", case, || minitorch::image::GrayImage::decode(&bytes, "damaged")) {
            Ok(image) => {
                assert_eq!(image.pixels.len(), image.width * image.height, "case {case}");
                valid += 1;
            }
            Err(error) => {
                assert!(error.to_string().starts_with("damaged: "), "{error}");
                errors += 1;
            }
        }
    }
    println!("{errors} errors, {valid} still valid");
    assert!(errors > 2000, "most damage is detected: {errors} errors");
}
