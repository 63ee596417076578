//! The default λ grid, from the effective degrees of freedom of the ridge fit:
//!
//! ```text
//! df(λ) = Σⱼ σⱼ²/(σⱼ² + S·λ),      σⱼ the singular values of S^½·Xc
//! ```
//!
//! df falls from the rank r at λ = 0 to 0 as λ → ∞. The default grid spaces `n` values evenly in
//! log λ from the λ where df = 0.01·r (almost every coefficient shrunk away) down to the λ where
//! df = 0.99·r (barely regularised), so the whole useful range is covered whatever the units of
//! X. A fixed list such as scikit-learn's
//! (0.1, 1, 10) means nothing until the data are standardised (scikit-learn#16398); glmnet
//! starts at the λ that zeroes the lasso, which has no ridge counterpart. The grid is decreasing,
//! as glmnet's, so a warm-started path goes from the simplest model to the most flexible.

use faer::{Col, Side};

use crate::error::{Error, Result};
use crate::moments::Moments;
use crate::problem::RidgeProblem;

/// The fraction of the rank at the two ends of the default grid.
pub const DF_HIGH: f64 = 0.99;
/// See [`DF_HIGH`].
pub const DF_LOW: f64 = 0.01;

/// The eigenvalues σⱼ² of XcᵀSXc (the squared singular values of S^½·Xc), from the problem's
/// cached moments, largest first; tiny negative rounding is clipped to 0.
pub fn gram_eigenvalues(problem: &RidgeProblem<'_>) -> Result<Col<f64>> {
    moment_eigenvalues(problem.moments())
}

/// [`gram_eigenvalues`] from statistics alone (merged [`Moments`]: a stream, other machines).
pub fn moment_eigenvalues(moments: &Moments) -> Result<Col<f64>> {
    let gram = moments.xx();
    let mut eig: Vec<f64> = gram
        .self_adjoint_eigenvalues(Side::Lower)
        .map_err(|e| Error::Numerical {
            solver: "grid".into(),
            detail: format!(
                "the eigenvalues of the Gram matrix did not converge ({e:?}); give the λ grid \
                 explicitly"
            ),
        })?
        .into_iter()
        .map(|v| v.max(0.0))
        .collect();
    eig.sort_by(|a, b| b.total_cmp(a));
    Ok(Col::from_fn(eig.len(), |j| eig[j]))
}

/// The numerical rank: eigenvalues above d·ε·σ₁² (σⱼ² itself is accurate only to ε·σ₁²).
pub fn rank(eigenvalues: &Col<f64>) -> usize {
    let top = eigenvalues.iter().copied().fold(0.0, f64::max);
    let cut = eigenvalues.nrows() as f64 * f64::EPSILON * top;
    eigenvalues.iter().filter(|&&v| v > cut).count()
}

/// df(λ) = Σⱼ σⱼ²/(σⱼ² + S·λ) over the eigenvalues above the rank cut-off (without the
/// intercept, which adds 1 when fitted).
pub fn effective_df(eigenvalues: &Col<f64>, weight_sum: f64, lambda: f64) -> f64 {
    let r = rank(eigenvalues);
    eigenvalues
        .iter()
        .take(r)
        .map(|&v| {
            if lambda == 0.0 {
                1.0
            } else {
                v / (v + weight_sum * lambda)
            }
        })
        .sum()
}

/// The λ > 0 at which df(λ) = `target` ∈ (0, r), by bisection in log λ (df is decreasing).
pub fn lambda_for_df(eigenvalues: &Col<f64>, weight_sum: f64, target: f64) -> f64 {
    let r = rank(eigenvalues);
    let top = eigenvalues.iter().copied().fold(0.0, f64::max);
    // df(λ) ≤ r·σ₁²/(σ₁² + Sλ) and ≥ r·σᵣ²/(σᵣ² + Sλ): the root lies between these bounds.
    let small = eigenvalues[r.saturating_sub(1)];
    let (mut lo, mut hi) = (
        (small / weight_sum) * (r as f64 / target - 1.0).max(f64::MIN_POSITIVE) * 0.5,
        (top / weight_sum) * (r as f64 / target - 1.0) * 2.0,
    );
    for _ in 0..200 {
        let mid = (lo * hi).sqrt();
        if effective_df(eigenvalues, weight_sum, mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi / lo < 1.0 + 1e-12 {
            break;
        }
    }
    (lo * hi).sqrt()
}

/// The default grid: `n` values of λ, evenly spaced in log λ and decreasing, from df = 1 % of
/// the rank to df = 99 % (see the module docs). Fails for a design of rank 0 (every column
/// constant), where no λ changes the fit.
pub fn default_lambdas(problem: &RidgeProblem<'_>, n: usize) -> Result<Vec<f64>> {
    check_count(n)?;
    grid_from(&gram_eigenvalues(problem)?, problem.weight_sum(), n)
}

/// [`default_lambdas`] from the statistics of all the data (merged [`Moments`]: a stream).
pub fn default_lambdas_of(moments: &Moments, n: usize) -> Result<Vec<f64>> {
    check_count(n)?;
    grid_from(&moment_eigenvalues(moments)?, moments.weight_sum(), n)
}

fn check_count(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::invalid("n_lambdas", n, "at least 1, e.g. 100"));
    }
    Ok(())
}

/// The default grid of n values for the Gram eigenvalues `eig` and the weight sum `s`.
fn grid_from(eig: &Col<f64>, s: f64, n: usize) -> Result<Vec<f64>> {
    let r = rank(eig);
    if r == 0 {
        return Err(Error::invalid(
            "lambdas",
            "the default grid",
            "an explicit list: every feature column is constant (after centring), so every λ \
             gives the same fit",
        ));
    }
    let high = lambda_for_df(eig, s, DF_LOW * r as f64);
    let low = lambda_for_df(eig, s, DF_HIGH * r as f64);
    Ok(log_spaced(high, low, n))
}

/// `n` values from `first` to `last` evenly spaced in log scale (`[first]` when n = 1).
pub fn log_spaced(first: f64, last: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![first];
    }
    let (a, b) = (first.ln(), last.ln());
    (0..n)
        .map(|i| {
            if i == 0 {
                first
            } else if i + 1 == n {
                last
            } else {
                (a + (b - a) * i as f64 / (n - 1) as f64).exp()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Synthetic;

    #[test]
    fn the_default_grid_spans_one_to_ninety_nine_percent_of_the_rank() {
        let data = Synthetic {
            n_samples: 200,
            n_features: 8,
            condition: 1e3,
            ..Synthetic::default()
        }
        .generate()
        .unwrap();
        let p = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
            .build()
            .unwrap();
        let grid = default_lambdas(&p, 50).unwrap();
        assert_eq!(grid.len(), 50);
        assert!(grid.windows(2).all(|w| w[0] > w[1]));
        let eig = gram_eigenvalues(&p).unwrap();
        assert_eq!(rank(&eig), 8);
        let df = |l| effective_df(&eig, p.weight_sum(), l);
        assert!((df(grid[0]) - 0.08).abs() < 1e-9, "{}", df(grid[0]));
        assert!((df(grid[49]) - 7.92).abs() < 1e-9, "{}", df(grid[49]));
        assert_eq!(df(0.0), 8.0);
        // Units do not matter: X scaled by 1000 moves the grid by 10⁶ and leaves df alone.
        let xs = faer::Mat::from_fn(200, 8, |i, j| 1e3 * data.x[(i, j)]);
        let ps = RidgeProblem::builder(xs.as_ref(), data.y.as_ref())
            .build()
            .unwrap();
        let scaled = default_lambdas(&ps, 50).unwrap();
        assert!((scaled[0] / grid[0] / 1e6 - 1.0).abs() < 1e-9);
    }

    #[test]
    fn constant_columns_have_no_default_grid() {
        let x = faer::Mat::from_fn(10, 2, |_, j| j as f64);
        let y = Col::from_fn(10, |i| i as f64);
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .build()
            .unwrap();
        assert!(default_lambdas(&p, 10).is_err());
        let three = log_spaced(10.0, 0.1, 3);
        assert_eq!((three[0], three[2]), (10.0, 0.1));
        assert!((three[1] - 1.0).abs() < 1e-15);
    }
}
