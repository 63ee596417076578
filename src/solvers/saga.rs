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
//! there. Step η = 1/(3·L_max), L_max the largest smoothness of a term fᵢ + (λ/2)‖θ‖²: with it
//! Theorem 1 of the paper gives E‖θₖ − θ*‖² ≤ (1 − min(1/(4n), μ/(3L_max)))ᵏ·C, linear
//! convergence at a rate that needs no knowledge of μ. One driver iteration is an epoch of n
//! steps; the full gradient for the stopping rule is one more pass.

use crate::error::Result;
use crate::fit::Fit;
use crate::iterate::{IterationControl, IterativeMethod};
use crate::objective::Objective;
use crate::problem::RidgeProblem;
use crate::solvers::{Minimiser, Solver, SolverOptions, solve_ridge};
use crate::stochastic::{
    SlopeTable, StochasticSettings, TableEpochs, control_variate_step, entries,
};

/// SAGA with the step of its convergence theorem, η = 1/(3·L_max).
#[derive(Debug, Clone, Default)]
pub struct Saga(pub StochasticSettings);

impl Saga {
    /// The divisor of the theory step η = 1/(3·L_max) (Defazio et al., 2014, Theorem 1).
    pub const STEP_DIVISOR: f64 = 3.0;

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
}

impl Minimiser for Saga {
    fn control(&self) -> &IterationControl {
        &self.0.control
    }

    fn method(&self, objective: &dyn Objective) -> Result<Box<dyn IterativeMethod>> {
        Ok(Box::new(TableEpochs::new(
            &self.0,
            objective,
            Self::STEP_DIVISOR,
            saga_step,
        )))
    }
}
