//! `sag`: the stochastic average gradient (Schmidt, Le Roux & Bach, 2017, "Minimizing finite
//! sums with the stochastic average gradient", Math. Program. 162).
//!
//! Each step draws i uniformly (with replacement), refreshes the remembered gradient of term i,
//! and moves along the average of all remembered gradients, a biased estimate of ∇f whose
//! error vanishes at the optimum:
//!
//! ```text
//! αᵢ ← ∇fᵢ(θ),     θ ← θ − η·(ᾱ + λθ),     ᾱ = (1/n)·Σⱼ αⱼ
//! ```
//!
//! For a linear prediction ∇fᵢ = gᵢ·xᵢ, so the table holds one slope per sample (§4.1 of the
//! paper; `stochastic::SlopeTable`). The table starts at θ₀ (one pass) rather than at zero, so
//! ᾱ is the exact gradient there and the early steps are not shrunk by unvisited zeros. Step
//! η = 1/(16·L_max), L_max the largest smoothness of a term fᵢ + (λ/2)‖θ‖²: with it Theorem 1
//! of the paper gives E[f(θₖ)] − f* ≤ (1 − min(μ/(16·L_max), 1/(8n)))ᵏ·C. The paper notes
//! that much larger steps (≈ 1/L_max) usually work; pass one with `step` to try. One driver
//! iteration is an epoch of n steps; the full gradient for the stopping rule is one more pass.

use crate::error::Result;
use crate::fit::Fit;
use crate::iterate::{IterationControl, IterativeMethod};
use crate::objective::Objective;
use crate::problem::RidgeProblem;
use crate::solvers::{Minimiser, Solver, SolverOptions, solve_ridge};
use crate::stochastic::{
    SlopeTable, StochasticSettings, TableEpochs, control_variate_step, entries,
};

/// SAG with the step of its convergence theorem, η = 1/(16·L_max).
#[derive(Debug, Clone, Default)]
pub struct Sag(pub StochasticSettings);

impl Sag {
    /// The divisor of the theory step η = 1/(16·L_max) (Schmidt et al., 2017, Theorem 1).
    pub const STEP_DIVISOR: f64 = 16.0;

    /// Builds from user options (`tol`, `max_iter` as epochs, `time_limit`, `step`, `seed`).
    pub fn from_options(options: &SolverOptions) -> Result<Self> {
        Ok(Self(StochasticSettings::from_options(options)?))
    }
}

/// One SAG step on sample i: refresh its slope, then step along the table's mean gradient.
fn sag_step(
    objective: &dyn Objective,
    theta: &mut [f64],
    table: &mut SlopeTable,
    i: usize,
    eta: f64,
) {
    let slope = objective.sample_slope(i, theta);
    table.replace(objective, i, slope);
    let (x, mean) = (objective.sample_row(i), entries(&table.mean));
    control_variate_step(objective, theta, eta, 0.0, x, mean);
}

impl Solver for Sag {
    fn name(&self) -> &'static str {
        "sag"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        solve_ridge(self, problem)
    }
}

impl Minimiser for Sag {
    fn control(&self) -> &IterationControl {
        &self.0.control
    }

    fn method(&self, objective: &dyn Objective) -> Result<Box<dyn IterativeMethod>> {
        Ok(Box::new(TableEpochs::new(
            &self.0,
            objective,
            Self::STEP_DIVISOR,
            sag_step,
        )))
    }
}
