//! `gd`: batch gradient descent, θ ← θ − η·∇f(θ).
//!
//! With the default step η = 1/L (L by the Lanczos method on XcᵀXc, [`Objective::smoothness`]) the
//! error contracts by (1 − μ/L) per iteration, so the iteration count grows like κ(Xc)². Each
//! iteration reads X twice (X·w, then Xᵀr).

use crate::error::Result;
use crate::fit::Fit;
use crate::iterate::{IterState, IterationControl, IterativeMethod, axpy};
use crate::logistic::LogisticProblem;
use crate::objective::Objective;
use crate::problem::RidgeProblem;
use crate::solvers::{
    IterativeSettings, Minimiser, Solver, SolverOptions, minimise_logistic, positive_step,
    solve_ridge,
};

/// Batch gradient descent with a fixed step (default 1/L).
#[derive(Debug, Clone, Default)]
pub struct GradientDescent {
    settings: IterativeSettings,
    step: Option<f64>,
}

impl GradientDescent {
    /// Gradient descent with step 1/L under the given control.
    pub fn new(control: IterationControl) -> Self {
        Self {
            settings: control.into(),
            step: None,
        }
    }

    /// Uses a fixed step η > 0 instead of 1/L (a step above 2/L diverges, which is reported).
    pub fn with_step(mut self, step: f64) -> Result<Self> {
        self.step = Some(positive_step(step, "e.g. 0.01, or omit it for 1/L")?);
        Ok(self)
    }

    /// Builds from user options (`tol`, `max_iter`, `time_limit`, `step`).
    pub fn from_options(options: &SolverOptions) -> Result<Self> {
        let gd = Self {
            settings: IterativeSettings::from_options(options)?,
            step: None,
        };
        match options.step {
            Some(step) => gd.with_step(step),
            None => Ok(gd),
        }
    }
}

/// One step of gradient descent.
struct Step {
    eta: f64,
}

impl IterativeMethod for Step {
    fn step(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        let grad = state.grad.clone();
        axpy(&mut state.theta, -self.eta, grad.as_ref());
        state.evaluate(objective);
        Ok(())
    }
}

impl Solver for GradientDescent {
    fn name(&self) -> &'static str {
        "gd"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        solve_ridge(self, problem)
    }

    fn solve_logistic(&self, problem: &LogisticProblem<'_>) -> Result<Fit> {
        minimise_logistic(self, problem)
    }
}

impl Minimiser for GradientDescent {
    fn control(&self) -> &IterationControl {
        &self.settings.control
    }

    fn method(&self, objective: &dyn Objective) -> Result<Box<dyn IterativeMethod>> {
        objective.expect_many_gradients();
        let eta = self.step.unwrap_or_else(|| 1.0 / objective.smoothness());
        Ok(Box::new(Step { eta }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::solvers::{Qr, testing};

    #[test]
    fn default_step_converges_and_a_huge_step_is_a_divergence_error() {
        let (x, y) = testing::small();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(1e-2)
            .build()
            .unwrap();
        let reference = Qr.solve(&p).unwrap();
        let fit = GradientDescent::default().solve(&p).unwrap();
        assert!(fit.converged);
        assert!(fit.relative_error(reference.coef.as_ref()) < 1e-6);
        // One pass per iteration, one at the start, and the Lanczos iteration's passes for L.
        assert!(fit.passes >= fit.iterations as f64 + 2.0, "{}", fit.passes);
        let fixed = GradientDescent::default().with_step(0.1).unwrap();
        let fit = fixed.solve(&p).unwrap();
        assert_eq!(fit.passes, fit.iterations as f64 + 1.0);

        let err = GradientDescent::default()
            .with_step(1e3)
            .unwrap()
            .solve(&p)
            .unwrap_err();
        assert!(matches!(err, Error::Diverged { .. }), "{err}");
        assert!(err.to_string().contains("smaller step"));
        assert!(GradientDescent::default().with_step(-1.0).is_err());
    }

    #[test]
    fn budget_exhaustion_is_reported_as_not_converged() {
        let (x, y) = testing::small();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(1e-6)
            .build()
            .unwrap();
        let control = IterationControl::new(1e-12, 5).unwrap();
        let fit = GradientDescent::new(control).solve(&p).unwrap();
        assert_eq!(fit.iterations, 5);
        assert!(!fit.converged);
    }
}
