//! `svrg`: stochastic variance-reduced gradient (Johnson & Zhang, 2013, "Accelerating stochastic
//! gradient descent using predictive variance reduction", NIPS).
//!
//! Each outer iteration takes a snapshot θ̃ with its full gradient ∇f(θ̃), then m inner steps
//! with i drawn uniformly (with replacement):
//!
//! ```text
//! θ ← θ − η·(∇fᵢ(θ) − ∇fᵢ(θ̃) + ∇f_data(θ̃) + λθ)
//! ```
//!
//! and the last inner iterate becomes the next snapshot (the paper's practical "option I").
//! For a linear prediction ∇fᵢ = gᵢ·xᵢ, so the snapshot's per-sample gradients are one slope
//! per sample, computed in the same pass as the full gradient — which is also the pass the
//! driver's stopping rule needs: one driver iteration = one outer iteration = one full-gradient
//! pass plus m sample gradients (m = 2n by default, the paper's choice for convex problems, so
//! 3 passes).
//!
//! *Step.* L_max is the largest smoothness of a term fᵢ + (λ/2)‖θ‖². The theory step is
//! η = 1/(10·L_max): the paper's Theorem 1 gives a linear rate α = 1/(μη(1 − 2L_maxη)m) +
//! 2L_maxη/(1 − 2L_maxη) per outer iteration; at η = 1/(10·L_max) that is
//! α = 12.5·L_max/(μm) + 0.25, below 1 once m > 17·L_max/μ. With m = 2n the guarantee holds for
//! n > 8.3·L_max/μ; below that SVRG still contracts in practice, and the driver reports honestly
//! whether it reached `tol`. The default starts at η = 1/(4·L_max), the edge of the theorem's
//! range η < 1/(4·L_max): of 1/(c·L_max), c ∈ {1, 2, 4, 10}, the only one that is faster than the
//! theory step on every problem measured (the `sag` module's table, and the README's
//! 100 000 × 100 race: 38 passes against 50). 1/L_max is up to 10× faster on the small, badly
//! conditioned problems of the table but slower where n is large (68 passes on the race): there
//! the per-outer-iteration contraction is limited by the variance term 2L_maxη/(1 − 2L_maxη),
//! which grows with η. It is safeguarded like `sag`, with a window of one outer iteration (the
//! theorem's unit of contraction): an outer iteration that ends with f above its value at the
//! snapshot is undone and the step halved, down to the theory step
//! (`stochastic::Safeguard`). [`Svrg::theory`] runs the theory step throughout. Epochs
//! before and after: the table in the `sag` module.

use faer::Col;

use crate::error::{Error, Result};
use crate::fit::Fit;
use crate::iterate::{IterState, IterationControl, IterativeMethod};
use crate::logistic::LogisticProblem;
use crate::objective::{Objective, data_part};
use crate::problem::RidgeProblem;
use crate::solvers::{Minimiser, Solver, SolverOptions, minimise_logistic, solve_ridge};
use crate::stochastic::{
    Safeguard, Sampler, StepPlan, StochasticSettings, Verdict, control_variate_step, entries,
    entries_mut, restore,
};

/// SVRG with m = 2n inner steps by default, from η = 1/(4·L_max) safeguarded down to the theory
/// step 1/(10·L_max).
#[derive(Debug, Clone, Default)]
pub struct Svrg {
    settings: StochasticSettings,
    inner_steps: Option<usize>,
}

impl Svrg {
    /// The divisor of the step η = 1/(10·L_max) (inside Theorem 1's range η < 1/(4·L_max)).
    pub const STEP_DIVISOR: f64 = 10.0;
    /// The divisor of the practical step η = 1/(4·L_max) the default starts from.
    pub const PRACTICAL_STEP_DIVISOR: f64 = 4.0;

    /// SVRG with the theory step 1/(10·L_max) throughout and default settings otherwise.
    pub fn theory() -> Self {
        Self::new(StochasticSettings::default().theory_step())
    }

    /// SVRG with the given settings (`max_iter` counts outer iterations).
    pub fn new(settings: StochasticSettings) -> Self {
        Self {
            settings,
            inner_steps: None,
        }
    }

    /// m ≥ 1 inner steps per outer iteration instead of 2n.
    pub fn with_inner_steps(mut self, m: usize) -> Result<Self> {
        if m == 0 {
            return Err(Error::invalid(
                "inner_steps",
                m,
                "at least 1, or omit it for 2n",
            ));
        }
        self.inner_steps = Some(m);
        Ok(self)
    }

    /// Builds from user options (`tol`, `max_iter` as outer iterations, `time_limit`, `step`,
    /// `seed`).
    pub fn from_options(options: &SolverOptions) -> Result<Self> {
        let svrg = Self::new(StochasticSettings::from_options(options)?);
        match options.inner_steps {
            Some(m) => svrg.with_inner_steps(m),
            None => Ok(svrg),
        }
    }
}

/// One SVRG run: the snapshot's slopes and data gradient, and with the safeguarded default
/// step a copy of them (and of the snapshot state) to undo a rejected outer iteration.
struct Outer {
    sampler: Sampler,
    step_size: Safeguard,
    inner_steps: usize,
    snapshot_slopes: Col<f64>,
    snapshot_gradient: Col<f64>,
    saved: Option<(IterState, Col<f64>, Col<f64>)>,
}

impl Outer {
    /// Makes the evaluated `state` the snapshot: its slopes (same pass) and data gradient.
    fn snapshot(&mut self, objective: &dyn Objective, state: &mut IterState) {
        state.evaluate_with_slopes(objective, self.snapshot_slopes.as_mut());
        self.snapshot_gradient = data_part(objective, state.theta.as_ref(), state.grad.as_ref());
    }
}

impl Outer {
    /// Saves the snapshot state as the safeguard's checkpoint.
    fn save(&mut self, state: &IterState) {
        match &mut self.saved {
            Some((s, slopes, gradient)) => {
                s.clone_from(state);
                slopes.clone_from(&self.snapshot_slopes);
                gradient.clone_from(&self.snapshot_gradient);
            }
            None => {
                self.saved = Some((
                    state.clone(),
                    self.snapshot_slopes.clone(),
                    self.snapshot_gradient.clone(),
                ))
            }
        }
    }
}

impl IterativeMethod for Outer {
    fn init(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        self.snapshot(objective, state);
        self.step_size.start(state.value);
        if self.step_size.active() {
            self.save(state);
        }
        Ok(())
    }

    fn monotone(&self) -> bool {
        false
    }

    fn step(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        let eta = self.step_size.eta(state.iteration);
        for _ in 0..self.inner_steps {
            let i = self.sampler.uniform();
            let c = objective.sample_slope(i, entries(&state.theta)) - self.snapshot_slopes[i];
            let x = objective.sample_row(i);
            let v = entries(&self.snapshot_gradient);
            control_variate_step(objective, entries_mut(&mut state.theta), eta, c, x, v);
        }
        objective
            .pass_counter()
            .add_samples(self.inner_steps, objective.n_samples());
        self.snapshot(objective, state);
        match self.step_size.judge(state.iteration, state.value) {
            Verdict::Keep => {}
            Verdict::Checkpoint => self.save(state),
            Verdict::Undo => {
                // `judge` asks for a Checkpoint (which saves) before any Undo.
                let (s, slopes, gradient) = self.saved.as_ref().expect("saved while active");
                restore(state, s);
                self.snapshot_slopes.clone_from(slopes);
                self.snapshot_gradient.clone_from(gradient);
            }
        }
        Ok(())
    }
}

impl Solver for Svrg {
    fn name(&self) -> &'static str {
        "svrg"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        solve_ridge(self, problem)
    }

    fn solve_logistic(&self, problem: &LogisticProblem<'_>) -> Result<Fit> {
        minimise_logistic(self, problem)
    }
}

impl Minimiser for Svrg {
    fn control(&self) -> &IterationControl {
        &self.settings.control
    }

    fn method(&self, objective: &dyn Objective) -> Result<Box<dyn IterativeMethod>> {
        let n = objective.n_samples();
        Ok(Box::new(Outer {
            sampler: Sampler::new(self.settings.seed, n),
            step_size: self.settings.step_or(
                objective,
                StepPlan {
                    practical: Self::PRACTICAL_STEP_DIVISOR,
                    theory: Self::STEP_DIVISOR,
                    window: 1,
                    theory_first_epoch: false,
                },
            ),
            inner_steps: self.inner_steps.unwrap_or(2 * n),
            snapshot_slopes: Col::zeros(n),
            snapshot_gradient: Col::zeros(0),
            saved: None,
        }))
    }
}
