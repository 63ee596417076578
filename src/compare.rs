//! Run several solvers on one problem and measure how far each lands from a reference.
//!
//! Each result is judged by three numbers (README, section "Accuracy" and `tests/agreement.rs`):
//! the objective gap J(w, b) − J(w*, b*) (computed without cancellation,
//! [`RidgeProblem::objective_gap`]), the optimality residual ‖∇J(w, b)‖ (in the [`Fit`]) and the
//! relative distance ‖w − w*‖/‖w*‖ to the reference, which comes from an orthogonal factorisation.
//!
//! A comparison does not trust every backend to fit in memory: a backend whose working matrices
//! ([`memory_needed`]) exceed the machine's available memory is skipped with an
//! [`Error::OutOfMemory`] entry instead of being run, and a reference that fails (or is skipped)
//! is replaced by the next direct backend of the list that succeeds.

use crate::error::{Error, Result};
use crate::fit::Fit;
use crate::logistic::LogisticProblem;
use crate::problem::RidgeProblem;
use crate::solvers::{REGISTRY, Solver, SolverKind};

/// One solver's outcome in a comparison.
#[derive(Debug)]
pub struct Entry {
    /// The solver's registry name.
    pub solver: String,
    /// Its fit and distances to the reference, or the error it returned.
    pub outcome: std::result::Result<Measured, Error>,
}

/// A fit and how far it is from the reference.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The fit itself.
    pub fit: Fit,
    /// J(w, b) − J(w*, b*) ≥ 0.
    pub objective_gap: f64,
    /// ‖w − w*‖ / ‖w*‖.
    pub coef_rel_error: f64,
}

/// The reference fit and every solver's outcome.
#[derive(Debug)]
pub struct Comparison {
    /// The reference solution (from `reference`'s solver, or the first direct backend of the list
    /// that succeeded when it failed).
    pub reference: Fit,
    /// One entry per solver, in the order given.
    pub entries: Vec<Entry>,
    /// The backends tried as the reference before the one that served, with their errors, in
    /// order (empty when the requested reference succeeded).
    /// Each as (backend, error message).
    pub reference_failures: Vec<(String, String)>,
}

/// Solves `problem` with `reference` and with each of `solvers` (which may fail; their errors are
/// kept in the entries, since a refusal is itself a result worth showing).
///
/// If the reference fails, the direct backends among `solvers` are tried as the reference in
/// order (each is solved once, its fit then serving both roles); the failures are listed in
/// [`Comparison::reference_failures`]. Backends whose working memory ([`memory_needed`]) exceeds
/// the available memory are not run: they fail with [`Error::OutOfMemory`].
///
/// # Errors
///
/// The reference's error (in context: [`Error::in_context`]) when neither it nor any direct
/// backend of `solvers` succeeds.
pub fn compare(
    problem: &RidgeProblem<'_>,
    reference: &dyn Solver,
    solvers: &[Box<dyn Solver>],
) -> Result<Comparison> {
    compare_with(
        reference,
        solvers,
        |s| guarded_solve(problem, s),
        |r, fit| measure(problem, r, fit),
    )
}

/// [`compare`] for L2-regularised logistic regression: every backend's
/// [`Solver::solve_logistic`] against a reference (`newton` is the natural one), the objective
/// gap measured on the logistic objective. Backends that fit only the squared loss fail with
/// [`Error::UnsupportedLoss`] in their entries.
pub fn compare_logistic(
    problem: &LogisticProblem<'_>,
    reference: &dyn Solver,
    solvers: &[Box<dyn Solver>],
) -> Result<Comparison> {
    let reference_objective = std::cell::Cell::new(None);
    compare_with(
        reference,
        solvers,
        |s| {
            check_backend_memory(s.name(), problem.data())?;
            s.solve_logistic(problem)
                .map_err(|e| e.in_context(problem.lambda()))
        },
        |r, fit| {
            // J(w*) once; the gap is a difference of two O(1) values, accurate to ε·J.
            let j_star = match reference_objective.get() {
                Some(j) => j,
                None => {
                    let j = problem.objective(r.coef.as_ref(), r.intercept);
                    reference_objective.set(Some(j));
                    j
                }
            };
            Measured {
                objective_gap: (fit.objective - j_star).max(0.0),
                coef_rel_error: fit.relative_error(r.coef.as_ref()),
                fit,
            }
        },
    )
}

/// The comparison loop shared by every loss: solve the reference (falling back to the direct
/// backends of the list), then every backend, measured against the reference.
fn compare_with(
    reference: &dyn Solver,
    solvers: &[Box<dyn Solver>],
    solve: impl Fn(&dyn Solver) -> Result<Fit>,
    measure: impl Fn(&Fit, Fit) -> Measured,
) -> Result<Comparison> {
    let mut outcomes: Vec<Option<Result<Fit>>> = solvers.iter().map(|_| None).collect();
    let mut reference_failures = Vec::new();
    let reference = match solve(reference) {
        Ok(fit) => fit,
        Err(error) => {
            reference_failures.push((reference.name().to_owned(), error.to_string()));
            let mut fallback = None;
            for (i, s) in solvers.iter().enumerate() {
                if s.name() == reference.name() || kind_of(s.name()) != Some(SolverKind::Direct) {
                    continue;
                }
                let result = solve(s.as_ref());
                match &result {
                    Ok(fit) => fallback = Some(fit.clone()),
                    Err(e) => reference_failures.push((s.name().to_owned(), e.to_string())),
                }
                outcomes[i] = Some(result);
                if fallback.is_some() {
                    break;
                }
            }
            // The requested reference's own error explains a total failure best.
            fallback.ok_or(error)?
        }
    };
    let entries = solvers
        .iter()
        .zip(outcomes)
        .map(|(s, done)| Entry {
            solver: s.name().to_owned(),
            outcome: done
                .unwrap_or_else(|| solve(s.as_ref()))
                .map(|fit| measure(&reference, fit)),
        })
        .collect();
    Ok(Comparison {
        reference,
        entries,
        reference_failures,
    })
}

/// Solves with `solver` unless its working memory exceeds the available memory, with errors in
/// the problem's context ([`Error::in_context`]).
fn guarded_solve(problem: &RidgeProblem<'_>, solver: &dyn Solver) -> Result<Fit> {
    check_backend_memory(solver.name(), problem)?;
    solver
        .solve(problem)
        .map_err(|e| e.in_context(problem.lambda()))
}

/// Refuses `name` on `problem` with [`Error::OutOfMemory`] ("skipped: needs X, Y available")
/// when [`memory_needed`] exceeds the available memory; passes where that is unknown.
pub fn check_backend_memory(name: &str, problem: &RidgeProblem<'_>) -> Result<()> {
    let (n, d) = (problem.n_samples(), problem.n_features());
    let needed = memory_needed(name, n, d, problem.lambda());
    crate::data::check_memory(
        || format!("skipped: {name} on {n} × {d} data"),
        needed,
        &format!(
            "its matrices would not fit ({}); use {}",
            what_grows(name),
            if d > n {
                "`dual` (n × n kernel, for d > n at λ > 0) or an iterative backend such as `cg`"
            } else {
                "an iterative backend such as `cg`, or less data"
            }
        ),
    )
}

/// What makes `name`'s memory grow, for messages.
fn what_grows(name: &str) -> &'static str {
    match name {
        "dual" => "an n × n kernel and its factor",
        "sgd" | "sag" | "saga" | "svrg" => "a sample-major copy of X",
        n if kind_of(n) == Some(SolverKind::Direct) => "d × d factors, and per-thread blocks",
        _ => "a few vectors of length n and d",
    }
}

/// An estimate of the peak working memory in bytes of backend `name` on an n × d problem with
/// penalty `lambda`, beyond the data themselves; `None` if it overflows. Within a small factor
/// of the truth, which is all a decision "does it fit" needs:
///
/// - `qr`, `qr-refined`: the streamed QR's blocks of min(8d, n) + d rows per thread, the
///   threads' stacked triangles and R (`src/tsqr.rs`); `svd` adds U, Σ, V of R (n ≥ d) or
///   factors a copy of the n × d design (n < d);
/// - `cholesky`, `cholesky-refined`, `normal`: the Gram matrix, one per thread while it is
///   accumulated, and its factor (`normal` copies it once more for nalgebra);
/// - `dual`: the n × n kernel and its factor; `auto`: the backends it may try;
/// - the stochastic backends: a sample-major copy of X; the other iterative ones: O(n + d).
pub fn memory_needed(name: &str, n: usize, d: usize, lambda: f64) -> Option<u64> {
    let (n, d) = (n as u128, d as u128);
    let threads = rayon::current_num_threads() as u128;
    let entries: u128 = match name {
        "qr" | "qr-refined" => qr_entries(n, d, threads)? + n + d,
        "svd" => {
            if n >= d {
                qr_entries(n, d, threads)? + 3 * d.checked_mul(d)?
            } else {
                4 * n.checked_mul(d)? + 3 * n.checked_mul(n)?
            }
        }
        "cholesky" | "cholesky-refined" => (threads + 3) * d.checked_mul(d)? + n + d,
        "normal" => (threads + 5) * d.checked_mul(d)?,
        "dual" => 3 * n.checked_mul(n)? + 2 * n.checked_mul(d)?,
        "auto" => {
            let primal = memory_needed("qr-refined", n as usize, d as usize, lambda)?.max(
                memory_needed("cholesky-refined", n as usize, d as usize, lambda)?,
            );
            let dual = memory_needed("dual", n as usize, d as usize, lambda)?;
            // For d > n at λ > 0 auto runs the dual, and the primal backends only if the dual
            // fails numerically: budget the dual with room (4×) rather than the rare fallback.
            return Some(if d > n && lambda > 0.0 {
                dual.max(primal.min(dual.saturating_mul(4)))
            } else {
                primal
            });
        }
        "sgd" | "sag" | "saga" | "svrg" => n.checked_mul(d)? + 6 * (n + d),
        _ => 8 * (n + d),
    };
    u64::try_from(entries.checked_mul(8)?).ok()
}

/// Entries of the streamed QR's working set on an n × d problem: per thread a block of
/// min(8d, n) + d rows by d columns, then the threads' stacked triangles and R.
fn qr_entries(n: u128, d: u128, threads: u128) -> Option<u128> {
    let block = (8 * d).min(n).max(1) + d;
    let per_thread = block.checked_mul(d)?;
    per_thread
        .checked_mul(threads)?
        .checked_add((threads + 2).checked_mul(d.checked_mul(d)?)?)
}

/// The registry's kind of backend `name` (`auto:…` names are direct).
fn kind_of(name: &str) -> Option<SolverKind> {
    let base = name.split(':').next().unwrap_or(name);
    REGISTRY.iter().find(|s| s.name == base).map(|s| s.kind)
}

/// The distances of `fit` to `reference` on `problem`.
pub fn measure(problem: &RidgeProblem<'_>, reference: &Fit, fit: Fit) -> Measured {
    Measured {
        objective_gap: problem.objective_gap(
            fit.coef.as_ref(),
            fit.intercept,
            reference.coef.as_ref(),
            reference.intercept,
        ),
        coef_rel_error: fit.relative_error(reference.coef.as_ref()),
        fit,
    }
}
