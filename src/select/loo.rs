//! Exact leave-one-out cross-validation and GCV for ridge, for any number of λ, from one
//! decomposition of the centred, weighted design (see the parent module for the conventions).
//!
//! # The identity
//!
//! Leaving sample i out, the fit minimises (in the summed form, J times the remaining weight)
//!
//! ```text
//! Σ_{j≠i} sⱼ(yⱼ − xⱼᵀw − b)² + αᵢ‖w‖²,    αᵢ = (S − sᵢ)·λ   (LooConvention::SameLambda, ours)
//!                                          αᵢ = S·λ          (LooConvention::SameAlpha, RidgeCV's)
//! ```
//!
//! With the intercept as an unpenalised column, A = [X 1], θ = (w, b), Ω = diag(I, 0) and
//! M(α) = AᵀWA + αΩ, the fit on *all* samples at penalty α has residuals r(α) = y − A·M⁻¹AᵀWy and
//! hat matrix H(α) = A·M⁻¹·AᵀW with diagonal hᵢᵢ(α) = sᵢ·aᵢᵀM⁻¹aᵢ. Leaving sample i out changes M
//! by the rank-one sᵢ·aᵢaᵢᵀ, and Sherman–Morrison gives, for sᵢ > 0,
//!
//! ```text
//! eᵢ = yᵢ − aᵢᵀθ₋ᵢ = rᵢ(αᵢ) / (1 − hᵢᵢ(αᵢ)).
//! ```
//!
//! The left-out fit's own centring (its weighted means without sample i) needs no separate
//! treatment: the intercept is a free column of A, not a centring. Centring at the full-data mean
//! x̄ is only a change of variables, [X 1] = [Xc 1]·T with b' = b + x̄ᵀw (the penalty is
//! unchanged), and XcᵀW·1 = 0 makes M block diagonal, diag(XcᵀWXc + αI, S). With the thin SVD
//! S^½·Xc = U·Θ·Zᵀ (U is n × r), c = Uᵀ·S^½yc and q = S^½yc − U·c (the part of the target
//! outside the column space):
//!
//! ```text
//! hᵢᵢ(α)      = sᵢ/S + Σⱼ uᵢⱼ²·θⱼ²/(θⱼ² + α)
//! √sᵢ·rᵢ(α)   = qᵢ + Σⱼ uᵢⱼ·α/(θⱼ² + α)·cⱼ
//! 1 − hᵢᵢ(α)  = Σⱼ uᵢⱼ²·α/(θⱼ² + α) + pᵢ,      pᵢ = 1 − sᵢ/S − ‖uᵢ‖² ≥ 0
//! ```
//!
//! (without an intercept, drop sᵢ/S and the centring). The last line holds because [√s/√S, U]
//! has orthonormal columns, so pᵢ is the squared length of the part of eᵢ outside their span:
//! 1 − hᵢᵢ is a sum of non-negative terms, never 1 minus something. Each αᵢ costs O(r) per
//! sample, so the per-sample penalties of `SameLambda` cost no more than a fixed α.
//!
//! # Accuracy
//!
//! - The filter terms α/(θⱼ² + α) are computed as written, to a few ulps each, so as λ → 0 they
//!   vanish smoothly and nothing cancels: λ = 1e-14 and λ = 0 are as accurate as λ = 1.
//!   (scikit-learn's `gcv_mode="svd"` formed 1/α·(1 − …) and broke down for α ≤ 1e-14,
//!   scikit-learn#32459.) The residual is formed as √sᵢ·yc,ᵢ − Σⱼ uᵢⱼ·θⱼ²/(θⱼ² + α)·cⱼ, which
//!   equals the line above but does not cancel at large λ.
//! - pᵢ does not depend on λ and is computed once, by subtraction. U is S^½Xc times a d × r matrix
//!   from the triangular factor (below), orthonormal to O(ε·κ_B), κ_B the condition number of
//!   the column-equilibrated design; so pᵢ has an absolute error of about (r + 1)·ε·κ_B, as the
//!   leverages of any backward-stable method do. eᵢ then has a relative error of about
//!   (r + 1)·ε·κ_B / (1 − hᵢᵢ) plus that of rᵢ (the usual residual accuracy): full accuracy
//!   unless sample i nearly alone determines a direction of the fit.
//! - When the samples of positive weight are no more than r (+ 1 with an intercept), as with
//!   fewer samples than features, [√s, U] spans everything: p = 0 and q = 0 exactly, and are set
//!   so, and 1 − hᵢᵢ and rᵢ are both O(λ) sums with full relative accuracy, down to any λ > 0.
//! - When 1 − hᵢᵢ is not above the rounding level of its computation (at most (r + 1)·16·ε·κ_B;
//!   0 in the previous case), the left-out fit is not determined (sample i alone determines a
//!   direction, e.g. at λ = 0 with fewer samples than features) and the residual is refused with
//!   an [`Error::Numerical`] naming the sample and λ, never returned as NaN.
//!
//! A sample of weight 0 enters no fit: its LOO residual is the residual of the full fit at
//! α = S·λ (both conventions), computed from its row, and it counts in neither the mean nor the
//! standard error of the curve.
//!
//! # Decomposition and cost
//!
//! As `svd` ([`crate::solvers::svd`]): for n ≥ d the tall-skinny QR of [S^½Xc | S^½Yc], streamed
//! over X in row blocks (≈ 2n(d + k)² flops, no n × d copy), the SVD of its d × d triangle after
//! exact power-of-two column equilibration D (cut-off max(n, d)·ε·σ₁), and a second SVD that
//! undoes D (S^½Xc = U_B·G, G = P·Θ·Zᵀ). U = S^½Xc·(D·V·Σ⁻¹·P) is never stored: every pass
//! over the samples (a curve for all its λ at once, or residuals) recomputes it block by block
//! from X (2ndr flops), and ‖q‖² for GCV comes from the QR's triangle. For n < d, an n × d copy,
//! its thin SVD, and U stored (n × r ≤ n × n). Memory besides X for n ≥ d: S^½Yc (n × k), a
//! d × d decomposition, per-thread blocks; a curve keeps per-block sums, never the n × (k·L)
//! residuals (measured peak resident memory of `tikhonov cv --loo` on a 1 000 000 × 100 .npy,
//! 100 λ: 1.07 × X). Never n × n when n > d; per λ, O(n·r·k) flops.

use faer::linalg::matmul::matmul;
use faer::reborrow::ReborrowMut;
use faer::{Accum, Col, ColRef, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::linalg::dot;
use crate::moments::pow2_inverse_norm;
use crate::multi::MultiRidgeProblem;
use crate::problem::RidgeProblem;
use crate::select::CvCurve;
use crate::solvers::qr::scaled_centred_targets;
use crate::solvers::svd::{residual_means, subtract_means};
use crate::tsqr::triangular_factor;

/// Rows per block of the parallel per-sample passes: large enough to amortise a task, small
/// enough that a block of the n × d design (the U pass's scratch) stays in cache-sized memory.
const BLOCK_ROWS: usize = 1024;

/// Which penalty each left-out fit uses (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LooConvention {
    /// Each left-out fit minimises the crate's objective J on the remaining samples with the same
    /// λ, normalised by their own weight S − sᵢ: the summed-form penalty αᵢ = (S − sᵢ)·λ (the
    /// crate's convention, glmnet's).
    #[default]
    SameLambda,
    /// α = S·λ fixed for every left-out fit, i.e. λᵢ = λ·S/(S − sᵢ): scikit-learn's `RidgeCV`
    /// (whose `alphas` are these α), which this reproduces.
    SameAlpha,
}

/// Exact leave-one-out residuals and GCV for any λ from one decomposition: see the
/// [module docs](self) for the mathematics and the accuracy.
#[derive(Debug, Clone)]
pub struct LeaveOneOut<'a> {
    convention: LooConvention,
    n: usize,
    /// Targets.
    k: usize,
    /// sᵢ (None: all ones).
    weights: Option<Vec<f64>>,
    weight_sum: f64,
    intercept: bool,
    /// Samples of positive weight.
    n_positive: usize,
    /// The weight every sample of positive weight has, if they all have the same.
    common_weight: Option<f64>,
    /// θⱼ (the singular values of S^½Xc kept), largest first, all > 0.
    theta: Vec<f64>,
    /// Where the rows uᵢ of U come from in a pass over the samples.
    basis: Basis<'a>,
    /// S^½Yc (n × k).
    ys: Mat<f64>,
    /// c = Uᵀ·S^½Yc (r × k).
    c: Mat<f64>,
    /// ‖q‖² per target: the residual sum of squares at λ = 0 (on the kept directions).
    q_norm2: Vec<f64>,
    /// Samples of weight 0, with Zᵀ(xᵢ − x̄) (r × n₀, column per sample) and yᵢ − ȳ (n₀ × k).
    zero: Vec<usize>,
    zero_g: Mat<f64>,
    zero_yc: Mat<f64>,
    /// [√s, U] spans every sample of positive weight: p = q = 0 exactly.
    exact_span: bool,
    /// The rounding level of pᵢ, below which 1 − hᵢᵢ is not resolved.
    tolerance: f64,
    par: Par,
}

impl<'a> LeaveOneOut<'a> {
    /// Decomposes the problem's centred, weighted design once (its λ is not used). Fails only if
    /// an SVD does not converge.
    pub fn new(problem: &RidgeProblem<'a>) -> Result<Self> {
        Self::factor(std::slice::from_ref(problem))
    }

    /// One decomposition for every target of a multi-target problem (their λ are not used):
    /// [`LeaveOneOut::curves`] then gives one curve, and one λ, per target.
    pub fn of_targets(problem: &MultiRidgeProblem<'a>) -> Result<Self> {
        let targets: Vec<_> = (0..problem.n_targets())
            .map(|t| problem.target(t))
            .collect();
        Self::factor(&targets)
    }

    /// The same decomposition with another convention for the left-out penalties.
    pub fn with_convention(mut self, convention: LooConvention) -> Self {
        self.convention = convention;
        self
    }

    /// The convention in use.
    pub fn convention(&self) -> LooConvention {
        self.convention
    }

    /// r, the number of singular directions of S^½Xc kept (the numerical rank of the
    /// column-equilibrated design, cut-off max(n, d)·ε·σ₁, as `svd`).
    pub fn rank(&self) -> usize {
        self.theta.len()
    }

    /// k, the number of targets.
    pub fn n_targets(&self) -> usize {
        self.k
    }

    /// The singular values θⱼ of S^½Xc kept, largest first.
    pub fn singular_values(&self) -> &[f64] {
        &self.theta
    }

    /// The leave-one-out residuals eᵢ = yᵢ − ŷ₋ᵢ of the first target at λ (n entries; see the
    /// [module docs](self)).
    pub fn residuals(&self, lambda: f64) -> Result<Col<f64>> {
        self.target_residuals(0, lambda)
    }

    /// The leave-one-out residuals of target t at λ.
    pub fn target_residuals(&self, target: usize, lambda: f64) -> Result<Col<f64>> {
        let m = self.target_residual_matrix(target, &[lambda])?;
        Ok(m.col(0).to_owned())
    }

    /// The leave-one-out residuals of target t at every λ of `lambdas`: an n × (number of λ)
    /// matrix, one column per λ.
    pub fn target_residual_matrix(&self, target: usize, lambdas: &[f64]) -> Result<Mat<f64>> {
        self.check_target(target)?;
        let buf = self.residual_buffer(&[target], lambdas)?;
        let l = lambdas.len();
        Ok(Mat::from_fn(self.n, l, |i, j| buf[i * l + j]))
    }

    /// The leave-one-out curve of the first target over `lambdas` (method `"loo"`).
    ///
    /// - mean(λ) = Σᵢ sᵢ·eᵢ² / S, the weighted mean squared LOO residual;
    /// - se(λ) = √( Σᵢ sᵢ·(eᵢ² − mean)² / S / (n₊ − 1) ), n₊ the number of samples of positive
    ///   weight: cv.glmnet's standard error with every sample its own fold (weighted variance of
    ///   the per-sample squared errors, divided by the number of folds less one); without
    ///   weights, the sample standard deviation of the eᵢ² over √n. ∞ when n₊ < 2.
    pub fn curve(&self, lambdas: &[f64]) -> Result<CvCurve> {
        Ok(self.curves_of(&[0], lambdas)?.remove(0))
    }

    /// The leave-one-out curve of every target (one λ chosen per target), from one pass over
    /// the decomposition per call.
    pub fn curves(&self, lambdas: &[f64]) -> Result<Vec<CvCurve>> {
        let all: Vec<usize> = (0..self.k).collect();
        self.curves_of(&all, lambdas)
    }

    /// The leave-one-out curve of target t.
    pub fn target_curve(&self, target: usize, lambdas: &[f64]) -> Result<CvCurve> {
        self.check_target(target)?;
        Ok(self.curves_of(&[target], lambdas)?.remove(0))
    }

    /// Generalised cross-validation of the first target (method `"gcv"`, no standard error):
    ///
    /// ```text
    /// GCV(λ) = (RSS/S) / (1 − df/S)²,   RSS = Σᵢ sᵢ·rᵢ²,   df = tr(H) (+ 1 with an intercept)
    /// ```
    ///
    /// of the full-data fit at λ (α = S·λ, in either convention), in O(r) per λ:
    /// RSS = ‖q‖² + Σⱼ (α/(θⱼ² + α)·cⱼ)² and S − df = (S − r − 1) + Σⱼ α/(θⱼ² + α) (without the
    /// 1 when there is no intercept), both sums of non-negative terms. Fails where S = df (the
    /// fit interpolates, e.g. λ = 0 with fewer samples than features).
    pub fn gcv(&self, lambdas: &[f64]) -> Result<CvCurve> {
        self.target_gcv(0, lambdas)
    }

    /// GCV of target t (see [`LeaveOneOut::gcv`]).
    pub fn target_gcv(&self, target: usize, lambdas: &[f64]) -> Result<CvCurve> {
        self.check_target(target)?;
        check_lambdas(lambdas)?;
        let s = self.weight_sum;
        let free = s - (self.rank() + usize::from(self.intercept)) as f64;
        let mean = lambdas
            .iter()
            .map(|&lambda| {
                let alpha = s * lambda;
                let (mut rss, mut slack) = (self.q_norm2[target], free);
                for (j, &theta) in self.theta.iter().enumerate() {
                    let t = shrinkage(alpha, theta * theta);
                    let shrunk = t * self.c[(j, target)];
                    rss += shrunk * shrunk;
                    slack += t;
                }
                if slack == 0.0 || (alpha == 0.0 && self.exact_span) {
                    return Err(Error::Numerical {
                        solver: "gcv".into(),
                        detail: format!(
                            "at λ = {lambda:e} the fit interpolates the data (RSS = 0; without \
                             weights also df = S = {s}), so GCV is not defined; use λ > 0"
                        ),
                    });
                }
                Ok(rss * s / (slack * slack))
            })
            .collect::<Result<Vec<f64>>>()?;
        Ok(CvCurve::new("gcv", lambdas.to_vec(), mean, None))
    }

    fn check_target(&self, target: usize) -> Result<()> {
        if target < self.k {
            Ok(())
        } else {
            Err(Error::invalid(
                "target",
                target,
                format!("a target index below {}", self.k),
            ))
        }
    }

    fn weight(&self, i: usize) -> f64 {
        self.weights.as_ref().map_or(1.0, |s| s[i])
    }

    /// The curves from the residuals block by block, never all n × (T·L) of them at once: each
    /// block's weighted mean of eᵢ² and sum of squared deviations from it, merged in block order
    /// (Chan–Golub–LeVeque, as the moments are), so nothing cancels.
    fn curves_of(&self, targets: &[usize], lambdas: &[f64]) -> Result<Vec<CvCurve>> {
        let (l, width) = (lambdas.len(), targets.len() * lambdas.len());
        let s = self.weight_sum;
        let parts = self.residual_blocks(targets, lambdas, |first, block| {
            let rows = || {
                block
                    .chunks_exact(width)
                    .enumerate()
                    .map(|(a, row)| (self.weight(first + a), row))
            };
            let total: f64 = rows().map(|(w, _)| w).sum();
            let mut mean = vec![0.0; width];
            let mut spread = vec![0.0; width];
            if total > 0.0 {
                rows().for_each(|(w, row)| {
                    mean.iter_mut().zip(row).for_each(|(m, e)| *m += w * e * e);
                });
                mean.iter_mut().for_each(|m| *m /= total);
                rows().for_each(|(w, row)| {
                    spread
                        .iter_mut()
                        .zip(row.iter().zip(&mean))
                        .for_each(|(v, (e, m))| *v += w * (e * e - m) * (e * e - m));
                });
            }
            (total, mean, spread)
        })?;
        let (mut total, mut mean, mut spread) = (0.0, vec![0.0; width], vec![0.0; width]);
        for (w, m, v) in parts.into_iter().filter(|p| p.0 > 0.0) {
            let merged = total + w;
            for j in 0..width {
                let delta = m[j] - mean[j];
                mean[j] += delta * (w / merged);
                spread[j] += v[j] + delta * delta * (total * w / merged);
            }
            total = merged;
        }
        let folds = self.n_positive as f64 - 1.0;
        let se: Vec<f64> = spread
            .iter()
            .map(|v| {
                if folds > 0.0 {
                    (v / s / folds).sqrt()
                } else {
                    f64::INFINITY
                }
            })
            .collect();
        Ok((0..targets.len())
            .map(|t| {
                CvCurve::new(
                    "loo",
                    lambdas.to_vec(),
                    mean[t * l..(t + 1) * l].to_vec(),
                    Some(se[t * l..(t + 1) * l].to_vec()),
                )
            })
            .collect())
    }

    /// The LOO residuals of `targets` at `lambdas`, sample-major: entry
    /// [i·(T·L) + t·L + l] is sample i, the t-th requested target, λ number l.
    fn residual_buffer(&self, targets: &[usize], lambdas: &[f64]) -> Result<Vec<f64>> {
        let blocks = self.residual_blocks(targets, lambdas, |_, block| block.to_vec())?;
        let mut buf = blocks.concat();
        let (l, width) = (lambdas.len(), targets.len() * lambdas.len());
        let (r, s) = (self.rank(), self.weight_sum);
        // Weight 0: the residual of the full fit at α = S·λ, ŷᵢ − ȳ = Σⱼ gᵢⱼ·θⱼ/(θⱼ² + α)·cⱼ.
        for (z, &i) in self.zero.iter().enumerate() {
            for (li, &lambda) in lambdas.iter().enumerate() {
                let alpha = s * lambda;
                for (tt, &t) in targets.iter().enumerate() {
                    let fit: f64 = (0..r)
                        .map(|j| {
                            let th = self.theta[j];
                            self.zero_g[(j, z)] * th / (th * th + alpha) * self.c[(j, t)]
                        })
                        .sum();
                    buf[i * width + tt * l + li] = self.zero_yc[(z, t)] - fit;
                }
            }
        }
        Ok(buf)
    }

    /// The LOO residuals of `targets` at `lambdas` for each block of [`BLOCK_ROWS`] samples
    /// (sample-major, as [`LeaveOneOut::residual_buffer`]; samples of weight 0 left at 0), handed
    /// to `each(first_sample, block)`; its results in block order.
    fn residual_blocks<T: Send>(
        &self,
        targets: &[usize],
        lambdas: &[f64],
        each: impl Fn(usize, &[f64]) -> T + Sync,
    ) -> Result<Vec<T>> {
        check_lambdas(lambdas)?;
        let (l, r) = (lambdas.len(), self.rank());
        let width = targets.len() * l;
        let tolerance = if self.exact_span { 0.0 } else { self.tolerance };
        let s = self.weight_sum;
        let left_out = |w: f64| match self.convention {
            LooConvention::SameLambda => s - w,
            LooConvention::SameAlpha => s,
        };
        let penalties = |w: f64| -> Vec<f64> { lambdas.iter().map(|l| left_out(w) * l).collect() };
        // Every sample of positive weight has the same penalties (SameAlpha, or equal weights):
        // the sums over j for a block of samples are two matrix products.
        let shared = match (self.convention, self.common_weight) {
            (LooConvention::SameAlpha, _) => Some(penalties(0.0)),
            (LooConvention::SameLambda, Some(w)) => Some(penalties(w)),
            (LooConvention::SameLambda, None) => None,
        };
        let shared_filters = shared.map(|alpha| {
            let mut f = Filters::new(r, l, targets.len());
            f.update(&alpha, &self.theta, &self.c, targets, self.exact_span);
            f
        });
        // pᵢ = 1 − sᵢ/S − ‖uᵢ‖², or exactly 0 when [√s, U] spans every sample of positive
        // weight (then p is 0 in exact arithmetic, any non-zero value would be rounding noise,
        // and it would dominate the O(λ) terms at small λ).
        let p_of = |i: usize, u: ColRef<'_, f64>| -> f64 {
            if self.exact_span {
                return 0.0;
            }
            let mean_part = if self.intercept {
                self.weight(i) / s
            } else {
                0.0
            };
            (1.0 - mean_part - u.squared_norm_l2()).max(0.0)
        };
        let finish = |i: usize, p: f64, leverage: &[f64], fitted: &[f64], out: &mut [f64]| {
            let root = self.weight(i).sqrt();
            for (li, &lambda) in lambdas.iter().enumerate() {
                let complement = leverage[li] + p;
                if complement.is_nan() || complement <= tolerance {
                    return Err(undetermined(i, lambda, complement, tolerance));
                }
                for (tt, &t) in targets.iter().enumerate() {
                    // The target is stored as 0 when the span is exact (see `Filters`).
                    let y = if self.exact_span {
                        0.0
                    } else {
                        self.ys[(i, t)]
                    };
                    let e = (y + fitted[tt * l + li]) / (root * complement);
                    if !e.is_finite() {
                        return Err(undetermined(i, lambda, complement, tolerance));
                    }
                    out[tt * l + li] = e;
                }
            }
            Ok::<(), Error>(())
        };
        let fill = |first: usize, block: &mut [f64]| -> Result<()> {
            let len = block.len() / width;
            let u = self.basis.transposed_rows(first, len);
            let u = u.as_ref();
            if let Some(filters) = &shared_filters {
                // Leverage terms (L × len) = T (L × r)·(U∘U)ᵀ, fitted terms (T·L × len) =
                // GC (T·L × r)·Uᵀ, written straight into the block (sample-major = column-major).
                let squares = Mat::from_fn(r, len, |j, a| u[(j, a)] * u[(j, a)]);
                let mut leverage = Mat::zeros(l, len);
                let t = MatRef::from_column_major_slice(&filters.t, l, r);
                matmul(
                    leverage.as_mut(),
                    Accum::Replace,
                    t,
                    squares.as_ref(),
                    1.0,
                    Par::Seq,
                );
                let gc = MatRef::from_column_major_slice(&filters.gc, width, r);
                let mut fitted = Mat::zeros(width, len);
                matmul(fitted.as_mut(), Accum::Replace, gc, u, 1.0, Par::Seq);
                for (a, out) in block.chunks_exact_mut(width).enumerate() {
                    if self.weight(first + a) > 0.0 {
                        let lev = leverage.col(a).try_as_col_major().map(|c| c.as_slice());
                        let fit = fitted.col(a).try_as_col_major().map(|c| c.as_slice());
                        // Columns of an owned Mat are contiguous.
                        finish(
                            first + a,
                            p_of(first + a, u.col(a)),
                            lev.expect("contiguous"),
                            fit.expect("contiguous"),
                            out,
                        )?;
                    }
                }
                return Ok(());
            }
            let mut filters = Filters::new(r, l, targets.len());
            let mut leverage = vec![0.0; l];
            let mut fitted = vec![0.0; width];
            for (a, out) in block.chunks_exact_mut(width).enumerate() {
                let i = first + a;
                let w = self.weight(i);
                if w == 0.0 {
                    continue; // filled below, from the sample's row
                }
                filters.update(
                    &penalties(w),
                    &self.theta,
                    &self.c,
                    targets,
                    self.exact_span,
                );
                // Σⱼ uᵢⱼ²·tⱼ(αᵢ) and Σⱼ uᵢⱼ·gⱼ(αᵢ)·cⱼ for every λ at once: the inner loops run over
                // λ (and targets), contiguous and independent, so they vectorise.
                leverage.iter_mut().for_each(|v| *v = 0.0);
                fitted.iter_mut().for_each(|v| *v = 0.0);
                for (j, &uj) in u.col(a).iter().enumerate() {
                    let t = &filters.t[j * l..(j + 1) * l];
                    leverage
                        .iter_mut()
                        .zip(t)
                        .for_each(|(v, t)| *v += uj * uj * t);
                    let gc = &filters.gc[j * width..(j + 1) * width];
                    fitted.iter_mut().zip(gc).for_each(|(v, gc)| *v += uj * gc);
                }
                finish(i, p_of(i, u.col(a)), &leverage, &fitted, out)?;
            }
            Ok(())
        };
        // Results in block order: the first failing block in sample order is the error, so it
        // does not depend on threads.
        let blocks = self.n.div_ceil(BLOCK_ROWS);
        let one = |b: usize| -> Result<T> {
            let first = b * BLOCK_ROWS;
            let mut block = vec![0.0; BLOCK_ROWS.min(self.n - first) * width];
            fill(first, &mut block)?;
            Ok(each(first, &block))
        };
        if self.par.degree() > 1 {
            (0..blocks).into_par_iter().map(one).collect()
        } else {
            (0..blocks).map(one).collect()
        }
    }

    fn factor(targets: &[RidgeProblem<'a>]) -> Result<Self> {
        let problem = targets.first().ok_or_else(|| Error::Empty {
            what: "no targets to cross-validate".into(),
        })?;
        let (n, d, k) = (problem.n_samples(), problem.n_features(), targets.len());
        let par = problem.par();
        let ys = scaled_centred_targets(targets);
        let means = residual_means(problem);
        let root: Vec<f64> = (0..n).map(|i| problem.weight(i).sqrt()).collect();
        // Rows of S^½Xc with the second centring pass of `svd` (see `residual_means`).
        let write_rows = |first: usize, mut out: MatMut<'_, f64>| {
            let len = out.nrows();
            problem.write_scaled_centred_rows(first, out.rb_mut());
            subtract_means(out, &root[first..first + len], means.as_ref());
        };

        // Stage 1: the SVD of B = S^½Xc·D, through the triangle of a streamed QR when n ≥ d.
        let wide = n < d;
        let (mut b, rhs, outside) = if wide {
            let mut b = Mat::zeros(n, d);
            write_rows(0, b.as_mut());
            (b, ys.clone(), Mat::zeros(0, k))
        } else {
            let r = triangular_factor(
                n,
                d + k,
                None,
                |first, mut out| {
                    let len = out.nrows();
                    write_rows(first, out.rb_mut().subcols_mut(0, d));
                    out.subcols_mut(d, k)
                        .copy_from(ys.as_ref().subrows(first, len));
                },
                par,
            );
            (
                r.as_ref().submatrix(0, 0, d, d).to_owned(),
                r.as_ref().submatrix(0, d, d, k).to_owned(),
                r.as_ref().submatrix(d, d, k, k).to_owned(),
            )
        };
        let scale = Col::from_fn(d, |j| pow2_inverse_norm(b.col(j)));
        for j in 0..d {
            b.col_mut(j).iter_mut().for_each(|v| *v *= scale[j]);
        }
        let svd = thin_svd(b.as_ref())?;
        let sigma = svd.S().column_vector();
        let top = if sigma.nrows() > 0 { sigma[0] } else { 0.0 };
        let cutoff = n.max(d) as f64 * f64::EPSILON * top;
        let rank = sigma.iter().take_while(|&&v| v > cutoff).count();
        let kappa = if rank > 0 { top / sigma[rank - 1] } else { 1.0 };
        let ub = svd.U().subcols(0, rank);
        let uty = Mat::from_fn(rank, k, |j, t| dot(ub.col(j), rhs.col(t)));
        let v = svd.V().subcols(0, rank);

        // Stage 2: S^½Xc = U_B·G with G = Σ·Vᵀ·D⁻¹ = P·Θ·Zᵀ, so S^½Xc = (U_B·P)·Θ·Zᵀ.
        let (theta, z, p) = if rank == 0 {
            (Vec::new(), Mat::zeros(d, 0), Mat::zeros(0, 0))
        } else {
            let g = Mat::from_fn(rank, d, |j, l| sigma[j] * v[(l, j)] / scale[l]);
            let g_svd = thin_svd(g.transpose())?; // Gᵀ = Z·Θ·Pᵀ
            let theta = g_svd.S().column_vector();
            // θ > 0 in exact arithmetic (G has full row rank); one that underflowed to 0 carries
            // no direction and is dropped, as `svd` drops it.
            let r = theta.iter().take_while(|&&t| t > 0.0).count();
            (
                theta.iter().take(r).copied().collect::<Vec<f64>>(),
                g_svd.U().subcols(0, r).to_owned(),
                g_svd.V().subcols(0, r).to_owned(),
            )
        };
        let r = theta.len();
        let c = Mat::from_fn(r, k, |j, t| dot(p.col(j), uty.col(t)));

        let weights: Option<Vec<f64>> = problem.weights().map(|s| s.iter().copied().collect());
        let weight = |i: usize| weights.as_ref().map_or(1.0, |s| s[i]);
        let s = problem.weight_sum();
        let intercept = problem.fit_intercept();
        let n_positive = (0..n).filter(|&i| weight(i) > 0.0).count();
        let first_weight = (0..n).map(weight).find(|&w| w > 0.0).unwrap_or(1.0);
        let common_weight = (0..n)
            .map(weight)
            .all(|w| w == 0.0 || w == first_weight)
            .then_some(first_weight);
        let exact_span = r + usize::from(intercept) >= n_positive;

        // U: U_B·P directly for n < d (stored: n × r ≤ n × n entries); otherwise
        // S^½Xc·(D·V·Σ⁻¹·P), recomputed from X in every pass over the samples.
        let basis = if wide {
            let u = ub * &p;
            let mut ut = vec![0.0; r * n];
            for_each_block(&mut ut, r, par, |first, block| {
                for (row, out) in block.chunks_exact_mut(r).enumerate() {
                    out.iter_mut()
                        .enumerate()
                        .for_each(|(j, o)| *o = u[(first + row, j)]);
                }
            });
            Basis::Stored { ut, r }
        } else {
            let inv = Mat::from_fn(d, rank, |l, a| scale[l] * v[(l, a)] / sigma[a]);
            Basis::Streamed {
                problem: Box::new(problem.clone()),
                root,
                means,
                map: &inv * &p,
            }
        };

        // ‖q‖² = ‖S^½yc − U·c‖² per target (0 when the span is exact), for GCV. For n < d from
        // the stored U. Otherwise from the triangle of the streamed QR, R = [R₁₁ R₁₂; 0 R₂₂]:
        // the part of S^½Yc outside span(S^½Xc) is R₂₂, and the part inside it along the
        // directions the rank cut-off dropped is U_Bᵀ·R₁₂ on those columns of U_B; both are
        // sums of squares, so nothing cancels.
        let q_norm2: Vec<f64> = if exact_span {
            vec![0.0; k]
        } else if wide {
            let Basis::Stored { ut, .. } = &basis else {
                unreachable!("n < d stores U")
            };
            (0..k)
                .map(|t| {
                    (0..n)
                        .filter(|&i| weight(i) > 0.0)
                        .map(|i| {
                            let u = &ut[i * r..(i + 1) * r];
                            let fit: f64 = u.iter().enumerate().map(|(j, u)| u * c[(j, t)]).sum();
                            (ys[(i, t)] - fit).powi(2)
                        })
                        .sum()
                })
                .collect()
        } else {
            let (r22, dropped) = (outside.as_ref(), svd.U().subcols(rank, d - rank));
            (0..k)
                .map(|t| {
                    let inside: f64 = (0..dropped.ncols())
                        .map(|j| dot(dropped.col(j), rhs.col(t)).powi(2))
                        .sum();
                    r22.col(t).squared_norm_l2() + inside
                })
                .collect()
        };

        let zero: Vec<usize> = (0..n).filter(|&i| weight(i) == 0.0).collect();
        let x = problem.x();
        let x_mean = problem.x_mean();
        let zero_g = Mat::from_fn(r, zero.len(), |j, a| {
            (0..d)
                .map(|l| z[(l, j)] * (x[(zero[a], l)] - x_mean[l]))
                .sum()
        });
        let zero_yc = Mat::from_fn(zero.len(), k, |a, t| {
            targets[t].y()[zero[a]] - targets[t].y_mean()
        });

        Ok(Self {
            convention: LooConvention::default(),
            n,
            k,
            weights,
            weight_sum: s,
            intercept,
            n_positive,
            common_weight,
            theta,
            basis,
            ys,
            c,
            q_norm2,
            zero,
            zero_g,
            zero_yc,
            exact_span,
            tolerance: 16.0 * (r + 1) as f64 * f64::EPSILON * kappa,
            par,
        })
    }
}

/// Where the rows uᵢ of U (S^½Xc = U·Θ·Zᵀ) come from in a pass over the samples.
#[derive(Debug, Clone)]
enum Basis<'a> {
    /// n < d: U itself, transposed (r × n, column-major: sample i's row is contiguous); at most
    /// n × n entries, fewer than X's n × d.
    Stored { ut: Vec<f64>, r: usize },
    /// n ≥ d: U = S^½Xc·M (M = D·V·Σ⁻¹·P, d × r) recomputed for each block of rows from X,
    /// 2·len·d·r flops a block, so that no n × r matrix the size of X is held.
    Streamed {
        problem: Box<RidgeProblem<'a>>,
        /// √sᵢ, and the residual means of the second centring pass (`residual_means`).
        root: Vec<f64>,
        means: Col<f64>,
        map: Mat<f64>,
    },
}

impl Basis<'_> {
    /// Uᵀ for the samples `first .. first + len`: r × len, sample `first + a` in column a.
    fn transposed_rows(&self, first: usize, len: usize) -> Mat<f64> {
        match self {
            Basis::Stored { ut, r } => {
                MatRef::from_column_major_slice(&ut[first * r..(first + len) * r], *r, len)
                    .to_owned()
            }
            Basis::Streamed {
                problem,
                root,
                means,
                map,
            } => {
                let mut rows = Mat::zeros(len, map.nrows());
                problem.write_scaled_centred_rows(first, rows.as_mut());
                subtract_means(rows.as_mut(), &root[first..first + len], means.as_ref());
                // The product in column-major operands (faer's fast layout), then transposed:
                // 2·len·d·r flops against a len × r copy.
                let mut u = Mat::zeros(len, map.ncols());
                matmul(
                    u.as_mut(),
                    Accum::Replace,
                    rows.as_ref(),
                    map.as_ref(),
                    1.0,
                    Par::Seq,
                );
                u.transpose().to_owned()
            }
        }
    }
}

/// Leave-one-out curves of every target of a multi-target problem, one decomposition for all
/// (the crate's convention, [`LooConvention::SameLambda`]): each curve's `lambda_min` is that
/// target's λ.
pub fn per_target(problem: &MultiRidgeProblem<'_>, lambdas: &[f64]) -> Result<Vec<CvCurve>> {
    LeaveOneOut::of_targets(problem)?.curves(lambdas)
}

/// The per-λ filters of one sample: tⱼ = α/(θⱼ² + α) for 1 − hᵢᵢ (L × r, column-major) and, for
/// the residual, gⱼ·cⱼ of each requested target ((T·L) × r, column-major, row t·L + l),
/// recomputed only when the sample's penalties differ from the last sample's.
///
/// The residual √sᵢ·rᵢ = √sᵢ·yc,ᵢ − Σⱼ uᵢⱼ·θⱼ²/(θⱼ² + α)·cⱼ is computed as written, gⱼ = −θⱼ²/(θⱼ² + α):
/// its rounding error is then ε·(|yᵢ| + |ŷᵢ|), where the form qᵢ + Σⱼ uᵢⱼ·tⱼ·cⱼ would add
/// ε·|ŷᵢ at λ = 0|, a cancellation at large λ. Except when the span is exact: there √sᵢ·yc,ᵢ = uᵢᵀc
/// in exact arithmetic, the direct form would cancel completely at small λ, and the O(λ) form
/// Σⱼ uᵢⱼ·tⱼ·cⱼ (gⱼ = tⱼ, with the target stored as 0) is exact to rounding.
struct Filters {
    alpha: Vec<f64>,
    t: Vec<f64>,
    gc: Vec<f64>,
}

impl Filters {
    fn new(r: usize, l: usize, targets: usize) -> Self {
        Self {
            alpha: vec![f64::NAN; l],
            t: vec![0.0; r * l],
            gc: vec![0.0; targets * r * l],
        }
    }

    fn update(
        &mut self,
        alpha: &[f64],
        theta: &[f64],
        c: &Mat<f64>,
        targets: &[usize],
        exact_span: bool,
    ) {
        if self.alpha == alpha {
            return;
        }
        self.alpha.copy_from_slice(alpha);
        let l = alpha.len();
        for (j, &th) in theta.iter().enumerate() {
            let theta2 = th * th;
            for (li, &a) in alpha.iter().enumerate() {
                let t = shrinkage(a, theta2);
                self.t[j * l + li] = t;
                let g = if exact_span {
                    t
                } else {
                    -theta2 / (theta2 + a)
                };
                for (tt, &target) in targets.iter().enumerate() {
                    self.gc[(j * targets.len() + tt) * l + li] = g * c[(j, target)];
                }
            }
        }
    }
}

/// α/(θ² + α): the part of a direction the penalty removes (0 at α = 0, → 1 as α → ∞).
fn shrinkage(alpha: f64, theta2: f64) -> f64 {
    if alpha == 0.0 {
        0.0
    } else {
        alpha / (theta2 + alpha)
    }
}

/// Runs `f(first_row, rows)` on blocks of [`BLOCK_ROWS`] rows of a row-major buffer with `width`
/// entries per row, in parallel when `par` allows, and returns the results in block order.
fn for_each_block<T: Send>(
    buf: &mut [f64],
    width: usize,
    par: Par,
    f: impl Fn(usize, &mut [f64]) -> T + Sync,
) -> Vec<T> {
    if width == 0 || buf.is_empty() {
        return Vec::new();
    }
    let chunk = BLOCK_ROWS * width;
    if par.degree() > 1 {
        buf.par_chunks_mut(chunk)
            .enumerate()
            .map(|(b, rows)| f(b * BLOCK_ROWS, rows))
            .collect()
    } else {
        buf.chunks_mut(chunk)
            .enumerate()
            .map(|(b, rows)| f(b * BLOCK_ROWS, rows))
            .collect()
    }
}

fn check_lambdas(lambdas: &[f64]) -> Result<()> {
    if lambdas.is_empty() {
        return Err(Error::invalid(
            "lambdas",
            "an empty list",
            "at least one λ ≥ 0 (select::grid::default_lambdas gives a grid)",
        ));
    }
    match lambdas.iter().find(|l| !(l.is_finite() && **l >= 0.0)) {
        Some(&bad) => Err(Error::invalid(
            "lambda",
            bad,
            "λ must be finite and ≥ 0 (λ = 0 is ordinary least squares)",
        )),
        None => Ok(()),
    }
}

fn undetermined(sample: usize, lambda: f64, complement: f64, tolerance: f64) -> Error {
    Error::Numerical {
        solver: "loo".into(),
        detail: format!(
            "at λ = {lambda:e}, sample {sample} alone determines a direction of the fit \
             (1 − hᵢᵢ = {complement:e}, not above the rounding level {tolerance:e} of its \
             computation), so the fit without it is not determined and its leave-one-out \
             residual is not defined; at λ = 0 this means a feature, or the intercept, informed \
             by that sample only, or fewer samples than features: use λ > 0 (or a larger λ), or \
             k-fold cross-validation"
        ),
    }
}

/// faer's thin SVD, its (rare) failure to converge mapped to a numerical error.
fn thin_svd(m: MatRef<'_, f64>) -> Result<faer::linalg::solvers::Svd<f64>> {
    faer::linalg::solvers::Svd::new_thin(m).map_err(|e| Error::Numerical {
        solver: "loo".into(),
        detail: format!(
            "the SVD of the design did not converge ({e:?}); use k-fold cross-validation"
        ),
    })
}
