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
//! product, and the blocks are merged pairwise along a fixed binary tree (so the result does not
//! depend on the number of threads) with the exact update of Chan, Golub & LeVeque (1979):
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

use crate::linalg::two_sum;

/// Rows per block. Large enough that the block product runs at GEMM speed, small enough that the
/// buffer (rows × d doubles) stays far below the size of X.
const BLOCK_ROWS: usize = 2048;

/// Weighted sufficient statistics of (X, Y): see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Moments {
    /// S = Σ sᵢ.
    pub(crate) weight_sum: f64,
    /// Weighted column means of X (zero when not centred): the f64 nearest the mean.
    pub(crate) x_mean: Col<f64>,
    /// What x̄ misses: the exact mean is x_mean + x_mean_lo to about ε² relative (see
    /// [`Moments::merge`] for why the second part matters).
    pub(crate) x_mean_lo: Col<f64>,
    /// Weighted means of the k targets (zero when not centred).
    pub(crate) y_mean: Col<f64>,
    /// What ȳ misses, as `x_mean_lo`.
    pub(crate) y_mean_lo: Col<f64>,
    /// XcᵀSXc; only the lower triangle (diagonal included) is meaningful.
    pub(crate) xx: Mat<f64>,
    /// XcᵀSYc (d × k).
    pub(crate) xy: Mat<f64>,
    /// ycᵀS yc for each target (k).
    pub(crate) yy: Col<f64>,
    /// Whether the statistics are centred (a model with intercept) or raw (through the origin).
    pub(crate) centred: bool,
}

impl Moments {
    /// S = Σ sᵢ.
    pub fn weight_sum(&self) -> f64 {
        self.weight_sum
    }
    /// The weighted column means x̄ (zero when not centred).
    pub fn x_mean(&self) -> faer::ColRef<'_, f64> {
        self.x_mean.as_ref()
    }
    /// The weighted means of the k targets (zero when not centred).
    pub fn y_mean(&self) -> faer::ColRef<'_, f64> {
        self.y_mean.as_ref()
    }
    /// XcᵀSXc (d × d) with both triangles filled.
    pub fn xx(&self) -> Mat<f64> {
        self.xx_symmetric()
    }
    /// XcᵀSYc (d × k).
    pub fn xy(&self) -> MatRef<'_, f64> {
        self.xy.as_ref()
    }
    /// ycᵀS·yc for each of the k targets.
    pub fn yy(&self) -> faer::ColRef<'_, f64> {
        self.yy.as_ref()
    }
    /// Whether the statistics are centred (a model with an intercept).
    pub fn centred(&self) -> bool {
        self.centred
    }
    /// d.
    pub fn n_features(&self) -> usize {
        self.xx.nrows()
    }
    /// k.
    pub fn n_targets(&self) -> usize {
        self.xy.ncols()
    }

    /// Empty statistics for d features and k targets.
    pub fn zeros(d: usize, k: usize, centred: bool) -> Self {
        Self {
            weight_sum: 0.0,
            x_mean: Col::zeros(d),
            x_mean_lo: Col::zeros(d),
            y_mean: Col::zeros(k),
            y_mean_lo: Col::zeros(k),
            xx: Mat::zeros(d, d),
            xy: Mat::zeros(d, k),
            yy: Col::zeros(k),
            centred,
        }
    }

    /// Accumulates the moments of X (n × d) and Y (n × k) with optional weights, in one pass over X.
    ///
    /// The rows are cut into blocks of `BLOCK_ROWS` from row 0, and the blocks' statistics are
    /// merged along a fixed balanced binary tree (the two halves of a range of blocks, then their
    /// merge). Threads only decide which subtrees run at the same time, never the blocks or the
    /// order of any sum, so the result is bit-for-bit the same for every `par` and every run.
    /// The pairwise merge also keeps the rounding error of the merges growing with log(n/B)
    /// rather than n/B.
    pub fn compute(
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
        weights: Option<ColRef<'_, f64>>,
        centred: bool,
        par: Par,
    ) -> Self {
        Self::compute_in(x, y, weights, centred, par, &mut Workspace::default())
    }

    /// [`Moments::compute`] with its per-thread buffers taken from (and left in) `workspace`,
    /// for a caller that computes the moments of many blocks in turn.
    pub(crate) fn compute_in(
        x: MatRef<'_, f64>,
        y: MatRef<'_, f64>,
        weights: Option<ColRef<'_, f64>>,
        centred: bool,
        par: Par,
        workspace: &mut Workspace,
    ) -> Self {
        let (n, d, k) = (x.nrows(), x.ncols(), y.ncols());
        let data = BlockView { x, y, s: weights };
        let blocks = n.div_ceil(BLOCK_ROWS);
        if blocks <= 1 {
            if n == 0 {
                return Self::zeros(d, k, centred);
            }
            // One block: the only parallelism left is inside the products. faer splits them
            // over the output, not the inner dimension, so each entry is still one sum in one
            // order (checked by `row_chunks_on_threads_match_one_thread`).
            let scratch = Scratch::reuse(&mut workspace.slots(1)[0], n, d, k);
            return Self::of_block(data, scratch, centred, par);
        }
        // Parallelism across subtrees, each accumulated on one thread with one scratch buffer:
        // the products of one 2048-row block are too small to split well between threads
        // (measured on 100 000 × 500 with 2 threads: 47 % of faer's dense GEMM rate with a
        // parallel product per block, 68 % with row chunks; `cargo bench --bench gram --
        // side_by_side`). Spawning down to depth ⌈log₂ t⌉ gives t threads 2^depth ≥ t subtrees.
        let threads = par.degree().min(blocks);
        let spawn_depth = threads.next_power_of_two().trailing_zeros();
        let slots = workspace.slots(1 << spawn_depth);
        Self::tree(&data, 0, blocks, spawn_depth, centred, slots)
    }

    /// The statistics of blocks `lo .. hi` of `data`: see [`Moments::compute`]. `scratch` holds
    /// 2^spawn_depth buffers: each half run as a separate task takes half of them, and a leaf
    /// uses the first.
    fn tree(
        data: &BlockView<'_>,
        lo: usize,
        hi: usize,
        spawn_depth: u32,
        centred: bool,
        scratch: &mut [Option<Scratch>],
    ) -> Self {
        if hi - lo == 1 {
            let start = lo * BLOCK_ROWS;
            let len = BLOCK_ROWS.min(data.x.nrows() - start);
            let (d, k) = (data.x.ncols(), data.y.ncols());
            let scratch = Scratch::reuse(&mut scratch[0], BLOCK_ROWS, d, k);
            return Self::of_block(data.rows(start, len), scratch, centred, Par::Seq);
        }
        let mid = lo + (hi - lo) / 2;
        let (mut left, right) = if spawn_depth > 0 {
            let (left, right) = scratch.split_at_mut(scratch.len() / 2);
            rayon::join(
                || Self::tree(data, lo, mid, spawn_depth - 1, centred, left),
                || Self::tree(data, mid, hi, spawn_depth - 1, centred, right),
            )
        } else {
            let left = Self::tree(data, lo, mid, 0, centred, scratch);
            (left, Self::tree(data, mid, hi, 0, centred, scratch))
        };
        left.merge(&right);
        left
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
            let (dx, dy) = self.mean_difference(other);
            let c = sa * sb / s;
            let dxs = dx
                .try_as_col_major()
                .expect("an owned Col is contiguous")
                .as_slice();
            for j in 0..d {
                let cj = c * dxs[j];
                let dst = &mut self.xx.col_as_slice_mut(j)[j..];
                let src = &other.xx.col_as_slice(j)[j..];
                for ((o, b), di) in dst.iter_mut().zip(src).zip(&dxs[j..]) {
                    *o += b + cj * di;
                }
                for t in 0..k {
                    self.xy[(j, t)] += other.xy[(j, t)] + cj * dy[t];
                }
            }
            for t in 0..k {
                self.yy[t] += other.yy[t] + c * dy[t] * dy[t];
            }
            let share = sb / s;
            for j in 0..d {
                (self.x_mean[j], self.x_mean_lo[j]) =
                    two_sum(self.x_mean[j], self.x_mean_lo[j] + dx[j] * share);
            }
            for t in 0..k {
                (self.y_mean[t], self.y_mean_lo[t]) =
                    two_sum(self.y_mean[t], self.y_mean_lo[t] + dy[t] * share);
            }
        } else {
            for j in 0..d {
                let dst = &mut self.xx.col_as_slice_mut(j)[j..];
                dst.iter_mut()
                    .zip(&other.xx.col_as_slice(j)[j..])
                    .for_each(|(o, b)| *o += b);
            }
            self.xy += &other.xy;
            self.yy += &other.yy;
        }
        self.weight_sum = s;
    }

    /// δ = mean_b − mean_a of X and of Y (`other` is b), from the two-part means: with a large
    /// offset (timestamps, X + 1e15) the f64 means are off by up to ulp(x̄)/2 (0.06 at 1e15)
    /// and their difference alone would put an error of ε·|x̄|/spread, first order, into every
    /// merge term (2e-3 relative at 1e15 with a spread of 100); the high parts' difference is
    /// exact (Sterbenz). The merge of [`Moments::merge`] and of the streamed QR
    /// (`crate::triangle`).
    pub(crate) fn mean_difference(&self, other: &Moments) -> (Col<f64>, Col<f64>) {
        let part = |a: &Col<f64>, a_lo: &Col<f64>, b: &Col<f64>, b_lo: &Col<f64>| {
            Col::from_fn(a.nrows(), |j| (b[j] - a[j]) + (b_lo[j] - a_lo[j]))
        };
        (
            part(
                &self.x_mean,
                &self.x_mean_lo,
                &other.x_mean,
                &other.x_mean_lo,
            ),
            part(
                &self.y_mean,
                &self.y_mean_lo,
                &other.y_mean,
                &other.y_mean_lo,
            ),
        )
    }

    /// The two-part means (high, low) of X: the weighted mean is high + low to about ε²
    /// relative.
    #[cfg(any(feature = "npy", feature = "csv"))]
    pub(crate) fn x_mean_parts(&self) -> (ColRef<'_, f64>, ColRef<'_, f64>) {
        (self.x_mean.as_ref(), self.x_mean_lo.as_ref())
    }

    /// The two-part means (high, low) of the targets.
    #[cfg(any(feature = "npy", feature = "csv"))]
    pub(crate) fn y_mean_parts(&self) -> (ColRef<'_, f64>, ColRef<'_, f64>) {
        (self.y_mean.as_ref(), self.y_mean_lo.as_ref())
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
        Col::from_fn(coef.ncols(), |t| self.intercept(t, coef.col(t)))
    }

    /// The intercept b = ȳₜ − x̄ᵀw of target t for coefficients w; 0 when not centred.
    pub fn intercept(&self, t: usize, coef: ColRef<'_, f64>) -> f64 {
        if self.centred {
            self.y_mean[t] - crate::linalg::dot(self.x_mean.as_ref(), coef)
        } else {
            0.0
        }
    }

    /// The statistics of one block, centred by its own weighted means, using `scratch` (at least
    /// the block's size) for the centred, √s-scaled copy.
    ///
    /// The copy is fused with the centring ([`centre_block`]): X is read in place for the means
    /// and written once, centred and scaled, into the buffer, instead of being copied first and
    /// then swept three more times (two sums and the subtraction) in a buffer too large for L2.
    /// The block product then reads the copy.
    fn of_block(block: BlockView<'_>, scratch: &mut Scratch, centred: bool, par: Par) -> Self {
        let (len, d, k) = (block.x.nrows(), block.x.ncols(), block.y.ncols());
        let mut part = Self::zeros(d, k, centred);
        let weights = block.s.map(|s| {
            let w = &mut scratch.w[..len];
            let root = &mut scratch.root[..len];
            for ((w, r), s) in w.iter_mut().zip(root.iter_mut()).zip(s.iter()) {
                *w = *s;
                *r = s.sqrt();
            }
            (&*w, &*root)
        });
        let sb = weights.map_or(len as f64, |(w, _)| w.iter().sum());
        if sb == 0.0 {
            return part;
        }
        part.weight_sum = sb;
        let mut xb = scratch.x.as_mut().subrows_mut(0, len);
        let mut yb = scratch.y.as_mut().subrows_mut(0, len);
        let Self {
            x_mean,
            x_mean_lo,
            y_mean,
            y_mean_lo,
            ..
        } = &mut part;
        centre_block(
            block.x,
            xb.rb_mut(),
            (x_mean, x_mean_lo),
            weights,
            sb,
            centred,
        );
        centre_block(
            block.y,
            yb.rb_mut(),
            (y_mean, y_mean_lo),
            weights,
            sb,
            centred,
        );
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
        for t in 0..k {
            part.yy[t] = yb.rb().col(t).squared_norm_l2();
        }
        // The block was centred by the f64 means, so its columns keep the means' low parts:
        // Σ sᵢ(xᵢ − x̄ₕ)(xᵢ − x̄ₕ)ᵀ = C + S_b·x̄ₗx̄ₗᵀ. Remove that (second-order) term, except
        // where it overflows (a column of 1e200: its co-moments are already infinite, and the
        // backends report the overflow; inf − inf would turn that into NaN).
        if centred && (part.x_mean_lo.norm_max() > 0.0 || part.y_mean_lo.norm_max() > 0.0) {
            let (xl, yl) = (&part.x_mean_lo, &part.y_mean_lo);
            let remove = |v: &mut f64, a: f64, b: f64| {
                let term = sb * a * b;
                if term.is_finite() {
                    *v -= term;
                }
            };
            for j in 0..d {
                for i in j..d {
                    remove(&mut part.xx[(i, j)], xl[i], xl[j]);
                }
                for t in 0..k {
                    remove(&mut part.xy[(j, t)], xl[j], yl[t]);
                }
            }
            for t in 0..k {
                remove(&mut part.yy[t], yl[t], yl[t]);
            }
        }
        part
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
    /// Forms the system from precomputed moments (reuse across λ values).
    pub fn from_moments(moments: Moments, lambda: f64) -> Self {
        let shift = moments.weight_sum * lambda;
        Self::with_shift(moments, shift)
    }

    /// The system D·(XcᵀSXc + shift·I)·D from moments whose weights are not the problem's own
    /// (Newton's curvature weights, where the shift is still S·λ with the data's S).
    pub fn with_shift(moments: Moments, shift: f64) -> Self {
        let d = moments.xx.nrows();
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

    /// Refuses a system whose co-moments lost digits to underflow: a column with
    /// 0 < Σsᵢ(xᵢⱼ − x̄ⱼ)²/S < 2⁻¹⁰²² / ε (≈ 1e-292) had products of its centred entries below the
    /// smallest normal f64, where they keep fewer than 53 bits (features scaled by 1e-160: the
    /// Gram backends were off by 3e-5). The equilibration comes too late to help: it scales the
    /// rounded co-moments. `qr` and `svd` scale the design before any product and are unaffected.
    pub(crate) fn check_range(&self, solver: &str) -> crate::error::Result<()> {
        let m = &self.moments;
        let floor = f64::MIN_POSITIVE / f64::EPSILON;
        let tiny = (0..m.xx.nrows()).find(|&j| {
            let v = m.xx[(j, j)] / m.weight_sum;
            v > 0.0 && v < floor
        });
        match tiny {
            None => Ok(()),
            Some(j) => Err(crate::error::Error::Numerical {
                solver: solver.to_owned(),
                detail: format!(
                    "feature {j} is so small that the squares of its centred values underflow \
                     (mean square {:.1e}, below 1e-292), so the Gram matrix lost digits; rescale \
                     the features (e.g. standardise them), or use `auto` or `qr`, which factor \
                     X itself",
                    m.xx[(j, j)] / m.weight_sum
                ),
            }),
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
            self.moments.intercept(targets[c], w.col(c))
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

/// The power of two nearest to 1/‖c‖₂ for a column c, computed without squaring when ‖c‖² would
/// overflow or underflow (columns scaled by 1e±200): the same as `pow2_inverse_sqrt(‖c‖²)`
/// wherever that is finite and positive, and 1 for an all-zero column.
pub(crate) fn pow2_inverse_norm(c: ColRef<'_, f64>) -> f64 {
    let squared = c.squared_norm_l2();
    if squared > 0.0 && squared.is_finite() {
        return pow2_inverse_sqrt(squared);
    }
    let norm = crate::linalg::norm2(c);
    if norm > 0.0 && norm.is_finite() {
        (-norm.log2()).round().exp2()
    } else {
        1.0
    }
}

struct BlockView<'a> {
    x: MatRef<'a, f64>,
    y: MatRef<'a, f64>,
    s: Option<ColRef<'a, f64>>,
}

impl<'a> BlockView<'a> {
    fn rows(&self, start: usize, len: usize) -> BlockView<'a> {
        BlockView {
            x: self.x.subrows(start, len),
            y: self.y.subrows(start, len),
            s: self.s.map(|s| s.subrows(start, len)),
        }
    }
}

/// The buffers [`Moments::compute_in`] works in, kept between calls: one [`Scratch`] per task
/// of its tree. A stream computes the moments of a thousand blocks in turn; allocating and
/// zeroing two buffers of 2048 × (d + k) for each made a streamed `cholesky` from the page
/// cache 8 % slower (5 000 000 × 100: 1.92 against 1.77 s, medians of 7 alternating runs), so
/// src/stream.rs keeps one workspace for its whole pass. Dropping it frees them.
#[derive(Default)]
pub(crate) struct Workspace {
    scratch: Vec<Option<Scratch>>,
}

impl Workspace {
    /// At least `count` slots (empty ones are filled on first use), the first `count` of them.
    fn slots(&mut self, count: usize) -> &mut [Option<Scratch>] {
        if self.scratch.len() < count {
            self.scratch.resize_with(count, || None);
        }
        &mut self.scratch[..count]
    }
}

/// Per-thread buffers for one block: the centred, scaled copies of X and Y, the weights and their
/// square roots.
struct Scratch {
    x: Mat<f64>,
    y: Mat<f64>,
    w: Vec<f64>,
    root: Vec<f64>,
}

impl Scratch {
    fn new(rows: usize, d: usize, k: usize) -> Self {
        Self {
            x: Mat::zeros(rows, d),
            y: Mat::zeros(rows, k),
            w: vec![0.0; rows],
            root: vec![0.0; rows],
        }
    }

    /// The buffer in `slot` if it has room for `rows` rows of d features and k targets, else a
    /// new one put there.
    fn reuse(slot: &mut Option<Scratch>, rows: usize, d: usize, k: usize) -> &mut Scratch {
        let fits = |s: &Scratch| s.x.nrows() >= rows && s.x.ncols() == d && s.y.ncols() == k;
        if !slot.as_ref().is_some_and(fits) {
            *slot = None;
        }
        slot.get_or_insert_with(|| Scratch::new(rows, d, k))
    }
}

/// Column j of a view of an owned `Mat` as a slice.
fn column(m: faer::MatMut<'_, f64>, j: usize) -> &mut [f64] {
    // Row ranges of an owned `Mat` have unit row stride.
    m.col_mut(j)
        .try_as_col_major_mut()
        .expect("a column of an owned Mat is contiguous")
        .as_slice_mut()
}

/// Columns centred together: their sums are independent dependency chains, so the processor
/// overlaps them, while each column's own sum keeps the plain left-to-right order (an f64 running
/// sum alone is a chain of dependent adds, ≈ 4 cycles each, a quarter of an element per cycle).
/// The order matters: the direct backends' digits on the NIST Wampler problems move by up to two
/// when the means change by one ulp, so the means are summed exactly as before the fusion.
const GROUP: usize = 8;

/// Copies the columns of `src` into `dst` centred by their weighted means (returned in `means`,
/// with what their f64 rounding drops in `lows`; none when not `centred`) and scaled by √sᵢ.
/// `weights` holds (s, √s) for the block.
///
/// The mean is m₀ = Σsᵢxᵢ/S plus one correction pass Σsᵢ(xᵢ − m₀)/S, both summed row by row in
/// order. Columns are done [`GROUP`] at a time, reading X in place (a strided view is first
/// copied into `dst` and centred there).
fn centre_block(
    src: MatRef<'_, f64>,
    mut dst: faer::MatMut<'_, f64>,
    (means, lows): (&mut Col<f64>, &mut Col<f64>),
    weights: Option<(&[f64], &[f64])>,
    sb: f64,
    centred: bool,
) {
    let contiguous = src.row_stride() == 1;
    if !contiguous {
        dst.copy_from(src);
    }
    let ncols = src.ncols();
    let mut j0 = 0;
    while j0 < ncols {
        let g = GROUP.min(ncols - j0);
        let mut m = [0.0; GROUP];
        let mut lo = [0.0; GROUP];
        if centred {
            let cols: [&[f64]; GROUP] = std::array::from_fn(|c| {
                let j = j0 + c.min(g - 1);
                if contiguous {
                    src.col(j)
                        .try_as_col_major()
                        .expect("unit row stride")
                        .as_slice()
                } else {
                    column_ref(dst.rb(), j)
                }
            });
            let w = weights.map(|(w, _)| w);
            let m0 = group_sums(&cols, w, [0.0; GROUP]).map(|a| a / sb);
            let corr = group_sums(&cols, w, m0);
            // The mean is m0 + corr/S; TwoSum keeps what its f64 rounding drops, for free.
            for c in 0..GROUP {
                (m[c], lo[c]) = two_sum(m0[c], corr[c] / sb);
            }
        }
        for (c, &mc) in m.iter().enumerate().take(g) {
            let j = j0 + c;
            means[j] = mc;
            lows[j] = lo[c];
            if contiguous {
                let v = src
                    .col(j)
                    .try_as_col_major()
                    .expect("unit row stride")
                    .as_slice();
                let o = column(dst.rb_mut(), j);
                match weights {
                    None => o.iter_mut().zip(v).for_each(|(o, v)| *o = v - mc),
                    Some((_, root)) => o
                        .iter_mut()
                        .zip(v)
                        .zip(root)
                        .for_each(|((o, v), r)| *o = r * (v - mc)),
                }
            } else {
                let o = column(dst.rb_mut(), j);
                match weights {
                    None => o.iter_mut().for_each(|o| *o -= mc),
                    Some((_, root)) => o.iter_mut().zip(root).for_each(|(o, r)| *o = r * (*o - mc)),
                }
            }
        }
        j0 += g;
    }
}

/// Σᵢ wᵢ·(colᵢ − shift) for each of [`GROUP`] columns (wᵢ = 1 without weights), each in row order.
// Indexing by row keeps the GROUP chains in lockstep, one add of each per row.
#[allow(clippy::needless_range_loop)]
fn group_sums(cols: &[&[f64]; GROUP], w: Option<&[f64]>, shift: [f64; GROUP]) -> [f64; GROUP] {
    let len = cols[0].len();
    let cols: [&[f64]; GROUP] = std::array::from_fn(|c| &cols[c][..len]);
    let mut acc = [0.0f64; GROUP];
    match w {
        None => {
            for i in 0..len {
                for c in 0..GROUP {
                    acc[c] += cols[c][i] - shift[c];
                }
            }
        }
        Some(w) => {
            for (i, s) in w[..len].iter().enumerate() {
                for c in 0..GROUP {
                    acc[c] += s * (cols[c][i] - shift[c]);
                }
            }
        }
    }
    acc
}

/// Column j of a view of an owned `Mat` as a slice.
fn column_ref(m: MatRef<'_, f64>, j: usize) -> &[f64] {
    // Row ranges of an owned `Mat` have unit row stride.
    m.col(j)
        .try_as_col_major()
        .expect("a column of an owned Mat is contiguous")
        .as_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_chunks_on_threads_match_one_thread() {
        // Bit-for-bit the same for every thread count: several blocks with a partial last one,
        // weights and an offset so centring matters; with and without centring and weights; a
        // single block (parallel products) and a strided (transposed) X.
        let one = std::num::NonZeroUsize::new(1).expect("1 > 0");
        for (n, d) in [
            (5 * BLOCK_ROWS + 517, 7),
            (BLOCK_ROWS - 3, 301),
            (3 * BLOCK_ROWS, 64),
        ] {
            let x = Mat::from_fn(n, d, |i, j| 100.0 + ((i * (j + 3)) % 97) as f64 * 0.01);
            let xt = x.transpose().to_owned();
            let y = Mat::from_fn(n, 2, |i, t| ((i * (t + 5)) % 13) as f64 - 6.0);
            let s = Col::from_fn(n, |i| 0.5 + (i % 3) as f64);
            for (centred, w) in [
                (true, Some(s.as_ref())),
                (true, None),
                (false, Some(s.as_ref())),
            ] {
                let seq = Moments::compute(x.as_ref(), y.as_ref(), w, centred, Par::Seq);
                for t in 1..=4 {
                    let par = Par::Rayon(one.saturating_add(t - 1));
                    let p = Moments::compute(x.as_ref(), y.as_ref(), w, centred, par);
                    let strided = Moments::compute(xt.transpose(), y.as_ref(), w, centred, par);
                    for m in [&p, &strided] {
                        let what = format!("{n} x {d}, {t} threads, centred {centred}");
                        assert_eq!(m.weight_sum, seq.weight_sum, "{what}");
                        assert_eq!(m.xx_symmetric(), seq.xx_symmetric(), "{what}");
                        assert_eq!(m.xy, seq.xy, "{what}");
                        assert_eq!(m.yy, seq.yy, "{what}");
                        assert_eq!(m.x_mean, seq.x_mean, "{what}");
                        assert_eq!(m.y_mean, seq.y_mean, "{what}");
                    }
                }
            }
        }
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
