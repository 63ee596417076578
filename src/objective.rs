//! The smooth objectives that iterative methods minimise, behind one small interface.
//!
//! Iterative backends never touch the squared loss directly: they see an [`Objective`] (value,
//! gradient, per-sample gradients, smoothness and strong-convexity constants). The ridge problem
//! provides [`LeastSquares`]; a logistic loss will provide another implementation and reuse every
//! method unchanged.

use std::sync::OnceLock;

use faer::linalg::matmul::matmul;
use faer::reborrow::ReborrowMut;
use faer::{Accum, Col, ColMut, ColRef, Mat};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use crate::problem::{RidgeProblem, dot};

/// A smooth, strongly convex function f(θ) = (1/S)·Σᵢ sᵢ·ℓᵢ(θ) + (λ/2)‖θ‖² of θ ∈ ℝᵈ.
pub trait Objective: Sync {
    /// d, the number of variables.
    fn dim(&self) -> usize;
    /// n, the number of samples (terms ℓᵢ).
    fn n_samples(&self) -> usize;
    /// f(θ); writes ∇f(θ) into `grad`. Costs one pass over the data.
    fn value_gradient(&self, theta: ColRef<'_, f64>, grad: ColMut<'_, f64>) -> f64;
    /// L: the largest eigenvalue of ∇²f (an accurate estimate, not a loose bound).
    fn smoothness(&self) -> f64;
    /// μ: a lower bound on the smallest eigenvalue of ∇²f (λ when nothing better is known).
    fn strong_convexity(&self) -> f64;
    /// The ℓ₂ penalty λ (the part of f that is not a sum over samples).
    fn penalty(&self) -> f64;

    // --- Per-sample access, for stochastic methods. -------------------------------------------
    //
    // The losses are those of a linear prediction, ℓᵢ(θ) = φᵢ(xᵢᵀθ), so the gradient of the
    // i-th term fᵢ = (n·sᵢ/S)·ℓᵢ (whose mean over i is the data part of f) is a scalar times a
    // fixed row: ∇fᵢ(θ) = gᵢ(θ)·xᵢ with the *slope* gᵢ(θ) = (n·sᵢ/S)·φᵢ'(xᵢᵀθ). A method that
    // remembers per-sample gradients (SAG, SAGA, SVRG's snapshot) therefore stores one scalar
    // per sample, not a d-vector (Schmidt, Le Roux & Bach, 2017, §4.1).

    //
    // These two are called once per sample step, in loops of O(d) work, so they take and return
    // plain slices: contiguous by type, which lets the compiler vectorise the loops around them.

    /// The row xᵢ (as the objective sees it, e.g. centred), of length d.
    fn sample_row(&self, i: usize) -> &[f64];
    /// The slope gᵢ(θ): ∇fᵢ(θ) = gᵢ(θ)·xᵢ, and the data part of ∇f is (1/n)·Σᵢ gᵢ(θ)·xᵢ.
    fn sample_slope(&self, i: usize, theta: &[f64]) -> f64;
    /// [`Objective::value_gradient`] that also writes every slope gᵢ(θ) into `slopes` (length
    /// n), in the same pass over the data.
    fn value_gradient_slopes(
        &self,
        theta: ColRef<'_, f64>,
        grad: ColMut<'_, f64>,
        slopes: ColMut<'_, f64>,
    ) -> f64;
    /// maxᵢ of the smoothness constants of (n·sᵢ/S)·ℓᵢ, for stochastic step sizes.
    fn max_sample_smoothness(&self) -> f64;
}

/// The ridge objective with the intercept eliminated: for θ = w,
///
/// ```text
/// f(w) = 1/(2S)·‖S^½(yc − Xc·w)‖² + (λ/2)‖w‖²  =  min_b J(w, b)
/// ```
///
/// Centring is done on the fly (Xc·w = X·w − (x̄ᵀw)·1), so X is never copied for the batch
/// gradient. Stochastic methods get a sample-major centred copy, built once on first use, because
/// reading one row of a column-major X touches d cache lines.
pub struct LeastSquares<'p> {
    problem: &'p RidgeProblem<'p>,
    smoothness: OnceLock<f64>,
    rows: OnceLock<SampleMajor>,
}

/// Centred samples stored contiguously (column i of `xc` is xᵢ − x̄), with targets and weights.
struct SampleMajor {
    xc: Mat<f64>,
    yc: Col<f64>,
    /// n·sᵢ/S, so that the mean over i of the weighted per-sample loss is the weighted loss.
    factor: Col<f64>,
    max_smoothness: f64,
}

impl<'p> LeastSquares<'p> {
    /// The profile objective of a ridge problem.
    pub fn new(problem: &'p RidgeProblem<'p>) -> Self {
        Self {
            problem,
            smoothness: OnceLock::new(),
            rows: OnceLock::new(),
        }
    }

    /// The problem this objective was built from.
    pub fn problem(&self) -> &RidgeProblem<'p> {
        self.problem
    }

    /// Centred, weighted residuals u = s ∘ (yc − Xc·w) and the objective value.
    fn weighted_residuals(&self, w: ColRef<'_, f64>) -> (Col<f64>, f64) {
        let p = self.problem;
        let shift = p.y_mean() - dot(p.x_mean(), w);
        let mut r = Col::from_fn(p.n_samples(), |i| p.y()[i] - shift);
        matmul(r.as_mat_mut(), Accum::Add, p.x(), w.as_mat(), -1.0, p.par());
        let mut loss = 0.0;
        for (i, ri) in r.iter_mut().enumerate() {
            let s = p.weight(i);
            loss += s * *ri * *ri;
            *ri *= s;
        }
        (
            r,
            0.5 * loss / p.weight_sum() + 0.5 * p.lambda() * w.squared_norm_l2(),
        )
    }

    /// out ← out + alpha·Xcᵀv, using Xcᵀv = Xᵀv − x̄·Σvᵢ so that X is read as it is.
    fn add_xct(&self, v: ColRef<'_, f64>, alpha: f64, mut out: ColMut<'_, f64>) {
        let p = self.problem;
        matmul(
            out.rb_mut().as_mat_mut(),
            Accum::Add,
            p.x().transpose(),
            v.as_mat(),
            alpha,
            p.par(),
        );
        let total: f64 = v.iter().sum();
        if total != 0.0 {
            for (o, m) in out.iter_mut().zip(p.x_mean().iter()) {
                *o -= alpha * total * m;
            }
        }
    }

    /// grad ← λw − (1/S)·Xcᵀu, the gradient from the weighted residuals u.
    fn finish_gradient(&self, w: ColRef<'_, f64>, u: ColRef<'_, f64>, mut grad: ColMut<'_, f64>) {
        grad.copy_from(w);
        grad *= faer::Scale(self.problem.lambda());
        self.add_xct(u, -1.0 / self.problem.weight_sum(), grad);
    }

    fn sample_major(&self) -> &SampleMajor {
        self.rows.get_or_init(|| {
            let p = self.problem;
            let (n, d) = (p.n_samples(), p.n_features());
            // A transposing copy in blocks of samples: each block of the destination (d × 64,
            // contiguous) stays in cache while the columns of X are read in runs of 64, instead
            // of touching d cache lines of X for every sample.
            let (x, mean) = (p.x(), p.x_mean());
            let mut xc = Mat::zeros(d, n);
            for start in (0..n).step_by(64) {
                let end = (start + 64).min(n);
                for j in 0..d {
                    for i in start..end {
                        xc[(j, i)] = x[(i, j)] - mean[j];
                    }
                }
            }
            let yc = Col::from_fn(n, |i| p.y()[i] - p.y_mean());
            let factor = Col::from_fn(n, |i| n as f64 * p.weight(i) / p.weight_sum());
            let max_smoothness = (0..n)
                .map(|i| factor[i] * xc.col(i).squared_norm_l2())
                .fold(0.0, f64::max);
            SampleMajor {
                xc,
                yc,
                factor,
                max_smoothness,
            }
        })
    }
}

impl Objective for LeastSquares<'_> {
    fn dim(&self) -> usize {
        self.problem.n_features()
    }

    fn n_samples(&self) -> usize {
        self.problem.n_samples()
    }

    fn value_gradient(&self, w: ColRef<'_, f64>, grad: ColMut<'_, f64>) -> f64 {
        let (u, value) = self.weighted_residuals(w);
        self.finish_gradient(w, u.as_ref(), grad);
        value
    }

    /// σ_max(S^½Xc)²/S + λ by power iteration on XcᵀSXc (≤ 100 steps, stopped at 1e-6 relative
    /// change), computed once and cached.
    fn smoothness(&self) -> f64 {
        *self.smoothness.get_or_init(|| {
            let p = self.problem;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
            let mut v = Col::from_fn(p.n_features(), |_| StandardNormal.sample(&mut rng));
            let mut estimate = 0.0;
            for _ in 0..100 {
                let norm = v.norm_l2();
                if norm == 0.0 {
                    break;
                }
                v /= faer::Scale(norm);
                // H·v with H = XcᵀSXc/S: first S·Xc·v, then Xcᵀ of it.
                let shift = -dot(p.x_mean(), v.as_ref());
                let mut xv = Col::from_fn(p.n_samples(), |_| shift);
                matmul(xv.as_mat_mut(), Accum::Add, p.x(), v.as_mat(), 1.0, p.par());
                for (i, e) in xv.iter_mut().enumerate() {
                    *e *= p.weight(i);
                }
                let mut hv = Col::zeros(p.n_features());
                self.add_xct(xv.as_ref(), 1.0 / p.weight_sum(), hv.as_mut());
                let next = dot(v.as_ref(), hv.as_ref());
                v = hv;
                let done = (next - estimate).abs() <= 1e-6 * next;
                estimate = next;
                if done {
                    break;
                }
            }
            estimate + p.lambda()
        })
    }

    fn strong_convexity(&self) -> f64 {
        self.problem.lambda()
    }

    fn penalty(&self) -> f64 {
        self.problem.lambda()
    }

    fn sample_row(&self, i: usize) -> &[f64] {
        self.sample_major()
            .xc
            .col(i)
            .try_as_col_major()
            .expect("the columns of an owned faer Mat are contiguous")
            .as_slice()
    }

    /// gᵢ(w) = −(n·sᵢ/S)·(ycᵢ − x̃ᵢᵀw): ∇ of ½·(n·sᵢ/S)·(ycᵢ − x̃ᵢᵀw)² is gᵢ·x̃ᵢ.
    fn sample_slope(&self, i: usize, w: &[f64]) -> f64 {
        let rows = self.sample_major();
        -rows.factor[i] * (rows.yc[i] - dot_unrolled(self.sample_row(i), w))
    }

    /// The slopes are −(n/S)·uᵢ with u = s ∘ (yc − Xc·w) the weighted residuals that the
    /// gradient needs anyway.
    fn value_gradient_slopes(
        &self,
        w: ColRef<'_, f64>,
        grad: ColMut<'_, f64>,
        slopes: ColMut<'_, f64>,
    ) -> f64 {
        let (u, value) = self.weighted_residuals(w);
        let scale = -(self.problem.n_samples() as f64) / self.problem.weight_sum();
        slopes
            .iter_mut()
            .zip(u.iter())
            .for_each(|(g, ui)| *g = scale * ui);
        self.finish_gradient(w, u.as_ref(), grad);
        value
    }

    fn max_sample_smoothness(&self) -> f64 {
        self.sample_major().max_smoothness
    }
}

/// Σⱼ aⱼ·bⱼ over equal-length slices with four independent partial sums: a sequential sum
/// cannot be vectorised (each addition waits for the previous one), four lanes can. The result
/// differs from the sequential order by rounding only (the same error bound, Higham §3.1).
fn dot_unrolled(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = a4
        .remainder()
        .iter()
        .zip(b4.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a4.zip(b4) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}
