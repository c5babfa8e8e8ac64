//! Grayscale images from PNG and PGM files, for classifying pictures that are not in an IDX set
//! (feature `images`).
//!
//! Every PNG colour type and bit depth is read, and binary (`P5`) and text (`P2`) PGM. Colour
//! becomes gray as PIL's `convert("L")` makes it (`L = (19595·R + 38470·G + 7471·B + 2¹⁵) / 2¹⁶`,
//! ITU-R 601-2), so pixels match what torchvision would read. Transparent pixels are laid over
//! white, as a browser shows them: a digit drawn on a transparent canvas reads as ink on paper.
//! Samples deeper than 8 bits are scaled to 0–255.
//!
//! Tests: `tests/image.rs` (known pixels in every format, and thousands of corrupted files that
//! must give an error, never a panic).

use std::path::Path;

use crate::Error;

/// The most pixels an image may have: far more than a digit needs, small enough that a lying
/// header cannot make the reader allocate gigabytes.
pub const MAX_PIXELS: usize = 1 << 26;

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
