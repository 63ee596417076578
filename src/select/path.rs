//! Fits along a grid of λ with any registered backend (see the parent module).
//!
//! For each λ of the grid, in the order given, a [`Path`] holds the [`Fit`] (coefficients,
//! intercept, objective J, iterations), the training error and, for ridge, the effective degrees
//! of freedom
//!
//! ```text
//! df(λ) = Σⱼ σⱼ²/(σⱼ² + S·λ)  (+ 1 with an intercept),      σⱼ the singular values of S^½·Xc
//! ```
//!
//! What is shared between the λ of a grid depends on the backend:
//!
//! - **Gram-system backends** (`cholesky`, `normal`, `cholesky-refined`, `auto` when it picks
//!   one) solve `problem.with_lambda(λ)`, which shares the cached moments of (X, y): one Gram
//!   matrix for the whole grid, one factorisation per λ.
//! - **`svd`** factors the design once ([`SvdFactorization`]) and solves every λ in O(d·r).
//! - **Iterative backends** are rebuilt for each λ with `warm_start` = the previous λ's solution
//!   (ridge: w, the variables of its intercept-eliminated objective; logistic: (w, b), or w
//!   without an intercept, as [`crate::solvers::minimise_loss`] takes it). A grid in decreasing
//!   order (the default, [`super::grid`]) moves from a strongly shrunk solution to a weaker one,
//!   each start close to the next solution. The stopping rule stays relative to the cold start's
//!   gradient ‖∇J(0)‖, so warm and cold starts stop at the same accuracy and only the iteration
//!   counts differ. A `warm_start` given in the options is the start of the first λ.
//! - Other direct backends (`qr`, `qr-refined`, `dual`) factor a matrix that depends on λ, once
//!   per λ.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fit::Fit;
use crate::linalg::half_weighted_mean_square;
use crate::logistic::LogisticProblem;
use crate::loss::log1p_exp_neg;
use crate::problem::RidgeProblem;
use crate::select::grid::{effective_df, gram_eigenvalues};
use crate::solvers::{Solver, SolverInfo, SolverKind, SolverOptions, SvdFactorization};

/// Fits along a grid of λ: see the [module docs](self).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Path {
    /// The grid, in the order given.
    pub lambdas: Vec<f64>,
    /// The fit at each λ.
    pub fits: Vec<Fit>,
    /// Ridge: the effective degrees of freedom df(λ) (+1 with an intercept); `None` for the
    /// logistic loss, which has no closed-form df.
    pub df: Option<Vec<f64>>,
    /// The training error at each λ: ridge Σᵢ sᵢ·rᵢ²/S (the weighted mean squared residual);
    /// logistic (1/S)·Σᵢ sᵢ·log(1 + exp(−ỹᵢ·mᵢ)) (the weighted mean log-loss, the objective
    /// without its penalty).
    pub train_error: Vec<f64>,
}

impl Path {
    /// The sum of the fits' iteration counts: what warm starts save.
    pub fn total_iterations(&self) -> usize {
        self.fits.iter().map(|f| f.iterations).sum()
    }
}

/// Ridge fits along `lambdas` with the backend `info` built from `options` (see the
/// [module docs](self) for what is shared between λ). Fails on an empty grid, a λ < 0 or
/// non-finite, options the backend does not take, and any fit's own error (with λ in context).
pub fn ridge_path(
    info: &SolverInfo,
    options: &SolverOptions,
    problem: &RidgeProblem<'_>,
    lambdas: &[f64],
) -> Result<Path> {
    check_grid(lambdas)?;
    let fits = if info.name == "svd" && info.kind == SolverKind::Direct {
        // Validates the options (`rcond`, and nothing else) as for any other backend.
        info.build_checked(options)?;
        SvdFactorization::new(problem, options.rcond)?.fits(problem, lambdas)?
    } else {
        // The iterative backends' ridge objective has the intercept eliminated: w alone.
        let start = |f: &Fit| f.coef.iter().copied().collect();
        fits_along(info, options, lambdas, start, |solver, lambda| {
            solver.solve(&problem.with_lambda(lambda)?)
        })?
    };
    // One eigendecomposition of the (cached) Gram matrix gives df for the whole grid.
    let eig = gram_eigenvalues(problem)?;
    let one = if problem.fit_intercept() { 1.0 } else { 0.0 };
    let df = lambdas
        .iter()
        .map(|&l| effective_df(&eig, problem.weight_sum(), l) + one)
        .collect();
    let train_error = fits
        .iter()
        .map(|f| {
            let r = problem.residuals(f.coef.as_ref(), f.intercept);
            2.0 * half_weighted_mean_square(r.as_ref(), problem.weights(), problem.weight_sum())
        })
        .collect();
    Ok(Path {
        lambdas: lambdas.to_vec(),
        fits,
        df: Some(df),
        train_error,
    })
}

/// Logistic fits along `lambdas` with the backend `info` built from `options`: iterative
/// backends warm-started from the previous λ's (w, b) (see the [module docs](self)); `auto`
/// (which picks `newton`) cold. Fails as [`ridge_path`], and with [`Error::UnsupportedLoss`]
/// for a backend that fits only the squared loss.
pub fn logistic_path(
    info: &SolverInfo,
    options: &SolverOptions,
    problem: &LogisticProblem<'_>,
    lambdas: &[f64],
) -> Result<Path> {
    check_grid(lambdas)?;
    let fits = logistic_fits(info, options, problem, lambdas)?;
    let data = problem.data();
    let train_error = fits
        .iter()
        .map(|f| {
            // The margins are ỹ − r with r = ỹ − Xw − b.
            let r = data.residuals(f.coef.as_ref(), f.intercept);
            let y = data.y();
            (0..data.n_samples())
                .map(|i| data.weight(i) * log1p_exp_neg(y[i] * (y[i] - r[i])))
                .sum::<f64>()
                / data.weight_sum()
        })
        .collect();
    Ok(Path {
        lambdas: lambdas.to_vec(),
        fits,
        df: None,
        train_error,
    })
}

/// The warm-started logistic fits of [`logistic_path`] without its training errors (what
/// k-fold cross-validation needs).
pub(crate) fn logistic_fits(
    info: &SolverInfo,
    options: &SolverOptions,
    problem: &LogisticProblem<'_>,
    lambdas: &[f64],
) -> Result<Vec<Fit>> {
    // The logistic objective's variables: (w, b) with an intercept, w without.
    let intercept = problem.data().fit_intercept();
    let start = |f: &Fit| {
        let mut v: Vec<f64> = f.coef.iter().copied().collect();
        if intercept {
            v.push(f.intercept);
        }
        v
    };
    fits_along(info, options, lambdas, start, |solver, lambda| {
        solver.solve_logistic(&problem.with_lambda(lambda)?)
    })
}

/// Runs `solve(backend, λ)` for each λ in order, the backend built from `options` and, when it
/// iterates and takes `warm_start`, with the previous fit's variables as given by `start`.
fn fits_along(
    info: &SolverInfo,
    options: &SolverOptions,
    lambdas: &[f64],
    start: impl Fn(&Fit) -> Vec<f64>,
    solve: impl Fn(&dyn Solver, f64) -> Result<Fit>,
) -> Result<Vec<Fit>> {
    let warm = info.kind == SolverKind::Iterative && info.options.contains("warm_start");
    let mut options = options.clone();
    let mut fits: Vec<Fit> = Vec::with_capacity(lambdas.len());
    for &lambda in lambdas {
        let solver = info.build_checked(&options)?;
        let fit = solve(solver.as_ref(), lambda).map_err(|e| e.in_context(lambda))?;
        if warm {
            options.warm_start = Some(start(&fit));
        }
        fits.push(fit);
    }
    Ok(fits)
}

/// A grid must be non-empty with every λ finite and ≥ 0.
pub(crate) fn check_grid(lambdas: &[f64]) -> Result<()> {
    if lambdas.is_empty() {
        return Err(Error::invalid(
            "lambdas",
            "an empty grid",
            "at least one λ, e.g. the default grid of select::grid::default_lambdas",
        ));
    }
    if let Some(&bad) = lambdas.iter().find(|l| !(l.is_finite() && **l >= 0.0)) {
        return Err(Error::invalid(
            "lambdas",
            bad,
            "every λ finite and ≥ 0 (λ = 0 is ordinary least squares)",
        ));
    }
    Ok(())
}
