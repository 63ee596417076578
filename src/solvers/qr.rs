//! `qr`: Householder QR of the augmented, centred, weight-scaled least-squares system
//!
//! ```text
//! minimise ‖ [ S^½·Xc ] w − [ S^½·yc ] ‖²
//!          ‖ [ √(Sλ)·I ]     [   0    ] ‖
//! ```
//!
//! whose normal equations are exactly (XcᵀSXc + SλI)w = XcᵀSyc. Working on the matrix itself,
//! not on its Gram matrix, the error grows with κ(Xc) rather than κ(Xc)²: this is the crate's
//! reference solution. It needs an (n + d) × d working copy and costs about 2·n·d² flops.

use faer::linalg::solvers::{Qr as FaerQr, SolveLstsq};
use faer::{Col, Mat};

use crate::error::{Error, Result};
use crate::fit::{Fit, Solution};
use crate::moments::pow2_inverse_sqrt;
use crate::problem::RidgeProblem;
use crate::solvers::{Solver, timed};

/// Householder QR of the augmented system: the accuracy reference.
#[derive(Debug, Clone, Copy, Default)]
pub struct Qr;

impl Solver for Qr {
    fn name(&self) -> &'static str {
        "qr"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        timed(problem, self.name(), || {
            let (n, d) = (problem.n_samples(), problem.n_features());
            let lambda = problem.lambda();
            let extra = if lambda > 0.0 { d } else { 0 };
            if n + extra < d {
                return Err(Error::Singular {
                    solver: self.name().into(),
                    detail: format!("λ = 0 with fewer samples ({n}) than features ({d})"),
                });
            }
            // Exact power-of-two column equilibration (see `moments::GramSystem`): it leaves the
            // rounding unchanged but makes the rank threshold below independent of units.
            let mut m = Mat::zeros(n + extra, d);
            problem.write_scaled_centred_x(m.as_mut().subrows_mut(0, n));
            let shift = (problem.weight_sum() * lambda).sqrt();
            let col_scale = Col::from_fn(d, |j| {
                pow2_inverse_sqrt(m.col(j).subrows(0, n).squared_norm_l2() + shift * shift)
            });
            for j in 0..d {
                if extra > 0 {
                    m[(n + j, j)] = shift;
                }
                m.col_mut(j).iter_mut().for_each(|v| *v *= col_scale[j]);
            }
            let y = problem.scaled_centred_y();
            let rhs = Mat::from_fn(n + extra, 1, |i, _| if i < n { y[i] } else { 0.0 });
            let qr = FaerQr::new(m.as_ref());
            let r = qr.thin_R();
            let diag: Vec<f64> = (0..d).map(|j| r[(j, j)].abs()).collect();
            let max_r = diag.iter().copied().fold(0.0, f64::max);
            let min_r = diag.iter().copied().fold(f64::INFINITY, f64::min);
            let threshold = (n + extra).max(d) as f64 * f64::EPSILON * max_r;
            if min_r <= threshold {
                return Err(Error::Singular {
                    solver: self.name().into(),
                    detail: format!(
                        "smallest |Rᵢᵢ| {min_r:.3e} ≤ max(n, d)·ε·max |Rᵢᵢ| = {threshold:.3e}"
                    ),
                });
            }
            let v = qr.solve_lstsq(rhs.as_ref());
            let w = Col::from_fn(d, |j| col_scale[j] * v[(j, 0)]);
            let b = problem.optimal_intercept(w.as_ref());
            Ok(Solution::direct(w, b, Some(max_r / min_r)))
        })
    }
}
