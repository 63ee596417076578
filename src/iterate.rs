//! The one iteration driver shared by every iterative backend.
//!
//! A method ([`IterativeMethod`]) only says how to take one step; the driver ([`run`]) owns
//! everything else: the starting point, the stopping rule, the iteration and time budgets,
//! divergence detection, the history and the observers. So `tol` means the same thing for every
//! backend:
//!
//! ```text
//! stop when ‖∇f(θₖ)‖ ≤ max(tol · ‖∇f(0)‖, abs_tol)
//! ```
//!
//! and every backend reports the same diagnostics, timed the same way. The reference ‖∇f(0)‖ is
//! that of the cold start even when the run starts elsewhere (a warm start), so a run started at
//! the solution stops at once, and the points of a warm-started path meet one common standard.
//! Passes over the data are counted by the objective ([`Objective::passes`]), never by a method.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use faer::{Col, ColMut, ColRef};

use crate::error::{Error, Result};
use crate::fit::Record;
pub use crate::fit::StopReason;
use crate::objective::Objective;

/// What an observer sees at a recorded step: the backend, the record, and the iterate itself, so
/// that per-step suboptimality or held-out error can be measured from outside.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// The backend's name.
    pub solver: &'a str,
    /// The record of this step (also pushed to the history).
    pub record: &'a Record,
    /// The iterate θₖ = (w, and b when the objective has a free intercept) the record describes,
    /// in the objective's variables (for the ridge [`crate::objective::LeastSquares`], w alone).
    pub theta: ColRef<'a, f64>,
}

/// A callback that sees every recorded step and may stop the run early. The time it takes is
/// excluded from the recorded times.
pub type Observer = Arc<dyn Fn(&Observation<'_>) -> ControlFlow<()> + Send + Sync>;

/// Stopping rule and budgets, validated when built.
#[derive(Clone)]
pub struct IterationControl {
    tol: f64,
    abs_tol: f64,
    max_iter: usize,
    time_limit: Option<Duration>,
    record_every: usize,
    warm_start: Option<Col<f64>>,
    observer: Option<Observer>,
}

impl std::fmt::Debug for IterationControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IterationControl")
            .field("tol", &self.tol)
            .field("abs_tol", &self.abs_tol)
            .field("max_iter", &self.max_iter)
            .field("time_limit", &self.time_limit)
            .field("record_every", &self.record_every)
            .field("warm_start", &self.warm_start.is_some())
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl IterationControl {
    /// `tol` ∈ (0, 1): relative optimality residual; `max_iter` ≥ 1: iteration (epoch) budget.
    pub fn new(tol: f64, max_iter: usize) -> Result<Self> {
        if !(tol.is_finite() && tol > 0.0 && tol < 1.0) {
            return Err(Error::invalid(
                "tol",
                tol,
                "a relative tolerance in (0, 1), e.g. 1e-8",
            ));
        }
        if max_iter == 0 {
            return Err(Error::invalid("max_iter", max_iter, "at least 1"));
        }
        Ok(Self {
            tol,
            abs_tol: 0.0,
            max_iter,
            time_limit: None,
            record_every: 0,
            warm_start: None,
            observer: None,
        })
    }

    /// Stops (unconverged) once the solve has run for `seconds`.
    pub fn time_limit(mut self, seconds: f64) -> Result<Self> {
        if seconds.is_nan() || seconds <= 0.0 {
            return Err(Error::invalid(
                "time_limit",
                seconds,
                "a positive number of seconds",
            ));
        }
        // A budget beyond what a Duration (or an Instant after it) can hold, ∞ included, is no
        // budget at all; 1e9 s (32 years) is far below both limits.
        self.time_limit = Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|d| *d <= Duration::from_secs(1_000_000_000));
        Ok(self)
    }

    /// Records every k-th iteration (and the first and last) into the history; 0 records nothing.
    pub fn record_every(mut self, k: usize) -> Self {
        self.record_every = k;
        self
    }

    /// Also stops once ‖∇f(θ)‖ ≤ `abs_tol` (default 0: the relative rule alone). An absolute
    /// tolerance suits a path or a benchmark that wants one standard across problems.
    pub fn abs_tol(mut self, abs_tol: f64) -> Result<Self> {
        if !(abs_tol.is_finite() && abs_tol >= 0.0) {
            return Err(Error::invalid(
                "abs_tol",
                abs_tol,
                "an absolute gradient-norm tolerance ≥ 0, e.g. 1e-12",
            ));
        }
        self.abs_tol = abs_tol;
        Ok(self)
    }

    /// Starts from θ₀ instead of zero. Its length is checked against the problem at run time.
    /// The stopping rule stays relative to the cold start's gradient ‖∇f(0)‖, which costs one
    /// more pass, so a warm start at the solution converges at once.
    pub fn warm_start(mut self, theta0: Col<f64>) -> Self {
        self.warm_start = Some(theta0);
        self
    }

    /// The warm start, if any.
    pub fn warm_start_point(&self) -> Option<ColRef<'_, f64>> {
        self.warm_start.as_ref().map(|t| t.as_ref())
    }

    /// Calls `observer` on every recorded step (set `record_every` ≥ 1); it may stop the run.
    pub fn observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The relative tolerance.
    pub fn tol(&self) -> f64 {
        self.tol
    }
    /// The absolute tolerance on ‖∇f‖ (0 when unset).
    pub fn absolute_tol(&self) -> f64 {
        self.abs_tol
    }
    /// The iteration budget.
    pub fn max_iter(&self) -> usize {
        self.max_iter
    }
    /// When a solve that started at `start` runs out of time (`None` without a time limit).
    pub fn deadline(&self, start: Instant) -> Option<Instant> {
        self.time_limit.map(|limit| start + limit)
    }
}

/// The iterate and what is known at it. Methods advance `theta` and call [`IterState::evaluate`]
/// so that `value`, `grad` and `grad_norm` always describe the current `theta`.
#[derive(Debug, Clone)]
pub struct IterState {
    /// Current iterate θₖ (the one the stopping rule judges).
    pub theta: Col<f64>,
    /// f(θₖ).
    pub value: f64,
    /// ∇f(θₖ).
    pub grad: Col<f64>,
    /// ‖∇f(θₖ)‖.
    pub grad_norm: f64,
    /// Completed iterations.
    pub iteration: usize,
    /// Passes over the data so far (one full gradient = 1, a sample gradient = 1/n), as the
    /// objective counted them; the driver refreshes it after every step.
    pub passes: f64,
    /// The gradient norm at or below which the driver stops: max(tol·‖∇f(0)‖, abs_tol). Methods
    /// that keep their own residual (CGLS, coordinate descent) recompute it exactly before they
    /// let the driver see a value below it.
    pub threshold: f64,
}

impl IterState {
    /// Recomputes value and gradient at `theta` (one pass over the data).
    pub fn evaluate(&mut self, objective: &dyn Objective) {
        self.value = objective.value_gradient(self.theta.as_ref(), self.grad.as_mut());
        self.grad_norm = crate::linalg::norm2(self.grad.as_ref());
    }

    /// [`IterState::evaluate`] that also writes the per-sample slopes at `theta`
    /// ([`Objective::value_gradient_slopes`]) in the same pass.
    pub fn evaluate_with_slopes(&mut self, objective: &dyn Objective, slopes: ColMut<'_, f64>) {
        self.value =
            objective.value_gradient_slopes(self.theta.as_ref(), self.grad.as_mut(), slopes);
        self.grad_norm = crate::linalg::norm2(self.grad.as_ref());
    }
}

/// One iterative algorithm: how to take a step, nothing else.
pub trait IterativeMethod {
    /// Prepares method state at θ₀ (`state` is already evaluated there).
    fn init(&mut self, _objective: &dyn Objective, _state: &mut IterState) -> Result<()> {
        Ok(())
    }
    /// Takes one iteration (an epoch for stochastic methods), leaving `state` evaluated at the new
    /// iterate.
    fn step(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()>;
    /// Whether every iterate is guaranteed not to climb above f(θ₀) (up to rounding). Descent
    /// methods are; stochastic methods are not: their iterates carry gradient noise, and when θ₀
    /// is already within that noise of the optimum an ordinary step lands slightly above f(θ₀).
    /// The driver judges divergence accordingly (see [`run`]).
    fn monotone(&self) -> bool {
        true
    }
    /// Whether the last step found no point that improves on the current one (a line search at
    /// the rounding floor of f): the driver then stops with [`StopReason::Stalled`] instead of
    /// repeating a step that cannot make progress.
    fn stalled(&self) -> bool {
        false
    }
}

/// A non-monotone method has diverged when f(θₖ) − f(θ₀) exceeds this multiple of |f(θ₀)|.
///
/// For an objective that is a sum of non-negative losses plus the penalty, f(θ₀) bounds the
/// initial gap f(θ₀) − f*, so a converging stochastic method stays below f(θ₀) plus its noise
/// floor, which at a stable step is a fraction of f* ≤ f(θ₀) (for constant-step SGD on least
/// squares the stationary excess is ≈ (η/2)·tr(H)·σ², Bach & Moulines 2013, i.e. ≤ f*/2 at
/// η ≤ 1/L_max). An unstable step grows geometrically and crosses 100·|f(θ₀)| within a few
/// epochs; that is the blow-up this threshold catches, with two orders of magnitude of margin
/// over the noise.
pub const NON_MONOTONE_BLOW_UP: f64 = 100.0;

/// The driver's result.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The final state.
    pub state: IterState,
    /// Why it stopped.
    pub stop: StopReason,
    /// Recorded steps.
    pub history: Vec<Record>,
}

/// Runs `method` on `objective` under `control`. `name` labels errors and observer calls. The
/// time budget counts from the call; [`run_from`] counts it from an earlier instant.
pub fn run(
    name: &str,
    method: &mut dyn IterativeMethod,
    objective: &dyn Objective,
    control: &IterationControl,
) -> Result<Outcome> {
    run_from(Instant::now(), name, method, objective, control)
}

/// [`run`] with the time budget counted from `start`, the moment the solve began, so that set-up
/// done before the driver (building the objective's sample-major copy, estimating L) is inside
/// the budget.
///
/// # The time budget
///
/// The budget is checked before every step: the run stops (`StopReason::TimeLimit`, not
/// converged) at the first check at which `start` lies `time_limit` behind, not counting the time
/// spent recording the history and calling the observer. So it is honoured to within one step
/// (one epoch for the stochastic methods), plus the set-up passes that cannot be cut short: the
/// first gradient, a method's `init` (SAG/SAGA's slope table, one pass) and the sample-major copy
/// of the stochastic methods (about one pass). The Lanczos iteration for L stops at the deadline
/// when the objective knows it ([`crate::objective::LeastSquares::with_deadline`]). The final
/// diagnostics of a fit are computed after the run and are not part of it.
///
/// Divergence is an error: a method whose iterates climb is misconfigured (usually its step is
/// too large), and its output must not be mistaken for a result. For a monotone method
/// ([`IterativeMethod::monotone`]) divergence is a non-finite objective or one above its starting
/// value (plus 10⁻¹² relative slack for rounding); for a non-monotone (stochastic) one it is a
/// non-finite objective or a blow-up, f(θₖ) − f(θ₀) > [`NON_MONOTONE_BLOW_UP`]·|f(θ₀)|.
pub fn run_from(
    start: Instant,
    name: &str,
    method: &mut dyn IterativeMethod,
    objective: &dyn Objective,
    control: &IterationControl,
) -> Result<Outcome> {
    let clock = start;
    let mut paused = Duration::ZERO;
    let d = objective.dim();
    let mut state = IterState {
        theta: Col::zeros(d),
        value: 0.0,
        grad: Col::zeros(d),
        grad_norm: 0.0,
        iteration: 0,
        passes: 0.0,
        threshold: 0.0,
    };
    // The cold start's gradient norm is the reference of the relative rule, warm start or not.
    state.evaluate(objective);
    let reference_norm = state.grad_norm;
    match &control.warm_start {
        Some(t) if t.nrows() != d => {
            return Err(Error::ShapeMismatch {
                what: format!(
                    "warm start has {} entries but the objective has {d} variables",
                    t.nrows()
                ),
            });
        }
        Some(t) if t.iter().any(|v| !v.is_finite()) => {
            return Err(Error::invalid(
                "warm_start",
                "a vector with non-finite entries",
                "finite coefficients, e.g. those of an earlier fit",
            ));
        }
        Some(t) => {
            state.theta.copy_from(t);
            state.evaluate(objective);
        }
        None => {}
    }
    separation_check(objective, name, 0)?;
    let start_value = state.value;
    let target = (control.tol * reference_norm).max(control.abs_tol);
    state.threshold = target;
    method.init(objective, &mut state)?;
    // Set-up reads of the data (e.g. the Lanczos iteration for L) count as passes too.
    state.passes = objective.passes();

    let mut history = Vec::new();
    let mut record = |state: &IterState, paused: &mut Duration, last: bool| -> ControlFlow<()> {
        let due = control.record_every > 0
            && (state.iteration.is_multiple_of(control.record_every) || last);
        if !due {
            return ControlFlow::Continue(());
        }
        let t = Instant::now();
        let r = Record {
            iteration: state.iteration,
            passes: state.passes,
            seconds: (t - clock - *paused).as_secs_f64(),
            objective: state.value,
            residual: relative(state.grad_norm, reference_norm),
        };
        if history
            .last()
            .is_none_or(|h: &Record| h.iteration != r.iteration)
        {
            history.push(r);
        }
        let flow = match &control.observer {
            Some(obs) => obs(&Observation {
                solver: name,
                record: &r,
                theta: state.theta.as_ref(),
            }),
            None => ControlFlow::Continue(()),
        };
        *paused += t.elapsed();
        flow
    };

    let mut stop = if record(&state, &mut paused, false).is_break() {
        StopReason::Observer
    } else {
        StopReason::MaxIterations
    };
    while stop != StopReason::Observer {
        if state.grad_norm <= target {
            stop = StopReason::Converged;
            break;
        }
        if state.iteration >= control.max_iter {
            stop = StopReason::MaxIterations;
            break;
        }
        if control
            .time_limit
            .is_some_and(|limit| clock.elapsed() - paused >= limit)
        {
            stop = StopReason::TimeLimit;
            break;
        }
        method.step(objective, &mut state)?;
        state.iteration += 1;
        state.passes = objective.passes();
        separation_check(objective, name, state.iteration)?;
        if method.stalled() {
            stop = StopReason::Stalled;
            break;
        }
        // A little slack above the start absorbs rounding when θ₀ is already (nearly) optimal.
        let scale = start_value.abs().max(f64::MIN_POSITIVE);
        let slack = if method.monotone() {
            1e-12 * scale
        } else {
            NON_MONOTONE_BLOW_UP * scale
        };
        if !state.value.is_finite() || state.value > start_value + slack {
            return Err(Error::Diverged {
                solver: name.to_owned(),
                iteration: state.iteration,
                objective: state.value,
                start: start_value,
                // The driver does not know whether the step was the user's (`Error::with_step`).
                step: crate::error::StepSource::Unknown,
            });
        }
        if record(&state, &mut paused, false).is_break() {
            stop = StopReason::Observer;
        }
    }
    let _ = record(&state, &mut paused, true);
    Ok(Outcome {
        state,
        stop,
        history,
    })
}

/// Separated data have no minimiser at λ = 0 ([`Objective::separated`]): an iterate that proves
/// it ends the run with an error, not with coefficients that only look converged (the gradient
/// of the logistic loss vanishes as they grow, so the relative rule would be met eventually).
fn separation_check(objective: &dyn Objective, name: &str, iteration: usize) -> Result<()> {
    if objective.separated() {
        return Err(Error::Separable {
            solver: name.to_owned(),
            iteration,
        });
    }
    Ok(())
}

fn relative(norm: f64, start: f64) -> f64 {
    if start > 0.0 { norm / start } else { 0.0 }
}

/// θ ← θ + alpha·v.
pub(crate) fn axpy(theta: &mut Col<f64>, alpha: f64, v: ColRef<'_, f64>) {
    theta
        .iter_mut()
        .zip(v.iter())
        .for_each(|(t, v)| *t += alpha * v);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f(θ) = ½‖θ − 1‖² in one dimension, f(0) = ½: one sample x₁ = 1 with slope θ − 1.
    #[derive(Default)]
    struct Quadratic(crate::objective::PassCounter);

    impl Objective for Quadratic {
        fn dim(&self) -> usize {
            1
        }
        fn n_samples(&self) -> usize {
            1
        }
        fn value_gradient(&self, theta: ColRef<'_, f64>, mut grad: ColMut<'_, f64>) -> f64 {
            self.0.add(1.0);
            grad[0] = theta[0] - 1.0;
            0.5 * grad[0] * grad[0]
        }
        fn hessian_vector(&self, _: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
            out.copy_from(v);
        }
        fn pass_counter(&self) -> &crate::objective::PassCounter {
            &self.0
        }
        fn smoothness(&self) -> f64 {
            1.0
        }
        fn strong_convexity(&self) -> f64 {
            1.0
        }
        fn penalty(&self) -> f64 {
            0.0
        }
        fn sample_row(&self, _: usize) -> &[f64] {
            &[1.0]
        }
        fn sample_slope(&self, _: usize, theta: &[f64]) -> f64 {
            theta[0] - 1.0
        }
        fn value_gradient_slopes(
            &self,
            theta: ColRef<'_, f64>,
            grad: ColMut<'_, f64>,
            mut slopes: ColMut<'_, f64>,
        ) -> f64 {
            slopes[0] = theta[0] - 1.0;
            self.value_gradient(theta, grad)
        }
        fn max_sample_smoothness(&self) -> f64 {
            1.0
        }
    }

    /// Jumps to a fixed θ every step.
    struct Jump {
        to: f64,
        monotone: bool,
    }

    impl IterativeMethod for Jump {
        fn step(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
            state.theta[0] = self.to;
            state.evaluate(objective);
            Ok(())
        }
        fn monotone(&self) -> bool {
            self.monotone
        }
    }

    fn jump(to: f64, monotone: bool) -> Result<Outcome> {
        let control = IterationControl::new(1e-6, 3).unwrap();
        run(
            "jump",
            &mut Jump { to, monotone },
            &Quadratic::default(),
            &control,
        )
    }

    #[test]
    fn the_time_budget_covers_the_set_up_and_stops_before_any_step() {
        use crate::data::Synthetic;
        use crate::problem::RidgeProblem;
        use crate::solvers::{SolverOptions, by_name};
        // κ(Xc) = 1.5 over 40 features: the top eigenvalues of XcᵀXc are close together, so the
        // Lanczos iteration for gd's L needs many steps (25 here; the power iteration used before
        // stopped at its cap of 100 without converging).
        let data = Synthetic {
            n_samples: 2000,
            n_features: 40,
            condition: 1.5,
            ..Synthetic::default()
        }
        .generate()
        .unwrap();
        // A fresh design for each run: a completed estimate of L is cached with the design.
        let solve = |time_limit| {
            let p = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
                .lambda(1e-3)
                .build()
                .unwrap();
            let options = SolverOptions {
                tol: Some(1e-12),
                max_iter: Some(100_000),
                time_limit,
                ..SolverOptions::default()
            };
            by_name("gd", &options).unwrap().solve(&p).unwrap()
        };
        let free = solve(None);
        assert!(free.converged);
        // The first gradient, the Lanczos iteration and one pass per iteration.
        let lanczos_steps = free.passes - 1.0 - free.iterations as f64;
        assert!(lanczos_steps >= 10.0, "{lanczos_steps} Lanczos steps");
        // A budget spent before the set-up ends: the Lanczos iteration stops after its first step
        // and the driver before its first step, saying it did not converge.
        let limited = solve(Some(1e-9));
        assert!(!limited.converged);
        assert_eq!(limited.iterations, 0);
        assert_eq!(limited.passes, 2.0);
    }

    #[test]
    fn divergence_rule_is_strict_for_monotone_methods_and_catches_blow_ups_otherwise() {
        // f(−0.1) = 0.605 > f(0) = 0.5: divergence for a descent method, noise for SGD.
        assert!(matches!(jump(-0.1, true), Err(Error::Diverged { .. })));
        let out = jump(-0.1, false).unwrap();
        assert_eq!(
            (out.stop, out.state.iteration),
            (StopReason::MaxIterations, 3)
        );
        // f(−20) = 220.5 > 101·f(0): a blow-up either way, and a non-finite value always is.
        assert!(matches!(jump(-20.0, false), Err(Error::Diverged { .. })));
        assert!(matches!(jump(f64::NAN, false), Err(Error::Diverged { .. })));
        assert_eq!(jump(1.0, true).unwrap().stop, StopReason::Converged);
    }
}
