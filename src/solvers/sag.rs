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
//! ᾱ is the exact gradient there and the early steps are not shrunk by unvisited zeros. One
//! driver iteration is an epoch of n steps; the full gradient for the stopping rule is one more
//! pass.
//!
//! *Step.* L_max is the largest smoothness of a term fᵢ + (λ/2)‖θ‖². Theorem 1 of the paper
//! covers η = 1/(16·L_max) and gives E[f(θₖ)] − f* ≤ (1 − min(μ/(16·L_max), 1/(8n)))ᵏ·C; the
//! paper notes that η = 1/L_max works well in practice, and scikit-learn uses it
//! (`get_auto_step_size` in sklearn/linear_model/_sag.py: 1/(max‖xᵢ‖² + fit_intercept + α/n)).
//!
//! The default starts at η = 1/L_max (after a first epoch at the theory step, see below),
//! safeguarded (`stochastic::Safeguard`): the state is saved every 8 epochs (SAG's theorem
//! promises at most one e-fold per 8 epochs), and when f at the end of such a window is above
//! its value at the window's start, or f blows up within it, the window is undone and the step
//! halved, down to the theory step at most. Halving rather than dropping straight to the theory
//! step keeps most of the speed when a slightly smaller step is stable; the window rather than
//! a single epoch because SAG's objective routinely rises for an epoch or two at 1/L_max on runs
//! that converge fast. [`Sag::theory`] runs the theory step throughout; `step` fixes any step,
//! without safeguard.
//!
//! Epochs to a relative gradient of 10⁻¹⁰ (seed 0; `cargo test --release --test sklearn_ridge
//! -- --ignored --nocapture epochs`), theory step (the default before) → safeguarded default:
//!
//! | problem | `sag` | `saga` | `svrg` |
//! | --- | --: | --: | --: |
//! | scikit-learn 20 × 10, alpha = 0 (λ = 0) | 1964 → 148 | 370 → 247 | 619 → 247 |
//! | scikit-learn 20 × 10, alpha = 1 (λ = 0.05) | 1408 → 126 | 267 → 190 | 444 → 177 |
//! | scikit-learn 20 × 10, alpha = 2 (λ = 0.1) | 1082 → 109 | 208 → 159 | 342 → 137 |
//! | scikit-learn 20 × 10, alpha = 3 (λ = 0.15) | 901 → 86 | 173 → 139 | 285 → 114 |
//! | scikit-learn 20 × 10, alpha = 4 (λ = 0.2) | 800 → 85 | 152 → 129 | 253 → 101 |
//! | scikit-learn 12 × 24, no intercept, λ = 1/12 | 2238 → 149 | 426 → 312 | 702 → 283 |
//! | `Synthetic` 20 000 × 50, κ(Xc) = 30, λ = 10⁻³ | 143 → 59 | 39 → 39 | 45 → 20 |
//! | `Synthetic` 5 000 × 100, κ(Xc) = 100, λ = 10⁻⁴ | 7721 → 480 | 1448 → 980 | 2414 → 965 |
//! | `Synthetic` 100 000 × 100, κ(Xc) = 100, λ = 10⁻³ (the README's race) | 75 → 48 | 42 → 42 | 23 → 15 |
//!
//! (svrg: outer iterations of 2n inner steps, ≈ 3 passes each; saga's default step equals its
//! theory step where n·λ ≥ L_max/2: the 20 000 × 50 and 100 000 × 100 rows.) The first rows are
//! `test_ridge_individual_penalties`, the sixth `test_ridge_sample_weight_consistency` ("wide",
//! no intercept) of scikit-learn's test suite (`tests/sklearn_ridge.rs` runs them all at 10⁻¹²
//! within scikit-learn's default budget of 1000 epochs, which `sag` missed before); the
//! first two synthetic ones have offset 3, intercept 1, noise 0.1, seed 1, the last is the
//! built-in problem of `tikhonov compare` at that size. SAG's first epoch runs at the
//! theory step, unjudged, as before: the table starts at θ₀, so until each sample has been drawn
//! SAG keeps stepping along the stale ∇f(θ₀), n steps of η in a row, which overshoots (at
//! 1/L_max f rose 38× in the first epoch of the 20 000 × 50 problem, and even at the theory step
//! 19× in that of the 100 000 × 100 one); judged, that transient would send the step to the
//! floor at once. The safeguard's first checkpoint is the end of that epoch.

use crate::error::Result;
use crate::fit::Fit;
use crate::iterate::{IterationControl, IterativeMethod};
use crate::logistic::LogisticProblem;
use crate::objective::Objective;
use crate::problem::RidgeProblem;
use crate::solvers::{Minimiser, Solver, SolverOptions, minimise_logistic, solve_ridge};
use crate::stochastic::{
    SlopeTable, StepPlan, StochasticSettings, TableEpochs, control_variate_step, entries,
};

/// SAG; by default from η = 1/L_max, safeguarded down to the theory step 1/(16·L_max).
#[derive(Debug, Clone, Default)]
pub struct Sag(pub StochasticSettings);

impl Sag {
    /// The divisor of the theory step η = 1/(16·L_max) (Schmidt et al., 2017, Theorem 1).
    pub const STEP_DIVISOR: f64 = 16.0;
    /// The divisor of the practical step η = 1/L_max the default starts from.
    pub const PRACTICAL_STEP_DIVISOR: f64 = 1.0;

    /// SAG with the theory step 1/(16·L_max) throughout and default settings otherwise.
    pub fn theory() -> Self {
        Self(StochasticSettings::default().theory_step())
    }

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

    fn solve_logistic(&self, problem: &LogisticProblem<'_>) -> Result<Fit> {
        minimise_logistic(self, problem)
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
            StepPlan {
                practical: Self::PRACTICAL_STEP_DIVISOR,
                theory: Self::STEP_DIVISOR,
                window: 8,
                theory_first_epoch: true,
            },
            sag_step,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::iterate::IterationControl;
    use crate::objective::LeastSquares;
    use crate::solvers::{Qr, testing};
    use crate::stochastic::max_smoothness;

    #[test]
    fn an_unstable_starting_step_is_halved_until_stable_and_the_theory_step_is_selectable() {
        let (x, y) = testing::small();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(1e-2)
            .build()
            .unwrap();
        let l_max = max_smoothness(&LeastSquares::new(&p));
        let control = IterationControl::new(1e-10, 100_000).unwrap();
        let settings = StochasticSettings::new(control.clone()).with_seed(3);
        let reference = Qr.solve(&p).unwrap();
        // A starting step 64× L_max⁻¹: fixed, it blows up; safeguarded, it is halved (the
        // blow-ups undone) until stable, and the run converges.
        let too_large = 64.0 / l_max;
        let fixed = Sag(settings.clone().with_step(too_large).unwrap()).solve(&p);
        assert!(matches!(fixed, Err(Error::Diverged { .. })), "{fixed:?}");
        let plan = StepPlan {
            practical: 1.0 / 64.0,
            theory: Sag::STEP_DIVISOR,
            window: 8,
            theory_first_epoch: true,
        };
        let fit = crate::solvers::iterative(&p, "sag", &control, |objective| {
            Ok(Box::new(TableEpochs::new(
                &settings, objective, plan, sag_step,
            )))
        })
        .unwrap();
        assert!(fit.converged);
        assert!(fit.relative_error(reference.coef.as_ref()) < 1e-7);
        // `Sag::theory()`-style settings run exactly the fixed theory step.
        let theory = Sag(settings.clone().theory_step()).solve(&p).unwrap();
        let same = Sag(settings
            .with_step(1.0 / (Sag::STEP_DIVISOR * l_max))
            .unwrap())
        .solve(&p)
        .unwrap();
        assert_eq!(theory.coef, same.coef);
        assert_eq!(theory.iterations, same.iterations);
        assert_eq!(
            Sag::theory().0.step_rule(),
            crate::stochastic::StepRule::Theory
        );
    }
}
