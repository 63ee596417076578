//! The squared loss φ(m; y) = ½·(y − m)² of ridge regression.

use super::Loss;
use crate::loss::LossKind;

/// φ(m; y) = ½·(y − m)², φ' = m − y, φ'' = 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Squared;

impl Loss for Squared {
    fn kind(&self) -> LossKind {
        LossKind::Squared
    }
    #[inline]
    fn value(&self, m: f64, y: f64) -> f64 {
        0.5 * (y - m) * (y - m)
    }
    #[inline]
    fn derivative(&self, m: f64, y: f64) -> f64 {
        m - y
    }
    #[inline]
    fn curvature(&self, _m: f64, _y: f64) -> f64 {
        1.0
    }
    fn max_curvature(&self) -> f64 {
        1.0
    }
    fn min_curvature(&self) -> f64 {
        1.0
    }
}
