//! A progress bar per epoch on stderr (feature `progress`), fed by [`crate::train::fit`].
//!
//! Drawn by hand with a carriage return and one ANSI "clear to the end of the line": all a bar
//! on one line needs, where indicatif and its terminal crates cost a clean build about 5 s of
//! compile time (`cargo build --timings`, this project's AMD EPYC).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::train::Progress;

/// Redraws at most this often: a batch takes a millisecond, a terminal line far longer.
const REDRAW_EVERY: Duration = Duration::from_millis(100);
/// Characters of the bar between its brackets.
const BAR_WIDTH: usize = 30;

/// Shows each epoch as a bar with the running loss and throughput, on stderr when it is a
/// terminal (nothing when it is redirected, so logs stay clean); the bar is cleared when the
/// epoch ends.
///
/// ```no_run
/// # use minitorch::progress::ProgressBars;
/// let mut bars = ProgressBars::default();
/// // minitorch::train::fit(&mut net, &train, &validation, &config, |event| bars.observe(event))
/// ```
#[derive(Default)]
pub struct ProgressBars {
    epoch: Option<EpochBar>,
}

/// The bar of the epoch running.
struct EpochBar {
    epoch: usize,
    batches: usize,
    started: Instant,
    drawn: Option<Instant>,
}

impl ProgressBars {
    /// Updates the bar for one event.
    pub fn observe(&mut self, event: Progress<'_>) {
        match event {
            // Asked once an epoch, not once a batch: a bar is drawn only on a terminal.
            Progress::EpochStarted { epoch, batches } => {
                self.epoch = std::io::stderr().is_terminal().then(|| EpochBar {
                    epoch,
                    batches,
                    started: Instant::now(),
                    drawn: None,
                });
            }
            Progress::BatchDone { batch, running_loss, images_per_second } => {
                let Some(bar) = &mut self.epoch else { return };
                if bar.drawn.is_some_and(|drawn| drawn.elapsed() < REDRAW_EVERY) {
                    return;
                }
                bar.drawn = Some(Instant::now());
                let filled = (batch * BAR_WIDTH).checked_div(bar.batches).unwrap_or(0).min(BAR_WIDTH);
                let line = format!(
                    "epoch {} [{}{}] {batch}/{} loss {running_loss:.4}, {images_per_second:.0} images/s ({:.0} s)",
                    bar.epoch,
                    "=".repeat(filled),
                    " ".repeat(BAR_WIDTH - filled),
                    bar.batches,
                    bar.started.elapsed().as_secs_f64()
                );
                // A failed write to stderr leaves nothing to tell anyone; training goes on.
                let _ = write!(std::io::stderr(), "\r{line}\x1b[K");
            }
            Progress::EpochDone(_) => {
                if self.epoch.take().is_some_and(|bar| bar.drawn.is_some()) {
                    let _ = write!(std::io::stderr(), "\r\x1b[K");
                }
            }
        }
    }
}
