//! What a user can set on a backend, by name, and the shared defaults of the iterative ones.
//!
//! Below the solvers in the dependency order: the stochastic machinery and every backend read
//! their settings from here, and the registry (`crate::solvers`) builds backends from them.

use crate::error::{Error, Result};
use crate::iterate::{IterationControl, Observer};

/// The knobs a user can give by name (the command line, a config file), each validated when a
/// backend is built. A backend takes only the options it uses: giving it one it does not use is
/// an error naming the backends that do ([`crate::solvers::by_name`]), never silently ignored.
#[derive(Debug, Clone, Default)]
pub struct SolverOptions {
    /// Relative optimality tolerance ‖∇J(w)‖ ≤ tol·‖∇J(0)‖ (iterative backends).
    pub tol: Option<f64>,
    /// Absolute tolerance: also stop once ‖∇J(w)‖ ≤ abs_tol (iterative backends).
    pub abs_tol: Option<f64>,
    /// Iteration (epoch) budget (iterative backends).
    pub max_iter: Option<usize>,
    /// Wall-time budget in seconds (iterative backends).
    pub time_limit: Option<f64>,
    /// A fixed step size instead of the backend's default (gd, sgd, sag, saga, svrg).
    pub step: Option<f64>,
    /// Seed of the sampler (sgd, sag, saga, svrg).
    pub seed: Option<u64>,
    /// Record every k-th iteration into the fit's history (iterative backends; 0 = off).
    pub record_every: usize,
    /// Start from these coefficients w instead of zero (iterative backends); the stopping rule
    /// stays relative to the cold start, so a start at the solution converges at once.
    pub warm_start: Option<Vec<f64>>,
    /// Samples per step (sgd).
    pub batch_size: Option<usize>,
    /// Pairs kept by L-BFGS (lbfgs).
    pub memory: Option<usize>,
    /// Inner steps per outer iteration (svrg; default 2n).
    pub inner_steps: Option<usize>,
    /// Relative singular-value cut-off (svd; default max(n, d)·ε).
    pub rcond: Option<f64>,
    /// Largest number of refinement corrections (qr-refined, cholesky-refined).
    pub refine_steps: Option<usize>,
    /// Called on every recorded step (iterative backends; set `record_every` ≥ 1): sees the
    /// iterate and may stop the run ([`IterationControl::observer`]). Not an option by name
    /// ([`SolverOptions::set`] cannot set it); `tikhonov bench` uses it to keep the iterates.
    pub observer: Option<ObserverOption>,
}

/// An [`Observer`] carried by [`SolverOptions`]; its `Debug` says only that one is set.
#[derive(Clone)]
pub struct ObserverOption(pub Observer);

impl std::fmt::Debug for ObserverOption {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObserverOption(..)")
    }
}

/// The options every iterative backend takes (the driver's).
pub const DRIVER_OPTIONS: &[&str] = &[
    "tol",
    "abs_tol",
    "max_iter",
    "time_limit",
    "record_every",
    "warm_start",
];

impl SolverOptions {
    /// Every option name, in the order of the fields.
    pub const NAMES: &'static [&'static str] = &[
        "tol",
        "abs_tol",
        "max_iter",
        "time_limit",
        "step",
        "seed",
        "record_every",
        "warm_start",
        "batch_size",
        "memory",
        "inner_steps",
        "rcond",
        "refine_steps",
    ];

    /// The names of the options that are set.
    pub fn given(&self) -> Vec<&'static str> {
        let set = [
            self.tol.is_some(),
            self.abs_tol.is_some(),
            self.max_iter.is_some(),
            self.time_limit.is_some(),
            self.step.is_some(),
            self.seed.is_some(),
            self.record_every > 0,
            self.warm_start.is_some(),
            self.batch_size.is_some(),
            self.memory.is_some(),
            self.inner_steps.is_some(),
            self.rcond.is_some(),
            self.refine_steps.is_some(),
        ];
        Self::NAMES
            .iter()
            .zip(set)
            .filter_map(|(name, set)| set.then_some(*name))
            .collect()
    }

    /// These options with every one not in `accepted` unset: what a comparison hands each
    /// backend when one set of options is meant for several of them.
    pub fn restricted_to(&self, accepted: &[&str]) -> Self {
        let keep = |name: &str| accepted.contains(&name);
        Self {
            tol: self.tol.filter(|_| keep("tol")),
            abs_tol: self.abs_tol.filter(|_| keep("abs_tol")),
            max_iter: self.max_iter.filter(|_| keep("max_iter")),
            time_limit: self.time_limit.filter(|_| keep("time_limit")),
            step: self.step.filter(|_| keep("step")),
            seed: self.seed.filter(|_| keep("seed")),
            record_every: if keep("record_every") {
                self.record_every
            } else {
                0
            },
            warm_start: self.warm_start.clone().filter(|_| keep("warm_start")),
            batch_size: self.batch_size.filter(|_| keep("batch_size")),
            memory: self.memory.filter(|_| keep("memory")),
            inner_steps: self.inner_steps.filter(|_| keep("inner_steps")),
            rcond: self.rcond.filter(|_| keep("rcond")),
            refine_steps: self.refine_steps.filter(|_| keep("refine_steps")),
            // Observers ride with the recording, which every driver-based backend takes.
            observer: self.observer.clone().filter(|_| keep("record_every")),
        }
    }

    /// Sets one option from text, as a command line or a config file gives it (`warm_start` is
    /// a comma-separated list). Fails on an unknown name or a value that does not parse; the
    /// value's range is checked when a backend is built.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        fn parse<T: std::str::FromStr>(name: &'static str, value: &str, what: &str) -> Result<T> {
            value
                .trim()
                .parse()
                .map_err(|_| Error::invalid(name, value, what.to_owned()))
        }
        match name {
            "tol" => self.tol = Some(parse("tol", value, "a number, e.g. 1e-8")?),
            "abs_tol" => self.abs_tol = Some(parse("abs_tol", value, "a number, e.g. 1e-12")?),
            "max_iter" => self.max_iter = Some(parse("max_iter", value, "a whole number")?),
            "time_limit" => {
                self.time_limit = Some(parse("time_limit", value, "seconds, e.g. 2.5")?)
            }
            "step" => self.step = Some(parse("step", value, "a number, e.g. 0.01")?),
            "seed" => self.seed = Some(parse("seed", value, "a whole number ≥ 0")?),
            "record_every" => self.record_every = parse("record_every", value, "a whole number")?,
            "warm_start" => {
                self.warm_start = Some(
                    value
                        .split(',')
                        .map(|v| parse("warm_start", v, "comma-separated numbers"))
                        .collect::<Result<_>>()?,
                )
            }
            "batch_size" => self.batch_size = Some(parse("batch_size", value, "a whole number")?),
            "memory" => self.memory = Some(parse("memory", value, "a whole number")?),
            "inner_steps" => {
                self.inner_steps = Some(parse("inner_steps", value, "a whole number")?)
            }
            "rcond" => self.rcond = Some(parse("rcond", value, "a number in [0, 1)")?),
            "refine_steps" => {
                self.refine_steps = Some(parse("refine_steps", value, "a whole number")?)
            }
            _ => {
                return Err(Error::invalid(
                    "option",
                    name,
                    format!("one of {}", Self::NAMES.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// The driver settings these options describe, on top of a backend's defaults.
    pub fn control(&self, default_tol: f64, default_max_iter: usize) -> Result<IterationControl> {
        let mut c = IterationControl::new(
            self.tol.unwrap_or(default_tol),
            self.max_iter.unwrap_or(default_max_iter),
        )?
        .record_every(self.record_every);
        if let Some(t) = self.time_limit {
            c = c.time_limit(t)?;
        }
        if let Some(a) = self.abs_tol {
            c = c.abs_tol(a)?;
        }
        if let Some(w) = &self.warm_start {
            c = c.warm_start(faer::Col::from_fn(w.len(), |j| w[j]));
        }
        if let Some(o) = &self.observer {
            c = c.observer(o.0.clone());
        }
        Ok(c)
    }
}

/// The settings every deterministic iterative backend (`gd`, `agd`, `cg`, `pcg`, `lbfgs`, `cd`)
/// takes: the driver's control with the shared defaults, valid once built ([`IterationControl`]
/// checks `tol`, `max_iter` and `time_limit`). A backend holds one as a field, so its `Default`
/// can be derived and its constructors are one line each.
#[derive(Debug, Clone)]
pub struct IterativeSettings {
    pub(crate) control: IterationControl,
}

impl IterativeSettings {
    /// Default relative tolerance on ‖∇f‖.
    pub const DEFAULT_TOL: f64 = 1e-8;
    /// Default iteration budget (sweeps for `cd`).
    pub const DEFAULT_MAX_ITER: usize = 10_000;

    /// From user options (`tol`, `max_iter`, `time_limit`, `record_every`) over the defaults.
    pub fn from_options(options: &SolverOptions) -> Result<Self> {
        Ok(options
            .control(Self::DEFAULT_TOL, Self::DEFAULT_MAX_ITER)?
            .into())
    }

    /// The driver settings.
    pub fn control(&self) -> &IterationControl {
        &self.control
    }
}

impl Default for IterativeSettings {
    fn default() -> Self {
        default_control(Self::DEFAULT_TOL, Self::DEFAULT_MAX_ITER).into()
    }
}

impl From<IterationControl> for IterativeSettings {
    fn from(control: IterationControl) -> Self {
        Self { control }
    }
}

/// The control of a backend's default settings. Only for constants with `tol` ∈ (0, 1) and
/// `max_iter` ≥ 1, the only conditions [`IterationControl::new`] checks, so it cannot fail;
/// the test `every_default_is_valid` in src/solvers/mod.rs builds every backend's default to keep
/// it so.
pub(crate) fn default_control(tol: f64, max_iter: usize) -> IterationControl {
    IterationControl::new(tol, max_iter).expect("default tol in (0, 1) and max_iter ≥ 1")
}

/// A user's fixed step size η, which must be finite and positive; `otherwise` says what to pass
/// instead (the error message's advice).
pub(crate) fn positive_step(step: f64, otherwise: &str) -> Result<f64> {
    if step.is_finite() && step > 0.0 {
        Ok(step)
    } else {
        Err(Error::invalid(
            "step",
            step,
            format!("a positive step size, {otherwise}"),
        ))
    }
}
