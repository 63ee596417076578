//! Several targets at once: Y (n × k) sharing X, the sample weights and the intercept setting,
//! with one λ for all targets or one per target.
//!
//! Target t is the ridge problem (X, Y[:, t], s, λₜ) of the README ("The objective"); [`MultiRidgeProblem::target`]
//! returns it as a [`RidgeProblem`], and every fit is judged on it. `Solver::solve_targets` fits
//! them all: the direct backends form and factor their matrix once per distinct λ (`svd` once in
//! all) and solve the k right-hand sides together; any other backend solves them one by one.

use std::time::Instant;

use faer::{Col, ColRef, Mat, MatRef, Par};

use crate::error::{Error, Result};
use crate::fit::{Fit, Solution};
use crate::moments::{GramSystem, Moments};
use crate::problem::RidgeProblem;

/// A validated multi-target ridge problem that borrows its data. Build it with
/// [`MultiRidgeProblem::builder`].
#[derive(Debug, Clone)]
pub struct MultiRidgeProblem<'a> {
    /// The first target's problem: X, the weights, the intercept setting and parallelism,
    /// validated once, with x̄ and S, which every target shares.
    base: RidgeProblem<'a>,
    y: MatRef<'a, f64>,
    /// The columns of `y` that are this problem's targets (a selection keeps the borrow).
    columns: Vec<usize>,
    lambdas: Vec<f64>,
}

/// Builder for [`MultiRidgeProblem`]; defaults as [`RidgeProblem::builder`] (λ = 1 for every
/// target, intercept on, no weights, all cores).
#[derive(Debug, Clone)]
#[must_use = "call .build() to validate the problem"]
pub struct MultiRidgeProblemBuilder<'a> {
    x: MatRef<'a, f64>,
    y: MatRef<'a, f64>,
    lambda: f64,
    lambdas: Option<Vec<f64>>,
    weights: Option<ColRef<'a, f64>>,
    intercept: bool,
    par: Par,
}

impl<'a> MultiRidgeProblem<'a> {
    /// Starts a problem from X (n × d) and the targets Y (n × k), as faer views.
    pub fn builder(x: MatRef<'a, f64>, y: MatRef<'a, f64>) -> MultiRidgeProblemBuilder<'a> {
        MultiRidgeProblemBuilder {
            x,
            y,
            lambda: 1.0,
            lambdas: None,
            weights: None,
            intercept: true,
            par: Par::rayon(0),
        }
    }

    /// k, the number of targets.
    pub fn n_targets(&self) -> usize {
        self.columns.len()
    }
    /// λ of target t.
    pub fn lambda(&self, t: usize) -> f64 {
        self.lambdas[t]
    }
    /// The design X.
    pub fn x(&self) -> MatRef<'a, f64> {
        self.base.x()
    }
    /// Target t's values.
    pub fn y(&self, t: usize) -> ColRef<'a, f64> {
        self.y.col(self.columns[t])
    }
    /// The sample weights, if any.
    pub fn weights(&self) -> Option<ColRef<'a, f64>> {
        self.base.weights()
    }
    /// Whether an intercept is fitted (for every target).
    pub fn fit_intercept(&self) -> bool {
        self.base.fit_intercept()
    }
    /// Parallelism for the dense kernels.
    pub fn par(&self) -> Par {
        self.base.par()
    }

    /// Target t as a single-target problem (X, Y[:, t], s, λₜ). X and the weights were checked
    /// once by `build` (with every target column and every λ), so this costs O(n) for ȳ, not a
    /// new O(n·d) validation and centring of X.
    pub fn target(&self, t: usize) -> RidgeProblem<'a> {
        self.base.with_target_unchecked(self.y(t), self.lambdas[t])
    }

    /// The targets as an n × k matrix (a copy, in target order).
    pub fn y_matrix(&self) -> Mat<f64> {
        Mat::from_fn(self.base.n_samples(), self.n_targets(), |i, t| self.y(t)[i])
    }

    /// The sub-problem of the given targets (same borrowed data).
    pub fn select(&self, targets: &[usize]) -> Self {
        Self {
            columns: targets.iter().map(|&t| self.columns[t]).collect(),
            lambdas: targets.iter().map(|&t| self.lambdas[t]).collect(),
            ..self.clone()
        }
    }

    /// The distinct values of λ (in order of first appearance), each with its targets: a direct
    /// backend factors once per group.
    pub fn lambda_groups(&self) -> Vec<(f64, Vec<usize>)> {
        lambda_groups(&self.lambdas)
    }
}

/// The distinct values of `lambdas` (λ of target t at t), in order of first appearance, each
/// with its targets.
pub(crate) fn lambda_groups(lambdas: &[f64]) -> Vec<(f64, Vec<usize>)> {
    let mut groups: Vec<(f64, Vec<usize>)> = Vec::new();
    for (t, &l) in lambdas.iter().enumerate() {
        match groups.iter_mut().find(|(g, _)| *g == l) {
            Some((_, ts)) => ts.push(t),
            None => groups.push((l, vec![t])),
        }
    }
    groups
}

impl<'a> MultiRidgeProblemBuilder<'a> {
    /// The same λ ≥ 0 for every target.
    pub fn lambda(mut self, lambda: f64) -> Self {
        self.lambda = lambda;
        self.lambdas = None;
        self
    }
    /// One λ ≥ 0 per target (as many as Y has columns).
    pub fn lambdas(mut self, lambdas: &[f64]) -> Self {
        self.lambdas = Some(lambdas.to_vec());
        self
    }
    /// Sample weights, shared by every target.
    pub fn weights(mut self, weights: ColRef<'a, f64>) -> Self {
        self.weights = Some(weights);
        self
    }
    /// Fits an unpenalised intercept per target (default) or none.
    pub fn intercept(mut self, intercept: bool) -> Self {
        self.intercept = intercept;
        self
    }
    /// Parallelism for the dense kernels.
    pub fn par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// Validates everything once, with the checks and messages of [`RidgeProblem`] (X, weights,
    /// λ), plus: Y has at least one column, as many rows as X, finite entries, and `lambdas` has
    /// one entry per column.
    pub fn build(self) -> Result<MultiRidgeProblem<'a>> {
        let k = self.y.ncols();
        if k == 0 {
            return Err(Error::Empty {
                what: "Y has no target columns".into(),
            });
        }
        let lambdas = self.lambdas.unwrap_or_else(|| vec![self.lambda; k]);
        if lambdas.len() != k {
            return Err(Error::ShapeMismatch {
                what: format!("Y has {k} target columns but {} λ values", lambdas.len()),
            });
        }
        let mut b = RidgeProblem::builder(self.x, self.y.col(0))
            .lambda(lambdas[0])
            .intercept(self.intercept)
            .par(self.par);
        if let Some(s) = self.weights {
            b = b.weights(s);
        }
        let base = b.build()?;
        for (t, &l) in lambdas.iter().enumerate().skip(1) {
            base.with_lambda(l)?;
            if let Some(i) = self.y.col(t).iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFinite {
                    what: "Y",
                    position: format!("row {i}, target column {t}"),
                    value: self.y[(i, t)],
                });
            }
        }
        Ok(MultiRidgeProblem {
            base,
            y: self.y,
            columns: (0..k).collect(),
            lambdas,
        })
    }
}

/// Turns per-target solutions of a shared solve that started at `start` into fits (diagnostics
/// on each target's own problem). `fit_seconds` of each fit is the shared wall time divided by
/// the number of targets: the amortised cost per target. A non-finite solution is an error, as
/// for a single target.
pub(crate) fn assemble(
    problem: &MultiRidgeProblem<'_>,
    name: &str,
    start: Instant,
    solutions: Vec<Solution>,
) -> Result<Vec<Fit>> {
    let seconds = start.elapsed().as_secs_f64() / solutions.len().max(1) as f64;
    solutions
        .into_iter()
        .enumerate()
        .map(|(t, solution)| Fit::from_parts(&problem.target(t), name, solution, seconds))
        .collect()
}

/// Solves a multi-target problem one λ group at a time: `each(λ, targets)` returns the
/// solutions of those targets in order (one factorisation per group), and the fits come back in
/// target order.
pub(crate) fn per_group(
    problem: &MultiRidgeProblem<'_>,
    name: &str,
    mut each: impl FnMut(f64, &[usize]) -> Result<Vec<Solution>>,
) -> Result<Vec<Fit>> {
    let start = Instant::now();
    let mut solutions: Vec<Option<Solution>> = vec![None; problem.n_targets()];
    for (lambda, targets) in problem.lambda_groups() {
        for (t, solution) in targets.iter().zip(each(lambda, &targets)?) {
            solutions[*t] = Some(solution);
        }
    }
    let solutions = solutions
        .into_iter()
        .map(|s| {
            s.ok_or_else(|| Error::Numerical {
                solver: name.to_owned(),
                detail: "a target got no solution (internal error)".into(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    assemble(problem, name, start, solutions)
}

/// The multi-target path of the Gram-system backends: the moments of (X, Y) in one pass over X,
/// then for each distinct λ the system formed and `solve(system, targets)` returning the
/// solutions of those targets (the columns `targets` of the system's right-hand sides).
pub(crate) fn gram_targets(
    problem: &MultiRidgeProblem<'_>,
    name: &str,
    solve: impl Fn(&GramSystem, &[usize]) -> Result<Vec<Solution>>,
) -> Result<Vec<Fit>> {
    let y = problem.y_matrix();
    let moments = Moments::compute(
        problem.x(),
        y.as_ref(),
        problem.weights(),
        problem.fit_intercept(),
        problem.par(),
    );
    per_group(problem, name, |lambda, targets| {
        solve(&GramSystem::from_moments(moments.clone(), lambda), targets)
    })
}

/// Direct solutions from the columns of W (d × g), the intercepts b and one condition estimate.
pub(crate) fn direct_solutions(w: MatRef<'_, f64>, b: &Col<f64>, condition: f64) -> Vec<Solution> {
    (0..w.ncols())
        .map(|c| Solution::direct(w.col(c).to_owned(), b[c], Some(condition)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solvers::{Qr, Solver, testing};

    #[test]
    fn validates_targets_and_lambdas() {
        let (x, y) = testing::small();
        let mut ys = Mat::from_fn(x.nrows(), 2, |i, t| y[i] * (t + 1) as f64);
        let build = |ys: &Mat<f64>, l: &[f64]| {
            MultiRidgeProblem::builder(x.as_ref(), ys.as_ref())
                .lambdas(l)
                .build()
                .map(|p| p.n_targets())
        };
        assert!(build(&ys, &[0.1, 0.2]).is_ok());
        assert!(matches!(
            build(&ys, &[0.1]),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(
            build(&ys, &[0.1, -1.0]),
            Err(Error::InvalidParameter { .. })
        ));
        ys[(3, 1)] = f64::NAN;
        let err = build(&ys, &[0.1, 0.2]).unwrap_err();
        assert!(err.to_string().contains("row 3, target column 1"), "{err}");
        let empty = Mat::<f64>::zeros(x.nrows(), 0);
        assert!(matches!(
            MultiRidgeProblem::builder(x.as_ref(), empty.as_ref()).build(),
            Err(Error::Empty { .. })
        ));
    }

    #[test]
    fn targets_equal_problems_built_and_validated_alone() {
        let (x, y) = testing::small();
        let ys = Mat::from_fn(x.nrows(), 3, |i, t| {
            y[i] * (t as f64 - 0.5) + 7.0 * t as f64
        });
        let s = Col::from_fn(x.nrows(), |i| 0.5 + (i % 4) as f64);
        let w = faer::col![0.3, -0.2, 1.1];
        for (weighted, intercept) in [(false, true), (true, true), (true, false)] {
            let mut mb = MultiRidgeProblem::builder(x.as_ref(), ys.as_ref())
                .lambdas(&[0.5, 0.0, 2.0])
                .intercept(intercept);
            if weighted {
                mb = mb.weights(s.as_ref());
            }
            let multi = mb.build().unwrap();
            for t in 0..3 {
                let mut b = RidgeProblem::builder(x.as_ref(), ys.col(t))
                    .lambda(multi.lambda(t))
                    .intercept(intercept);
                if weighted {
                    b = b.weights(s.as_ref());
                }
                let (alone, target) = (b.build().unwrap(), multi.target(t));
                // Bit for bit: the same means, S, λ, and hence the same objective.
                assert_eq!(target.y_mean(), alone.y_mean(), "target {t}");
                assert_eq!(target.x_mean(), alone.x_mean());
                assert_eq!(target.weight_sum(), alone.weight_sum());
                assert_eq!(target.lambda(), alone.lambda());
                assert_eq!(
                    target.objective(w.as_ref(), 0.4),
                    alone.objective(w.as_ref(), 0.4)
                );
                assert_eq!(
                    target.optimal_intercept(w.as_ref()),
                    alone.optimal_intercept(w.as_ref())
                );
            }
        }
    }

    #[test]
    fn groups_targets_by_lambda_and_selects_them() {
        let (x, y) = testing::small();
        let ys = Mat::from_fn(x.nrows(), 4, |i, t| y[i] + t as f64);
        let p = MultiRidgeProblem::builder(x.as_ref(), ys.as_ref())
            .lambdas(&[0.5, 0.1, 0.5, 0.0])
            .build()
            .unwrap();
        assert_eq!(
            p.lambda_groups(),
            vec![(0.5, vec![0, 2]), (0.1, vec![1]), (0.0, vec![3])]
        );
        let q = p.select(&[3, 1]);
        assert_eq!((q.n_targets(), q.lambda(0), q.lambda(1)), (2, 0.0, 0.1));
        assert_eq!(q.y(0)[5], y[5] + 3.0);
        // Target t is exactly the single-target problem, and the default path solves it.
        let fits = Qr.solve_targets(&q).unwrap();
        let single = Qr.solve(&p.target(3)).unwrap();
        assert_eq!(fits[0].coef, single.coef);
    }
}
