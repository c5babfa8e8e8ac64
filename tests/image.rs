//! Reading PNG and PGM images (`minitorch::image`): known pixels in every PNG colour type and
//! both PGM forms, and a clear error for what is not an image. Damaged files are fed to the
//! reader by `tests/robustness.rs`.

use minitorch::Error;
use minitorch::image::GrayImage;

/// A PNG of `width × height` pixels with `samples` of the given colour type and bit depth.
fn png(width: u32, height: u32, colour: png::ColorType, depth: png::BitDepth, samples: &[u8]) -> Vec<u8> {
    png_with_palette(width, height, colour, depth, samples, None)
}

fn png_with_palette(
    width: u32,
    height: u32,
    colour: png::ColorType,
    depth: png::BitDepth,
    samples: &[u8],
    palette: Option<&[u8]>,
) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(colour);
    encoder.set_depth(depth);
    if let Some(palette) = palette {
        encoder.set_palette(palette.to_vec());
    }
    let mut writer = encoder.write_header().unwrap();
    writer.write_image_data(samples).unwrap();
    writer.finish().unwrap();
    bytes
}

fn decode(bytes: &[u8]) -> GrayImage {
    GrayImage::decode(bytes, "test").unwrap()
}

#[test]
fn gray_png_pixels_are_read_as_they_are() {
    let image =
        decode(&png(3, 2, png::ColorType::Grayscale, png::BitDepth::Eight, &[0, 1, 2, 253, 254, 255]));
    assert_eq!((image.width, image.height), (3, 2));
    assert_eq!(image.pixels, [0, 1, 2, 253, 254, 255]);
}

#[test]
fn sixteen_bit_png_samples_keep_their_high_byte() {
    let image =
        decode(&png(2, 1, png::ColorType::Grayscale, png::BitDepth::Sixteen, &[0x12, 0x34, 0xff, 0xff]));
    assert_eq!(image.pixels, [0x12, 0xff]);
}

#[test]
fn one_bit_and_palette_pngs_are_expanded() {
    // 1 bit per pixel, a row padded to a byte: 1, 0, 1.
    let image = decode(&png(3, 1, png::ColorType::Grayscale, png::BitDepth::One, &[0b1010_0000]));
    assert_eq!(image.pixels, [255, 0, 255]);
    let palette = [0, 0, 0, 255, 255, 255, 255, 0, 0];
    let bytes =
        png_with_palette(3, 1, png::ColorType::Indexed, png::BitDepth::Eight, &[2, 1, 0], Some(&palette));
    assert_eq!(decode(&bytes).pixels, [76, 255, 0]);
}

#[test]
fn colour_becomes_gray_as_pil_converts_it() {
    // Pillow 13.0.0's convert("L") of pure red, green, blue and of (10, 200, 30).
    let samples = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 200, 30];
    let image = decode(&png(4, 1, png::ColorType::Rgb, png::BitDepth::Eight, &samples));
    assert_eq!(image.pixels, [76, 150, 29, 124]);
}

#[test]
fn transparent_pixels_lie_over_white() {
    // Black ink opaque, half transparent and fully transparent; a transparent "black" reads white.
    let samples = [0, 0, 0, 255, 0, 0, 0, 128, 0, 0, 0, 0];
    assert_eq!(
        decode(&png(3, 1, png::ColorType::Rgba, png::BitDepth::Eight, &samples)).pixels,
        [0, 127, 255]
    );
    let samples = [0, 255, 100, 0, 200, 51];
    let image = decode(&png(3, 1, png::ColorType::GrayscaleAlpha, png::BitDepth::Eight, &samples));
    assert_eq!(image.pixels, [0, 255, 244]);
}

#[test]
fn pgm_files_binary_and_text_with_comments() {
    let image = decode(b"P5\n# made by hand\n3 1\n255\n\x00\x80\xff");
    assert_eq!((image.width, image.height, image.pixels), (3, 1, vec![0, 128, 255]));
    let image = decode(b"P2 2 2 15\n0 15 # comment\n 7 8\n");
    assert_eq!((image.width, image.height, image.pixels), (2, 2, vec![0, 255, 119, 136]));
    // Two big-endian bytes per sample above 255, from 256 on.
    let image = decode(b"P5 2 1 65535 \x00\x00\xff\xff");
    assert_eq!(image.pixels, [0, 255]);
    assert_eq!(decode(b"P5 1 1 256\n\x01\x00").pixels, [255]);
    // Scaled to 0–255 rounding to nearest: 1/4 of 255 is 63.75.
    assert_eq!(decode(b"P2 2 1 4\n1 2").pixels, [64, 128]);
}

/// The message of the error that decoding `bytes` gives.
fn problem(bytes: &[u8]) -> String {
    match GrayImage::decode(bytes, "upload") {
        Err(error @ Error::Image { .. }) => error.to_string(),
        other => panic!("expected an image error, got {other:?}"),
    }
}

#[test]
fn what_is_not_an_image_is_a_clear_error() {
    assert_eq!(problem(b"GIF89a"), "upload: not a PNG or PGM (P2/P5) image");
    assert_eq!(problem(b""), "upload: not a PNG or PGM (P2/P5) image");
    assert_eq!(problem(b"P5 0 3 255\n"), "upload: 0×3 pixels: the image is empty");
    assert!(problem(b"P5 100000 100000 255\n").contains("more than the 16777216 this reader takes"));
    assert_eq!(problem(b"P5 2 2 255\n\x00"), "upload: 2×2 pixels need 4 bytes of samples, the file has 1");
    assert_eq!(
        problem(b"P5 2 1 65535\n\x00\x00\xff"),
        "upload: 2×1 pixels need 4 bytes of samples, the file has 3"
    );
    assert_eq!(problem(b"P2 2 1 9\n3 10"), "upload: sample 10 is above the declared largest value 9");
    assert_eq!(problem(b"P2 2 1 9\n3"), "upload: 2 samples declared, 1 found");
    assert_eq!(problem(b"P5 2 1 0\n\x00\x00"), "upload: largest value 0: PGM allows 1 to 65535");
    assert_eq!(problem(b"P5 2"), "upload: no height in the PGM header");
    // A PNG's size is checked from its header, before its rows are decoded.
    let huge = png(4097, 4096, png::ColorType::Grayscale, png::BitDepth::Eight, &vec![0; 4097 * 4096]);
    assert_eq!(problem(&huge), "upload: 4097×4096 pixels: more than the 16777216 this reader takes");
    let mut truncated = png(8, 8, png::ColorType::Grayscale, png::BitDepth::Eight, &[7; 64]);
    truncated.truncate(truncated.len() - 20);
    assert!(problem(&truncated).starts_with("upload: "));
}

#[test]
fn a_file_is_named_in_its_error() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("digit.png");
    let error = GrayImage::read(&path).unwrap_err().to_string();
    assert!(error.starts_with(&path.display().to_string()), "{error}");
    std::fs::write(&path, b"P5 1 1 255\n\x2a").unwrap();
    assert_eq!(GrayImage::read(&path).unwrap().pixels, [42]);
}

#[test]
fn a_digit_becomes_one_normalised_input() {
    use minitorch::data::Normalization;
    let mut page = GrayImage { width: 40, height: 40, pixels: vec![0; 1600] };
    for y in 10..30 {
        page.pixels[y * 40 + 20] = 255; // a vertical stroke: a one
    }
    let mut digit = page.to_mnist().unwrap();
    let input = digit.to_input().unwrap();
    assert_eq!(input.shape(), (784, 1));
    assert!(input.iter().zip(&digit.pixels).all(|(&x, &p)| x == Normalization::MNIST.input(p)));
    digit.pixels.pop();
    let error = digit.to_input().unwrap_err();
    assert_eq!(
        error.to_string(),
        "pixels of whole images (the network's input width each): expected 784, found 783"
    );
}
