//! The empirical risk of any [`Loss`] as an [`Objective`]: the loss-generic path.
//!
//! ```text
//! f(w, b̃) = (1/S)·Σᵢ sᵢ·φ((xᵢ − x̄)ᵀw + b̃; yᵢ) + (λ/2)·‖w‖²
//! ```
//!
//! The variables are θ = (w, b̃) with a free, unpenalised intercept b̃ when the problem fits one
//! (θ = w otherwise). The rows are centred by the weighted mean x̄, which is only a change of
//! variables (b = b̃ − x̄ᵀw) that leaves the penalty and the minimiser unchanged, but makes the
//! Hessian block-diagonal to first order, so the intercept direction is as well conditioned as
//! the loss allows. Nothing here assumes the squared loss: for it, this objective and the
//! eliminated-intercept [`crate::objective::LeastSquares`] have the same minimiser (tested below),
//! and the ridge backends use the latter, which is better conditioned still.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use faer::{Col, ColMut, ColRef};

use crate::design::{SampleRows, prefetch};
use crate::fit::Model;

use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::moments::{GramSystem, Moments};
use crate::objective::{
    FusedOutputs, NewtonSystem, Objective, PassCounter, RowTerms, add_xct, fused_pass,
    fused_rows_pass, gram_top_eigenvalue, xc_times,
};
use crate::problem::RidgeProblem;

/// The empirical risk of loss `L` on a problem's data (X, y, s, intercept) with its λ.
pub struct EmpiricalRisk<'p, L: Loss> {
    problem: &'p RidgeProblem<'p>,
    loss: L,
    passes: PassCounter,
    /// yᵣ of each sample in the storage order of the design's sample-major copy.
    targets: OnceLock<Vec<f64>>,
    /// Set when an evaluated point separated every sample at λ = 0 ([`Objective::separated`]).
    separated: AtomicBool,
    /// The margins of the last evaluated point, kept once Newton has asked for a system: its
    /// line search evaluates the point whose system it forms next, so the system need not read
    /// X again for them.
    last_margins: Mutex<Option<(Col<f64>, Col<f64>)>>,
    keep_margins: AtomicBool,
    /// Set by [`Objective::expect_many_gradients`]: value and gradient then read the design's
    /// sample-major copy. Per objective, never inferred from whether the design already holds a
    /// copy, so a method's result does not depend on what ran before it on the same data.
    use_copy: AtomicBool,
}

impl<'p, L: Loss> EmpiricalRisk<'p, L> {
    /// The risk of `loss` on the problem's data, penalised by its λ.
    pub fn new(problem: &'p RidgeProblem<'p>, loss: L) -> Self {
        Self {
            problem,
            loss,
            passes: PassCounter::default(),
            targets: OnceLock::new(),
            separated: AtomicBool::new(false),
            last_margins: Mutex::new(None),
            keep_margins: AtomicBool::new(false),
            use_copy: AtomicBool::new(false),
        }
    }

    /// The loss.
    pub fn loss(&self) -> L {
        self.loss
    }

    /// Whether the intercept is a variable (the last entry of θ).
    fn free_intercept(&self) -> bool {
        self.problem.fit_intercept()
    }

    /// (w, b) in the original coordinates from θ = (w, b̃): b = b̃ − x̄ᵀw.
    pub fn split(&self, theta: ColRef<'_, f64>) -> (Col<f64>, f64) {
        let d = self.problem.n_features();
        let w = theta.subrows(0, d).to_owned();
        let b = if self.free_intercept() {
            theta[d] - crate::linalg::dot(self.problem.x_mean(), w.as_ref())
        } else {
            0.0
        };
        (w, b)
    }

    /// θ = (w, b̃) from (w, b): b̃ = b + x̄ᵀw. For warm starts from a model.
    pub fn join(&self, w: ColRef<'_, f64>, b: f64) -> Col<f64> {
        let d = self.problem.n_features();
        let shifted = b + crate::linalg::dot(self.problem.x_mean(), w);
        Col::from_fn(self.dim(), |j| if j < d { w[j] } else { shifted })
    }

    /// The margins mᵢ = (xᵢ − x̄)ᵀw + b̃ for every data row (one product with X).
    fn margins(&self, theta: ColRef<'_, f64>) -> Col<f64> {
        let d = self.problem.n_features();
        let shift = if self.free_intercept() { theta[d] } else { 0.0 };
        xc_times(self.problem, theta.subrows(0, d), shift)
    }

    /// The Newton system at θ ([`NewtonSystem`]): the curvature weights cᵢ = sᵢ·φ''(mᵢ; yᵢ) go
    /// through the shared moment routine, which centres X by their weighted mean x̄_c; the
    /// intercept is then eliminated exactly (its Schur complement is that centred Gram matrix),
    /// with m = x̄_c − x̄ the shift from this objective's centring.
    fn newton_system_at(
        &self,
        theta: ColRef<'_, f64>,
        grad: ColRef<'_, f64>,
    ) -> Result<NewtonSystem> {
        let p = self.problem;
        let (n, d) = (p.n_samples(), p.n_features());
        self.keep_margins.store(true, Ordering::Relaxed);
        let cached = self
            .last_margins
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .filter(|(at, _)| at.as_ref() == theta)
            .map(|(_, m)| m);
        let margins = match cached {
            Some(m) => m,
            None => {
                self.passes.add(0.5);
                self.margins(theta)
            }
        };
        let c = Col::from_fn(n, |i| {
            p.weight(i) * self.loss.curvature(margins[i], p.y()[i])
        });
        let curvature_sum: f64 = c.iter().sum();
        let centred = self.free_intercept();
        if centred && curvature_sum <= 0.0 {
            return Err(Error::Numerical {
                solver: "newton".into(),
                detail: "the loss has no curvature left at any sample (every margin is beyond \
                         ±745, where φ'' underflows), so the intercept's Newton step is \
                         undefined; rescale the features, or use λ > 0 or `lbfgs`"
                    .into(),
            });
        }
        let no_targets = faer::Mat::<f64>::zeros(n, 0);
        let moments = Moments::compute(
            p.x(),
            no_targets.as_ref(),
            Some(c.as_ref()),
            centred,
            p.par(),
        );
        self.passes.add(1.0);
        let weight_sum = p.weight_sum();
        let gram = GramSystem::with_shift(moments, weight_sum * p.lambda());
        let (shift, gb) = if centred {
            let shift = Col::from_fn(d, |j| gram.moments.x_mean()[j] - p.x_mean()[j]);
            (Some(shift), grad[d])
        } else {
            (None, 0.0)
        };
        let rhs = Col::from_fn(d, |j| {
            let reduced = grad[j] - shift.as_ref().map_or(0.0, |m| m[j] * gb);
            gram.scale[j] * weight_sum * reduced
        });
        Ok(NewtonSystem {
            gram,
            rhs,
            par: p.par(),
            intercept: shift.map(|m| (m, gb * (weight_sum / curvature_sum))),
        })
    }

    /// ‖∇J(w, b)‖ from the gradient in θ: ∇_w J = ∇_w f + x̄·∂_b̃ f, ∂_b J = ∂_b̃ f.
    ///
    /// The stopping rule stays on ‖∇f(θ)‖ (the centred variables, whose Hessian is the better
    /// conditioned when the columns have large means): for a point with ∂_b J = 0 the two norms
    /// are equal; otherwise ‖∇J(w, b)‖ ≤ (1 + ‖x̄‖)·‖∇f(θ)‖. The fit reports ‖∇J(w, b)‖, the
    /// quantity a user (or scikit-learn's conventions) computes from the model.
    fn original_gradient_norm(&self, grad: ColRef<'_, f64>) -> f64 {
        if !self.free_intercept() {
            return crate::linalg::norm2(grad);
        }
        let d = self.problem.n_features();
        let gb = grad[d];
        let mean = self.problem.x_mean();
        let original = Col::from_fn(d + 1, |j| if j < d { grad[j] + mean[j] * gb } else { gb });
        crate::linalg::norm2(original.as_ref())
    }

    fn rows(&self) -> &SampleRows {
        self.problem.design().rows(self.free_intercept())
    }

    fn sample_targets(&self) -> &[f64] {
        self.targets.get_or_init(|| {
            let y = self.problem.y();
            self.rows().order.iter().map(|&r| y[r]).collect()
        })
    }

    /// f(θ), with `grad` also ∇f(θ) = (Xcᵀu + λw, Σu), and with `want_u` the weighted
    /// derivatives uᵢ = sᵢ·φ'(mᵢ; yᵢ)/S (else an empty vector), in one read of X
    /// ([`fused_pass`], or [`fused_rows_pass`] over the sample-major copy after
    /// [`Objective::expect_many_gradients`]).
    fn evaluate(
        &self,
        theta: ColRef<'_, f64>,
        grad: Option<ColMut<'_, f64>>,
        want_u: bool,
    ) -> (f64, Col<f64>) {
        let p = self.problem;
        let d = p.n_features();
        let w = theta.subrows(0, d);
        let b = if self.free_intercept() { theta[d] } else { 0.0 };
        let inv_s = 1.0 / p.weight_sum();
        let keep = self.keep_margins.load(Ordering::Relaxed);
        let outputs = FusedOutputs {
            u: want_u,
            margins: keep,
            xctu: grad.is_some(),
        };
        // The sample-major copy, when a method that takes many gradients asked for it
        // ([`Objective::expect_many_gradients`]) and only value and gradient are wanted.
        let copy = (!want_u && !keep && self.use_copy.load(Ordering::Relaxed)).then(|| self.rows());
        let (mean, sum_u, xctu, flagged, u) = if let Some(rows) = copy {
            // factorₖ = n·s_r/S, so (1/S)·Σ s·(…) = (1/n)·Σ factor·(…).
            let (targets, inv_n) = (self.sample_targets(), 1.0 / rows.n_samples() as f64);
            let pass = fused_rows_pass(rows, theta, 0.0, p.par(), |k, m| {
                let (f, y) = (rows.factor[k], targets[k]);
                RowTerms {
                    value: f * self.loss.value(m, y),
                    u: f * inv_n * self.loss.derivative(m, y),
                    flag: f == 0.0 || self.loss.separates(m, y),
                }
            });
            let xctu = pass.xtu.as_ref().subrows(0, d).to_owned();
            let (value, sum_u, flag) = (pass.value * inv_n, pass.sum_u, pass.all_flagged);
            (value, sum_u, xctu, flag, Col::zeros(0))
        } else {
            let pass = fused_pass(p, w, b, outputs, |i, m| {
                let (s, y) = (p.weight(i), p.y()[i]);
                RowTerms {
                    value: s * self.loss.value(m, y),
                    u: s * inv_s * self.loss.derivative(m, y),
                    flag: s == 0.0 || self.loss.separates(m, y),
                }
            });
            if let Some(margins) = pass.margins {
                let mut last = self.last_margins.lock().unwrap_or_else(|e| e.into_inner());
                *last = Some((theta.to_owned(), margins));
            }
            let value = pass.value * inv_s;
            (value, pass.sum_u, pass.xctu, pass.all_flagged, pass.u)
        };
        // Separation only matters where no penalty keeps the minimiser finite.
        if flagged && p.lambda() == 0.0 {
            self.separated.store(true, Ordering::Relaxed);
        }
        let lambda = p.lambda();
        if let Some(mut grad) = grad {
            for j in 0..d {
                grad[j] = xctu[j] + lambda * theta[j];
            }
            if self.free_intercept() {
                grad[d] = sum_u;
            }
        }
        (mean + 0.5 * lambda * w.squared_norm_l2(), u)
    }
}

use faer::reborrow::ReborrowMut;

impl<L: Loss> Objective for EmpiricalRisk<'_, L> {
    fn dim(&self) -> usize {
        self.problem.n_features() + usize::from(self.free_intercept())
    }

    fn n_penalised(&self) -> usize {
        self.problem.n_features()
    }

    fn n_samples(&self) -> usize {
        self.problem.n_samples()
    }

    fn value_gradient(&self, theta: ColRef<'_, f64>, grad: ColMut<'_, f64>) -> f64 {
        self.passes.add(1.0);
        self.evaluate(theta, Some(grad), false).0
    }

    fn expect_many_gradients(&self) {
        self.rows();
        self.use_copy.store(true, Ordering::Relaxed);
    }

    /// ∇²f·v = (Xc, 1)ᵀ·diag(sᵢφ''ᵢ/S)·(Xc, 1)·v + λ·(v_w, 0).
    fn hessian_vector(&self, theta: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        self.passes.add(1.5);
        let p = self.problem;
        let d = p.n_features();
        let m = self.margins(theta);
        let vb = if self.free_intercept() { v[d] } else { 0.0 };
        let t = xc_times(p, v.subrows(0, d), vb);
        let inv_s = 1.0 / p.weight_sum();
        let u = Col::from_fn(p.n_samples(), |i| {
            p.weight(i) * inv_s * self.loss.curvature(m[i], p.y()[i]) * t[i]
        });
        for j in 0..d {
            out[j] = p.lambda() * v[j];
        }
        add_xct(p, u.as_ref(), 1.0, out.rb_mut().subrows_mut(0, d));
        if self.free_intercept() {
            out[d] = u.iter().sum();
        }
    }

    /// The largest eigenvalue of sup φ''·blockdiag(XcᵀSXc/S, 1) + λ·blockdiag(I, 0): the
    /// centred rows make the cross term Σ sᵢ·x̃ᵢ vanish, so the bound is
    /// max(φ''_max·σ_max(S^½Xc)²/S + λ, φ''_max) with an intercept.
    fn smoothness(&self) -> f64 {
        let copy = self.use_copy.load(Ordering::Relaxed).then(|| self.rows());
        let top = gram_top_eigenvalue(self.problem, None, &self.passes, copy);
        let c = self.loss.max_curvature();
        let l = c * top + self.problem.lambda();
        if self.free_intercept() { l.max(c) } else { l }
    }

    fn strong_convexity(&self) -> f64 {
        let lambda = self.problem.lambda();
        if self.free_intercept() {
            lambda.min(self.loss.min_curvature())
        } else {
            lambda
        }
    }

    fn penalty(&self) -> f64 {
        self.problem.lambda()
    }

    fn separated(&self) -> bool {
        self.separated.load(Ordering::Relaxed)
    }

    fn newton_system(
        &self,
        theta: ColRef<'_, f64>,
        grad: ColRef<'_, f64>,
    ) -> Option<Result<NewtonSystem>> {
        Some(self.newton_system_at(theta, grad))
    }

    fn pass_counter(&self) -> &PassCounter {
        &self.passes
    }

    fn sample_row(&self, i: usize) -> &[f64] {
        self.rows().row(i)
    }

    /// gₖ(θ) = (n·s_r/S)·φ'(x̃ₖᵀθ; y_r).
    fn sample_slope(&self, k: usize, theta: &[f64]) -> f64 {
        let rows = self.rows();
        let m: f64 = rows.row(k).iter().zip(theta).map(|(x, t)| x * t).sum();
        rows.factor[k] * self.loss.derivative(m, self.sample_targets()[k])
    }

    fn value_gradient_slopes(
        &self,
        theta: ColRef<'_, f64>,
        grad: ColMut<'_, f64>,
        mut slopes: ColMut<'_, f64>,
    ) -> f64 {
        self.passes.add(1.0);
        let (value, u) = self.evaluate(theta, Some(grad), true);
        let n = self.problem.n_samples() as f64;
        for (k, &r) in self.rows().order.iter().enumerate() {
            slopes[k] = n * u[r];
        }
        value
    }

    fn max_sample_smoothness(&self) -> f64 {
        self.loss.max_curvature() * self.rows().max_smoothness
    }

    fn prefetch_sample(&self, k: usize) {
        prefetch(self.rows().row(k));
        prefetch(&self.sample_targets()[k..=k]);
    }
}

impl<L: Loss> crate::fit::Judge for EmpiricalRisk<'_, L> {
    fn model(&self, coef: Col<f64>, intercept: f64) -> Model {
        Model {
            loss: self.loss.kind(),
            ..Model::ridge(coef, intercept, self.problem.lambda())
        }
    }

    fn objective_and_gradient_norm(&self, coef: ColRef<'_, f64>, intercept: f64) -> (f64, f64) {
        let theta = self.join(coef, intercept);
        let mut grad = Col::zeros(self.dim());
        // Diagnostics are not part of the run: do not charge them to its passes.
        let (value, _) = self.evaluate(theta.as_ref(), Some(grad.as_mut()), false);
        (value, self.original_gradient_norm(grad.as_ref()))
    }

    fn n_features(&self) -> usize {
        self.problem.n_features()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iterate::IterationControl;
    use crate::loss::Squared;
    use crate::solvers::{
        AcceleratedGradient, GradientDescent, Lbfgs, Qr, Sag, Saga, Solver, Svrg, testing,
    };
    use crate::solvers::{Minimiser, minimise_loss as solve};

    #[test]
    fn the_squared_loss_through_the_generic_path_agrees_with_the_eliminated_intercept_path() {
        let (x, y) = testing::small();
        let s = Col::from_fn(x.nrows(), |i| 0.5 + (i % 4) as f64);
        let x0 = faer::Mat::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)] - 100.0);
        for (intercept, x) in [(true, &x), (false, &x0)] {
            let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
                .lambda(1e-2)
                .intercept(intercept)
                .weights(s.as_ref())
                .build()
                .unwrap();
            let reference = Qr.solve(&p).unwrap();
            let control = IterationControl::new(1e-10, 200_000).unwrap();
            let settings = crate::stochastic::StochasticSettings::new(control.clone());
            let backends: Vec<Box<dyn Minimiser>> = vec![
                Box::new(GradientDescent::new(control.clone())),
                Box::new(AcceleratedGradient::new(control.clone())),
                Box::new(Lbfgs::new(control.clone())),
                Box::new(Sag(settings.clone())),
                Box::new(Saga(settings.clone())),
                Box::new(Svrg::new(settings)),
            ];
            // ‖θ − θ*‖ ≤ ‖∇f(θ)‖/μ ≤ tol·‖∇f(0)‖/μ: the only promise the stopping rule makes.
            let objective = EmpiricalRisk::new(&p, Squared);
            let mut g0 = Col::zeros(objective.dim());
            objective.value_gradient(Col::zeros(objective.dim()).as_ref(), g0.as_mut());
            let bound = 1e-10 * g0.norm_l2() / objective.strong_convexity();
            let star = objective.join(reference.coef.as_ref(), reference.intercept);
            for backend in &backends {
                let generic = solve(backend.as_ref(), &p, Squared).unwrap();
                assert!(generic.converged, "{}", backend.name());
                let theta = objective.join(generic.coef.as_ref(), generic.intercept);
                let dist = (&theta - &star).norm_l2();
                assert!(
                    dist <= 1.01 * bound + 1e-12 * star.norm_l2(),
                    "{} intercept {intercept}: ‖θ − θ*‖ = {dist:e} > {bound:e}",
                    backend.name()
                );
                // Judged on the same J: the generic objective equals the ridge objective.
                let j = p.objective(generic.coef.as_ref(), generic.intercept);
                assert!((generic.objective - j).abs() <= 1e-12 * j.abs());
            }
        }
    }

    #[test]
    fn the_gradient_and_hessian_match_finite_differences() {
        let (x, y) = testing::small();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(0.3)
            .build()
            .unwrap();
        let f = EmpiricalRisk::new(&p, Squared);
        let theta = Col::from_fn(4, |j| 0.1 * j as f64 - 0.2);
        let mut g = Col::zeros(4);
        f.value_gradient(theta.as_ref(), g.as_mut());
        let v = Col::from_fn(4, |j| 1.0 - 0.3 * j as f64);
        let mut hv = Col::zeros(4);
        f.hessian_vector(theta.as_ref(), v.as_ref(), hv.as_mut());
        let h = 1e-5;
        for j in 0..4 {
            let mut e = theta.clone();
            e[j] += h;
            let mut gp = Col::zeros(4);
            let fp = f.value_gradient(e.as_ref(), gp.as_mut());
            e[j] -= 2.0 * h;
            let mut gm = Col::zeros(4);
            let fm = f.value_gradient(e.as_ref(), gm.as_mut());
            let fd = (fp - fm) / (2.0 * h);
            assert!(
                (fd - g[j]).abs() <= 1e-6 * (1.0 + g[j].abs()),
                "∂{j}: {fd} vs {}",
                g[j]
            );
        }
        // The Hessian is constant for the squared loss: H·v = ∇f(θ + v) − ∇f(θ).
        let mut g1 = Col::zeros(4);
        f.value_gradient((&theta + &v).as_ref(), g1.as_mut());
        assert!((&g1 - &g - &hv).norm_l2() <= 1e-9 * hv.norm_l2());
        // Pass counting: 1 + 1.5 + 2·4 + 1 full passes so far.
        assert_eq!(f.passes(), 11.5);
    }
}
