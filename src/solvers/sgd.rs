//! `sgd`: mini-batch stochastic gradient descent with a step schedule and tail averaging.
//!
//! Each epoch visits every sample once, in a fresh random order (block random reshuffling, see
//! below; seeded: the same seed gives the same result) in batches of B = `batch_size`, stepping
//!
//! ```text
//! θ ← θ − ηₜ·((1/B)·Σ_{i∈batch} ∇fᵢ(θ) + λθ)
//! ```
//!
//! with t the step count and ηₜ from a [`Schedule`]. The schedules scale from the largest step
//! the theory allows, η_max = 1/(2·L_B), where L_B is the expected smoothness of a batch
//! (Gower et al., 2019; see `stochastic::batch_smoothness`): below 1/(2L_B) SGD converges in
//! expectation to a neighbourhood of the optimum whose size is proportional to the step. The
//! default, [`Schedule::Optimal`], is ηₜ = 1/(λ·(t + t₀)) with t₀ = 1/(λ·η_max): it starts at
//! η_max and decays like 1/(λt), the rate suited to a λ-strongly-convex objective
//! (Lacoste-Julien, Schmidt & Bach, 2012; it is scikit-learn's 'optimal' schedule with a t₀ from
//! the smoothness instead of a heuristic).
//!
//! # Averaging
//!
//! By default the reported iterate is a Polyak–Ruppert average of the iterates, *restarted* at
//! the start of epochs 1, 2, 4, 8, …, so that it covers the epochs since the last power of two
//! (between one epoch and the last half of the run). For least squares, averaging the iterates
//! of a constant step removes the gradient noise at the rate O(σ²d/t) (Bach & Moulines, 2013),
//! but a plain average over the whole run also carries the *bias* of the early iterates, which
//! decays only like 1/t; restarting drops those iterates, so the bias of the average decays as
//! fast as that of the last iterate (suffix averaging: Rakhlin, Shamir & Sridharan, 2012; tail
//! averaging: Jain et al., 2018). Measured on the agreement property's problems (κ(X) ≤ 10,
//! 200 ≤ n ≤ 300, d ≤ 40, 200 epochs): the objective gap of the whole-run average exceeded
//! 10⁻³·J* on 14 % of them (up to 250×), the restarted average on none of 2000 (at most 0.8×).
//!
//! # Batch size
//!
//! The default batch is a single sample. With reshuffled epochs the sample gradients at the
//! optimum sum to zero over an epoch, so more steps per pass exploit the finite sum better than
//! larger batches (Mishchenko, Khaled & Richtárik, 2020); measured as above, batches of 16 left
//! 1.3 % of the problems above 10⁻³·J* after 200 epochs, batches of 1 none.
//!
//! # Sample order
//!
//! The objective stores its samples in a fixed pseudo-random permutation of the data rows (for
//! the objectives of this crate, the design's shared sample-major copy, src/design.rs; the
//! permutation depends on no seed). When the sample data exceed `CACHE_BYTES` (8 MiB), each
//! epoch cuts that stored order into blocks of
//! `BLOCK_BYTES` (256 KiB) of sample data (at most n/64 samples, at least one), visits the blocks
//! in a fresh random order and the samples of each block in a fresh random order. Each sample's
//! data are prefetched `PREFETCH_AHEAD` steps before its step. Plain random reshuffling reads one
//! row from anywhere in memory per step, and at n = 100 000, d = 100 the sweep waited on memory
//! for most of its time: the epoch took 41–46 ms, this order with prefetching 24–27 ms (the same
//! loop in storage order, about 16–20 ms). Data of at most 8 MiB are one block: plain random
//! reshuffling.
//!
//! What theory covers. Composed with the one-time uniform permutation of storage, each epoch's
//! order is, on its own, a uniformly random permutation of the samples; only the orders of
//! different epochs are dependent (samples that share a block stay together). The analysis of
//! Mishchenko, Khaled & Richtárik (2020, "Random Reshuffling: Simple Analysis with Vast
//! Improvements") bounds the noise of an epoch by a term that depends on that epoch's
//! permutation only, which is why it also covers Shuffle-Once, where one uniform permutation is
//! reused every epoch (the extreme of such dependence); as we read it, the same argument applies
//! to this order, which lies between Shuffle-Once and random reshuffling. That analysis is for
//! constant steps and λ-strongly-convex terms fᵢ + (λ/2)‖θ‖² (true here for λ > 0); for the
//! decaying schedules and the averaging below we rely on the measurements quoted, not on a
//! theorem for this exact order.
//!
//! Once per epoch the driver evaluates the full gradient at the reported iterate (one extra
//! pass, counted in `passes`) to apply the shared stopping rule. SGD does not converge linearly:
//! its default tolerance is loose (10⁻⁴) and it mostly stops on its epoch budget, saying so.

use faer::Col;

use crate::error::{Error, Result};
use crate::fit::Fit;
use crate::iterate::{IterState, IterationControl, IterativeMethod};
use crate::logistic::LogisticProblem;
use crate::objective::Objective;
use crate::problem::RidgeProblem;
use crate::solvers::{Minimiser, Solver, SolverOptions, minimise_logistic, solve_ridge};
use crate::stochastic::{Sampler, batch_smoothness, entries_mut};

/// How the step ηₜ evolves with the step count t = 0, 1, 2, … (η_max = 1/(2·L_B), see the module
/// documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// ηₜ = η; `eta: None` uses η_max. With averaging, a constant step is the method of Bach &
    /// Moulines (2013) for least squares.
    Constant {
        /// The step, > 0.
        eta: Option<f64>,
    },
    /// ηₜ = η₀/(t + 1)^p, scikit-learn's 'invscaling' (`eta0`, `power_t`); `eta0: None` uses
    /// η_max. p ∈ (0, 1]; with averaging, p ∈ (0, 1) gives the optimal asymptotic rate (Polyak &
    /// Juditsky, 1992).
    InverseScaling {
        /// η₀ > 0.
        eta0: Option<f64>,
        /// p ∈ (0, 1].
        power: f64,
    },
    /// ηₜ = 1/(λ·(t + t₀)), scikit-learn's 'optimal'. `t0: None` uses t₀ = 1/(λ·η_max), so the
    /// first step is η_max; then with λ = 0 the step stays η_max. A given t₀ needs λ > 0.
    Optimal {
        /// t₀ > 0.
        t0: Option<f64>,
    },
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::Optimal { t0: None }
    }
}

impl Schedule {
    fn validate(self) -> Result<Self> {
        let positive = |name, v: Option<f64>| match v {
            Some(v) if !(v.is_finite() && v > 0.0) => Err(Error::invalid(
                name,
                v,
                "a positive number, or None for the default from the smoothness",
            )),
            _ => Ok(()),
        };
        match self {
            Schedule::Constant { eta } => positive("eta", eta)?,
            Schedule::InverseScaling { eta0, power } => {
                positive("eta0", eta0)?;
                if !(power > 0.0 && power <= 1.0) {
                    return Err(Error::invalid("power", power, "an exponent in (0, 1]"));
                }
            }
            Schedule::Optimal { t0 } => positive("t0", t0)?,
        }
        Ok(self)
    }

    /// ηₜ given η_max and λ (checked by [`Schedule::check_penalty`]).
    fn eta(&self, t: f64, eta_max: f64, lambda: f64) -> f64 {
        match *self {
            Schedule::Constant { eta } => eta.unwrap_or(eta_max),
            Schedule::InverseScaling { eta0, power } => {
                eta0.unwrap_or(eta_max) / (t + 1.0).powf(power)
            }
            // 1/(λ(t + t₀)) with t₀ = 1/(λ·η_max), written so that λ = 0 is the constant η_max.
            Schedule::Optimal { t0: None } => eta_max / (1.0 + eta_max * lambda * t),
            Schedule::Optimal { t0: Some(t0) } => 1.0 / (lambda * (t + t0)),
        }
    }

    fn check_penalty(&self, lambda: f64) -> Result<()> {
        if matches!(self, Schedule::Optimal { t0: Some(_) }) && lambda <= 0.0 {
            return Err(Error::invalid(
                "schedule",
                "1/(λ(t + t₀))",
                "λ > 0 (at λ = 0 this step is infinite); use a constant or inverse-scaling \
                 schedule, or omit t₀",
            ));
        }
        Ok(())
    }
}

/// Mini-batch SGD with a step schedule and restarted (tail) averaging.
#[derive(Debug, Clone)]
pub struct Sgd {
    control: IterationControl,
    batch_size: usize,
    seed: u64,
    schedule: Schedule,
    averaging: bool,
}

impl Sgd {
    /// Default relative tolerance on ‖∇f‖ (checked once per epoch).
    pub const DEFAULT_TOL: f64 = 1e-4;
    /// Default epoch budget.
    pub const DEFAULT_MAX_EPOCHS: usize = 200;
    /// Default batch size (see the module documentation for why 1).
    pub const DEFAULT_BATCH: usize = 1;

    /// SGD under the given control (`max_iter` counts epochs), with the default schedule,
    /// averaging on and batch size 1.
    pub fn new(control: IterationControl) -> Self {
        Self {
            control,
            batch_size: Self::DEFAULT_BATCH,
            seed: 0,
            schedule: Schedule::default(),
            averaging: true,
        }
    }

    /// Samples per step (≥ 1; capped at n when solving).
    pub fn with_batch_size(mut self, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::invalid("batch_size", batch_size, "at least 1"));
        }
        self.batch_size = batch_size;
        Ok(self)
    }

    /// The seed of the shuffles.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The step schedule (validated: positive steps and t₀, a power in (0, 1]).
    pub fn with_schedule(mut self, schedule: Schedule) -> Result<Self> {
        self.schedule = schedule.validate()?;
        Ok(self)
    }

    /// A constant step η > 0: `with_schedule(Schedule::Constant { eta: Some(step) })`.
    pub fn with_step(self, step: f64) -> Result<Self> {
        self.with_schedule(Schedule::Constant { eta: Some(step) })
    }

    /// Whether to report the restarted average of the iterates (default) or the last iterate.
    pub fn with_averaging(mut self, averaging: bool) -> Self {
        self.averaging = averaging;
        self
    }

    /// Builds from user options (`tol`, `max_iter` as epochs, `time_limit`, `step` as a constant
    /// step, `seed`, `batch_size`).
    pub fn from_options(options: &SolverOptions) -> Result<Self> {
        let mut sgd = Self::new(options.control(Self::DEFAULT_TOL, Self::DEFAULT_MAX_EPOCHS)?)
            .with_seed(options.seed.unwrap_or(0));
        if let Some(step) = options.step {
            sgd = sgd.with_step(step)?;
        }
        match options.batch_size {
            Some(b) => sgd.with_batch_size(b),
            None => Ok(sgd),
        }
    }
}

impl Default for Sgd {
    fn default() -> Self {
        Self::new(crate::solvers::default_control(
            Self::DEFAULT_TOL,
            Self::DEFAULT_MAX_EPOCHS,
        ))
    }
}

/// How many steps ahead the samples are prefetched (enough to cover a memory latency of a few
/// hundred nanoseconds at d ≈ 100; measured at n = 100 000, d = 100, 4 to 64 made no clear
/// difference).
const PREFETCH_AHEAD: usize = 16;

/// The bytes of sample data in one block of the block-shuffled order (see the module
/// documentation): small enough that the pages of a block stay in the TLB and its rows in L2,
/// large enough (hundreds of rows at d ≈ 100) that a block is a random subset of reasonable size.
const BLOCK_BYTES: usize = 256 * 1024;

/// Sample data up to this size are visited by plain random reshuffling (one block): they stay in
/// the caches, so random access costs little.
const CACHE_BYTES: usize = 8 << 20;

/// The fewest blocks of a blocked order: fewer, larger blocks make the orders of different epochs
/// more dependent (on the agreement property's problems, 4–8 blocks per epoch left up to 2× the
/// objective gap of random reshuffling after 200 epochs).
const MIN_BLOCKS: usize = 64;

/// Samples per block for n samples of d features: n (random reshuffling) when the data fit in
/// `CACHE_BYTES`, else `BLOCK_BYTES` of rows, at most n/`MIN_BLOCKS` and at least one.
fn block_rows(n: usize, d: usize) -> usize {
    let row_bytes = 8 * d.max(1);
    if n.saturating_mul(row_bytes) <= CACHE_BYTES {
        return n.max(1);
    }
    (BLOCK_BYTES / row_bytes).min(n / MIN_BLOCKS).max(1)
}

/// State of one SGD run: the raw iterate, the schedule and the shuffle.
struct Epochs {
    sampler: Sampler,
    batch: usize,
    schedule: Schedule,
    averaging: bool,
    eta_max: f64,
    raw: Col<f64>,
    slopes: Vec<f64>,
    t: f64,
    averaged: f64,
}

impl IterativeMethod for Epochs {
    fn init(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        self.schedule.check_penalty(objective.penalty())?;
        self.eta_max = 1.0 / (2.0 * batch_smoothness(objective, self.batch));
        self.raw = state.theta.clone();
        Ok(())
    }

    fn monotone(&self) -> bool {
        false
    }

    fn step(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        let (lambda, penalised) = (objective.penalty(), objective.n_penalised());
        if state.iteration.is_power_of_two() {
            // Restart the average: drop the iterates of the first half of the run.
            self.averaged = 0.0;
        }
        let average = self.averaging && state.iteration > 0;
        let block = block_rows(objective.n_samples(), objective.dim());
        let order = self.sampler.block_shuffled(block);
        for (start, batch) in (0..order.len())
            .step_by(self.batch)
            .zip(order.chunks(self.batch))
        {
            // The order is known in advance: start loading the samples a few steps ahead.
            for &i in order
                .iter()
                .skip(start + PREFETCH_AHEAD * self.batch)
                .take(self.batch)
            {
                objective.prefetch_sample(i);
            }
            let eta = self.schedule.eta(self.t, self.eta_max, lambda);
            let raw = entries_mut(&mut self.raw);
            // Every slope at the same θ first: the batch gradient is their mean.
            self.slopes.clear();
            self.slopes
                .extend(batch.iter().map(|&i| objective.sample_slope(i, raw)));
            let (shrink, scale) = (1.0 - eta * lambda, -eta / batch.len() as f64);
            for (k, (&i, &g)) in batch.iter().zip(&self.slopes).enumerate() {
                let (c, x) = (scale * g, objective.sample_row(i));
                if k == 0 {
                    // The penalty shrinks w; a free intercept (the trailing variables) is not
                    // penalised.
                    let (w, b) = raw.split_at_mut(penalised);
                    w.iter_mut()
                        .zip(x)
                        .for_each(|(w, x)| *w = shrink * *w + c * x);
                    b.iter_mut()
                        .zip(&x[penalised..])
                        .for_each(|(b, x)| *b += c * x);
                } else {
                    raw.iter_mut().zip(x).for_each(|(w, x)| *w += c * x);
                }
            }
            self.t += 1.0;
            if average {
                // Running mean of the iterates since the last restart.
                self.averaged += 1.0;
                let a = 1.0 / self.averaged;
                entries_mut(&mut state.theta)
                    .iter_mut()
                    .zip(&*raw)
                    .for_each(|(m, w)| *m += a * (w - *m));
            }
        }
        if !self.averaging || state.iteration == 0 {
            state.theta.copy_from(&self.raw);
        }
        // One sweep of n sample gradients; `evaluate` then adds the full gradient at θ.
        let n = objective.n_samples();
        objective.pass_counter().add_samples(n, n);
        state.evaluate(objective);
        Ok(())
    }
}

impl Solver for Sgd {
    fn name(&self) -> &'static str {
        "sgd"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        solve_ridge(self, problem)
    }

    fn solve_logistic(&self, problem: &LogisticProblem<'_>) -> Result<Fit> {
        minimise_logistic(self, problem)
    }
}

impl Minimiser for Sgd {
    fn control(&self) -> &IterationControl {
        &self.control
    }

    fn method(&self, objective: &dyn Objective) -> Result<Box<dyn IterativeMethod>> {
        let batch = self.batch_size.min(objective.n_samples());
        Ok(Box::new(Epochs {
            sampler: Sampler::new(self.seed, objective.n_samples()),
            batch,
            schedule: self.schedule,
            averaging: self.averaging,
            eta_max: 0.0,
            raw: Col::zeros(0),
            slopes: Vec::with_capacity(batch),
            t: 0.0,
            averaged: 0.0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Synthetic;
    use crate::solvers::Qr;

    /// A well-conditioned synthetic problem (κ(Xc) = 5) with n samples, d features, an offset.
    fn synthetic(n: usize, d: usize, offset: f64, seed: u64) -> crate::data::SyntheticData {
        Synthetic {
            n_samples: n,
            n_features: d,
            condition: 5.0,
            offset,
            seed,
            ..Default::default()
        }
        .generate()
        .unwrap()
    }

    #[test]
    fn same_seed_same_result_and_close_to_the_optimum() {
        let data = synthetic(500, 5, 3.0, 3);
        let p = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
            .lambda(1e-2)
            .build()
            .unwrap();
        let reference = Qr.solve(&p).unwrap();
        let a = Sgd::default().with_seed(1).solve(&p).unwrap();
        let b = Sgd::default().with_seed(1).solve(&p).unwrap();
        let c = Sgd::default().with_seed(2).solve(&p).unwrap();
        assert_eq!(a.coef, b.coef);
        assert_ne!(a.coef, c.coef);
        assert!(
            a.relative_error(reference.coef.as_ref()) < 1e-2,
            "{}",
            a.relative_error(reference.coef.as_ref())
        );
        // b = ȳ − x̄ᵀw, so the intercept inherits the coefficient error through x̄ (offset 3).
        let dw = (&a.coef - &reference.coef).norm_l2();
        assert!(
            (a.intercept - reference.intercept).abs() <= p.x_mean().norm_l2() * dw * (1.0 + 1e-9)
        );
    }

    #[test]
    fn block_shuffled_epochs_over_several_blocks_reach_the_optimum() {
        // n·d·8 = 9.6 MB > CACHE_BYTES: 64 blocks of 1875 samples, so the blocked order is
        // exercised.
        let data = synthetic(120_000, 10, 1.0, 7);
        let p = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
            .lambda(1e-2)
            .build()
            .unwrap();
        let reference = Qr.solve(&p).unwrap();
        assert_eq!(block_rows(120_000, 10), 1875);
        let control = IterationControl::new(1e-15, 10).unwrap();
        let fit = Sgd::new(control).with_seed(4).solve(&p).unwrap();
        let err = fit.relative_error(reference.coef.as_ref());
        assert!(err < 1e-2, "{err:e}");
    }

    #[test]
    fn a_block_shuffled_epoch_visits_every_sample_once() {
        let mut sampler = Sampler::new(9, 1000);
        for block in [1, 7, 64, 1000, 5000] {
            let mut seen = sampler.block_shuffled(block).to_vec();
            seen.sort_unstable();
            assert_eq!(seen, (0..1000).collect::<Vec<_>>(), "block {block}");
        }
    }

    #[test]
    fn a_step_far_too_large_is_a_divergence_error() {
        let (x, y) = crate::solvers::testing::small();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(1e-2)
            .build()
            .unwrap();
        let err = Sgd::default()
            .with_step(1e3)
            .unwrap()
            .solve(&p)
            .unwrap_err();
        assert!(matches!(err, Error::Diverged { .. }), "{err}");
    }
}
