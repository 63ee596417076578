//! The result of a solve: coefficients plus the diagnostics that make solvers comparable.

use faer::{Col, ColRef};
use serde::Serialize;

use crate::problem::RidgeProblem;

/// A fitted ridge model and how it was obtained.
///
/// `objective` and `gradient_norm` are always recomputed from the problem at (coef, intercept) by
/// the same code for every backend ([`Fit::new`]), never taken from a solver's own bookkeeping, so
/// two fits are judged by identical numbers.
#[derive(Debug, Clone)]
pub struct Fit {
    /// The backend that actually ran (for `auto`-style dispatchers, the one they chose).
    pub solver: String,
    /// w (d entries).
    pub coef: Col<f64>,
    /// b (0 when the problem has no intercept).
    pub intercept: f64,
    /// J(w, b).
    pub objective: f64,
    /// ‖∇J(w, b)‖₂ over w and, when fitted, b.
    pub gradient_norm: f64,
    /// Iterations (epochs for stochastic methods); for direct backends 0, or the number of
    /// refinement corrections applied (`qr-refined`, `cholesky-refined`).
    pub iterations: usize,
    /// Passes over the data, in units of one full gradient (n sample gradients).
    pub passes: f64,
    /// Whether the stopping rule was met (always true for a direct backend that returned).
    pub converged: bool,
    /// Wall time of the solve itself, excluding these diagnostics.
    pub fit_seconds: f64,
    /// Estimate of the condition number of the matrix a direct backend factored.
    pub condition_estimate: Option<f64>,
    /// Recorded iterations, when the driver was asked to record them.
    pub history: Vec<Record>,
}

/// One recorded step of an iterative solver.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Record {
    /// Iteration (or epoch) number; 0 is the starting point.
    pub iteration: usize,
    /// Passes over the data so far.
    pub passes: f64,
    /// Solve time so far, excluding the time spent recording.
    pub seconds: f64,
    /// Objective value of the iterate (as the solver's objective computes it).
    pub objective: f64,
    /// Relative optimality residual ‖∇J(w)‖ / ‖∇J(w₀)‖.
    pub residual: f64,
}

/// What a backend produced, before the shared diagnostics are attached.
#[derive(Debug, Clone)]
pub(crate) struct Solution {
    pub coef: Col<f64>,
    pub intercept: f64,
    pub iterations: usize,
    pub passes: f64,
    pub converged: bool,
    pub condition_estimate: Option<f64>,
    pub history: Vec<Record>,
}

impl Solution {
    /// A direct backend's answer: converged, no iterations.
    pub fn direct(coef: Col<f64>, intercept: f64, condition_estimate: Option<f64>) -> Self {
        Self {
            coef,
            intercept,
            iterations: 0,
            passes: 0.0,
            converged: true,
            condition_estimate,
            history: Vec::new(),
        }
    }
}

impl Fit {
    /// Attaches the shared diagnostics to a backend's solution.
    pub(crate) fn new(
        problem: &RidgeProblem<'_>,
        solver: &str,
        solution: Solution,
        fit_seconds: f64,
    ) -> Self {
        let Solution {
            coef,
            intercept,
            iterations,
            passes,
            converged,
            condition_estimate,
            history,
        } = solution;
        Self {
            solver: solver.to_owned(),
            objective: problem.objective(coef.as_ref(), intercept),
            gradient_norm: problem.gradient_norm(coef.as_ref(), intercept),
            coef,
            intercept,
            iterations,
            passes,
            converged,
            fit_seconds,
            condition_estimate,
            history,
        }
    }

    /// Predictions Xw + b for new rows.
    pub fn predict(&self, x: faer::MatRef<'_, f64>) -> Col<f64> {
        let mut out = Col::from_fn(x.nrows(), |_| self.intercept);
        faer::linalg::matmul::matmul(
            out.as_mat_mut(),
            faer::Accum::Add,
            x,
            self.coef.as_mat(),
            1.0,
            faer::Par::Seq,
        );
        out
    }

    /// ‖w − w_ref‖ / ‖w_ref‖ (absolute distance when w_ref = 0).
    pub fn relative_error(&self, reference: ColRef<'_, f64>) -> f64 {
        let diff = (&self.coef - reference).norm_l2();
        let scale = reference.norm_l2();
        if scale > 0.0 { diff / scale } else { diff }
    }
}
