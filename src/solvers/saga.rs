//! `saga`: SAGA (Defazio, Bach & Lacoste-Julien, 2014), unbiased variance reduction with a
//! table of per-sample gradients.
//!
//! Each step draws i uniformly (with replacement) and moves along an unbiased estimate of ∇f
//! whose variance vanishes at the optimum:
//!
//! ```text
//! θ ← θ − η·(∇fᵢ(θ) − αᵢ + ᾱ + λθ),     then αᵢ ← ∇fᵢ(θ_old), ᾱ = (1/n)·Σⱼ αⱼ
//! ```
//!
//! For a linear prediction ∇fᵢ = gᵢ·xᵢ, so the table holds one slope per sample
//! (`stochastic::SlopeTable`). The table starts at θ₀ (one pass), so ᾱ is the exact gradient
//! there. One driver iteration is an epoch of n steps; the full gradient for the stopping rule is
//! one more pass.
//!
//! *Step.* L_max is the largest smoothness of a term fᵢ + (λ/2)‖θ‖². Theorem 1 of the paper
//! covers η = 1/(3·L_max) and gives E‖θₖ − θ*‖² ≤ (1 − min(1/(4n), μ/(3L_max)))ᵏ·C, linear
//! convergence at a rate that needs no knowledge of μ. The default starts at scikit-learn's SAGA
//! step (`get_auto_step_size` in sklearn/linear_model/_sag.py) with μ = λ, the strong convexity
//! known without an SVD:
//!
//! ```text
//! η = 1/(2·L_max + min(2·n·λ, L_max))
//! ```
//!
//! which is the theory step 1/(3·L_max) when n·λ ≥ L_max/2 (there the rate is limited by n, not
//! by the step, and a larger step only adds variance: on the README's 100 000 × 100 race
//! 1/(2·L_max) takes 72 passes against 68) and tends to 1/(2·L_max), the paper's strongly convex
//! step 1/(2(μn + L)) without the μn term, when n·λ ≪ L_max. 1/L_max, SAG's practical step, is
//! unstable for SAGA on the 20 × 10 problem of the `sag` module's table. The safeguard is
//! `sag`'s with a window of 4 epochs (the theorem's rate 1/(4n) per step is one e-fold per 4
//! epochs): a window that ends above its start, or blows up, is undone and the step halved,
//! down to the theory step (`stochastic::Safeguard`). [`Saga::theory`] runs the theory step
//! throughout. Epochs before and after: the table in the `sag` module.

use crate::error::Result;
use crate::fit::Fit;
use crate::iterate::{IterationControl, IterativeMethod};
use crate::logistic::LogisticProblem;
use crate::objective::Objective;
use crate::problem::RidgeProblem;
use crate::solvers::{Minimiser, Solver, SolverOptions, minimise_logistic, solve_ridge};
use crate::stochastic::{
    SlopeTable, StepPlan, StochasticSettings, TableEpochs, control_variate_step, entries,
    max_smoothness,
};

/// SAGA; by default from η = 1/(2·L_max + min(2nλ, L_max)), safeguarded down to the theory step
/// 1/(3·L_max).
#[derive(Debug, Clone, Default)]
pub struct Saga(pub StochasticSettings);

impl Saga {
    /// The divisor of the theory step η = 1/(3·L_max) (Defazio et al., 2014, Theorem 1).
    pub const STEP_DIVISOR: f64 = 3.0;
    /// The divisor c of the practical step η = 1/(c·L_max) = 1/(2·L_max + min(2nλ, L_max)) the
    /// default starts from: between 2 (n·λ ≪ L_max) and 3, the theory's.
    pub fn practical_step_divisor(n: usize, lambda: f64, l_max: f64) -> f64 {
        2.0 + (2.0 * n as f64 * lambda).min(l_max) / l_max
    }

    /// SAGA with the theory step 1/(3·L_max) throughout and default settings otherwise.
    pub fn theory() -> Self {
        Self(StochasticSettings::default().theory_step())
    }

    /// Builds from user options (`tol`, `max_iter` as epochs, `time_limit`, `step`, `seed`).
    pub fn from_options(options: &SolverOptions) -> Result<Self> {
        Ok(Self(StochasticSettings::from_options(options)?))
    }
}

/// One SAGA step on sample i: step along the fresh slope minus the remembered one plus the
/// table's mean (unbiased), then remember the fresh slope.
fn saga_step(
    objective: &dyn Objective,
    theta: &mut [f64],
    table: &mut SlopeTable,
    i: usize,
    eta: f64,
) {
    let slope = objective.sample_slope(i, theta);
    let c = slope - table.slope(i);
    let (x, mean) = (objective.sample_row(i), entries(&table.mean));
    control_variate_step(objective, theta, eta, c, x, mean);
    table.replace(objective, i, slope);
}

impl Solver for Saga {
    fn name(&self) -> &'static str {
        "saga"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        solve_ridge(self, problem)
    }

    fn solve_logistic(&self, problem: &LogisticProblem<'_>) -> Result<Fit> {
        minimise_logistic(self, problem)
    }
}

impl Minimiser for Saga {
    fn control(&self) -> &IterationControl {
        &self.0.control
    }

    fn method(&self, objective: &dyn Objective) -> Result<Box<dyn IterativeMethod>> {
        Ok(Box::new(TableEpochs::new(
            &self.0,
            objective,
            StepPlan {
                practical: Self::practical_step_divisor(
                    objective.n_samples(),
                    objective.penalty(),
                    max_smoothness(objective),
                ),
                theory: Self::STEP_DIVISOR,
                window: 4,
                theory_first_epoch: false,
            },
            saga_step,
        )))
    }
}
