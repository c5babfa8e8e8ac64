//! A training run's folder: what a run leaves behind, and what it reads back to resume.
//!
//! | file | written | read back |
//! |---|---|---|
//! | `settings.txt` | [`RunFolder::write_settings`], when the run starts | to resume, with its own settings |
//! | `metrics.csv` | [`RunFolder::write_metrics`], after training | to resume: the epochs before go on the table |
//! | `training_state.safetensors` | by [`crate::train::fit`], after every epoch ([`RunFolder::state_file`]) | to resume |
//! | `model.safetensors` | the trained model ([`RunFolder::model_file`]) | by PyTorch, `checkpoint::load`, `#[weights]` |
//! | `README.md`, `config.json` | [`RunFolder::write_model_card`]: the folder as a model hub takes it | by people and tools |
//!
//! Tests: `tests/run_folder.rs`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::Error;
use crate::data::Normalization;
use crate::optim::{AdamConfig, AdamWConfig, OptimizerSettings, SgdConfig};
use crate::train::{EpochMetrics, Schedule, write_metrics_csv};

/// What a run was asked to do: everything that makes its result, so that a resumed run goes on
/// exactly as it began.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSettings {
    /// The architecture's name, as the program that trains it calls it (`mlp`, `resnet`).
    pub architecture: String,
    /// Passes over the training images.
    pub epochs: usize,
    /// Images per optimiser step.
    pub batch_size: usize,
    /// The optimiser and its settings.
    pub optimizer: OptimizerSettings,
    /// The learning rate over the epochs.
    pub schedule: Schedule,
    /// The largest random move of a training image, in pixels each way (0: none).
    pub shift: usize,
    /// Seeds initialisation, dropout, the validation split and shuffling.
    pub seed: u64,
}

impl RunSettings {
    /// One `key = value` line per setting.
    fn to_text(&self) -> String {
        let mut text = format!(
            "architecture = {}\nepochs = {}\nbatch_size = {}\n",
            self.architecture, self.epochs, self.batch_size
        );
        let mut line =
            |key: &str, value: String| writeln!(text, "{key} = {value}").expect("a String takes every write");
        match self.optimizer {
            OptimizerSettings::Sgd(c) => {
                line("optimizer", "sgd".into());
                line("learning_rate", c.learning_rate.to_string());
                line("momentum", c.momentum.to_string());
                line("dampening", c.dampening.to_string());
                line("weight_decay", c.weight_decay.to_string());
                line("nesterov", c.nesterov.to_string());
            }
            OptimizerSettings::Adam(AdamConfig { learning_rate, betas, eps, weight_decay })
            | OptimizerSettings::AdamW(AdamWConfig { learning_rate, betas, eps, weight_decay }) => {
                let name =
                    if matches!(self.optimizer, OptimizerSettings::Adam(_)) { "adam" } else { "adamw" };
                line("optimizer", name.into());
                line("learning_rate", learning_rate.to_string());
                line("betas", format!("{} {}", betas.0, betas.1));
                line("eps", eps.to_string());
                line("weight_decay", weight_decay.to_string());
            }
        }
        line("schedule", schedule_name(self.schedule).into());
        line("shift", self.shift.to_string());
        line("seed", self.seed.to_string());
        text
    }

    /// The settings of `text`, as [`RunSettings::to_text`] writes them; `path` names the file in
    /// errors.
    fn from_text(text: &str, path: &Path) -> Result<Self, Error> {
        let error = |problem: String| Error::Data { path: path.to_path_buf(), problem };
        let mut values = BTreeMap::new();
        for (number, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
            let (key, value) = line.split_once('=').ok_or_else(|| {
                error(format!("line {}: expected `key = value`, found `{line}`", number + 1))
            })?;
            values.insert(key.trim(), value.trim());
        }
        let mut settings = Settings { values, path };
        let architecture = settings.text("architecture")?.to_string();
        let (epochs, batch_size) = (settings.number("epochs")?, settings.number("batch_size")?);
        let optimizer = match settings.text("optimizer")? {
            "sgd" => OptimizerSettings::Sgd(SgdConfig {
                learning_rate: settings.number("learning_rate")?,
                momentum: settings.number("momentum")?,
                dampening: settings.number("dampening")?,
                weight_decay: settings.number("weight_decay")?,
                nesterov: settings.number("nesterov")?,
            }),
            name @ ("adam" | "adamw") => {
                let learning_rate = settings.number("learning_rate")?;
                let betas = settings.text("betas")?;
                let pair: Vec<f32> = betas.split_whitespace().filter_map(|b| b.parse().ok()).collect();
                let &[beta1, beta2] = pair.as_slice() else {
                    return Err(error(format!("`betas`: expected two numbers, found `{betas}`")));
                };
                let (eps, weight_decay) = (settings.number("eps")?, settings.number("weight_decay")?);
                let betas = (beta1, beta2);
                if name == "adam" {
                    OptimizerSettings::Adam(AdamConfig { learning_rate, betas, eps, weight_decay })
                } else {
                    OptimizerSettings::AdamW(AdamWConfig { learning_rate, betas, eps, weight_decay })
                }
            }
            other => return Err(error(format!("`optimizer`: expected sgd, adam or adamw, found `{other}`"))),
        };
        let schedule = match settings.text("schedule")? {
            "constant" => Schedule::Constant,
            "cosine" => Schedule::Cosine,
            other => return Err(error(format!("`schedule`: expected constant or cosine, found `{other}`"))),
        };
        let (shift, seed) = (settings.number("shift")?, settings.number("seed")?);
        if let Some(key) = settings.values.keys().next() {
            return Err(error(format!("`{key}` is not a setting")));
        }
        Ok(Self { architecture, epochs, batch_size, optimizer, schedule, shift, seed })
    }
}

/// The settings of a file, taken one by one.
struct Settings<'a> {
    values: BTreeMap<&'a str, &'a str>,
    path: &'a Path,
}

impl<'a> Settings<'a> {
    fn text(&mut self, key: &str) -> Result<&'a str, Error> {
        self.values.remove(key).ok_or_else(|| Error::Data {
            path: self.path.to_path_buf(),
            problem: format!("`{key}` is missing"),
        })
    }

    fn number<T: FromStr>(&mut self, key: &str) -> Result<T, Error> {
        let text = self.text(key)?;
        text.parse().map_err(|_| Error::Data {
            path: self.path.to_path_buf(),
            problem: format!("`{key}`: `{text}` is not a valid value"),
        })
    }
}

fn schedule_name(schedule: Schedule) -> &'static str {
    match schedule {
        Schedule::Constant => "constant",
        Schedule::Cosine => "cosine",
    }
}

/// What a model card says of a trained model besides the run's settings.
#[derive(Clone, Debug)]
pub struct ModelCard<'a> {
    /// `Network::summary()`: the layers, their output shapes and parameter counts.
    pub summary: &'a str,
    /// `Network::pytorch_module()`: the Python that builds the network, if PyTorch knows its
    /// layers.
    pub pytorch_module: Option<&'a str>,
    /// `Network::INPUT_SHAPE`: one sample's shape as PyTorch writes it.
    pub input_shape: &'a [usize],
    /// How many classes the network tells apart.
    pub classes: usize,
    /// How pixels become the network's input.
    pub normalization: Normalization,
    /// Training, validation and test images.
    pub split: [usize; 3],
    /// Each epoch's metrics.
    pub history: &'a [EpochMetrics],
    /// Test loss and accuracy, once the run finished.
    pub test: Option<(f32, f32)>,
}

/// A folder that holds one training run.
///
/// ```
/// use minitorch::optim::{OptimizerSettings, SgdConfig};
/// use minitorch::run::{RunFolder, RunSettings};
/// use minitorch::train::Schedule;
/// # let folder = std::env::temp_dir().join(format!("minitorch-doc-run-{}", std::process::id()));
/// let settings = RunSettings {
///     architecture: "mlp".into(),
///     epochs: 10,
///     batch_size: 64,
///     optimizer: OptimizerSettings::Sgd(SgdConfig { learning_rate: 0.05, momentum: 0.9, ..SgdConfig::default() }),
///     schedule: Schedule::Cosine,
///     shift: 0,
///     seed: 0,
/// };
/// let run = RunFolder::create(&folder)?;
/// run.write_settings(&settings)?;
/// // Later, to resume: the same settings back, exactly.
/// assert_eq!(RunFolder::open(&folder)?.read_settings()?, settings);
/// # std::fs::remove_dir_all(&folder).unwrap();
/// # Ok::<(), minitorch::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RunFolder {
    path: PathBuf,
}

impl RunFolder {
    /// The folder at `path`, created with its parents if missing.
    ///
    /// # Errors
    /// [`Error::Write`] if it cannot be created.
    pub fn create(path: impl Into<PathBuf>) -> Result<Self, Error> {
        let path = path.into();
        fs::create_dir_all(&path).map_err(|e| Error::Write { path: path.clone(), problem: e.to_string() })?;
        Ok(Self { path })
    }

    /// The run already in the folder at `path`.
    ///
    /// # Errors
    /// [`Error::Data`] if the folder has no `settings.txt`: it holds no run.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, Error> {
        let folder = Self { path: path.into() };
        if !folder.settings_file().is_file() {
            return Err(Error::Data {
                path: folder.settings_file(),
                problem: format!("missing: is {} a run's folder?", folder.path.display()),
            });
        }
        Ok(folder)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the training state is saved after every epoch, for [`crate::train::TrainingConfig::state_file`].
    pub fn state_file(&self) -> PathBuf {
        self.path.join("training_state.safetensors")
    }

    /// Where the trained model goes.
    pub fn model_file(&self) -> PathBuf {
        self.path.join("model.safetensors")
    }

    fn settings_file(&self) -> PathBuf {
        self.path.join("settings.txt")
    }

    fn metrics_file(&self) -> PathBuf {
        self.path.join("metrics.csv")
    }

    /// Keeps the run's settings.
    ///
    /// # Errors
    /// [`Error::Write`] naming the file.
    pub fn write_settings(&self, settings: &RunSettings) -> Result<(), Error> {
        write(&self.settings_file(), &settings.to_text())
    }

    /// The settings the run was started with.
    ///
    /// # Errors
    /// [`Error::Data`] naming the file and the line or setting that is missing or wrong.
    pub fn read_settings(&self) -> Result<RunSettings, Error> {
        let path = self.settings_file();
        RunSettings::from_text(&read(&path)?, &path)
    }

    /// Writes `metrics.csv`, one row per epoch.
    ///
    /// # Errors
    /// [`Error::Write`] naming the file.
    pub fn write_metrics(&self, history: &[EpochMetrics]) -> Result<(), Error> {
        write_metrics_csv(&self.metrics_file(), history)
    }

    /// The epochs' metrics as [`RunFolder::write_metrics`] wrote them.
    ///
    /// # Errors
    /// [`Error::Data`] naming the file and the line that is not a row of metrics.
    pub fn read_metrics(&self) -> Result<Vec<EpochMetrics>, Error> {
        let path = self.metrics_file();
        let text = read(&path)?;
        let mut history = Vec::new();
        for (number, line) in text.lines().enumerate().skip(1) {
            let row = || Error::Data {
                path: path.clone(),
                problem: format!("line {}: not a row of metrics", number + 1),
            };
            let fields: Vec<f64> =
                line.split(',').map(|field| field.parse().map_err(|_| row())).collect::<Result<_, _>>()?;
            let &[epoch, train_loss, train_accuracy, validation_loss, validation_accuracy, seconds] =
                fields.as_slice()
            else {
                return Err(row());
            };
            history.push(EpochMetrics {
                epoch: epoch as usize,
                train_loss: train_loss as f32,
                train_accuracy: train_accuracy as f32,
                validation_loss: validation_loss as f32,
                validation_accuracy: validation_accuracy as f32,
                seconds,
            });
        }
        Ok(history)
    }

    /// Writes the model card, `README.md` (what the model is, how it was trained and how it did,
    /// and the PyTorch code that loads `model.safetensors`), and `config.json` (architecture,
    /// input shape, classes, normalisation), so that the folder goes to a model hub as it is.
    ///
    /// # Errors
    /// [`Error::Write`] naming the file.
    pub fn write_model_card(&self, settings: &RunSettings, card: &ModelCard<'_>) -> Result<(), Error> {
        write(&self.path.join("README.md"), &model_card(settings, card))?;
        write(&self.path.join("config.json"), &config_json(settings, card))
    }
}

/// `README.md` of a run's folder.
fn model_card(settings: &RunSettings, card: &ModelCard<'_>) -> String {
    let shape: Vec<String> = card.input_shape.iter().map(usize::to_string).collect();
    let [train, validation, test] = card.split;
    let mut text = format!(
        "---\nlibrary_name: minitorch\ntags:\n- image-classification\n- safetensors\n---\n\n# {} \
         (minitorch)\n\nA classifier of {} classes trained with \
         [minitorch](https://crates.io/crates/minitorch), whose every derivative is written by \
         hand. `model.safetensors` holds its weights under PyTorch's state-dict names and \
         layouts.\n\n## Architecture\n\nInput: one sample of shape [{}].\n\n```text\n{}\n```\n\n",
        settings.architecture,
        card.classes,
        shape.join(", "),
        card.summary
    );
    let schedule = match settings.schedule {
        Schedule::Constant => "constant learning rate",
        Schedule::Cosine => "cosine annealing of the learning rate over the epochs",
    };
    let shift = match settings.shift {
        0 => String::new(),
        n => format!(", each training image moved by up to {n} pixels each way at random every epoch"),
    };
    let Normalization { mean, std } = card.normalization;
    let _ = write!(
        text,
        "## Training\n\n- Data: {train} training, {validation} validation and {test} test images; \
         pixels `p` become `(p/255 − {mean}) / {std}`.\n- {}, {schedule}; batch {}, {} epochs{shift}; \
         seed {}.\n\n## Results\n\n| epoch | train loss | train accuracy | validation loss | \
         validation accuracy |\n|---|---|---|---|---|\n",
        settings.optimizer, settings.batch_size, settings.epochs, settings.seed
    );
    for m in card.history {
        let _ = writeln!(
            text,
            "| {} | {:.4} | {:.4} | {:.4} | {:.4} |",
            m.epoch, m.train_loss, m.train_accuracy, m.validation_loss, m.validation_accuracy
        );
    }
    match card.test {
        Some((loss, accuracy)) => {
            let _ = write!(text, "\nTest accuracy **{accuracy:.4}** (loss {loss:.4}).\n");
        }
        None => text.push_str("\nThe run stopped before its last epoch: no test accuracy yet.\n"),
    }
    text.push_str("\n## In PyTorch\n\n");
    match card.pytorch_module {
        Some(module) => {
            let _ = write!(
                text,
                "```python\nimport torch\nfrom torch import nn\nfrom safetensors.torch import \
                 load_file\n\n{module}model.load_state_dict(load_file(\"model.safetensors\"), \
                 strict=True)\nmodel.eval()\n```\n"
            );
        }
        None => text.push_str(
            "The network has a layer written for minitorch; build its PyTorch module with the same \
             tensor names to load `model.safetensors` with `strict=True`.\n",
        ),
    }
    text
}

/// `config.json` of a run's folder.
fn config_json(settings: &RunSettings, card: &ModelCard<'_>) -> String {
    let shape: Vec<String> = card.input_shape.iter().map(usize::to_string).collect();
    let Normalization { mean, std } = card.normalization;
    format!(
        "{{\n  \"library\": \"minitorch\",\n  \"architecture\": \"{}\",\n  \"input_shape\": [{}],\n  \
         \"num_classes\": {},\n  \"normalization\": {{ \"pixel_scale\": 255, \"mean\": {mean}, \
         \"std\": {std} }},\n  \"weights\": \"model.safetensors\"\n}}\n",
        json_escaped(&settings.architecture),
        shape.join(", "),
        card.classes
    )
}

/// `text` as the inside of a JSON string.
fn json_escaped(text: &str) -> String {
    let mut escaped = String::new();
    for c in text.chars() {
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(escaped, "\\u{:04x}", u32::from(c));
            }
            c => escaped.push(c),
        }
    }
    escaped
}

fn read(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path)
        .map_err(|e| Error::Data { path: path.to_path_buf(), problem: format!("cannot read: {e}") })
}

fn write(path: &Path, text: &str) -> Result<(), Error> {
    fs::write(path, text).map_err(|e| Error::Write { path: path.to_path_buf(), problem: e.to_string() })
}
