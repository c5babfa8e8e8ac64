//! Softmax cross-entropy from logits, averaged over the batch (PyTorch's
//! `nn.functional.cross_entropy` with `reduction="mean"`).
//!
//! For one sample with logits `z` (`C` classes) and label `y`:
//!
//! ```text
//! loss = log Σ_k exp(z_k) − z_y          computed as m + log Σ_k exp(z_k − m), m = max_k z_k
//! ∂loss/∂z_k = softmax(z)_k − [k = y]
//! ```
//!
//! The batch loss is the mean over `B` samples, so each sample's gradient is divided by `B`.
//! Subtracting the largest logit first keeps `exp` from overflowing (log-sum-exp).

use crate::matrix::resize_batch;
use crate::{Batch, Error};

/// Mean softmax cross-entropy over a batch of `C`-class logits, with its gradient.
///
/// ```
/// use minitorch::{Batch, CrossEntropy};
/// let mut loss = CrossEntropy::<2>::new();
/// let logits = Batch::<2>::from_column_slice(&[0.0, 0.0]);
/// let value = loss.forward(&logits, &[1])?;
/// assert!((value - 2f32.ln()).abs() < 1e-6);
/// assert_eq!(loss.gradient().as_slice(), &[0.5, -0.5]);
/// assert!(loss.forward(&logits, &[2]).is_err()); // only classes 0 and 1 exist
/// # Ok::<(), minitorch::Error>(())
/// ```
#[derive(Clone)]
pub struct CrossEntropy<const C: usize> {
    gradient: Batch<C>,
}

impl<const C: usize> std::fmt::Debug for CrossEntropy<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CrossEntropy<{C}>")
    }
}

impl<const C: usize> Default for CrossEntropy<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const C: usize> CrossEntropy<C> {
    /// A loss for `C` classes.
    pub fn new() -> Self {
        Self { gradient: Batch::zeros(0) }
    }

    /// The mean loss of `logits` (one column per sample) against `labels`, keeping
    /// d loss / d logits for [`CrossEntropy::gradient`].
    ///
    /// Non-finite logits give a non-finite loss, not an error: the caller decides what a
    /// diverged step means.
    ///
    /// # Errors
    /// An empty batch, a label count that differs from the batch size, or a label `≥ C`.
    pub fn forward(&mut self, logits: &Batch<C>, labels: &[usize]) -> Result<f32, Error> {
        let samples = logits.ncols();
        if samples == 0 {
            return Err(Error::EmptyBatch { what: "cross-entropy" });
        }
        if labels.len() != samples {
            return Err(Error::BatchSizeMismatch {
                what: "cross-entropy labels",
                expected: samples,
                found: labels.len(),
            });
        }
        if let Some((sample, &label)) = labels.iter().enumerate().find(|&(_, &label)| label >= C) {
            return Err(Error::LabelOutOfRange { sample, label, classes: C });
        }
        resize_batch(&mut self.gradient, samples);
        let scale = 1.0 / samples as f32;
        let mut total = 0.0f64;
        let columns = logits.as_slice().chunks_exact(C).zip(self.gradient.as_mut_slice().chunks_exact_mut(C));
        for ((z, gradient), &label) in columns.zip(labels) {
            let log_sum_exp = softmax_column(z, gradient);
            total += f64::from(log_sum_exp - z[label]);
            gradient.iter_mut().for_each(|g| *g *= scale);
            gradient[label] -= scale;
        }
        Ok((total / samples as f64) as f32)
    }

    /// d loss / d logits of the last [`CrossEntropy::forward`].
    pub fn gradient(&self) -> &Batch<C> {
        &self.gradient
    }
}

/// Writes `softmax(z)` into `probabilities` and returns `log Σ exp(z)`, both computed after
/// subtracting the largest logit so that `exp` cannot overflow.
fn softmax_column(z: &[f32], probabilities: &mut [f32]) -> f32 {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for (p, &zk) in probabilities.iter_mut().zip(z) {
        *p = (zk - max).exp();
        sum += *p;
    }
    probabilities.iter_mut().for_each(|p| *p /= sum);
    max + sum.ln()
}

/// Class probabilities, `softmax` of each sample's (column's) logits.
///
/// ```
/// use minitorch::{Batch, softmax};
/// let probabilities = softmax(&Batch::<2>::from_column_slice(&[0.0, 0.0, 1000.0, 0.0]));
/// assert_eq!(probabilities.as_slice(), &[0.5, 0.5, 1.0, 0.0]);
/// ```
pub fn softmax<const C: usize>(logits: &Batch<C>) -> Batch<C> {
    let mut probabilities = Batch::<C>::zeros(logits.ncols());
    let columns = logits.as_slice().chunks_exact(C).zip(probabilities.as_mut_slice().chunks_exact_mut(C));
    for (z, p) in columns {
        softmax_column(z, p);
    }
    probabilities
}

/// The class with the largest logit, for each sample (column) of `logits`.
///
/// ```
/// use minitorch::{Batch, predicted_classes};
/// let logits = Batch::<3>::from_column_slice(&[0.1, 0.7, 0.2, 0.9, 0.0, 0.1]);
/// assert_eq!(predicted_classes(&logits).collect::<Vec<_>>(), vec![1, 0]);
/// ```
pub fn predicted_classes<const C: usize>(logits: &Batch<C>) -> impl Iterator<Item = usize> + '_ {
    logits.as_slice().chunks_exact(C).map(|z| {
        z.iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |best, (k, &v)| if v > best.1 { (k, v) } else { best })
            .0
    })
}
