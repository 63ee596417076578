//! The result of a solve: a [`Model`] (what prediction needs) inside a [`Fit`] (the model plus
//! the diagnostics that make solvers comparable).
//!
//! Both serialise with serde; the command line's JSON is exactly this serialisation (plus the
//! shape of the data), so its keys are a contract of these types.

use std::ops::Deref;

use faer::{Col, ColRef, MatRef};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::problem::RidgeProblem;

/// Re-exported: the loss a model was fitted for (defined with the losses, `src/loss/mod.rs`).
pub use crate::loss::LossKind;

/// A fitted linear model: coefficients, intercept, the loss and the penalty it was fitted with,
/// and (for classification) the labels its two classes stand for. Nothing about how it was found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The loss the model minimises.
    #[serde(default)]
    pub loss: LossKind,
    /// The penalty λ it was fitted with.
    pub lambda: f64,
    /// b (0 when the problem has no intercept).
    pub intercept: f64,
    /// w (d entries).
    #[serde(with = "column")]
    pub coef: Col<f64>,
    /// For a classifier, the original labels of the classes ỹ = −1 and ỹ = +1, in that order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<[String; 2]>,
}

impl Model {
    /// A squared-loss (ridge) model.
    pub fn ridge(coef: Col<f64>, intercept: f64, lambda: f64) -> Self {
        Self {
            loss: LossKind::Squared,
            lambda,
            intercept,
            coef,
            labels: None,
        }
    }

    /// d, the number of features the model expects.
    pub fn n_features(&self) -> usize {
        self.coef.nrows()
    }

    /// The linear predictor m = Xw + b for new rows (for a ridge model, the predictions).
    /// Fails when X does not have [`Model::n_features`] columns.
    pub fn predict(&self, x: MatRef<'_, f64>) -> Result<Col<f64>> {
        if x.ncols() != self.n_features() {
            return Err(Error::ShapeMismatch {
                what: format!(
                    "the model has {} coefficients but the new data have {} columns; pass rows \
                     with the features the model was fitted on, in the same order",
                    self.n_features(),
                    x.ncols()
                ),
            });
        }
        let mut out = Col::from_fn(x.nrows(), |_| self.intercept);
        faer::linalg::matmul::matmul(
            out.as_mat_mut(),
            faer::Accum::Add,
            x,
            self.coef.as_mat(),
            1.0,
            faer::Par::Seq,
        );
        Ok(out)
    }

    /// For a logistic model, P(ỹ = +1 | x) = σ(xᵀw + b) for each row: the probability of the
    /// second class of [`Model::labels`]. Fails for a squared-loss model.
    pub fn predict_proba(&self, x: MatRef<'_, f64>) -> Result<Col<f64>> {
        self.require_classifier("predict_proba")?;
        let mut m = self.predict(x)?;
        m.iter_mut().for_each(|m| *m = crate::loss::sigmoid(*m));
        Ok(m)
    }

    /// For a logistic model, the predicted class of each row: the second label of
    /// [`Model::labels`] where xᵀw + b > 0 (probability above ½), the first otherwise.
    pub fn predict_classes(&self, x: MatRef<'_, f64>) -> Result<Vec<String>> {
        self.require_classifier("predict_classes")?;
        let [negative, positive] = match &self.labels {
            Some(labels) => labels.clone(),
            None => ["-1".to_owned(), "1".to_owned()],
        };
        let m = self.predict(x)?;
        Ok(m.iter()
            .map(|&m| {
                if m > 0.0 {
                    positive.clone()
                } else {
                    negative.clone()
                }
            })
            .collect())
    }

    fn require_classifier(&self, what: &'static str) -> Result<()> {
        match self.loss {
            LossKind::Logistic => Ok(()),
            LossKind::Squared => Err(Error::invalid(
                "model",
                format!("a squared-loss (ridge) model given to {what}"),
                "a model fitted with the logistic loss; a ridge model's predictions are `predict`",
            )),
        }
    }

    /// ‖w − w_ref‖ / ‖w_ref‖ (absolute distance when w_ref = 0).
    pub fn relative_error(&self, reference: ColRef<'_, f64>) -> f64 {
        let diff = (&self.coef - reference).norm_l2();
        let scale = reference.norm_l2();
        if scale > 0.0 { diff / scale } else { diff }
    }
}

/// A fitted model and how it was obtained.
///
/// `objective` and `gradient_norm` are always recomputed from the problem at (coef, intercept) by
/// the same code for every backend ([`Fit::from_parts`]), never taken from a solver's own
/// bookkeeping, so two fits are judged by identical numbers. A `Fit` dereferences to its
/// [`Model`], so `fit.coef` and `fit.predict(x)` read through.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fit {
    /// The backend that actually ran (for `auto`-style dispatchers, `auto:<backend>`).
    pub solver: String,
    /// The model: coefficients, intercept, loss, λ.
    #[serde(flatten)]
    pub model: Model,
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
    /// Why the solve stopped.
    pub stop: StopReason,
    /// Wall time of the solve itself, excluding these diagnostics.
    pub fit_seconds: f64,
    /// Estimate of the condition number of the matrix a direct backend factored.
    pub condition_estimate: Option<f64>,
    /// Recorded iterations, when the driver was asked to record them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Record>,
}

impl Deref for Fit {
    type Target = Model;
    fn deref(&self) -> &Model {
        &self.model
    }
}

/// Why a solve stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// A direct backend: the solution of the factored system (no iteration to stop).
    Solved,
    /// ‖∇f(θ)‖ ≤ max(tol·‖∇f(0)‖, abs_tol).
    Converged,
    /// The iteration budget ran out.
    MaxIterations,
    /// The time budget ran out.
    TimeLimit,
    /// An observer asked to stop.
    Observer,
    /// The method could not improve on its iterate (Newton's line search at the rounding floor
    /// of the objective) before meeting the tolerance: the iterate is as accurate as f64
    /// evaluation of the objective allows, but the tolerance asked for more.
    Stalled,
}

/// One recorded step of an iterative solver.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Iteration (or epoch) number; 0 is the starting point.
    pub iteration: usize,
    /// Passes over the data so far.
    pub passes: f64,
    /// Solve time so far, excluding the time spent recording.
    pub seconds: f64,
    /// Objective value of the iterate (as the solver's objective computes it).
    pub objective: f64,
    /// Relative optimality residual ‖∇J(w)‖ / ‖∇J(0)‖ (the cold start's gradient).
    pub residual: f64,
}

/// What a backend produced, before the shared diagnostics are attached by [`Fit::from_parts`].
/// A backend written outside this crate builds one of these and lets the crate judge it.
#[derive(Debug, Clone)]
pub struct Solution {
    /// w.
    pub coef: Col<f64>,
    /// b (0 without an intercept).
    pub intercept: f64,
    /// Iterations, or refinement steps of a direct backend.
    pub iterations: usize,
    /// Passes over the data.
    pub passes: f64,
    /// Why it stopped ([`StopReason::Solved`] for a direct backend).
    pub stop: StopReason,
    /// A condition estimate of the matrix a direct backend factored.
    pub condition_estimate: Option<f64>,
    /// Recorded steps.
    pub history: Vec<Record>,
}

impl Solution {
    /// A direct backend's answer: solved, no iterations.
    pub fn direct(coef: Col<f64>, intercept: f64, condition_estimate: Option<f64>) -> Self {
        Self {
            coef,
            intercept,
            iterations: 0,
            passes: 0.0,
            stop: StopReason::Solved,
            condition_estimate,
            history: Vec::new(),
        }
    }
}

/// What a fit is judged by: the objective J and its gradient norm at (w, b), and the model
/// (w, b) stands for. Implemented by every problem (the ridge problem on its data, the empirical
/// risk of any loss, the ridge problem from sufficient statistics), so a backend's answer is
/// judged by the same code whoever produced it.
pub trait Judge {
    /// The model (w, b) stands for (loss, λ, labels).
    fn model(&self, coef: Col<f64>, intercept: f64) -> Model;
    /// (J(w, b), ‖∇J(w, b)‖₂ over w and, when fitted, b).
    fn objective_and_gradient_norm(&self, coef: ColRef<'_, f64>, intercept: f64) -> (f64, f64);
    /// d, the number of coefficients a solution must have.
    fn n_features(&self) -> usize;
}

impl Judge for RidgeProblem<'_> {
    fn model(&self, coef: Col<f64>, intercept: f64) -> Model {
        Model::ridge(coef, intercept, self.lambda())
    }
    fn objective_and_gradient_norm(&self, coef: ColRef<'_, f64>, intercept: f64) -> (f64, f64) {
        (
            self.objective(coef, intercept),
            self.gradient_norm(coef, intercept),
        )
    }
    fn n_features(&self) -> usize {
        RidgeProblem::n_features(self)
    }
}

impl Fit {
    /// Judges a backend's solution of a ridge problem: refuses non-finite coefficients, then
    /// attaches the shared diagnostics (objective and gradient norm recomputed from the problem).
    /// `solver` names the backend, `fit_seconds` is the time its solve took. This is how a
    /// backend written outside this crate produces a [`Fit`].
    pub fn from_parts(
        problem: &RidgeProblem<'_>,
        solver: &str,
        solution: Solution,
        fit_seconds: f64,
    ) -> Result<Self> {
        Self::judged(problem, solver, solution, fit_seconds)
    }

    /// [`Fit::from_parts`] for any [`Judge`] (any loss, or sufficient statistics).
    pub fn judged(
        judge: &dyn Judge,
        solver: &str,
        solution: Solution,
        fit_seconds: f64,
    ) -> Result<Self> {
        if solution.coef.iter().any(|v| !v.is_finite()) || !solution.intercept.is_finite() {
            return Err(Error::Numerical {
                solver: solver.to_owned(),
                detail: "the solution has non-finite entries; the problem is too ill-conditioned \
                         for this backend: try `qr` or a larger λ"
                    .into(),
            });
        }
        if solution.coef.nrows() != judge.n_features() {
            return Err(Error::ShapeMismatch {
                what: format!(
                    "backend `{solver}` returned {} coefficients for a problem with {} features",
                    solution.coef.nrows(),
                    judge.n_features()
                ),
            });
        }
        let Solution {
            coef,
            intercept,
            iterations,
            passes,
            stop,
            condition_estimate,
            history,
        } = solution;
        let (objective, gradient_norm) =
            judge.objective_and_gradient_norm(coef.as_ref(), intercept);
        // The diagnostics are computed in scaled form, so a non-finite one means the value
        // itself is beyond f64's range: not a result to report as a success.
        if !(objective.is_finite() && gradient_norm.is_finite()) {
            return Err(Error::Numerical {
                solver: solver.to_owned(),
                detail: format!(
                    "the objective ({objective:e}) or its gradient norm ({gradient_norm:e}) at \
                     the solution is beyond the range of f64 (about 1.8e308): the target or the \
                     features are too large; divide y (and X) by a power of ten, the \
                     coefficients scale accordingly"
                ),
            });
        }
        Ok(Self {
            solver: solver.to_owned(),
            objective,
            gradient_norm,
            model: judge.model(coef, intercept),
            iterations,
            passes,
            converged: matches!(stop, StopReason::Solved | StopReason::Converged),
            stop,
            fit_seconds,
            condition_estimate,
            history,
        })
    }
}

/// serde for a faer column: a sequence of numbers.
mod column {
    use faer::Col;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(c: &Col<f64>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(c.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Col<f64>, D::Error> {
        let v = Vec::<f64>::deserialize(d)?;
        Ok(Col::from_fn(v.len(), |i| v[i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solvers::{Registry, SolverOptions, by_name, testing};

    #[test]
    fn fit_and_model_round_trip_through_serde_with_the_cli_keys() {
        let (x, y) = testing::small();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(1e-2)
            .build()
            .unwrap();
        let options = SolverOptions {
            record_every: 5,
            ..SolverOptions::default()
        };
        for name in ["qr", "gd"] {
            let info = *Registry::builtin().get(name).unwrap();
            let fit = info.build_applicable(&options).unwrap().solve(&p).unwrap();
            let text = serde_json::to_string(&fit).unwrap();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            for key in [
                "solver",
                "lambda",
                "intercept",
                "coef",
                "objective",
                "gradient_norm",
                "iterations",
                "passes",
                "converged",
                "stop",
                "fit_seconds",
                "condition_estimate",
                "loss",
            ] {
                assert!(value.get(key).is_some(), "{name}: no `{key}` in {text}");
            }
            let back: Fit = serde_json::from_str(&text).unwrap();
            assert_eq!(back.model, fit.model);
            assert_eq!(back.history, fit.history);
            assert_eq!(back.stop, fit.stop);
            let model: Model = serde_json::from_value(value).unwrap();
            assert_eq!(model, fit.model);
            assert_eq!(
                model.predict(x.as_ref()).unwrap(),
                fit.predict(x.as_ref()).unwrap()
            );
        }
        let fit = by_name("qr", &SolverOptions::default())
            .unwrap()
            .solve(&p)
            .unwrap();
        let wrong = faer::Mat::<f64>::zeros(2, 5);
        let err = fit.predict(wrong.as_ref()).unwrap_err();
        assert!(err.to_string().contains("3 coefficients"), "{err}");
        assert_eq!(fit.stop, StopReason::Solved);
        assert_eq!(fit.lambda, 1e-2);
    }
}
