//! Convergence plots as SVG (feature `plot`): no system libraries or font files needed.

use std::path::Path;

use plotters::prelude::*;

use crate::Error;
use crate::train::EpochMetrics;

/// Reads one number out of an epoch's metrics.
type Metric = fn(&EpochMetrics) -> f32;

fn write_error(path: &Path, error: impl std::fmt::Display) -> Error {
    Error::Write { path: path.to_path_buf(), problem: error.to_string() }
}

/// Loss (left) and accuracy (right) per epoch, for training and validation.
///
/// # Errors
/// [`Error::Write`] naming the file.
pub fn plot_convergence(path: &Path, title: &str, history: &[EpochMetrics]) -> Result<(), Error> {
    let root = SVGBackend::new(path, (960, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| write_error(path, e))?;
    let panels = root.split_evenly((1, 2));
    let epochs = history.len().max(1) as f64;
    let series: [(&str, Metric, Metric); 2] = [
        ("loss", |m| m.train_loss, |m| m.validation_loss),
        ("accuracy", |m| m.train_accuracy, |m| m.validation_accuracy),
    ];
    for (panel, (name, train, validation)) in panels.iter().zip(series) {
        let values = history.iter().flat_map(|m| [train(m), validation(m)]);
        let (low, high) = values.fold((f32::MAX, f32::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let margin = ((high - low) * 0.1).max(1e-3);
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("{title}: {name}"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d(1.0..epochs.max(2.0), f64::from(low - margin)..f64::from(high + margin))
            .map_err(|e| write_error(path, e))?;
        chart.configure_mesh().x_desc("epoch").draw().map_err(|e| write_error(path, e))?;
        for (label, value, color) in [("train", train, BLUE), ("validation", validation, RED)] {
            let points = history.iter().map(|m| (m.epoch as f64, f64::from(value(m))));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| write_error(path, e))?
                .label(label)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()
            .map_err(|e| write_error(path, e))?;
    }
    root.present().map_err(|e| write_error(path, e))
}

/// Validation accuracy per epoch of several runs on one figure.
///
/// # Errors
/// [`Error::Write`] naming the file.
pub fn plot_comparison(path: &Path, runs: &[(&str, &[EpochMetrics])]) -> Result<(), Error> {
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| write_error(path, e))?;
    let epochs = runs.iter().map(|(_, h)| h.len()).max().unwrap_or(1).max(2) as f64;
    let accuracies = runs.iter().flat_map(|(_, h)| h.iter().map(|m| m.validation_accuracy));
    let low = accuracies.fold(1.0f32, f32::min);
    let mut chart = ChartBuilder::on(&root)
        .caption("validation accuracy", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(1.0..epochs, f64::from(low - 0.01)..1.0)
        .map_err(|e| write_error(path, e))?;
    chart.configure_mesh().x_desc("epoch").draw().map_err(|e| write_error(path, e))?;
    for (i, (name, history)) in runs.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let points = history.iter().map(|m| (m.epoch as f64, f64::from(m.validation_accuracy)));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(|e| write_error(path, e))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK)
        .background_style(WHITE)
        .draw()
        .map_err(|e| write_error(path, e))?;
    root.present().map_err(|e| write_error(path, e))
}
