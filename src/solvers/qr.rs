//! `qr`: Householder QR of the augmented, centred, weight-scaled least-squares system
//!
//! ```text
//! minimise ‖ [ S^½·Xc ] w − [ S^½·yc ] ‖²
//!          ‖ [ √(Sλ)·I ]     [   0    ] ‖
//! ```
//!
//! whose normal equations are exactly (XcᵀSXc + SλI)w = XcᵀSyc. Working on the matrix itself,
//! not on its Gram matrix, the error grows with κ(Xc) rather than κ(Xc)²: this is the crate's
//! reference solution. It needs an (n + d) × d working copy and costs about 2·n·d² flops. A
//! design whose κ leaves fewer than [`condition::MIN_DIGITS`] digits is an `IllConditioned`
//! error (numerically rank-deficient designs at λ = 0 mostly land here rather than at an exactly
//! zero pivot): `svd` gives the minimum-norm solution then, `qr-refined` may still converge.
//! [`Qr::refined`] adds iterative refinement in extended precision ([`crate::refine`]).

use faer::linalg::solvers::{Qr as FaerQr, SolveLstsq};
use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::{Col, Mat, MatRef, Par};

use crate::condition;
use crate::error::{Error, Result};
use crate::fit::{Fit, Solution};
use crate::moments::pow2_inverse_sqrt;
use crate::multi::{MultiRidgeProblem, per_group};
use crate::problem::RidgeProblem;
use crate::solvers::refined::{Base, Refined};
use crate::solvers::{Solver, timed};

/// Householder QR of the augmented system: the accuracy reference.
#[derive(Debug, Clone, Copy, Default)]
pub struct Qr;

impl Qr {
    /// `qr` followed by iterative refinement with double-double residuals (registered as
    /// `qr-refined`), at most [`Refined::DEFAULT_MAX_STEPS`] corrections.
    pub fn refined() -> Refined {
        Refined::new(Base::Qr)
    }

    /// `qr` refined with at most `max_steps` corrections (1 to 100).
    pub fn with_refinement(max_steps: usize) -> Result<Refined> {
        Refined::new(Base::Qr).max_steps(max_steps)
    }
}

/// The QR factorisation of the equilibrated augmented matrix [S^½·Xc; √(Sλ)·I]·D.
pub(crate) struct QrFactor {
    qr: FaerQr<f64>,
    /// D, exact powers of two: column j of the factored matrix has norm within √2 of 1.
    pub scale: Col<f64>,
    rows: usize,
    par: Par,
    /// max|Rᵢᵢ| / min|Rᵢᵢ|, a lower bound on κ₂ of the equilibrated augmented matrix (within a
    /// small factor in practice).
    pub condition: f64,
    dim: usize,
}

impl QrFactor {
    /// Factors the problem's augmented system; `Singular` when R has a diagonal entry below
    /// max(n + d, d)·ε·max|Rᵢᵢ| (λ = 0 with dependent columns).
    pub fn new(solver: &str, problem: &RidgeProblem<'_>) -> Result<Self> {
        let (n, d) = (problem.n_samples(), problem.n_features());
        let lambda = problem.lambda();
        let extra = if lambda > 0.0 { d } else { 0 };
        if n + extra < d {
            return Err(Error::Singular {
                solver: solver.into(),
                detail: format!("λ = 0 with fewer samples ({n}) than features ({d})"),
            });
        }
        // Exact power-of-two column equilibration (see `moments::GramSystem`): it leaves the
        // rounding unchanged but makes the rank threshold below independent of units.
        let mut m = Mat::zeros(n + extra, d);
        problem.write_scaled_centred_x(m.as_mut().subrows_mut(0, n));
        let shift = (problem.weight_sum() * lambda).sqrt();
        let scale = Col::from_fn(d, |j| {
            pow2_inverse_sqrt(m.col(j).subrows(0, n).squared_norm_l2() + shift * shift)
        });
        for j in 0..d {
            if extra > 0 {
                m[(n + j, j)] = shift;
            }
            m.col_mut(j).iter_mut().for_each(|v| *v *= scale[j]);
        }
        let qr = FaerQr::new(m.as_ref());
        let r = qr.thin_R();
        let diag: Vec<f64> = (0..d).map(|j| r[(j, j)].abs()).collect();
        let max_r = diag.iter().copied().fold(0.0, f64::max);
        let min_r = diag.iter().copied().fold(f64::INFINITY, f64::min);
        let threshold = (n + extra).max(d) as f64 * f64::EPSILON * max_r;
        if min_r <= threshold {
            return Err(Error::Singular {
                solver: solver.into(),
                detail: format!(
                    "smallest |Rᵢᵢ| {min_r:.3e} ≤ max(n, d)·ε·max |Rᵢᵢ| = {threshold:.3e}"
                ),
            });
        }
        Ok(Self {
            qr,
            scale,
            rows: n + extra,
            par: problem.par(),
            condition: max_r / min_r,
            dim: d,
        })
    }

    /// Whether the factor cannot promise [`condition::MIN_DIGITS`] correct digits: the error of
    /// a QR least-squares solve grows like κ·ε, and by van der Sluis's theorem the equilibrated
    /// matrix's κ is at most √d times the smallest κ any column scaling achieves, so the refusal
    /// is judged on [`QrFactor::condition`]/√d (a lower bound on that best κ, up to the gap
    /// between max|Rᵢᵢ|/min|Rᵢᵢ| and κ₂(R)). On NIST Filip the ratio is 1.9·10⁷: far from it.
    pub fn too_ill_conditioned(&self) -> bool {
        condition::too_ill_conditioned(self.condition / (self.dim as f64).sqrt())
    }

    /// The coefficients W (d × k) for right-hand sides S^½·Yc (n × k): the least-squares solution
    /// of the augmented system through Qᵀ, mapped back by D.
    pub fn solve_lstsq(&self, rhs: MatRef<'_, f64>) -> Mat<f64> {
        let (n, k) = (rhs.nrows(), rhs.ncols());
        let full = Mat::from_fn(self.rows, k, |i, t| if i < n { rhs[(i, t)] } else { 0.0 });
        let v = self.qr.solve_lstsq(full.as_ref());
        Mat::from_fn(v.nrows(), k, |j, t| self.scale[j] * v[(j, t)])
    }

    /// Solves (XcᵀSXc + SλI)·Δ = B (d × k) through RᵀR = D(XcᵀSXc + SλI)D: Δ = D·R⁻¹R⁻ᵀ·D·B.
    /// Used for refinement corrections, where R's backward stability makes each step contract
    /// the error by about κ·ε (see [`crate::refine`]).
    pub fn solve_normal(&self, rhs: MatRef<'_, f64>) -> Mat<f64> {
        let r = self.qr.thin_R();
        let mut z = Mat::from_fn(rhs.nrows(), rhs.ncols(), |j, t| self.scale[j] * rhs[(j, t)]);
        solve_lower_triangular_in_place(r.transpose(), z.as_mut(), self.par);
        solve_upper_triangular_in_place(r, z.as_mut(), self.par);
        Mat::from_fn(z.nrows(), z.ncols(), |j, t| self.scale[j] * z[(j, t)])
    }
}

impl Qr {
    /// Solves problems that share X, weights and λ (targets of one λ group) with one
    /// factorisation.
    fn solve_group(&self, group: &[RidgeProblem<'_>]) -> Result<Vec<Solution>> {
        let f = QrFactor::new(self.name(), &group[0])?;
        if f.too_ill_conditioned() {
            return Err(Error::IllConditioned {
                solver: self.name().into(),
                condition: f.condition,
                min_digits: condition::MIN_DIGITS,
            });
        }
        let w = f.solve_lstsq(scaled_centred_targets(group).as_ref());
        Ok(group
            .iter()
            .enumerate()
            .map(|(c, p)| {
                let w = w.col(c).to_owned();
                let b = p.optimal_intercept(w.as_ref());
                Solution::direct(w, b, Some(f.condition))
            })
            .collect())
    }
}

/// The targets S^½·yc of problems sharing X, as the columns of an n × g matrix.
pub(crate) fn scaled_centred_targets(group: &[RidgeProblem<'_>]) -> Mat<f64> {
    let n = group.first().map_or(0, |p| p.n_samples());
    let mut m = Mat::zeros(n, group.len());
    for (c, p) in group.iter().enumerate() {
        m.col_mut(c).copy_from(p.scaled_centred_y());
    }
    m
}

impl Solver for Qr {
    fn name(&self) -> &'static str {
        "qr"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_design_that_is_rank_deficient_up_to_rounding() {
        // xⱼ = 3 + cⱼ·tᵢ is rank 1 once centred, up to the rounding of 3 + cⱼ·tᵢ (ε·3 against a
        // spread of 0.01): R₂₂ is a few hundred ε relative, above the exact-singularity threshold.
        // Solving would return coefficients of 10¹²; the condition rule refuses instead.
        let x = Mat::from_fn(17, 2, |i, j| {
            3.0 + [0.01, 0.023][j] * (1.0 + i as f64 * 0.37).sin()
        });
        let y = Col::from_fn(17, |i| x[(i, 0)] + 0.1 * (i % 2) as f64);
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let err = Qr.solve(&p).unwrap_err();
        assert!(matches!(err, Error::IllConditioned { .. }), "{err}");
        // A penalty makes it well posed again.
        let fit = Qr.solve(&p.with_lambda(1e-6).unwrap()).unwrap();
        assert!(fit.coef.norm_l2() < 1e3, "{:?}", fit.coef);
    }
}
