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
    /// Passes over the data spent so far on set-up work such as estimating L, so that the
    /// history charges every method for what it read (0 when nothing was spent).
    fn setup_passes(&self) -> f64 {
        0.0
    }
    /// μ: a lower bound on the smallest eigenvalue of ∇²f (λ when nothing better is known).
    fn strong_convexity(&self) -> f64;
    /// The ℓ₂ penalty λ (the part of f that is not a sum over samples).
    fn penalty(&self) -> f64;
    /// The linear least-squares structure f(θ) = ½‖b − A·θ‖² + (λ/2)‖θ‖², for methods that need
    /// it (CGLS, coordinate descent with residual updates); `None` for other losses.
    fn least_squares(&self) -> Option<&LeastSquares<'_>> {
        None
    }

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
    /// L and the power-iteration steps (one pass each) spent computing it.
    smoothness: OnceLock<(f64, usize)>,
    rows: OnceLock<SampleMajor>,
    /// D = diag(√(sᵢ/S)) of the least-squares form, built on first use.
    row_scale: OnceLock<RowScale>,
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
            row_scale: OnceLock::new(),
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
        self.smoothness
            .get_or_init(|| {
                let p = self.problem;
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
                let mut v = Col::from_fn(p.n_features(), |_| StandardNormal.sample(&mut rng));
                let mut estimate = 0.0;
                let mut steps = 0;
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
                    steps += 1;
                    let next = dot(v.as_ref(), hv.as_ref());
                    v = hv;
                    let done = (next - estimate).abs() <= 1e-6 * next;
                    estimate = next;
                    if done {
                        break;
                    }
                }
                (estimate + p.lambda(), steps)
            })
            .0
    }

    fn setup_passes(&self) -> f64 {
        self.smoothness
            .get()
            .map_or(0.0, |&(_, steps)| steps as f64)
    }

    fn strong_convexity(&self) -> f64 {
        self.problem.lambda()
    }

    fn penalty(&self) -> f64 {
        self.problem.lambda()
    }

    fn least_squares(&self) -> Option<&LeastSquares<'_>> {
        Some(self)
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
        -rows.factor[i] * (rows.yc[i] - centred_dot(self.sample_row(i), 0.0, None, w))
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

/// # The least-squares form
///
/// ```text
/// f(w) = ½‖b − A·w‖² + (λ/2)‖w‖²,     A = D·Xc,  b = D·yc,  D = diag(√(sᵢ/S))
/// ```
///
/// which is the profile objective above written as one damped least-squares problem (Björck,
/// *Numerical Methods for Least Squares Problems*, 1996, §2.3.3). A is never formed: products
/// with A centre X on the fly, and the column operations centre each entry as it is read
/// (aᵢⱼ = dᵢ·(xᵢⱼ − x̄ⱼ)), so no n × d copy of X is made and no cancellation against the column
/// offset occurs in them. One product with A or Aᵀ, or one sweep of column dot products, reads X
/// once: half the cost of a full gradient.
impl LeastSquares<'_> {
    fn row_scale(&self) -> &RowScale {
        self.row_scale.get_or_init(|| {
            let p = self.problem;
            match p.weights() {
                None => RowScale::Uniform((1.0 / p.weight_sum()).sqrt()),
                Some(s) => {
                    RowScale::PerRow(s.iter().map(|s| (s / p.weight_sum()).sqrt()).collect())
                }
            }
        })
    }

    /// r ← b − A·w, the (scaled) residual at w.
    pub fn ls_residual(&self, w: ColRef<'_, f64>, mut r: ColMut<'_, f64>) {
        let p = self.problem;
        let shift = p.y_mean() - dot(p.x_mean(), w);
        r.rb_mut()
            .iter_mut()
            .zip(p.y().iter())
            .for_each(|(r, y)| *r = y - shift);
        matmul(
            r.rb_mut().as_mat_mut(),
            Accum::Add,
            p.x(),
            w.as_mat(),
            -1.0,
            p.par(),
        );
        self.row_scale().apply(r);
    }

    /// out ← A·v.
    pub fn ls_apply(&self, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        let p = self.problem;
        out.fill(-dot(p.x_mean(), v));
        matmul(
            out.rb_mut().as_mat_mut(),
            Accum::Add,
            p.x(),
            v.as_mat(),
            1.0,
            p.par(),
        );
        self.row_scale().apply(out);
    }

    /// out ← out + alpha·Aᵀu.
    pub fn ls_apply_transpose(&self, u: ColRef<'_, f64>, alpha: f64, out: ColMut<'_, f64>) {
        let mut du = u.to_owned();
        self.row_scale().apply(du.as_mut());
        self.add_xct(du.as_ref(), alpha, out);
    }

    /// Given r = b − A·w: grad ← λw − Aᵀr = ∇f(w), and returns f(w) = ½‖r‖² + (λ/2)‖w‖².
    pub fn ls_value_gradient(
        &self,
        w: ColRef<'_, f64>,
        r: ColRef<'_, f64>,
        mut grad: ColMut<'_, f64>,
    ) -> f64 {
        let lambda = self.problem.lambda();
        grad.copy_from(w);
        grad *= faer::Scale(lambda);
        self.ls_apply_transpose(r, -1.0, grad);
        0.5 * r.squared_norm_l2() + 0.5 * lambda * w.squared_norm_l2()
    }

    /// aⱼᵀu for column j of A.
    pub fn ls_column_dot(&self, j: usize, u: ColRef<'_, f64>) -> f64 {
        let (x, m) = self.column(j);
        let scale = self.row_scale();
        match (x.try_as_col_major(), u.try_as_col_major(), scale) {
            (Some(x), Some(u), RowScale::Uniform(c)) => {
                c * centred_dot(x.as_slice(), m, None, u.as_slice())
            }
            (Some(x), Some(u), RowScale::PerRow(d)) => {
                centred_dot(x.as_slice(), m, Some(d), u.as_slice())
            }
            _ => (0..x.nrows())
                .map(|i| scale.get(i) * (x[i] - m) * u[i])
                .sum(),
        }
    }

    /// u ← u + alpha·aⱼ for column j of A.
    pub fn ls_column_axpy(&self, j: usize, alpha: f64, mut u: ColMut<'_, f64>) {
        let (x, m) = self.column(j);
        let scale = self.row_scale();
        match (
            x.try_as_col_major(),
            u.rb_mut().try_as_col_major_mut(),
            scale,
        ) {
            (Some(x), Some(u), RowScale::Uniform(c)) => u
                .as_slice_mut()
                .iter_mut()
                .zip(x.as_slice())
                .for_each(|(u, x)| *u += alpha * c * (x - m)),
            (Some(x), Some(u), RowScale::PerRow(d)) => u
                .as_slice_mut()
                .iter_mut()
                .zip(x.as_slice().iter().zip(d))
                .for_each(|(u, (x, d))| *u += alpha * d * (x - m)),
            _ => (0..x.nrows()).for_each(|i| u[i] += alpha * scale.get(i) * (x[i] - m)),
        }
    }

    /// ‖aⱼ‖² for every column: the diagonal of AᵀA = XcᵀSXc/S.
    pub fn ls_column_norms_sq(&self) -> Col<f64> {
        let scale = self.row_scale();
        Col::from_fn(self.dim(), |j| {
            let (x, m) = self.column(j);
            (0..x.nrows())
                .map(|i| (scale.get(i) * (x[i] - m)).powi(2))
                .sum()
        })
    }

    /// Column j of X and its mean x̄ⱼ.
    fn column(&self, j: usize) -> (ColRef<'_, f64>, f64) {
        let p = self.problem;
        (p.x().col(j), p.x_mean()[j])
    }
}

/// D = diag(√(sᵢ/S)): one number without weights, so that column sweeps read only X and u.
enum RowScale {
    Uniform(f64),
    PerRow(Vec<f64>),
}

impl RowScale {
    #[inline]
    fn get(&self, i: usize) -> f64 {
        match self {
            RowScale::Uniform(c) => *c,
            RowScale::PerRow(d) => d[i],
        }
    }

    /// v ← D·v.
    fn apply(&self, mut v: ColMut<'_, f64>) {
        match self {
            RowScale::Uniform(c) => v *= faer::Scale(*c),
            RowScale::PerRow(d) => v.iter_mut().zip(d).for_each(|(v, d)| *v *= d),
        }
    }
}

/// Σᵢ dᵢ·(xᵢ − m)·uᵢ (dᵢ = 1 for `None`) with eight independent partial sums, so that the loop
/// vectorises.
fn centred_dot(x: &[f64], m: f64, d: Option<&[f64]>, u: &[f64]) -> f64 {
    const W: usize = 8;
    let split = x.len() - x.len() % W;
    let mut acc = [0.0; W];
    match d {
        None => {
            for (x, u) in x[..split].chunks_exact(W).zip(u.chunks_exact(W)) {
                for k in 0..W {
                    acc[k] += (x[k] - m) * u[k];
                }
            }
        }
        Some(d) => {
            for ((x, d), u) in x[..split]
                .chunks_exact(W)
                .zip(d.chunks_exact(W))
                .zip(u.chunks_exact(W))
            {
                for k in 0..W {
                    acc[k] += d[k] * (x[k] - m) * u[k];
                }
            }
        }
    }
    let tail: f64 = (split..x.len())
        .map(|i| d.map_or(1.0, |d| d[i]) * (x[i] - m) * u[i])
        .sum();
    acc.iter().sum::<f64>() + tail
}
