//! Small dense kernels shared by every layer above (the bottom of the dependency order).

use faer::reborrow::ReborrowMut;
use faer::{ColRef, MatMut, MatRef};

/// xᵀy.
#[inline]
pub(crate) fn dot(x: ColRef<'_, f64>, y: ColRef<'_, f64>) -> f64 {
    x.iter().zip(y.iter()).map(|(a, b)| a * b).sum()
}

/// The largest |vᵢ| (0 for an empty or all-zero v).
fn max_abs(v: impl Iterator<Item = f64>) -> f64 {
    v.fold(0.0, |m, x| m.max(x.abs()))
}

/// ‖v‖₂ computed as m·‖v/m‖₂ with m = max|vᵢ|, so that the squares neither overflow nor
/// underflow (the scaling of LAPACK's `dnrm2`): finite whenever the norm itself is.
pub(crate) fn norm2(v: ColRef<'_, f64>) -> f64 {
    let m = max_abs(v.iter().copied());
    if m == 0.0 || !m.is_finite() {
        return m;
    }
    m * v.iter().map(|x| (x / m) * (x / m)).sum::<f64>().sqrt()
}

/// ½·(1/S)·Σᵢ sᵢ·vᵢ² (sᵢ = 1 without weights), computed as ½·m·(m·Σ sᵢ(vᵢ/m)²/S) with
/// m = max|vᵢ|: finite whenever the result is, even when some vᵢ² alone would overflow.
pub(crate) fn half_weighted_mean_square(
    v: ColRef<'_, f64>,
    weights: Option<ColRef<'_, f64>>,
    weight_sum: f64,
) -> f64 {
    let m = max_abs(v.iter().copied());
    if m == 0.0 || !m.is_finite() {
        return if m == 0.0 { 0.0 } else { f64::INFINITY };
    }
    let sum: f64 = match weights {
        Some(s) => v
            .iter()
            .zip(s.iter())
            .map(|(v, s)| s * (v / m) * (v / m))
            .sum(),
        None => v.iter().map(|v| (v / m) * (v / m)).sum(),
    };
    0.5 * m * (m * (sum / weight_sum))
}

/// out ← √sᵢ·((xᵢⱼ − hⱼ) − lⱼ) for every row i and column j of `src`: rows centred by a mean
/// held in two parts (h the f64 nearest it, l what its rounding drops) and scaled by the square
/// roots of their weights (`root`, one per row; `None` for unit weights). This is the matrix
/// S^½·Xc every orthogonal factorisation of the crate works on. The first difference is exact
/// when the mean is large against the spread (Sterbenz), so a large offset (timestamps,
/// X + 1e15) leaves no residual mean of ulp(h)/2 in the centred column.
pub(crate) fn write_centred_scaled(
    src: MatRef<'_, f64>,
    (high, low): (ColRef<'_, f64>, ColRef<'_, f64>),
    root: Option<&[f64]>,
    mut out: MatMut<'_, f64>,
) {
    for j in 0..src.ncols() {
        let (h, l) = (high[j], low[j]);
        let dst = out.rb_mut().col_mut(j);
        let col = src.col(j);
        match root {
            Some(root) => dst
                .iter_mut()
                .zip(col.iter().zip(root))
                .for_each(|(d, (x, r))| *d = r * ((x - h) - l)),
            None => dst
                .iter_mut()
                .zip(col.iter())
                .for_each(|(d, x)| *d = (x - h) - l),
        }
    }
}

/// a + b = s + e exactly, with s = fl(a + b) (Knuth's TwoSum; no condition on |a|, |b|).
#[inline(always)]
pub fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// a·b = p + e exactly, with p = fl(a·b) (TwoProduct through the fused multiply-add).
#[inline(always)]
pub fn two_prod(a: f64, b: f64) -> (f64, f64) {
    let p = a * b;
    (p, a.mul_add(b, -p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_norms_neither_overflow_nor_underflow() {
        let big = faer::Col::from_fn(3, |i| 1e200 * (i as f64 + 1.0));
        assert!((norm2(big.as_ref()) / (1e200 * 14f64.sqrt()) - 1.0).abs() < 1e-15);
        let tiny = faer::Col::from_fn(3, |i| 1e-200 * (i as f64 + 1.0));
        assert!((norm2(tiny.as_ref()) / (1e-200 * 14f64.sqrt()) - 1.0).abs() < 1e-15);
        // ½·(1e154² + (2e154)²)/2 = 1.25e308: finite although (2e154)² alone is 4e308.
        let v = faer::Col::from_fn(2, |i| 1e154 * (i as f64 + 1.0));
        let j = half_weighted_mean_square(v.as_ref(), None, 2.0);
        assert!((j / 1.25e308 - 1.0).abs() < 1e-15, "{j}");
        assert_eq!(
            half_weighted_mean_square(faer::Col::<f64>::zeros(2).as_ref(), None, 2.0),
            0.0
        );
        assert_eq!(norm2(faer::Col::<f64>::zeros(2).as_ref()), 0.0);
    }
}
