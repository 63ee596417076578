//! Run several solvers on one problem and measure how far each lands from a reference.
//!
//! Each result is judged by the three numbers of DESIGN.md §3: the objective gap
//! J(w, b) − J(w*, b*) (computed without cancellation, [`RidgeProblem::objective_gap`]), the
//! optimality residual ‖∇J(w, b)‖ (in the [`Fit`]) and the relative distance ‖w − w*‖/‖w*‖ to the
//! reference, which comes from an orthogonal factorisation.

use crate::error::{Error, Result};
use crate::fit::Fit;
use crate::problem::RidgeProblem;
use crate::solvers::Solver;

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
    /// The reference solution (from `reference`'s solver).
    pub reference: Fit,
    /// One entry per solver, in the order given.
    pub entries: Vec<Entry>,
}

/// Solves `problem` with `reference` (which must succeed) and with each of `solvers` (which may
/// fail; their errors are kept in the entries, since a refusal is itself a result worth showing).
pub fn compare(
    problem: &RidgeProblem<'_>,
    reference: &dyn Solver,
    solvers: &[Box<dyn Solver>],
) -> Result<Comparison> {
    let reference = reference.solve(problem)?;
    let entries = solvers
        .iter()
        .map(|s| Entry {
            solver: s.name().to_owned(),
            outcome: s
                .solve(problem)
                .map(|fit| measure(problem, &reference, fit)),
        })
        .collect();
    Ok(Comparison { reference, entries })
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
