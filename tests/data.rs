//! Every kind of bad data file gives one clear error naming the file and the problem.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use minitorch::Error;
use minitorch::data::{Dataset, Mnist, Normalization, read_idx_images, read_idx_labels};

fn idx_images(count: u32, rows: u32, columns: u32, pixels: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [0x0803, count, rows, columns] {
        bytes.extend(word.to_be_bytes());
    }
    bytes.extend((0..pixels).map(|i| (i % 256) as u8));
    bytes
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [0x0801, labels.len() as u32] {
        bytes.extend(word.to_be_bytes());
    }
    bytes.extend(labels);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn write(directory: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = directory.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

fn data_error(result: Result<impl std::fmt::Debug, Error>) -> (PathBuf, String) {
    match result.unwrap_err() {
        Error::Data { path, problem } => (path, problem),
        other => panic!("expected a data error, got {other:?}"),
    }
}

#[test]
fn valid_files_read_gzipped_or_not() {
    let directory = tempfile::tempdir().unwrap();
    let plain = write(directory.path(), "images", &idx_images(2, 2, 3, 12));
    let zipped = write(directory.path(), "images.gz", &gzip(&idx_images(2, 2, 3, 12)));
    let images = read_idx_images(&plain).unwrap();
    assert_eq!((images.count, images.rows, images.columns), (2, 2, 3));
    assert_eq!(read_idx_images(&zipped).unwrap(), images);
    let labels = write(directory.path(), "labels.gz", &gzip(&idx_labels(&[3, 7])));
    assert_eq!(read_idx_labels(&labels).unwrap(), vec![3, 7]);
    let data = Dataset::from_idx_files(&plain, &labels, Normalization::MNIST).unwrap();
    assert_eq!((data.len(), data.features(), data.labels()), (2, 6, &[3u8, 7][..]));
}

#[test]
fn missing_file() {
    let directory = tempfile::tempdir().unwrap();
    let (path, problem) = data_error(read_idx_images(&directory.path().join("nothing.gz")));
    assert!(path.ends_with("nothing.gz"));
    assert!(problem.starts_with("cannot read"), "{problem}");

    let (path, problem) = data_error(Mnist::load(directory.path(), 10, 0));
    assert!(path.ends_with("train-images-idx3-ubyte.gz"), "{path:?}");
    assert!(problem.contains("missing"), "{problem}");
}

#[test]
fn wrong_magic_number() {
    let directory = tempfile::tempdir().unwrap();
    let labels = write(directory.path(), "labels", &idx_labels(&[1, 2, 3]));
    let (path, problem) = data_error(read_idx_images(&labels));
    assert_eq!(path, labels);
    assert_eq!(
        problem,
        "wrong magic number 0x00000801 (an IDX label file); expected 0x00000803 (an IDX image file)"
    );
    let text = write(directory.path(), "notes.txt", b"these are not images at all");
    assert!(problem_of_images(&text).contains("not an IDX file"));
}

fn problem_of_images(path: &Path) -> String {
    data_error(read_idx_images(path)).1
}

#[test]
fn truncated_files() {
    let directory = tempfile::tempdir().unwrap();
    let short = write(directory.path(), "short", &idx_images(3, 28, 28, 2 * 784 + 5));
    assert_eq!(
        problem_of_images(&short),
        "truncated: the header promises 2352 bytes of data ([3, 28, 28]), the file has 1573"
    );
    let header_only = write(directory.path(), "header", &[0, 0, 8, 3, 0, 0]);
    assert!(problem_of_images(&header_only).starts_with("truncated: 6 bytes"));
    let mut zipped = gzip(&idx_images(3, 28, 28, 3 * 784));
    zipped.truncate(zipped.len() / 2);
    let broken = write(directory.path(), "broken.gz", &zipped);
    assert!(problem_of_images(&broken).starts_with("corrupt gzip data"), "{}", problem_of_images(&broken));
}

#[test]
fn label_count_differs_from_image_count() {
    let directory = tempfile::tempdir().unwrap();
    let images = write(directory.path(), "images", &idx_images(3, 2, 2, 12));
    let labels = write(directory.path(), "labels", &idx_labels(&[1, 2]));
    let (path, problem) = data_error(Dataset::from_idx_files(&images, &labels, Normalization::MNIST));
    assert_eq!(path, labels);
    assert!(problem.starts_with("2 labels for 3 images"), "{problem}");
}

#[test]
fn labels_beyond_nine_and_too_large_a_validation_share() {
    let directory = tempfile::tempdir().unwrap();
    let d = directory.path();
    write(d, "train-images-idx3-ubyte", &idx_images(4, 2, 2, 16));
    write(d, "train-labels-idx1-ubyte.gz", &gzip(&idx_labels(&[1, 2, 3, 4])));
    write(d, "t10k-images-idx3-ubyte.gz", &gzip(&idx_images(2, 2, 2, 8)));
    write(d, "t10k-labels-idx1-ubyte", &idx_labels(&[5, 12]));
    let (path, problem) = data_error(Mnist::load(d, 1, 0));
    assert!(path.ends_with("t10k-labels-idx1-ubyte"));
    assert_eq!(problem, "label 12 at index 1: expected digits 0 to 9");

    write(d, "t10k-labels-idx1-ubyte", &idx_labels(&[5, 2]));
    let mnist = Mnist::load(d, 1, 0).unwrap();
    assert_eq!((mnist.train.len(), mnist.validation.len(), mnist.test.len()), (3, 1, 2));
    assert!(data_error(Mnist::load(d, 4, 0)).1.contains("cannot give 4 for validation"));
}

#[test]
fn the_bundled_mnist_is_the_real_one() {
    let mnist = Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"), 12_000, 0).unwrap();
    assert_eq!((mnist.train.len(), mnist.validation.len(), mnist.test.len()), (48_000, 12_000, 10_000));
    assert_eq!(mnist.train.features(), 784);
    // The usual normalisation constants are this training file's statistics.
    let normalization = mnist.train.normalization();
    assert!((normalization.mean - 0.1307).abs() < 1e-4 && (normalization.std - 0.3081).abs() < 1e-4);
    let mut counts = [0usize; 10];
    mnist.test.labels().iter().for_each(|&l| counts[usize::from(l)] += 1);
    assert_eq!(counts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
}

#[test]
fn images_that_do_not_fit_the_labels_or_the_network_are_errors() {
    let error = Dataset::new(vec![0; 10], vec![1, 2], 4, Normalization::MNIST).unwrap_err();
    assert_eq!(
        error.to_string(),
        "dataset pixels (one image of `features` pixels per label): expected 8, found 10"
    );
    let data = Dataset::new(vec![0; 8], vec![1, 2], 4, Normalization::MNIST).unwrap();
    let error =
        data.fill_batch::<784>(&[0, 1], &mut minitorch::Batch::zeros(0), &mut Vec::new()).unwrap_err();
    assert_eq!(error.to_string(), "pixels per image (the network's input width): expected 784, found 4");
}

#[test]
fn pictures_and_training_images_are_normalised_by_one_formula() {
    let scaling = Normalization { mean: 0.25, std: 0.5 };
    assert_eq!((scaling.input(0), scaling.input(255)), (-0.5, 1.5));
    assert!((scaling.input(51) - (0.2 - 0.25) / 0.5).abs() < 1e-6);
    // A batch from raw pixels is what the dataset gives for the same images.
    let pixels: Vec<u8> = (0..12).map(|i| i * 20).collect();
    let batch = scaling.batch::<4>(&pixels).unwrap();
    let data = Dataset::new(pixels, vec![0, 1, 2], 4, scaling).unwrap();
    let mut from_dataset = minitorch::Batch::zeros(0);
    data.fill_batch::<4>(&[0, 1, 2], &mut from_dataset, &mut Vec::new()).unwrap();
    assert_eq!(batch, from_dataset);
    // Part of an image is refused.
    let error = scaling.batch::<4>(&[1, 2, 3, 4, 5]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "pixels of whole images (the network's input width each): expected 4, found 5"
    );
}
