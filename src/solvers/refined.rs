//! `qr-refined` and `cholesky-refined`: a direct backend's solution improved by iterative
//! refinement with double-double residuals of the original (uncentred) data (`crate::refine`).
//!
//! Each correction reuses the backend's factor (two triangular solves) and O(n·d) double-double
//! work, so refinement adds a few passes over X to a solve that costs n·d² flops. It recovers what
//! rounding took: on NIST StRD it reaches the accuracy ceiling of the f64 data (the exact solution
//! of the rounded design), where plain QR loses up to 9 digits (Wampler5). `Fit::iterations`
//! reports the number of corrections applied.
//!
//! Both also accept a factor whose condition estimate the plain backend refuses, as long as
//! refinement can contract (κ·ε ≤ 10⁻²); they then return a result only if refinement converged
//! to `condition::MIN_DIGITS` digits, and an `IllConditioned` error otherwise.

use faer::{Col, ColRef, Par};

use crate::condition;
use crate::error::{Error, Result};
use crate::fit::{Fit, Solution};
use crate::moments::GramSystem;
use crate::multi::{MultiRidgeProblem, gram_targets, per_group};
use crate::options::SolverOptions;
use crate::problem::RidgeProblem;
use crate::refine::{Constants, Refinement, Refiner, refine};
use crate::solvers::cholesky::factor_unchecked;
use crate::solvers::qr::QrFactor;
use crate::solvers::{Solver, timed};

/// The factorisation a [`Refined`] backend starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    Qr,
    Cholesky,
}

/// A direct backend followed by iterative refinement: build it with [`crate::solvers::Refined::qr`]
/// or [`crate::solvers::Refined::cholesky`].
#[derive(Debug, Clone, Copy)]
pub struct Refined {
    base: Base,
    max_steps: usize,
    max_contraction: f64,
}

/// Beyond this κ·ε a correction no longer contracts reliably.
const MAX_CONTRACTION: f64 = 1e-2;

impl Refined {
    /// `qr` followed by iterative refinement with double-double residuals (registered as
    /// `qr-refined`), at most [`Refined::DEFAULT_MAX_STEPS`] corrections.
    pub fn qr() -> Self {
        Self::new(Base::Qr)
    }

    /// `cholesky` followed by the same refinement (registered as `cholesky-refined`). It also
    /// solves systems plain `cholesky` refuses as ill-conditioned, when refinement converges on
    /// them.
    pub fn cholesky() -> Self {
        Self::new(Base::Cholesky)
    }

    /// Default bound on the number of corrections (Demmel et al. 2009 use 10; on NIST StRD the
    /// iteration stops after at most 4).
    pub const DEFAULT_MAX_STEPS: usize = 10;

    pub(crate) fn new(base: Base) -> Self {
        Self {
            base,
            max_steps: Self::DEFAULT_MAX_STEPS,
            max_contraction: MAX_CONTRACTION,
        }
    }

    /// Refuses (`IllConditioned`) a factor whose condition estimate κ has κ·ε above `limit`
    /// (default 10⁻²): `auto` uses 10⁻¹⁰ for `cholesky-refined`, to prefer `qr-refined` once the
    /// Gram system would lose more than 6 of its 16 digits.
    pub(crate) fn max_contraction(mut self, limit: f64) -> Self {
        self.max_contraction = limit;
        self
    }

    /// Whether the base factorisation is `qr`'s (else `cholesky`'s).
    #[cfg(any(feature = "npy", feature = "csv"))]
    pub(crate) fn factors_qr(&self) -> bool {
        self.base == Base::Qr
    }

    /// Applies user options (`refine_steps`).
    pub fn with_options(self, options: &SolverOptions) -> Result<Self> {
        match options.refine_steps {
            Some(k) => self.max_steps(k),
            None => Ok(self),
        }
    }

    /// At most `max_steps` corrections, 1 to 100.
    pub fn max_steps(mut self, max_steps: usize) -> Result<Self> {
        if !(1..=100).contains(&max_steps) {
            return Err(Error::invalid(
                "refinement steps",
                max_steps,
                "between 1 and 100 (the iteration stops by itself once it stops improving)",
            ));
        }
        self.max_steps = max_steps;
        Ok(self)
    }
}

impl Solver for Refined {
    fn name(&self) -> &'static str {
        match self.base {
            Base::Qr => "qr-refined",
            Base::Cholesky => "cholesky-refined",
        }
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        timed(problem, self.name(), || {
            let group = std::slice::from_ref(problem);
            let solutions = match self.base {
                Base::Qr => self.qr_group(group)?,
                Base::Cholesky => self.cholesky_group(&problem.gram_system(), &[0], group)?,
            };
            solutions
                .into_iter()
                .next()
                .ok_or_else(|| unreachable_empty(self.name()))
        })
    }

    fn solve_targets(&self, problem: &MultiRidgeProblem<'_>) -> Result<Vec<Fit>> {
        let group = |targets: &[usize]| -> Vec<RidgeProblem<'_>> {
            targets.iter().map(|&t| problem.target(t)).collect()
        };
        match self.base {
            Base::Qr => per_group(problem, self.name(), |_, targets| {
                self.qr_group(&group(targets))
            }),
            Base::Cholesky => gram_targets(problem, self.name(), |system, targets| {
                self.cholesky_group(system, targets, &group(targets))
            }),
        }
    }
}

/// A factored λ group, ready to refine: the base backend's solutions, its factor's condition
/// estimate, whether the base backend alone would refuse it, the column norms ‖S^½Xc eⱼ‖ (the
/// inverse of the equilibration D) and the correction solve with the factor. Built in memory
/// and for a stream alike ([`Refined::prepare_qr`], [`Refined::prepare_cholesky`]).
pub(crate) struct Prepared {
    starts: Vec<(Col<f64>, f64)>,
    condition: f64,
    refused: bool,
    norms: Col<f64>,
    correct: Box<dyn Fn(Col<f64>) -> Col<f64>>,
}

impl Prepared {
    /// δ = (XcᵀSXc + SλI)⁻¹·r with the group's factor.
    pub fn correct(&self, r: Col<f64>) -> Col<f64> {
        (self.correct)(r)
    }
}

impl Refined {
    /// One QR factorisation for problems sharing X, weights and λ; each target refined.
    fn qr_group(&self, group: &[RidgeProblem<'_>]) -> Result<Vec<Solution>> {
        let f = QrFactor::new(self.name(), group)?;
        let prepared = self.prepare_qr(f, |c, w| group[c].optimal_intercept(w))?;
        self.refine_group(group, &prepared)
    }

    /// One Cholesky factorisation of `system` for its right-hand sides `targets` (the problems
    /// `group`, in the same order); each target refined.
    fn cholesky_group(
        &self,
        system: &GramSystem,
        targets: &[usize],
        group: &[RidgeProblem<'_>],
    ) -> Result<Vec<Solution>> {
        let prepared = self.prepare_cholesky(system, targets, group[0].par())?;
        self.refine_group(group, &prepared)
    }

    /// Refines each target of an in-memory group from its own problem's rows.
    fn refine_group(
        &self,
        group: &[RidgeProblem<'_>],
        prepared: &Prepared,
    ) -> Result<Vec<Solution>> {
        group
            .iter()
            .enumerate()
            .map(|(c, p)| {
                let refiner = self.refiner(Constants::of(p), prepared, c);
                self.conclude(refine(p, refiner, |r| prepared.correct(r)), prepared)
            })
            .collect()
    }

    /// The QR factor `f` of a group as the start of refinement (`intercept(c, w)`: the optimal
    /// intercept of the group's target c at w); `IllConditioned` when κ·ε exceeds the
    /// contraction limit.
    pub(crate) fn prepare_qr(
        &self,
        f: QrFactor,
        intercept: impl Fn(usize, ColRef<'_, f64>) -> f64,
    ) -> Result<Prepared> {
        if f.condition * f64::EPSILON > self.max_contraction {
            return Err(ill_conditioned(self.name(), f.condition));
        }
        let w = f.coefficients();
        let starts = (0..w.ncols())
            .map(|c| {
                let w = w.col(c).to_owned();
                let b = intercept(c, w.as_ref());
                (w, b)
            })
            .collect();
        Ok(Prepared {
            starts,
            condition: f.condition,
            refused: f.too_ill_conditioned(),
            norms: Col::from_fn(f.scale.nrows(), |j| 1.0 / f.scale[j]),
            correct: Box::new(move |r| f.solve_normal(r.as_mat()).col(0).to_owned()),
        })
    }

    /// The Cholesky factor of `system` and its solutions for the right-hand sides `targets`, as
    /// the start of refinement; errors as `cholesky`'s, but an estimate above its condition
    /// limit is accepted up to the contraction limit.
    pub(crate) fn prepare_cholesky(
        &self,
        system: &GramSystem,
        targets: &[usize],
        par: Par,
    ) -> Result<Prepared> {
        let name = self.name();
        system.check_range(name)?;
        let f = factor_unchecked(name, system.a.as_ref(), par)?;
        if f.condition * f64::EPSILON > self.max_contraction {
            return Err(ill_conditioned(name, f.condition));
        }
        let v = f.solve(system.rhs_of(targets).as_ref());
        let (w, b) = system.unscale_targets(v.as_ref(), targets);
        let d = system.scale.clone();
        Ok(Prepared {
            starts: (0..w.ncols())
                .map(|c| (w.col(c).to_owned(), b[c]))
                .collect(),
            condition: f.condition,
            refused: condition::too_ill_conditioned(f.condition),
            norms: Col::from_fn(d.nrows(), |j| 1.0 / d[j]),
            correct: Box::new(move |r| {
                let z = f.solve(Col::from_fn(r.nrows(), |j| d[j] * r[j]).as_mat());
                Col::from_fn(r.nrows(), |j| d[j] * z[(j, 0)])
            }),
        })
    }

    /// The refinement of target c of a prepared group: at most the configured number of
    /// corrections, each predicted to shrink the error by d·κ·ε.
    pub(crate) fn refiner(&self, constants: Constants, prepared: &Prepared, c: usize) -> Refiner {
        // One correction shrinks the error by about κ·ε (κ of the factored matrix, QR's R or the
        // Gram matrix); d covers the constants of the solves.
        let contraction = prepared.norms.nrows() as f64 * prepared.condition * f64::EPSILON;
        Refiner::new(
            constants,
            prepared.starts[c].clone(),
            self.max_steps,
            prepared.norms.clone(),
            contraction,
        )
    }

    /// The refined solution; when the base backend alone could not promise
    /// [`condition::MIN_DIGITS`] digits, insists that refinement converged that far.
    pub(crate) fn conclude(&self, r: Refinement, prepared: &Prepared) -> Result<Solution> {
        let promised = 10f64.powi(-(condition::MIN_DIGITS as i32));
        if prepared.refused && (r.last_correction > promised || r.last_correction.is_nan()) {
            return Err(ill_conditioned(self.name(), prepared.condition));
        }
        Ok(Solution {
            iterations: r.steps,
            ..Solution::direct(r.coef, r.intercept, Some(prepared.condition))
        })
    }
}

/// A group of one problem yields one solution; this error cannot occur.
fn unreachable_empty(solver: &str) -> Error {
    Error::Numerical {
        solver: solver.to_owned(),
        detail: "no solution for the target (internal error)".into(),
    }
}

fn ill_conditioned(solver: &str, condition: f64) -> Error {
    Error::IllConditioned {
        solver: solver.to_owned(),
        condition,
        min_digits: condition::MIN_DIGITS,
    }
}
