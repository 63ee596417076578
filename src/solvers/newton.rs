//! `newton`: Newton's method (IRLS) with the Hessian formed explicitly and a backtracking line
//! search; the reference for the logistic loss, as `qr-refined` is for ridge.
//!
//! Each iteration forms the Newton system of the objective ([`NewtonSystem`]: the curvature
//! weights cᵢ = sᵢ·φ''(mᵢ) through the shared moment routine, the intercept eliminated, the
//! matrix equilibrated), factors it by Cholesky, and moves along Δθ with the first step
//! t ∈ {1, ½, ¼, …} that satisfies Armijo's condition
//!
//! ```text
//! f(θ − t·Δθ) ≤ f(θ) − c₁·t·∇f(θ)ᵀΔθ,      c₁ = 10⁻⁴
//! ```
//!
//! Near the minimiser t = 1 is accepted and the error squares at every step (the logistic
//! Hessian is Lipschitz), so from θ = 0 a typical problem converges to the rounding floor in
//! 6–12 iterations, each costing one pass for the Gram matrix (n·d² flops at matrix-product
//! speed), d³/3 for the factorisation and one pass per trial point.
//!
//! *Rounding.* Once f(θ) − f* is below the rounding error of f itself the Armijo test compares
//! noise; a trial point is then accepted if it lowers ‖∇f‖ instead (the gradient keeps its
//! accuracy far below that of f). A step that passes neither test even at t = 2⁻³⁰ means the
//! iterate cannot be improved in f64: the method reports itself stalled and the driver stops
//! with [`StopReason::Stalled`](crate::fit::StopReason::Stalled).
//!
//! *Far starts.* Where every curvature weight has underflowed (a warm start whose margins are
//! hundreds of units wide) the Hessian is nearly singular and the Newton step astronomically
//! long: no halving of it lowers f. The iteration then takes a steepest-descent step with an
//! expanding line search instead and tries Newton again from there.
//!
//! On the squared loss the model is exact and one full step solves the problem.

use faer::Col;

use crate::error::{Error, Result};
use crate::fit::Fit;
use crate::iterate::{IterState, IterationControl, IterativeMethod};
use crate::linalg::dot;
use crate::logistic::LogisticProblem;
use crate::objective::{NewtonSystem, Objective};
use crate::problem::RidgeProblem;
use crate::solvers::cholesky::factor_unchecked;
use crate::solvers::{
    Minimiser, Solver, SolverOptions, default_control, minimise_logistic, solve_ridge,
};

/// Sufficient-decrease constant of the Armijo test.
const C1: f64 = 1e-4;
/// Halvings of the step before the line search gives up.
const MAX_HALVINGS: usize = 30;

/// Newton's method with an explicit Hessian and a backtracking line search.
#[derive(Debug, Clone)]
pub struct Newton {
    control: IterationControl,
}

impl Newton {
    /// Default relative tolerance on ‖∇f‖: quadratic convergence makes a tight one cheap (one
    /// more iteration than 1e-8, typically), and it makes the answer a reference for the others
    /// (on raw breast_cancer at λ = 1e-5, where κ(∇²f) = 4e9, 1e-10 leaves 3e-10 in w and 1e-12
    /// leaves rounding; `tests/sklearn_logistic.rs`).
    pub const DEFAULT_TOL: f64 = 1e-12;
    /// Default iteration budget; Newton needs tens of iterations, not thousands.
    pub const DEFAULT_MAX_ITER: usize = 100;

    /// Newton under the given control.
    pub fn new(control: IterationControl) -> Self {
        Self { control }
    }

    /// Builds from user options (the driver's) over Newton's own defaults.
    pub fn from_options(options: &SolverOptions) -> Result<Self> {
        Ok(Self::new(
            options.control(Self::DEFAULT_TOL, Self::DEFAULT_MAX_ITER)?,
        ))
    }
}

impl Default for Newton {
    fn default() -> Self {
        Self::new(default_control(Self::DEFAULT_TOL, Self::DEFAULT_MAX_ITER))
    }
}

/// One Newton step with its line search.
struct Step {
    stalled: bool,
}

impl Step {
    /// Δθ, solving the objective's Newton system by Cholesky.
    fn direction(objective: &dyn Objective, state: &IterState) -> Result<Col<f64>> {
        let system: NewtonSystem = objective
            .newton_system(state.theta.as_ref(), state.grad.as_ref())
            .ok_or_else(|| {
                Error::invalid(
                    "solver",
                    "newton",
                    "a backend for this objective: it does not form its Hessian",
                )
            })??;
        let factor = factor_unchecked("newton", system.gram.a.as_ref(), system.par)
            .map_err(|e| e.in_context(objective.penalty()))?;
        let v = factor.solve(system.rhs.as_mat());
        Ok(system.direction(v.col(0)))
    }
}

/// `trial` ← the iterate θ − t·Δ of `state`, evaluated.
fn move_to(
    objective: &dyn Objective,
    state: &IterState,
    delta: &Col<f64>,
    t: f64,
    trial: &mut IterState,
) {
    for ((x, x0), dx) in trial
        .theta
        .iter_mut()
        .zip(state.theta.iter())
        .zip(delta.iter())
    {
        *x = x0 - t * dx;
    }
    trial.evaluate(objective);
}

impl Step {
    /// The Newton step with Armijo backtracking; false if no step length passed.
    fn newton(objective: &dyn Objective, state: &mut IterState, delta: &Col<f64>) -> bool {
        let slope = dot(state.grad.as_ref(), delta.as_ref());
        let mut trial = state.clone();
        let mut t = 1.0;
        for _ in 0..=MAX_HALVINGS {
            move_to(objective, state, delta, t, &mut trial);
            let decrease = trial.value <= state.value - C1 * t * slope;
            // At the rounding floor of f the comparison above is noise; the gradient is not.
            let at_floor = (state.value - trial.value).abs() <= 1e-14 * state.value.abs();
            if decrease || (at_floor && trial.grad_norm < state.grad_norm) {
                accept(state, trial);
                return true;
            }
            t *= 0.5;
        }
        false
    }

    /// A steepest-descent step −t·∇f whose length starts at 1/L and grows by 4 while f keeps
    /// falling (far from the minimiser the logistic loss is nearly linear, where 1/L is tiny),
    /// else shrinks; false if no length lowers f.
    fn steepest(objective: &dyn Objective, state: &mut IterState) -> bool {
        let grad = state.grad.clone();
        let mut trial = state.clone();
        let mut best: Option<IterState> = None;
        let mut t = 1.0 / objective.smoothness();
        for _ in 0..=2 * MAX_HALVINGS {
            move_to(objective, state, &grad, t, &mut trial);
            let better = trial.value < best.as_ref().map_or(state.value, |b| b.value);
            match (better, &best) {
                (true, _) => {
                    best = Some(trial.clone());
                    t *= 4.0;
                }
                (false, Some(_)) => break,
                (false, None) => t *= 0.5,
            }
        }
        match best {
            Some(b) => {
                accept(state, b);
                true
            }
            None => false,
        }
    }
}

/// `state` ← `trial`, keeping the iteration count (the driver advances it).
fn accept(state: &mut IterState, trial: IterState) {
    let iteration = state.iteration;
    *state = trial;
    state.iteration = iteration;
}

impl IterativeMethod for Step {
    /// A Newton step; where the quadratic model is useless (no step length along Δ lowers f,
    /// e.g. from a start whose margins are so large that every curvature weight underflows and
    /// the Hessian is nearly singular) a steepest-descent step instead, so the next Newton step
    /// starts from a better point; stalled when neither lowers f.
    fn step(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        let newton = match Self::direction(objective, state) {
            Ok(delta) => Self::newton(objective, state, &delta),
            // No sample has curvature left (every margin beyond ±745): no Newton step exists
            // here, but descent does.
            Err(Error::Numerical { .. }) => false,
            Err(e) => return Err(e),
        };
        self.stalled = !(newton || Self::steepest(objective, state));
        Ok(())
    }

    fn stalled(&self) -> bool {
        self.stalled
    }
}

impl Solver for Newton {
    fn name(&self) -> &'static str {
        "newton"
    }

    /// On ridge the Hessian is constant (the problem's Gram system), so one full step is the
    /// exact solution: the `cholesky` backend with a gradient check.
    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        solve_ridge(self, problem)
    }

    fn solve_logistic(&self, problem: &LogisticProblem<'_>) -> Result<Fit> {
        minimise_logistic(self, problem)
    }
}

impl Minimiser for Newton {
    fn control(&self) -> &IterationControl {
        &self.control
    }

    fn method(&self, _objective: &dyn Objective) -> Result<Box<dyn IterativeMethod>> {
        Ok(Box::new(Step { stalled: false }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solvers::{Refined, testing};

    #[test]
    fn one_newton_step_solves_ridge() {
        let (x, y) = testing::small();
        let s = Col::from_fn(x.nrows(), |i| 0.5 + (i % 3) as f64);
        for intercept in [true, false] {
            let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
                .lambda(1e-3)
                .intercept(intercept)
                .weights(s.as_ref())
                .build()
                .unwrap();
            let reference = Refined::qr().solve(&p).unwrap();
            let fit = Newton::default().solve(&p).unwrap();
            assert!(fit.converged);
            assert!(fit.iterations <= 2, "{} iterations", fit.iterations);
            assert!(fit.relative_error(reference.coef.as_ref()) < 1e-9);
            assert!((fit.intercept - reference.intercept).abs() < 1e-7);
        }
    }
}
