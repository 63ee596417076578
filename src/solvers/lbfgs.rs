//! `lbfgs`: limited-memory BFGS with a line search that enforces the strong Wolfe conditions.
//!
//! The direction is d = −H·∇f(w), with H the L-BFGS inverse-Hessian approximation built from the
//! last m pairs (sₖ, yₖ) = (wₖ₊₁ − wₖ, ∇fₖ₊₁ − ∇fₖ) by the two-loop recursion and scaled by
//! γ = sᵀy/yᵀy of the newest pair (Nocedal & Wright, *Numerical Optimization*, 2nd ed., 2006,
//! Alg. 7.4 and (7.20); Liu & Nocedal 1989). The step α along d satisfies the strong Wolfe
//! conditions with c₁ = 10⁻⁴, c₂ = 0.9 (N&W (3.7)):
//!
//! ```text
//! φ(α) ≤ φ(0) + c₁·α·φ'(0),     |φ'(α)| ≤ c₂·|φ'(0)|,      φ(α) = f(w + α·d)
//! ```
//!
//! found by bracketing and zooming (N&W Alg. 3.5 and 3.6) with safeguarded cubic interpolation
//! (N&W (3.59)). The first trial is α = 1 (the quasi-Newton step); extrapolation goes to the
//! cubic's minimiser within [1.1·α, 10·α]. On a quadratic the cubic through two points is the
//! exact minimiser along d, so the search usually ends after one or two evaluations. The second
//! condition gives sᵀy > 0, so H stays positive definite.
//!
//! *Rounding.* Near the optimum φ(α) − φ(0) is far below the rounding error of φ itself, and an
//! Armijo test on computed values fails spuriously. When two values differ by less than 10⁻⁶ of
//! their size, their difference is taken instead from the slopes, φ(b) − φ(a) ≈ (b − a)·(φ'(a) +
//! φ'(b))/2 (the approximate Wolfe conditions of Hager & Zhang, SIAM J. Optim. 16, 2005). For a
//! quadratic objective such as least squares this trapezoid rule is exact, so the strong Wolfe
//! conditions are still verified exactly, only computed accurately.
//!
//! Every evaluation of f and ∇f (every line-search trial) counts as one pass. A search that
//! fails within [`MAX_EVALUATIONS`] trials is an error: φ could not be resolved in floating
//! point along d (a tolerance below the attainable accuracy, or a problem so ill-conditioned that
//! no step is measurably better).

use std::collections::VecDeque;

use faer::Col;

use crate::error::{Error, Result};
use crate::fit::Fit;
use crate::iterate::{IterState, IterationControl, IterativeMethod, axpy};
use crate::linalg::dot;
use crate::logistic::LogisticProblem;
use crate::objective::Objective;
use crate::problem::RidgeProblem;
use crate::solvers::{
    IterativeSettings, Minimiser, Solver, SolverOptions, minimise_logistic, solve_ridge,
};

/// Sufficient-decrease constant c₁ (N&W §3.1).
const C1: f64 = 1e-4;
/// Curvature constant c₂ (N&W §3.1, the usual value for quasi-Newton methods).
const C2: f64 = 0.9;
/// Function evaluations allowed in one line search.
pub const MAX_EVALUATIONS: usize = 30;
/// Relative size below which a difference of values is replaced by the trapezoid rule.
const VALUE_RESOLUTION: f64 = 1e-6;

/// Limited-memory BFGS with a strong-Wolfe line search.
#[derive(Debug, Clone)]
pub struct Lbfgs {
    settings: IterativeSettings,
    memory: usize,
}

impl Lbfgs {
    /// Default number of stored pairs m.
    pub const DEFAULT_MEMORY: usize = 10;

    /// L-BFGS with m = 10 under the given control.
    pub fn new(control: IterationControl) -> Self {
        Self {
            settings: control.into(),
            ..Self::default()
        }
    }

    /// Stores the last `memory` ≥ 1 pairs (each costs two d-vectors).
    pub fn with_memory(mut self, memory: usize) -> Result<Self> {
        if memory == 0 {
            return Err(Error::invalid(
                "memory",
                memory,
                "at least 1 stored pair; 5 to 20 is usual",
            ));
        }
        self.memory = memory;
        Ok(self)
    }

    /// Builds from user options (`tol`, `max_iter`, `time_limit`).
    pub fn from_options(options: &SolverOptions) -> Result<Self> {
        let lbfgs = Self {
            settings: IterativeSettings::from_options(options)?,
            ..Self::default()
        };
        match options.memory {
            Some(m) => lbfgs.with_memory(m),
            None => Ok(lbfgs),
        }
    }
}

impl Default for Lbfgs {
    fn default() -> Self {
        Self {
            settings: IterativeSettings::default(),
            memory: Self::DEFAULT_MEMORY,
        }
    }
}

/// One stored curvature pair and ρ = 1/(sᵀy).
struct Pair {
    s: Col<f64>,
    y: Col<f64>,
    rho: f64,
}

/// A line-search trial: φ(α), φ'(α) and ∇f at w + α·d.
#[derive(Clone)]
struct Trial {
    alpha: f64,
    value: f64,
    slope: f64,
    grad: Col<f64>,
}

/// φ(b) − φ(a), from the values when they resolve it, else by the trapezoid rule on the slopes.
fn rise(a: &Trial, b: &Trial) -> f64 {
    let diff = b.value - a.value;
    if diff.abs() > VALUE_RESOLUTION * a.value.abs().max(b.value.abs()) {
        diff
    } else {
        0.5 * (b.alpha - a.alpha) * (a.slope + b.slope)
    }
}

/// The minimiser of the cubic that matches φ and φ' at a and b (N&W (3.59)), if it has one.
fn cubic_minimiser(a: &Trial, b: &Trial) -> Option<f64> {
    let h = b.alpha - a.alpha;
    let d1 = a.slope + b.slope - 3.0 * rise(a, b) / h;
    let disc = d1 * d1 - a.slope * b.slope;
    if disc.is_nan() || disc < 0.0 {
        return None;
    }
    let d2 = h.signum() * disc.sqrt();
    let alpha = b.alpha - h * (b.slope + d2 - d1) / (b.slope - a.slope + 2.0 * d2);
    alpha.is_finite().then_some(alpha)
}

/// L-BFGS iteration state.
struct Quasi {
    memory: usize,
    pairs: VecDeque<Pair>,
    /// The initial inverse-Hessian scale γ.
    gamma: f64,
    /// ‖∇f(w₀)‖, for error messages.
    start_norm: f64,
}

impl Quasi {
    /// d = −H·g by the two-loop recursion (N&W Alg. 7.4).
    fn direction(&self, g: &Col<f64>) -> Col<f64> {
        let mut q = g.clone();
        let mut coef = Vec::with_capacity(self.pairs.len());
        for p in self.pairs.iter().rev() {
            let a = p.rho * dot(p.s.as_ref(), q.as_ref());
            axpy(&mut q, -a, p.y.as_ref());
            coef.push(a);
        }
        q *= faer::Scale(-self.gamma);
        for (p, a) in self.pairs.iter().zip(coef.iter().rev()) {
            // q holds −r in N&W's notation: b = −β, and r ← r + (α − β)·s becomes this.
            let b = p.rho * dot(p.y.as_ref(), q.as_ref());
            axpy(&mut q, -(a + b), p.s.as_ref());
        }
        q
    }

    /// A step satisfying the strong Wolfe conditions along `dir` from `state` (N&W Alg. 3.5).
    fn line_search(
        &self,
        objective: &dyn Objective,
        state: &mut IterState,
        dir: &Col<f64>,
    ) -> Result<Trial> {
        let origin = Trial {
            alpha: 0.0,
            value: state.value,
            slope: dot(state.grad.as_ref(), dir.as_ref()),
            grad: state.grad.clone(),
        };
        let slope0 = origin.slope;
        let start_norm = self.start_norm;
        let mut evaluations = 0;
        let mut eval = |alpha: f64, state: &mut IterState| -> Result<Trial> {
            if evaluations == MAX_EVALUATIONS {
                return Err(Error::Numerical {
                    solver: "lbfgs".into(),
                    detail: format!(
                        "the line search found no step satisfying the strong Wolfe conditions in \
                         {MAX_EVALUATIONS} evaluations (‖∇f‖ = {:e}, {:e} of its starting value): \
                         f cannot be resolved in floating point along the search direction, \
                         because tol is below the attainable accuracy or the problem is extremely \
                         ill-conditioned; use a larger tol or λ, or standardise the features",
                        state.grad_norm,
                        state.grad_norm / start_norm
                    ),
                });
            }
            evaluations += 1;
            let mut theta = state.theta.clone();
            axpy(&mut theta, alpha, dir.as_ref());
            let mut grad = Col::zeros(theta.nrows());
            let value = objective.value_gradient(theta.as_ref(), grad.as_mut());
            let slope = dot(grad.as_ref(), dir.as_ref());
            Ok(Trial {
                alpha,
                value,
                slope,
                grad,
            })
        };
        let armijo = |t: &Trial| rise(&origin, t) <= C1 * t.alpha * slope0;
        let curvature = |t: &Trial| t.slope.abs() <= -C2 * slope0;

        // Bracketing: grow α until [lo, hi] contains a Wolfe point.
        let mut prev = origin.clone();
        let mut alpha = 1.0;
        let (mut lo, mut hi) = loop {
            let t = eval(alpha, state)?;
            if !armijo(&t) || (prev.alpha > 0.0 && rise(&prev, &t) >= 0.0) {
                break (prev, t);
            }
            if curvature(&t) {
                return Ok(t);
            }
            if t.slope >= 0.0 {
                break (t, prev);
            }
            let next = cubic_minimiser(&prev, &t).unwrap_or(f64::INFINITY);
            alpha = next.clamp(1.1 * t.alpha, 10.0 * t.alpha);
            prev = t;
        };
        // Zoom (N&W Alg. 3.6): lo satisfies Armijo with the least φ so far; φ'(lo)·(hi − lo) < 0.
        // The cubic's minimiser is used anywhere inside the interval except within 10⁻³ of its
        // width from an end; if two trials have not shrunk the interval by a third, bisect
        // instead (the safeguard of Moré & Thuente, ACM TOMS 20, 1994, §4).
        let mut widths = [f64::INFINITY; 2];
        loop {
            let (a, b) = (lo.alpha.min(hi.alpha), lo.alpha.max(hi.alpha));
            let width = b - a;
            let alpha = match cubic_minimiser(&lo, &hi) {
                Some(x) if width <= 2.0 / 3.0 * widths[0] => {
                    x.clamp(a + 1e-3 * width, b - 1e-3 * width)
                }
                _ => 0.5 * (a + b),
            };
            widths = [widths[1], width];
            let t = eval(alpha, state)?;
            if !armijo(&t) || rise(&lo, &t) >= 0.0 {
                hi = t;
            } else {
                if curvature(&t) {
                    return Ok(t);
                }
                if t.slope * (hi.alpha - lo.alpha) >= 0.0 {
                    hi = lo;
                }
                lo = t;
            }
        }
    }
}

impl IterativeMethod for Quasi {
    fn init(&mut self, _objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        self.start_norm = state.grad_norm;
        // Before any curvature is known, the first trial step has length 1.
        self.gamma = if state.grad_norm > 0.0 {
            1.0 / state.grad_norm
        } else {
            1.0
        };
        Ok(())
    }

    fn step(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        let mut dir = self.direction(&state.grad);
        let slope = dot(dir.as_ref(), state.grad.as_ref());
        if slope.is_nan() || slope >= 0.0 {
            // Rounding broke H's positive definiteness: forget the pairs, step along −∇f.
            self.pairs.clear();
            dir = faer::Scale(-self.gamma) * &state.grad;
        }
        let t = self.line_search(objective, state, &dir)?;
        let s = faer::Scale(t.alpha) * &dir;
        let y = &t.grad - &state.grad;
        let sy = dot(s.as_ref(), y.as_ref());
        if sy > 0.0 {
            self.gamma = sy / y.squared_norm_l2();
            if self.pairs.len() == self.memory {
                self.pairs.pop_front();
            }
            self.pairs.push_back(Pair {
                s,
                y,
                rho: 1.0 / sy,
            });
        }
        axpy(&mut state.theta, t.alpha, dir.as_ref());
        state.value = t.value;
        state.grad = t.grad;
        state.grad_norm = crate::linalg::norm2(state.grad.as_ref());
        Ok(())
    }
}

impl Solver for Lbfgs {
    fn name(&self) -> &'static str {
        "lbfgs"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        solve_ridge(self, problem)
    }

    fn solve_logistic(&self, problem: &LogisticProblem<'_>) -> Result<Fit> {
        minimise_logistic(self, problem)
    }
}

impl Minimiser for Lbfgs {
    fn control(&self) -> &IterationControl {
        &self.settings.control
    }

    fn method(&self, objective: &dyn Objective) -> Result<Box<dyn IterativeMethod>> {
        objective.expect_many_gradients();
        Ok(Box::new(Quasi {
            memory: self.memory,
            pairs: VecDeque::with_capacity(self.memory),
            gamma: 1.0,
            start_norm: 0.0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solvers::{Qr, testing};

    #[test]
    fn the_line_search_returns_a_strong_wolfe_step_from_near_and_far_trials() {
        let (x, y) = testing::small();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(1e-3)
            .build()
            .unwrap();
        let objective = crate::objective::LeastSquares::new(&p);
        let mut state = IterState {
            theta: Col::zeros(3),
            value: 0.0,
            grad: Col::zeros(3),
            grad_norm: 0.0,
            iteration: 0,
            passes: 0.0,
            threshold: 0.0,
        };
        state.evaluate(&objective);
        // Steepest descent scaled so that α = 1 is far too short, too long, and 10¹² times too
        // long (plain bisection would need ~40 trials there).
        for scale in [1e-9, 1e3, 1e12] {
            let quasi = Quasi {
                memory: 1,
                pairs: VecDeque::new(),
                gamma: 1.0,
                start_norm: state.grad_norm,
            };
            let dir = faer::Scale(-scale) * &state.grad;
            let slope0 = dot(state.grad.as_ref(), dir.as_ref());
            let t = quasi.line_search(&objective, &mut state, &dir).unwrap();
            // Far from the optimum the values resolve the decrease: check on them directly.
            assert!(
                t.value <= state.value + C1 * t.alpha * slope0,
                "scale {scale}"
            );
            assert!(t.slope.abs() <= C2 * slope0.abs(), "scale {scale}");
        }
    }

    #[test]
    fn matches_qr_and_every_accepted_step_satisfies_strong_wolfe() {
        let (x, y) = testing::small();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(1e-5)
            .build()
            .unwrap();
        let reference = Qr.solve(&p).unwrap();
        let control = IterationControl::new(1e-11, 200).unwrap().record_every(1);
        let fit = Lbfgs::new(control).solve(&p).unwrap();
        assert!(fit.converged);
        assert!(fit.relative_error(reference.coef.as_ref()) < 1e-8);
        // Objective values never rise (Armijo), and each iteration costs at least one pass.
        for w in fit.history.windows(2) {
            assert!(w[1].objective <= w[0].objective + 1e-12 * w[0].objective.abs());
            assert!(w[1].passes >= w[0].passes + 1.0);
        }
        assert!(Lbfgs::default().with_memory(0).is_err());
    }
}
