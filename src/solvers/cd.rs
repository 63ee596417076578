//! `cd`: cyclic coordinate descent with residual updates (glmnet-style).
//!
//! In the least-squares form f(w) = ½‖b − A·w‖² + (λ/2)‖w‖² (A = D·Xc, b = D·yc,
//! D = diag(√(sᵢ/S)), see [`LeastSquares`]), minimising exactly over wⱼ with the others fixed
//! gives (Friedman, Hastie & Tibshirani, J. Stat. Softw. 33, 2010, §2.1, with α = 0):
//!
//! ```text
//! δ = (aⱼᵀr − λ·wⱼ) / (‖aⱼ‖² + λ),    wⱼ ← wⱼ + δ,    r ← r − δ·aⱼ,      r = b − A·w
//! ```
//!
//! which, multiplied through by S, is δ = (xc,ⱼᵀS·rc − Sλ·wⱼ)/(xc,ⱼᵀS·xc,ⱼ + Sλ) with rc the
//! unscaled centred residual. One iteration is one sweep j = 1 … d: a dot product and an update
//! per column, the cost of one full gradient (one pass). The diagonal ‖aⱼ‖² costs half a pass,
//! once. Each update decreases f, so the iteration is monotone; on a quadratic it is the
//! Gauss–Seidel method for (AᵀA + λI)w = Aᵀb and converges for any SPD system (Golub & Van Loan,
//! Thm 11.2.3), at a rate governed by κ_H like gradient descent, not √κ_H.
//!
//! *Intercept.* The problem is centred (weighted means x̄, ȳ), so the intercept is eliminated
//! exactly and recovered as b = ȳ − x̄ᵀw at the end; no coordinate is spent on it.
//!
//! *No copy of X.* Columns are centred on the fly, entry by entry (aᵢⱼ = dᵢ·(xᵢⱼ − x̄ⱼ)), as
//! they are read from the caller's X; no centred copy is made and no cancellation against the
//! column offset occurs.
//!
//! *λ = 0 and rank deficiency.* With λ = 0 and a rank-deficient centred design the
//! least-squares solutions form an affine subspace, and coordinate descent converges to one of
//! them that depends on the sweep order and is in general *not* the minimum-norm solution that
//! `svd` and `auto` return (and scikit-learn's tests expect): unlike gradient methods started
//! at zero, its updates leave the row space of the design. So at λ = 0 `cd` checks the rank
//! before iterating and refuses a rank-deficient design with [`Error::Singular`](crate::Error::Singular), naming `svd`
//! and λ > 0 as the ways out, rather than return a different answer silently:
//!
//! - more features than the centred design can have independent rows (the positive-weight
//!   samples, less one with an intercept): refused at once, at no cost;
//! - otherwise the Cholesky factorisation of the equilibrated centred Gram matrix (the
//!   `cholesky` backend's, `moments::GramSystem`, with its pivot threshold d·ε·max Aⱼⱼ), over
//!   the columns that are not identically zero after centring (those do not enter f, `cd` leaves
//!   their coefficient at 0, which is what the minimum-norm solution does too). This costs
//!   n·d² + d³/3 flops once, about what `d/3` sweeps cost in flops but at matrix-product speed,
//!   and only at λ = 0. Its threshold is that of the direct backends, so a full-rank design with
//!   κ(Xc) beyond ≈ 10⁷ is refused too (coordinate descent, whose sweep count grows like κ(Xc)²,
//!   would not converge on it anyway).
//!
//! At λ > 0 the solution is unique and nothing is checked.
//!
//! *Stopping.* After each sweep the gradient λw − Aᵀr is formed from the updated residual (half a
//! pass), which is recomputed from w whenever that gradient meets the stopping rule and every
//! 50 sweeps (see `cg`'s `Residual`): the driver only accepts a freshly computed gradient.

use faer::Col;

use crate::error::Result;
use crate::fit::Fit;
use crate::iterate::{IterState, IterationControl, IterativeMethod};
use crate::objective::{LeastSquares, Objective};
use crate::problem::RidgeProblem;
use crate::solvers::cg::{Residual, least_squares, refuse_rank_deficient};
use crate::solvers::{IterativeSettings, Solver, SolverOptions, iterative};

/// Cyclic coordinate descent with residual updates.
#[derive(Debug, Clone, Default)]
pub struct CoordinateDescent {
    settings: IterativeSettings,
}

impl CoordinateDescent {
    /// Coordinate descent under the given control (`max_iter` counts sweeps).
    pub fn new(control: IterationControl) -> Self {
        Self {
            settings: control.into(),
        }
    }

    /// Builds from user options (`tol`, `max_iter`, `time_limit`).
    pub fn from_options(options: &SolverOptions) -> Result<Self> {
        Ok(Self {
            settings: IterativeSettings::from_options(options)?,
        })
    }
}

/// Sweep state: the curvatures ‖aⱼ‖² + λ and the residual.
struct Sweeps {
    curvature: Col<f64>,
    residual: Option<Residual>,
}

impl Sweeps {
    fn sweep(&mut self, ls: &LeastSquares<'_>, lambda: f64, state: &mut IterState) {
        // `init` always sets the residual; the option only defers its construction.
        let r = &mut self.residual.as_mut().expect("set in init").r;
        for (j, &h) in self.curvature.iter().enumerate() {
            // A zero column with λ = 0 does not enter f: leave its coefficient alone.
            if h > 0.0 {
                let delta = (ls.ls_column_dot(j, r.as_ref()) - lambda * state.theta[j]) / h;
                state.theta[j] += delta;
                ls.ls_column_axpy(j, -delta, r.as_mut());
            }
        }
    }
}

impl IterativeMethod for Sweeps {
    fn init(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        let ls = least_squares(objective, "cd")?;
        let lambda = objective.penalty();
        self.curvature = ls.ls_column_norms_sq().iter().map(|c| c + lambda).collect();
        self.residual = Some(Residual::new(ls, state));
        Ok(())
    }

    fn step(&mut self, objective: &dyn Objective, state: &mut IterState) -> Result<()> {
        let ls = least_squares(objective, "cd")?;
        self.sweep(ls, objective.penalty(), state);
        // Set in `init`, and `sweep` does not take it.
        self.residual
            .as_mut()
            .expect("set in init")
            .publish(ls, state);
        Ok(())
    }
}

impl Solver for CoordinateDescent {
    fn name(&self) -> &'static str {
        "cd"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        if problem.lambda() == 0.0 {
            refuse_rank_deficient(
                problem,
                self.name(),
                "coordinate descent would return a least-squares solution",
            )?;
        }
        iterative(problem, self.name(), &self.settings.control, |_| {
            Ok(Box::new(Sweeps {
                curvature: Col::zeros(0),
                residual: None,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::solvers::{Qr, testing};

    #[test]
    fn matches_qr_with_weights_and_offsets_and_is_monotone() {
        let (x, y) = testing::small();
        // Without an intercept the offset of 100 would make X nearly rank one (κ_H ≈ 10⁸).
        let x0 = faer::Mat::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)] - 100.0);
        let s: Col<f64> = Col::from_fn(x.nrows(), |i| 0.5 + (i % 4) as f64);
        for (intercept, x) in [(true, &x), (false, &x0)] {
            let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
                .lambda(1e-2)
                .intercept(intercept)
                .weights(s.as_ref())
                .build()
                .unwrap();
            let reference = Qr.solve(&p).unwrap();
            let control = IterationControl::new(1e-10, 100_000)
                .unwrap()
                .record_every(1);
            let fit = CoordinateDescent::new(control).solve(&p).unwrap();
            assert!(
                fit.converged,
                "intercept {intercept}: {} sweeps, {:e}",
                fit.iterations, fit.gradient_norm
            );
            let err = fit.relative_error(reference.coef.as_ref());
            assert!(err < 1e-7, "intercept {intercept}: {err:e}");
            assert!(
                (fit.intercept - reference.intercept).abs()
                    < 1e-6 * (1.0 + reference.intercept.abs())
            );
            for w in fit.history.windows(2) {
                assert!(w[1].objective <= w[0].objective * (1.0 + 1e-14));
            }
        }
    }

    #[test]
    fn refuses_rank_deficient_designs_at_lambda_zero_only() {
        let (x, y) = testing::duplicated_column();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let err = CoordinateDescent::default().solve(&p).unwrap_err();
        assert!(matches!(err, Error::Singular { .. }), "{err}");
        assert!(err.to_string().contains("svd"), "{err}");
        // More features than centred rows: refused before any work.
        let wide = faer::Mat::from_fn(3, 4, |i, j| ((i * 4 + j) as f64).sin());
        let yw = Col::from_fn(3, |i| i as f64);
        let p = RidgeProblem::builder(wide.as_ref(), yw.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let err = CoordinateDescent::default().solve(&p).unwrap_err();
        assert!(
            err.to_string().contains("at most 2 independent rows"),
            "{err}"
        );
        // A column that is constant (zero after centring) does not make the answer ambiguous.
        let (mut x, y) = testing::small();
        for i in 0..x.nrows() {
            x[(i, 1)] = 7.0;
        }
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let fit = CoordinateDescent::default().solve(&p).unwrap();
        assert!(fit.converged && fit.coef[1] == 0.0);
        // With a penalty the duplicated column is a well-posed problem.
        let (x, y) = testing::duplicated_column();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(1e-3)
            .build()
            .unwrap();
        assert!(CoordinateDescent::default().solve(&p).unwrap().converged);
    }
}
