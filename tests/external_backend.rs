//! A user's own backends, written against the public API only (this file is a crate of its own):
//! an iterative method run by the crate's driver on any loss, and a direct backend that builds
//! its `Fit` from parts. Both are registered by name and compared beside the built-in ones, with
//! the same diagnostics.

use std::time::Instant;

use faer::Col;
use tikhonov::compare;
use tikhonov::data::Synthetic;
use tikhonov::iterate::{IterState, IterationControl, IterativeMethod};
use tikhonov::loss::Squared;
use tikhonov::objective::Objective;
use tikhonov::solvers::{
    self, Accepts, Minimiser, Registry, Solver, SolverInfo, SolverKind, SolverOptions,
};
use tikhonov::{Fit, RidgeProblem, Solution};

/// Polyak's heavy ball: θ ← θ − η·∇f(θ) + β·(θ − θ_prev), η = 4/(√L + √μ)², β = ((√κ−1)/(√κ+1))².
#[derive(Debug, Clone)]
struct HeavyBall {
    control: IterationControl,
}

struct HeavyBallStep {
    eta: f64,
    beta: f64,
    previous: Option<Col<f64>>,
}

impl IterativeMethod for HeavyBallStep {
    fn step(&mut self, objective: &dyn Objective, state: &mut IterState) -> tikhonov::Result<()> {
        let current = state.theta.clone();
        let momentum = match &self.previous {
            Some(p) => &current - p,
            None => Col::zeros(current.nrows()),
        };
        state.theta =
            &current - faer::Scale(self.eta) * &state.grad + faer::Scale(self.beta) * &momentum;
        self.previous = Some(current);
        state.evaluate(objective);
        Ok(())
    }
    // The heavy ball is not a descent method: its objective may rise for a few steps.
    fn monotone(&self) -> bool {
        false
    }
}

impl Solver for HeavyBall {
    fn name(&self) -> &'static str {
        "heavy-ball"
    }
    fn solve(&self, problem: &RidgeProblem<'_>) -> tikhonov::Result<Fit> {
        solvers::solve_ridge(self, problem)
    }
}

impl Minimiser for HeavyBall {
    fn control(&self) -> &IterationControl {
        &self.control
    }
    fn method(&self, objective: &dyn Objective) -> tikhonov::Result<Box<dyn IterativeMethod>> {
        let (l, mu) = (
            objective.smoothness(),
            objective.strong_convexity().max(1e-12),
        );
        let (rl, rm) = (l.sqrt(), mu.sqrt());
        Ok(Box::new(HeavyBallStep {
            eta: 4.0 / (rl + rm).powi(2),
            beta: ((rl - rm) / (rl + rm)).powi(2),
            previous: None,
        }))
    }
}

/// Ridge by nalgebra's Cholesky of the uncentred augmented normal equations: a direct backend
/// that owns its whole solve and lets the crate judge the answer.
#[derive(Debug, Clone, Copy)]
struct AugmentedCholesky;

impl Solver for AugmentedCholesky {
    fn name(&self) -> &'static str {
        "augmented-cholesky"
    }
    fn solve(&self, problem: &RidgeProblem<'_>) -> tikhonov::Result<Fit> {
        let start = Instant::now();
        let (n, d) = (problem.n_samples(), problem.n_features());
        // Columns [X, 1], weights s: (AᵀSA + S·λ·diag(1, …, 1, 0))·(w, b) = AᵀS·y.
        let a = |i: usize, j: usize| if j < d { problem.x()[(i, j)] } else { 1.0 };
        let p = d + 1;
        let s = problem.weight_sum();
        let g = nalgebra::DMatrix::from_fn(p, p, |j, k| {
            let gram: f64 = (0..n).map(|i| problem.weight(i) * a(i, j) * a(i, k)).sum();
            gram + if j == k && j < d {
                s * problem.lambda()
            } else {
                0.0
            }
        });
        let rhs = nalgebra::DVector::from_fn(p, |j, _| {
            (0..n)
                .map(|i| problem.weight(i) * a(i, j) * problem.y()[i])
                .sum()
        });
        let chol = nalgebra::Cholesky::new(g).ok_or_else(|| tikhonov::Error::Numerical {
            solver: self.name().into(),
            detail: "the augmented Gram matrix is not positive definite".into(),
        })?;
        let theta = chol.solve(&rhs);
        let solution = Solution::direct(Col::from_fn(d, |j| theta[j]), theta[d], None);
        Fit::from_parts(
            problem,
            self.name(),
            solution,
            start.elapsed().as_secs_f64(),
        )
    }
}

fn registry() -> Registry {
    let mut registry = Registry::builtin();
    registry
        .register(SolverInfo {
            name: "heavy-ball",
            kind: SolverKind::Iterative,
            summary: "Polyak's heavy-ball method",
            options: Accepts {
                driver: true,
                own: &[],
            },
            losses: solvers::SQUARED_ONLY,
            build: |o| {
                Ok(Box::new(HeavyBall {
                    control: o.control(1e-10, 100_000)?,
                }))
            },
        })
        .register(SolverInfo {
            name: "augmented-cholesky",
            kind: SolverKind::Direct,
            summary: "nalgebra Cholesky of the augmented normal equations",
            options: Accepts {
                driver: false,
                own: &[],
            },
            losses: solvers::SQUARED_ONLY,
            build: |_| Ok(Box::new(AugmentedCholesky)),
        });
    registry
}

#[test]
fn external_backends_run_beside_the_built_in_ones_with_the_same_diagnostics() {
    let data = Synthetic {
        n_samples: 400,
        n_features: 8,
        condition: 10.0,
        ..Synthetic::default()
    }
    .generate()
    .unwrap();
    let problem = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
        .lambda(1e-3)
        .build()
        .unwrap();
    let registry = registry();
    let names = ["heavy-ball", "augmented-cholesky", "agd", "cholesky"];
    let backends: Vec<Box<dyn Solver>> = names
        .iter()
        .map(|n| registry.build(n, &SolverOptions::default()).unwrap())
        .collect();
    let reference = registry.build("qr", &SolverOptions::default()).unwrap();
    let comparison = compare::compare(&problem, reference.as_ref(), &backends).unwrap();
    for entry in &comparison.entries {
        let measured = entry.outcome.as_ref().unwrap();
        let fit = &measured.fit;
        // The same judge for everyone: J and ‖∇J‖ recomputed from the problem.
        let j = problem.objective(fit.coef.as_ref(), fit.intercept);
        assert_eq!(fit.objective, j, "{}", entry.solver);
        assert!(fit.converged, "{}", entry.solver);
        // κ(Xc) = 10, so κ_H ≈ 100: a relative gradient of 1e-10 (heavy ball) or 1e-8 (agd)
        // leaves at most κ_H times that in w.
        assert!(
            fit.relative_error(comparison.reference.coef.as_ref()) < 1e-6,
            "{}",
            entry.solver
        );
    }
    // The heavy ball also runs on the loss-generic path, like every built-in Minimiser.
    let heavy = HeavyBall {
        control: IterationControl::new(1e-10, 100_000).unwrap(),
    };
    let generic = solvers::minimise_loss(&heavy, &problem, Squared).unwrap();
    assert!(generic.converged);
    assert!(generic.relative_error(comparison.reference.coef.as_ref()) < 1e-6);
    // Options the external backend does not declare are refused like the built-in ones'.
    let step = SolverOptions {
        step: Some(0.1),
        ..SolverOptions::default()
    };
    assert!(registry.build("heavy-ball", &step).is_err());
}
