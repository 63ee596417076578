//! The README's library example: build a problem, solve it three ways, compare.
//!
//! Run with `cargo run --release --example quickstart`.

use tikhonov::solvers::{self, Solver, SolverOptions};
use tikhonov::{Result, RidgeProblem};

fn main() -> Result<()> {
    // 200 samples of y = 3 + 2·x₀ − x₁ + 0.5·x₂ + small noise, features of different scales.
    let (n, d) = (200, 3);
    let mut x = Vec::with_capacity(n * d);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f64 / n as f64;
        let row = [t, (7.0 * t).sin(), 10.0 * (3.0 * t).cos()];
        let noise = 1e-3 * ((i * 7919) % 101) as f64 / 101.0;
        y.push(3.0 + 2.0 * row[0] - row[1] + 0.5 * row[2] + noise);
        x.extend_from_slice(&row);
    }
    let problem = RidgeProblem::from_row_major(&x, n, d, &y)?
        .lambda(1e-4)
        .build()?;

    let reference = solvers::Qr.solve(&problem)?;
    println!(
        "qr        w = {:?}, b = {:.6}",
        reference.coef.iter().collect::<Vec<_>>(),
        reference.intercept
    );
    for name in ["cholesky", "normal", "gd", "sgd"] {
        let fit = solvers::by_name(name, &SolverOptions::default())?.solve(&problem)?;
        println!(
            "{name:<9} rel. error {:.2e}, ‖∇J‖ {:.2e}, iterations {}, converged {}",
            fit.relative_error(reference.coef.as_ref()),
            fit.gradient_norm,
            fit.iterations,
            fit.converged
        );
    }
    Ok(())
}
