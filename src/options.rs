//! What a user can set on a backend, by name, and the shared defaults of the iterative ones.
//!
//! Below the solvers in the dependency order: the stochastic machinery and every backend read
//! their settings from here, and the registry (`crate::solvers`) builds backends from them.

use crate::error::{Error, Result};
use crate::iterate::IterationControl;

/// The knobs a user can give by name (the command line, a config file). Each backend takes the
/// ones that apply to it and ignores the rest; each value is validated when the solver is built.
#[derive(Debug, Clone, Default)]
pub struct SolverOptions {
    /// Relative optimality tolerance ‖∇J(w)‖ ≤ tol·‖∇J(w₀)‖.
    pub tol: Option<f64>,
    /// Iteration (epoch) budget.
    pub max_iter: Option<usize>,
    /// Wall-time budget in seconds.
    pub time_limit: Option<f64>,
    /// A fixed step size instead of the backend's default.
    pub step: Option<f64>,
    /// Seed for stochastic backends.
    pub seed: Option<u64>,
    /// Record every k-th iteration into the fit's history (0 = off).
    pub record_every: usize,
}

impl SolverOptions {
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
/// `every_default_is_valid` below builds every backend's default to keep it so.
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
