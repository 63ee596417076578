//! Machinery shared by the stochastic backends (`sgd`, `sag`, `saga`, `svrg`), written once.
//!
//! - [`StochasticSettings`]: the settings every variance-reduced backend takes (driver control
//!   with `max_iter` counting epochs, seed, optional fixed step), validated when built.
//! - `Sampler`: seeded sampling, either (block) random reshuffling or uniform draws with replacement
//!   (ChaCha8, so the same seed gives the same result on every platform).
//! - `SlopeTable`: the per-sample gradient memory of SAG and SAGA, one scalar per sample (see
//!   [`Objective::sample_slope`]), and `TableEpochs`, their shared epoch loop.
//! - `control_variate_step`: the update θ ← (1 − ηλ)θ − η·(c·xᵢ + v) that SAG, SAGA and SVRG
//!   all take.
//!
//! Every stochastic backend runs through the shared driver with one driver iteration = one epoch,
//! so the stopping rule ‖∇f(θ)‖ ≤ tol·‖∇f(θ₀)‖ is checked once per epoch, on an exact full
//! gradient whose pass is counted in `passes`.

use faer::Col;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::Result;
use crate::iterate::{IterState, IterationControl, IterativeMethod};
use crate::objective::{Objective, data_part};
use crate::options::{SolverOptions, default_control, positive_step};

/// How a variance-reduced backend (`sag`, `saga`, `svrg`) chooses its step η.
///
/// Each backend has two steps of the form η = 1/(c·L_max), L_max the largest smoothness of a
/// sample term fᵢ + (λ/2)‖θ‖² (`max_smoothness`): the *theory* step of its convergence theorem
/// and the larger *practical* step that implementations use and that converges in far fewer
/// epochs on the problems measured in the README's iterative section.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepRule {
    /// The default: start at the practical step, and halve it (never below the theory step)
    /// after any epoch that ends with the objective above its value at the start of that epoch;
    /// that epoch is then undone (iterate and gradient memory restored). See `Safeguard`.
    Practical,
    /// The theory step, fixed: the step the method's convergence theorem covers.
    Theory,
    /// A fixed step η > 0 given by the user, without safeguard.
    Fixed(f64),
}

/// Driver control, seed and step rule of a variance-reduced backend.
#[derive(Debug, Clone)]
pub struct StochasticSettings {
    pub(crate) control: IterationControl,
    pub(crate) seed: u64,
    pub(crate) step: StepRule,
}

impl StochasticSettings {
    /// Default relative tolerance on ‖∇f‖. The variance-reduced methods converge linearly, so
    /// the same tolerance as the deterministic methods is within reach.
    pub const DEFAULT_TOL: f64 = 1e-8;
    /// Default epoch budget (scikit-learn's `sag`/`saga` also default to 1000 epochs).
    pub const DEFAULT_MAX_EPOCHS: usize = 1000;

    /// Settings under the given control (`max_iter` counts epochs), seed 0, the safeguarded
    /// practical step ([`StepRule::Practical`]).
    pub fn new(control: IterationControl) -> Self {
        Self {
            control,
            seed: 0,
            step: StepRule::Practical,
        }
    }

    /// The seed of the sampler.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// A fixed step η > 0 instead of the method's own ([`StepRule::Fixed`]). Such a step carries
    /// no guarantee and no safeguard; a step that makes the method blow up is reported as
    /// [`Error::Diverged`](crate::Error::Diverged).
    pub fn with_step(mut self, step: f64) -> Result<Self> {
        self.step = StepRule::Fixed(positive_step(
            step,
            "or omit it for the method's own (safeguarded) step",
        )?);
        Ok(self)
    }

    /// The fixed step of the method's convergence theorem ([`StepRule::Theory`]) instead of the
    /// safeguarded practical one.
    pub fn theory_step(mut self) -> Self {
        self.step = StepRule::Theory;
        self
    }

    /// The step rule.
    pub fn step_rule(&self) -> StepRule {
        self.step
    }

    /// From user options (`tol`, `max_iter` as epochs, `time_limit`, `step`, `seed`).
    pub fn from_options(options: &SolverOptions) -> Result<Self> {
        let settings = Self::new(options.control(Self::DEFAULT_TOL, Self::DEFAULT_MAX_EPOCHS)?)
            .with_seed(options.seed.unwrap_or(0));
        match options.step {
            Some(step) => settings.with_step(step),
            None => Ok(settings),
        }
    }

    /// The step of a method with the given plan, under this step rule.
    pub(crate) fn step_or(&self, objective: &dyn Objective, plan: StepPlan) -> Safeguard {
        let l_max = || max_smoothness(objective);
        match self.step {
            StepRule::Fixed(eta) => Safeguard::fixed(eta),
            StepRule::Theory => Safeguard::fixed(1.0 / (plan.theory * l_max())),
            StepRule::Practical => {
                let l = l_max();
                Safeguard {
                    eta: 1.0 / (plan.practical * l),
                    floor: 1.0 / (plan.theory * l),
                    window: plan.window.max(1),
                    theory_first_epoch: plan.theory_first_epoch,
                    initial: f64::NAN,
                    checkpoint: f64::NAN,
                    since: 0,
                }
            }
        }
    }
}

/// A method's steps η = 1/(c·L_max) (see [`StepRule`]) and how its safeguard judges them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepPlan {
    /// c of the practical step (the default's starting step).
    pub practical: f64,
    /// c of the convergence theorem's step (the safeguard's floor).
    pub theory: f64,
    /// Epochs between the safeguard's checkpoints: the time scale on which the method's
    /// theorem promises a decrease (see [`Safeguard`]).
    pub window: usize,
    /// Run the first epoch at the theory step, unjudged, and take the first checkpoint at its
    /// end (SAG: see the `sag` module).
    pub theory_first_epoch: bool,
}

/// What the method must do after an epoch ([`Safeguard::judge`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Go on.
    Keep,
    /// Save the current state as the new checkpoint, then go on.
    Checkpoint,
    /// Restore the checkpoint's state (the step has been halved), then go on.
    Undo,
}

/// The current step of a variance-reduced run and its safeguard.
///
/// With the default rule ([`StepRule::Practical`]) the method saves its state (iterate, value,
/// gradient and gradient memory) at a checkpoint, at the start and then every `window` epochs,
/// and asks [`Safeguard::judge`] after each epoch. An epoch is *undone*, restoring the
/// checkpoint, and the step halved (never below the theory step, the floor) when
///
/// - at the end of a window, f is above its value at the checkpoint (by more than rounding: a
///   relative 10⁻¹² plus ε·f(θ₀)); or
/// - at any epoch, f is not finite or exceeds the checkpoint's value by 10·|f(θ₀)|, a tenth of
///   the driver's blow-up threshold ([`crate::iterate::NON_MONOTONE_BLOW_UP`]), so the safeguard
///   acts before the driver would end the run as diverged.
///
/// At the floor, and for fixed steps, nothing is judged (the driver's blow-up test still
/// applies). Undone epochs are driver iterations that leave the state where the checkpoint had
/// it; their passes are counted.
///
/// *Why a window.* SAG and SAGA are not descent methods: their objective can rise for an epoch or
/// two while the gradient memory catches up, and SAG's does so routinely at 1/L_max (rises of
/// 5–70 % in one epoch on the problems of the `sag` module's table, in runs that converge up to
/// 13× faster than at the theory step). What their theorems promise is a contraction on a longer
/// time scale: SAG's rate min(μ/(16·L_max), 1/(8n)) per sample step is at most one e-fold per 8
/// epochs, SAGA's min(1/(4n), μ/(3·L_max)) one per 4 epochs, SVRG's a factor α < 1 per outer
/// iteration; the windows are 8, 4 and 1. A step that is too large makes f grow geometrically,
/// so f rises over the window too.
///
/// *Why halving, and why undo.* Halving rather than dropping at once to the theory step keeps
/// most of the speed when a slightly smaller step is stable: SAG's factor 16 is crossed in at
/// most four halvings. Undoing means an unstable step never leaves the iterate, or the gradient
/// memory, worse than the last checkpoint.
#[derive(Debug, Clone)]
pub(crate) struct Safeguard {
    eta: f64,
    /// The smallest step the safeguard goes down to (= `eta` when fixed).
    floor: f64,
    window: usize,
    theory_first_epoch: bool,
    /// f(θ₀), the scale of f's rounding error; set by [`Safeguard::start`].
    initial: f64,
    /// f at the checkpoint.
    checkpoint: f64,
    /// Epochs since the checkpoint.
    since: usize,
}

impl Safeguard {
    fn fixed(eta: f64) -> Self {
        Self {
            eta,
            floor: eta,
            window: 1,
            theory_first_epoch: false,
            initial: f64::NAN,
            checkpoint: f64::NAN,
            since: 0,
        }
    }

    /// The step of the epoch that starts after `iteration` completed ones.
    pub(crate) fn eta(&self, iteration: usize) -> f64 {
        if iteration == 0 && self.theory_first_epoch {
            self.floor
        } else {
            self.eta
        }
    }

    /// Whether the step can still be reduced (the method must keep a checkpoint).
    pub(crate) fn active(&self) -> bool {
        self.eta > self.floor
    }

    /// The run starts at f(θ₀) = `value`: the first checkpoint (the method saves its state if
    /// [`Safeguard::active`]).
    pub(crate) fn start(&mut self, value: f64) {
        self.initial = value;
        self.checkpoint = value;
        self.since = 0;
    }

    /// The verdict on the epoch that ended with f = `value` after `iteration` completed ones
    /// before it.
    pub(crate) fn judge(&mut self, iteration: usize, value: f64) -> Verdict {
        if !self.active() {
            return Verdict::Keep;
        }
        if iteration == 0 && self.theory_first_epoch {
            // That epoch ran at the theory step: the run as it always was, whatever f did (the
            // driver still judges blow-ups); the practical step starts from its end.
            self.checkpoint = value;
            self.since = 0;
            return Verdict::Checkpoint;
        }
        self.since += 1;
        let blow_up = crate::iterate::NON_MONOTONE_BLOW_UP / 10.0 * self.initial.abs();
        let slack = 1e-12 * self.checkpoint.abs() + f64::EPSILON * self.initial.abs();
        let blown_up = !value.is_finite() || value > self.checkpoint + blow_up;
        let undo = blown_up || (self.since >= self.window && value > self.checkpoint + slack);
        if undo {
            self.eta = (0.5 * self.eta).max(self.floor);
            self.since = 0;
            Verdict::Undo
        } else if self.since >= self.window {
            self.checkpoint = value;
            self.since = 0;
            Verdict::Checkpoint
        } else {
            Verdict::Keep
        }
    }
}

impl Default for StochasticSettings {
    fn default() -> Self {
        Self::new(default_control(Self::DEFAULT_TOL, Self::DEFAULT_MAX_EPOCHS))
    }
}

/// L_max: the largest smoothness constant of a sample term fᵢ + (λ/2)‖θ‖².
pub(crate) fn max_smoothness(objective: &dyn Objective) -> f64 {
    objective.max_sample_smoothness() + objective.penalty()
}

/// The expected smoothness L_B of the mean of a batch of B terms drawn without replacement
/// (Gower et al., 2019, "SGD: general analysis and improved rates", Prop. 3.8), plus λ:
///
/// ```text
/// L_B = (n − B)/(B·(n − 1))·L_max + n·(B − 1)/(B·(n − 1))·L_data + λ
/// ```
///
/// which interpolates between L_max (B = 1) and the full-gradient constant L (B = n).
pub(crate) fn batch_smoothness(objective: &dyn Objective, batch: usize) -> f64 {
    if batch == 1 {
        // L_B = L_max: skip the Lanczos iteration that L_data would cost.
        return max_smoothness(objective);
    }
    let (n, b) = (objective.n_samples() as f64, batch as f64);
    let l_data = objective.smoothness() - objective.penalty();
    let l_max = objective.max_sample_smoothness();
    let l = if n > 1.0 {
        (n - b) / (b * (n - 1.0)) * l_max + n * (b - 1.0) / (b * (n - 1.0)) * l_data
    } else {
        l_max
    };
    l + objective.penalty()
}

/// Seeded sample indices.
#[derive(Debug, Clone)]
pub(crate) struct Sampler {
    rng: ChaCha8Rng,
    order: Vec<usize>,
    blocks: Vec<usize>,
}

impl Sampler {
    /// A sampler over 0..n.
    pub(crate) fn new(seed: u64, n: usize) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            order: (0..n).collect(),
            blocks: Vec::new(),
        }
    }

    /// A fresh *block-shuffled* order of 0..n: the indices are cut into runs of `block`
    /// consecutive ones; the runs are visited in a random order and each run in a random order.
    /// Each sample still comes once per epoch, and with `block` ≥ n this is a uniformly random
    /// permutation (random reshuffling). See the `sgd` module for what theory covers.
    pub(crate) fn block_shuffled(&mut self, block: usize) -> &[usize] {
        let n = self.order.len();
        let block = block.clamp(1, n.max(1));
        self.blocks.clear();
        self.blocks.extend(0..n.div_ceil(block));
        self.blocks.shuffle(&mut self.rng);
        let mut next = 0;
        for &b in &self.blocks {
            let (start, end) = (b * block, ((b + 1) * block).min(n));
            let run = &mut self.order[next..next + end - start];
            run.iter_mut().zip(start..end).for_each(|(o, i)| *o = i);
            run.shuffle(&mut self.rng);
            next += end - start;
        }
        &self.order
    }

    /// One index drawn uniformly from 0..n, with replacement (the sampling the convergence
    /// theorems of SAG, SAGA and SVRG assume).
    pub(crate) fn uniform(&mut self) -> usize {
        self.rng.random_range(0..self.order.len())
    }
}

/// The remembered slopes αᵢ (one scalar per sample, [`Objective::sample_slope`]) and their mean
/// gradient ḡ = (1/n)·Σᵢ αᵢ·xᵢ, kept in step as single entries are replaced. The default is an
/// empty table, to be replaced by [`SlopeTable::at`] in a method's `init`.
#[derive(Debug, Clone)]
pub(crate) struct SlopeTable {
    slopes: Col<f64>,
    /// ḡ, the data part of the gradient the table remembers.
    pub(crate) mean: Col<f64>,
}

impl Default for SlopeTable {
    fn default() -> Self {
        Self {
            slopes: Col::zeros(0),
            mean: Col::zeros(0),
        }
    }
}

impl SlopeTable {
    /// The table at the current iterate: αᵢ = gᵢ(θ), so ḡ is the data part of ∇f(θ) exactly.
    /// Re-evaluates `state` in the same pass (counted in `passes`).
    pub(crate) fn at(objective: &dyn Objective, state: &mut IterState) -> Self {
        let mut slopes = Col::zeros(objective.n_samples());
        state.evaluate_with_slopes(objective, slopes.as_mut());
        let mean = data_part(objective, state.theta.as_ref(), state.grad.as_ref());
        Self { slopes, mean }
    }

    /// The remembered slope of sample i.
    pub(crate) fn slope(&self, i: usize) -> f64 {
        self.slopes[i]
    }

    /// Replaces αᵢ by `slope` and moves ḡ by (slope − αᵢ)/n·xᵢ.
    pub(crate) fn replace(&mut self, objective: &dyn Objective, i: usize, slope: f64) {
        let delta = (slope - self.slopes[i]) / self.slopes.nrows() as f64;
        self.slopes[i] = slope;
        if delta != 0.0 {
            entries_mut(&mut self.mean)
                .iter_mut()
                .zip(objective.sample_row(i))
                .for_each(|(g, x)| *g += delta * x);
        }
    }
}

/// One sample step of a slope-table method: given sample i, update θ and the table (SAG and SAGA
/// differ only here).
pub(crate) type TableStep = fn(&dyn Objective, &mut [f64], &mut SlopeTable, usize, f64);

/// The epochs of a slope-table method: the table starts at θ₀ (one pass), then each epoch makes
/// n uniform draws, hands each to the method's [`TableStep`] with step η, and ends with the
/// driver's full gradient (one more pass). With the safeguarded default step ([`Safeguard`]) the
/// iterate, its value and gradient and the table are saved at each checkpoint and restored when
/// the safeguard undoes an epoch.
pub(crate) struct TableEpochs {
    sampler: Sampler,
    step_size: Safeguard,
    table: SlopeTable,
    step: TableStep,
    saved: Option<(IterState, SlopeTable)>,
}

impl TableEpochs {
    /// A run with the settings' seed and step rule (default: the practical step, safeguarded).
    pub(crate) fn new(
        settings: &StochasticSettings,
        objective: &dyn Objective,
        plan: StepPlan,
        step: TableStep,
    ) -> Self {
        Self {
            sampler: Sampler::new(settings.seed, objective.n_samples()),
            step_size: settings.step_or(objective, plan),
            table: SlopeTable::default(),
            step,
            saved: None,
        }
    }

    fn save(&mut self, state: &IterState) {
        match &mut self.saved {
            Some((s, t)) => {
                s.clone_from(state);
                t.clone_from(&self.table);
            }
            None => self.saved = Some((state.clone(), self.table.clone())),
        }
    }
}

impl IterativeMethod for TableEpochs {
    fn init(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        self.table = SlopeTable::at(objective, state);
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
        let theta = entries_mut(&mut state.theta);
        let n = objective.n_samples();
        for _ in 0..n {
            let i = self.sampler.uniform();
            (self.step)(objective, theta, &mut self.table, i, eta);
        }
        objective.pass_counter().add_samples(n, n);
        state.evaluate(objective);
        match self.step_size.judge(state.iteration, state.value) {
            Verdict::Keep => {}
            Verdict::Checkpoint => self.save(state),
            Verdict::Undo => {
                // `judge` says Undo only while the safeguard is active, and it asks for a
                // Checkpoint (which saves) before any Undo: the first judged epoch is one.
                let (s, t) = self
                    .saved
                    .as_ref()
                    .expect("saved while the safeguard is active");
                restore(state, s);
                self.table.clone_from(t);
            }
        }
        Ok(())
    }
}

/// Puts `state` back to `saved` (iterate, value, gradient), keeping its counters.
pub(crate) fn restore(state: &mut IterState, saved: &IterState) {
    state.theta.clone_from(&saved.theta);
    state.grad.clone_from(&saved.grad);
    state.value = saved.value;
    state.grad_norm = saved.grad_norm;
}

/// θ ← (1 − ηλ)·θ − η·(c·x + v) on the penalised variables θ[..d] and θ ← θ − η·(c·x + v) on a
/// free intercept: a step along the gradient estimate c·x + v of the data part, with the
/// penalty's gradient λ·w taken exactly at θ (it is not a sum over samples, so it needs no
/// variance reduction).
pub(crate) fn control_variate_step(
    objective: &dyn Objective,
    theta: &mut [f64],
    eta: f64,
    c: f64,
    x: &[f64],
    v: &[f64],
) {
    let d = objective.n_penalised();
    let shrink = 1.0 - eta * objective.penalty();
    let (w, b) = theta.split_at_mut(d);
    w.iter_mut()
        .zip(x.iter().zip(v))
        .for_each(|(t, (x, v))| *t = shrink * *t - eta * (c * x + v));
    b.iter_mut()
        .zip(x[d..].iter().zip(&v[d..]))
        .for_each(|(t, (x, v))| *t -= eta * (c * x + v));
}

/// The entries of an owned column, as a slice.
pub(crate) fn entries(c: &Col<f64>) -> &[f64] {
    c.as_ref()
        .try_as_col_major()
        .expect("an owned faer Col is contiguous")
        .as_slice()
}

/// The entries of an owned column, as a mutable slice.
pub(crate) fn entries_mut(c: &mut Col<f64>) -> &mut [f64] {
    c.as_mut()
        .try_as_col_major_mut()
        .expect("an owned faer Col is contiguous")
        .as_slice_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objective::LeastSquares;
    use crate::problem::RidgeProblem;
    use crate::solvers::{Qr, Sag, Saga, Solver, Svrg, testing};

    #[test]
    fn slope_table_keeps_its_mean_in_step_with_its_entries() {
        let (x, y) = testing::small();
        let w = Col::from_fn(40, |i| 0.5 + (i % 4) as f64);
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(0.1)
            .weights(w.as_ref())
            .build()
            .unwrap();
        let objective = LeastSquares::new(&p);
        let theta = Col::from_fn(3, |j| j as f64 - 1.0);
        let mut state = IterState {
            theta: theta.clone(),
            value: 0.0,
            grad: Col::zeros(3),
            grad_norm: 0.0,
            iteration: 0,
            passes: 0.0,
            threshold: 0.0,
        };
        let mut table = SlopeTable::at(&objective, &mut state);
        let mean_of = |table: &SlopeTable| {
            let mut m = Col::<f64>::zeros(3);
            for i in 0..40 {
                for (m, x) in m.iter_mut().zip(objective.sample_row(i)) {
                    *m += table.slope(i) / 40.0 * x;
                }
            }
            m
        };
        // At θ the table's mean is the data part of ∇f(θ), and so is the mean of its slopes.
        let scale = state.grad.norm_l2();
        let data_grad = &state.grad - faer::Scale(0.1) * &theta;
        assert!((&table.mean - &data_grad).norm_l2() <= 1e-12 * scale);
        assert!((mean_of(&table) - &data_grad).norm_l2() <= 1e-12 * scale);
        for i in 0..40 {
            assert!((table.slope(i) - objective.sample_slope(i, entries(&theta))).abs() <= 1e-9);
        }
        for (i, s) in [(3, 2.0), (17, -1.0), (3, 0.5)] {
            table.replace(&objective, i, s);
        }
        assert!((&table.mean - mean_of(&table)).norm_l2() <= 1e-12 * scale);
        assert_eq!(objective.passes(), 1.0);
    }

    #[test]
    fn the_safeguard_undoes_rises_over_its_window_and_blow_ups_at_once() {
        let mut s = Safeguard {
            eta: 1.0,
            floor: 1.0 / 16.0,
            window: 3,
            theory_first_epoch: true,
            initial: f64::NAN,
            checkpoint: f64::NAN,
            since: 0,
        };
        s.start(1.0);
        assert_eq!(s.eta(0), 1.0 / 16.0, "the first epoch runs at the floor");
        // The first epoch is not judged, whatever it did; its end is the checkpoint.
        assert_eq!(s.judge(0, 5.0), Verdict::Checkpoint);
        assert_eq!(s.eta(1), 1.0);
        // Rises inside the window are tolerated; the window's end is judged against 5.
        assert_eq!(s.judge(1, 6.0), Verdict::Keep);
        assert_eq!(s.judge(2, 7.0), Verdict::Keep);
        assert_eq!(s.judge(3, 4.0), Verdict::Checkpoint);
        assert_eq!(s.judge(4, 3.0), Verdict::Keep);
        assert_eq!(s.judge(5, 3.0), Verdict::Keep);
        assert_eq!(s.judge(6, 4.0 + 1e-9), Verdict::Undo);
        assert_eq!(s.eta(7), 0.5);
        // A blow-up (10·|f(θ₀)| above the checkpoint) or a non-finite value is undone at once.
        assert_eq!(s.judge(7, 4.0 + 10.5), Verdict::Undo);
        assert_eq!(s.judge(8, f64::NAN), Verdict::Undo);
        assert_eq!(s.eta(9), 0.125);
        assert_eq!(s.judge(9, f64::INFINITY), Verdict::Undo);
        assert_eq!(s.eta(10), 1.0 / 16.0, "halved down to the floor, not below");
        // At the floor nothing is judged (the driver still catches blow-ups).
        assert!(!s.active());
        assert_eq!(s.judge(10, 1e9), Verdict::Keep);
        assert_eq!(Safeguard::fixed(0.3).judge(0, f64::INFINITY), Verdict::Keep);
    }

    #[test]
    fn variance_reduced_backends_reach_a_tight_tolerance_on_a_small_problem() {
        let (x, y) = testing::small();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(1e-2)
            .build()
            .unwrap();
        let reference = Qr.solve(&p).unwrap();
        let control = IterationControl::new(1e-10, 100_000).unwrap();
        let settings = StochasticSettings::new(control).with_seed(5);
        let fits = [
            Sag(settings.clone()).solve(&p).unwrap(),
            Saga(settings.clone()).solve(&p).unwrap(),
            Svrg::new(settings).solve(&p).unwrap(),
        ];
        for fit in fits {
            assert!(fit.converged, "{}", fit.solver);
            let err = fit.relative_error(reference.coef.as_ref());
            assert!(err < 1e-7, "{}: {err:e}", fit.solver);
        }
    }
}
