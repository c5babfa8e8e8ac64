//! Labelled images from IDX files (the format of MNIST and Fashion-MNIST), gzip-compressed or
//! not, checked before they are trusted.
//!
//! An IDX file is a big-endian header followed by raw bytes:
//!
//! ```text
//! images: magic 0x00000803, count, rows, columns, then count·rows·columns pixels (u8)
//! labels: magic 0x00000801, count, then count labels (u8)
//! ```
//!
//! Images stay as bytes (47 MB for MNIST's training set, a quarter of it as f32) and are scaled
//! and normalised per batch by [`Dataset::fill_batch`].

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, RngExt, SeedableRng};

use crate::{Batch, Error};

const IMAGES_MAGIC: u32 = 0x0803;
const LABELS_MAGIC: u32 = 0x0801;

fn data_error(path: &Path, problem: impl Into<String>) -> Error {
    Error::Data { path: path.to_path_buf(), problem: problem.into() }
}

/// The file's bytes, gunzipped if they start with gzip's magic number.
fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, Error> {
    let raw = fs::read(path).map_err(|e| data_error(path, format!("cannot read: {e}")))?;
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(raw.as_slice())
        .read_to_end(&mut bytes)
        .map_err(|e| data_error(path, format!("corrupt gzip data: {e}")))?;
    Ok(bytes)
}

/// Checks the header of an IDX file with `dimensions` sizes after the magic number and returns
/// them with the payload, whose length must be exactly their product.
fn parse_idx<'a>(
    path: &Path,
    bytes: &'a [u8],
    magic: u32,
    dimensions: usize,
) -> Result<(Vec<usize>, &'a [u8]), Error> {
    let header_length = 4 * (1 + dimensions);
    let too_short = |length: usize| bytes.len() < length;
    let truncated =
        || data_error(path, format!("truncated: {} bytes, shorter than the IDX header", bytes.len()));
    if too_short(4) {
        return Err(truncated());
    }
    let word =
        |i: usize| u32::from_be_bytes([bytes[4 * i], bytes[4 * i + 1], bytes[4 * i + 2], bytes[4 * i + 3]]);
    let kind = |m: u32| match m {
        IMAGES_MAGIC => "an IDX image file",
        LABELS_MAGIC => "an IDX label file",
        _ => "not an IDX file of unsigned bytes",
    };
    if word(0) != magic {
        return Err(data_error(
            path,
            format!(
                "wrong magic number 0x{:08x} ({}); expected 0x{magic:08x} ({})",
                word(0),
                kind(word(0)),
                kind(magic)
            ),
        ));
    }
    if too_short(header_length) {
        return Err(truncated());
    }
    let sizes: Vec<usize> = (1..=dimensions).map(|i| word(i) as usize).collect();
    // A header may lie: sizes whose product overflows promise more than any file holds.
    let Some(expected) = sizes.iter().try_fold(1usize, |product, &size| product.checked_mul(size)) else {
        return Err(data_error(
            path,
            format!("the header's sizes {sizes:?} promise more bytes than can exist"),
        ));
    };
    let payload = &bytes[header_length..];
    if payload.len() != expected {
        let what = if payload.len() < expected { "truncated" } else { "too long" };
        return Err(data_error(
            path,
            format!(
                "{what}: the header promises {expected} bytes of data ({sizes:?}), the file has {}",
                payload.len()
            ),
        ));
    }
    Ok((sizes, payload))
}

/// Images of an IDX image file: `count` images of `rows × columns` pixels, row by row.
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    /// How many images.
    pub count: usize,
    /// Pixel rows per image.
    pub rows: usize,
    /// Pixel columns per image.
    pub columns: usize,
    /// `count · rows · columns` bytes, image after image.
    pub pixels: Vec<u8>,
}

/// Reads an IDX image file (gzip-compressed or not).
///
/// # Errors
/// [`Error::Data`] naming the file: missing or unreadable, corrupt gzip, wrong magic number,
/// truncated or too long.
pub fn read_idx_images(path: &Path) -> Result<Images, Error> {
    let bytes = read_maybe_gzip(path)?;
    let (sizes, pixels) = parse_idx(path, &bytes, IMAGES_MAGIC, 3)?;
    Ok(Images { count: sizes[0], rows: sizes[1], columns: sizes[2], pixels: pixels.to_vec() })
}

/// Reads an IDX label file (gzip-compressed or not).
///
/// # Errors
/// As [`read_idx_images`].
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, Error> {
    let bytes = read_maybe_gzip(path)?;
    let (_, labels) = parse_idx(path, &bytes, LABELS_MAGIC, 1)?;
    Ok(labels.to_vec())
}

/// Scaling of pixels into a network's input: `(pixel/255 − mean) / std`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalization {
    /// Mean of the scaled pixels.
    pub mean: f32,
    /// Standard deviation of the scaled pixels.
    pub std: f32,
}

impl Normalization {
    /// MNIST's training-set statistics, the constants PyTorch's examples use.
    pub const MNIST: Normalization = Normalization { mean: 0.1307, std: 0.3081 };

    /// One pixel as a network's input, `(pixel/255 − mean) / std`, computed as
    /// `pixel · (1/(255·std)) − mean/std`. Every image a network reads, in training or from a
    /// picture, goes through this one formula.
    ///
    /// ```
    /// use minitorch::data::Normalization;
    /// let scaling = Normalization { mean: 0.5, std: 0.5 };
    /// assert_eq!((scaling.input(0), scaling.input(255)), (-1.0, 1.0));
    /// ```
    pub fn input(&self, pixel: u8) -> f32 {
        f32::from(pixel) * (1.0 / (255.0 * self.std)) - self.mean / self.std
    }

    /// Images of `N` pixels each, one after another, as a batch of inputs (one column each).
    ///
    /// ```
    /// use minitorch::data::Normalization;
    /// let batch = Normalization::MNIST.batch::<4>(&[0, 255, 0, 0, 9, 9, 9, 9])?;
    /// assert_eq!(batch.shape(), (4, 2));
    /// assert_eq!(batch[(1, 0)], Normalization::MNIST.input(255));
    /// # Ok::<(), minitorch::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::SizeMismatch`] if `pixels` is not a whole number of images.
    pub fn batch<const N: usize>(&self, pixels: &[u8]) -> Result<Batch<N>, Error> {
        if N == 0 || !pixels.len().is_multiple_of(N) {
            return Err(Error::SizeMismatch {
                what: "pixels of whole images (the network's input width each)",
                expected: N,
                found: pixels.len(),
            });
        }
        Ok(Batch::from_iterator(pixels.len() / N, pixels.iter().map(|&p| self.input(p))))
    }

    /// The statistics of `pixels` themselves.
    pub fn of(pixels: &[u8]) -> Self {
        let n = pixels.len().max(1) as f64;
        let mean = pixels.iter().map(|&p| f64::from(p) / 255.0).sum::<f64>() / n;
        let variance = pixels.iter().map(|&p| (f64::from(p) / 255.0 - mean).powi(2)).sum::<f64>() / n;
        Self { mean: mean as f32, std: variance.sqrt().max(1e-6) as f32 }
    }
}

/// Labelled images kept as bytes; batches are built from them on demand.
#[derive(Clone, Debug)]
pub struct Dataset {
    pixels: Vec<u8>,
    labels: Vec<u8>,
    features: usize,
    normalization: Normalization,
}

impl Dataset {
    /// A dataset of `labels.len()` images of `features` pixels each.
    ///
    /// # Errors
    /// If `pixels` does not hold exactly one image per label.
    pub fn new(
        pixels: Vec<u8>,
        labels: Vec<u8>,
        features: usize,
        normalization: Normalization,
    ) -> Result<Self, Error> {
        if features == 0 || pixels.len() != labels.len() * features {
            return Err(Error::SizeMismatch {
                what: "dataset pixels (one image of `features` pixels per label)",
                expected: labels.len() * features,
                found: pixels.len(),
            });
        }
        Ok(Self { pixels, labels, features, normalization })
    }

    /// Reads an image file and its label file, checking that they agree.
    ///
    /// # Errors
    /// Those of [`read_idx_images`] and [`read_idx_labels`], and a label count that differs from
    /// the image count.
    pub fn from_idx_files(images: &Path, labels: &Path, normalization: Normalization) -> Result<Self, Error> {
        let image_file = read_idx_images(images)?;
        let label_file = read_idx_labels(labels)?;
        if label_file.len() != image_file.count {
            return Err(data_error(
                labels,
                format!(
                    "{} labels for {} images in {}",
                    label_file.len(),
                    image_file.count,
                    images.display()
                ),
            ));
        }
        Self::new(image_file.pixels, label_file, image_file.rows * image_file.columns, normalization)
    }

    /// How many images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image.
    pub fn features(&self) -> usize {
        self.features
    }

    /// The labels, one per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The raw pixels of image `index`.
    pub fn image(&self, index: usize) -> &[u8] {
        &self.pixels[index * self.features..(index + 1) * self.features]
    }

    /// How pixels become inputs.
    pub fn normalization(&self) -> Normalization {
        self.normalization
    }

    /// The images at `indices`, in that order, as a new dataset.
    pub fn subset(&self, indices: &[usize]) -> Self {
        Self {
            pixels: indices.iter().flat_map(|&i| self.image(i)).copied().collect(),
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            features: self.features,
            normalization: self.normalization,
        }
    }

    /// Writes the normalised images at `indices` into `batch` (one column each) and their labels
    /// into `labels`, reusing both buffers.
    ///
    /// # Errors
    /// If the images do not have `N` pixels.
    pub fn fill_batch<const N: usize>(
        &self,
        indices: &[usize],
        batch: &mut Batch<N>,
        labels: &mut Vec<usize>,
    ) -> Result<(), Error> {
        if N != self.features {
            return Err(Error::SizeMismatch {
                what: "pixels per image (the network's input width)",
                expected: N,
                found: self.features,
            });
        }
        crate::matrix::resize_batch(batch, indices.len());
        for (column, &index) in batch.as_mut_slice().chunks_exact_mut(N).zip(indices) {
            for (x, &pixel) in column.iter_mut().zip(self.image(index)) {
                *x = self.normalization.input(pixel);
            }
        }
        labels.clear();
        labels.extend(indices.iter().map(|&i| usize::from(self.labels[i])));
        Ok(())
    }
}

/// Random translations of the training images (data augmentation): every image of every epoch
/// moves by its own whole number of pixels, drawn uniformly from `−max..=max` down and across
/// independently, and the part of the frame it uncovers is background (pixel value 0). The
/// network then sees each picture in a few positions, as the test set's pictures are not all
/// centred alike, and fits the training images' exact pixels less.
///
/// ```
/// use minitorch::data::RandomShift;
/// use minitorch::train::TrainingConfig;
/// // 28 × 28 images, moved by up to 2 pixels each way.
/// let config = TrainingConfig { shift: Some(RandomShift { max: 2, width: 28 }), ..TrainingConfig::default() };
/// # let _ = config;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomShift {
    /// The largest move, in pixels, each way.
    pub max: usize,
    /// The images' width in pixels; their height is the pixel count over it.
    pub width: usize,
}

impl RandomShift {
    /// Checks that images of `pixels` numbers are `width` wide and more than `2·max` each way.
    pub(crate) fn check(self, pixels: usize) -> Result<(), Error> {
        let reason = if self.width == 0 || !pixels.is_multiple_of(self.width) {
            format!("{pixels} pixels per image are not rows of {} pixels", self.width)
        } else if 2 * self.max >= self.width.min(pixels / self.width) {
            format!(
                "a move of up to {} pixels each way leaves nothing of a {} × {} image",
                self.max,
                pixels / self.width,
                self.width
            )
        } else {
            return Ok(());
        };
        Err(Error::InvalidSetting { name: "shift", reason })
    }

    /// Moves every image (column) of `batch` by its own offset drawn from `rng`; `background`
    /// is the pixel value 0 after normalisation, and `scratch` a buffer reused from call to call.
    pub(crate) fn apply<const N: usize>(
        self,
        batch: &mut Batch<N>,
        background: f32,
        rng: &mut impl Rng,
        scratch: &mut Vec<f32>,
    ) {
        let (width, height) = (self.width, N / self.width);
        // Drawn as u32, which every platform samples alike.
        let mut offset = || rng.random_range(0..=2 * self.max as u32) as isize - self.max as isize;
        for image in batch.as_mut_slice().chunks_exact_mut(N) {
            let (down, across) = (offset(), offset());
            scratch.clear();
            scratch.extend_from_slice(image);
            for (row, pixels) in image.chunks_exact_mut(width).enumerate() {
                let source_row = row as isize - down;
                if !(0..height as isize).contains(&source_row) {
                    pixels.fill(background);
                    continue;
                }
                let source = &scratch[source_row as usize * width..][..width];
                for (column, pixel) in pixels.iter_mut().enumerate() {
                    let source_column = column as isize - across;
                    *pixel = if (0..width as isize).contains(&source_column) {
                        source[source_column as usize]
                    } else {
                        background
                    };
                }
            }
        }
    }
}

/// The four files of MNIST-format data in one folder: `train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each with or
/// without `.gz`.
///
/// # Errors
/// [`Error::Data`] naming the file that is missing.
pub fn find_mnist_files(directory: &Path) -> Result<[PathBuf; 4], Error> {
    let find = |name: &str| {
        let candidates = [directory.join(format!("{name}.gz")), directory.join(name)];
        candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
            data_error(
                &candidates[0],
                format!("missing: neither {name}.gz nor {name} is in {}", directory.display()),
            )
        })
    };
    Ok([
        find("train-images-idx3-ubyte")?,
        find("train-labels-idx1-ubyte")?,
        find("t10k-images-idx3-ubyte")?,
        find("t10k-labels-idx1-ubyte")?,
    ])
}

/// The workshop's split of MNIST-format data.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// Training images: all of the training file but the validation share.
    pub train: Dataset,
    /// Held out from the training file, to choose a model.
    pub validation: Dataset,
    /// The test file.
    pub test: Dataset,
}

impl Mnist {
    /// Loads the four files from `directory` and splits the training file into `validation`
    /// images (drawn by a seeded shuffle) and the rest. Pixels are normalised with the training
    /// file's own mean and standard deviation (for MNIST, the usual 0.1307 and 0.3081).
    ///
    /// # Errors
    /// Those of [`find_mnist_files`] and [`Dataset::from_idx_files`]; a validation share larger
    /// than the training file; labels of 10 or more.
    pub fn load(directory: &Path, validation: usize, seed: u64) -> Result<Self, Error> {
        let [train_images, train_labels, test_images, test_labels] = find_mnist_files(directory)?;
        let placeholder = Normalization::MNIST;
        let full = Dataset::from_idx_files(&train_images, &train_labels, placeholder)?;
        let mut test = Dataset::from_idx_files(&test_images, &test_labels, placeholder)?;
        for (data, path) in [(&full, &train_labels), (&test, &test_labels)] {
            if let Some(position) = data.labels().iter().position(|&l| l >= 10) {
                let label = data.labels()[position];
                return Err(data_error(
                    path,
                    format!("label {label} at index {position}: expected digits 0 to 9"),
                ));
            }
        }
        if test.features() != full.features() {
            return Err(data_error(&test_images, "images of another size than the training images"));
        }
        if validation >= full.len() {
            return Err(data_error(
                &train_images,
                format!(
                    "{} images cannot give {validation} for validation and some for training",
                    full.len()
                ),
            ));
        }
        let normalization = Normalization::of(&full.pixels);
        let mut order: Vec<usize> = (0..full.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        let (train_indices, validation_indices) = order.split_at(full.len() - validation);
        let mut train = full.subset(train_indices);
        let mut validation = full.subset(validation_indices);
        for data in [&mut train, &mut validation, &mut test] {
            data.normalization = normalization;
        }
        Ok(Self { train, validation, test })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each image of a batch, shifted, is the original moved by one offset within `max`, with
    /// background where it uncovered the frame; and over many images every offset occurs.
    #[test]
    fn a_random_shift_moves_each_image_by_its_own_offset() {
        const WIDTH: usize = 5;
        const HEIGHT: usize = 4;
        let shift = RandomShift { max: 1, width: WIDTH };
        let original = |pixel: usize| pixel as f32 + 1.0;
        let mut batch = Batch::<{ WIDTH * HEIGHT }>::from_fn(200, |pixel, _| original(pixel));
        let mut rng = StdRng::seed_from_u64(3);
        shift.apply(&mut batch, -9.0, &mut rng, &mut Vec::new());
        let mut seen = std::collections::BTreeSet::new();
        for image in batch.column_iter() {
            let explains = |down: isize, across: isize| {
                (0..HEIGHT * WIDTH).all(|pixel| {
                    let (row, column) = ((pixel / WIDTH) as isize - down, (pixel % WIDTH) as isize - across);
                    let inside = (0..HEIGHT as isize).contains(&row) && (0..WIDTH as isize).contains(&column);
                    let expected =
                        if inside { original(row as usize * WIDTH + column as usize) } else { -9.0 };
                    image[pixel] == expected
                })
            };
            let offsets: Vec<(isize, isize)> =
                (-1..=1).flat_map(|down| (-1..=1).map(move |across| (down, across))).collect();
            let found = offsets.into_iter().find(|&(down, across)| explains(down, across));
            seen.insert(found.expect("every image is the original, moved by at most 1 each way"));
        }
        assert_eq!(seen.len(), 9, "{seen:?}");
    }

    #[test]
    fn a_random_shift_must_fit_the_image() {
        assert!(RandomShift { max: 1, width: 5 }.check(20).is_ok());
        assert!(RandomShift { max: 1, width: 3 }.check(20).is_err());
        assert!(RandomShift { max: 0, width: 0 }.check(20).is_err());
        // 4 × 5 and 5 × 4 images: a move of 2 each way spans the 4 rows, or the 4 columns.
        assert!(RandomShift { max: 2, width: 5 }.check(20).is_err());
        assert!(RandomShift { max: 2, width: 4 }.check(20).is_err());
        assert!(RandomShift { max: 1, width: 4 }.check(20).is_ok());
    }
}
