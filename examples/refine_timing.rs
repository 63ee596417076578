//! What one round of refinement costs: `cholesky` and `cholesky-refined` alternately on one
//! problem, in one process.
//!
//! ```text
//! cargo run --release --example refine_timing                     # 100 000 × 500, 9 pairs
//! cargo run --release --example refine_timing -- 20000 100 15     # n, d, pairs
//! ```
//!
//! The problem caches its Gram moments after the first fit, so after the first pair `cholesky`
//! times the factorisation (`Fit::fit_seconds`) and `cholesky-refined` the same plus its
//! residual passes
//! (`src/refine.rs`): the difference of each pair is the price of refinement, free of the
//! Gram's noise. X is Gaussian with column offsets in [-5, 5] (as `scripts/compare_sklearn.py`
//! makes its "offset" data), y = X·w + 2.5 + noise, λ = 10⁻³, with intercept. The first pair,
//! which forms the moments, is not counted.

use std::hint::black_box;

use faer::Col;
use tikhonov::data::gaussian;
use tikhonov::solvers::{Cholesky, Refined, Solver};
use tikhonov::{Result, RidgeProblem};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<()> {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (n, d, pairs) = (arg(1, 100_000), arg(2, 500), arg(3, 9).max(1));
    let mut x = gaussian(n, d, 1);
    let offsets = gaussian(d, 1, 2);
    for j in 0..d {
        // A standard normal pushed through tanh spreads the offsets over (-5, 5).
        let offset = 5.0 * offsets[(j, 0)].tanh();
        x.col_as_slice_mut(j).iter_mut().for_each(|v| *v += offset);
    }
    let noise = gaussian(n, 1, 3);
    let y = Col::from_fn(n, |i| {
        (0..d)
            .map(|j| x[(i, j)] * (j % 7) as f64 / 7.0)
            .sum::<f64>()
            + 2.5
            + 0.1 * noise[(i, 0)]
    });
    let problem = RidgeProblem::builder(x.as_ref(), y.as_ref())
        .lambda(1e-3)
        .build()?;
    let refined = Refined::cholesky();
    // `Fit::fit_seconds`: the solve, without the diagnostics (objective, gradient) every fit
    // reports.
    let time = |solver: &dyn Solver| -> Result<(f64, usize)> {
        let fit = black_box(solver.solve(&problem)?);
        Ok((fit.fit_seconds, fit.iterations))
    };
    time(&Cholesky)?;
    time(&refined)?;
    let (mut plain, mut with, mut price) = (Vec::new(), Vec::new(), Vec::new());
    let mut steps = 0;
    for _ in 0..pairs {
        let (a, _) = time(&Cholesky)?;
        let (b, k) = time(&refined)?;
        plain.push(a);
        with.push(b);
        price.push(b - a);
        steps = k;
    }
    println!(
        "{n} x {d}, {pairs} pairs: cholesky {:.1} ms (Gram cached), cholesky-refined {:.1} ms \
         ({steps} correction(s)); refinement {:.1} ms (median of the pairs' differences)",
        1e3 * median(&mut plain),
        1e3 * median(&mut with),
        1e3 * median(&mut price),
    );
    Ok(())
}
