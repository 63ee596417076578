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
    /// The linear least-squares structure f(θ) = ½‖b − A·θ‖² + (λ/2)‖θ‖², for methods that need
    /// it (CGLS, coordinate descent with residual updates); `None` for other losses.
    fn least_squares(&self) -> Option<&LeastSquares<'_>> {
        None
    }
    /// Adds `scale`·(n·sᵢ/S)·∇ℓᵢ(θ) for every i in `batch` to `grad`: the terms whose mean over a
    /// uniformly drawn i is the gradient of the data part of f.
    fn add_sample_gradients(
        &self,
        theta: ColRef<'_, f64>,
        batch: &[usize],
        scale: f64,
        grad: ColMut<'_, f64>,
    );
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
    /// D = diag(√(sᵢ/S)) of the least-squares form, built on first use.
    row_scale: OnceLock<Col<f64>>,
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

    fn sample_major(&self) -> &SampleMajor {
        self.rows.get_or_init(|| {
            let p = self.problem;
            let (n, d) = (p.n_samples(), p.n_features());
            let xc = Mat::from_fn(d, n, |j, i| p.x()[(i, j)] - p.x_mean()[j]);
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

    fn value_gradient(&self, w: ColRef<'_, f64>, mut grad: ColMut<'_, f64>) -> f64 {
        let (u, value) = self.weighted_residuals(w);
        grad.copy_from(w);
        grad *= faer::Scale(self.problem.lambda());
        self.add_xct(u.as_ref(), -1.0 / self.problem.weight_sum(), grad);
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

    fn least_squares(&self) -> Option<&LeastSquares<'_>> {
        Some(self)
    }

    fn add_sample_gradients(
        &self,
        w: ColRef<'_, f64>,
        batch: &[usize],
        scale: f64,
        mut grad: ColMut<'_, f64>,
    ) {
        let rows = self.sample_major();
        for &i in batch {
            let x = rows.xc.col(i);
            // ∇ of ½·factor·(yc − xᵀw)² is −factor·(yc − xᵀw)·x.
            let c = -scale * rows.factor[i] * (rows.yc[i] - dot(x, w));
            if c != 0.0 {
                grad.rb_mut()
                    .iter_mut()
                    .zip(x.iter())
                    .for_each(|(g, xv)| *g += c * xv);
            }
        }
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
    fn row_scale(&self) -> &Col<f64> {
        self.row_scale.get_or_init(|| {
            let p = self.problem;
            Col::from_fn(p.n_samples(), |i| (p.weight(i) / p.weight_sum()).sqrt())
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
        r.iter_mut()
            .zip(self.row_scale().iter())
            .for_each(|(r, d)| *r *= d);
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
        out.iter_mut()
            .zip(self.row_scale().iter())
            .for_each(|(o, d)| *o *= d);
    }

    /// out ← out + alpha·Aᵀu.
    pub fn ls_apply_transpose(&self, u: ColRef<'_, f64>, alpha: f64, out: ColMut<'_, f64>) {
        let du = Col::from_fn(u.nrows(), |i| self.row_scale()[i] * u[i]);
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
        let mean = self.problem.x_mean()[j];
        let mut sum = 0.0;
        self.for_column(j, |i, aij| sum += aij * u[i], mean);
        sum
    }

    /// u ← u + alpha·aⱼ for column j of A.
    pub fn ls_column_axpy(&self, j: usize, alpha: f64, mut u: ColMut<'_, f64>) {
        let mean = self.problem.x_mean()[j];
        self.for_column(j, |i, aij| u[i] += alpha * aij, mean);
    }

    /// ‖aⱼ‖² for every column: the diagonal of AᵀA = XcᵀSXc/S.
    pub fn ls_column_norms_sq(&self) -> Col<f64> {
        Col::from_fn(self.dim(), |j| {
            let mut sum = 0.0;
            self.for_column(j, |_, aij| sum += aij * aij, self.problem.x_mean()[j]);
            sum
        })
    }

    /// Calls `f(i, aᵢⱼ)` for i = 0..n, reading column j of X once (contiguously when it is).
    #[inline]
    fn for_column(&self, j: usize, mut f: impl FnMut(usize, f64), mean: f64) {
        let col = self.problem.x().col(j);
        let scale = self.row_scale();
        match col.try_as_col_major() {
            Some(c) => c
                .as_slice()
                .iter()
                .zip(scale.iter())
                .enumerate()
                .for_each(|(i, (x, d))| f(i, d * (x - mean))),
            None => col
                .iter()
                .zip(scale.iter())
                .enumerate()
                .for_each(|(i, (x, d))| f(i, d * (x - mean))),
        }
    }
}
