//! Machinery shared by the stochastic backends (`sgd`, `sag`, `saga`, `svrg`), written once.
//!
//! - [`StochasticSettings`]: the settings every variance-reduced backend takes (driver control
//!   with `max_iter` counting epochs, seed, optional fixed step), validated when built.
//! - [`Sampler`]: seeded sampling, either (block) random reshuffling or uniform draws with replacement
//!   (ChaCha8, so the same seed gives the same result on every platform).
//! - [`SlopeTable`]: the per-sample gradient memory of SAG and SAGA, one scalar per sample (see
//!   [`Objective::sample_slope`]), and [`TableEpochs`], their shared epoch loop.
//! - [`control_variate_step`]: the update θ ← (1 − ηλ)θ − η·(c·xᵢ + v) that SAG, SAGA and SVRG
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

/// Driver control, seed and optional fixed step of a variance-reduced backend.
#[derive(Debug, Clone)]
pub struct StochasticSettings {
    pub(crate) control: IterationControl,
    pub(crate) seed: u64,
    pub(crate) step: Option<f64>,
}

impl StochasticSettings {
    /// Default relative tolerance on ‖∇f‖. The variance-reduced methods converge linearly, so
    /// the same tolerance as the deterministic methods is within reach.
    pub const DEFAULT_TOL: f64 = 1e-8;
    /// Default epoch budget (scikit-learn's `sag`/`saga` also default to 1000 epochs).
    pub const DEFAULT_MAX_EPOCHS: usize = 1000;

    /// Settings under the given control (`max_iter` counts epochs), seed 0, the theory step.
    pub fn new(control: IterationControl) -> Self {
        Self {
            control,
            seed: 0,
            step: None,
        }
    }

    /// The seed of the sampler.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// A fixed step η > 0 instead of the step from the method's convergence theory. Steps above
    /// the theory's are often faster in practice but carry no guarantee; a step that makes the
    /// method blow up is reported as [`Error::Diverged`].
    pub fn with_step(mut self, step: f64) -> Result<Self> {
        self.step = Some(positive_step(
            step,
            "or omit it for the step from the method's theory",
        )?);
        Ok(self)
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

    /// The fixed step if one was given, else `1/(divisor·L_max)` with L_max the largest
    /// smoothness constant of a sample term fᵢ + (λ/2)‖θ‖².
    pub(crate) fn step_or(&self, objective: &dyn Objective, divisor: f64) -> f64 {
        self.step
            .unwrap_or_else(|| 1.0 / (divisor * max_smoothness(objective)))
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
        // L_B = L_max: skip the power iterations that L_data would cost.
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
/// driver's full gradient (one more pass).
pub(crate) struct TableEpochs {
    sampler: Sampler,
    eta: f64,
    table: SlopeTable,
    step: TableStep,
}

impl TableEpochs {
    /// A run with the settings' seed and step (default 1/(divisor·L_max)).
    pub(crate) fn new(
        settings: &StochasticSettings,
        objective: &dyn Objective,
        divisor: f64,
        step: TableStep,
    ) -> Self {
        Self {
            sampler: Sampler::new(settings.seed, objective.n_samples()),
            eta: settings.step_or(objective, divisor),
            table: SlopeTable::default(),
            step,
        }
    }
}

impl IterativeMethod for TableEpochs {
    fn init(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        self.table = SlopeTable::at(objective, state);
        Ok(())
    }

    fn monotone(&self) -> bool {
        false
    }

    fn step(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        let theta = entries_mut(&mut state.theta);
        let n = objective.n_samples();
        for _ in 0..n {
            let i = self.sampler.uniform();
            (self.step)(objective, theta, &mut self.table, i, self.eta);
        }
        objective.pass_counter().add_samples(n, n);
        state.evaluate(objective);
        Ok(())
    }
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
