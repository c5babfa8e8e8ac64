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

use super::{OptimizerState, PerParameter, check_non_negative, check_state_shape, invalid, update_entries};
use crate::{Error, Optimizer, Parameters};

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
/// layer.bias.gradient[0] = 1.0;
/// sgd.step(&mut layer)?; // first step: b = g, θ -= η·b
/// assert_eq!(layer.bias[0], before - 0.5);
/// # Ok::<(), minitorch::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Sgd {
    config: SgdConfig,
    steps: u64,
    /// `b` per parameter; empty until the first step with momentum.
    momentum_buffers: PerParameter,
}

impl Sgd {
    /// An optimiser with these settings.
    ///
    /// # Errors
    /// A negative or non-finite setting, or Nesterov without momentum or with dampening (the
    /// same checks as PyTorch).
    pub fn new(config: SgdConfig) -> Result<Self, Error> {
        check_non_negative("learning_rate", config.learning_rate)?;
        check_non_negative("momentum", config.momentum)?;
        check_non_negative("dampening", config.dampening)?;
        check_non_negative("weight_decay", config.weight_decay)?;
        if config.nesterov && (config.momentum == 0.0 || config.dampening != 0.0) {
            return Err(invalid("nesterov", 1.0, "Nesterov momentum needs momentum > 0 and dampening = 0"));
        }
        Ok(Self { config, steps: 0, momentum_buffers: PerParameter::default() })
    }

    /// The settings in use.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }
}

impl Optimizer for Sgd {
    fn name(&self) -> &'static str {
        "SGD"
    }

    fn step(&mut self, model: &mut dyn Parameters) -> Result<(), Error> {
        let SgdConfig { learning_rate, momentum, dampening, weight_decay, nesterov } = self.config;
        if momentum == 0.0 {
            // One branch-free loop per case, so that each vectorises.
            model.visit_parameters(&mut |parameter| {
                for (value, &gradient) in parameter.value.iter_mut().zip(&*parameter.gradient) {
                    *value -= learning_rate * (gradient + weight_decay * *value);
                }
            });
            self.steps += 1;
            return Ok(());
        }
        let first_step = self.momentum_buffers.0.is_empty();
        self.momentum_buffers.prepare(model)?;
        // First step: b = g, i.e. keep 0 of b and add all of g; then b = μ·b + (1 − τ)·g.
        let (keep, add) = if first_step { (0.0, 1.0) } else { (momentum, 1.0 - dampening) };
        let mut buffers = self.momentum_buffers.0.iter_mut();
        model.visit_parameters(&mut |parameter| {
            let buffer = buffers.next().expect("prepare checked one buffer per parameter");
            update_entries(parameter.value, parameter.gradient, [buffer], |values, gradients, [buffers]| {
                let entries = values.iter_mut().zip(gradients).zip(buffers.iter_mut());
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
            });
        });
        self.steps += 1;
        Ok(())
    }

    fn learning_rate(&self) -> f32 {
        self.config.learning_rate
    }

    fn set_learning_rate(&mut self, learning_rate: f32) -> Result<(), Error> {
        check_non_negative("learning_rate", learning_rate)?;
        self.config.learning_rate = learning_rate;
        Ok(())
    }

    fn state_names(&self) -> &'static [&'static str] {
        if self.config.momentum == 0.0 { &[] } else { &["momentum_buffer"] }
    }

    fn state(&self) -> OptimizerState {
        let tensors =
            if self.config.momentum == 0.0 { vec![] } else { vec![self.momentum_buffers.0.clone()] };
        OptimizerState { steps: self.steps, tensors }
    }

    fn set_state(&mut self, state: OptimizerState) -> Result<(), Error> {
        check_state_shape(&state, self.state_names(), self.name())?;
        self.steps = state.steps;
        self.momentum_buffers = PerParameter(state.tensors.into_iter().next().unwrap_or_default());
        Ok(())
    }
}
