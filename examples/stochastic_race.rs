//! Time and passes over the data of the stochastic backends to a relative residual, and the cost
//! of one SGD epoch, on a synthetic problem (the README's stochastic figures).
//!
//! ```text
//! cargo run --release --example stochastic_race -- [N D CONDITION TOL]
//! ```
//!
//! Defaults: N = 100 000, D = 100, CONDITION = κ(Xc) = 100, TOL = 1e-8, with λ = 10⁻³ and the
//! other parameters of the built-in problem of `tikhonov compare` (same seed, same data). Each
//! backend runs three times; the median time is printed. The SGD epoch time is split into the
//! sweep over the samples and the full-gradient pass of the once-per-epoch stopping rule
//! (measured as the time of one gradient evaluation). "residual" is ‖∇J‖/‖∇J(0)‖ at the end.

use std::time::Instant;

use faer::Col;
use tikhonov::RidgeProblem;
use tikhonov::data::Synthetic;
use tikhonov::iterate::IterationControl;
use tikhonov::objective::{LeastSquares, Objective};
use tikhonov::solvers::{self, Sgd, Solver, SolverOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |k: usize, default: f64| -> Result<f64, Box<dyn std::error::Error>> {
        Ok(args
            .get(k)
            .map(|s| s.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let (n, d) = (arg(0, 100_000.0)? as usize, arg(1, 100.0)? as usize);
    let (condition, tol) = (arg(2, 100.0)?, arg(3, 1e-8)?);
    let data = Synthetic {
        n_samples: n,
        n_features: d,
        condition,
        ..Synthetic::default()
    }
    .generate()?;
    let problem = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
        .lambda(1e-3)
        .build()?;
    let reference = solvers::Qr.solve(&problem)?;
    let zero = Col::<f64>::zeros(d);
    let g0 = problem.gradient_norm(zero.as_ref(), problem.optimal_intercept(zero.as_ref()));
    println!("n = {n}, d = {d}, κ(Xc) = {condition}, λ = 1e-3, tol = {tol:e}; median of 3 runs");
    println!(
        "{:<6} {:>9} {:>7} {:>8} {:>10} {:>10} {:>11}",
        "solver", "time (s)", "epochs", "passes", "converged", "residual", "rel. error"
    );
    for name in ["sag", "saga", "svrg", "sgd"] {
        let options = SolverOptions {
            tol: Some(tol),
            ..SolverOptions::default()
        };
        let solver = solvers::by_name(name, &options)?;
        let mut runs = (0..3)
            .map(|_| solver.solve(&problem))
            .collect::<Result<Vec<_>, _>>()?;
        runs.sort_by(|a, b| a.fit_seconds.total_cmp(&b.fit_seconds));
        let fit = &runs[1];
        println!(
            "{:<6} {:>9.3} {:>7} {:>8.0} {:>10} {:>10.2e} {:>11.3e}",
            name,
            fit.fit_seconds,
            fit.iterations,
            fit.passes,
            fit.converged,
            fit.gradient_norm / g0,
            fit.relative_error(reference.coef.as_ref())
        );
    }

    // One SGD epoch: time 11 epochs minus 1 epoch (both include the set-up), divided by 10.
    let epochs = |k: usize| -> Result<f64, Box<dyn std::error::Error>> {
        let sgd = Sgd::new(IterationControl::new(1e-15, k)?);
        let mut t: Vec<f64> = (0..3)
            .map(|_| sgd.solve(&problem).map(|f| f.fit_seconds))
            .collect::<Result<_, _>>()?;
        t.sort_by(f64::total_cmp);
        Ok(t[1])
    };
    let epoch = (epochs(11)? - epochs(1)?) / 10.0;
    let objective = LeastSquares::new(&problem);
    let (w, mut g) = (Col::<f64>::zeros(d), Col::<f64>::zeros(d));
    let mut t: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            let _ = objective.value_gradient(w.as_ref(), g.as_mut());
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    println!(
        "sgd epoch: {:.1} ms, of which the stopping rule's full gradient ≈ {:.1} ms",
        1e3 * epoch,
        1e3 * t[2]
    );
    Ok(())
}
