//! Adam and AdamW, with PyTorch's `torch.optim.Adam` and `torch.optim.AdamW` updates.
//!
//! For each parameter `θ` with accumulated gradient `g`, at step `t = 1, 2, …`, with learning
//! rate `η`, betas `β₁, β₂`, `ε` and weight decay `λ`:
//!
//! ```text
//! Adam:   g ← g + λ·θ               (L2 penalty, added to the gradient)
//! AdamW:  θ ← θ·(1 − η·λ)           (decoupled weight decay)
//! m ← β₁·m + (1 − β₁)·g             (first moment, `exp_avg`)
//! v ← β₂·v + (1 − β₂)·g²            (second moment, `exp_avg_sq`)
//! θ ← θ − η/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)   (bias-corrected)
//! ```

use super::{OptimizerState, PerParameter, check_non_negative, check_state_shape, invalid, update_entries};
use crate::{Error, Optimizer, Parameters};

/// The settings of [`Adam`]; the defaults are PyTorch's: `lr=1e-3`, `betas=(0.9, 0.999)`,
/// `eps=1e-8`, `weight_decay=0`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// `η`.
    pub learning_rate: f32,
    /// `(β₁, β₂)`, each in `[0, 1)`.
    pub betas: (f32, f32),
    /// `ε` (> 0), added to the denominator.
    pub eps: f32,
    /// `λ`, an L2 penalty added to the gradient.
    pub weight_decay: f32,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self { learning_rate: 1e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0 }
    }
}

/// The settings of [`AdamW`]; the defaults are PyTorch's: those of [`AdamConfig`] but
/// `weight_decay=0.01`, decoupled from the gradient.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWConfig {
    /// `η`.
    pub learning_rate: f32,
    /// `(β₁, β₂)`, each in `[0, 1)`.
    pub betas: (f32, f32),
    /// `ε` (> 0), added to the denominator.
    pub eps: f32,
    /// `λ`, applied to the parameters directly: `θ ← θ·(1 − η·λ)`.
    pub weight_decay: f32,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self { learning_rate: 1e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.01 }
    }
}

/// Adam, with weight decay as an L2 term added to the gradient (PyTorch's `Adam`).
///
/// ```
/// use minitorch::optim::{Adam, AdamConfig};
/// use minitorch::prelude::*;
/// use minitorch::rand::{SeedableRng, rngs::StdRng};
///
/// let mut layer = Linear::<2, 1>::new(&mut StdRng::seed_from_u64(0));
/// let mut adam = Adam::new(AdamConfig { learning_rate: 0.1, ..AdamConfig::default() })?;
/// let before = layer.bias[0];
/// layer.bias.gradient[0] = 5.0;
/// adam.step(&mut layer)?; // the first bias-corrected step is η·sign(g), whatever |g|
/// assert!((layer.bias[0] - (before - 0.1)).abs() < 1e-6);
/// # Ok::<(), minitorch::Error>(())
/// ```
pub type Adam = AdamOptimizer<AdamConfig>;

/// AdamW: Adam with decoupled weight decay (PyTorch's `AdamW`).
///
/// ```
/// use minitorch::optim::{AdamW, AdamWConfig};
/// use minitorch::prelude::*;
/// use minitorch::rand::{SeedableRng, rngs::StdRng};
///
/// let mut layer = Linear::<2, 1>::new(&mut StdRng::seed_from_u64(0));
/// let mut adamw = AdamW::new(AdamWConfig { learning_rate: 0.1, weight_decay: 0.5, ..AdamWConfig::default() })?;
/// layer.bias[0] = 2.0;
/// layer.bias.gradient[0] = 0.0; // no gradient: only the decay acts
/// adamw.step(&mut layer)?;
/// assert!((layer.bias[0] - 2.0 * (1.0 - 0.1 * 0.5)).abs() < 1e-6);
/// # Ok::<(), minitorch::Error>(())
/// ```
pub type AdamW = AdamOptimizer<AdamWConfig>;

/// [`Adam`] or [`AdamW`], by their settings `C`: the two differ only in how weight decay enters.
#[derive(Clone, Debug)]
pub struct AdamOptimizer<C> {
    config: C,
    steps: u64,
    /// `m` per parameter.
    first_moments: PerParameter,
    /// `v` per parameter.
    second_moments: PerParameter,
}

/// What [`AdamOptimizer`] needs of its settings; implemented by [`AdamConfig`] and
/// [`AdamWConfig`] only.
pub trait AdamSettings: Clone + private::Sealed {
    /// PyTorch's name of the optimiser.
    const NAME: &'static str;
    /// Whether weight decay is decoupled (AdamW) or an L2 term added to the gradient (Adam).
    const DECOUPLED: bool;
    /// `(η, (β₁, β₂), ε, λ)`.
    fn values(&self) -> (f32, (f32, f32), f32, f32);
    /// `η`, to change.
    fn learning_rate_mut(&mut self) -> &mut f32;
}

mod private {
    pub trait Sealed {}
    impl Sealed for super::AdamConfig {}
    impl Sealed for super::AdamWConfig {}
}

impl AdamSettings for AdamConfig {
    const NAME: &'static str = "Adam";
    const DECOUPLED: bool = false;
    fn values(&self) -> (f32, (f32, f32), f32, f32) {
        (self.learning_rate, self.betas, self.eps, self.weight_decay)
    }
    fn learning_rate_mut(&mut self) -> &mut f32 {
        &mut self.learning_rate
    }
}

impl AdamSettings for AdamWConfig {
    const NAME: &'static str = "AdamW";
    const DECOUPLED: bool = true;
    fn values(&self) -> (f32, (f32, f32), f32, f32) {
        (self.learning_rate, self.betas, self.eps, self.weight_decay)
    }
    fn learning_rate_mut(&mut self) -> &mut f32 {
        &mut self.learning_rate
    }
}

const STATE_NAMES: &[&str] = &["exp_avg", "exp_avg_sq"];

impl<C: AdamSettings> AdamOptimizer<C> {
    /// An optimiser with these settings.
    ///
    /// # Errors
    /// [`Error::InvalidHyperparameter`] naming the setting, as PyTorch checks them: a negative
    /// or non-finite learning rate or weight decay, betas outside `[0, 1)`, `eps ≤ 0` (PyTorch
    /// allows 0, which divides by zero on a zero gradient).
    pub fn new(config: C) -> Result<Self, Error> {
        let (learning_rate, betas, eps, weight_decay) = config.values();
        check_non_negative("learning_rate", learning_rate)?;
        for (name, beta) in [("betas.0", betas.0), ("betas.1", betas.1)] {
            if !(0.0..1.0).contains(&beta) {
                return Err(invalid(name, beta, "must be in [0, 1)"));
            }
        }
        if !(eps.is_finite() && eps > 0.0) {
            return Err(invalid("eps", eps, "must be finite and > 0"));
        }
        check_non_negative("weight_decay", weight_decay)?;
        Ok(Self {
            config,
            steps: 0,
            first_moments: PerParameter::default(),
            second_moments: PerParameter::default(),
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &C {
        &self.config
    }
}

impl<C: AdamSettings> Optimizer for AdamOptimizer<C> {
    fn name(&self) -> &'static str {
        C::NAME
    }

    fn step(&mut self, model: &mut dyn Parameters) -> Result<(), Error> {
        let (learning_rate, (beta1, beta2), eps, weight_decay) = self.config.values();
        self.first_moments.prepare(model)?;
        self.second_moments.prepare(model)?;
        self.steps += 1;
        let step = i32::try_from(self.steps).unwrap_or(i32::MAX);
        let step_size = learning_rate / (1.0 - beta1.powi(step));
        let bias_correction2_sqrt = (1.0 - beta2.powi(step)).sqrt();
        // Adam adds λ·θ to the gradient; AdamW shrinks θ by (1 − η·λ) instead.
        let (l2, shrink) =
            if C::DECOUPLED { (0.0, 1.0 - learning_rate * weight_decay) } else { (weight_decay, 1.0) };
        let mut moments = self.first_moments.0.iter_mut().zip(self.second_moments.0.iter_mut());
        model.visit_parameters(&mut |parameter| {
            let (first, second) = moments.next().expect("prepare checked one moment per parameter");
            let moments = [first.as_mut_slice(), second.as_mut_slice()];
            update_entries(
                parameter.value,
                parameter.gradient,
                moments,
                |values, gradients, [first, second]| {
                    let entries =
                        values.iter_mut().zip(gradients).zip(first.iter_mut().zip(second.iter_mut()));
                    for ((value, &gradient), (m, v)) in entries {
                        let g = gradient + l2 * *value;
                        *value *= shrink;
                        *m += (g - *m) * (1.0 - beta1);
                        *v = beta2 * *v + (1.0 - beta2) * g * g;
                        *value -= step_size * *m / (v.sqrt() / bias_correction2_sqrt + eps);
                    }
                },
            );
        });
        Ok(())
    }

    fn learning_rate(&self) -> f32 {
        self.config.values().0
    }

    fn set_learning_rate(&mut self, learning_rate: f32) -> Result<(), Error> {
        check_non_negative("learning_rate", learning_rate)?;
        *self.config.learning_rate_mut() = learning_rate;
        Ok(())
    }

    fn state_names(&self) -> &'static [&'static str] {
        STATE_NAMES
    }

    fn state(&self) -> OptimizerState {
        OptimizerState {
            steps: self.steps,
            tensors: vec![self.first_moments.0.clone(), self.second_moments.0.clone()],
        }
    }

    fn set_state(&mut self, state: OptimizerState) -> Result<(), Error> {
        check_state_shape(&state, STATE_NAMES, C::NAME)?;
        let mut tensors = state.tensors.into_iter();
        self.steps = state.steps;
        self.first_moments = PerParameter(tensors.next().unwrap_or_default());
        self.second_moments = PerParameter(tensors.next().unwrap_or_default());
        Ok(())
    }
}
