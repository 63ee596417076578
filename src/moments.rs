//! Sufficient statistics of a weighted least-squares problem, formed once and shared by every
//! backend that works with the Gram matrix.
//!
//! For data (X, Y, s) the moments are the weight sum S, the weighted means x̄ and ȳ, and the
//! centred co-moments
//!
//! ```text
//! Cxx = XcᵀS Xc   (d × d, lower triangle)      Cxy = XcᵀS Yc   (d × k)      Cyy = diag(YcᵀS Yc)  (k)
//! ```
//!
//! They are accumulated over row blocks: each block is copied into a small buffer, centred by its
//! *own* weighted mean and scaled by √s, its co-moments are added with one triangular matrix
//! product, and the block is then merged into the running total with the exact update of Chan,
//! Golub & LeVeque (1979):
//!
//! ```text
//! C ← C_a + C_b + (S_a·S_b / S)·δ δᵀ,      δ = mean_b − mean_a
//! ```
//!
//! This never forms XᵀX − S·x̄x̄ᵀ (which cancels catastrophically when the columns have a large
//! offset, as in NIST Longley and Filip), never holds a second n × d copy of X, reads X once, and
//! is the same merge that combines statistics computed on separate chunks or machines
//! ([`Moments::merge`]), so data larger than memory fit the same path.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Col, ColRef, Mat, MatRef, Par};
use rayon::prelude::*;

use crate::problem::RidgeProblem;

/// Rows per block. Large enough that the block product runs at GEMM speed, small enough that the
/// buffer (rows × d doubles) stays far below the size of X.
const BLOCK_ROWS: usize = 2048;

/// Weighted sufficient statistics of (X, Y): see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Moments {
    /// S = Σ sᵢ.
    pub weight_sum: f64,
    /// Weighted column means of X (zero when not centred).
    pub x_mean: Col<f64>,
    /// Weighted means of the k targets (zero when not centred).
    pub y_mean: Col<f64>,
    /// XcᵀSXc; only the lower triangle (diagonal included) is meaningful.
    pub xx: Mat<f64>,
    /// XcᵀSYc (d × k).
    pub xy: Mat<f64>,
    /// ycᵀS yc for each target (k).
    pub yy: Col<f64>,
    /// Whether the statistics are centred (a model with intercept) or raw (through the origin).
    pub centred: bool,
}

impl Moments {
    /// Empty statistics for d features and k targets.
    pub fn zeros(d: usize, k: usize, centred: bool) -> Self {
        Self {
            weight_sum: 0.0,
            x_mean: Col::zeros(d),
            y_mean: Col::zeros(k),
            xx: Mat::zeros(d, d),
            xy: Mat::zeros(d, k),
            yy: Col::zeros(k),
            centred,
        }
    }

    /// The moments of a problem's (X, y, s), centred when it fits an intercept.
    pub fn of_problem(problem: &RidgeProblem<'_>) -> Self {
        Self::compute(
            problem.x(),
            problem.y().as_mat(),
            problem.weights(),
            problem.fit_intercept(),
            problem.par(),
        )
    }

    /// Accumulates the moments of X (n × d) and Y (n × k) with optional weights, in one pass over X.
    pub fn compute(
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
        weights: Option<ColRef<'_, f64>>,
        centred: bool,
        par: Par,
    ) -> Self {
        let (n, d, k) = (x.nrows(), x.ncols(), y.ncols());
        // Parallelism across row chunks, each accumulated on one thread and merged exactly in a
        // fixed order (so the result does not depend on scheduling): the products of one
        // 2048-row block are too small to split well between threads (measured on 100 000 × 500
        // with 2 threads: 47 % of faer's dense GEMM rate with a parallel product per block,
        // 68 % with row chunks; `cargo bench --bench gram -- side_by_side`).
        let threads = match par {
            Par::Rayon(t) => t.get().min(n / BLOCK_ROWS),
            Par::Seq => 1,
        };
        if threads > 1 {
            let chunk = n.div_ceil(threads);
            let parts: Vec<Moments> = (0..threads)
                .into_par_iter()
                .map(|c| {
                    let (start, end) = (c * chunk, ((c + 1) * chunk).min(n));
                    Self::compute(
                        x.subrows(start, end - start),
                        y.subrows(start, end - start),
                        weights.map(|s| s.subrows(start, end - start)),
                        centred,
                        Par::Seq,
                    )
                })
                .collect();
            let mut parts = parts.into_iter();
            // `threads` > 1 chunks were computed, so there is a first one.
            let mut total = parts.next().expect("at least two chunks");
            parts.for_each(|p| total.merge(&p));
            return total;
        }
        let mut total = Self::zeros(d, k, centred);
        let rows = BLOCK_ROWS.min(n.max(1));
        let mut xb = Mat::<f64>::zeros(rows, d);
        let mut yb = Mat::<f64>::zeros(rows, k);
        let mut start = 0;
        while start < n {
            let len = rows.min(n - start);
            let block = BlockView {
                x: x.subrows(start, len),
                y: y.subrows(start, len),
                s: weights.map(|s| s.subrows(start, len)),
            };
            total.add_block(
                block,
                xb.as_mut().subrows_mut(0, len),
                yb.as_mut().subrows_mut(0, len),
                par,
            );
            start += len;
        }
        total
    }

    /// Merges statistics of disjoint sample sets exactly (Chan–Golub–LeVeque), as if computed on
    /// their union. Both sides must have the same shape and centring.
    pub fn merge(&mut self, other: &Moments) {
        debug_assert_eq!(self.centred, other.centred);
        let (sa, sb) = (self.weight_sum, other.weight_sum);
        let s = sa + sb;
        if sb == 0.0 {
            return;
        }
        if sa == 0.0 {
            *self = other.clone();
            return;
        }
        let d = self.x_mean.nrows();
        let k = self.y_mean.nrows();
        if self.centred {
            let dx = &other.x_mean - &self.x_mean;
            let dy = &other.y_mean - &self.y_mean;
            let c = sa * sb / s;
            for j in 0..d {
                for i in j..d {
                    self.xx[(i, j)] += other.xx[(i, j)] + c * dx[i] * dx[j];
                }
                for t in 0..k {
                    self.xy[(j, t)] += other.xy[(j, t)] + c * dx[j] * dy[t];
                }
            }
            for t in 0..k {
                self.yy[t] += other.yy[t] + c * dy[t] * dy[t];
            }
            self.x_mean += dx * faer::Scale(sb / s);
            self.y_mean += dy * faer::Scale(sb / s);
        } else {
            for j in 0..d {
                for i in j..d {
                    self.xx[(i, j)] += other.xx[(i, j)];
                }
            }
            self.xy += &other.xy;
            self.yy += &other.yy;
        }
        self.weight_sum = s;
    }

    /// The full symmetric Cxx (both triangles filled), for backends that want a dense matrix.
    pub fn xx_symmetric(&self) -> Mat<f64> {
        let d = self.xx.nrows();
        Mat::from_fn(d, d, |i, j| {
            if i >= j {
                self.xx[(i, j)]
            } else {
                self.xx[(j, i)]
            }
        })
    }

    /// The intercepts b = ȳ − x̄ᵀW for coefficients W (d × k); zeros when not centred.
    pub fn intercepts(&self, coef: MatRef<'_, f64>) -> Col<f64> {
        Col::from_fn(coef.ncols(), |t| {
            if self.centred {
                self.y_mean[t] - crate::problem::dot(self.x_mean.as_ref(), coef.col(t))
            } else {
                0.0
            }
        })
    }

    /// Adds one block, using `xb`/`yb` (block-sized buffers) as scratch.
    fn add_block(
        &mut self,
        block: BlockView<'_>,
        mut xb: faer::MatMut<'_, f64>,
        mut yb: faer::MatMut<'_, f64>,
        par: Par,
    ) {
        let len = block.x.nrows();
        xb.copy_from(block.x);
        yb.copy_from(block.y);
        let sb = block.s.map_or(len as f64, |s| s.iter().sum());
        if sb == 0.0 {
            return;
        }
        let mut part = Self::zeros(xb.ncols(), yb.ncols(), self.centred);
        part.weight_sum = sb;
        if self.centred {
            part.x_mean = block_mean(xb.rb(), block.s, sb);
            part.y_mean = block_mean(yb.rb(), block.s, sb);
            for (j, m) in part.x_mean.iter().enumerate() {
                xb.rb_mut().col_mut(j).iter_mut().for_each(|v| *v -= m);
            }
            for (t, m) in part.y_mean.iter().enumerate() {
                yb.rb_mut().col_mut(t).iter_mut().for_each(|v| *v -= m);
            }
        }
        if let Some(s) = block.s {
            for (i, w) in s.iter().enumerate() {
                let r = w.sqrt();
                xb.rb_mut().row_mut(i).iter_mut().for_each(|v| *v *= r);
                yb.rb_mut().row_mut(i).iter_mut().for_each(|v| *v *= r);
            }
        }
        triangular::matmul(
            part.xx.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Replace,
            xb.rb().transpose(),
            BlockStructure::Rectangular,
            xb.rb(),
            BlockStructure::Rectangular,
            1.0,
            par,
        );
        matmul(
            part.xy.as_mut(),
            Accum::Replace,
            xb.rb().transpose(),
            yb.rb(),
            1.0,
            par,
        );
        for t in 0..yb.ncols() {
            part.yy[t] = yb.rb().col(t).squared_norm_l2();
        }
        self.merge(&part);
    }
}

/// The regularised Gram system of a ridge problem, equilibrated by exact powers of two:
///
/// ```text
/// A = D (XcᵀSXc + S·λ·I) D,    B = D·XcᵀSyc,    w = D·v  where A v = B
/// ```
///
/// D brings each diagonal entry of A within a factor of two of 1: the scaling is exact in floating point, so it
/// changes no rounding, but it makes pivot thresholds and condition estimates independent of the
/// units of each feature (a polynomial design spans 30 orders of magnitude otherwise).
#[derive(Debug, Clone)]
pub struct GramSystem {
    /// Lower triangle of A (the upper triangle is not referenced).
    pub a: Mat<f64>,
    /// Right-hand sides B (d × k).
    pub rhs: Mat<f64>,
    /// The diagonal of D.
    pub scale: Col<f64>,
    /// The statistics the system was formed from (means for the intercept).
    pub moments: Moments,
}

impl GramSystem {
    /// Forms the system for the problem's λ, reading X once.
    pub fn of_problem(problem: &RidgeProblem<'_>) -> Self {
        Self::from_moments(Moments::of_problem(problem), problem.lambda())
    }

    /// Forms the system from precomputed moments (reuse across λ values).
    pub fn from_moments(moments: Moments, lambda: f64) -> Self {
        let d = moments.xx.nrows();
        let shift = moments.weight_sum * lambda;
        let scale = Col::from_fn(d, |j| pow2_inverse_sqrt(moments.xx[(j, j)] + shift));
        let a = Mat::from_fn(d, d, |i, j| {
            if i < j {
                0.0
            } else {
                let v = moments.xx[(i, j)] + if i == j { shift } else { 0.0 };
                scale[i] * v * scale[j]
            }
        });
        let rhs = Mat::from_fn(d, moments.xy.ncols(), |i, t| scale[i] * moments.xy[(i, t)]);
        Self {
            a,
            rhs,
            scale,
            moments,
        }
    }

    /// Maps a solution v of the scaled system back to w = D·v and the intercepts b = ȳ − x̄ᵀw.
    pub fn unscale(&self, v: MatRef<'_, f64>) -> (Mat<f64>, Col<f64>) {
        let w = Mat::from_fn(v.nrows(), v.ncols(), |i, t| self.scale[i] * v[(i, t)]);
        let b = self.moments.intercepts(w.as_ref());
        (w, b)
    }

    /// The columns `targets` of the right-hand sides B.
    pub fn rhs_of(&self, targets: &[usize]) -> Mat<f64> {
        Mat::from_fn(self.rhs.nrows(), targets.len(), |i, c| {
            self.rhs[(i, targets[c])]
        })
    }

    /// [`GramSystem::unscale`] for solutions of the columns `targets` of B.
    pub fn unscale_targets(&self, v: MatRef<'_, f64>, targets: &[usize]) -> (Mat<f64>, Col<f64>) {
        let w = Mat::from_fn(v.nrows(), v.ncols(), |i, c| self.scale[i] * v[(i, c)]);
        let b = Col::from_fn(targets.len(), |c| {
            if self.moments.centred {
                self.moments.y_mean[targets[c]]
                    - crate::problem::dot(self.moments.x_mean.as_ref(), w.col(c))
            } else {
                0.0
            }
        });
        (w, b)
    }
}

/// The power of two nearest to 1/√a (1 when a is zero, so an all-zero column stays visible as a
/// zero pivot instead of being blown up).
pub(crate) fn pow2_inverse_sqrt(a: f64) -> f64 {
    if a > 0.0 && a.is_finite() {
        (-0.5 * a.log2()).round().exp2()
    } else {
        1.0
    }
}

struct BlockView<'a> {
    x: MatRef<'a, f64>,
    y: MatRef<'a, f64>,
    s: Option<ColRef<'a, f64>>,
}

/// Weighted column means of a block, with one correction pass.
fn block_mean(m: MatRef<'_, f64>, s: Option<ColRef<'_, f64>>, sb: f64) -> Col<f64> {
    Col::from_fn(m.ncols(), |j| {
        let c = m.col(j);
        let weighted = |shift: f64| -> f64 {
            match s {
                Some(s) => c.iter().zip(s.iter()).map(|(v, w)| w * (v - shift)).sum(),
                None => c.iter().map(|v| v - shift).sum(),
            }
        };
        let m0 = weighted(0.0) / sb;
        m0 + weighted(m0) / sb
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_chunks_on_threads_match_one_thread() {
        // n spans several chunks of several blocks, with weights and an offset so centring matters.
        let (n, d) = (3 * BLOCK_ROWS + 517, 7);
        let x = Mat::from_fn(n, d, |i, j| 100.0 + ((i * (j + 3)) % 97) as f64 * 0.01);
        let y = Mat::from_fn(n, 2, |i, t| ((i * (t + 5)) % 13) as f64 - 6.0);
        let s = Col::from_fn(n, |i| 0.5 + (i % 3) as f64);
        let seq = Moments::compute(x.as_ref(), y.as_ref(), Some(s.as_ref()), true, Par::Seq);
        let three = std::num::NonZeroUsize::new(3).expect("3 > 0");
        let par = Moments::compute(
            x.as_ref(),
            y.as_ref(),
            Some(s.as_ref()),
            true,
            Par::Rayon(three),
        );
        assert_eq!(par.weight_sum, seq.weight_sum);
        let close = |a: MatRef<'_, f64>, b: MatRef<'_, f64>| {
            let scale = b.norm_max().max(1e-300);
            assert!((a - b).norm_max() <= 1e-12 * scale, "{a:?} vs {b:?}");
        };
        close(par.xx_symmetric().as_ref(), seq.xx_symmetric().as_ref());
        close(par.xy.as_ref(), seq.xy.as_ref());
        close(par.x_mean.as_mat(), seq.x_mean.as_mat());
        close(par.y_mean.as_mat(), seq.y_mean.as_mat());
    }

    /// Reference co-moments by the textbook two-pass definition.
    fn naive(x: MatRef<'_, f64>, y: ColRef<'_, f64>, s: &[f64]) -> (Mat<f64>, Col<f64>) {
        let (n, d) = (x.nrows(), x.ncols());
        let sw: f64 = s.iter().sum();
        let xm = Col::from_fn(d, |j| (0..n).map(|i| s[i] * x[(i, j)]).sum::<f64>() / sw);
        let ym = (0..n).map(|i| s[i] * y[i]).sum::<f64>() / sw;
        let xx = Mat::from_fn(d, d, |a, b| {
            (0..n)
                .map(|i| s[i] * (x[(i, a)] - xm[a]) * (x[(i, b)] - xm[b]))
                .sum()
        });
        let xy = Col::from_fn(d, |a| {
            (0..n)
                .map(|i| s[i] * (x[(i, a)] - xm[a]) * (y[i] - ym))
                .sum()
        });
        (xx, xy)
    }

    #[test]
    fn blocked_merge_equals_two_pass_definition() {
        // 5000 rows forces three blocks; an offset of 1e6 would ruin XᵀX − S·x̄x̄ᵀ.
        let (n, d) = (5000, 4);
        let x = Mat::from_fn(n, d, |i, j| {
            1e6 + ((i * 7 + j * 13) % 17) as f64 + 0.1 * j as f64
        });
        let y = Col::from_fn(n, |i| ((i * 3) % 11) as f64 - 2.0);
        let s: Vec<f64> = (0..n).map(|i| (i % 3) as f64 * 0.5).collect();
        let m = Moments::compute(
            x.as_ref(),
            y.as_mat(),
            Some(ColRef::from_slice(&s)),
            true,
            Par::Seq,
        );
        let (xx, xy) = naive(x.as_ref(), y.as_ref(), &s);
        let full = m.xx_symmetric();
        for a in 0..d {
            for b in 0..d {
                assert!((full[(a, b)] - xx[(a, b)]).abs() <= 1e-9 * xx[(a, a)].abs().max(1.0));
            }
            assert!((m.xy[(a, 0)] - xy[a]).abs() <= 1e-9 * xy.norm_l2());
        }
        assert_eq!(m.weight_sum, s.iter().sum::<f64>());
    }

    #[test]
    fn merge_of_halves_equals_whole() {
        let (n, d) = (300, 3);
        let x = Mat::from_fn(n, d, |i, j| ((i * (j + 2)) % 29) as f64 - 3.0);
        let y = Mat::from_fn(n, 2, |i, t| ((i + t) % 5) as f64);
        for centred in [true, false] {
            let whole = Moments::compute(x.as_ref(), y.as_ref(), None, centred, Par::Seq);
            let mut a = Moments::compute(
                x.as_ref().subrows(0, 100),
                y.as_ref().subrows(0, 100),
                None,
                centred,
                Par::Seq,
            );
            let b = Moments::compute(
                x.as_ref().subrows(100, 200),
                y.as_ref().subrows(100, 200),
                None,
                centred,
                Par::Seq,
            );
            a.merge(&b);
            assert!(
                (&a.xx_symmetric() - whole.xx_symmetric()).norm_l2() < 1e-9 * whole.xx.norm_l2()
            );
            assert!((&a.xy - &whole.xy).norm_l2() < 1e-9 * whole.xy.norm_l2());
            assert!((&a.yy - &whole.yy).norm_l2() < 1e-9 * whole.yy.norm_l2());
        }
    }
}
