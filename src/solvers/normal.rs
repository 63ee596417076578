//! `normal`: the shared Gram system solved with nalgebra's partially pivoted LU.
//!
//! The textbook normal equations, kept as the baseline every other backend is compared with.
//! Same cost and accuracy class as `cholesky` (error ∝ κ(Xc)²) but LU does twice the flops and
//! does not exploit symmetry.

use faer::Mat;

use crate::condition;
use crate::error::{Error, Result};
use crate::fit::{Fit, Solution};
use crate::moments::GramSystem;
use crate::multi::{MultiRidgeProblem, direct_solutions, gram_targets};
use crate::problem::RidgeProblem;
use crate::solvers::{Solver, timed};

/// Normal equations through nalgebra's LU.
#[derive(Debug, Clone, Copy, Default)]
pub struct NormalEquations;

impl NormalEquations {
    /// Factors the system with LU and solves for the right-hand sides `targets`:
    /// (W, b, max|uᵢᵢ| / min|uᵢᵢ|).
    pub(crate) fn solve_system(
        &self,
        system: &GramSystem,
        targets: &[usize],
    ) -> Result<(Mat<f64>, faer::Col<f64>, f64)> {
        system.check_range(self.name())?;
        let (d, k) = (system.a.nrows(), targets.len());
        let rhs_of = system.rhs_of(targets);
        let a = nalgebra::DMatrix::from_fn(d, d, |i, j| system.a[(i.max(j), i.min(j))]);
        let lu = a.lu();
        // Judge singularity by the pivots relative to the largest one: rounding turns an exact
        // zero pivot into ~ε·‖A‖, which nalgebra would happily divide by.
        let u_diag = lu.u().diagonal();
        let max_u = u_diag.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let min_u = u_diag.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
        let threshold = d as f64 * f64::EPSILON * max_u;
        if min_u <= threshold {
            return Err(Error::Singular {
                solver: self.name().into(),
                detail: format!("smallest LU pivot {min_u:.3e} ≤ d·ε·max pivot = {threshold:.3e}"),
            });
        }
        let kappa = condition::symmetric_norm1(system.a.as_ref())
            * condition::inverse_norm1(d, |v| {
                let rhs = nalgebra::DVector::from_fn(d, |i, _| v[i]);
                // `lu` passed the pivot test above, so every pivot is nonzero.
                let x = lu.solve(&rhs).expect("nonzero pivots");
                v.iter_mut().zip(x.iter()).for_each(|(v, x)| *v = *x);
            });
        if condition::too_ill_conditioned(kappa) {
            return Err(Error::IllConditioned {
                solver: self.name().into(),
                condition: kappa,
                min_digits: condition::MIN_DIGITS,
            });
        }
        let rhs = nalgebra::DMatrix::from_fn(d, k, |i, t| rhs_of[(i, t)]);
        let v = lu.solve(&rhs).ok_or_else(|| Error::Singular {
            solver: self.name().into(),
            detail: "LU found an exactly zero pivot".into(),
        })?;
        let v = Mat::from_fn(d, k, |i, t| v[(i, t)]);
        let (w, b) = system.unscale_targets(v.as_ref(), targets);
        // For an SPD matrix, max|uᵢᵢ| / min|uᵢᵢ| is a lower bound on κ(A), as for Cholesky.
        Ok((w, b, max_u / min_u))
    }
}

impl Solver for NormalEquations {
    fn name(&self) -> &'static str {
        "normal"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        timed(problem, self.name(), || {
            let system = problem.gram_system();
            let (w, b, condition) = self.solve_system(&system, &[0])?;
            Ok(Solution::direct(w.col(0).to_owned(), b[0], Some(condition)))
        })
    }

    fn solve_targets(&self, problem: &MultiRidgeProblem<'_>) -> Result<Vec<Fit>> {
        gram_targets(problem, self.name(), |system, targets| {
            let (w, b, condition) = self.solve_system(system, targets)?;
            Ok(direct_solutions(w.as_ref(), &b, condition))
        })
    }
}
