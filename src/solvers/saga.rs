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
use crate::iterate::{IterState, IterativeMethod};
use crate::objective::Objective;
use crate::problem::RidgeProblem;
use crate::solvers::{Solver, SolverOptions, iterative};
use crate::stochastic::{
    Sampler, SlopeTable, StochasticSettings, control_variate_step, entries, entries_mut,
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

/// One SAGA run.
struct Epochs {
    sampler: Sampler,
    eta: f64,
    table: SlopeTable,
}

impl IterativeMethod for Epochs {
    fn init(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        self.table = SlopeTable::at(objective, state);
        Ok(())
    }

    fn monotone(&self) -> bool {
        false
    }

    fn step(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        let table = &mut self.table;
        let lambda = objective.penalty();
        for _ in 0..objective.n_samples() {
            let i = self.sampler.uniform();
            let slope = objective.sample_slope(i, entries(&state.theta));
            let x = objective.sample_row(i);
            let c = slope - table.slope(i);
            control_variate_step(
                entries_mut(&mut state.theta),
                self.eta,
                lambda,
                c,
                x,
                entries(&table.mean),
            );
            table.replace(objective, i, slope);
        }
        state.passes += 1.0;
        state.evaluate(objective);
        Ok(())
    }
}

impl Solver for Saga {
    fn name(&self) -> &'static str {
        "saga"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        iterative(problem, self.name(), &self.0.control, |objective| {
            Ok(Epochs {
                sampler: Sampler::new(self.0.seed, objective.n_samples()),
                eta: self.0.step_or(objective, Self::STEP_DIVISOR),
                table: SlopeTable::default(),
            })
        })
    }
}
