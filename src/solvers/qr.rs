//! `qr`: Householder QR of the augmented, centred, weight-scaled least-squares system
//!
//! ```text
//! minimise ‖ [ S^½·Xc ] w − [ S^½·yc ] ‖²
//!          ‖ [ √(Sλ)·I ]     [   0    ] ‖
//! ```
//!
//! whose normal equations are exactly (XcᵀSXc + SλI)w = XcᵀSyc. Working on the matrix itself,
//! not on its Gram matrix, the error grows with κ(Xc) rather than κ(Xc)²: this is the crate's
//! reference solution. The factorisation streams X in blocks of rows (`crate::tsqr`): it holds
//! no copy of X, only one (d + c) × d block per thread, and costs about 2·n·d²·(1 + 2d/3c)
//! flops for blocks of c ≈ 8d rows. A
//! design whose κ leaves fewer than `condition::MIN_DIGITS` digits is an `IllConditioned`
//! error (numerically rank-deficient designs at λ = 0 mostly land here rather than at an exactly
//! zero pivot): `svd` gives the minimum-norm solution then, `qr-refined` may still converge.
//! [`Refined::qr`](crate::solvers::Refined::qr) adds iterative refinement in extended precision (`crate::refine`).
//!
//! The solve needs R of the data and nothing else: `QrFactor::from_data_triangle` runs the
//! same solve (ridge rows stacked first, the same equilibration, threshold and condition
//! estimate) from the triangle of a file streamed in row blocks (`crate::stream`,
//! `crate::triangle`), where ‖S^½(Xc·w − yc)‖² = ‖R₁₁w − R₁₂‖² + ‖R₂₂‖².

use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::reborrow::ReborrowMut;
use faer::{Col, Mat, MatRef, Par};

use crate::condition;
use crate::error::{Error, Result};
use crate::fit::{Fit, Solution};
use crate::moments::pow2_inverse_norm;
use crate::multi::{MultiRidgeProblem, per_group};
use crate::problem::RidgeProblem;
use crate::solvers::{Solver, timed};
use crate::tsqr::triangular_factor;

/// Householder QR of the augmented system: the accuracy reference.
#[derive(Debug, Clone, Copy, Default)]
pub struct Qr;

/// The triangular factor of the augmented system of problems that share X, weights and λ,
/// with their targets appended as extra columns: the tall-skinny QR ([`crate::tsqr`]) of
///
/// ```text
/// [ S^½·Xc    S^½·Yc ]
/// [ √(Sλ)·I   0      ]   = Q · [ R  Qᵀy ]  (first d rows)
/// ```
///
/// computed from blocks of rows, so no copy of X is made.
pub(crate) struct QrFactor {
    /// R (d × d, upper triangular) of the augmented design.
    r: Mat<f64>,
    /// The first d entries of Qᵀ·[0; S^½·yc] for each target (d × k).
    qty: Mat<f64>,
    /// D, exact powers of two with ‖R·D·eⱼ‖ = ‖[√(Sλ)·I; S^½·Xc]·D·eⱼ‖ within √2 of 1: the column
    /// equilibration that makes the rank threshold and the condition estimate independent of
    /// units. (Householder QR commutes exactly with power-of-two column scaling, so R·D is the
    /// factor of the equilibrated matrix itself.)
    pub scale: Col<f64>,
    par: Par,
    /// max|RᵢᵢDᵢ| / min|RᵢᵢDᵢ|, a lower bound on κ₂ of the equilibrated augmented matrix (within a
    /// small factor in practice).
    pub condition: f64,
}

impl QrFactor {
    /// Factors the augmented system of `group` (problems sharing X, weights and λ; at least one);
    /// `Singular` when R·D has a diagonal entry below max(n + d, d)·ε·max|RᵢᵢDᵢ| (λ = 0 with
    /// dependent columns).
    pub fn new(solver: &str, group: &[RidgeProblem<'_>]) -> Result<Self> {
        let problem = group.first().ok_or_else(|| Error::Empty {
            what: "no targets to factor for".into(),
        })?;
        let (n, d, k) = (problem.n_samples(), problem.n_features(), group.len());
        let lambda = problem.lambda();
        let rows = augmented_rows(solver, n, d, lambda)?;
        let ridge_rows = ridge_rows(d, k, problem.weight_sum(), lambda);
        let ys = scaled_centred_targets(group);
        let full = triangular_factor(
            n,
            d + k,
            ridge_rows.as_ref().map(|p| p.as_ref()),
            |first, mut out| {
                let len = out.nrows();
                problem.write_scaled_centred_rows(first, out.rb_mut().subcols_mut(0, d));
                out.subcols_mut(d, k)
                    .copy_from(ys.as_ref().subrows(first, len));
            },
            problem.par(),
        );
        Self::from_augmented(solver, full, d, rows, problem.par())
    }

    /// The same factor from R of the data alone: `data` is the (d + k) × (d + k) triangular
    /// factor of [S^½·Xc, S^½·Yc] for n rows of total weight S (in any row order: a stream's
    /// [`crate::triangle::CentredTriangle`]). R₁₁w ≈ R₁₂ is the least-squares system of the
    /// data up to a constant, ‖S^½(Xc·w − yc)‖² = ‖R₁₁w − R₁₂‖² + ‖R₂₂‖², so the ridge system
    /// is [√(Sλ)·I; R₁₁]·w ≈ [0; R₁₂], factored here with the ridge rows first as in
    /// [`QrFactor::new`]; the equilibration, threshold and condition estimate are the same.
    #[cfg(any(feature = "npy", feature = "csv"))]
    pub(crate) fn from_data_triangle(
        solver: &str,
        data: MatRef<'_, f64>,
        d: usize,
        (n, weight_sum): (usize, f64),
        lambda: f64,
        par: Par,
    ) -> Result<Self> {
        let rows = augmented_rows(solver, n, d, lambda)?;
        let m = data.ncols();
        let full = match ridge_rows(d, m - d, weight_sum, lambda) {
            Some(p) => crate::tsqr::factor_stacked(&[p.as_ref(), data], m),
            None => data.to_owned(),
        };
        Self::from_augmented(solver, full, d, rows, par)
    }

    /// From R ((d + k)², upper triangular) of the augmented system with its targets, which has
    /// `rows` rows (n, plus d ridge rows when λ > 0): the equilibration D, the singularity test
    /// against `rows`·ε and the condition estimate.
    fn from_augmented(
        solver: &str,
        full: Mat<f64>,
        d: usize,
        rows: usize,
        par: Par,
    ) -> Result<Self> {
        let k = full.ncols() - d;
        let r = full.as_ref().submatrix(0, 0, d, d).to_owned();
        let scale = Col::from_fn(d, |j| pow2_inverse_norm(r.col(j)));
        let diag: Vec<f64> = (0..d).map(|j| (r[(j, j)] * scale[j]).abs()).collect();
        let max_r = diag.iter().copied().fold(0.0, f64::max);
        let min_r = diag.iter().copied().fold(f64::INFINITY, f64::min);
        let threshold = rows.max(d) as f64 * f64::EPSILON * max_r;
        if min_r <= threshold {
            return Err(Error::Singular {
                solver: solver.into(),
                detail: format!(
                    "smallest |Rᵢᵢ| {min_r:.3e} ≤ max(n, d)·ε·max |Rᵢᵢ| = {threshold:.3e}"
                ),
            });
        }
        Ok(Self {
            qty: full.as_ref().submatrix(0, d, d, k).to_owned(),
            r,
            scale,
            par,
            condition: max_r / min_r,
        })
    }

    /// The coefficients W (d × k) of the targets ([`QrFactor::coefficients`]), or
    /// `IllConditioned` when the factor cannot promise [`condition::MIN_DIGITS`] digits
    /// ([`QrFactor::too_ill_conditioned`]): the solve of `qr`, in memory and streamed.
    pub(crate) fn checked_coefficients(&self, solver: &str) -> Result<Mat<f64>> {
        if self.too_ill_conditioned() {
            return Err(Error::IllConditioned {
                solver: solver.into(),
                condition: self.condition,
                min_digits: condition::MIN_DIGITS,
            });
        }
        Ok(self.coefficients())
    }

    /// Whether the factor cannot promise [`condition::MIN_DIGITS`] correct digits: the error of
    /// a QR least-squares solve grows like κ·ε, and by van der Sluis's theorem the equilibrated
    /// matrix's κ is at most √d times the smallest κ any column scaling achieves, so the refusal
    /// is judged on [`QrFactor::condition`]/√d (a lower bound on that best κ, up to the gap
    /// between max|Rᵢᵢ|/min|Rᵢᵢ| and κ₂(R)). On NIST Filip the ratio is 1.9·10⁷: far from it.
    pub fn too_ill_conditioned(&self) -> bool {
        condition::too_ill_conditioned(self.condition / (self.r.nrows() as f64).sqrt())
    }

    /// The coefficients W (d × k) of the group's targets: the least-squares solutions
    /// R·W = Qᵀy of the augmented systems.
    pub fn coefficients(&self) -> Mat<f64> {
        let mut w = self.qty.clone();
        solve_upper_triangular_in_place(self.r.as_ref(), w.as_mut(), self.par);
        w
    }

    /// Solves (XcᵀSXc + SλI)·Δ = B (d × k) through RᵀR = XcᵀSXc + SλI: Δ = R⁻¹R⁻ᵀ·B. Used for
    /// refinement corrections, where R's backward stability makes each step contract the error
    /// by about κ·ε (see [`crate::refine`]).
    pub fn solve_normal(&self, rhs: MatRef<'_, f64>) -> Mat<f64> {
        let mut z = rhs.to_owned();
        solve_lower_triangular_in_place(self.r.transpose(), z.as_mut(), self.par);
        solve_upper_triangular_in_place(self.r.as_ref(), z.as_mut(), self.par);
        z
    }
}

impl Qr {
    /// Solves problems that share X, weights and λ (targets of one λ group) with one
    /// factorisation.
    fn solve_group(&self, group: &[RidgeProblem<'_>]) -> Result<Vec<Solution>> {
        let f = QrFactor::new(self.name(), group)?;
        let w = f.checked_coefficients(self.name())?;
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

/// The rows of the augmented system, n + d when λ > 0 (the ridge rows) and n otherwise; with
/// fewer rows than features (λ = 0, n < d) the system is `Singular`.
fn augmented_rows(solver: &str, n: usize, d: usize, lambda: f64) -> Result<usize> {
    let extra = if lambda > 0.0 { d } else { 0 };
    if n + extra < d {
        return Err(Error::Singular {
            solver: solver.into(),
            detail: format!("λ = 0 with fewer samples ({n}) than features ({d})"),
        });
    }
    Ok(n + extra)
}

/// The ridge rows [√(Sλ)·I, 0] of the augmented system with k target columns, as an upper
/// triangular (d + k)² block (`None` at λ = 0).
fn ridge_rows(d: usize, k: usize, weight_sum: f64, lambda: f64) -> Option<Mat<f64>> {
    let shift = (weight_sum * lambda).sqrt();
    (lambda > 0.0).then(|| {
        Mat::from_fn(
            d + k,
            d + k,
            |i, j| if i == j && i < d { shift } else { 0.0 },
        )
    })
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
    use crate::solvers::Refined;

    #[test]
    fn columns_scaled_by_1e200_and_1e_minus_200_are_solved_not_refused() {
        // ‖column‖² overflows (1e400) or underflows (1e-400): the power-of-two equilibration is
        // computed without squaring, so the rank test sees three well-scaled columns (it refused
        // before). The centred design is Z·diag(1e200, 1, 1e-200), so the answer is that of Z
        // scaled back: w = (v₀·1e-200, v₁, v₂·1e200).
        let (z, y) = crate::solvers::testing::small();
        let scales = [1e200, 1.0, 1e-200];
        let x = Mat::from_fn(z.nrows(), 3, |i, j| z[(i, j)] * scales[j]);
        let unscaled = RidgeProblem::builder(z.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let v = Refined::qr().solve(&unscaled).unwrap();
        let expected = Col::from_fn(3, |j| v.coef[j] / scales[j]);
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        // Refined (and so `auto`), every coefficient to the data's accuracy.
        for fit in [
            Refined::qr().solve(&p).unwrap(),
            crate::solvers::Auto.solve(&p).unwrap(),
        ] {
            for j in 0..3 {
                let err = (fit.coef[j] - expected[j]).abs() / expected[j].abs();
                assert!(
                    err < 1e-10,
                    "{}: w{j} = {:e}, expected {:e}",
                    fit.solver,
                    fit.coef[j],
                    expected[j]
                );
            }
        }
        // Plain qr: backward stable normwise, so its error is small against ‖w‖ ≈ 1e200 but not
        // in the coefficient of the 1e200 column (measured ≈ 8 %): use `qr-refined` for such data.
        let fit = Qr.solve(&p).unwrap();
        assert!(fit.relative_error(expected.as_ref()) < 1e-12);
    }

    #[test]
    fn a_penalty_that_dwarfs_the_data_keeps_every_digit() {
        // √(Sλ) ≫ ‖S^½Xc‖: with the ridge rows below the data, Householder's backward error
        // ε·√(Sλ) swamped the data (relative error 7e-9 at λ = 1e16, 0.37 at 1e30, w = 0 from
        // 1e40); with them first it is row-wise stable. The Gram system is perfectly
        // conditioned there, so `cholesky` is an accurate reference.
        let (x, y) = crate::solvers::testing::small();
        for lambda in [1e8, 1e16, 1e30, 1e40, 1e100] {
            let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
                .lambda(lambda)
                .build()
                .unwrap();
            let reference = crate::solvers::Cholesky.solve(&p).unwrap();
            let fit = Qr.solve(&p).unwrap();
            assert!(fit.coef.norm_l2() > 0.0, "λ = {lambda:e}: w = 0");
            let err = fit.relative_error(reference.coef.as_ref());
            assert!(err < 1e-13, "λ = {lambda:e}: {err:e}");
        }
    }

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
