//! The smooth objectives that iterative methods minimise, behind one small interface.
//!
//! Iterative backends never touch the squared loss directly: they see an [`Objective`] (value,
//! gradient, per-sample gradients, smoothness and strong-convexity constants). The ridge problem
//! provides [`LeastSquares`]; a logistic loss will provide another implementation and reuse every
//! method unchanged.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::reborrow::ReborrowMut;
use faer::{Accum, Col, ColMut, ColRef, Par};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use crate::design::{SampleRows, prefetch};
use crate::linalg::dot;
use crate::problem::RidgeProblem;

/// A smooth, strongly convex function of θ = (w, b) ∈ ℝᵖ, p = d or d + 1:
///
/// ```text
/// f(θ) = (1/S)·Σᵢ sᵢ·φ(xᵢᵀw + b; yᵢ) + (λ/2)·‖w‖²
/// ```
///
/// The first [`Objective::n_penalised`] variables are the coefficients w, which the penalty
/// applies to; a trailing variable, when [`Objective::dim`] is larger, is a free (unpenalised)
/// intercept b. Objectives that eliminate the intercept (the ridge [`LeastSquares`]) have p = d.
///
/// Every implementation counts the passes over the data it makes in its [`PassCounter`], so that
/// the driver, not each method, reports what a run read.
pub trait Objective: Sync {
    /// p, the number of variables (d, plus one for a free intercept).
    fn dim(&self) -> usize;
    /// d, the number of leading variables the penalty (λ/2)·‖θ[..d]‖² applies to.
    fn n_penalised(&self) -> usize {
        self.dim()
    }
    /// n, the number of samples (terms ℓᵢ).
    fn n_samples(&self) -> usize;
    /// f(θ); writes ∇f(θ) into `grad`. Costs one pass over the data.
    fn value_gradient(&self, theta: ColRef<'_, f64>, grad: ColMut<'_, f64>) -> f64;
    /// out ← ∇²f(θ)·v, the Hessian-vector product (one pass over the data).
    fn hessian_vector(&self, theta: ColRef<'_, f64>, v: ColRef<'_, f64>, out: ColMut<'_, f64>);
    /// L: the largest eigenvalue of ∇²f over the iterates' region (for a quadratic, exactly; for
    /// other losses, the bound from the loss's largest curvature), an estimate, not a loose bound.
    fn smoothness(&self) -> f64;
    /// μ: a lower bound on the smallest eigenvalue of ∇²f (λ when nothing better is known).
    fn strong_convexity(&self) -> f64;
    /// The ℓ₂ penalty λ (the part of f that is not a sum over samples), on w only.
    fn penalty(&self) -> f64;
    /// The pass counter this objective charges its reads of the data to.
    fn pass_counter(&self) -> &PassCounter;
    /// Passes over the data made so far (set-up work such as estimating L included).
    fn passes(&self) -> f64 {
        self.pass_counter().get()
    }
    /// A hint from a method that will take many full gradients (gd, agd, lbfgs): the objective
    /// may build the design's sample-major copy (one more X of memory, shared with the
    /// stochastic backends and with every later fit on the same design), over which a gradient
    /// is one read of X at the memory's full rate (`fused_rows_pass`). Nothing by default.
    fn expect_many_gradients(&self) {}
    /// The linear least-squares structure f(θ) = ½‖b − A·θ‖² + (λ/2)‖θ‖², for methods that need
    /// it (CGLS, coordinate descent with residual updates); `None` for other losses.
    fn least_squares(&self) -> Option<&LeastSquares<'_>> {
        None
    }

    /// Whether a point this objective has evaluated proves that it has no minimiser: at λ = 0,
    /// a point at which every sample of positive weight is separated by the loss
    /// ([`crate::loss::Loss::separates`]). The driver checks it after every step and stops with
    /// [`crate::Error::Separable`].
    fn separated(&self) -> bool {
        false
    }

    /// The Newton system at θ (with ∇f(θ) = `grad`), formed explicitly, for second-order
    /// methods; `None` when the objective does not form its Hessian. Costs about one pass.
    fn newton_system(
        &self,
        _theta: ColRef<'_, f64>,
        _grad: ColRef<'_, f64>,
    ) -> Option<crate::error::Result<NewtonSystem>> {
        None
    }

    // --- Per-sample access, for stochastic methods. -------------------------------------------
    //
    // The losses are those of a linear prediction, ℓᵢ(θ) = φᵢ(x̃ᵢᵀθ) with x̃ᵢ = xᵢ (plus a
    // trailing 1 when the intercept is a variable), so the gradient of the i-th term
    // fᵢ = (n·sᵢ/S)·ℓᵢ (whose mean over i is the data part of f) is a scalar times a fixed row:
    // ∇fᵢ(θ) = gᵢ(θ)·x̃ᵢ with the *slope* gᵢ(θ) = (n·sᵢ/S)·φᵢ'(x̃ᵢᵀθ). A method that remembers
    // per-sample gradients (SAG, SAGA, SVRG's snapshot) therefore stores one scalar per sample,
    // not a p-vector (Schmidt, Le Roux & Bach, 2017, §4.1).
    //
    // The sample index i of these methods numbers the samples in the objective's own storage
    // order, which need not be the order of the data rows (for `LeastSquares` it is a fixed
    // random permutation of them); `value_gradient_slopes` uses the same numbering. Means over
    // samples do not depend on the numbering, and samples i, i + 1, … are adjacent in memory.
    //
    // These two are called once per sample step, in loops of O(d) work, so they take and return
    // plain slices: contiguous by type, which lets the compiler vectorise the loops around them.
    // They are not counted per call (an atomic add per sample would cost more than the step):
    // a method charges its sample steps with [`PassCounter::add_samples`] once per epoch.

    /// The row x̃ᵢ (as the objective sees it, e.g. centred, with the intercept's 1), of length p.
    fn sample_row(&self, i: usize) -> &[f64];
    /// The slope gᵢ(θ): ∇fᵢ(θ) = gᵢ(θ)·x̃ᵢ, and the data part of ∇f is (1/n)·Σᵢ gᵢ(θ)·x̃ᵢ.
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
    /// A hint that sample i will be read soon ([`Objective::sample_row`], [`Objective::sample_slope`]):
    /// an implementation may start loading its data into cache, so that a method that knows its
    /// next samples in advance does not wait on memory for each one. It changes no result.
    fn prefetch_sample(&self, _i: usize) {}
}

/// The Newton system ∇²f(θ)·Δ = ∇f(θ) of a linear-prediction objective with its free intercept
/// eliminated, as formed by [`crate::risk::EmpiricalRisk`]:
///
/// ```text
/// (XcᵀCXc + S·λ·I)·Δw = S·(g_w − m·g_b),     Δb = (S/Σcᵢ)·g_b − mᵀΔw
/// ```
///
/// with the curvature weights cᵢ = sᵢ·φ''(mᵢ; yᵢ), Xc centred by their weighted mean, and m the
/// shift from the objective's centring to that mean (no Δb and no shift without an intercept).
/// The matrix comes from the shared moment routine ([`crate::moments::Moments::compute`] with
/// weights c), equilibrated by powers of two ([`crate::moments::GramSystem`]).
#[derive(Debug, Clone)]
pub struct NewtonSystem {
    /// D·(XcᵀCXc + S·λ·I)·D (lower triangle) and the scaling D.
    pub gram: crate::moments::GramSystem,
    /// D·S·(g_w − m·g_b).
    pub rhs: Col<f64>,
    /// The parallelism of the problem, for the factorisation.
    pub par: faer::Par,
    /// (m, (S/Σcᵢ)·g_b) when the intercept is a variable.
    pub(crate) intercept: Option<(Col<f64>, f64)>,
}

impl NewtonSystem {
    /// The Newton direction Δθ = (Δw, Δb) from the solution v of the scaled system A·v = rhs.
    pub fn direction(&self, v: ColRef<'_, f64>) -> Col<f64> {
        let scale = &self.gram.scale;
        let d = scale.nrows();
        let dw = Col::from_fn(d, |j| scale[j] * v[j]);
        match &self.intercept {
            None => dw,
            Some((shift, gb)) => {
                let db = gb - dot(shift.as_ref(), dw.as_ref());
                Col::from_fn(d + 1, |j| if j < d { dw[j] } else { db })
            }
        }
    }
}

/// The gradient of the penalty, λ·w on the penalised variables and 0 on a free intercept:
/// `out ← grad − λ·(θ[..d], 0)`, the data part of a gradient.
pub fn data_part(
    objective: &dyn Objective,
    theta: ColRef<'_, f64>,
    grad: ColRef<'_, f64>,
) -> Col<f64> {
    let (lambda, d) = (objective.penalty(), objective.n_penalised());
    Col::from_fn(grad.nrows(), |j| {
        if j < d {
            grad[j] - lambda * theta[j]
        } else {
            grad[j]
        }
    })
}

/// Passes over the data, counted by the objective that makes them (one full gradient = 1, a
/// product with X or Xᵀ alone = ½, one sample gradient = 1/n).
///
/// Shared by reference, so it is an atomic: the objective is `Sync`, and its set-up work
/// (estimating L) may run inside a method's constructor.
#[derive(Debug, Default)]
pub struct PassCounter(AtomicU64);

impl PassCounter {
    /// Adds `passes` (a fraction of a pass is fine).
    pub fn add(&self, passes: f64) {
        let mut current = self.0.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + passes).to_bits();
            match self
                .0
                .compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }

    /// Charges `count` sample gradients out of `n` samples: `count / n` passes.
    pub fn add_samples(&self, count: usize, n: usize) {
        if n > 0 {
            self.add(count as f64 / n as f64);
        }
    }

    /// The passes counted so far.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// The ridge objective with the intercept eliminated: for θ = w,
///
/// ```text
/// f(w) = 1/(2S)·‖S^½(yc − Xc·w)‖² + (λ/2)‖w‖²  =  min_b J(w, b)
/// ```
///
/// Centring is done on the fly (Xc·w = X·w − (x̄ᵀw)·1), so X is never copied for the batch
/// gradient. Stochastic methods get a sample-major centred copy, built once on first use, because
/// reading one row of a column-major X touches d cache lines. The copy stores the samples in a
/// fixed pseudo-random order, which is the numbering of the per-sample methods, so that a run of
/// consecutive samples is a random subset of the data even when the data rows are sorted.
pub struct LeastSquares<'p> {
    problem: &'p RidgeProblem<'p>,
    /// L, by the Lanczos method (one pass per step, counted).
    smoothness: OnceLock<f64>,
    /// ycᵢ of each sample, in the storage order of the design's shared sample-major copy.
    yc: OnceLock<Vec<f64>>,
    /// D = diag(√(sᵢ/S)) of the least-squares form, built on first use.
    row_scale: OnceLock<RowScale>,
    /// When the solve's time budget runs out: set-up loops (the Lanczos iteration for L) stop there.
    deadline: Option<Instant>,
    passes: PassCounter,
    /// Set by [`Objective::expect_many_gradients`]: value and gradient then read the design's
    /// sample-major copy. Per objective, never inferred from whether the design already holds a
    /// copy, so a method's result does not depend on what ran before it on the same data.
    use_copy: OnceLock<()>,
}

impl<'p> LeastSquares<'p> {
    /// The profile objective of a ridge problem.
    pub fn new(problem: &'p RidgeProblem<'p>) -> Self {
        Self {
            problem,
            smoothness: OnceLock::new(),
            yc: OnceLock::new(),
            row_scale: OnceLock::new(),
            deadline: None,
            passes: PassCounter::default(),
            use_copy: OnceLock::new(),
        }
    }

    /// Stops set-up work that would otherwise run past `deadline` (the end of the solve's time
    /// budget): the Lanczos iteration for [`Objective::smoothness`] ends after its current step.
    /// L is then an underestimate (a Rayleigh quotient, ≤ the true L), which is harmless in the
    /// shared driver: its budget is spent by then, so it stops before any step uses L.
    pub fn with_deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// The problem this objective was built from.
    pub fn problem(&self) -> &RidgeProblem<'p> {
        self.problem
    }

    /// f(w) = (1/(2S))·Σ sᵢrᵢ² + (λ/2)‖w‖² with r = yc − Xc·w, ∇f = λw − (1/S)·XcᵀS·r into
    /// `grad`, and (if `want_u`) uᵢ = −sᵢrᵢ/S (so that ∇f = Xcᵀu + λw), in one read of X
    /// ([`fused_pass`], or [`fused_rows_pass`] over the sample-major copy after
    /// [`Objective::expect_many_gradients`]).
    fn evaluate(
        &self,
        w: ColRef<'_, f64>,
        mut grad: ColMut<'_, f64>,
        want_u: bool,
    ) -> (f64, Col<f64>) {
        let p = self.problem;
        // The row terms of ½·(weight)·r² with weights scaled by `inv` (1/S, or 1/n for the
        // copy's factorₖ = n·s_r/S, so that (1/S)·Σ s·(…) = (1/n)·Σ factor·(…)).
        let terms = |weight: f64, r: f64, inv: f64| RowTerms {
            value: weight * r * r,
            u: -weight * r * inv,
            flag: true,
        };
        let (sum, xctu, inv, u) = if self.use_copy.get().is_some() && !want_u {
            let rows = self.sample_major();
            // Samples in the copy's order: ycₖ and factorₖ.
            let (targets, inv_n) = (self.sample_targets(), 1.0 / rows.n_samples() as f64);
            let pass = fused_rows_pass(rows, w, 0.0, p.par(), |k, m| {
                terms(rows.factor[k], targets[k] - m, inv_n)
            });
            (pass.value, pass.xtu, inv_n, Col::zeros(0))
        } else {
            let inv_s = 1.0 / p.weight_sum();
            let outputs = FusedOutputs {
                u: want_u,
                margins: false,
                xctu: true,
            };
            // The prediction is mᵢ = (xᵢ − x̄)ᵀw + ȳ.
            let pass = fused_pass(p, w, p.y_mean(), outputs, |i, m| {
                terms(p.weight(i), p.y()[i] - m, inv_s)
            });
            (pass.value, pass.xctu, inv_s, pass.u)
        };
        let lambda = p.lambda();
        for j in 0..w.nrows() {
            grad[j] = xctu[j] + lambda * w[j];
        }
        (0.5 * sum * inv + 0.5 * lambda * w.squared_norm_l2(), u)
    }

    /// The design's shared sample-major copy (built on first use, once per design).
    fn sample_major(&self) -> &SampleRows {
        self.problem.design().rows(false)
    }

    /// ycₖ = y_r − ȳ of each sample k (data row r = order[k]).
    fn sample_targets(&self) -> &[f64] {
        self.yc.get_or_init(|| {
            let p = self.problem;
            self.sample_major()
                .order
                .iter()
                .map(|&i| p.y()[i] - p.y_mean())
                .collect()
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
        self.passes.add(1.0);
        self.evaluate(w, grad, false).0
    }

    /// H·v = (1/S)·XcᵀS·Xc·v + λv: the Hessian is constant, θ does not enter.
    fn hessian_vector(&self, _w: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        self.passes.add(1.0);
        let hv = gram_vector(self.problem, v);
        out.copy_from(&hv);
        out += faer::Scale(self.problem.lambda()) * v;
    }

    /// σ_max(S^½Xc)²/S + λ, σ_max by the Lanczos method on XcᵀSXc (≤ 100 steps, stopped at a 1e-6
    /// relative change or at the deadline, see [`LeastSquares::with_deadline`]). A completed
    /// estimate is cached with the design (it does not depend on λ or y), so every λ of a path
    /// and every target share one Lanczos iteration.
    fn smoothness(&self) -> f64 {
        let p = self.problem;
        *self.smoothness.get_or_init(|| {
            let copy = self.use_copy.get().map(|()| self.sample_major());
            gram_top_eigenvalue(p, self.deadline, &self.passes, copy) + p.lambda()
        })
    }

    fn pass_counter(&self) -> &PassCounter {
        &self.passes
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

    fn expect_many_gradients(&self) {
        self.sample_major();
        let _ = self.use_copy.set(());
    }

    /// The Hessian is the Gram system's matrix over S, for every w: H = (XcᵀSXc + S·λ·I)/S,
    /// so Δ = S·D·A⁻¹·D·g with the problem's cached equilibrated system A (the moments are
    /// formed once, and charged as one pass only then).
    fn newton_system(
        &self,
        _theta: ColRef<'_, f64>,
        grad: ColRef<'_, f64>,
    ) -> Option<crate::error::Result<NewtonSystem>> {
        let p = self.problem;
        // Forming the moments reads X once; later systems (and other λ) reuse them.
        if !p.has_moments() {
            self.passes.add(1.0);
        }
        let gram = p.gram_system();
        let s = p.weight_sum();
        let rhs = Col::from_fn(grad.nrows(), |j| gram.scale[j] * s * grad[j]);
        Some(Ok(NewtonSystem {
            gram,
            rhs,
            par: p.par(),
            intercept: None,
        }))
    }

    fn sample_row(&self, i: usize) -> &[f64] {
        self.sample_major().row(i)
    }

    /// gᵢ(w) = −(n·sᵢ/S)·(ycᵢ − x̃ᵢᵀw): ∇ of ½·(n·sᵢ/S)·(ycᵢ − x̃ᵢᵀw)² is gᵢ·x̃ᵢ.
    fn sample_slope(&self, i: usize, w: &[f64]) -> f64 {
        let rows = self.sample_major();
        -rows.factor[i] * (self.sample_targets()[i] - centred_dot(rows.row(i), 0.0, None, w))
    }

    /// The slopes are −(n/S)·u_r (r = data row of sample k) with u = s ∘ (yc − Xc·w) the weighted residuals that the
    /// gradient needs anyway.
    fn value_gradient_slopes(
        &self,
        w: ColRef<'_, f64>,
        grad: ColMut<'_, f64>,
        slopes: ColMut<'_, f64>,
    ) -> f64 {
        self.passes.add(1.0);
        let (value, u) = self.evaluate(w, grad, true);
        let n = self.problem.n_samples() as f64;
        // In the numbering of the per-sample methods: sample k is data row order[k].
        slopes
            .iter_mut()
            .zip(&self.sample_major().order)
            .for_each(|(g, &r)| *g = n * u[r]);
        value
    }

    fn max_sample_smoothness(&self) -> f64 {
        self.sample_major().max_smoothness
    }

    /// Prefetches the row x̃ᵢ and the scalars ycᵢ and n·sᵢ/S that [`Objective::sample_slope`]
    /// reads: in a random sample order each row is a cache miss otherwise.
    fn prefetch_sample(&self, i: usize) {
        let rows = self.sample_major();
        prefetch(self.sample_row(i));
        prefetch(&self.sample_targets()[i..=i]);
        prefetch(&rows.factor[i..=i]);
    }
}

/// out ← out + alpha·Xcᵀv, using Xcᵀv = Xᵀv − x̄·Σvᵢ so that X is read as it is.
pub(crate) fn add_xct(
    p: &RidgeProblem<'_>,
    v: ColRef<'_, f64>,
    alpha: f64,
    mut out: ColMut<'_, f64>,
) {
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

/// out ← Xc·v + shift (X·v − x̄ᵀv + shift, X read as it is), one product with X.
pub(crate) fn xc_times(p: &RidgeProblem<'_>, v: ColRef<'_, f64>, shift: f64) -> Col<f64> {
    let mut out = Col::from_fn(p.n_samples(), |_| shift - dot(p.x_mean(), v));
    matmul(
        out.as_mat_mut(),
        Accum::Add,
        p.x(),
        v.as_mat(),
        1.0,
        p.par(),
    );
    out
}

/// What one row contributes to a [`fused_pass`]: its term of the objective, its weight uᵢ in
/// the gradient Xcᵀu, and a flag the pass ANDs over all rows.
pub(crate) struct RowTerms {
    pub value: f64,
    pub u: f64,
    pub flag: bool,
}

/// The result of a [`fused_pass`].
pub(crate) struct FusedPass {
    /// Σᵢ of the rows' values.
    pub value: f64,
    /// uᵢ for every row (empty unless asked for).
    pub u: Col<f64>,
    /// Σᵢ uᵢ.
    pub sum_u: f64,
    /// Xcᵀu = Xᵀu − x̄·Σu (empty when not asked for).
    pub xctu: Col<f64>,
    /// Whether every row's flag was set.
    pub all_flagged: bool,
    /// The predictions mᵢ, when asked to keep them.
    pub margins: Option<Col<f64>>,
}

/// What a [`fused_pass`] returns besides the value: the per-row weights u (an n-vector), the
/// predictions (another), and Xcᵀu. A method that needs only the gradient asks for Xcᵀu alone,
/// and the pass then writes no n-vector at all: each block's u lives in a per-thread buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FusedOutputs {
    pub u: bool,
    pub margins: bool,
    pub xctu: bool,
}

/// One read of X for a linear-prediction objective: mᵢ = (xᵢ − x̄)ᵀw + b, `row(i, mᵢ)`, and
/// Xcᵀu.
///
/// The rows are taken in blocks small enough to stay in cache between the two products
/// ([`fused_block_rows`]):
/// mᴮ = Xᴮ·w + (b − x̄ᵀw), the row terms, then Xᴮᵀ·uᴮ while Xᴮ is still there, instead of X·w
/// over all of X and then Xᵀ·u over all of it again. The iterative methods are bound by memory
/// bandwidth, so this halves a gradient's cost on data larger than the cache. Blocks run in
/// parallel (with the problem's parallelism); their partial sums are added in block order, so
/// the result does not depend on the number of threads. The centring is applied once at the
/// end: Xcᵀu = Xᵀu − x̄·Σu.
pub(crate) fn fused_pass(
    p: &RidgeProblem<'_>,
    w: ColRef<'_, f64>,
    b: f64,
    outputs: FusedOutputs,
    row: impl Fn(usize, f64) -> RowTerms + Sync,
) -> FusedPass {
    let (n, d) = (p.n_samples(), p.n_features());
    let shift = b - dot(p.x_mean(), w);
    let rows = fused_block_rows(d);
    let mut u = Col::zeros(if outputs.u { n } else { 0 });
    let mut margins = Col::zeros(if outputs.margins { n } else { 0 });
    // `u` (when kept) or a buffer of one block's rows; `kept` empty unless margins are kept.
    let block = |k: usize, u: &mut [f64], kept: &mut [f64]| -> BlockSums {
        let start = k * rows;
        let xb = p.x().subrows(start, u.len());
        matmul(
            ColMut::from_slice_mut(&mut *u).as_mat_mut(),
            Accum::Replace,
            xb,
            w.as_mat(),
            1.0,
            Par::Seq,
        );
        let mut sums = BlockSums {
            value: 0.0,
            sum_u: 0.0,
            flag: true,
            xtu: None,
        };
        for (r, ui) in u.iter_mut().enumerate() {
            let m = *ui + shift;
            if let Some(k) = kept.get_mut(r) {
                *k = m;
            }
            let terms = row(start + r, m);
            sums.value += terms.value;
            sums.flag &= terms.flag;
            sums.sum_u += terms.u;
            *ui = terms.u;
        }
        if outputs.xctu {
            let mut g = Col::zeros(d);
            let ub = ColRef::from_slice(u);
            matmul(
                g.as_mat_mut(),
                Accum::Replace,
                xb.transpose(),
                ub.as_mat(),
                1.0,
                Par::Seq,
            );
            sums.xtu = Some(g);
        }
        sums
    };
    let blocks = n.div_ceil(rows);
    // Block k's slice of an n-vector that is kept, or an empty slice for each block.
    fn chunks(v: &mut Col<f64>, rows: usize, blocks: usize) -> Vec<&mut [f64]> {
        match v.as_mut().try_as_col_major_mut() {
            Some(c) if c.nrows() > 0 => c.as_slice_mut().chunks_mut(rows).collect(),
            _ => (0..blocks).map(|_| <&mut [f64]>::default()).collect(),
        }
    }
    let tasks: Vec<_> = chunks(&mut u, rows, blocks)
        .into_iter()
        .zip(chunks(&mut margins, rows, blocks))
        .enumerate()
        .collect();
    let run = |scratch: &mut Vec<f64>, (k, (u, kept)): (usize, (&mut [f64], &mut [f64]))| {
        let len = rows.min(n - k * rows);
        if u.is_empty() {
            scratch.resize(len, 0.0);
            block(k, &mut scratch[..len], kept)
        } else {
            block(k, u, kept)
        }
    };
    let parts: Vec<BlockSums> = if p.par().degree() > 1 && n > rows {
        use rayon::prelude::*;
        tasks.into_par_iter().map_init(Vec::new, run).collect()
    } else {
        let mut scratch = Vec::new();
        tasks.into_iter().map(|t| run(&mut scratch, t)).collect()
    };
    let mut out = FusedPass {
        value: 0.0,
        u,
        sum_u: 0.0,
        xctu: Col::zeros(if outputs.xctu { d } else { 0 }),
        all_flagged: true,
        margins: outputs.margins.then_some(margins),
    };
    for part in &parts {
        out.value += part.value;
        out.all_flagged &= part.flag;
        out.sum_u += part.sum_u;
        if let Some(g) = &part.xtu {
            out.xctu += g;
        }
    }
    if outputs.xctu {
        for (g, m) in out.xctu.iter_mut().zip(p.x_mean().iter()) {
            *g -= m * out.sum_u;
        }
    }
    out
}

/// The sums of a [`fused_rows_pass`].
pub(crate) struct RowsPass {
    /// Σₖ of the samples' values.
    pub value: f64,
    /// Σₖ uₖ.
    pub sum_u: f64,
    /// Σₖ uₖ·x̃ₖ over the copy's stride (the trailing 1's entry, when present, is Σu again).
    pub xtu: Col<f64>,
    /// Whether every sample's flag was set.
    pub all_flagged: bool,
}

/// Samples per block of a [`fused_rows_pass`]: partial sums per block, added in block order.
const ROWS_PASS_BLOCK: usize = 4096;

/// One read of the design's sample-major copy: for each sample k, mₖ = x̃ₖᵀθ + `offset`
/// (x̃ₖ the centred row, with its trailing 1 when the copy has one; θ of the copy's stride),
/// `row(k, mₖ)` and Σₖ uₖ·x̃ₖ.
///
/// The same gradient as [`fused_pass`], for the methods that take many of them (gd, agd,
/// lbfgs: [`Objective::expect_many_gradients`]). Each row is one contiguous run of memory, used
/// for both products while it is in L1, so the pass streams X at the memory's read rate: 28.6
/// against 41.5 ms for the column-major [`fused_pass`] on 1 000 000 × 100 with 2 threads (the
/// column-major pass reads each block as d short column segments, which the hardware fetches
/// ahead of use far less well). Blocks of [`ROWS_PASS_BLOCK`] samples run in parallel under
/// `par` and their sums are added in block order: the result does not depend on the number of
/// threads.
pub(crate) fn fused_rows_pass(
    rows: &SampleRows,
    theta: ColRef<'_, f64>,
    offset: f64,
    par: Par,
    row: impl Fn(usize, f64) -> RowTerms + Sync,
) -> RowsPass {
    let p = rows.stride();
    debug_assert_eq!(theta.nrows(), p);
    let theta: Vec<f64> = theta.iter().copied().collect();
    let n = rows.n_samples();
    let block = |b: usize| -> RowsPass {
        let mut out = RowsPass {
            value: 0.0,
            sum_u: 0.0,
            xtu: Col::zeros(p),
            all_flagged: true,
        };
        let g = out
            .xtu
            .as_mut()
            .try_as_col_major_mut()
            .expect("an owned Col is contiguous")
            .as_slice_mut();
        for k in b * ROWS_PASS_BLOCK..((b + 1) * ROWS_PASS_BLOCK).min(n) {
            let x = rows.row(k);
            let terms = row(k, row_dot(x, &theta) + offset);
            out.value += terms.value;
            out.sum_u += terms.u;
            out.all_flagged &= terms.flag;
            g.iter_mut().zip(x).for_each(|(g, x)| *g += terms.u * x);
        }
        out
    };
    let blocks = n.div_ceil(ROWS_PASS_BLOCK);
    let parts: Vec<RowsPass> = if par.degree() > 1 && blocks > 1 {
        use rayon::prelude::*;
        (0..blocks).into_par_iter().map(block).collect()
    } else {
        (0..blocks).map(block).collect()
    };
    let mut total = RowsPass {
        value: 0.0,
        sum_u: 0.0,
        xtu: Col::zeros(p),
        all_flagged: true,
    };
    for part in &parts {
        total.value += part.value;
        total.sum_u += part.sum_u;
        total.all_flagged &= part.all_flagged;
        total.xtu += &part.xtu;
    }
    total
}

/// aᵀb with eight independent partial sums (one running sum is a chain of dependent adds, a
/// quarter of an element per cycle), added pairwise at the end; the order is fixed.
#[inline]
fn row_dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// One block's share of a [`fused_pass`].
struct BlockSums {
    value: f64,
    sum_u: f64,
    flag: bool,
    /// Xᴮᵀ·uᴮ, when wanted.
    xtu: Option<Col<f64>>,
}

/// Rows per block of a [`fused_pass`]: about 1 MiB of X, which stays in a core's L2 cache
/// between the two products. Measured on 1 000 000 × 100 with 2 threads (per-iteration time of
/// `gd` from its `--history` timestamps): 51.7 ms at 128 KiB blocks, 48.2 at 256 KiB, 46.6 at
/// 512 KiB, 41.8 at 1 MiB and at 2 MiB, 50 at 4 MiB.
fn fused_block_rows(d: usize) -> usize {
    (131_072 / d.max(1)).clamp(64, 8192)
}

/// (1/S)·XcᵀS·Xc·v, reading X twice (X·v, then Xᵀ of it), uncounted: callers count.
fn gram_vector(p: &RidgeProblem<'_>, v: ColRef<'_, f64>) -> Col<f64> {
    let mut xv = xc_times(p, v, 0.0);
    for (i, e) in xv.iter_mut().enumerate() {
        *e *= p.weight(i);
    }
    let mut hv = Col::zeros(p.n_features());
    add_xct(p, xv.as_ref(), 1.0 / p.weight_sum(), hv.as_mut());
    hv
}

/// σ_max(S^½Xc)²/S by the Lanczos method on XcᵀSXc ([`largest_eigenvalue`], one pass per step,
/// charged to `passes`). A completed estimate is cached with the design (it depends on neither
/// λ nor y), so every λ of a path, every target and every loss on the same design share one
/// Lanczos iteration; an estimate cut short by the deadline (a Rayleigh quotient, ≤ the true
/// value) is returned but not cached.
pub(crate) fn gram_top_eigenvalue(
    p: &RidgeProblem<'_>,
    deadline: Option<Instant>,
    passes: &PassCounter,
    copy: Option<&SampleRows>,
) -> f64 {
    let cache = p.design().cache();
    if let Some(top) = cache.top_eigenvalue(copy.is_some()) {
        return top;
    }
    let (estimate, completed) = largest_eigenvalue(p.n_features(), deadline, |v| {
        passes.add(1.0);
        match copy {
            Some(rows) => gram_vector_rows(rows, v, p.par()),
            None => gram_vector(p, v),
        }
    });
    if completed {
        cache.set_top_eigenvalue(copy.is_some(), estimate);
    }
    estimate
}

/// (1/S)·XcᵀS·Xc·v over the sample-major copy, one read ([`fused_rows_pass`]): with
/// factorₖ = n·s_r/S it is (1/n)·Σₖ factorₖ·(x̃ₖᵀv)·x̃ₖ, v padded with 0 past a trailing 1.
fn gram_vector_rows(rows: &SampleRows, v: ColRef<'_, f64>, par: Par) -> Col<f64> {
    let d = v.nrows();
    let theta = Col::from_fn(rows.stride(), |j| if j < d { v[j] } else { 0.0 });
    let inv_n = 1.0 / rows.n_samples() as f64;
    let pass = fused_rows_pass(rows, theta.as_ref(), 0.0, par, |k, m| RowTerms {
        value: 0.0,
        u: rows.factor[k] * m * inv_n,
        flag: true,
    });
    pass.xtu.as_ref().subrows(0, d).to_owned()
}

/// The largest eigenvalue of a symmetric positive semi-definite d × d operator `apply`
/// (v ↦ G·v), by the Lanczos method with full reorthogonalisation from a seeded random vector.
///
/// After k products, the largest eigenvalue θ of the k × k tridiagonal Tₖ (a Rayleigh quotient
/// of G, so θ ≤ λ_max) has an eigenvalue of G within βₖ·|sₖ| of it, s its unit eigenvector
/// in Tₖ and βₖ the norm of the next Lanczos vector before scaling (Parlett, *The Symmetric
/// Eigenvalue Problem*, 1998). The iteration stops once that bound is ≤ 1e-6·θ (then also
/// when βₖ = 0, the Krylov space being invariant, and at k = d, where it is all of ℝᵈ), after
/// 100 products, or after the product at which `deadline` has passed. Returns θ and whether it
/// completed. With gap ratio γ = (λ₁ − λ₂)/(λ₂ − λ_d) its error falls like e^(−2k√γ) rather than
/// the power method's (λ₂/λ₁)^(2k) (Kaniel–Paige–Saad): on X of 1 000 000 × 100 with κ(Xc) = 10
/// it completes in 24 products (15 at κ = 1000) where the power iteration used for this before had not reached
/// 1e-6 after 100. Each product is one pass over X; the rest is O(k·d) per step.
pub(crate) fn largest_eigenvalue(
    d: usize,
    deadline: Option<Instant>,
    mut apply: impl FnMut(ColRef<'_, f64>) -> Col<f64>,
) -> (f64, bool) {
    const MAX_PRODUCTS: usize = 100;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed);
    let mut v: Col<f64> = Col::from_fn(d, |_| StandardNormal.sample(&mut rng));
    let norm = v.norm_l2();
    if norm == 0.0 {
        // d = 0: the operator has no eigenvalue; 0 is the bound every caller wants.
        return (0.0, true);
    }
    v /= faer::Scale(norm);
    let (mut basis, mut alpha, mut beta) = (Vec::<Col<f64>>::new(), Vec::new(), Vec::new());
    let mut estimate = 0.0;
    for k in 1..=MAX_PRODUCTS.min(d) {
        let mut w = apply(v.as_ref());
        alpha.push(dot(v.as_ref(), w.as_ref()));
        basis.push(v);
        // w ← (I − VVᵀ)·w twice (Kahan's "twice is enough"): the Lanczos vectors stay
        // orthogonal to working precision, so no ghost copies of λ₁ appear.
        for _ in 0..2 {
            for q in &basis {
                let c = dot(q.as_ref(), w.as_ref());
                w -= faer::Scale(c) * q;
            }
        }
        let b = w.norm_l2();
        let (theta, last) = top_ritz_pair(&alpha, &beta);
        estimate = theta;
        if b * last.abs() <= 1e-6 * theta || k == d {
            return (theta, true);
        }
        if deadline.is_some_and(|t| Instant::now() >= t) {
            break;
        }
        beta.push(b);
        v = w / b;
    }
    (estimate, false)
}

/// The largest eigenvalue θ of the symmetric tridiagonal matrix with diagonal `alpha` and
/// off-diagonal `beta` (one shorter), and the last entry of its unit eigenvector.
fn top_ritz_pair(alpha: &[f64], beta: &[f64]) -> (f64, f64) {
    let k = alpha.len();
    let t = faer::Mat::from_fn(k, k, |i, j| match i.abs_diff(j) {
        0 => alpha[i],
        1 => beta[i.min(j)],
        _ => 0.0,
    });
    match t.self_adjoint_eigen(faer::Side::Lower) {
        Ok(eig) => {
            let s = eig.S();
            // The caller has taken at least one Lanczos step: k ≥ 1.
            let top = (0..k)
                .max_by(|&a, &b| s[a].total_cmp(&s[b]))
                .expect("k ≥ 1");
            (s[top], eig.U()[(k - 1, top)])
        }
        // Not seen for a small symmetric tridiagonal matrix; the largest diagonal entry is a
        // Rayleigh quotient (a valid lower bound), and an infinite residual keeps iterating.
        Err(_) => (alpha.iter().copied().fold(0.0, f64::max), f64::INFINITY),
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
        self.passes.add(0.5);
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
        self.passes.add(0.5);
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
        self.passes.add(0.5);
        let mut du = u.to_owned();
        self.row_scale().apply(du.as_mut());
        add_xct(self.problem, du.as_ref(), alpha, out);
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
        self.passes.add(0.5 / self.dim() as f64);
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
        self.passes.add(0.5 / self.dim() as f64);
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

    /// ‖aⱼ‖² for every column: the diagonal of AᵀA = XcᵀSXc/S (half a pass the first time on a
    /// design; cached with it).
    pub fn ls_column_norms_sq(&self) -> Col<f64> {
        let cache = self.problem.design().cache();
        cache
            .column_norms(|| {
                self.passes.add(0.5);
                self.compute_column_norms_sq()
            })
            .clone()
    }

    fn compute_column_norms_sq(&self) -> Col<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Synthetic;
    use crate::loss::Logistic;
    use crate::risk::EmpiricalRisk;

    /// (value, gradient) of `objective` at θ.
    fn at(objective: &dyn Objective, theta: &Col<f64>) -> (f64, Col<f64>) {
        let mut g = Col::zeros(objective.dim());
        let v = objective.value_gradient(theta.as_ref(), g.as_mut());
        (v, g)
    }

    #[test]
    fn the_sample_major_pass_matches_the_column_pass_on_any_thread_count() {
        let data = Synthetic {
            n_samples: 10_007,
            n_features: 23,
            offset: 40.0,
            intercept: 1.5,
            ..Default::default()
        }
        .generate()
        .unwrap();
        let weights: Vec<f64> = (0..10_007).map(|i| (i % 5) as f64 * 0.5).collect();
        let labels = Col::from_fn(10_007, |i| if data.y[i] > 1.5 { 1.0 } else { -1.0 });
        // (value, gradient) through the copy, per loss, for one thread then two.
        let mut by_threads: Vec<Vec<(f64, Col<f64>)>> = Vec::new();
        for par in [Par::Seq, Par::rayon(2)] {
            let problem = |y| {
                RidgeProblem::builder(data.x.as_ref(), y)
                    .weights_slice(&weights)
                    .lambda(1e-3)
                    .par(par)
                    .build()
                    .unwrap()
            };
            let ridge = problem(data.y.as_ref());
            let logistic = problem(labels.as_ref());
            let objectives: [Box<dyn Objective>; 2] = [
                Box::new(LeastSquares::new(&ridge)),
                Box::new(EmpiricalRisk::new(&logistic, Logistic)),
            ];
            let mut results = Vec::new();
            for objective in objectives {
                let theta = Col::from_fn(objective.dim(), |j| 0.1 * j as f64 - 0.7);
                let (v0, g0) = at(objective.as_ref(), &theta);
                objective.expect_many_gradients();
                let (v1, g1) = at(objective.as_ref(), &theta);
                assert!((v1 - v0).abs() <= 1e-13 * v0.abs(), "{v0} vs {v1}");
                assert!(
                    (&g1 - &g0).norm_l2() <= 1e-12 * g0.norm_l2(),
                    "{g0:?} vs {g1:?}"
                );
                results.push((v1, g1));
            }
            by_threads.push(results);
        }
        assert_eq!(by_threads[0], by_threads[1]);
    }
}
