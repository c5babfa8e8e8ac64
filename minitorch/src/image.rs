//! Grayscale images from PNG and PGM files, for classifying pictures that are not in an IDX set
//! (feature `images`).
//!
//! Every PNG colour type and bit depth is read, and binary (`P5`) and text (`P2`) PGM. Colour
//! becomes gray as PIL's `convert("L")` makes it (`L = (19595·R + 38470·G + 7471·B + 2¹⁵) / 2¹⁶`,
//! ITU-R 601-2), so opaque pixels match what torchvision would read. Transparent pixels are laid
//! over white, as a browser shows them (PIL drops the alpha instead): a digit drawn on a
//! transparent canvas reads as ink on paper. A 16-bit PNG sample keeps its high byte; a PGM
//! sample is scaled to 0–255 by the file's largest value, rounded.
//!
//! [`GrayImage::to_mnist`] then makes a picture into MNIST's form.
//!
//! Tests: `tests/image.rs` (known pixels in every format), `tests/robustness.rs` (thousands of
//! corrupted files that must give an error, never a panic), `tests/preprocessing.rs` (`to_mnist`).

use std::fmt;
use std::path::Path;

use crate::Batch;
use crate::Error;
use crate::data::Normalization;

/// The most pixels an image may have: 4096 × 4096, more than a phone camera's photo and far more
/// than a digit needs; small enough that a lying header or a compressed bomb cannot make the
/// reader allocate more than a few hundred megabytes (an RGBA PNG's rows, 64 MB, then a float
/// per pixel in [`GrayImage::to_mnist`]).
pub const MAX_PIXELS: usize = 1 << 24;

/// An 8-bit grayscale image: 0 is black, 255 white.
///
/// ```
/// use minitorch::image::GrayImage;
/// // A 2×1 binary PGM: one black and one white pixel.
/// let image = GrayImage::decode(b"P5 2 1 255\n\x00\xff", "example")?;
/// assert_eq!((image.width, image.height, image.pixels), (2, 1, vec![0, 255]));
/// # Ok::<(), minitorch::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrayImage {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `width · height` pixels, row by row from the top.
    pub pixels: Vec<u8>,
}

impl GrayImage {
    /// Reads a PNG or PGM file (told apart by its first bytes, not its name).
    ///
    /// ```no_run
    /// use minitorch::image::GrayImage;
    /// let digit = GrayImage::read("digit.png".as_ref())?.to_mnist()?;
    /// println!("{digit}"); // what was done, e.g. "inverted, 56×56 → 28×28 (…)"
    /// # Ok::<(), minitorch::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Image`] naming the file, if it cannot be read, is neither format, or is corrupt.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|error| Error::Image {
            location: path.display().to_string(),
            problem: error.to_string(),
        })?;
        Self::decode(&bytes, &path.display().to_string())
    }

    /// Decodes the bytes of a PNG or PGM file; `location` names them in errors.
    ///
    /// # Errors
    /// [`Error::Image`] if the bytes are neither format or are corrupt.
    pub fn decode(bytes: &[u8], location: &str) -> Result<Self, Error> {
        let decoded = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            decode_png(bytes)
        } else if bytes.starts_with(b"P5") || bytes.starts_with(b"P2") {
            decode_pgm(bytes)
        } else {
            Err("not a PNG or PGM (P2/P5) image".to_string())
        };
        decoded.map_err(|problem| Error::Image { location: location.to_string(), problem })
    }
}

/// Checks a header's size before anything is allocated for it.
fn checked_size(width: usize, height: usize) -> Result<usize, String> {
    match width.checked_mul(height) {
        Some(0) => Err(format!("{width}×{height} pixels: the image is empty")),
        Some(pixels) if pixels <= MAX_PIXELS => Ok(pixels),
        _ => Err(format!("{width}×{height} pixels: more than the {MAX_PIXELS} this reader takes")),
    }
}

/// PIL's `convert("L")` of one colour, in fixed point.
fn luma(red: u8, green: u8, blue: u8) -> u8 {
    let weighted = 19595 * u32::from(red) + 38470 * u32::from(green) + 7471 * u32::from(blue);
    ((weighted + 0x8000) >> 16) as u8
}

/// `gray` laid over white with opacity `alpha`.
fn over_white(gray: u8, alpha: u8) -> u8 {
    let (gray, alpha) = (u32::from(gray), u32::from(alpha));
    ((gray * alpha + 255 * (255 - alpha) + 127) / 255) as u8
}

fn decode_png(bytes: &[u8]) -> Result<GrayImage, String> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    // Palette and low bit depths expanded, 16 bits cut to 8: every image arrives as 8-bit gray,
    // gray + alpha, RGB or RGBA.
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let header = decoder.read_header_info().map_err(|error| error.to_string())?;
    checked_size(header.width as usize, header.height as usize)?;
    let mut reader = decoder.read_info().map_err(|error| error.to_string())?;
    let mut buffer = vec![0; reader.output_buffer_size().ok_or("the image is too large")?];
    let frame = reader.next_frame(&mut buffer).map_err(|error| error.to_string())?;
    let (width, height) = (frame.width as usize, frame.height as usize);
    let samples = &buffer[..frame.buffer_size()];
    let rows = samples.chunks_exact(frame.line_size);
    let pixels: Vec<u8> = match frame.color_type {
        png::ColorType::Grayscale => rows.flat_map(|row| &row[..width]).copied().collect(),
        png::ColorType::GrayscaleAlpha => rows
            .flat_map(|row| row[..2 * width].chunks_exact(2))
            .map(|pixel| over_white(pixel[0], pixel[1]))
            .collect(),
        png::ColorType::Rgb => rows
            .flat_map(|row| row[..3 * width].chunks_exact(3))
            .map(|pixel| luma(pixel[0], pixel[1], pixel[2]))
            .collect(),
        png::ColorType::Rgba => rows
            .flat_map(|row| row[..4 * width].chunks_exact(4))
            .map(|pixel| over_white(luma(pixel[0], pixel[1], pixel[2]), pixel[3]))
            .collect(),
        png::ColorType::Indexed => return Err("a palette image that was not expanded".into()),
    };
    if pixels.len() != width * height {
        return Err(format!("{width}×{height} pixels declared, {} decoded", pixels.len()));
    }
    Ok(GrayImage { width, height, pixels })
}

/// A PGM: `P5` (binary) or `P2` (text), then width, height and the largest value, separated by
/// whitespace and `#` comments, then the samples (binary: one byte each up to 255, two
/// big-endian bytes above).
fn decode_pgm(bytes: &[u8]) -> Result<GrayImage, String> {
    let binary = bytes.starts_with(b"P5");
    let mut position = 2;
    let mut header = [0usize; 3];
    for (value, name) in header.iter_mut().zip(["width", "height", "largest value"]) {
        *value = read_number(bytes, &mut position).ok_or_else(|| format!("no {name} in the PGM header"))?;
    }
    let [width, height, largest] = header;
    let pixels = checked_size(width, height)?;
    if !(1..=65535).contains(&largest) {
        return Err(format!("largest value {largest}: PGM allows 1 to 65535"));
    }
    let scale = |sample: usize| -> Result<u8, String> {
        if sample > largest {
            return Err(format!("sample {sample} is above the declared largest value {largest}"));
        }
        Ok(((sample * 255 + largest / 2) / largest) as u8)
    };
    let samples: Result<Vec<u8>, String> = if binary {
        // Exactly one whitespace byte ends the header.
        let width_in_bytes = if largest < 256 { 1 } else { 2 };
        let raster = bytes.get(position + 1..).unwrap_or_default();
        if raster.len() < pixels * width_in_bytes {
            return Err(format!(
                "{width}×{height} pixels need {} bytes of samples, the file has {}",
                pixels * width_in_bytes,
                raster.len()
            ));
        }
        raster
            .chunks_exact(width_in_bytes)
            .take(pixels)
            .map(|sample| scale(sample.iter().fold(0, |value, &byte| value * 256 + usize::from(byte))))
            .collect()
    } else {
        (0..pixels)
            .map(|index| {
                let sample = read_number(bytes, &mut position)
                    .ok_or_else(|| format!("{pixels} samples declared, {index} found"))?;
                scale(sample)
            })
            .collect()
    };
    Ok(GrayImage { width, height, pixels: samples? })
}

/// The decimal number at `position` after whitespace and `#` comments, moving past it; `None`
/// if there is none or it does not fit a `usize`.
fn read_number(bytes: &[u8], position: &mut usize) -> Option<usize> {
    loop {
        match bytes.get(*position)? {
            byte if byte.is_ascii_whitespace() => *position += 1,
            b'#' => {
                while bytes.get(*position).is_some_and(|&byte| byte != b'\n') {
                    *position += 1;
                }
            }
            _ => break,
        }
    }
    let digits = bytes[*position..].iter().take_while(|byte| byte.is_ascii_digit()).count();
    let text = std::str::from_utf8(&bytes[*position..*position + digits]).ok()?;
    *position += digits;
    text.parse().ok()
}

/// Side of the box MNIST scaled each digit's ink to fit, keeping its aspect ratio.
const DIGIT_BOX: usize = 20;
/// Side of an MNIST image.
const SIDE: usize = 28;
/// After the background is removed and the ink stretched to 0–255, what counts as ink when the
/// digit is cropped: an eighth of full ink, so that MNIST's own faint anti-aliased edges stay.
const INK_THRESHOLD: u8 = 32;
/// The least contrast between ink and background that is taken for a digit, not a blank page.
const MIN_CONTRAST: u8 = 48;

/// A picture made into what an MNIST network takes, and what was done to it; made by
/// [`GrayImage::to_mnist`], whose example shows one.
#[derive(Debug, Clone, PartialEq)]
pub struct MnistDigit {
    /// 28 × 28 pixels, row by row: light ink on black, as MNIST's.
    pub pixels: Vec<u8>,
    /// Whether the picture had a light background and was inverted.
    pub inverted: bool,
    /// The picture's size, width × height.
    pub source_size: (usize, usize),
    /// The ink's bounding box in the picture, width × height, before it was scaled.
    pub ink_size: (usize, usize),
    /// The ink's size after scaling to fit 20 × 20.
    pub scaled_size: (usize, usize),
}

impl MnistDigit {
    /// The digit as an MNIST network's input: its pixels normalised as MNIST's training images
    /// were ([`Normalization::MNIST`]), one column.
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] if `pixels` no longer holds 28 × 28 pixels.
    pub fn to_input(&self) -> Result<Batch<784>, Error> {
        Normalization::MNIST.batch::<784>(&self.pixels).and_then(|batch| match batch.ncols() {
            1 => Ok(batch),
            _ => Err(Error::SizeMismatch {
                what: "pixels of an MNIST digit",
                expected: 784,
                found: self.pixels.len(),
            }),
        })
    }
}

impl fmt::Display for MnistDigit {
    /// What was done, in one line: `inverted, 56×56 → 28×28 (ink 30×40 scaled to 15×20)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ((width, height), (ink_width, ink_height)) = (self.source_size, self.ink_size);
        let (scaled_width, scaled_height) = self.scaled_size;
        let polarity = if self.inverted { "inverted" } else { "not inverted" };
        write!(
            f,
            "{polarity}, {width}×{height} → {SIDE}×{SIDE} (ink {ink_width}×{ink_height} scaled to {scaled_width}×{scaled_height})"
        )
    }
}

impl GrayImage {
    /// Makes a picture of one digit, of any size and either polarity, into MNIST's form, as
    /// MNIST itself was made: a light background is detected (from the picture's border) and
    /// inverted, the background level removed and the ink stretched to 0–255, the ink cropped,
    /// scaled to fit 20 × 20 keeping its aspect ratio (each new pixel the average of the area it
    /// covers), and placed in 28 × 28 so that its centre of mass is the image's centre.
    ///
    /// ```
    /// use minitorch::image::GrayImage;
    /// // A black bar on white, 40 × 60 pixels.
    /// let pixels = (0..40 * 60).map(|i| if (15..25).contains(&(i % 40)) && (10..50).contains(&(i / 40)) { 0 } else { 255 }).collect();
    /// let digit = GrayImage { width: 40, height: 60, pixels }.to_mnist()?;
    /// assert!(digit.inverted);
    /// assert_eq!((digit.ink_size, digit.scaled_size), ((10, 40), (5, 20)));
    /// assert_eq!(digit.pixels[14 * 28 + 14], 255); // ink at the centre
    /// # Ok::<(), minitorch::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Image`] if the picture is blank: no ink that stands out from its background.
    pub fn to_mnist(&self) -> Result<MnistDigit, Error> {
        let blank = |problem: &str| Error::Image { location: "the picture".into(), problem: problem.into() };
        let (width, height) = (self.width, self.height);
        if self.pixels.len() != width * height || width == 0 || height == 0 {
            return Err(blank("its size does not match its pixels"));
        }
        // The border is background in any picture of one digit; its median is the background.
        let mut border: Vec<u8> = (0..width * height)
            .filter(|index| {
                let (x, y) = (index % width, index / width);
                x == 0 || y == 0 || x == width - 1 || y == height - 1
            })
            .map(|index| self.pixels[index])
            .collect();
        border.sort_unstable();
        let background = border[border.len() / 2];
        let inverted = background > 127;
        let ink: Vec<u8> = if inverted {
            self.pixels.iter().map(|&pixel| 255 - pixel).collect()
        } else {
            self.pixels.clone()
        };
        let background = if inverted { 255 - background } else { background };
        let brightest = ink.iter().copied().max().unwrap_or(0);
        if brightest.saturating_sub(background) < MIN_CONTRAST {
            return Err(blank("no digit: nothing stands out from the background"));
        }
        let range = f32::from(brightest - background);
        let stretched: Vec<f32> =
            ink.iter().map(|&pixel| f32::from(pixel.saturating_sub(background)) * 255.0 / range).collect();

        // The ink's bounding box.
        let inked = |index: &usize| stretched[*index] > f32::from(INK_THRESHOLD);
        let columns = (0..width * height).filter(inked).map(|index| index % width);
        let (left, right) = columns.fold((width, 0), |(low, high), x| (low.min(x), high.max(x)));
        let rows = (0..width * height).filter(inked).map(|index| index / width);
        let (top, bottom) = rows.fold((height, 0), |(low, high), y| (low.min(y), high.max(y)));
        let (ink_width, ink_height) = (right - left + 1, bottom - top + 1);

        // Scaled to fit the box: the longer side becomes 20.
        let scale = DIGIT_BOX as f32 / ink_width.max(ink_height) as f32;
        let scaled_width = ((ink_width as f32 * scale).round() as usize).clamp(1, DIGIT_BOX);
        let scaled_height = ((ink_height as f32 * scale).round() as usize).clamp(1, DIGIT_BOX);
        let source = |x: usize, y: usize| stretched[(top + y) * width + left + x];
        let scaled = area_resample(source, (ink_width, ink_height), (scaled_width, scaled_height));

        // Placed so that the centre of mass falls on pixel (14, 14), where MNIST's test digits
        // have theirs (their mean is (14.00, 13.99)), kept inside the image.
        let mass: f32 = scaled.iter().sum();
        let centre = |coordinate: &dyn Fn(usize) -> usize| {
            scaled.iter().enumerate().map(|(index, &value)| coordinate(index) as f32 * value).sum::<f32>()
                / mass
        };
        let (centre_x, centre_y) =
            (centre(&|index| index % scaled_width), centre(&|index| index / scaled_width));
        let offset = |centre: f32, size: usize| ((14.0 - centre).round().max(0.0) as usize).min(SIDE - size);
        let (offset_x, offset_y) = (offset(centre_x, scaled_width), offset(centre_y, scaled_height));
        let mut pixels = vec![0u8; SIDE * SIDE];
        for (index, &value) in scaled.iter().enumerate() {
            let (x, y) = (offset_x + index % scaled_width, offset_y + index / scaled_width);
            pixels[y * SIDE + x] = value.round().clamp(0.0, 255.0) as u8;
        }
        Ok(MnistDigit {
            pixels,
            inverted,
            source_size: (width, height),
            ink_size: (ink_width, ink_height),
            scaled_size: (scaled_width, scaled_height),
        })
    }
}

/// Resamples a `from` (width, height) image, read through `source(x, y)`, to `to`: each new
/// pixel is the average of the old pixels under it, each weighted by how much of it is covered.
/// Shrinking this way is anti-aliased; enlarging repeats pixels, and a repeated image shrinks
/// back to exactly what it was.
fn area_resample(source: impl Fn(usize, usize) -> f32, from: (usize, usize), to: (usize, usize)) -> Vec<f32> {
    // The old pixels one new pixel covers along an axis, with the covered fraction of each.
    let spans = |old: usize, new: usize| -> Vec<Vec<(usize, f32)>> {
        let step = old as f32 / new as f32;
        (0..new)
            .map(|index| {
                let (start, end) = (index as f32 * step, (index + 1) as f32 * step);
                (start.floor() as usize..(end.ceil() as usize).min(old))
                    .map(|pixel| (pixel, (end.min(pixel as f32 + 1.0) - start.max(pixel as f32)) / step))
                    .filter(|&(_, weight)| weight > 0.0)
                    .collect()
            })
            .collect()
    };
    let (columns, rows) = (spans(from.0, to.0), spans(from.1, to.1));
    let mut resampled = Vec::with_capacity(to.0 * to.1);
    for row in &rows {
        for column in &columns {
            let value = row
                .iter()
                .flat_map(|&(y, row_weight)| {
                    column.iter().map(move |&(x, weight)| (x, y, row_weight * weight))
                })
                .map(|(x, y, weight)| source(x, y) * weight)
                .sum();
            resampled.push(value);
        }
    }
    resampled
}
