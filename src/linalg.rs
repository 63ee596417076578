//! Small dense kernels shared by every layer above (the bottom of the dependency order).

use faer::ColRef;

/// xᵀy.
#[inline]
pub(crate) fn dot(x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
    x.iter().zip(y.iter()).map(|(a, b)| a * b).sum()
}
