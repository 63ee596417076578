//! The logistic loss φ(m; ỹ) = log(1 + exp(−ỹ·m)) of L2-regularised logistic regression, for
//! labels ỹ ∈ {−1, +1} (see [`crate::logistic::BinaryLabels`] for the mapping from the user's
//! labels).
//!
//! With z = ỹ·m (the signed margin) and σ(t) = 1/(1 + e^(−t)):
//!
//! ```text
//! φ = log(1 + e^(−z)),     φ' = −ỹ·σ(−z),     φ'' = σ(z)·σ(−z)
//! ```
//!
//! With yᵢ = (ỹᵢ + 1)/2 ∈ {0, 1} and pᵢ = σ(mᵢ), φ' = pᵢ − yᵢ: the gradient of the mean log-loss
//! is **+**(1/S)·Σ sᵢ·(pᵢ − yᵢ)·xᵢ + λw. (The derivation this crate was seeded from prints it with
//! a minus sign, which would ascend; `tests/logistic.rs` pins the sign against finite
//! differences.)
//!
//! Every function is evaluated without overflow and without log(0) for any finite margin:
//! log(1 + e^(−z)) = max(−z, 0) + log1p(e^(−|z|)), and σ only ever exponentiates −|t|.

use super::Loss;
use crate::loss::LossKind;

/// φ(m; ỹ) = log(1 + exp(−ỹ·m)) with ỹ ∈ {−1, +1}; φ'' ≤ ¼.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Logistic;

/// σ(t) = 1/(1 + e^(−t)), exact to rounding for every t (e^(−|t|) never overflows).
#[inline]
pub fn sigmoid(t: f64) -> f64 {
    let e = (-t.abs()).exp();
    if t >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

/// log(1 + e^(−z)), exact to rounding for every z: −z + log1p(e^z) for z < 0, log1p(e^(−z))
/// otherwise.
#[inline]
pub fn log1p_exp_neg(z: f64) -> f64 {
    (-z).max(0.0) + (-z.abs()).exp().ln_1p()
}

impl Loss for Logistic {
    fn kind(&self) -> LossKind {
        LossKind::Logistic
    }
    #[inline]
    fn value(&self, m: f64, y: f64) -> f64 {
        log1p_exp_neg(y * m)
    }
    #[inline]
    fn derivative(&self, m: f64, y: f64) -> f64 {
        -y * sigmoid(-y * m)
    }
    #[inline]
    fn curvature(&self, m: f64, _y: f64) -> f64 {
        // σ(m)·σ(−m) = e^(−|m|)/(1 + e^(−|m|))², symmetric in m, so ỹ does not matter.
        let e = (-m.abs()).exp();
        e / ((1.0 + e) * (1.0 + e))
    }
    fn max_curvature(&self) -> f64 {
        0.25
    }
    fn min_curvature(&self) -> f64 {
        0.0
    }
    #[inline]
    fn separates(&self, m: f64, y: f64) -> bool {
        y * m > 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loss_and_its_derivatives_are_finite_and_exact_at_extreme_margins() {
        let l = Logistic;
        for &m in &[
            -1e300, -1e3, -745.0, -40.0, -1.0, 0.0, 1.0, 40.0, 745.0, 1e3, 1e300,
        ] {
            for y in [-1.0, 1.0] {
                let (v, g, h) = (l.value(m, y), l.derivative(m, y), l.curvature(m, y));
                assert!(v.is_finite() && v >= 0.0, "φ({m}, {y}) = {v}");
                assert!(g.is_finite() && g.abs() <= 1.0, "φ'({m}, {y}) = {g}");
                assert!((0.0..=0.25).contains(&h), "φ''({m}) = {h}");
            }
        }
        // Far on the wrong side the loss is the margin itself, far on the right side e^(−z).
        assert_eq!(l.value(-1e3, 1.0), 1e3);
        assert_eq!(l.value(1e3, -1.0), 1e3);
        assert_eq!(
            l.value(40.0, 1.0),
            (-40.0f64).exp() * (1.0 - 0.5 * (-40.0f64).exp())
        );
        assert_eq!(l.derivative(-1e3, 1.0), -1.0);
        assert_eq!(l.value(0.0, 1.0), std::f64::consts::LN_2);
        assert_eq!(l.curvature(0.0, 1.0), 0.25);
        // φ' = p − y with p = σ(m), y ∈ {0, 1}.
        for &m in &[-3.0, -0.2, 0.7, 5.0] {
            assert!((l.derivative(m, 1.0) - (sigmoid(m) - 1.0)).abs() < 1e-15);
            assert!((l.derivative(m, -1.0) - sigmoid(m)).abs() < 1e-15);
        }
        assert_eq!(sigmoid(-1e3), 0.0);
        assert_eq!(sigmoid(1e3), 1.0);
        assert!((sigmoid(-40.0) - (-40.0f64).exp()).abs() <= 1e-15 * (-40.0f64).exp());
    }

    #[test]
    fn derivatives_match_finite_differences() {
        let l = Logistic;
        for &m in &[-6.0, -1.3, 0.0, 0.4, 2.5, 9.0] {
            for y in [-1.0, 1.0] {
                let h = 1e-6;
                let fd = (l.value(m + h, y) - l.value(m - h, y)) / (2.0 * h);
                assert!((fd - l.derivative(m, y)).abs() < 1e-8, "φ' at {m}, {y}");
                let fd2 = (l.derivative(m + h, y) - l.derivative(m - h, y)) / (2.0 * h);
                assert!((fd2 - l.curvature(m, y)).abs() < 1e-8, "φ'' at {m}, {y}");
            }
        }
    }
}
