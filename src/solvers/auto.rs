//! `auto`: picks a direct backend from the problem's shape, λ and conditioning, and says which
//! one ran (`Fit::solver` is `"auto:<backend>"`, e.g. `"auto:qr-refined"`).
//!
//! The plan, tried in order until a backend succeeds (only numerical failures fall through; bad
//! input is returned at once):
//!
//! 1. d > n and λ > 0: `dual`, the n × n kernel system (O(n²·d) instead of O(n·d²)).
//! 2. d ≤ n: `cholesky-refined`, when the Gram system's condition estimate κ leaves at least 10
//!    digits (κ·ε ≤ 10⁻¹⁰): the fastest factorisation, and refinement with double-double
//!    residuals takes it to the accuracy of the f64 data in one or two O(n·d) corrections.
//! 3. `qr-refined`: Householder QR works on the design rather than its Gram matrix (κ instead of
//!    κ²), and the same refinement takes it to the exact solution of the f64 data (on every NIST
//!    StRD dataset, within 10⁻¹⁴).
//! 4. λ = 0 only: `svd`, the minimum-norm least-squares solution, when every factorisation above
//!    found the design rank-deficient (like `numpy.linalg.lstsq`; see [`crate::solvers::svd`] for
//!    the rank cut-off).
//!
//! `Fit::fit_seconds` includes the failed attempts.
//!
//! **Why the Cholesky answer is always refined.** Returning it unrefined would need a proof,
//! made before the residual is computed, that a correction cannot change a digit: that the
//! unrefined w is already within a few ε of the exact solution. A rigorous bound cannot show
//! that. For the equilibrated system Ã·v = c̃ (Ã = D(XcᵀSXc + SλI)D, w = D·v,
//! [`GramSystem`](crate::moments::GramSystem)) and its computed Cholesky factor L̂, to first
//! order in u = ε/2,
//!
//! ```text
//! ‖v̂ − v*‖₂ / ‖v̂‖₂ ≤ ‖Ã⁻¹‖₂ · ( γ_M·tr(D·XcᵀSXc·D) + γ_{3d+1}·‖ |L̂| ‖₂² + ‖Δc̃‖₂ / ‖v̂‖₂ ),
//! ```
//!
//! γ_k = k·u/(1 − k·u): the moment routine's products over one block of 2048 rows, its centring
//! and the pairwise merges (M = min(n, 2048) + 3·⌈log₂⌈n/2048⌉⌉ + 6) are off by at most
//! γ_M·‖xcᵢ‖·‖xcⱼ‖ in entry (i, j) (Cauchy–Schwarz), the Cholesky solve is exact for Ã + E with
//! |E| ≤ γ_{3d+1}·|L̂|·|L̂ᵀ| (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed.,
//! Thm 10.4), and Δc̃, the right-hand side's error, is bounded like the matrix's. On the README's
//! 100 000 × 500 benchmark with intercept (λ = 10⁻³, κ₂(Ã) = 3.8) the bound is 2.8·10⁻¹⁰
//! (1.3·10⁶ ε); the unrefined w is in fact 1.1·10⁻¹⁵ (5 ε) from the refined one. No sharper
//! worst-case analysis closes that gap: the rounding errors of an m-term sum can add up to almost
//! (m − 1)·u of its terms (every addition rounding the same way), so a bound that holds for every
//! input is at least ≈ min(n, 2048)·u, even at κ = 1. Probabilistic bounds (Higham & Mary 2019,
//! *A new approach to probabilistic rounding error analysis*) replace m by ≈ 6·√m and still give
//! 4·10⁻¹¹ there, and refinement's own contraction model d·κ·ε (`src/refine.rs`) 10⁻¹². Only the
//! residual shows the error to be small, and computing it is the refinement step: one parallel
//! pass over X, ≈ 0.03 s of the 0.40 s fit at that size (README, "Benchmarks";
//! `cargo run --release --example refine_timing`).
//!
//! For logistic regression ([`Solver::solve_logistic`]) there is no closed form; the plan is
//! `newton` while d ≤ [`NEWTON_MAX_FEATURES`] (about ten iterations of n·d² at matrix-product
//! speed, to machine precision), then `lbfgs` (O(n·d) per iteration, O(m·d) memory), which is
//! also the fallback when Newton fails numerically (a singular Hessian at λ = 0).

use std::time::Instant;

use crate::error::Result;
use crate::fit::Fit;
use crate::logistic::LogisticProblem;
use crate::multi::MultiRidgeProblem;
use crate::problem::RidgeProblem;
use crate::solvers::{Dual, Lbfgs, Newton, Refined, Solver, Svd};

/// Chooses among the direct backends; see the [module docs](self).
#[derive(Debug, Clone, Copy, Default)]
pub struct Auto;

/// `cholesky-refined` is used while κ·ε ≤ this (10 digits left in the Gram system).
const CHOLESKY_MAX_CONTRACTION: f64 = 1e-10;

/// The widest logistic problem `auto` gives to `newton`: beyond it a d × d Hessian per
/// iteration (n·d² flops, d² memory) costs more than the hundreds of O(n·d) L-BFGS iterations it
/// saves.
pub const NEWTON_MAX_FEATURES: usize = 1000;

impl Auto {
    /// The backends `auto` tries on this problem, in order.
    pub fn plan(problem: &RidgeProblem<'_>) -> Vec<Box<dyn Solver>> {
        let (n, d) = (problem.n_samples(), problem.n_features());
        let lambda = problem.lambda();
        let mut plan: Vec<Box<dyn Solver>> = Vec::new();
        if d > n && lambda > 0.0 {
            plan.push(Box::new(Dual));
        }
        if d <= n {
            plan.push(Box::new(
                Refined::cholesky().max_contraction(CHOLESKY_MAX_CONTRACTION),
            ));
        }
        plan.push(Box::new(Refined::qr()));
        if lambda == 0.0 {
            plan.push(Box::new(Svd::default()));
        }
        plan
    }
}

impl Auto {
    /// Runs `attempt` on the backends of `plan` in order until one succeeds; returns its result
    /// and the seconds spent on the failed attempts before it. Only numerical failures fall
    /// through.
    fn first_success<T>(
        plan: Vec<Box<dyn Solver>>,
        mut attempt: impl FnMut(&dyn Solver) -> Result<T>,
    ) -> Result<(T, f64)> {
        let start = Instant::now();
        let mut last_error = None;
        for backend in plan {
            let before = start.elapsed().as_secs_f64();
            match attempt(backend.as_ref()) {
                Ok(value) => return Ok((value, before)),
                Err(e) if e.is_numerical() => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        // Every plan holds a backend (`qr-refined`, or `lbfgs` for the logistic loss), so the
        // loop ran and failed at least once.
        Err(last_error.expect("the plan is never empty"))
    }

    /// Names the dispatcher and the backend that ran, and charges the failed attempts' time.
    fn label(&self, fit: &mut Fit, failed_seconds: f64) {
        fit.solver = format!("{}:{}", self.name(), fit.solver);
        fit.fit_seconds += failed_seconds;
    }
}

impl Solver for Auto {
    fn name(&self) -> &'static str {
        "auto"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        let (mut fit, failed) = Self::first_success(Self::plan(problem), |b| b.solve(problem))?;
        self.label(&mut fit, failed);
        Ok(fit)
    }

    fn solve_logistic(&self, problem: &LogisticProblem<'_>) -> Result<Fit> {
        let mut plan: Vec<Box<dyn Solver>> = Vec::new();
        if problem.n_features() <= NEWTON_MAX_FEATURES {
            plan.push(Box::new(Newton::default()));
        }
        plan.push(Box::new(Lbfgs::default()));
        let (mut fit, failed) = Self::first_success(plan, |b| b.solve_logistic(problem))?;
        self.label(&mut fit, failed);
        Ok(fit)
    }

    /// Plans each λ group of targets on its own (the plan depends on λ), then runs the chosen
    /// backend's multi-target path on the group.
    fn solve_targets(&self, problem: &MultiRidgeProblem<'_>) -> Result<Vec<Fit>> {
        let mut fits: Vec<Option<Fit>> = vec![None; problem.n_targets()];
        for (_, targets) in problem.lambda_groups() {
            let group = problem.select(&targets);
            let (group_fits, failed) =
                Self::first_success(Self::plan(&group.target(0)), |b| b.solve_targets(&group))?;
            let share = failed / targets.len() as f64;
            for (mut fit, &t) in group_fits.into_iter().zip(&targets) {
                self.label(&mut fit, share);
                fits[t] = Some(fit);
            }
        }
        Ok(fits.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Synthetic;
    use crate::solvers::{Qr, testing};

    fn ran(fit: &Fit) -> &str {
        fit.solver.strip_prefix("auto:").expect("auto names itself")
    }

    #[test]
    fn names_the_backend_that_ran_and_matches_it() {
        let (x, y) = testing::small();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(1e-3)
            .build()
            .unwrap();
        let fit = Auto.solve(&p).unwrap();
        assert_eq!(ran(&fit), "cholesky-refined");
        let direct = Refined::cholesky().solve(&p).unwrap();
        assert_eq!(fit.coef, direct.coef);

        // Rank-deficient at λ = 0: cholesky and qr refuse, svd returns the minimum-norm solution.
        let (x, y) = testing::duplicated_column();
        let q = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let fit = Auto.solve(&q).unwrap();
        assert_eq!(ran(&fit), "svd");
        assert_eq!(fit.coef, Svd::default().solve(&q).unwrap().coef);

        // Wide data with a penalty: the kernel form.
        let data = Synthetic {
            n_samples: 20,
            n_features: 50,
            seed: 3,
            ..Default::default()
        }
        .generate()
        .unwrap();
        let w = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
            .lambda(1e-2)
            .build()
            .unwrap();
        let fit = Auto.solve(&w).unwrap();
        assert_eq!(ran(&fit), "dual");
        let reference = Qr.solve(&w).unwrap();
        assert!(fit.relative_error(reference.coef.as_ref()) < 1e-10);
    }

    #[test]
    fn falls_back_to_qr_when_the_gram_system_loses_too_many_digits() {
        // κ(X) = 1e6: the Gram system has κ ≈ 1e12, κ·ε ≈ 2e-4 > 1e-10.
        let data = Synthetic {
            n_samples: 200,
            n_features: 8,
            condition: 1e6,
            seed: 7,
            ..Default::default()
        }
        .generate()
        .unwrap();
        let p = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let fit = Auto.solve(&p).unwrap();
        assert_eq!(ran(&fit), "qr-refined");
        let reference = Refined::qr().solve(&p).unwrap();
        assert_eq!(fit.coef, reference.coef);
    }
}
