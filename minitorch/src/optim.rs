//! Stochastic gradient descent, with PyTorch's `torch.optim.SGD` update.
//!
//! For each parameter `θ` with accumulated gradient `g`, learning rate `η`, momentum `μ`,
//! dampening `τ`, weight decay `λ`:
//!
//! ```text
//! g ← g + λ·θ
//! if μ ≠ 0:   b ← g                      on the first step
//!             b ← μ·b + (1 − τ)·g        afterwards
//!             g ← g + μ·b  (Nesterov)    or   g ← b
//! θ ← θ − η·g
//! ```

use crate::{Error, Parameters};

/// The settings of [`Sgd`]; the defaults are PyTorch's (`lr=1e-3`, no momentum, no dampening,
/// no weight decay, no Nesterov).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// `η`.
    pub learning_rate: f32,
    /// `μ`.
    pub momentum: f32,
    /// `τ`.
    pub dampening: f32,
    /// `λ` (L2 penalty).
    pub weight_decay: f32,
    /// Nesterov momentum; needs `momentum > 0` and `dampening == 0`.
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self { learning_rate: 1e-3, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false }
    }
}

/// SGD with optional momentum, Nesterov momentum and weight decay.
///
/// ```
/// use minitorch::prelude::*;
/// use minitorch::rand::{SeedableRng, rngs::StdRng};
///
/// let mut layer = Linear::<2, 1>::new(&mut StdRng::seed_from_u64(0));
/// let mut sgd = Sgd::new(SgdConfig { learning_rate: 0.5, momentum: 0.9, ..SgdConfig::default() })?;
/// let before = layer.bias[0];
/// layer.bias_gradient[0] = 1.0;
/// sgd.step(&mut layer)?; // first step: b = g, θ -= η·b
/// assert_eq!(layer.bias[0], before - 0.5);
/// # Ok::<(), minitorch::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Sgd {
    config: SgdConfig,
    /// One momentum buffer per parameter, in visiting order; empty until the first step.
    momentum_buffers: Vec<Vec<f32>>,
}

impl Sgd {
    /// An optimiser with these settings.
    ///
    /// # Errors
    /// A negative or non-finite setting, or Nesterov without momentum or with dampening (the
    /// same checks as PyTorch).
    pub fn new(config: SgdConfig) -> Result<Self, Error> {
        let non_negative = [
            ("learning_rate", config.learning_rate),
            ("momentum", config.momentum),
            ("dampening", config.dampening),
            ("weight_decay", config.weight_decay),
        ];
        for (name, value) in non_negative {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::InvalidHyperparameter { name, value, reason: "must be finite and ≥ 0" });
            }
        }
        if config.nesterov && (config.momentum == 0.0 || config.dampening != 0.0) {
            return Err(Error::InvalidHyperparameter {
                name: "nesterov",
                value: 1.0,
                reason: "Nesterov momentum needs momentum > 0 and dampening = 0",
            });
        }
        Ok(Self { config, momentum_buffers: Vec::new() })
    }

    /// The settings in use.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    /// Changes the learning rate (for a schedule); the momentum buffers are kept.
    pub fn set_learning_rate(&mut self, learning_rate: f32) -> Result<(), Error> {
        Self::new(SgdConfig { learning_rate, ..self.config })?;
        self.config.learning_rate = learning_rate;
        Ok(())
    }

    /// Updates every parameter of `model` from its accumulated gradient.
    ///
    /// # Errors
    /// If the momentum buffers were made for a model with other parameter sizes.
    pub fn step(&mut self, model: &mut impl Parameters) -> Result<(), Error> {
        let SgdConfig { learning_rate, momentum, dampening, weight_decay, nesterov } = self.config;
        let first_step = self.momentum_buffers.is_empty();
        if momentum != 0.0 && !first_step {
            self.check_buffers_fit(model)?;
        }
        let buffers = &mut self.momentum_buffers;
        let mut index = 0;
        model.visit_parameters(&mut |parameter| {
            let (values, gradients) = (parameter.value, &*parameter.gradient);
            // One branch-free loop per case, so that each vectorises.
            if momentum == 0.0 {
                for (value, &gradient) in values.iter_mut().zip(gradients) {
                    *value -= learning_rate * (gradient + weight_decay * *value);
                }
            } else {
                if first_step {
                    buffers.push(vec![0.0; values.len()]);
                }
                // First step: b = g, i.e. keep 0 of b and add all of g; then b = μ·b + (1 − τ)·g.
                let (keep, add) = if first_step { (0.0, 1.0) } else { (momentum, 1.0 - dampening) };
                let entries = values.iter_mut().zip(gradients).zip(buffers[index].iter_mut());
                if nesterov {
                    for ((value, &gradient), buffer) in entries {
                        let step = gradient + weight_decay * *value;
                        *buffer = keep * *buffer + add * step;
                        *value -= learning_rate * (step + momentum * *buffer);
                    }
                } else {
                    for ((value, &gradient), buffer) in entries {
                        *buffer = keep * *buffer + add * (gradient + weight_decay * *value);
                        *value -= learning_rate * *buffer;
                    }
                }
            }
            index += 1;
        });
        Ok(())
    }

    fn check_buffers_fit(&self, model: &mut impl Parameters) -> Result<(), Error> {
        let mut mismatch = None;
        let mut index = 0;
        model.visit_parameters(&mut |parameter| {
            let expected = self.momentum_buffers.get(index).map_or(0, Vec::len);
            if mismatch.is_none() && expected != parameter.value.len() {
                mismatch =
                    Some(Error::OptimizerModelMismatch { index, expected, found: parameter.value.len() });
            }
            index += 1;
        });
        if mismatch.is_none() && index < self.momentum_buffers.len() {
            // The model has fewer parameters than the buffers.
            let expected = self.momentum_buffers[index].len();
            mismatch = Some(Error::OptimizerModelMismatch { index, expected, found: 0 });
        }
        mismatch.map_or(Ok(()), Err)
    }
}
