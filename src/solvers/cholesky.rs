//! `cholesky`: the shared Gram system factored by faer's Cholesky, A = L·Lᵀ.
//!
//! Cost n·d² (forming A, [`GramSystem`]) + d³/3 (factoring). The error of the computed w grows
//! with κ(A) = κ(Xc)², so the backend refuses systems it cannot solve to a few digits instead of
//! returning a silently wrong answer.

use faer::Mat;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt;
use faer::{Conj, MatRef, Par};

use crate::condition;
use crate::error::{Error, Result};
use crate::fit::{Fit, Solution};
use crate::moments::GramSystem;
use crate::multi::{MultiRidgeProblem, direct_solutions, gram_targets};
use crate::problem::RidgeProblem;
use crate::solvers::{Solver, timed};

/// Cholesky of the equilibrated Gram system.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cholesky;

/// The Cholesky factor of a scaled Gram system and its condition estimate.
pub(crate) struct Factor {
    /// L, lower triangular (the strict upper triangle is not referenced).
    pub l: Mat<f64>,
    par: Par,
    /// κ₁(A) estimated from the factor ([`crate::condition`]).
    pub condition: f64,
}

/// Factors A = L·Lᵀ (A given by its lower triangle) like [`factor_unchecked`], then refuses A if
/// its estimated condition number leaves fewer than [`condition::MIN_DIGITS`] digits.
pub(crate) fn factor(solver: &str, a: MatRef<'_, f64>, par: Par) -> Result<Factor> {
    let f = factor_unchecked(solver, a, par)?;
    if condition::too_ill_conditioned(f.condition) {
        return Err(Error::IllConditioned {
            solver: solver.to_owned(),
            condition: f.condition,
            min_digits: condition::MIN_DIGITS,
        });
    }
    Ok(f)
}

/// Factors A = L·Lᵀ (A given by its lower triangle), judging singularity against a threshold
/// relative to A's scale (rounding rarely produces an exactly zero pivot, so a pivot below
/// d·ε·max Aⱼⱼ counts as zero), and estimates κ₁(A) from the factor. Does not judge the estimate:
/// refinement can recover digits a plain solve cannot promise.
pub(crate) fn factor_unchecked(solver: &str, a: MatRef<'_, f64>, par: Par) -> Result<Factor> {
    let d = a.nrows();
    let mut l = a.to_owned();
    let mut mem = MemBuffer::new(llt::factor::cholesky_in_place_scratch::<f64>(
        d,
        par,
        Default::default(),
    ));
    let singular = |detail: String| Error::Singular {
        solver: solver.to_owned(),
        detail,
    };
    llt::factor::cholesky_in_place(
        l.as_mut(),
        Default::default(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|llt::factor::LltError::NonPositivePivot { index }| {
        singular(format!("non-positive pivot at column {index}"))
    })?;
    let max_a = (0..d).map(|j| a[(j, j)]).fold(0.0, f64::max);
    let threshold = d as f64 * f64::EPSILON * max_a;
    for j in 0..d {
        let p = l[(j, j)];
        if p * p <= threshold {
            return Err(singular(format!(
                "pivot² {:.3e} at column {j} is below the threshold d·ε·max Aⱼⱼ = {threshold:.3e}",
                p * p
            )));
        }
    }
    let mut f = Factor {
        l,
        par,
        condition: 0.0,
    };
    f.condition = condition::symmetric_norm1(a)
        * condition::inverse_norm1(d, |v| {
            let x = f.solve(v.as_mat());
            v.copy_from(x.col(0));
        });
    Ok(f)
}

impl Factor {
    /// Solves L·Lᵀ·V = B for every column of B.
    pub fn solve(&self, rhs: MatRef<'_, f64>) -> Mat<f64> {
        let mut v = rhs.to_owned();
        let mut mem = MemBuffer::new(llt::solve::solve_in_place_scratch::<f64>(
            self.l.nrows(),
            v.ncols(),
            self.par,
        ));
        llt::solve::solve_in_place_with_conj(
            self.l.as_ref(),
            Conj::No,
            v.as_mut(),
            self.par,
            MemStack::new(&mut mem),
        );
        v
    }
}

impl Cholesky {
    /// Factors the system and solves for the right-hand sides `targets`: (W, b, κ estimate).
    /// Also the solve of a streamed fit (`crate::stream`).
    pub(crate) fn solve_system(
        &self,
        system: &GramSystem,
        targets: &[usize],
        par: Par,
    ) -> Result<(Mat<f64>, faer::Col<f64>, f64)> {
        system.check_range(self.name())?;
        let f = factor(self.name(), system.a.as_ref(), par)?;
        let v = f.solve(system.rhs_of(targets).as_ref());
        let (w, b) = system.unscale_targets(v.as_ref(), targets);
        Ok((w, b, f.condition))
    }
}

impl Solver for Cholesky {
    fn name(&self) -> &'static str {
        "cholesky"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        timed(problem, self.name(), || {
            let system = problem.gram_system();
            let (w, b, condition) = self.solve_system(&system, &[0], problem.par())?;
            Ok(Solution::direct(w.col(0).to_owned(), b[0], Some(condition)))
        })
    }

    fn solve_targets(&self, problem: &MultiRidgeProblem<'_>) -> Result<Vec<Fit>> {
        gram_targets(problem, self.name(), |system, targets| {
            let (w, b, condition) = self.solve_system(system, targets, problem.par())?;
            Ok(direct_solutions(w.as_ref(), &b, condition))
        })
    }
}
