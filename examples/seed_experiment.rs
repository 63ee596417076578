//! The first seed text's experiment: fixed-step gradient descent against the closed form.
//!
//! 100 × 10 standard normal X, y = 2·N(0, 1) + 3 (independent of X, so the best model is nearly
//! the intercept 3 alone), λ = 0.1, step 0.01, 1000 iterations. How far is gradient descent from
//! the closed-form optimum after those 1000 steps, and what does the default step 1/L do?
//!
//! Run with `cargo run --release --example seed_experiment`.

use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use tikhonov::iterate::IterationControl;
use tikhonov::solvers::{Cholesky, GradientDescent, Solver};
use tikhonov::{Result, RidgeProblem};

fn main() -> Result<()> {
    let (n, d, lambda) = (100, 10, 0.1);
    let x = tikhonov::data::gaussian(n, d, 42);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(43);
    let y = faer::Col::from_fn(n, |_| {
        let z: f64 = StandardNormal.sample(&mut rng);
        2.0 * z + 3.0
    });
    let problem = RidgeProblem::builder(x.as_ref(), y.as_ref())
        .lambda(lambda)
        .build()?;
    let exact = Cholesky.solve(&problem)?;
    println!(
        "closed form (cholesky): b = {:.6}, ‖w‖ = {:.6}, J = {:.12}",
        exact.intercept,
        exact.coef.norm_l2(),
        exact.objective
    );

    // tol tiny so that only the iteration budget stops the run, as in the seed text.
    let control = IterationControl::new(1e-15, 1000)?.record_every(250);
    let runs = [
        (
            "fixed step 0.01",
            GradientDescent::new(control.clone()).with_step(0.01)?,
        ),
        ("default step 1/L", GradientDescent::new(control)),
    ];
    for (label, gd) in runs {
        let fit = gd.solve(&problem)?;
        let gap = problem.objective_gap(
            fit.coef.as_ref(),
            fit.intercept,
            exact.coef.as_ref(),
            exact.intercept,
        );
        println!(
            "\n{label}: {} iterations, converged = {}",
            fit.iterations, fit.converged
        );
        println!(
            "  ‖w − w*‖/‖w*‖ = {:.3e}, objective gap = {gap:.3e}, ‖∇J‖ = {:.3e}",
            fit.relative_error(exact.coef.as_ref()),
            fit.gradient_norm
        );
        for r in &fit.history {
            println!(
                "  iteration {:>5}: J = {:.12}, ‖∇J‖/‖∇J₀‖ = {:.3e}",
                r.iteration, r.objective, r.residual
            );
        }
    }
    Ok(())
}
