//! A run's folder (`minitorch::run`): settings and metrics read back exactly as written, a clear
//! error for every way a file can be wrong, and the model card a model hub takes.

use std::path::PathBuf;

use minitorch::data::Normalization;
use minitorch::optim::{AdamConfig, AdamWConfig, OptimizerSettings, SgdConfig};
use minitorch::prelude::*;
use minitorch::run::{ModelCard, RunFolder, RunSettings};
use minitorch::train::{EpochMetrics, Schedule};

net! {
    struct Tiny< Input(1, 2, 2), Conv2d(1, 2, 1), Residual(ReLU), Flatten, Linear(8, 3) >
}

/// A new empty folder of this test's own.
fn folder(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("minitorch-run-folder-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    path
}

fn settings(optimizer: OptimizerSettings) -> RunSettings {
    RunSettings {
        architecture: "resnet".into(),
        epochs: 7,
        batch_size: 33,
        optimizer,
        schedule: Schedule::Constant,
        shift: 2,
        seed: 123_456_789_012,
    }
}

fn error_text(result: Result<impl std::fmt::Debug, Error>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn settings_come_back_exactly_for_every_optimizer() {
    let path = folder("settings");
    let run = RunFolder::create(&path).unwrap();
    let sgd = SgdConfig {
        learning_rate: 0.1 / 3.0,
        momentum: 0.9,
        dampening: 0.25,
        weight_decay: 1e-7,
        nesterov: true,
    };
    let adam = AdamConfig { learning_rate: 3e-4, betas: (0.8, 0.995), eps: 1e-7, weight_decay: 0.125 };
    let adamw = AdamWConfig { learning_rate: 1e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.05 };
    for optimizer in
        [OptimizerSettings::Sgd(sgd), OptimizerSettings::Adam(adam), OptimizerSettings::AdamW(adamw)]
    {
        let mut written = settings(optimizer);
        written.schedule = Schedule::Cosine;
        run.write_settings(&written).unwrap();
        assert_eq!(RunFolder::open(&path).unwrap().read_settings().unwrap(), written);
    }
    std::fs::remove_dir_all(&path).unwrap();
}

#[test]
fn a_settings_file_that_is_wrong_says_where() {
    let path = folder("bad-settings");
    let missing = error_text(RunFolder::open(&path));
    assert!(missing.contains("settings.txt") && missing.contains("a run's folder?"), "{missing}");
    let run = RunFolder::create(&path).unwrap();
    run.write_settings(&settings(OptimizerSettings::Sgd(SgdConfig::default()))).unwrap();
    let file = path.join("settings.txt");
    let good = std::fs::read_to_string(&file).unwrap();
    let cases = [
        (good.replace("epochs = 7", "epochs = seven"), "`epochs`: `seven` is not a valid value"),
        (good.replace("seed = ", "sowing = "), "`seed` is missing"),
        (good.clone() + "colour = blue\n", "`colour` is not a setting"),
        (
            good.replace("optimizer = sgd", "optimizer = lion"),
            "`optimizer`: expected sgd, adam or adamw, found `lion`",
        ),
        (good.replace("schedule = constant", "schedule = step"), "`schedule`: expected constant or cosine"),
        (good.replace("shift = 2", "shift 2"), "expected `key = value`, found `shift 2`"),
        (good.replace("nesterov = false", "nesterov = maybe"), "`nesterov`: `maybe` is not a valid value"),
    ];
    for (text, expected) in cases {
        std::fs::write(&file, text).unwrap();
        let message = error_text(run.read_settings());
        assert!(message.contains(expected) && message.contains("settings.txt"), "{message}");
    }
    let adam = settings(OptimizerSettings::Adam(AdamConfig::default()));
    run.write_settings(&adam).unwrap();
    let text = std::fs::read_to_string(&file).unwrap().replace("betas = 0.9 0.999", "betas = 0.9");
    std::fs::write(&file, text).unwrap();
    assert!(error_text(run.read_settings()).contains("`betas`: expected two numbers, found `0.9`"));
    std::fs::remove_dir_all(&path).unwrap();
}

#[test]
fn the_state_and_the_model_are_files_of_the_folder() {
    let path = folder("files");
    let run = RunFolder::create(&path).unwrap();
    assert_eq!(run.path(), path);
    assert_eq!(run.state_file(), path.join("training_state.safetensors"));
    assert_eq!(run.model_file(), path.join("model.safetensors"));
    std::fs::remove_dir_all(&path).unwrap();
}

#[test]
fn metrics_come_back_as_written_and_a_bad_row_is_named() {
    let path = folder("metrics");
    let run = RunFolder::create(&path).unwrap();
    let history: Vec<EpochMetrics> = (1..=3)
        .map(|epoch| EpochMetrics {
            epoch,
            train_loss: 1.0 / epoch as f32,
            train_accuracy: 0.5,
            validation_loss: 0.25,
            validation_accuracy: 0.75,
            seconds: 1.5,
        })
        .collect();
    run.write_metrics(&history).unwrap();
    let read = run.read_metrics().unwrap();
    assert_eq!(read.len(), 3);
    assert_eq!((read[2].epoch, read[1].validation_accuracy, read[0].seconds), (3, 0.75, 1.5));
    assert!((read[2].train_loss - 1.0 / 3.0).abs() < 1e-6);
    let file = path.join("metrics.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text + "4,0.1,0.2\n").unwrap();
    let message = error_text(run.read_metrics());
    assert!(message.contains("line 5: not a row of metrics"), "{message}");
    std::fs::remove_dir_all(&path).unwrap();
}

#[test]
fn the_model_card_says_what_the_model_is_how_it_was_made_and_how_to_load_it() {
    let path = folder("card");
    let run = RunFolder::create(&path).unwrap();
    let mut settings = settings(OptimizerSettings::AdamW(AdamWConfig::default()));
    settings.architecture = "tiny \"v2\"\t".into(); // a quote and a control character to escape
    let history = [EpochMetrics {
        epoch: 1,
        train_loss: 0.5,
        train_accuracy: 0.875,
        validation_loss: 0.25,
        validation_accuracy: 0.9375,
        seconds: 2.0,
    }];
    let card = ModelCard {
        summary: Tiny::summary(),
        pytorch_module: Tiny::pytorch_module(),
        input_shape: Tiny::input_shape(),
        classes: 3,
        normalization: Normalization { mean: 0.5, std: 0.25 },
        split: [30, 10, 20],
        history: &history,
        test: Some((0.125, 0.95)),
    };
    run.write_model_card(&settings, &card).unwrap();
    let readme = std::fs::read_to_string(path.join("README.md")).unwrap();
    for expected in [
        "library_name: minitorch",
        "Input: one sample of shape [1, 2, 2].",
        Tiny::summary(),
        "30 training, 10 validation and 20 test images",
        "`(p/255 − 0.5) / 0.25`",
        "AdamW (lr 0.001, betas (0.9, 0.999), eps 0.00000001, decoupled weight decay 0.01), constant learning rate; batch 33, 7 epochs, each training image moved by up to 2 pixels",
        "| 1 | 0.5000 | 0.8750 | 0.2500 | 0.9375 |",
        "Test accuracy **0.9500** (loss 0.1250).",
        "class Residual(nn.Module):",
        "model.load_state_dict(load_file(\"model.safetensors\"), strict=True)",
    ] {
        assert!(readme.contains(expected), "the card lacks {expected:?}:\n{readme}");
    }
    assert_eq!(
        std::fs::read_to_string(path.join("config.json")).unwrap(),
        "{\n  \"library\": \"minitorch\",\n  \"architecture\": \"tiny \\\"v2\\\"\\u0009\",\n  \"input_shape\": [1, 2, 2],\n  \
         \"num_classes\": 3,\n  \"normalization\": { \"pixel_scale\": 255, \"mean\": 0.5, \"std\": 0.25 },\n  \
         \"weights\": \"model.safetensors\"\n}\n"
    );
    // A stopped run, and a network PyTorch has no module for.
    let stopped = ModelCard { test: None, pytorch_module: None, ..card };
    run.write_model_card(&settings, &stopped).unwrap();
    let readme = std::fs::read_to_string(path.join("README.md")).unwrap();
    assert!(readme.contains("no test accuracy yet") && readme.contains("a layer written for minitorch"));
    assert!(!readme.contains("```python"));
    std::fs::remove_dir_all(&path).unwrap();
}
