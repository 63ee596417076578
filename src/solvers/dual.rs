//! `dual`: the kernel (dual) form of ridge for wide data, d > n.
//!
//! With Xs = S^½·Xc and ys = S^½·yc, the optimum can be written
//!
//! ```text
//! w = Xsᵀ·α,     (Xs·Xsᵀ + S·λ·I)·α = ys
//! ```
//!
//! (push-through identity: (XsᵀXs + SλI)⁻¹Xsᵀ = Xsᵀ(XsXsᵀ + SλI)⁻¹), so the factored matrix is
//! the n × n kernel instead of the d × d Gram matrix: O(n²·d + n³/3) instead of O(n·d² + d³/3).
//! X is read twice in blocks of columns, each block centred and weight-scaled in a small buffer:
//! no n × d copy. At tiny λ the product w = Xsᵀα cancels large terms, so the solution is then
//! refined in the primal through the same factor (see `refine` below). The centred kernel is singular at λ = 0 (its rows sum to zero), so this
//! backend needs λ > 0; `svd` gives the minimum-norm solution at λ = 0.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Col, ColRef, Mat};

use crate::error::{Error, Result};
use crate::fit::{Fit, Solution};
use crate::multi::{MultiRidgeProblem, per_group};
use crate::problem::RidgeProblem;
use crate::solvers::cholesky::{Factor, factor};
use crate::solvers::{Solver, timed};

/// Columns per block when reading X.
const BLOCK_COLS: usize = 256;

/// Cholesky of the n × n kernel matrix.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dual;

impl Solver for Dual {
    fn name(&self) -> &'static str {
        "dual"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        timed(problem, self.name(), || {
            // A group of one problem yields exactly one solution.
            Ok(self.solve_group(std::slice::from_ref(problem))?.remove(0))
        })
    }

    fn solve_targets(&self, problem: &MultiRidgeProblem<'_>) -> Result<Vec<Fit>> {
        per_group(problem, self.name(), |_, targets| {
            let group: Vec<_> = targets.iter().map(|&t| problem.target(t)).collect();
            self.solve_group(&group)
        })
    }
}

impl Dual {
    /// Solves problems that differ only in y (same X, weights, intercept and λ): one kernel,
    /// one factorisation, then per target a solve and the primal refinement.
    fn solve_group(&self, group: &[RidgeProblem<'_>]) -> Result<Vec<Solution>> {
        let Some(problem) = group.first() else {
            return Ok(Vec::new());
        };
        if problem.lambda() == 0.0 {
            return Err(Error::Singular {
                solver: self.name().into(),
                detail: "the centred kernel matrix is singular at λ = 0".into(),
            });
        }
        let n = problem.n_samples();
        let par = problem.par();
        let mut kernel = Mat::<f64>::zeros(n, n);
        for_each_column_block(problem, |_, b| {
            triangular::matmul(
                kernel.as_mut(),
                BlockStructure::TriangularLower,
                Accum::Add,
                b,
                BlockStructure::Rectangular,
                b.transpose(),
                BlockStructure::Rectangular,
                1.0,
                par,
            );
        });
        let shift = problem.weight_sum() * problem.lambda();
        for i in 0..n {
            kernel[(i, i)] += shift;
        }
        let f = factor(self.name(), kernel.as_ref(), par)?;
        Ok(group
            .iter()
            .map(|p| {
                let ys = p.scaled_centred_y();
                let mut w = transpose_times(p, f.solve(ys.as_mat()).col(0));
                refine(p, &f, ys.as_ref(), &mut w);
                let b = p.optimal_intercept(w.as_ref());
                Solution::direct(w, b, Some(f.condition))
            })
            .collect())
    }
}

/// Refines w in the primal, where the cancellation that limits the dual form does not occur.
///
/// At tiny λ with ys outside the range of Xs, α = K⁻¹ys is huge (‖ys⊥‖/(Sλ)) and w = Xsᵀα is
/// the cancellation of large terms: a few digits are lost even though K was factored stably.
/// Each step computes the primal residual g = Xsᵀ(ys − Xs·w) − Sλ·w, which is small near the
/// optimum, and the correction δ = (XsᵀXs + SλI)⁻¹g through the same kernel factor by the
/// push-through identity
///
/// ```text
/// δ = (g − Xsᵀ·K⁻¹·Xs·g) / (Sλ),     K = XsXsᵀ + SλI,
/// ```
///
/// at O(n·d + n²) per step against the O(n²·d) factorisation. The error of each correction is
/// proportional to ‖g‖, so the iteration contracts while ε·κ(K) ≪ 1 (the factor's own
/// acceptance test); it stops once a correction no longer changes w.
fn refine(problem: &RidgeProblem<'_>, f: &Factor, ys: ColRef<'_, f64>, w: &mut Col<f64>) {
    const MAX_STEPS: usize = 3;
    let shift = problem.weight_sum() * problem.lambda();
    for _ in 0..MAX_STEPS {
        let r = ys.to_owned() - times(problem, w.as_ref());
        let g = transpose_times(problem, r.as_ref()) - shift * &*w;
        let back = transpose_times(problem, f.solve(times(problem, g.as_ref()).as_mat()).col(0));
        let delta = (g - back) * (1.0 / shift);
        *w += &delta;
        if delta.norm_l2() <= 4.0 * f64::EPSILON * w.norm_l2() {
            break;
        }
    }
}

/// Xs·v (n entries), one block of centred columns at a time.
fn times(problem: &RidgeProblem<'_>, v: ColRef<'_, f64>) -> Col<f64> {
    let mut out = Col::<f64>::zeros(problem.n_samples());
    for_each_column_block(problem, |start, b| {
        matmul(
            out.as_mat_mut(),
            Accum::Add,
            b,
            v.subrows(start, b.ncols()).as_mat(),
            1.0,
            problem.par(),
        );
    });
    out
}

/// Xsᵀ·u (d entries), one block of centred columns at a time.
fn transpose_times(problem: &RidgeProblem<'_>, u: ColRef<'_, f64>) -> Col<f64> {
    let mut out = Col::<f64>::zeros(problem.n_features());
    for_each_column_block(problem, |start, b| {
        let block = out.as_mut().subrows_mut(start, b.ncols());
        matmul(
            block.as_mat_mut(),
            Accum::Replace,
            b.transpose(),
            u.as_mat(),
            1.0,
            problem.par(),
        );
    });
    out
}

/// Calls `each(first, block)` on consecutive blocks of columns of S^½·Xc, built in one n × 256
/// buffer so that no n × d copy exists.
fn for_each_column_block(
    problem: &RidgeProblem<'_>,
    mut each: impl FnMut(usize, faer::MatRef<'_, f64>),
) {
    let (n, d) = (problem.n_samples(), problem.n_features());
    let cols = BLOCK_COLS.min(d);
    let mut buf = Mat::<f64>::zeros(n, cols);
    let mut start = 0;
    while start < d {
        let len = cols.min(d - start);
        problem.write_scaled_centred_columns(start, buf.as_mut().subcols_mut(0, len));
        each(start, buf.as_ref().subcols(0, len));
        start += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Synthetic;
    use crate::solvers::Qr;

    #[test]
    fn agrees_with_the_primal_reference_on_wide_weighted_data() {
        let data = Synthetic {
            n_samples: 30,
            n_features: 600,
            condition: 50.0,
            offset: 2.0,
            seed: 5,
            ..Default::default()
        }
        .generate()
        .unwrap();
        let s = Col::from_fn(30, |i| 0.5 + (i % 4) as f64);
        for intercept in [true, false] {
            let p = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
                .weights(s.as_ref())
                .intercept(intercept)
                .lambda(1e-2)
                .build()
                .unwrap();
            let reference = Qr.solve(&p).unwrap();
            let fit = Dual.solve(&p).unwrap();
            assert!(
                fit.relative_error(reference.coef.as_ref()) < 1e-10,
                "{}",
                fit.relative_error(reference.coef.as_ref())
            );
            assert!(
                (fit.intercept - reference.intercept).abs()
                    < 1e-9 * reference.intercept.abs().max(1.0)
            );
        }
        let p = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        assert!(matches!(Dual.solve(&p), Err(Error::Singular { .. })));
    }
}
