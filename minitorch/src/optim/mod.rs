//! Optimisers: what turns accumulated gradients into parameter updates.
//!
//! Every optimiser implements [`Optimizer`], so the trainer ([`crate::train::fit`]), learning-rate
//! schedules and resumable checkpoints work with any of them: [`Sgd`], [`Adam`] and [`AdamW`],
//! each with PyTorch's formulas, defaults and argument checks. Tests: `tests/optimizers.rs`
//! (PyTorch's values from `tests/fixtures/tiny_adam.json` and `tiny_net.json`, hand-computed
//! steps, bad settings).

mod adam;
mod sgd;

pub use adam::{Adam, AdamConfig, AdamOptimizer, AdamSettings, AdamW, AdamWConfig};
pub use sgd::{Sgd, SgdConfig};

use std::fmt;

use crate::parallel::join;
use crate::{Error, Parameters};

/// An optimiser and its settings, chosen at run time: what a run's settings keep, and what
/// [`OptimizerSettings::build`] makes an optimiser of.
///
/// ```
/// use minitorch::optim::{OptimizerSettings, SgdConfig};
/// let settings = OptimizerSettings::Sgd(SgdConfig { learning_rate: 0.05, momentum: 0.9, ..SgdConfig::default() });
/// assert_eq!(settings.to_string(), "SGD (lr 0.05, momentum 0.9, weight decay 0)");
/// assert_eq!(settings.build()?.learning_rate(), 0.05);
/// # Ok::<(), minitorch::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OptimizerSettings {
    /// [`Sgd`].
    Sgd(SgdConfig),
    /// [`Adam`].
    Adam(AdamConfig),
    /// [`AdamW`].
    AdamW(AdamWConfig),
}

impl OptimizerSettings {
    /// The optimiser, with a fresh state.
    ///
    /// # Errors
    /// [`Error::InvalidHyperparameter`] for a setting out of its range.
    pub fn build(&self) -> Result<Box<dyn Optimizer + Send>, Error> {
        Ok(match *self {
            Self::Sgd(config) => Box::new(Sgd::new(config)?),
            Self::Adam(config) => Box::new(Adam::new(config)?),
            Self::AdamW(config) => Box::new(AdamW::new(config)?),
        })
    }

    /// The initial learning rate.
    pub fn learning_rate(&self) -> f32 {
        match self {
            Self::Sgd(config) => config.learning_rate,
            Self::Adam(config) => config.learning_rate,
            Self::AdamW(config) => config.learning_rate,
        }
    }
}

/// PyTorch's name and the settings that differ among runs:
/// `AdamW (lr 0.001, betas (0.9, 0.999), eps 0.00000001, decoupled weight decay 0.05)`.
impl fmt::Display for OptimizerSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sgd(c) => {
                write!(
                    f,
                    "SGD (lr {}, momentum {}, weight decay {}",
                    c.learning_rate, c.momentum, c.weight_decay
                )?;
                if c.dampening != 0.0 {
                    write!(f, ", dampening {}", c.dampening)?;
                }
                if c.nesterov {
                    write!(f, ", Nesterov")?;
                }
                write!(f, ")")
            }
            Self::Adam(c) => write!(
                f,
                "Adam (lr {}, betas ({}, {}), eps {}, weight decay {})",
                c.learning_rate, c.betas.0, c.betas.1, c.eps, c.weight_decay
            ),
            Self::AdamW(c) => write!(
                f,
                "AdamW (lr {}, betas ({}, {}), eps {}, decoupled weight decay {})",
                c.learning_rate, c.betas.0, c.betas.1, c.eps, c.weight_decay
            ),
        }
    }
}

/// An optimiser: updates a model's parameters from their accumulated gradients.
///
/// The trait is object-safe, so an optimiser chosen at run time works as `Box<dyn Optimizer>`.
///
/// ```
/// use minitorch::optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
/// use minitorch::prelude::*;
/// use minitorch::rand::{SeedableRng, rngs::StdRng};
///
/// let mut layer = Linear::<2, 1>::new(&mut StdRng::seed_from_u64(0));
/// let mut optimizers: Vec<Box<dyn Optimizer>> = vec![
///     Box::new(Sgd::new(SgdConfig { learning_rate: 0.1, ..SgdConfig::default() })?),
///     Box::new(Adam::new(AdamConfig::default())?),
/// ];
/// for optimizer in &mut optimizers {
///     let before = layer.bias[0];
///     layer.bias.gradient[0] = 1.0;
///     optimizer.step(&mut layer)?;
///     assert!(layer.bias[0] < before, "{} steps down the gradient", optimizer.name());
/// }
/// # Ok::<(), minitorch::Error>(())
/// ```
pub trait Optimizer {
    /// PyTorch's name for it: `"SGD"`, `"Adam"`, `"AdamW"`.
    fn name(&self) -> &'static str;

    /// Updates every parameter of `model` from its accumulated gradient.
    ///
    /// # Errors
    /// [`Error::OptimizerModelMismatch`] if the optimiser's state was made for a model with other
    /// parameter sizes.
    fn step(&mut self, model: &mut dyn Parameters) -> Result<(), Error>;

    /// The learning rate the next step uses.
    fn learning_rate(&self) -> f32;

    /// Changes the learning rate (for a schedule); the rest of the state is kept.
    ///
    /// # Errors
    /// [`Error::InvalidHyperparameter`] for a negative or non-finite rate.
    fn set_learning_rate(&mut self, learning_rate: f32) -> Result<(), Error>;

    /// The names of the tensors it keeps per parameter, as PyTorch's optimiser state names them
    /// (`"momentum_buffer"`; `"exp_avg"`, `"exp_avg_sq"`); none for plain SGD.
    fn state_names(&self) -> &'static [&'static str];

    /// A copy of its state, for a checkpoint.
    fn state(&self) -> OptimizerState;

    /// Replaces its state with `state`, from a checkpoint.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] if `state` holds other tensors than [`Optimizer::state_names`], or
    /// a different number of them.
    fn set_state(&mut self, state: OptimizerState) -> Result<(), Error>;
}

/// What an optimiser carries from step to step, besides its settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimizerState {
    /// Steps taken so far.
    pub steps: u64,
    /// For each name of [`Optimizer::state_names`], in that order, one tensor per parameter in
    /// visiting order (each of the parameter's length); empty before the first step.
    pub tensors: Vec<Vec<Vec<f32>>>,
}

/// Per-parameter tensors of one kind (a momentum buffer, a moment), in visiting order, made on
/// the first step and checked against the model on every later one.
#[derive(Clone, Debug, Default)]
pub(crate) struct PerParameter(pub(crate) Vec<Vec<f32>>);

impl PerParameter {
    /// Makes zero tensors of the parameters' sizes if there are none yet, or else checks that the
    /// sizes still fit the model (without allocating).
    pub(crate) fn prepare(&mut self, model: &mut dyn Parameters) -> Result<(), Error> {
        if self.0.is_empty() {
            model.visit_parameters(&mut |parameter| self.0.push(vec![0.0; parameter.value.len()]));
            return Ok(());
        }
        let mut mismatch = None;
        let mut index = 0;
        model.visit_parameters(&mut |parameter| {
            let expected = self.0.get(index).map_or(0, Vec::len);
            if mismatch.is_none() && expected != parameter.value.len() {
                mismatch =
                    Some(Error::OptimizerModelMismatch { index, expected, found: parameter.value.len() });
            }
            index += 1;
        });
        if mismatch.is_none() && index < self.0.len() {
            // The model has fewer parameters than the state.
            mismatch = Some(Error::OptimizerModelMismatch { index, expected: self.0[index].len(), found: 0 });
        }
        mismatch.map_or(Ok(()), Err)
    }
}

/// Checks that `state` holds `count` kinds of tensors, each for the same number of parameters.
pub(crate) fn check_state_shape(
    state: &OptimizerState,
    names: &[&str],
    optimizer: &str,
) -> Result<(), Error> {
    let parameters = state.tensors.first().map_or(0, Vec::len);
    if state.tensors.len() != names.len() || state.tensors.iter().any(|tensors| tensors.len() != parameters) {
        return Err(Error::Checkpoint {
            location: format!("{optimizer} state"),
            problem: format!(
                "expected the tensors {names:?} for every parameter, found {} kinds for {:?} parameters",
                state.tensors.len(),
                state.tensors.iter().map(Vec::len).collect::<Vec<_>>()
            ),
        });
    }
    Ok(())
}

/// The error for a setting outside its range.
pub(crate) fn invalid(name: &'static str, value: f32, reason: &'static str) -> Error {
    Error::InvalidHyperparameter { name, value, reason }
}

/// A learning rate or weight decay: finite and ≥ 0.
pub(crate) fn check_non_negative(name: &'static str, value: f32) -> Result<(), Error> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(invalid(name, value, "must be finite and ≥ 0"))
    }
}

/// Parameters with fewer entries than this are updated on one core: waking the second costs
/// more than it saves on a small one.
const PARALLEL_MIN_ENTRIES: usize = 1 << 16;

/// Runs `update(values, gradients, states)` over one parameter's entries and its optimiser's
/// per-entry states (`K` of them: the momentum buffer, or Adam's two moments), on both cores
/// when the parameter is large: each core takes one half of every slice. An update is entry by
/// entry, so the halves give exactly what one pass gives. (An epoch of the mlp streams its 535,818
/// parameters, gradients and buffers 750 times; perf put 8% of a training run there, on one core.)
pub(crate) fn update_entries<const K: usize>(
    values: &mut [f32],
    gradients: &[f32],
    states: [&mut [f32]; K],
    update: impl Fn(&mut [f32], &[f32], [&mut [f32]; K]) + Sync,
) {
    let length = values.len();
    if length < PARALLEL_MIN_ENTRIES {
        return update(values, gradients, states);
    }
    let half = length / 2;
    let (values, gradients) = (values.split_at_mut(half), gradients.split_at(half));
    let mut halves = states.map(|state| {
        let (first, second) = state.split_at_mut(half);
        (Some(first), Some(second))
    });
    let first = std::array::from_fn(|index| halves[index].0.take().expect("taken once"));
    let second = std::array::from_fn(|index| halves[index].1.take().expect("taken once"));
    join(|| update(values.0, gradients.0, first), || update(values.1, gradients.1, second));
}
