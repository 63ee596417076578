//! Condition-number estimates from an existing factorisation, without an SVD.
//!
//! κ₁(A) = ‖A‖₁·‖A⁻¹‖₁, with ‖A⁻¹‖₁ estimated by Hager's method as refined by Higham (1988,
//! the algorithm behind LAPACK's `xLACON`): a few solves with the factorisation the backend already
//! has, each O(d²). The estimate is a lower bound that is almost always within a factor of 3 of
//! the truth, far better than the ratio of the factor's extreme pivots.

use std::ops::Not;

use faer::{Col, MatRef};

/// The number of correct digits a backend must be able to promise before it returns a result.
pub const MIN_DIGITS: u32 = 4;

/// `true` when a solve whose relative error is about κ·ε cannot have [`MIN_DIGITS`] correct
/// digits.
pub fn too_ill_conditioned(condition: f64) -> bool {
    // Written so that a NaN estimate also counts as too ill-conditioned.
    (condition * f64::EPSILON <= 10f64.powi(-(MIN_DIGITS as i32))).not()
}

/// ‖A‖₁ of a symmetric matrix given by its lower triangle.
pub fn symmetric_norm1(lower: MatRef<'_, f64>) -> f64 {
    let d = lower.nrows();
    (0..d)
        .map(|j| {
            (0..d)
                .map(|i| lower[(i.max(j), i.min(j))].abs())
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}

/// Estimates ‖A⁻¹‖₁ for a symmetric A of order d, given `solve(v)` that overwrites v with A⁻¹v.
pub fn inverse_norm1(d: usize, mut solve: impl FnMut(&mut Col<f64>)) -> f64 {
    if d == 0 {
        return 0.0;
    }
    let mut x = Col::from_fn(d, |_| 1.0 / d as f64);
    let mut estimate = 0.0;
    let mut last_j = usize::MAX;
    for _ in 0..5 {
        let mut y = x.clone();
        solve(&mut y);
        estimate = y.iter().map(|v| v.abs()).sum();
        // A⁻¹ is symmetric, so the transposed solve Hager needs is another solve.
        let mut z = Col::from_fn(d, |i| if y[i] >= 0.0 { 1.0 } else { -1.0 });
        solve(&mut z);
        let (j, zmax) = z.iter().enumerate().fold((0, 0.0f64), |(bj, bv), (j, v)| {
            if v.abs() > bv { (j, v.abs()) } else { (bj, bv) }
        });
        let ztx: f64 = z.iter().zip(x.iter()).map(|(a, b)| a * b).sum();
        if zmax <= ztx || j == last_j {
            break;
        }
        last_j = j;
        x = Col::zeros(d);
        x[j] = 1.0;
    }
    // Higham's extra test vector guards against the cases where the iteration is fooled.
    let mut alt = Col::from_fn(d, |i| {
        let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
        sign * (1.0 + i as f64 / (d.max(2) - 1) as f64)
    });
    solve(&mut alt);
    let alt_estimate = 2.0 * alt.iter().map(|v| v.abs()).sum::<f64>() / (3.0 * d as f64);
    estimate.max(alt_estimate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn estimates_the_condition_of_a_diagonal_and_a_hilbert_matrix() {
        let d = 6;
        let diag = Mat::from_fn(d, d, |i, j| if i == j { 10f64.powi(i as i32) } else { 0.0 });
        let inv = inverse_norm1(d, |v| {
            for i in 0..d {
                v[i] /= diag[(i, i)];
            }
        });
        assert_eq!(inv, 1.0);
        assert_eq!(symmetric_norm1(diag.as_ref()), 1e5);

        // Hilbert matrix of order 6: κ₁ = 2.907e7 (Higham, Accuracy and Stability, table 28.1).
        let h = Mat::from_fn(d, d, |i, j| 1.0 / (i + j + 1) as f64);
        let lu = nalgebra::DMatrix::from_fn(d, d, |i, j| h[(i, j)]).lu();
        let inv = inverse_norm1(d, |v| {
            let rhs = nalgebra::DVector::from_fn(d, |i, _| v[i]);
            let x = lu.solve(&rhs).expect("the Hilbert matrix is nonsingular");
            for i in 0..d {
                v[i] = x[i];
            }
        });
        let kappa = symmetric_norm1(h.as_ref()) * inv;
        assert!((kappa / 2.907e7 - 1.0).abs() < 0.01, "{kappa:e}");
        assert!(!too_ill_conditioned(kappa) && too_ill_conditioned(1e13));
    }
}
