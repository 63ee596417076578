//! The centred triangle: the triangular factor R of the centred, weight-scaled [S^½·Xc, S^½·Yc]
//! of row blocks, merged exactly like [`Moments`] — the QR analogue of the moments merge, with
//! which `crate::stream` fits `qr`, `svd` and `qr-refined` in one pass over a file.
//!
//! A block b (weights sᵢ, S_b = Σ sᵢ, two-part weighted mean m_b of the rows zᵢ = [xᵢ, yᵢ]) is
//! centred by its own mean and factored by the tall-skinny QR of [`crate::tsqr`]:
//! R_b = R of the rows √sᵢ·((zᵢ − m_bₕ) − m_bₗ) ([`crate::linalg::write_centred_scaled`]).
//! Two triangles (a, b) merge into the triangle of the union:
//!
//! ```text
//! R = R of [ R_a ; R_b ; √(S_a·S_b/S)·δᵀ ],      δ = m_b − m_a,   S = S_a + S_b
//! m ← m_a + (S_b/S)·δ
//! ```
//!
//! because RᵀR = R_aᵀR_a + R_bᵀR_b + (S_a·S_b/S)·δδᵀ is the Chan–Golub–LeVeque update of the
//! centred co-moments ([`Moments::merge`]) and an orthogonal factor only rotates rows. δ and the
//! running mean are those of the [`Moments`] merged alongside (two parts each, δ from both:
//! [`Moments::mean_difference`]), so a large offset (X + 1e15) costs no digits here either. The
//! moments themselves come for free with the block's mean (one [`Moments::compute`] per block)
//! and give a streamed fit its diagnostics. Without an intercept nothing is centred and the
//! merge is the plain stack [R_a; R_b].
//!
//! R is unique up to the signs of its rows when the data have full column rank; its Gram matrix
//! RᵀR is that of the data whatever the blocks, so every solve that needs only RᵀR (a ridge
//! solve from R₁₁ and R₁₂, the SVD of R₁₁) gives the in-memory answer up to rounding. A merge
//! costs one QR of a (2m + 1) × m matrix, m = d + k: against a block's 2·B·m² flops, about
//! 2m/B more.

use faer::reborrow::ReborrowMut;
use faer::{ColRef, Mat, MatRef, Par};

use crate::linalg::write_centred_scaled;
use crate::moments::Moments;
use crate::tsqr::{factor_stacked, triangular_factor};

/// R of the centred, weight-scaled [S^½·Xc, S^½·Yc] of some rows, with their [`Moments`]: see
/// the [module docs](self).
#[derive(Debug, Clone)]
pub struct CentredTriangle {
    moments: Moments,
    /// (d + k) × (d + k), upper triangular.
    r: Mat<f64>,
}

impl CentredTriangle {
    /// The triangle of no rows, for d features and k targets.
    pub fn zeros(d: usize, k: usize, centred: bool) -> Self {
        Self {
            moments: Moments::zeros(d, k, centred),
            r: Mat::zeros(d + k, d + k),
        }
    }

    /// The triangle and moments of the rows (X, Y) with optional weights: [`Moments::compute`]
    /// for the moments and the two-part means, then the tall-skinny QR of the rows centred by
    /// those means and scaled by √sᵢ (centred only when `centred`).
    pub fn compute(
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
        weights: Option<ColRef<'_, f64>>,
        centred: bool,
        par: Par,
    ) -> Self {
        let (d, k) = (x.ncols(), y.ncols());
        let moments = Moments::compute(x, y, weights, centred, par);
        if moments.weight_sum() == 0.0 {
            return Self {
                moments,
                r: Mat::zeros(d + k, d + k),
            };
        }
        let root: Option<Vec<f64>> = weights.map(|s| s.iter().map(|s| s.sqrt()).collect());
        let r = triangular_factor(
            x.nrows(),
            d + k,
            None,
            |first, mut out| {
                let len = out.nrows();
                let root = root.as_deref().map(|r| &r[first..first + len]);
                write_centred_scaled(
                    x.subrows(first, len),
                    moments.x_mean_parts(),
                    root,
                    out.rb_mut().subcols_mut(0, d),
                );
                write_centred_scaled(
                    y.subrows(first, len),
                    moments.y_mean_parts(),
                    root,
                    out.subcols_mut(d, k),
                );
            },
            par,
        );
        Self { moments, r }
    }

    /// Merges the triangle of disjoint rows into this one, as if computed on their union (see
    /// the [module docs](self)). Both must have the same shape and centring.
    pub fn merge(&mut self, other: &CentredTriangle) {
        let (sa, sb) = (self.moments.weight_sum(), other.moments.weight_sum());
        if sb == 0.0 {
            return;
        }
        if sa == 0.0 {
            *self = other.clone();
            return;
        }
        let (d, m) = (self.moments.n_features(), self.r.ncols());
        let row = if self.moments.centred() {
            let (dx, dy) = self.moments.mean_difference(&other.moments);
            // √(S_a·S_b/S), formed without the product S_a·S_b (which overflows first).
            let c = (sa * (sb / (sa + sb))).sqrt();
            Mat::from_fn(1, m, |_, j| c * if j < d { dx[j] } else { dy[j - d] })
        } else {
            Mat::zeros(0, m)
        };
        self.r = factor_stacked(&[self.r.as_ref(), other.r.as_ref(), row.as_ref()], m);
        self.moments.merge(&other.moments);
    }

    /// The moments of the same rows, and R ((d + k) × (d + k), upper triangular: R₁₁ = the
    /// first d rows and columns, R₁₂ = the first d rows of the last k columns).
    pub fn into_parts(self) -> (Moments, Mat<f64>) {
        (self.moments, self.r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Col;

    /// The largest difference between RᵀR and the co-moments of `whole` (XcᵀSXc, XcᵀSYc and
    /// the diagonal of YcᵀSYc), relative to the largest co-moment.
    fn gram_error(r: MatRef<'_, f64>, whole: &Moments) -> f64 {
        let rtr = r.transpose() * r;
        let (d, k) = (whole.n_features(), whole.n_targets());
        let (xx, xy, yy) = (whole.xx(), whole.xy(), whole.yy());
        let mut pairs = Vec::new();
        for i in 0..d {
            pairs.extend((0..d).map(|j| (rtr[(i, j)], xx[(i, j)])));
            pairs.extend((0..k).map(|t| (rtr[(i, d + t)], xy[(i, t)])));
        }
        pairs.extend((0..k).map(|t| (rtr[(d + t, d + t)], yy[t])));
        let scale = pairs.iter().map(|p| p.1.abs()).fold(0.0, f64::max);
        pairs.iter().map(|(a, b)| (a - b).abs()).fold(0.0, f64::max) / scale
    }

    #[test]
    fn merged_blocks_have_the_gram_matrix_of_all_rows_even_with_a_1e15_offset() {
        let (n, d, k) = (700, 3, 2);
        for offset in [0.0, 1e15] {
            let x = Mat::from_fn(n, d, |i, j| {
                offset + ((i * 7 + j * 13) % 17) as f64 * 8.0 + (1.0 + i as f64 * j as f64).sin()
            });
            let y = Mat::from_fn(n, k, |i, t| ((i * (t + 3)) % 11) as f64 - 4.0);
            let s = Col::from_fn(n, |i| 0.5 + (i % 3) as f64);
            for centred in [true, false] {
                if offset > 0.0 && !centred {
                    continue;
                }
                // The offset is exact in the data, so the moments of X − offset are the exact
                // reference for the centred co-moments.
                let shifted = Mat::from_fn(n, d, |i, j| x[(i, j)] - offset);
                let whole = Moments::compute(
                    shifted.as_ref(),
                    y.as_ref(),
                    Some(s.as_ref()),
                    centred,
                    Par::Seq,
                );
                let mut t = CentredTriangle::zeros(d, k, centred);
                for (r0, len) in [(0, 1), (1, 250), (251, 2), (253, 447)] {
                    t.merge(&CentredTriangle::compute(
                        x.as_ref().subrows(r0, len),
                        y.as_ref().subrows(r0, len),
                        Some(s.as_ref().subrows(r0, len)),
                        centred,
                        Par::rayon(2),
                    ));
                }
                let (m, r) = t.into_parts();
                let err = gram_error(r.as_ref(), &whole);
                assert!(err < 1e-13, "offset {offset:e}, centred {centred}: {err:e}");
                assert_eq!(m.weight_sum(), whole.weight_sum());
                assert!((0..d + k).all(|j| (j + 1..d + k).all(|i| r[(i, j)] == 0.0)));
            }
        }
    }
}
