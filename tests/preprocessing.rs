//! Pictures made into MNIST's form (`GrayImage::to_mnist`): the 10,000 test images, changed as
//! real pictures differ from MNIST (inverted, enlarged, padded), come back to what the embedded
//! model reads as well as the originals; and a blank picture is an error.

use std::path::Path;

use minitorch::data::{Normalization, find_mnist_files, read_idx_images, read_idx_labels};
use minitorch::image::GrayImage;
use minitorch::models::MnistMlp;
use minitorch::prelude::*;

/// `image` enlarged `factor` times, each pixel repeated.
fn enlarged(image: &GrayImage, factor: usize) -> GrayImage {
    let (width, height) = (image.width * factor, image.height * factor);
    let pixels =
        (0..width * height).map(|i| image.pixels[(i / width / factor) * image.width + i % width / factor]);
    GrayImage { width, height, pixels: pixels.collect() }
}

/// `image` off-centre on a larger black page: `left` and `top` pixels before it, `right` and
/// `bottom` after.
fn padded(image: &GrayImage, [left, top, right, bottom]: [usize; 4]) -> GrayImage {
    let (width, height) = (image.width + left + right, image.height + top + bottom);
    let mut pixels = vec![0; width * height];
    for (y, row) in image.pixels.chunks_exact(image.width).enumerate() {
        pixels[(y + top) * width + left..][..image.width].copy_from_slice(row);
    }
    GrayImage { width, height, pixels }
}

fn inverted(image: &GrayImage) -> GrayImage {
    GrayImage { pixels: image.pixels.iter().map(|&p| 255 - p).collect(), ..image.clone() }
}

/// A way a real picture differs from an MNIST image.
type Change = fn(&GrayImage) -> GrayImage;

/// The share of `images` (28 × 28 each) that the model classifies as `labels` say.
fn accuracy(network: &mut MnistMlp, images: &[Vec<u8>], labels: &[u8]) -> f32 {
    let mut correct = 0;
    for (images, labels) in images.chunks(1000).zip(labels.chunks(1000)) {
        let batch = Normalization::MNIST.batch::<784>(&images.concat()).unwrap();
        let predicted = predicted_classes(network.forward(&batch).unwrap());
        correct += predicted.zip(labels).filter(|&(p, &l)| p == usize::from(l)).count();
    }
    correct as f32 / labels.len() as f32
}

#[test]
fn the_test_set_survives_inverting_enlarging_and_padding() {
    let [.., test_images, test_labels] =
        find_mnist_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")).unwrap();
    let images = read_idx_images(&test_images).unwrap();
    let labels = read_idx_labels(&test_labels).unwrap();
    let originals: Vec<GrayImage> = images
        .pixels
        .chunks_exact(784)
        .map(|pixels| GrayImage { width: 28, height: 28, pixels: pixels.to_vec() })
        .collect();
    let mut network = MnistMlp::pretrained();
    let raw: Vec<Vec<u8>> = originals.iter().map(|image| image.pixels.clone()).collect();
    let baseline = accuracy(&mut network, &raw, &labels);
    let changes: [(&str, Change); 5] = [
        ("as they are", |image| image.clone()),
        ("inverted", inverted),
        ("enlarged ×2", |image| enlarged(image, 2)),
        ("enlarged ×3 and inverted", |image| inverted(&enlarged(image, 3))),
        ("off-centre on a 96×61 page", |image| padded(image, [30, 5, 38, 28])),
    ];
    for (name, change) in changes {
        let digits: Vec<Vec<u8>> =
            originals.iter().map(|image| change(image).to_mnist().unwrap().pixels).collect();
        let changed = accuracy(&mut network, &digits, &labels);
        println!("{name}: {changed:.4} (raw {baseline:.4})");
        assert!((changed - baseline).abs() <= 0.005, "{name}: accuracy {changed}, raw {baseline}");
    }
}

#[test]
fn an_enlarged_digit_shrinks_back_to_exactly_its_pixels() {
    // Area averaging is the exact inverse of repeating pixels: each new pixel is the mean of the
    // block of copies it covers.
    let [.., test_images, _] =
        find_mnist_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")).unwrap();
    let images = read_idx_images(&test_images).unwrap();
    for pixels in images.pixels.chunks_exact(784).take(100) {
        let original = GrayImage { width: 28, height: 28, pixels: pixels.to_vec() };
        let expected = original.to_mnist().unwrap().pixels;
        for factor in [2, 3] {
            assert_eq!(enlarged(&original, factor).to_mnist().unwrap().pixels, expected, "×{factor}");
        }
    }
}

#[test]
fn a_light_picture_is_inverted_and_said_so() {
    // A 56 × 56 black-on-white "1": a vertical bar.
    let digit = rectangle((56, 56), 255, 0, (26..30, 8..48)).to_mnist().unwrap();
    assert!(digit.inverted);
    assert_eq!(digit.to_string(), "inverted, 56×56 → 28×28 (ink 4×40 scaled to 2×20)");
    // Its centre of mass, (0.5, 9.5) in the 2 × 20 bar, lands on (14, 14) rounded half away from
    // 0: columns 14–15, rows 5–24.
    let inked: Vec<usize> = (0..784).filter(|&i| digit.pixels[i] > 0).collect();
    assert!(inked.iter().all(|&i| (14..16).contains(&(i % 28)) && (5..25).contains(&(i / 28))), "{inked:?}");
    assert_eq!(inked.len(), 40);
}

#[test]
fn a_gray_page_loses_its_gray() {
    // Dark gray ink (60) on light gray paper (200): inverted, the paper becomes 0 and the ink 255.
    let digit = rectangle((30, 30), 200, 60, (10..20, 5..25)).to_mnist().unwrap();
    assert!(digit.inverted);
    assert_eq!(digit.pixels.iter().copied().max(), Some(255));
    assert_eq!(digit.pixels.iter().filter(|&&p| p == 255).count(), 10 * 20);
    assert_eq!(digit.pixels.iter().filter(|&&p| p == 0).count(), 784 - 200);
}

#[test]
fn a_blank_picture_is_an_error() {
    for level in [0, 128, 255] {
        let page = GrayImage { width: 40, height: 30, pixels: vec![level; 1200] };
        let error = page.to_mnist().unwrap_err().to_string();
        assert_eq!(error, "the picture: no digit: nothing stands out from the background");
    }
    // Faint marks below the contrast that counts as ink.
    let mut faint = vec![255u8; 1200];
    faint[600] = 230;
    assert!(GrayImage { width: 40, height: 30, pixels: faint }.to_mnist().is_err());
}

#[test]
fn a_picture_whose_size_does_not_match_its_pixels_is_an_error() {
    for (width, height, count) in [(3, 3, 8), (0, 5, 0), (5, 0, 0)] {
        let picture = GrayImage { width, height, pixels: vec![0; count] };
        assert!(picture.to_mnist().is_err(), "{width}×{height} with {count} pixels");
    }
}

/// A `width × height` page of `background` with a rectangle of `ink` over the given columns and
/// rows.
fn rectangle(
    (width, height): (usize, usize),
    background: u8,
    ink: u8,
    (columns, rows): (std::ops::Range<usize>, std::ops::Range<usize>),
) -> GrayImage {
    let inside = |i: usize| columns.contains(&(i % width)) && rows.contains(&(i / width));
    let pixels = (0..width * height).map(|i| if inside(i) { ink } else { background }).collect();
    GrayImage { width, height, pixels }
}

/// A `width × height` page of `page` with `ink` at the given positions.
fn page(width: usize, height: usize, page: u8, ink: &[((usize, usize), u8)]) -> GrayImage {
    let mut pixels = vec![page; width * height];
    for &((x, y), value) in ink {
        pixels[y * width + x] = value;
    }
    GrayImage { width, height, pixels }
}

#[test]
fn the_border_not_the_whole_picture_tells_the_background() {
    // Most of the picture is a dark blob, but the border is white: dark ink on white paper.
    let digit = rectangle((10, 10), 255, 0, (1..9, 1..9)).to_mnist().unwrap();
    assert!(digit.inverted);
    assert_eq!(digit.ink_size, (8, 8));
}

#[test]
fn the_thresholds_sit_where_they_are_said_to() {
    // A background of 127 is dark (light ink on it); 128 would be light.
    let digit = page(9, 9, 127, &[((4, 4), 255)]).to_mnist().unwrap();
    assert!(!digit.inverted);
    // Ink 48 levels above the background is a digit; 47 is not.
    assert!(page(9, 9, 0, &[((4, 4), 48)]).to_mnist().is_ok());
    assert!(page(9, 9, 0, &[((4, 4), 47)]).to_mnist().is_err());
    // After stretching, a pixel at exactly 1/8 of full ink (32 of 255) is not cropped in; one
    // level above is.
    let faint = page(20, 20, 0, &[((10, 10), 255), ((2, 10), 32)]).to_mnist().unwrap();
    assert_eq!(faint.ink_size, (1, 1));
    let faint = page(20, 20, 0, &[((10, 10), 255), ((2, 10), 33)]).to_mnist().unwrap();
    assert_eq!(faint.ink_size, (9, 1));
}

#[test]
fn a_wide_digit_is_scaled_by_its_width() {
    // A 40 × 4 bar: its width becomes 20, its height 2.
    let digit = rectangle((50, 24), 0, 255, (5..45, 10..14)).to_mnist().unwrap();
    assert_eq!((digit.ink_size, digit.scaled_size), ((40, 4), (20, 2)));
    assert_eq!(digit.pixels.iter().filter(|&&p| p == 255).count(), 40);
}

#[test]
fn the_background_is_the_median_of_the_whole_border() {
    // A 5 × 5 picture with one bright pixel at (1, 3) and a border of the 16 values 10, 15, …, 85
    // in an order chosen (by a search over orders) so that the whole border's median, 50, crops
    // a box that no other choice of pixels crops: one edge or two left out, the corners alone,
    // the interior counted too. Stretched from 50 to 255, pixels above 50 + 32·205/255 ≈ 75.7
    // are ink: 80 at (2, 0), 85 at (1, 4) and the bright pixel, a box 2 wide and 5 tall.
    #[rustfmt::skip]
    let pixels = vec![
        60, 50, 80, 75, 35,
        65,  0,  0,  0, 20,
        15,  0,  0,  0, 25,
        30, 255, 0,  0, 45,
        10, 85, 55, 40, 70,
    ];
    let digit = GrayImage { width: 5, height: 5, pixels }.to_mnist().unwrap();
    assert!(!digit.inverted);
    assert_eq!(digit.ink_size, (2, 5));
}
