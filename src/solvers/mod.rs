//! The [`Solver`] trait and the registry of backends.
//!
//! | name | method | cost | accuracy |
//! |---|---|---|---|
//! | `auto` | dual if d > n and λ > 0, else cholesky-refined if κ(X)²·ε ≤ 1e-10, else qr-refined; svd at λ = 0 if rank-deficient | that backend's | that backend's; names it in `Fit::solver` |
//! | `normal` | Gram system (XcᵀSXc + SλI)w = XcᵀSyc, nalgebra LU | n·d² + d³ | error ∝ κ(X)² |
//! | `cholesky` | same system, faer Cholesky | n·d² + d³/3 | error ∝ κ(X)² |
//! | `qr` | Householder QR of [√S·Xc; √(Sλ)·I] | 2·n·d² | error ∝ κ(X) (the reference) |
//! | `qr-refined` | `qr` + refinement, residuals in double-double | + O(n·d) per step | the f64 data's exact solution |
//! | `cholesky-refined` | `cholesky` + the same refinement | + O(n·d) per step | same, while κ(X)²·ε ≪ 1 |
//! | `svd` | thin SVD of √S·Xc, filter σ/(σ² + Sλ) | 4·n·d² + 8·d³ | error ∝ κ(X); min-norm at λ = 0 |
//! | `dual` | Cholesky of the kernel XcSXcᵀ + SλI | n²·d + n³/3 | error ∝ κ(X)²; for d > n |
//! | `gd` | gradient descent, step 1/L | 2·n·d per iteration, ~κ(X)² iterations | to `tol` |
//! | `agd` | Nesterov, step 1/L, momentum (√κ−1)/(√κ+1) or FISTA, gradient restart | 1 pass per iteration, ~κ(X) iterations | to `tol` |
//! | `cg` | CGLS on the normal equations, no XᵀX | 1 pass per iteration, ≤ d and ~κ(X) iterations | to `tol` |
//! | `pcg` | `cg` with Jacobi (column-norm) preconditioning | as `cg`, + ½ pass once | to `tol` |
//! | `sketch-cg` | `cg` preconditioned by R of [S·A; √λ·I], S a sparse sign sketch of 4d rows | ½ pass + 8·n·d + 10·d³ once, then as `cg`; iterations independent of κ(X) | to `tol` |
//! | `lbfgs` | L-BFGS (m = 10), strong-Wolfe line search | 1 pass per trial step, ~κ(X) iterations | to `tol` |
//! | `newton` | Newton / IRLS: Hessian (Xc, 1)ᵀC(Xc, 1) + λ from the moment routine (curvature weights), Cholesky, Armijo line search | n·d² + d³/3 per iteration, ~10 iterations | to `tol` (default 1e-12), quadratically: the logistic reference |
//! | `cd` | cyclic coordinate descent, residual updates | 1.5 passes per sweep, ~κ(X)² sweeps | to `tol` |
//! | `sgd` | mini-batch SGD, step schedule, tail averaging | n·d per epoch | coarse (~1e-2) |
//! | `sag` | stochastic average gradient, step 1/(16·L_max) | 2·n·d per epoch, linear rate | to `tol` |
//! | `saga` | SAGA, step 1/(3·L_max) | 2·n·d per epoch, linear rate | to `tol` |
//! | `svrg` | SVRG, step 1/(10·L_max), 2n inner steps | 3·n·d per outer iteration, linear rate | to `tol` |
//!
//! Adding a backend is one file in this folder and one line in [`REGISTRY`]. A deterministic
//! iterative backend holds an [`IterativeSettings`] (the driver control and its defaults) and
//! implements [`IterativeMethod`] for one step; `iterative` runs it through the shared driver.

use std::time::Instant;

use crate::error::{Error, Result};
use crate::fit::{Fit, LossKind, Solution};
use crate::iterate::{IterationControl, IterativeMethod, Outcome};
use crate::logistic::LogisticProblem;
use crate::loss::{Logistic, Loss};
use crate::multi::MultiRidgeProblem;
use crate::objective::{LeastSquares, Objective};
use crate::problem::RidgeProblem;
use crate::risk::EmpiricalRisk;

pub mod agd;
pub mod auto;
pub mod cd;
pub mod cg;
pub mod cholesky;
pub mod dual;
pub mod gd;
pub mod lbfgs;
pub mod newton;
pub mod normal;
pub mod qr;
pub mod refined;
pub mod sag;
pub mod saga;
pub mod sgd;
pub mod svd;
pub mod svrg;

pub use agd::AcceleratedGradient;
pub use auto::Auto;
pub use cd::CoordinateDescent;
pub use cg::{ConjugateGradient, Preconditioner};
pub use cholesky::Cholesky;
pub use dual::Dual;
pub use gd::GradientDescent;
pub use lbfgs::Lbfgs;
pub use newton::Newton;
pub use normal::NormalEquations;
pub use qr::Qr;
pub use refined::Refined;
pub use sag::Sag;
pub use saga::Saga;
pub use sgd::{Schedule, Sgd};
pub use svd::{Svd, SvdFactorization};
pub use svrg::Svrg;

pub use crate::options::{DRIVER_OPTIONS, IterativeSettings, SolverOptions};
pub(crate) use crate::options::{default_control, positive_step};

/// A ridge backend: a stable name and a way to solve a [`RidgeProblem`].
///
/// Configuration (tolerances, steps, seeds) lives in the solver value and is validated when the
/// value is built, so `solve` only fails for reasons that belong to the problem.
pub trait Solver: Send + Sync {
    /// The registry name, e.g. `"cholesky"`.
    fn name(&self) -> &'static str;
    /// Solves the problem and returns the fit with shared diagnostics.
    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit>;

    /// Fits every target of a multi-target problem; fit t belongs to target t and equals
    /// `solve(&problem.target(t))` up to rounding. This default solves the targets one by one;
    /// the direct backends override it to form and factor their matrix once per distinct λ
    /// (`svd` once in all) and solve the k right-hand sides together.
    fn solve_targets(&self, problem: &MultiRidgeProblem<'_>) -> Result<Vec<Fit>> {
        (0..problem.n_targets())
            .map(|t| self.solve(&problem.target(t)))
            .collect()
    }

    /// Fits L2-regularised logistic regression. Backends that handle only the squared loss keep
    /// this default, which is [`Error::UnsupportedLoss`] naming those that do; every
    /// [`Minimiser`] implements it with [`minimise_logistic`].
    fn solve_logistic(&self, _problem: &LogisticProblem<'_>) -> Result<Fit> {
        Err(unsupported(self.name(), LossKind::Logistic))
    }
}

/// [`Error::UnsupportedLoss`] for `solver` and `loss`, listing the built-in backends that fit it.
pub fn unsupported(solver: &str, loss: LossKind) -> Error {
    Error::UnsupportedLoss {
        solver: solver.to_owned(),
        loss: loss.name(),
        supported: REGISTRY
            .iter()
            .filter(|s| s.losses.contains(&loss))
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The losses of a backend that fits only ridge regression.
pub const SQUARED_ONLY: &[LossKind] = &[LossKind::Squared];
/// The losses of a backend that fits every loss of the crate.
pub const EVERY_LOSS: &[LossKind] = &[LossKind::Squared, LossKind::Logistic];

/// Whether a backend factors a matrix or iterates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SolverKind {
    /// Closed form: one factorisation, exact up to rounding.
    Direct,
    /// Iterative: stops on `tol`, `max_iter` or a time budget, and says whether it converged.
    Iterative,
}

/// A registry entry: what a backend is called, what it is, which options it takes, and how to
/// build it from them.
#[derive(Clone, Copy)]
pub struct SolverInfo {
    /// The stable name.
    pub name: &'static str,
    /// Direct or iterative.
    pub kind: SolverKind,
    /// One line for `--help` and the README.
    pub summary: &'static str,
    /// The options ([`SolverOptions`]) it takes; any other given option is an error.
    pub options: Accepts,
    /// The losses it fits ([`SQUARED_ONLY`] or [`EVERY_LOSS`]).
    pub losses: &'static [LossKind],
    /// Builds the backend from user options (only those in `options` are set).
    pub build: fn(&SolverOptions) -> Result<Box<dyn Solver>>,
}

/// The options a backend takes: the driver's ([`DRIVER_OPTIONS`]) if it iterates, and its own.
#[derive(Debug, Clone, Copy)]
pub struct Accepts {
    /// Whether it takes the driver's options (tol, abs_tol, max_iter, time_limit, record_every,
    /// warm_start).
    pub driver: bool,
    /// Its own options, e.g. `["step", "seed"]`.
    pub own: &'static [&'static str],
}

impl Accepts {
    /// Whether `option` is taken.
    pub fn contains(&self, option: &str) -> bool {
        (self.driver && DRIVER_OPTIONS.contains(&option)) || self.own.contains(&option)
    }

    /// Every option taken, driver's first.
    pub fn names(&self) -> Vec<&'static str> {
        let driver = if self.driver { DRIVER_OPTIONS } else { &[] };
        driver.iter().chain(self.own).copied().collect()
    }
}

impl SolverInfo {
    /// Builds the backend, refusing options it does not take.
    pub fn build_checked(&self, options: &SolverOptions) -> Result<Box<dyn Solver>> {
        if let Some(extra) = options
            .given()
            .into_iter()
            .find(|o| !self.options.contains(o))
        {
            return Err(unused_option(self, extra));
        }
        (self.build)(options)
    }

    /// Builds the backend with only the options it takes, dropping the rest: for a comparison,
    /// where one set of options is meant for several backends.
    pub fn build_applicable(&self, options: &SolverOptions) -> Result<Box<dyn Solver>> {
        (self.build)(&options.restricted_to(&self.options.names()))
    }
}

fn unused_option(info: &SolverInfo, option: &'static str) -> Error {
    let takers: Vec<&str> = REGISTRY
        .iter()
        .filter(|s| s.options.contains(option))
        .map(|s| s.name)
        .collect();
    let takes = info.options.names();
    Error::invalid(
        option,
        format!("given to `{}`, which does not use it", info.name),
        format!(
            "{} takes {}; `{option}` is taken by {}",
            info.name,
            if takes.is_empty() {
                "no options".to_owned()
            } else {
                takes.join(", ")
            },
            if takers.is_empty() {
                "no built-in backend".to_owned()
            } else {
                takers.join(", ")
            }
        ),
    )
}

/// Every built-in backend, in the order comparisons list them.
pub const REGISTRY: &[SolverInfo] = &[
    SolverInfo {
        name: "auto",
        kind: SolverKind::Direct,
        summary: "picks dual, cholesky-refined, qr-refined or svd by shape, λ and conditioning",
        options: Accepts {
            driver: false,
            own: &[],
        },
        losses: EVERY_LOSS,
        build: |_| Ok(Box::new(Auto)),
    },
    SolverInfo {
        name: "qr",
        kind: SolverKind::Direct,
        summary: "Householder QR of the augmented centred system (reference)",
        options: Accepts {
            driver: false,
            own: &[],
        },
        losses: SQUARED_ONLY,
        build: |_| Ok(Box::new(Qr)),
    },
    SolverInfo {
        name: "qr-refined",
        kind: SolverKind::Direct,
        summary: "qr, then iterative refinement with double-double residuals (most accurate)",
        options: Accepts {
            driver: false,
            own: &["refine_steps"],
        },
        losses: SQUARED_ONLY,
        build: |o| Ok(Box::new(Refined::qr().with_options(o)?)),
    },
    SolverInfo {
        name: "svd",
        kind: SolverKind::Direct,
        summary: "thin SVD of the centred design; minimum-norm solution at λ = 0",
        options: Accepts {
            driver: false,
            own: &["rcond"],
        },
        losses: SQUARED_ONLY,
        build: |o| Ok(Box::new(Svd::from_options(o)?)),
    },
    SolverInfo {
        name: "dual",
        kind: SolverKind::Direct,
        summary: "Cholesky of the n × n kernel matrix, for d > n (needs λ > 0)",
        options: Accepts {
            driver: false,
            own: &[],
        },
        losses: SQUARED_ONLY,
        build: |_| Ok(Box::new(Dual)),
    },
    SolverInfo {
        name: "cholesky",
        kind: SolverKind::Direct,
        summary: "Cholesky of the shared Gram system (faer)",
        options: Accepts {
            driver: false,
            own: &[],
        },
        losses: SQUARED_ONLY,
        build: |_| Ok(Box::new(Cholesky)),
    },
    SolverInfo {
        name: "cholesky-refined",
        kind: SolverKind::Direct,
        summary: "cholesky, then iterative refinement with double-double residuals",
        options: Accepts {
            driver: false,
            own: &["refine_steps"],
        },
        losses: SQUARED_ONLY,
        build: |o| Ok(Box::new(Refined::cholesky().with_options(o)?)),
    },
    SolverInfo {
        name: "normal",
        kind: SolverKind::Direct,
        summary: "LU of the shared Gram system (nalgebra)",
        options: Accepts {
            driver: false,
            own: &[],
        },
        losses: SQUARED_ONLY,
        build: |_| Ok(Box::new(NormalEquations)),
    },
    SolverInfo {
        name: "newton",
        kind: SolverKind::Iterative,
        summary: "Newton / IRLS: Cholesky of the Hessian from the moment routine, line search",
        options: Accepts {
            driver: true,
            own: &[],
        },
        losses: EVERY_LOSS,
        build: |o| Ok(Box::new(Newton::from_options(o)?)),
    },
    SolverInfo {
        name: "gd",
        kind: SolverKind::Iterative,
        summary: "batch gradient descent, step 1/L",
        options: Accepts {
            driver: true,
            own: &["step"],
        },
        losses: EVERY_LOSS,
        build: |o| Ok(Box::new(GradientDescent::from_options(o)?)),
    },
    SolverInfo {
        name: "agd",
        kind: SolverKind::Iterative,
        summary: "Nesterov's accelerated gradient with adaptive restart",
        options: Accepts {
            driver: true,
            own: &[],
        },
        losses: EVERY_LOSS,
        build: |o| Ok(Box::new(AcceleratedGradient::from_options(o)?)),
    },
    SolverInfo {
        name: "cg",
        kind: SolverKind::Iterative,
        summary: "conjugate gradients on the normal equations (CGLS), no XᵀX",
        options: Accepts {
            driver: true,
            own: &[],
        },
        losses: SQUARED_ONLY,
        build: |o| Ok(Box::new(ConjugateGradient::from_options(o)?)),
    },
    SolverInfo {
        name: "pcg",
        kind: SolverKind::Iterative,
        summary: "CGLS with Jacobi (column-norm) preconditioning",
        options: Accepts {
            driver: true,
            own: &[],
        },
        losses: SQUARED_ONLY,
        build: |o| {
            let cg = ConjugateGradient::from_options(o)?;
            Ok(Box::new(cg.with_preconditioner(Preconditioner::Jacobi)))
        },
    },
    SolverInfo {
        name: "sketch-cg",
        kind: SolverKind::Iterative,
        summary: "CGLS preconditioned by R of a sparse random sketch of X (4d rows)",
        options: Accepts {
            driver: true,
            own: &["seed"],
        },
        losses: SQUARED_ONLY,
        build: |o| {
            let cg = ConjugateGradient::from_options(o)?;
            let seed = o.seed.unwrap_or(0);
            Ok(Box::new(
                cg.with_preconditioner(Preconditioner::Sketch { seed }),
            ))
        },
    },
    SolverInfo {
        name: "lbfgs",
        kind: SolverKind::Iterative,
        summary: "limited-memory BFGS (m = 10) with a strong-Wolfe line search",
        options: Accepts {
            driver: true,
            own: &["memory"],
        },
        losses: EVERY_LOSS,
        build: |o| Ok(Box::new(Lbfgs::from_options(o)?)),
    },
    SolverInfo {
        name: "cd",
        kind: SolverKind::Iterative,
        summary: "cyclic coordinate descent with residual updates (glmnet-style)",
        options: Accepts {
            driver: true,
            own: &[],
        },
        losses: SQUARED_ONLY,
        build: |o| Ok(Box::new(CoordinateDescent::from_options(o)?)),
    },
    SolverInfo {
        name: "sgd",
        kind: SolverKind::Iterative,
        summary: "mini-batch SGD with decaying step and averaging",
        options: Accepts {
            driver: true,
            own: &["step", "seed", "batch_size"],
        },
        losses: EVERY_LOSS,
        build: |o| Ok(Box::new(Sgd::from_options(o)?)),
    },
    SolverInfo {
        name: "sag",
        kind: SolverKind::Iterative,
        summary: "stochastic average gradient (variance-reduced, linear rate)",
        options: Accepts {
            driver: true,
            own: &["step", "seed"],
        },
        losses: EVERY_LOSS,
        build: |o| Ok(Box::new(Sag::from_options(o)?)),
    },
    SolverInfo {
        name: "saga",
        kind: SolverKind::Iterative,
        summary: "SAGA (variance-reduced, linear rate)",
        options: Accepts {
            driver: true,
            own: &["step", "seed"],
        },
        losses: EVERY_LOSS,
        build: |o| Ok(Box::new(Saga::from_options(o)?)),
    },
    SolverInfo {
        name: "svrg",
        kind: SolverKind::Iterative,
        summary: "stochastic variance-reduced gradient (linear rate)",
        options: Accepts {
            driver: true,
            own: &["step", "seed", "inner_steps"],
        },
        losses: EVERY_LOSS,
        build: |o| Ok(Box::new(Svrg::from_options(o)?)),
    },
];

/// The registered names, in registry order.
pub fn names() -> impl Iterator<Item = &'static str> {
    REGISTRY.iter().map(|s| s.name)
}

/// Looks a built-in backend up by name and builds it from options; an option the backend does
/// not take is an error ([`SolverInfo::build_checked`]).
pub fn by_name(name: &str, options: &SolverOptions) -> Result<Box<dyn Solver>> {
    Registry::builtin().build(name, options)
}

/// A set of backends by name: the built-in ones ([`Registry::builtin`]) plus any a user
/// registers, so that a backend written outside this crate is built, listed and compared like
/// the built-in ones.
#[derive(Clone)]
pub struct Registry {
    entries: Vec<SolverInfo>,
}

impl Registry {
    /// The built-in backends.
    pub fn builtin() -> Self {
        Self {
            entries: REGISTRY.to_vec(),
        }
    }

    /// Adds a backend (or replaces the one of the same name).
    pub fn register(&mut self, info: SolverInfo) -> &mut Self {
        match self.entries.iter_mut().find(|e| e.name == info.name) {
            Some(e) => *e = info,
            None => self.entries.push(info),
        }
        self
    }

    /// The entries, in registration order.
    pub fn entries(&self) -> &[SolverInfo] {
        &self.entries
    }

    /// The entry of a name.
    pub fn get(&self, name: &str) -> Result<&SolverInfo> {
        self.entries
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| Error::UnknownSolver {
                name: name.to_owned(),
                known: self
                    .entries
                    .iter()
                    .map(|s| s.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Builds a backend by name, refusing options it does not take.
    pub fn build(&self, name: &str, options: &SolverOptions) -> Result<Box<dyn Solver>> {
        self.get(name)?.build_checked(options)
    }
}

/// Runs a backend's core under a stopwatch and attaches the shared diagnostics.
pub(crate) fn timed(
    problem: &RidgeProblem<'_>,
    name: &str,
    solve: impl FnOnce() -> Result<Solution>,
) -> Result<Fit> {
    let start = Instant::now();
    let solution = solve()?;
    Fit::from_parts(problem, name, solution, start.elapsed().as_secs_f64())
}

/// A loss-generic iterative backend (`gd`, `agd`, `lbfgs`, `sgd`, `sag`, `saga`, `svrg`): it
/// only says which [`IterativeMethod`] to run on an [`Objective`]; [`minimise`] runs it through
/// the shared driver on any loss ([`minimise_loss`]), and [`solve_ridge`] on the ridge
/// problem with its intercept eliminated.
pub trait Minimiser: Solver {
    /// The driver's stopping rule and budgets.
    fn control(&self) -> &IterationControl;
    /// The method to run on `objective`. Set-up work done here (estimating L, building the
    /// sample-major copy) is inside the time budget.
    fn method(&self, objective: &dyn Objective) -> Result<Box<dyn IterativeMethod>>;
}

/// Runs `backend` on `objective` through the shared driver; the time budget counts from `start`.
pub fn minimise(
    backend: &dyn Minimiser,
    objective: &dyn Objective,
    start: Instant,
) -> Result<Outcome> {
    minimise_under(backend, objective, backend.control(), start)
}

/// [`minimise`] under another control than the backend's own (a warm start translated into the
/// objective's variables).
fn minimise_under(
    backend: &dyn Minimiser,
    objective: &dyn Objective,
    control: &IterationControl,
    start: Instant,
) -> Result<Outcome> {
    let mut method = backend.method(objective)?;
    crate::iterate::run_from(start, backend.name(), method.as_mut(), objective, control)
}

/// Minimises the empirical risk of `loss` on `problem` with a loss-generic backend and judges
/// the result on the same objective. A warm start ([`IterationControl::warm_start`]) is the
/// model's coefficients followed by its intercept when the problem fits one: (w, b).
pub fn minimise_loss<L: Loss>(
    backend: &dyn Minimiser,
    problem: &RidgeProblem<'_>,
    loss: L,
) -> Result<Fit> {
    let start = std::time::Instant::now();
    let objective = EmpiricalRisk::new(problem, loss);
    let control = backend.control();
    // A warm start is given as the model's (w, b); the objective's variables are (w, b + x̄ᵀw).
    let joined = control
        .warm_start_point()
        .filter(|t| t.nrows() == objective.dim() && problem.fit_intercept())
        .map(|t| {
            let d = problem.n_features();
            control
                .clone()
                .warm_start(objective.join(t.subrows(0, d), t[d]))
        });
    let out = minimise_under(
        backend,
        &objective,
        joined.as_ref().unwrap_or(control),
        start,
    )?;
    let (coef, intercept) = objective.split(out.state.theta.as_ref());
    let solution = Solution {
        coef,
        intercept,
        iterations: out.state.iteration,
        passes: out.state.passes,
        stop: out.stop,
        condition_estimate: None,
        history: out.history,
    };
    let seconds = start.elapsed().as_secs_f64();
    Fit::judged(&objective, backend.name(), solution, seconds)
}

/// Fits logistic regression with a loss-generic backend: [`minimise_loss`] with the logistic
/// loss, the model carrying the problem's class names. The `solve_logistic` of every
/// [`Minimiser`].
pub fn minimise_logistic(backend: &dyn Minimiser, problem: &LogisticProblem<'_>) -> Result<Fit> {
    let mut fit = minimise_loss(backend, problem.data(), Logistic)?;
    fit.model.labels = Some(problem.classes().clone());
    Ok(fit)
}

/// Solves a ridge problem with a loss-generic backend on the least-squares objective with the
/// intercept eliminated (b = ȳ − x̄ᵀw): the `solve` of every [`Minimiser`].
pub fn solve_ridge(backend: &dyn Minimiser, problem: &RidgeProblem<'_>) -> Result<Fit> {
    iterative(problem, backend.name(), backend.control(), |objective| {
        backend.method(objective)
    })
}

/// Runs an iterative method on the problem's least-squares objective through the shared driver,
/// and turns the outcome into a fit (the intercept is the optimal one for the final w).
pub(crate) fn iterative(
    problem: &RidgeProblem<'_>,
    name: &str,
    control: &IterationControl,
    make: impl FnOnce(&LeastSquares<'_>) -> Result<Box<dyn IterativeMethod>>,
) -> Result<Fit> {
    timed(problem, name, || {
        // The time budget covers the set-up in `make` (e.g. estimating L) too.
        let start = Instant::now();
        let objective = LeastSquares::new(problem).with_deadline(control.deadline(start));
        let mut method = make(&objective)?;
        let out = crate::iterate::run_from(start, name, method.as_mut(), &objective, control)?;
        let coef = out.state.theta;
        Ok(Solution {
            intercept: problem.optimal_intercept(coef.as_ref()),
            coef,
            iterations: out.state.iteration,
            passes: out.state.passes,
            stop: out.stop,
            condition_estimate: None,
            history: out.history,
        })
    })
}

#[cfg(test)]
pub(crate) mod testing {
    //! Small problems shared by the backends' unit tests.
    use faer::{Col, Mat};

    /// A well-conditioned 40 × 3 design with offset columns, and y from known coefficients.
    pub fn small() -> (Mat<f64>, Col<f64>) {
        let x = Mat::from_fn(40, 3, |i, j| {
            let t = i as f64 / 40.0;
            100.0 + ((j + 1) as f64 * 3.7 * t + j as f64).sin()
        });
        let y = Col::from_fn(40, |i| {
            2.0 * x[(i, 0)] - x[(i, 1)] + 0.5 * x[(i, 2)] + 0.01 * (i % 3) as f64
        });
        (x, y)
    }

    /// `small()` with its last column replaced by a copy of the first: rank-deficient.
    pub fn duplicated_column() -> (Mat<f64>, Col<f64>) {
        let (mut x, y) = small();
        for i in 0..x.nrows() {
            x[(i, 2)] = x[(i, 0)];
        }
        (x, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_resolves_every_name_and_rejects_unknown_ones() {
        for name in names() {
            assert_eq!(
                by_name(name, &SolverOptions::default()).unwrap().name(),
                name
            );
        }
        let err = by_name("newton-cg", &SolverOptions::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("cholesky"), "{err}");
    }

    #[test]
    fn every_backend_fits_the_losses_the_registry_lists() {
        let (x, y) = testing::small();
        let labels = faer::Col::from_fn(y.nrows(), |i| f64::from(u8::from(i % 3 == 0)));
        let labels = crate::logistic::BinaryLabels::from_values(labels.as_ref()).unwrap();
        let p = LogisticProblem::builder(x.as_ref(), &labels)
            .lambda(1e-2)
            .build()
            .unwrap();
        let reference = Newton::default().solve_logistic(&p).unwrap();
        for info in REGISTRY {
            let options = SolverOptions {
                max_iter: (info.kind == SolverKind::Iterative).then_some(3),
                ..SolverOptions::default()
            };
            let result = info.build_applicable(&options).unwrap().solve_logistic(&p);
            if info.losses.contains(&LossKind::Logistic) {
                let fit = result.unwrap_or_else(|e| panic!("{}: {e}", info.name));
                assert_eq!(fit.labels, reference.labels, "{}", info.name);
            } else {
                assert!(
                    matches!(result, Err(Error::UnsupportedLoss { .. })),
                    "{}",
                    info.name
                );
            }
        }
        let auto = Auto.solve_logistic(&p).unwrap();
        assert_eq!(auto.solver, "auto:newton");
        assert_eq!(auto.coef, reference.coef);
    }

    #[test]
    fn every_default_is_valid() {
        // `Default` builds through `default_control`, which panics on invalid constants.
        let defaults: Vec<Box<dyn Solver>> = vec![
            Box::new(GradientDescent::default()),
            Box::new(AcceleratedGradient::default()),
            Box::new(ConjugateGradient::default()),
            Box::new(Lbfgs::default()),
            Box::new(CoordinateDescent::default()),
            Box::new(Sgd::default()),
            Box::new(Sag::default()),
            Box::new(Saga::default()),
            Box::new(Svrg::default()),
        ];
        assert_eq!(defaults.len(), 9);
        let settings = IterativeSettings::default();
        assert_eq!(settings.control().tol(), IterativeSettings::DEFAULT_TOL);
        assert_eq!(
            settings.control().max_iter(),
            IterativeSettings::DEFAULT_MAX_ITER
        );
        // The options path gives the same defaults, and rejects what the control rejects.
        let from = IterativeSettings::from_options(&SolverOptions::default()).unwrap();
        assert_eq!(from.control().tol(), settings.control().tol());
        let bad = SolverOptions {
            tol: Some(2.0),
            ..SolverOptions::default()
        };
        assert!(IterativeSettings::from_options(&bad).is_err());
        assert!(positive_step(0.0, "or omit it").is_err());
        assert!(positive_step(f64::NAN, "or omit it").is_err());
        assert_eq!(positive_step(0.5, "or omit it").unwrap(), 0.5);
    }

    #[test]
    fn direct_backends_refuse_a_duplicated_column_at_lambda_zero() {
        let (x, y) = testing::duplicated_column();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        // `svd` returns the minimum-norm solution instead (tested in svd.rs), and `auto` falls
        // back to it (tested in auto.rs).
        for info in REGISTRY
            .iter()
            .filter(|s| s.kind == SolverKind::Direct && !["svd", "auto"].contains(&s.name))
        {
            let err = (info.build)(&SolverOptions::default())
                .unwrap()
                .solve(&p)
                .unwrap_err();
            assert!(
                matches!(err, Error::Singular { .. }),
                "{}: {err}",
                info.name
            );
            assert!(err.to_string().contains("λ > 0"), "{err}");
        }
        // With a penalty the same data are a well-posed problem, and the backends agree.
        let p = p.with_lambda(1e-3).unwrap();
        let reference = Qr.solve(&p).unwrap();
        for info in REGISTRY.iter().filter(|s| s.kind == SolverKind::Direct) {
            let fit = (info.build)(&SolverOptions::default())
                .unwrap()
                .solve(&p)
                .unwrap();
            assert!(
                fit.relative_error(reference.coef.as_ref()) < 1e-8,
                "{}",
                info.name
            );
            // The two copies of the duplicated column share the weight equally.
            assert!((fit.coef[0] - fit.coef[2]).abs() < 1e-8 * fit.coef[0].abs());
        }
    }

    #[test]
    fn an_option_a_backend_does_not_use_is_an_error_naming_those_that_do() {
        let options = SolverOptions {
            step: Some(0.01),
            ..SolverOptions::default()
        };
        for name in ["cg", "pcg", "cd", "lbfgs", "qr", "auto"] {
            let err = by_name(name, &options).err().unwrap();
            let text = err.to_string();
            assert!(
                text.contains("step") && text.contains("gd, sgd"),
                "{name}: {text}"
            );
        }
        assert!(by_name("gd", &options).is_ok());
        // The same options handed to several backends: each takes what applies to it.
        for info in REGISTRY {
            assert!(info.build_applicable(&options).is_ok(), "{}", info.name);
        }
        let mut by_text = SolverOptions::default();
        by_text.set("memory", "3").unwrap();
        by_text.set("warm_start", "1, 2,3").unwrap();
        assert_eq!(by_text.given(), ["warm_start", "memory"]);
        assert!(by_name("lbfgs", &by_text).is_ok());
        assert!(by_name("gd", &by_text).is_err());
        assert!(by_text.set("memroy", "3").is_err());
        assert!(by_text.set("memory", "three").is_err());
        let zero = SolverOptions {
            memory: Some(0),
            ..SolverOptions::default()
        };
        assert!(by_name("lbfgs", &zero).is_err());
    }

    #[test]
    fn a_warm_start_at_the_solution_converges_at_once_for_every_iterative_backend() {
        let (x, y) = testing::small();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(1e-2)
            .build()
            .unwrap();
        let reference = Refined::qr().solve(&p).unwrap();
        let options = SolverOptions {
            warm_start: Some(reference.coef.iter().copied().collect()),
            ..SolverOptions::default()
        };
        for info in REGISTRY.iter().filter(|s| s.kind == SolverKind::Iterative) {
            let fit = info.build_checked(&options).unwrap().solve(&p).unwrap();
            assert!(fit.converged, "{}", info.name);
            assert_eq!(fit.iterations, 0, "{}", info.name);
            assert!(fit.relative_error(reference.coef.as_ref()) < 1e-14);
        }
        let wrong = SolverOptions {
            warm_start: Some(vec![1.0]),
            ..SolverOptions::default()
        };
        let err = by_name("gd", &wrong).unwrap().solve(&p).unwrap_err();
        assert!(err.to_string().contains("warm start"), "{err}");
    }

    #[test]
    fn a_registered_backend_is_built_by_name_like_the_built_in_ones() {
        let mut registry = Registry::builtin();
        registry.register(SolverInfo {
            name: "qr-again",
            kind: SolverKind::Direct,
            summary: "qr under another name",
            options: Accepts {
                driver: false,
                own: &[],
            },
            losses: SQUARED_ONLY,
            build: |_| Ok(Box::new(Qr)),
        });
        assert_eq!(registry.entries().len(), REGISTRY.len() + 1);
        assert!(
            registry
                .build("qr-again", &SolverOptions::default())
                .is_ok()
        );
        assert!(matches!(
            Registry::builtin().build("qr-again", &SolverOptions::default()),
            Err(Error::UnknownSolver { .. })
        ));
    }

    #[test]
    fn direct_backends_recover_coefficients_and_intercept() {
        let (x, y) = testing::small();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        for name in ["qr", "cholesky", "normal"] {
            let fit = by_name(name, &SolverOptions::default())
                .unwrap()
                .solve(&p)
                .unwrap();
            assert!(fit.converged && fit.condition_estimate.unwrap() >= 1.0);
            assert!(fit.gradient_norm < 1e-9, "{name}: {}", fit.gradient_norm);
            // y = 2x₀ − x₁ + 0.5x₂ + small periodic term, so w is close to (2, −1, 0.5).
            assert!((fit.coef[0] - 2.0).abs() < 0.05, "{name}: {:?}", fit.coef);
            assert!((fit.coef[1] + 1.0).abs() < 0.05);
        }
    }
}
