//! Ridge from sufficient statistics alone: [`MomentsProblem`] turns merged [`Moments`] into a
//! [`Model`] without the original X.
//!
//! The moments (S, x̄, ȳ, XcᵀSXc, XcᵀSyc, ycᵀSyc) of any number of row blocks, files or workers
//! merge exactly ([`Moments::merge`]), so a fit over data that never sat in one memory is: compute
//! the moments of each part, merge them, solve here. With G = XcᵀSXc and c = XcᵀSyc,
//!
//! ```text
//! (G + S·λ·I)·w = c,    b = ȳ − x̄ᵀw
//! J(w, b) = (ycᵀSyc − 2·cᵀw + wᵀGw)/(2S) + (ȳ − x̄ᵀw − b)²/2 + (λ/2)‖w‖²
//! ∇_w J  = (Gw − c)/S − (ȳ − x̄ᵀw − b)·x̄ + λw,    ∂_b J = −(ȳ − x̄ᵀw − b)
//! ```
//!
//! (the cross term vanishes because the weighted centred residuals sum to zero). The solve is the
//! `cholesky` backend's: the power-of-two equilibrated system, refused when it keeps fewer than
//! the crate's minimum digits. The diagnostics are exact formulas in the statistics but, unlike
//! those computed from X, they subtract: J carries an absolute error of about
//! ε·(ycᵀSyc + |cᵀw| + wᵀGw)/S, so a J far below ycᵀSyc/(2S) (a near-perfect fit) has few correct
//! digits. The gradient norm has the same kind of error, ≈ ε·(‖G‖·‖w‖ + ‖c‖)/S.

use std::time::Instant;

use faer::{Col, ColRef};

use crate::error::{Error, Result};
use crate::fit::{Fit, Judge, Model, Solution};
use crate::linalg::dot;
use crate::moments::{GramSystem, Moments};
use crate::solvers::cholesky::factor;

/// A ridge problem given by its (merged) sufficient statistics and λ, validated once.
#[derive(Debug, Clone)]
pub struct MomentsProblem {
    moments: Moments,
    target: usize,
    lambda: f64,
}

impl MomentsProblem {
    /// The problem of target 0 of `moments` with penalty λ ≥ 0. Fails on empty or non-finite
    /// statistics and on an invalid λ.
    pub fn new(moments: Moments, lambda: f64) -> Result<Self> {
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(Error::invalid(
                "lambda",
                lambda,
                "λ must be finite and ≥ 0 (λ = 0 is ordinary least squares)",
            ));
        }
        if !(moments.weight_sum > 0.0 && moments.weight_sum.is_finite()) {
            return Err(Error::Empty {
                what: format!(
                    "the moments have total weight {}; accumulate at least one row with positive \
                     weight before solving",
                    moments.weight_sum
                ),
            });
        }
        if moments.n_targets() == 0 || moments.n_features() == 0 {
            return Err(Error::Empty {
                what: format!(
                    "the moments have {} features and {} targets",
                    moments.n_features(),
                    moments.n_targets()
                ),
            });
        }
        let finite = moments.xx.is_all_finite()
            && moments.xy.is_all_finite()
            && moments.yy.is_all_finite()
            && moments.x_mean.is_all_finite()
            && moments.y_mean.is_all_finite();
        if !finite {
            return Err(Error::Numerical {
                solver: "moments".into(),
                detail: "the moments have non-finite entries (overflow while accumulating?); \
                         rescale the features or the target"
                    .into(),
            });
        }
        Ok(Self {
            moments,
            target: 0,
            lambda,
        })
    }

    /// The same statistics for target `t` (of the k the moments hold).
    pub fn target(mut self, t: usize) -> Result<Self> {
        if t >= self.moments.n_targets() {
            return Err(Error::invalid(
                "target",
                t,
                format!("a target index below {}", self.moments.n_targets()),
            ));
        }
        self.target = t;
        Ok(self)
    }

    /// The same statistics with another λ.
    pub fn with_lambda(&self, lambda: f64) -> Result<Self> {
        Ok(Self {
            target: self.target,
            ..Self::new(self.moments.clone(), lambda)?
        })
    }

    /// Judges target `t` at penalty `lambda` from now on, without copying the statistics (for
    /// a multi-target fit; `t` and `lambda` were checked by the caller).
    #[cfg(any(feature = "npy", feature = "csv"))]
    pub(crate) fn retarget(&mut self, t: usize, lambda: f64) {
        self.target = t;
        self.lambda = lambda;
    }

    /// The statistics.
    pub fn moments(&self) -> &Moments {
        &self.moments
    }

    /// Solves (G + S·λ·I)·w = c by Cholesky of the equilibrated system; `Fit::solver` is
    /// `"moments:cholesky"`, its diagnostics come from the statistics.
    pub fn solve(&self) -> Result<Fit> {
        const NAME: &str = "moments:cholesky";
        let start = Instant::now();
        let system = GramSystem::from_moments(self.moments.clone(), self.lambda);
        let f = factor(NAME, system.a.as_ref(), faer::Par::Seq)?;
        let v = f.solve(system.rhs_of(&[self.target]).as_ref());
        let (w, b) = system.unscale_targets(v.as_ref(), &[self.target]);
        let solution = Solution::direct(w.col(0).to_owned(), b[0], Some(f.condition));
        Fit::judged(self, NAME, solution, start.elapsed().as_secs_f64())
    }

    /// ȳ − x̄ᵀw − b: the mean residual (0 at the optimal intercept).
    fn mean_residual(&self, w: ColRef<'_, f64>, b: f64) -> f64 {
        let m = &self.moments;
        let y_mean = m.y_mean[self.target];
        if m.centred {
            y_mean - dot(m.x_mean.as_ref(), w) - b
        } else {
            -b
        }
    }

    /// G·w with G symmetric, from its lower triangle.
    fn gram_times(&self, w: ColRef<'_, f64>) -> Col<f64> {
        let xx = self.moments.xx_symmetric();
        &xx * w
    }
}

impl Judge for MomentsProblem {
    fn model(&self, coef: Col<f64>, intercept: f64) -> Model {
        Model::ridge(coef, intercept, self.lambda)
    }

    fn objective_and_gradient_norm(&self, w: ColRef<'_, f64>, b: f64) -> (f64, f64) {
        let m = &self.moments;
        let s = m.weight_sum;
        let c = m.xy.col(self.target);
        let gw = self.gram_times(w);
        let e = self.mean_residual(w, b);
        let value = (m.yy[self.target] - 2.0 * dot(c, w) + dot(gw.as_ref(), w)) / (2.0 * s)
            + 0.5 * e * e
            + 0.5 * self.lambda * w.squared_norm_l2();
        // Without an intercept x̄ = 0 (raw statistics) and b is not a variable.
        let grad = Col::from_fn(w.nrows(), |j| {
            (gw[j] - c[j]) / s - e * m.x_mean[j] + self.lambda * w[j]
        });
        let gb = if m.centred { -e } else { 0.0 };
        (value, (grad.squared_norm_l2() + gb * gb).sqrt())
    }

    fn n_features(&self) -> usize {
        self.moments.n_features()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::RidgeProblem;
    use crate::solvers::{Qr, Solver, testing};

    #[test]
    fn moments_merged_from_row_blocks_give_the_in_memory_fit_and_its_diagnostics() {
        let (x, y) = testing::small();
        let s = Col::from_fn(x.nrows(), |i| 0.5 + (i % 4) as f64);
        for intercept in [true, false] {
            let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
                .lambda(1e-3)
                .intercept(intercept)
                .weights(s.as_ref())
                .build()
                .unwrap();
            let reference = Qr.solve(&p).unwrap();
            // Three uneven row blocks, accumulated separately and merged.
            let cuts = [0, 7, 23, x.nrows()];
            let mut total = Moments::zeros(3, 1, intercept);
            for w in cuts.windows(2) {
                let (r0, len) = (w[0], w[1] - w[0]);
                let part = Moments::compute(
                    x.subrows(r0, len),
                    y.subrows(r0, len).as_mat(),
                    Some(s.subrows(r0, len)),
                    intercept,
                    faer::Par::Seq,
                );
                total.merge(&part);
            }
            let fit = MomentsProblem::new(total, 1e-3).unwrap().solve().unwrap();
            // κ(G + SλI) of this design is ≈ 10³ (intercept) to 10⁸ (through the origin with
            // offsets of 100): the normal equations lose κ·ε.
            let tol = if intercept { 1e-11 } else { 1e-6 };
            assert!(
                fit.relative_error(reference.coef.as_ref()) < tol,
                "{intercept}"
            );
            assert!((fit.intercept - reference.intercept).abs() <= tol * 100.0);
            // The diagnostics from the statistics agree with those from X.
            let (j, g) = (
                p.objective(fit.coef.as_ref(), fit.intercept),
                p.gradient_norm(fit.coef.as_ref(), fit.intercept),
            );
            assert!(
                (fit.objective - j).abs() <= 1e-9 * j,
                "{} vs {j}",
                fit.objective
            );
            let b = fit.intercept + 0.5;
            let (jm, gm) = MomentsProblem::new(fit_moments(&p), 1e-3)
                .unwrap()
                .objective_and_gradient_norm(fit.coef.as_ref(), b);
            let (jx, gx) = (
                p.objective(fit.coef.as_ref(), b),
                p.gradient_norm(fit.coef.as_ref(), b),
            );
            if intercept {
                assert!((jm - jx).abs() <= 1e-10 * jx, "{jm} vs {jx}");
                assert!((gm - gx).abs() <= 1e-8 * gx, "{gm} vs {gx}");
            }
            assert!(g < 1e-6 && fit.gradient_norm < 1e-6);
        }
    }

    fn fit_moments(p: &RidgeProblem<'_>) -> Moments {
        p.moments().clone()
    }

    #[test]
    fn bad_statistics_are_errors() {
        assert!(MomentsProblem::new(Moments::zeros(2, 1, true), 1.0).is_err());
        let (x, y) = testing::small();
        let m = Moments::compute(x.as_ref(), y.as_mat(), None, true, faer::Par::Seq);
        assert!(MomentsProblem::new(m.clone(), -1.0).is_err());
        assert!(MomentsProblem::new(m, 1.0).unwrap().target(1).is_err());
    }
}
