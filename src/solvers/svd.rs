//! `svd`: the ridge solution as a filter on singular values, computed from the thin SVD of the
//! centred, weight-scaled design Xs = S^½·Xc after exact column equilibration.
//!
//! **Stage 1.** Each column of Xs is multiplied by the power of two D_jj nearest to 1/‖Xs e_j‖
//! (exact in floating point, `crate::moments::pow2_inverse_sqrt`), and the equilibrated design
//! B = Xs·D is factored, B = U·Σ·Vᵀ. Factoring B rather than Xs matters: the SVD's backward error
//! is ε·‖B‖ in norm, and on a design whose columns span many orders of magnitude (a polynomial
//! basis: NIST Filip's x¹⁰ column is 10⁹ times x's) a normwise error of ε·‖Xs‖ wipes out the small
//! columns, while ε·‖B‖ is ε relative to each column. When n ≥ d, B is not formed: the
//! tall-skinny QR of [Xs | Ys] (`crate::tsqr`), streamed over X in blocks of rows, gives
//! Xs = Q·R, and the SVD of R·D (d × d) is that of B with U = Q·U_R; only Uᵀ·Ys = U_Rᵀ·(QᵀYs) is
//! needed, and QᵀYs comes out of the same QR. The QR's backward error is column-wise small too.
//!
//! **Cut-off (numerical rank).** Singular values σᵢ ≤ rcond·σ₁ *of B* are treated as zero;
//! rcond = max(n, d)·ε by default, the default of `numpy.linalg.lstsq` since numpy 1.14. numpy
//! applies it to the unscaled matrix, which makes the rank depend on the units of each feature: on
//! NIST Filip the unscaled design has a singular value below the cut-off although the equilibrated
//! design has κ ≈ 2·10⁷, so `lstsq` drops a direction and gets 0 digits right. Applied to B the
//! rank does not depend on units. Dropping σᵢ ≤ rcond·σ₁ perturbs B by at most rcond·σ₁ ≤
//! rcond·√d, each column of Xs by about rcond relative to its norm: a backward-stable change of
//! the data.
//!
//! **λ = 0, full rank (r = d):** w = D·V·Σ⁻¹·Uᵀ·ys, as accurate as Householder QR of B.
//!
//! **Stage 2, for λ > 0 and for rank deficiency.** Xs = U·G with G = Σ·Vᵀ·D⁻¹ (r × d, after the
//! cut-off), so the SVD of the small matrix G = P·Θ·Zᵀ gives the SVD of the design itself,
//! Xs = (U·P)·Θ·Zᵀ, and
//!
//! ```text
//! w(λ) = Z · diag(θᵢ / (θᵢ² + S·λ)) · Pᵀ·Uᵀ·ys
//! ```
//!
//! at O(d·r) per λ ([`SvdFactorization::coefficients`]): the basis of λ paths, GCV and leave-one-out.
//! At λ = 0 with r < d this is G⁺·Uᵀys, the **minimum-norm** least-squares solution **in the
//! original coordinates** w (the one `numpy.linalg.lstsq` returns, and the limit λ → 0 of ridge),
//! not the minimum-norm solution in the equilibrated coordinates v = D⁻¹w, which would weight
//! features by their units. Stage 2's SVD is normwise accurate in G, so for tiny λ > 0 on badly
//! scaled data it is less accurate than stage 1 (on Filip ≈ 6 digits against 7.5 at λ = 0);
//! `qr` is the accurate choice for one λ.
//!
//! Cost ≈ 2·n·d² (the QR) + O(d³) (the two SVDs) when n ≥ d, with no n × d copy of X; otherwise
//! an n × d copy and ≈ 4·n²·d + O(n³).
//!
//! A file streamed in row blocks gives the same R (`crate::triangle`: each block centred by its
//! own two-part mean and the triangles merged exactly), from which
//! `SvdFactorization::from_triangle` runs both stages unchanged (`crate::stream`).

use std::time::Instant;

use faer::reborrow::ReborrowMut;
use faer::{Col, Mat, MatRef};

use crate::error::{Error, Result};
use crate::fit::{Fit, Solution};
use crate::linalg::dot;
use crate::moments::pow2_inverse_norm;
use crate::multi::{MultiRidgeProblem, assemble};
use crate::options::SolverOptions;
use crate::problem::RidgeProblem;
use crate::solvers::qr::scaled_centred_targets;
use crate::solvers::{Solver, timed};
use crate::tsqr::triangular_factor;

/// Thin SVD of the equilibrated, centred design; minimum-norm solution at λ = 0.
#[derive(Debug, Clone, Copy, Default)]
pub struct Svd {
    rcond: Option<f64>,
}

impl Svd {
    /// Builds from user options (`rcond`).
    pub fn from_options(options: &SolverOptions) -> Result<Self> {
        match options.rcond {
            Some(r) => Self::with_rcond(r),
            None => Ok(Self::default()),
        }
    }

    /// The cut-off given (`None`: the default max(n, d)·ε).
    #[cfg(any(feature = "npy", feature = "csv"))]
    pub(crate) fn rcond(&self) -> Option<f64> {
        self.rcond
    }

    /// Treats singular values σᵢ ≤ rcond·σ₁ of the column-equilibrated design as zero (default
    /// max(n, d)·ε; see the [module docs](self)).
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

/// Everything needed to solve for any λ: the SVD of the equilibrated design (stage 1) and of the
/// design itself (stage 2), with the projections of S^½·yc precomputed. See the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct SvdFactorization {
    /// Singular values σ₁ ≥ … ≥ σᵣ of the equilibrated design B = S^½·Xc·D kept by the cut-off.
    pub singular_values: Col<f64>,
    /// Singular values θ₁ ≥ … ≥ θᵣ of the design S^½·Xc itself (after the cut-off).
    pub design_singular_values: Col<f64>,
    /// D, the exact power-of-two column scaling.
    scale: Col<f64>,
    /// V of B, the r kept right singular vectors (d × r).
    v: Mat<f64>,
    /// Uᵀ·Ys (r × k, one column per target).
    uty: Mat<f64>,
    /// Z, the right singular vectors of the design (d × r).
    z: Mat<f64>,
    /// Pᵀ·Uᵀ·Ys (r × k).
    pty: Mat<f64>,
    weight_sum: f64,
    x_mean: Col<f64>,
    /// ȳ of each target.
    y_mean: Col<f64>,
    intercept: bool,
}

impl SvdFactorization {
    /// Factors the problem's centred, weight-scaled design (streamed when n ≥ d, an n × d copy otherwise) with the
    /// cut-off `rcond` (default max(n, d)·ε).
    pub fn new(problem: &RidgeProblem<'_>, rcond: Option<f64>) -> Result<Self> {
        Self::of_targets(std::slice::from_ref(problem), rcond)
    }

    /// One factorisation for several targets: problems that share X, the weights and the
    /// intercept setting (their λ and y may differ); [`SvdFactorization::target_coefficients`]
    /// then solves target t (the index in `targets`) for any λ.
    pub fn of_targets(targets: &[RidgeProblem<'_>], rcond: Option<f64>) -> Result<Self> {
        let problem = targets.first().ok_or_else(|| Error::Empty {
            what: "no targets to factor for".into(),
        })?;
        let (n, d) = (problem.n_samples(), problem.n_features());
        let ys = scaled_centred_targets(targets);
        let means = residual_means(problem);
        // B and the right-hand sides it is solved for: when n ≥ d, the SVD of R (d × d) from a
        // tall-skinny QR of [S^½·Xc | S^½·Yc] streamed in row blocks, with Uᵀ·Ys = U_Rᵀ·(QᵀYs)
        // (no n × d copy, and 2·n·d² flops instead of the SVD's ≈ 4·n·d²); otherwise the n × d
        // copy itself. Either way the SVD's backward error is column-wise small, as the QR's is.
        let (b, rhs) = if n >= d {
            let k = ys.ncols();
            let root: Vec<f64> = (0..n).map(|i| problem.weight(i).sqrt()).collect();
            let r = triangular_factor(
                n,
                d + k,
                None,
                |first, mut out| {
                    let len = out.nrows();
                    let mut x = out.rb_mut().subcols_mut(0, d);
                    problem.write_scaled_centred_rows(first, x.rb_mut());
                    subtract_means(x, &root[first..first + len], means.as_ref());
                    out.subcols_mut(d, k)
                        .copy_from(ys.as_ref().subrows(first, len));
                },
                problem.par(),
            );
            (
                r.as_ref().submatrix(0, 0, d, d).to_owned(),
                r.as_ref().submatrix(0, d, d, k).to_owned(),
            )
        } else {
            let mut b = Mat::zeros(n, d);
            problem.write_scaled_centred_x(b.as_mut());
            let root: Vec<f64> = (0..n).map(|i| problem.weight(i).sqrt()).collect();
            subtract_means(b.as_mut(), &root, means.as_ref());
            (b, ys)
        };
        Ok(Self {
            weight_sum: problem.weight_sum(),
            x_mean: problem.x_mean().to_owned(),
            y_mean: Col::from_fn(targets.len(), |t| targets[t].y_mean()),
            intercept: problem.fit_intercept(),
            ..Self::factor(b, rhs, n, rcond)?
        })
    }

    /// The factorisation from a stream's triangle ([`crate::triangle::CentredTriangle`]): `r`
    /// is R ((d + k)², upper triangular) of [S^½·Xc, S^½·Yc] over n rows whose statistics are
    /// `moments`. The SVD of R₁₁·D is that of the equilibrated design (Xs = Q·R₁₁) and
    /// Uᵀ·Ys = U_Rᵀ·R₁₂, exactly as in memory when n ≥ d (and for n < d too: only RᵀR, the
    /// Gram matrix of the data, enters the solution).
    #[cfg(any(feature = "npy", feature = "csv"))]
    pub(crate) fn from_triangle(
        r: MatRef<'_, f64>,
        n: usize,
        rcond: Option<f64>,
        moments: &crate::moments::Moments,
    ) -> Result<Self> {
        let (d, k) = (moments.n_features(), moments.n_targets());
        let b = r.submatrix(0, 0, d, d).to_owned();
        let rhs = r.submatrix(0, d, d, k).to_owned();
        Ok(Self {
            weight_sum: moments.weight_sum(),
            x_mean: moments.x_mean().to_owned(),
            y_mean: moments.y_mean().to_owned(),
            intercept: moments.centred(),
            ..Self::factor(b, rhs, n, rcond)?
        })
    }

    /// Stages 1 and 2 of the [module docs](self) on B = `b` (the design S^½·Xc, or its R) for
    /// the right-hand sides `rhs` (Ys, or R₁₂), n rows; the centring (S, x̄, ȳ, intercept) is
    /// left for the caller to fill in.
    fn factor(mut b: Mat<f64>, rhs: Mat<f64>, n: usize, rcond: Option<f64>) -> Result<Self> {
        let d = b.ncols();
        let scale = Col::from_fn(d, |j| pow2_inverse_norm(b.col(j)));
        for j in 0..d {
            b.col_mut(j).iter_mut().for_each(|v| *v *= scale[j]);
        }
        let svd = thin_svd(b.as_ref())?;
        let s = svd.S().column_vector();
        let top = if s.nrows() > 0 { s[0] } else { 0.0 };
        let cutoff = rcond.unwrap_or(n.max(d) as f64 * f64::EPSILON) * top;
        let r = s.iter().take_while(|&&v| v > cutoff).count();
        // Plain sequential dot products rather than a matrix product: the same rounding on every
        // machine (a GEMM kernel's summation order depends on the SIMD width).
        let u = svd.U();
        let uty = Mat::from_fn(r, rhs.ncols(), |i, t| dot(u.col(i), rhs.col(t)));
        let v = svd.V().subcols(0, r).to_owned();
        // Stage 2: G = Σ·Vᵀ·D⁻¹ (r × d) = P·Θ·Zᵀ.
        let g = Mat::from_fn(r, d, |i, j| s[i] * v[(j, i)] / scale[j]);
        let (theta, z, pty) = if r == 0 {
            (Col::zeros(0), Mat::zeros(d, 0), Mat::zeros(0, rhs.ncols()))
        } else {
            let g_svd = thin_svd(g.transpose())?; // Gᵀ = Z·Θ·Pᵀ (d × r, tall)
            let p = g_svd.V();
            let pty = Mat::from_fn(r, uty.ncols(), |i, t| dot(p.col(i), uty.col(t)));
            (
                g_svd.S().column_vector().to_owned(),
                g_svd.U().to_owned(),
                pty,
            )
        };
        Ok(Self {
            singular_values: Col::from_fn(r, |i| s[i]),
            design_singular_values: theta,
            scale,
            v,
            uty,
            z,
            pty,
            weight_sum: 0.0,
            x_mean: Col::zeros(d),
            y_mean: Col::zeros(rhs.ncols()),
            intercept: false,
        })
    }

    /// The numerical rank r: the number of singular values of the equilibrated design above the
    /// cut-off. r < d means that at λ = 0 the solution is the minimum-norm one.
    pub fn rank(&self) -> usize {
        self.singular_values.nrows()
    }

    /// Coefficients and intercept at penalty λ ≥ 0, in O(d·r) (the first target's).
    pub fn coefficients(&self, lambda: f64) -> (Col<f64>, f64) {
        self.target_coefficients(0, lambda)
    }

    /// Coefficients and intercept of target t at penalty λ ≥ 0, in O(d·r).
    pub fn target_coefficients(&self, tt: usize, lambda: f64) -> (Col<f64>, f64) {
        let d = self.scale.nrows();
        let w = if lambda == 0.0 && self.rank() == d {
            // Stage 1: w = D·V·Σ⁻¹·Uᵀys.
            let z = Col::from_fn(d, |i| self.uty[(i, tt)] / self.singular_values[i]);
            let v = &self.v * &z;
            Col::from_fn(d, |j| self.scale[j] * v[j])
        } else {
            let shift = self.weight_sum * lambda;
            let filtered = Col::from_fn(self.rank(), |i| {
                let t = self.design_singular_values[i];
                // θ > 0 in exact arithmetic (G has full row rank); a θ that underflowed to 0
                // carries no information and is dropped like a singular value under the cut-off.
                if t > 0.0 {
                    t / (t * t + shift) * self.pty[(i, tt)]
                } else {
                    0.0
                }
            });
            &self.z * &filtered
        };
        let b = if self.intercept {
            self.y_mean[tt] - dot(self.x_mean.as_ref(), w.as_ref())
        } else {
            0.0
        };
        (w, b)
    }

    /// The condition number of the matrix the λ solution inverts: at λ = 0 with full rank
    /// κ(B) = σ₁/σ_d of the equilibrated design (comparable with `qr`'s estimate); otherwise
    /// ((θ₁² + Sλ)/(θᵣ² + Sλ))^½, the κ of the augmented design [S^½Xc; √(Sλ)·I] restricted to
    /// the kept subspace.
    pub fn condition(&self, lambda: f64) -> f64 {
        let d = self.scale.nrows();
        let (sv, shift) = if lambda == 0.0 && self.rank() == d {
            (&self.singular_values, 0.0)
        } else {
            (&self.design_singular_values, self.weight_sum * lambda)
        };
        match (sv.iter().next(), sv.iter().last()) {
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

/// The weighted means mⱼ = Σᵢ √sᵢ·cᵢⱼ / S that remain in the columns of C = S^½·Xc after
/// rounding (zero without an intercept), for a second centring pass cᵢⱼ ← cᵢⱼ − √sᵢ·mⱼ
/// ([`subtract_means`]).
///
/// Why: x̄ⱼ is rounded to f64, and the error δⱼ ≈ ε·|x̄ⱼ| of the mean is a multiple of the vector
/// √s that no other centred column contains; after equilibration it is a direction of size
/// ε·|x̄ⱼ|/rms(xⱼ − x̄ⱼ) in the column space. A column with a large offset and a small spread
/// (|x̄ⱼ| = 3, spread 0.01) turns it into a singular value of 300·ε, above the rank cut-off, and an
/// exactly rank-deficient design looks full rank. After this pass the remaining mean is the
/// rounding of the centred values themselves, ε relative to the column. The intercept is still
/// ȳ − x̄ᵀw: the shift mⱼ changes it by mᵀw, at the rounding level of that formula.
pub(crate) fn residual_means(problem: &RidgeProblem<'_>) -> Col<f64> {
    let (n, d) = (problem.n_samples(), problem.n_features());
    if !problem.fit_intercept() {
        return Col::zeros(d);
    }
    let root: Vec<f64> = (0..n).map(|i| problem.weight(i).sqrt()).collect();
    let mut column = Mat::zeros(n, 1);
    Col::from_fn(d, |j| {
        // Column by column, with the same arithmetic as `write_scaled_centred_rows`.
        problem.write_scaled_centred_columns(j, column.as_mut());
        (0..n).map(|i| root[i] * column[(i, 0)]).sum::<f64>() / problem.weight_sum()
    })
}

/// cᵢⱼ ← cᵢⱼ − rootᵢ·mⱼ on a block of rows of S^½·Xc (rootᵢ = √sᵢ of those rows).
pub(crate) fn subtract_means(
    mut c: faer::MatMut<'_, f64>,
    root: &[f64],
    means: faer::ColRef<'_, f64>,
) {
    for j in 0..c.ncols() {
        let m = means[j];
        if m != 0.0 {
            let mut col = c.rb_mut().col_mut(j);
            root.iter().enumerate().for_each(|(i, r)| col[i] -= r * m);
        }
    }
}

/// faer's thin SVD, its (rare) failure to converge mapped to a numerical error.
fn thin_svd(m: MatRef<'_, f64>) -> Result<faer::linalg::solvers::Svd<f64>> {
    faer::linalg::solvers::Svd::new_thin(m).map_err(|e| Error::Numerical {
        solver: "svd".into(),
        detail: format!("the SVD did not converge ({e:?}); try `qr`"),
    })
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

    fn solve_targets(&self, problem: &MultiRidgeProblem<'_>) -> Result<Vec<Fit>> {
        let start = Instant::now();
        let targets: Vec<_> = (0..problem.n_targets())
            .map(|t| problem.target(t))
            .collect();
        let f = SvdFactorization::of_targets(&targets, self.rcond)?;
        let solutions = targets
            .iter()
            .enumerate()
            .map(|(t, p)| {
                let (w, b) = f.target_coefficients(t, p.lambda());
                Solution::direct(w, b, Some(f.condition(p.lambda())))
            })
            .collect();
        assemble(problem, self.name(), start, solutions)
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
    fn min_norm_is_taken_in_the_original_coordinates() {
        // Third column = 10⁶ × the first: equilibration gives both the same scaled column, but the
        // minimum-norm w must put almost all the weight on the large column.
        let (x, y) = testing::small();
        let c = 1e6;
        let wide = Mat::from_fn(x.nrows(), 3, |i, j| match j {
            2 => c * x[(i, 0)],
            _ => x[(i, j)],
        });
        let p = RidgeProblem::builder(wide.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let f = SvdFactorization::new(&p, None).unwrap();
        assert_eq!(f.rank(), 2);
        let (w, b) = f.coefficients(0.0);
        let reduced = x.subcols(0, 2).to_owned();
        let q = RidgeProblem::builder(reduced.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let r = Qr.solve(&q).unwrap();
        // w₀ + c·w₂ = a with ‖(w₀, w₂)‖ minimal: (w₀, w₂) = a·(1, c)/(1 + c²).
        let a = r.coef[0];
        let expected = faer::col![a / (1.0 + c * c), r.coef[1], a * c / (1.0 + c * c)];
        let err = (&w - &expected).norm_l2() / expected.norm_l2();
        assert!(err < 1e-9, "{w:?} vs {expected:?}");
        assert!((b - r.intercept).abs() < 1e-9 * r.intercept.abs());
    }

    #[test]
    fn offsets_do_not_hide_an_exact_rank_deficiency() {
        // x₁ = 10⁶ + t and x₂ = 10⁶ + 4t: exactly rank 1 once centred, but the f64 means
        // 10⁶ + 6/7 and 10⁶ + 24/7 are rounded independently (by up to 6·10⁻¹¹), which without the
        // second centring pass leaves a singular value 10⁻¹⁰ relative, far above the cut-off.
        let t = |i: usize| (i % 3) as f64;
        let x = Mat::from_fn(7, 2, |i, j| 1e6 + (3 * j + 1) as f64 * t(i));
        let y = Col::from_fn(7, |i| 0.5 + 3.0 * t(i) + if i == 4 { 0.25 } else { 0.0 });
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let f = SvdFactorization::new(&p, None).unwrap();
        assert_eq!(f.rank(), 1, "{:?}", f.singular_values);
        // y ≈ c + a·t with a from the fit on t alone; min-norm split of a·t = w₁x₁ + w₂x₂ (up to
        // constants) with w₁ + 4w₂ = a is a·(1, 4)/17.
        let tt = Mat::from_fn(7, 1, |i, _| t(i));
        let q = RidgeProblem::builder(tt.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let a = Qr.solve(&q).unwrap().coef[0];
        let (w, _) = f.coefficients(0.0);
        // The centred values carry the rounding of the 10⁶ offsets: ε·10⁶ against a spread of 1.
        let expected = faer::col![a / 17.0, 4.0 * a / 17.0];
        assert!(
            (&w - &expected).norm_l2() < 1e-8 * expected.norm_l2(),
            "{w:?} vs {expected:?}"
        );
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
