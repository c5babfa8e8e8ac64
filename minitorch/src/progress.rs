//! A progress bar per epoch on stderr (feature `progress`), fed by [`crate::train::fit`].

use indicatif::{ProgressBar, ProgressStyle};

use crate::train::Progress;

/// Shows each epoch as a bar with the running loss and throughput.
///
/// ```no_run
/// # use minitorch::progress::ProgressBars;
/// let mut bars = ProgressBars::default();
/// // minitorch::train::fit(&mut net, &train, &validation, &config, |event| bars.observe(event))
/// ```
#[derive(Default)]
pub struct ProgressBars {
    bar: Option<ProgressBar>,
}

impl ProgressBars {
    /// Updates the bar for one event.
    pub fn observe(&mut self, event: Progress<'_>) {
        match event {
            Progress::EpochStarted { epoch, batches } => {
                let bar = ProgressBar::new(batches as u64);
                let template = "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})";
                bar.set_style(
                    ProgressStyle::with_template(template).expect("valid template").progress_chars("=> "),
                );
                bar.set_prefix(epoch.to_string());
                self.bar = Some(bar);
            }
            Progress::BatchDone { batch, running_loss, images_per_second } => {
                if let Some(bar) = &self.bar {
                    bar.set_position(batch as u64);
                    if batch % 20 == 0 {
                        bar.set_message(format!("loss {running_loss:.4}, {images_per_second:.0} images/s"));
                    }
                }
            }
            Progress::EpochDone(_) => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }
}
