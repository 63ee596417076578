//! The λ-free work on a design (X, the weights s, whether it is centred), done once and shared by
//! every problem on the same design: each λ of a path, each target of a multi-target fit.
//!
//! - `SampleRows`: the shuffled, centred, sample-major copy that stochastic methods read one
//!   row at a time (n × d, the largest thing any iterative backend builds);
//! - the top eigenvalue of XcᵀSXc/S (the smoothness without λ, 15–30 passes of the Lanczos method);
//! - the column norms ‖S^½·xcⱼ‖²/S (Jacobi preconditioning, coordinate descent);
//! - the centred moments (X, y) of a target ([`crate::moments::Moments`]), shared by `with_lambda`.
//!
//! A [`Design`] holds its cache behind an `Arc`; every problem on it (each λ of
//! [`crate::problem::RidgeProblem::with_lambda`], each target of a multi-target fit, each loss)
//! shares it, so a path over 100 λ computes each of these once.

use std::sync::OnceLock;

use std::sync::Arc;

use faer::{Col, ColRef, MatRef, Par};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;

/// A validated design: X (n × d, borrowed), optional weights s, whether the model is centred (an
/// intercept), the parallelism of its kernels, S = Σ sᵢ and the weighted means x̄ — and the
/// cache of λ-free work on it. Cloning is cheap (the cache is shared).
#[derive(Debug, Clone)]
pub struct Design<'a> {
    x: MatRef<'a, f64>,
    weights: Option<ColRef<'a, f64>>,
    intercept: bool,
    par: Par,
    weight_sum: f64,
    x_mean: Arc<Col<f64>>,
    x_mean_lo: Arc<Col<f64>>,
    cache: Arc<DesignCache>,
}

impl<'a> Design<'a> {
    /// A design from validated parts (the problem builders check them): x̄ is the weighted column
    /// mean, or zero without an intercept; S = Σ sᵢ > 0.
    pub(crate) fn from_validated(
        x: MatRef<'a, f64>,
        weights: Option<ColRef<'a, f64>>,
        intercept: bool,
        par: Par,
        weight_sum: f64,
        x_mean: Col<f64>,
        x_mean_lo: Col<f64>,
    ) -> Self {
        Self {
            x,
            weights,
            intercept,
            par,
            weight_sum,
            x_mean: Arc::new(x_mean),
            x_mean_lo: Arc::new(x_mean_lo),
            cache: Arc::default(),
        }
    }

    /// X (n × d), as given (not centred).
    pub fn x(&self) -> MatRef<'a, f64> {
        self.x
    }
    /// The sample weights s, if any (`None` means all ones).
    pub fn weights(&self) -> Option<ColRef<'a, f64>> {
        self.weights
    }
    /// Whether the model has an (unpenalised) intercept, i.e. the design is centred.
    pub fn fit_intercept(&self) -> bool {
        self.intercept
    }
    /// The parallelism of the dense kernels.
    pub fn par(&self) -> Par {
        self.par
    }
    /// n.
    pub fn n_samples(&self) -> usize {
        self.x.nrows()
    }
    /// d.
    pub fn n_features(&self) -> usize {
        self.x.ncols()
    }
    /// S = Σ sᵢ (n without weights).
    pub fn weight_sum(&self) -> f64 {
        self.weight_sum
    }
    /// sᵢ (1 without weights).
    #[inline]
    pub fn weight(&self, i: usize) -> f64 {
        self.weights.map_or(1.0, |s| s[i])
    }
    /// x̄ = Σ sᵢxᵢ/S, or zero without an intercept.
    pub fn x_mean(&self) -> ColRef<'_, f64> {
        self.x_mean.as_ref().as_ref()
    }
    /// What x̄'s f64 rounding drops: the weighted mean is `x_mean() + x_mean_low()` to about ε²
    /// relative. Centring by x̄ alone leaves a residual mean of up to ulp(x̄)/2 in each column,
    /// which matters when the mean is large against the spread (timestamps: X + 1e15).
    pub fn x_mean_low(&self) -> ColRef<'_, f64> {
        self.x_mean_lo.as_ref().as_ref()
    }
    /// The sample-major copy of the design (with a trailing 1 per row when `with_one`), built
    /// once per design.
    pub(crate) fn rows(&self, with_one: bool) -> &SampleRows {
        let cell = if with_one {
            &self.cache.rows_with_one
        } else {
            &self.cache.rows
        };
        cell.get_or_init(|| SampleRows::new(self, with_one))
    }

    /// The λ-free cache of this design.
    pub(crate) fn cache(&self) -> &DesignCache {
        &self.cache
    }
}

/// The λ-free, target-free work on a design. Every entry is computed on first use.
#[derive(Debug, Default)]
pub(crate) struct DesignCache {
    rows: OnceLock<SampleRows>,
    rows_with_one: OnceLock<SampleRows>,
    /// σ_max(S^½·Xc)²/S, when a Lanczos iteration ran to completion: over X as given, and over
    /// the sample-major copy (kept apart, as the two round differently).
    top_eigenvalue: [OnceLock<f64>; 2],
    column_norms: OnceLock<Col<f64>>,
}

impl DesignCache {
    /// σ_max(S^½·Xc)²/S if a completed estimate is cached, computed over the sample-major copy
    /// when `copy`, over X as given otherwise.
    pub fn top_eigenvalue(&self, copy: bool) -> Option<f64> {
        self.top_eigenvalue[usize::from(copy)].get().copied()
    }

    /// Caches a completed estimate of σ_max(S^½·Xc)²/S (the first one stays), computed over the
    /// sample-major copy when `copy`.
    pub fn set_top_eigenvalue(&self, copy: bool, value: f64) {
        let _ = self.top_eigenvalue[usize::from(copy)].set(value);
    }

    /// ‖S^½·xcⱼ‖²/S for every column, computed by `compute` once.
    pub fn column_norms(&self, compute: impl FnOnce() -> Col<f64>) -> &Col<f64> {
        self.column_norms.get_or_init(compute)
    }
}

/// Centred samples stored contiguously in a shuffled order: sample k is data row r = `order[k]`
/// (entries k·p .. (k + 1)·p of `xc` are x_r − x̄, and 1 when the stride p is d + 1; entry k of
/// `factor` is n·s_r/S).
#[derive(Debug)]
pub(crate) struct SampleRows {
    xc: Vec<f64>,
    stride: usize,
    /// n·s_r/S, so that the mean over k of the weighted per-sample loss is the weighted loss.
    pub factor: Vec<f64>,
    /// The data row of each sample.
    pub order: Vec<usize>,
    /// maxₖ factorₖ·‖x̃ₖ‖² (the trailing 1 included).
    pub max_smoothness: f64,
}

/// The seed of the storage order: fixed, so the same data give the same layout (and a seeded
/// method the same result) on every run and platform.
const STORAGE_SEED: u64 = 0x5a3b_1e5e;

/// Values per tile of the transposing copy (24 KiB): the tile is transposed in a buffer that stays
/// in L1, so X is read in contiguous runs of each column and the copy is written in whole
/// contiguous rows, never one value per cache line.
const TILE_VALUES: usize = 3072;

/// Data rows per tile for d features: the tile fills [`TILE_VALUES`], with 8 to 64 rows.
fn tile_rows(d: usize) -> usize {
    (TILE_VALUES / d).clamp(8, 64)
}

impl SampleRows {
    /// The shuffled, centred, sample-major copy of the problem's design, with a trailing 1 per
    /// row when `with_one` (the column of a free intercept), and L_max.
    ///
    /// One pass over X, in tiles of [`tile_rows`] consecutive data rows: each tile reads its run
    /// of every column of X into a row-major buffer (centred), computes the smoothness constants
    /// n·sᵢ/S·‖x̃ᵢ‖² of its rows there, and copies each row whole to its sample's place. Tiles run in parallel under the problem's [`faer::Par`]; each writes only its own
    /// rows, and the maximum is exact, so the result does not depend on the thread count.
    fn new(p: &Design<'_>, with_one: bool) -> Self {
        let (n, d) = (p.n_samples(), p.n_features());
        let stride = d + usize::from(with_one);
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(STORAGE_SEED));
        let factor_of = |i: usize| n as f64 * p.weight(i) / p.weight_sum();
        // A zeroed allocation comes from pages the OS zeroes on first touch, so this is not an
        // extra pass of writes before the copy.
        let mut data = vec![0.0; n * stride];
        advise_huge_pages(&mut data);
        // The destination row of every data row, indexed by data row (sample k holds row
        // order[k]); `order` is a permutation, so every slot is filled exactly once.
        let mut slots: Vec<Option<&mut [f64]>> = (0..n).map(|_| None).collect();
        for (&i, row) in order.iter().zip(data.chunks_exact_mut(stride)) {
            slots[i] = Some(row);
        }
        let mut by_row: Vec<&mut [f64]> = slots.into_iter().flatten().collect();
        let tile_rows = tile_rows(d);
        let buffer = || vec![0.0; tile_rows * d];
        let tile = |buffer: &mut Vec<f64>, (t, rows): (usize, &mut [&mut [f64]])| {
            let start = t * tile_rows;
            let tile = &mut buffer[..rows.len() * d];
            transpose_centred(p, start, tile);
            tile.chunks_exact(d)
                .zip(rows)
                .enumerate()
                .map(|(r, (x, row))| {
                    row[..d].copy_from_slice(x);
                    let mut norm = ColRef::from_slice(x).squared_norm_l2();
                    if with_one {
                        row[d] = 1.0;
                        norm += 1.0;
                    }
                    factor_of(start + r) * norm
                })
                .fold(0.0, f64::max)
        };
        let max_smoothness = match p.par() {
            Par::Seq => {
                let mut b = buffer();
                by_row
                    .chunks_mut(tile_rows)
                    .enumerate()
                    .map(|t| tile(&mut b, t))
                    .fold(0.0, f64::max)
            }
            Par::Rayon(_) => by_row
                .par_chunks_mut(tile_rows)
                .enumerate()
                .map_init(buffer, tile)
                .reduce(|| 0.0, f64::max),
        };
        drop(by_row);
        Self {
            xc: data,
            factor: order.iter().map(|&i| factor_of(i)).collect(),
            order,
            stride,
            max_smoothness,
        }
    }

    /// Sample k, x̃ₖ = x_r − x̄ (and 1) with r = order[k].
    #[inline]
    pub fn row(&self, k: usize) -> &[f64] {
        &self.xc[k * self.stride..(k + 1) * self.stride]
    }

    /// Values per sample: d, or d + 1 with the trailing 1.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// n.
    pub fn n_samples(&self) -> usize {
        self.order.len()
    }
}

/// Asks Linux to back `data` (a fresh allocation, not yet touched) with 2 MiB transparent huge
/// pages where it can. Touching 80 MB of fresh 4 KiB pages costs about 20 000 page faults, which
/// measured (n = 100 000, d = 100) as most of the time of the copy; with huge pages it is a few
/// dozen. A hint only: it changes no contents, and an error (another OS, a kernel without
/// transparent huge pages, THP set to `never`) leaves the ordinary pages.
fn advise_huge_pages(data: &mut [f64]) {
    #[cfg(target_os = "linux")]
    {
        unsafe extern "C" {
            fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
        }
        /// MADV_HUGEPAGE in <linux/mman.h> (the same on every architecture).
        const MADV_HUGEPAGE: i32 = 14;
        const PAGE: usize = 4096;
        let (start, end) = (
            data.as_mut_ptr() as usize,
            data.as_mut_ptr() as usize + size_of_val(data),
        );
        let (first, last) = (start.next_multiple_of(PAGE), end / PAGE * PAGE);
        if last > first {
            // SAFETY: [first, last) is page-aligned and inside `data`, which we borrow mutably;
            // MADV_HUGEPAGE only changes how the kernel backs the range, never its contents.
            unsafe { madvise(first as *mut std::ffi::c_void, last - first, MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = data;
}

/// tile[r·d + j] ← x_{start+r, j} − x̄ⱼ for the tile.len()/d data rows from `start` (row-major),
/// reading X column by column.
///
/// A tile reads d short runs, one per column, each in its own page: too many streams for the
/// hardware prefetcher to follow, so each run also prefetches the same column's run of the next
/// tile, which is read one tile's worth of work later.
fn transpose_centred(p: &Design<'_>, start: usize, tile: &mut [f64]) {
    let (n, d) = (p.n_samples(), p.n_features());
    let rows = tile.len() / d;
    let next = (start + rows).min(n)..(start + 2 * rows).min(n);
    for (j, &m) in p.x_mean().iter().enumerate() {
        let column = p.x().col(j);
        let out = tile[j..].iter_mut().step_by(d);
        match column.try_as_col_major() {
            Some(c) => {
                let c = c.as_slice();
                prefetch(&c[next.clone()]);
                out.zip(&c[start..start + rows])
                    .for_each(|(t, x)| *t = x - m);
            }
            None => out
                .zip(column.subrows(start, rows).iter())
                .for_each(|(t, x)| *t = x - m),
        }
    }
}

/// Asks the CPU to load every cache line of `data` into cache (a hint: no effect on results,
/// and a no-op off x86-64).
pub(crate) fn prefetch(data: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // One address per 64-byte line (8 values), and the last value, whose line the stride
        // misses when the slice does not start on a line boundary.
        let last = data.len().saturating_sub(1);
        for k in (0..data.len())
            .step_by(8)
            .chain((!data.is_empty()).then_some(last))
        {
            // SAFETY: SSE is part of the x86-64 baseline, and a prefetch never faults (the
            // address is in bounds anyway).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(data[k..].as_ptr().cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = data;
}

#[cfg(test)]
mod tests {
    use crate::problem::RidgeProblem;
    use crate::solvers::{GradientDescent, Sag, Solver, testing};

    #[test]
    fn a_path_over_lambda_pays_for_the_lambda_free_work_once() {
        let (x, y) = testing::small();
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(1e-2)
            .build()
            .unwrap();
        let first = GradientDescent::default().solve(&p).unwrap();
        // The first solve pays the Lanczos iteration for L on top of one pass per iteration and
        // the first gradient; the next λ on the same design reuses the top eigenvalue.
        assert!(first.passes > first.iterations as f64 + 1.0);
        let next = GradientDescent::default()
            .solve(&p.with_lambda(1e-1).unwrap())
            .unwrap();
        assert_eq!(next.passes, next.iterations as f64 + 1.0);
        // The sample-major copy is built once per design, whatever λ.
        let q = p.with_lambda(0.5).unwrap();
        Sag::default().solve(&q).unwrap();
        let copy = p.design().rows(false) as *const _;
        assert_eq!(copy, q.design().rows(false) as *const _);
        // Another design gets its own cache.
        let other = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(1e-2)
            .build()
            .unwrap();
        assert!(other.design().cache().top_eigenvalue(false).is_none());
    }
}
