//! `svd`: the thin singular value decomposition of the centred, weight-scaled design,
//! S^½·Xc = U·Σ·Vᵀ, and the ridge solution as a filter on its singular values:
//!
//! ```text
//! w(λ) = V · diag(σᵢ / (σᵢ² + S·λ)) · Uᵀ·S^½·yc
//! ```
//!
//! One decomposition (≈ 4·n·d² + 8·d³ flops) serves any number of λ values at O(d·r) each
//! ([`SvdFactorization::coefficients`]): the basis of λ paths, generalised cross-validation and
//! exact leave-one-out. At λ = 0 it returns the minimum-norm least-squares solution, like
//! `numpy.linalg.lstsq`: singular values σᵢ ≤ rcond·σ₁ are treated as zero, with
//! rcond = max(n, d)·ε by default (numpy's default since 1.14).

use faer::{Col, Mat};

use crate::error::{Error, Result};
use crate::fit::{Fit, Solution};
use crate::problem::RidgeProblem;
use crate::solvers::{Solver, timed};

/// Thin SVD of the centred design; min-norm at λ = 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct Svd {
    rcond: Option<f64>,
}

impl Svd {
    /// Treats singular values σᵢ ≤ rcond·σ₁ as zero at λ = 0 (default max(n, d)·ε).
    pub fn with_rcond(rcond: f64) -> Result<Self> {
        if !(rcond.is_finite() && (0.0..1.0).contains(&rcond)) {
            return Err(Error::invalid(
                "rcond",
                rcond,
                "a relative cut-off in [0, 1), e.g. 1e-12",
            ));
        }
        Ok(Self { rcond: Some(rcond) })
    }
}

/// The SVD of S^½·Xc with Uᵀ·S^½·yc precomputed: everything needed to solve for any λ.
#[derive(Debug, Clone)]
pub struct SvdFactorization {
    /// Singular values σ₁ ≥ … ≥ σᵣ (only those kept by the cut-off).
    pub singular_values: Col<f64>,
    v: Mat<f64>,
    uty: Col<f64>,
    weight_sum: f64,
    x_mean: Col<f64>,
    y_mean: f64,
    intercept: bool,
}

impl SvdFactorization {
    /// Factors the problem's centred, weight-scaled design (an n × d working copy).
    pub fn new(problem: &RidgeProblem<'_>, rcond: Option<f64>) -> Result<Self> {
        let (n, d) = (problem.n_samples(), problem.n_features());
        let mut xs = Mat::zeros(n, d);
        problem.write_scaled_centred_x(xs.as_mut());
        let svd =
            faer::linalg::solvers::Svd::new_thin(xs.as_ref()).map_err(|e| Error::Numerical {
                solver: "svd".into(),
                detail: format!("the SVD did not converge ({e:?}); try `qr`"),
            })?;
        let s = svd.S().column_vector();
        let top = if s.nrows() > 0 { s[0] } else { 0.0 };
        let cutoff = rcond.unwrap_or(n.max(d) as f64 * f64::EPSILON) * top;
        let r = s.iter().take_while(|&&v| v > cutoff).count();
        let y = problem.scaled_centred_y();
        let u = svd.U();
        Ok(Self {
            singular_values: Col::from_fn(r, |i| s[i]),
            v: svd.V().subcols(0, r).to_owned(),
            uty: Col::from_fn(r, |i| crate::problem::dot(u.col(i), y.as_ref())),
            weight_sum: problem.weight_sum(),
            x_mean: problem.x_mean().to_owned(),
            y_mean: problem.y_mean(),
            intercept: problem.fit_intercept(),
        })
    }

    /// Coefficients and intercept at penalty λ ≥ 0, in O(d·r).
    pub fn coefficients(&self, lambda: f64) -> (Col<f64>, f64) {
        let shift = self.weight_sum * lambda;
        let filtered = Col::from_fn(self.uty.nrows(), |i| {
            let s = self.singular_values[i];
            s / (s * s + shift) * self.uty[i]
        });
        let w = &self.v * &filtered;
        let b = if self.intercept {
            self.y_mean - crate::problem::dot(self.x_mean.as_ref(), w.as_ref())
        } else {
            0.0
        };
        (w, b)
    }

    /// κ₂ of the matrix the ridge solution inverts, (σ₁² + Sλ)/(σᵣ² + Sλ), square-rooted to be
    /// comparable with κ(Xc) (the augmented matrix [S^½Xc; √(Sλ)I] has exactly this κ).
    pub fn condition(&self, lambda: f64) -> f64 {
        let shift = self.weight_sum * lambda;
        match (
            self.singular_values.iter().next(),
            self.singular_values.iter().last(),
        ) {
            (Some(hi), Some(lo)) => ((hi * hi + shift) / (lo * lo + shift)).sqrt(),
            _ => 1.0,
        }
    }

    /// Fits for every λ of a grid, each with the shared diagnostics (which cost O(n·d) per λ on
    /// top of the O(d·r) solve).
    pub fn fits(&self, problem: &RidgeProblem<'_>, lambdas: &[f64]) -> Result<Vec<Fit>> {
        lambdas
            .iter()
            .map(|&lambda| {
                let p = problem.with_lambda(lambda)?;
                timed(&p, "svd", || {
                    let (w, b) = self.coefficients(lambda);
                    Ok(Solution::direct(w, b, Some(self.condition(lambda))))
                })
            })
            .collect()
    }
}

impl Solver for Svd {
    fn name(&self) -> &'static str {
        "svd"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        timed(problem, self.name(), || {
            let f = SvdFactorization::new(problem, self.rcond)?;
            let (w, b) = f.coefficients(problem.lambda());
            Ok(Solution::direct(w, b, Some(f.condition(problem.lambda()))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solvers::{Qr, testing};

    #[test]
    fn min_norm_at_lambda_zero_on_a_duplicated_column() {
        let (x, y) = testing::duplicated_column();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let fit = Svd::default().solve(&p).unwrap();
        // The minimum-norm solution splits the duplicated column's weight equally, and it is the
        // limit λ → 0 of the ridge solutions.
        assert!((fit.coef[0] - fit.coef[2]).abs() < 1e-9 * fit.coef[0].abs());
        // Min-norm reference: fit without the copy, then split the first weight over the two.
        let reduced = x.subcols(0, 2).to_owned();
        let q = RidgeProblem::builder(reduced.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let r = Qr.solve(&q).unwrap();
        let expected = faer::col![r.coef[0] / 2.0, r.coef[1], r.coef[0] / 2.0];
        assert!(
            fit.relative_error(expected.as_ref()) < 1e-10,
            "{:?}",
            fit.coef
        );
        assert!((fit.intercept - r.intercept).abs() < 1e-9 * r.intercept.abs());
        assert!(fit.gradient_norm < 1e-8);
    }

    #[test]
    fn one_factorisation_serves_a_lambda_grid() {
        let (x, y) = testing::small();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .build()
            .unwrap();
        let f = SvdFactorization::new(&p, None).unwrap();
        let grid = [0.0, 1e-6, 1e-3, 1.0, 1e3];
        for (fit, &lambda) in f.fits(&p, &grid).unwrap().iter().zip(&grid) {
            let reference = Qr.solve(&p.with_lambda(lambda).unwrap()).unwrap();
            assert!(
                fit.relative_error(reference.coef.as_ref()) < 1e-9,
                "λ = {lambda}"
            );
            assert!(
                (fit.intercept - reference.intercept).abs()
                    < 1e-8 * reference.intercept.abs().max(1.0)
            );
        }
    }
}
