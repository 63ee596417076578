//! Throughput of the shared Gram routine [`Moments::compute`] (README, "Benchmarks").
//!
//! Run: `cargo bench --bench gram` (everything, a few minutes on 2 cores), or with a filter, e.g.
//! `cargo bench --bench gram -- side_by_side` (only the interleaved comparison, see below) or
//! `cargo bench --bench gram -- gram/compute`.
//!
//! # Flop counts
//!
//! - Gram routine (one triangle, diagonal included): `n·d·(d+1)` flops — d(d+1)/2 entries of
//!   XcᵀXc, each an n-term dot product of 2n flops. The O(n·d) centring, the d-vector Xcᵀyc and
//!   the O((n/B)·d²) block merges are *not* counted, so the rate is slightly pessimistic.
//! - Dense reference GEMM C = AᵀA (full d × d): `2·n·d²` flops.
//!
//! Criterion's `Throughput::Elements` is set to these counts, so its "elem/s" column reads as
//! FLOP/s directly.
//!
//! # Side-by-side comparison
//!
//! Because the machine is shared and noisy, the headline ratio "Gram rate / dense GEMM rate" is
//! measured by *interleaving* the candidates in one loop on the same 100 000 × 500 matrix
//! (group `side_by_side`, printed to stdout as medians, GFLOP/s and % of GEMM), not by dividing
//! two criterion results taken minutes apart. Candidates: faer's dense GEMM XᵀX with
//! `Par::rayon(2)` (the reference) and with `Par::Seq`, `Moments::compute`, the routine as it was
//! before the fused centring (row chunks per thread, each block copied, then two passes for the
//! means and one to subtract them; a copy in this file), faer's lower-triangular product on the
//! whole X, and the library routine run on the two row halves on one thread each and merged.
//!
//! Environment: `GRAM_REPS` (interleaved rounds, default 7); `GRAM_SIZES` (default `100000x500`,
//! e.g. `100000x500,100000x100,1000x500`); `GRAM_VARIANTS=1` adds experimental variants of the
//! routine copied into this file (block size, centring pass, merge), checked against the library
//! to 1e-10, to locate where time goes without editing `src/`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Col, Mat, MatMut, MatRef, Par};
use tikhonov::data::gaussian;
use tikhonov::moments::Moments;

mod common;

const NS: [usize; 3] = [1_000, 10_000, 100_000];
const DS: [usize; 3] = [10, 100, 500];

fn gram_flops(n: usize, d: usize) -> f64 {
    (n * d * (d + 1)) as f64
}

fn gemm_flops(n: usize, d: usize) -> f64 {
    2.0 * (n * d * d) as f64
}

fn data(n: usize, d: usize) -> (Mat<f64>, Col<f64>) {
    // Offset columns, so centring does real work; values do not matter for speed.
    let mut x = gaussian(n, d, 1);
    for j in 0..d {
        for v in x.col_as_slice_mut(j) {
            *v += 3.0;
        }
    }
    let y = Col::from_fn(n, |i| x[(i, 0)] - 0.5 * x[(i, d - 1)]);
    (x, y)
}

// ---------------------------------------------------------------------------------------------
// Criterion grid: the library routine on every size, and the dense GEMM reference.
// ---------------------------------------------------------------------------------------------

fn bench_grid(c: &mut Criterion) {
    let par = Par::rayon(2);
    let mut group = c.benchmark_group("gram/compute");
    group.sampling_mode(SamplingMode::Flat);
    for &n in &NS {
        for &d in &DS {
            let (x, y) = data(n, d);
            let work = n * d * d;
            if work >= 1_000_000_000 {
                // 100 000 × 500: ~0.5 s per call.
                group.sample_size(10);
                group.measurement_time(Duration::from_secs(8));
                group.warm_up_time(Duration::from_secs(1));
            } else if work >= 100_000_000 {
                group.sample_size(10);
                group.measurement_time(Duration::from_secs(3));
                group.warm_up_time(Duration::from_millis(500));
            } else {
                group.sample_size(30);
                group.measurement_time(Duration::from_secs(2));
                group.warm_up_time(Duration::from_millis(500));
            }
            group.throughput(Throughput::Elements(gram_flops(n, d) as u64));
            group.bench_with_input(
                BenchmarkId::from_parameter(format!("{n}x{d}")),
                &(),
                |b, _| {
                    b.iter(|| {
                        black_box(Moments::compute(
                            black_box(x.as_ref()),
                            y.as_mat(),
                            None,
                            true,
                            par,
                        ))
                    })
                },
            );
        }
    }
    group.finish();

    let mut group = c.benchmark_group("gram/gemm_ata_reference");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.warm_up_time(Duration::from_secs(1));
    let (n, d) = (100_000, 500);
    let (x, _) = data(n, d);
    let mut out = Mat::<f64>::zeros(d, d);
    group.throughput(Throughput::Elements(gemm_flops(n, d) as u64));
    group.bench_function(BenchmarkId::from_parameter(format!("{n}x{d}")), |b| {
        b.iter(|| {
            matmul(
                out.as_mut(),
                Accum::Replace,
                x.as_ref().transpose(),
                x.as_ref(),
                1.0,
                par,
            );
            black_box(&out);
        })
    });
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// Experimental copy of `Moments::compute` (src/moments.rs), unweighted and centred only, with the
// block size and the merge as parameters. Used to find where the time goes; not a library API.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Merge {
    /// As in src/moments.rs: a fresh d × d matrix per block (allocation, zero-fill), the block
    /// product with `Accum::Replace` into it, then an indexed (bounds-checked) merge loop.
    AsLibrary,
    /// Reused d × d scratch, and the merge done column by column on slices.
    Scratch,
}

#[derive(Clone, Copy, Debug)]
enum Prep {
    /// As in src/moments.rs: copy the block (rows × d), two passes over the buffer for the
    /// means, one more to subtract them: four sweeps of a rows·d·8-byte buffer (16 MB read +
    /// write traffic per 2048 × 500 block, beyond the 1 MB L2).
    AsLibrary,
    /// One sweep per column: mean, correction and centred write of one column slice
    /// (rows·8 bytes, in L1) before moving to the next column. Same values, bit for bit.
    Fused,
    /// As `Fused`, on slices, with the two sums (mean, then the correction Σ(x − m₀)) each
    /// split over 8 independent accumulators ([`common::stream::sum`]): an f64 running sum is a
    /// chain of dependent adds (≈ 4 cycles each), so the plain sums of `Fused` and of the
    /// library run at a quarter element per cycle. Same mean up to rounding.
    FusedFast,
    /// Means of the whole block first (two multi-accumulator sums per column, X read in place),
    /// then the block in sub-blocks of this many rows: each centred into an L2-sized buffer and
    /// accumulated into the block's triangle (`Accum::Add`) while the buffer is in L2.
    SubBlocks(usize),
    /// One sweep per column: centred by a shift c (the mean of the column's first `usize` rows),
    /// summing Σ(x − c) and Σ(x − c)² on the way; the product's Σ(x − c)(x − c)ᵀ is then
    /// corrected by S·e·eᵀ, e = Σ(x − c)/S (the shifted-data algorithm). A column whose
    /// offset fails S·e² ≤ τ·σ²·S is redone with the two-pass mean. A third of the library's
    /// sweeps, yet measured at 74.3–74.4 % of GEMM against the library's 73.6 % (7 rounds): what
    /// the copy costs is its memory traffic (X read by this sweep, the copy written and read
    /// again by the product), not the arithmetic of the centring.
    Shifted(usize),
    /// No copy and no centring: the raw blocked product on views of X, accumulated with
    /// `Accum::Add` and no merge (a lower bound on what blocking costs; not a valid Gram of
    /// centred data).
    Raw,
}

#[derive(Clone, Copy, Debug)]
struct Variant {
    block_rows: usize,
    merge: Merge,
    prep: Prep,
}

struct Stats {
    s: f64,
    xm: Col<f64>,
    ym: Col<f64>,
    xx: Mat<f64>,
    xy: Mat<f64>,
}

impl Stats {
    fn zeros(d: usize, k: usize) -> Self {
        Stats {
            s: 0.0,
            xm: Col::zeros(d),
            ym: Col::zeros(k),
            xx: Mat::zeros(d, d),
            xy: Mat::zeros(d, k),
        }
    }

    /// Chan–Golub–LeVeque merge of (sb, xm, ym, bxx, bxy) into self, on slices.
    fn merge_parts(
        &mut self,
        sb: f64,
        xm: &Col<f64>,
        ym: &Col<f64>,
        bxx: &Mat<f64>,
        bxy: &Mat<f64>,
        how: Merge,
    ) {
        let (d, k) = (bxx.nrows(), bxy.ncols());
        let (sa, s) = (self.s, self.s + sb);
        let c = sa * sb / s;
        let dx = xm - &self.xm;
        let dy = ym - &self.ym;
        match how {
            Merge::AsLibrary => {
                for j in 0..d {
                    for i in j..d {
                        self.xx[(i, j)] += bxx[(i, j)] + c * dx[i] * dx[j];
                    }
                    for t in 0..k {
                        self.xy[(j, t)] += bxy[(j, t)] + c * dx[j] * dy[t];
                    }
                }
            }
            Merge::Scratch => {
                let dxs: Vec<f64> = dx.iter().copied().collect();
                for j in 0..d {
                    let cj = c * dxs[j];
                    let dst = &mut self.xx.col_as_slice_mut(j)[j..];
                    let src = &bxx.col_as_slice(j)[j..];
                    for ((o, b), di) in dst.iter_mut().zip(src).zip(&dxs[j..]) {
                        *o += b + cj * di;
                    }
                    for t in 0..k {
                        self.xy[(j, t)] += bxy[(j, t)] + cj * dy[t];
                    }
                }
            }
        }
        self.xm += dx * faer::Scale(sb / s);
        self.ym += dy * faer::Scale(sb / s);
        self.s = s;
    }
}

/// Copies the block `src` into `dst` centred by its own column means (returned), one column at a
/// time so each column slice is read from memory once and then served from L1.
fn copy_centred(mut dst: MatMut<'_, f64>, src: MatRef<'_, f64>) -> Col<f64> {
    let len = src.nrows() as f64;
    Col::from_fn(src.ncols(), |j| {
        let c = src.col(j);
        let m0 = c.iter().sum::<f64>() / len;
        let m = m0 + c.iter().map(|v| v - m0).sum::<f64>() / len;
        for (o, v) in dst.rb_mut().col_mut(j).iter_mut().zip(c.iter()) {
            *o = v - m;
        }
        m
    })
}

/// The mean of `c` as m₀ = Σc/len plus the correction Σ(c − m₀)/len, both with
/// multi-accumulator sums; `dev` (at least `c.len()` long) holds c − m₀.
fn two_pass_mean(c: &[f64], dev: &mut [f64]) -> f64 {
    let len = c.len() as f64;
    let m0 = common::stream::sum(c) / len;
    for (o, v) in dev.iter_mut().zip(c) {
        *o = v - m0;
    }
    m0 + common::stream::sum(&dev[..c.len()]) / len
}

/// Column j of `src` and of `dst` as slices. X and the buffer are column-major with unit row
/// stride (faer `Mat`, `subrows`).
fn column_pair<'a>(
    src: MatRef<'a, f64>,
    dst: MatMut<'a, f64>,
    j: usize,
) -> (&'a [f64], &'a mut [f64]) {
    let c = src.col(j).try_as_col_major().expect("unit row stride");
    let out = dst
        .col_mut(j)
        .try_as_col_major_mut()
        .expect("unit row stride");
    (c.as_slice(), out.as_slice_mut())
}

/// [`copy_centred`] on column slices with multi-accumulator sums (`Prep::FusedFast`).
fn copy_centred_fast(mut dst: MatMut<'_, f64>, src: MatRef<'_, f64>) -> Col<f64> {
    let mut dev = vec![0.0; src.nrows()];
    Col::from_fn(src.ncols(), |j| {
        let (c, out) = column_pair(src, dst.rb_mut(), j);
        let m = two_pass_mean(c, &mut dev);
        for (o, v) in out.iter_mut().zip(c) {
            *o = v - m;
        }
        m
    })
}

/// `Prep::Shifted` keeps a column's shift when the offset e left by it has e² ≤ τ·σ², which
/// bounds the product's rounding by (1 + τ) times that of exactly centred data.
const SHIFT_TAU: f64 = 1.0 / 16.0;

/// `Prep::Shifted`: copies `src` into `dst` centred by per-column shifts; returns (mean, offset
/// e = mean − centring value).
fn copy_shifted(
    mut dst: MatMut<'_, f64>,
    src: MatRef<'_, f64>,
    shift_rows: usize,
) -> (Col<f64>, Col<f64>) {
    let len = src.nrows();
    let sb = len as f64;
    let head = shift_rows.min(len);
    let mut mean = Col::zeros(src.ncols());
    let mut off = Col::zeros(src.ncols());
    let mut dev = vec![0.0; len];
    for j in 0..src.ncols() {
        let (c, out) = column_pair(src, dst.rb_mut(), j);
        let shift = common::stream::sum(&c[..head]) / head as f64;
        let mut a1 = [0.0f64; 8];
        let mut a2 = [0.0f64; 8];
        let mut oc = out.chunks_exact_mut(8);
        let mut cc = c.chunks_exact(8);
        for (o, v) in (&mut oc).zip(&mut cc) {
            for q in 0..8 {
                let t = v[q] - shift;
                o[q] = t;
                a1[q] += t;
                a2[q] += t * t;
            }
        }
        let (mut r1, mut r2) = (0.0, 0.0);
        for (o, v) in oc.into_remainder().iter_mut().zip(cc.remainder()) {
            let t = v - shift;
            *o = t;
            r1 += t;
            r2 += t * t;
        }
        let s1 = a1.iter().sum::<f64>() + r1;
        let s2 = a2.iter().sum::<f64>() + r2;
        let e = s1 / sb;
        if (1.0 + SHIFT_TAU) * sb * e * e <= SHIFT_TAU * s2 {
            mean[j] = shift + e;
            off[j] = e;
        } else {
            let m = two_pass_mean(c, &mut dev);
            for (o, v) in out.iter_mut().zip(c) {
                *o = v - m;
            }
            mean[j] = m;
            off[j] = 0.0;
        }
    }
    (mean, off)
}

fn compute_variant(x: MatRef<'_, f64>, y: MatRef<'_, f64>, v: Variant, par: Par) -> Stats {
    let (n, d, k) = (x.nrows(), x.ncols(), y.ncols());
    let mut total = Stats::zeros(d, k);
    let rows = v.block_rows.min(n.max(1));
    let mut xb = Mat::<f64>::zeros(rows, d);
    let mut yb = Mat::<f64>::zeros(rows, k);
    let mut pxx = Mat::<f64>::zeros(d, d);
    let mut pxy = Mat::<f64>::zeros(d, k);
    let mut start = 0;
    while start < n {
        let len = rows.min(n - start);
        let (xs, ys) = (x.subrows(start, len), y.subrows(start, len));
        if let Prep::Raw = v.prep {
            let accum = if start == 0 {
                Accum::Replace
            } else {
                Accum::Add
            };
            triangular::matmul(
                total.xx.as_mut(),
                BlockStructure::TriangularLower,
                accum,
                xs.transpose(),
                BlockStructure::Rectangular,
                xs,
                BlockStructure::Rectangular,
                1.0,
                par,
            );
            matmul(total.xy.as_mut(), accum, xs.transpose(), ys, 1.0, par);
            total.s += len as f64;
            start += len;
            continue;
        }
        if let Prep::SubBlocks(sub) = v.prep {
            let sb = len as f64;
            let means = |m: MatRef<'_, f64>| {
                let mut dev = vec![0.0; len];
                Col::from_fn(m.ncols(), |j| {
                    let c = m
                        .col(j)
                        .try_as_col_major()
                        .expect("unit row stride")
                        .as_slice();
                    two_pass_mean(c, &mut dev)
                })
            };
            let (xm, ym) = (means(xs), means(ys));
            let (mut bxx, mut bxy) = (
                std::mem::replace(&mut pxx, Mat::new()),
                std::mem::replace(&mut pxy, Mat::new()),
            );
            let mut at = 0;
            while at < len {
                let m = sub.min(len - at);
                let mut xsb = xb.as_mut().subrows_mut(0, m);
                let mut ysb = yb.as_mut().subrows_mut(0, m);
                for j in 0..d {
                    let c = xs.col(j).subrows(at, m);
                    for (o, v) in xsb.rb_mut().col_mut(j).iter_mut().zip(c.iter()) {
                        *o = v - xm[j];
                    }
                }
                for t in 0..k {
                    let c = ys.col(t).subrows(at, m);
                    for (o, v) in ysb.rb_mut().col_mut(t).iter_mut().zip(c.iter()) {
                        *o = v - ym[t];
                    }
                }
                let accum = if at == 0 { Accum::Replace } else { Accum::Add };
                triangular::matmul(
                    bxx.as_mut(),
                    BlockStructure::TriangularLower,
                    accum,
                    xsb.rb().transpose(),
                    BlockStructure::Rectangular,
                    xsb.rb(),
                    BlockStructure::Rectangular,
                    1.0,
                    par,
                );
                matmul(
                    bxy.as_mut(),
                    accum,
                    xsb.rb().transpose(),
                    ysb.rb(),
                    1.0,
                    par,
                );
                at += m;
            }
            total.merge_parts(sb, &xm, &ym, &bxx, &bxy, Merge::Scratch);
            pxx = bxx;
            pxy = bxy;
            start += len;
            continue;
        }
        let mut xb = xb.as_mut().subrows_mut(0, len);
        let mut yb = yb.as_mut().subrows_mut(0, len);
        let sb = len as f64;
        let mut shifted_offsets = None;
        let (xm, ym) = match v.prep {
            Prep::AsLibrary => {
                xb.copy_from(xs);
                yb.copy_from(ys);
                let xm = col_means(xb.rb(), sb);
                let ym = col_means(yb.rb(), sb);
                for (j, m) in xm.iter().enumerate() {
                    xb.rb_mut().col_mut(j).iter_mut().for_each(|v| *v -= m);
                }
                for (t, m) in ym.iter().enumerate() {
                    yb.rb_mut().col_mut(t).iter_mut().for_each(|v| *v -= m);
                }
                (xm, ym)
            }
            Prep::FusedFast => (
                copy_centred_fast(xb.rb_mut(), xs),
                copy_centred_fast(yb.rb_mut(), ys),
            ),
            Prep::Shifted(h) => {
                let (xm, xo) = copy_shifted(xb.rb_mut(), xs, h);
                let (ym, yo) = copy_shifted(yb.rb_mut(), ys, h);
                shifted_offsets = Some((xo, yo));
                (xm, ym)
            }
            _ => (copy_centred(xb.rb_mut(), xs), copy_centred(yb.rb_mut(), ys)),
        };
        let (mut bxx, mut bxy) = match v.merge {
            Merge::AsLibrary => (Mat::<f64>::zeros(d, d), Mat::<f64>::zeros(d, k)),
            Merge::Scratch => (
                std::mem::replace(&mut pxx, Mat::new()),
                std::mem::replace(&mut pxy, Mat::new()),
            ),
        };
        triangular::matmul(
            bxx.as_mut(),
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
            bxy.as_mut(),
            Accum::Replace,
            xb.rb().transpose(),
            yb.rb(),
            1.0,
            par,
        );
        if let Some((xo, yo)) = &shifted_offsets {
            for j in 0..d {
                let cj = sb * xo[j];
                if cj != 0.0 {
                    for i in j..d {
                        bxx[(i, j)] -= cj * xo[i];
                    }
                }
                for t in 0..k {
                    bxy[(j, t)] -= cj * yo[t];
                }
            }
        }
        total.merge_parts(sb, &xm, &ym, &bxx, &bxy, v.merge);
        if let Merge::Scratch = v.merge {
            pxx = bxx;
            pxy = bxy;
        }
        start += len;
    }
    total
}

/// Row-split parallelism over the experimental variant: each of the `par.degree()` threads runs
/// `compute_variant(.., Par::Seq)` on a contiguous slice of rows; the partial statistics are merged.
fn variant_row_split(x: MatRef<'_, f64>, y: MatRef<'_, f64>, v: Variant, par: Par) -> Stats {
    let p = par.degree();
    let n = x.nrows();
    if p <= 1 || n < 2 * v.block_rows {
        return compute_variant(x, y, v, Par::Seq);
    }
    let h = n * (p / 2) / p;
    let (mut a, mut b) = (None, None);
    faer::utils::thread::join_raw(
        |_| {
            a = Some(variant_row_split(
                x.subrows(0, h),
                y.subrows(0, h),
                v,
                Par::rayon(p / 2),
            ))
        },
        |_| {
            b = Some(variant_row_split(
                x.subrows(h, n - h),
                y.subrows(h, n - h),
                v,
                Par::rayon(p - p / 2),
            ))
        },
        par,
    );
    let mut a = a.unwrap();
    let b = b.unwrap();
    if let Prep::Raw = v.prep {
        a.xx += &b.xx;
        a.xy += &b.xy;
        a.s += b.s;
    } else {
        a.merge_parts(b.s, &b.xm, &b.ym, &b.xx, &b.xy, Merge::Scratch);
    }
    a
}

/// Proposed parallel scheme: split the rows into `par.degree()` contiguous slices, run the
/// library routine on each with `Par::Seq` (so each thread streams its own rows through the
/// single-threaded triangular kernel, which balances perfectly), and merge the partial moments
/// exactly with `Moments::merge`.
fn compute_row_split(x: MatRef<'_, f64>, y: MatRef<'_, f64>, par: Par) -> Moments {
    // Too few rows for every thread to get a block or more: keep the library's path, whose
    // kernel-level parallelism is the better choice for a single block (see 1 000 × 500).
    if x.nrows() < par.degree() * 2048 {
        return Moments::compute(x, y, None, true, par);
    }
    fn rec(x: MatRef<'_, f64>, y: MatRef<'_, f64>, par: Par) -> Moments {
        let p = par.degree();
        let n = x.nrows();
        if p <= 1 || n < 2 * 2048 {
            return Moments::compute(x, y, None, true, Par::Seq);
        }
        let h = n * (p / 2) / p;
        let (mut a, mut b) = (None, None);
        faer::utils::thread::join_raw(
            |_| a = Some(rec(x.subrows(0, h), y.subrows(0, h), Par::rayon(p / 2))),
            |_| {
                b = Some(rec(
                    x.subrows(h, n - h),
                    y.subrows(h, n - h),
                    Par::rayon(p - p / 2),
                ))
            },
            par,
        );
        let mut a = a.unwrap();
        a.merge(&b.unwrap());
        a
    }
    rec(x, y, par)
}

fn col_means(m: MatRef<'_, f64>, sb: f64) -> Col<f64> {
    Col::from_fn(m.ncols(), |j| {
        let c = m.col(j);
        let m0 = c.iter().sum::<f64>() / sb;
        m0 + c.iter().map(|v| v - m0).sum::<f64>() / sb
    })
}

/// The bare lower-triangular product XᵀX on the whole (uncentred) X, no blocking, no copy: the
/// speed the routine's kernel could reach if blocking cost nothing.
fn syrk_whole(out: MatMut<'_, f64>, x: MatRef<'_, f64>, par: Par) {
    triangular::matmul(
        out,
        BlockStructure::TriangularLower,
        Accum::Replace,
        x.transpose(),
        BlockStructure::Rectangular,
        x,
        BlockStructure::Rectangular,
        1.0,
        par,
    );
}

fn max_rel_diff_lower(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    let d = a.nrows();
    let mut num: f64 = 0.0;
    let mut den: f64 = 0.0;
    for j in 0..d {
        for i in j..d {
            num = num.max((a[(i, j)] - b[(i, j)]).abs());
            den = den.max(b[(i, j)].abs());
        }
    }
    num / den
}

/// Interleaved timing of the library routine, its variants and the dense GEMM on one matrix.
fn side_by_side(n: usize, d: usize, reps: usize, with_variants: bool) {
    let par = Par::rayon(2);
    let (x, y) = data(n, d);
    let ym = y.as_mat();
    let x = x.as_ref();
    let mut gemm_out = Mat::<f64>::zeros(d, d);
    let mut syrk_out = Mat::<f64>::zeros(d, d);
    let mut gemm_out1 = Mat::<f64>::zeros(d, d);
    let mut syrk_out1 = Mat::<f64>::zeros(d, d);

    type Run<'a> = Box<dyn FnMut() + 'a>;
    let mut cands: Vec<(String, f64, Run<'_>)> = Vec::new();
    cands.push((
        "dense GEMM AᵀA (faer matmul, full)".into(),
        gemm_flops(n, d),
        Box::new(|| {
            matmul(
                gemm_out.as_mut(),
                Accum::Replace,
                x.transpose(),
                x,
                1.0,
                par,
            );
            black_box(&gemm_out);
        }),
    ));
    cands.push((
        "Moments::compute (library, BLOCK_ROWS=2048)".into(),
        gram_flops(n, d),
        Box::new(|| {
            black_box(Moments::compute(x, ym, None, true, par));
        }),
    ));
    let before = Variant {
        block_rows: 2048,
        merge: Merge::AsLibrary,
        prep: Prep::AsLibrary,
    };
    cands.push((
        "before io-gram: row chunks, copy then centre".into(),
        gram_flops(n, d),
        Box::new(move || {
            black_box(variant_row_split(x, ym, before, par));
        }),
    ));
    cands.push((
        "lower-triangular XᵀX, whole X (no blocks)".into(),
        gram_flops(n, d),
        Box::new(|| {
            syrk_whole(syrk_out.as_mut(), x, par);
            black_box(&syrk_out);
        }),
    ));
    cands.push((
        "row-split: library on 2 row halves, Par::Seq, merge".into(),
        gram_flops(n, d),
        Box::new(|| {
            black_box(compute_row_split(x, ym, par));
        }),
    ));
    cands.push((
        "dense GEMM AᵀA, Par::Seq (1 thread)".into(),
        gemm_flops(n, d),
        Box::new(|| {
            matmul(
                gemm_out1.as_mut(),
                Accum::Replace,
                x.transpose(),
                x,
                1.0,
                Par::Seq,
            );
            black_box(&gemm_out1);
        }),
    ));
    cands.push((
        "lower-triangular XᵀX, whole X, Par::Seq".into(),
        gram_flops(n, d),
        Box::new(|| {
            syrk_whole(syrk_out1.as_mut(), x, Par::Seq);
            black_box(&syrk_out1);
        }),
    ));
    let lib_copy = Variant {
        block_rows: 2048,
        merge: Merge::AsLibrary,
        prep: Prep::AsLibrary,
    };
    let fused = |b| Variant {
        block_rows: b,
        merge: Merge::Scratch,
        prep: Prep::Fused,
    };
    let mut variants: Vec<(String, Variant, bool)> = Vec::new();
    if with_variants {
        variants = vec![
            ("copy of library (block 2048)".into(), lib_copy, false),
            (
                "fused prep + slice merge, block 2048".into(),
                fused(2048),
                false,
            ),
            (
                "row-split + fused prep, block 2048".into(),
                fused(2048),
                true,
            ),
        ];
        for b in [256, 512, 1024, 4096] {
            variants.push((format!("row-split + fused prep, block {b}"), fused(b), true));
        }
        let fast = |b| Variant {
            block_rows: b,
            merge: Merge::Scratch,
            prep: Prep::FusedFast,
        };
        variants.push(("fast fused prep, block 2048".into(), fast(2048), false));
        for b in [1024, 2048, 4096] {
            variants.push((
                format!("row-split + fast fused prep, block {b}"),
                fast(b),
                true,
            ));
        }
        for (b, sub) in [
            (2048, 128),
            (2048, 256),
            (2048, 512),
            (4096, 256),
            (8192, 256),
        ] {
            variants.push((
                format!("row-split + sub-blocks {sub} of block {b}"),
                Variant {
                    block_rows: b,
                    merge: Merge::Scratch,
                    prep: Prep::SubBlocks(sub),
                },
                true,
            ));
        }
        for h in [256, 512] {
            variants.push((
                format!("row-split + shifted sweep (shift from {h} rows), block 2048"),
                Variant {
                    block_rows: 2048,
                    merge: Merge::Scratch,
                    prep: Prep::Shifted(h),
                },
                true,
            ));
        }
        variants.push((
            "row-split, raw blocks 2048 (no copy/centre/merge)".into(),
            Variant {
                block_rows: 2048,
                merge: Merge::Scratch,
                prep: Prep::Raw,
            },
            true,
        ));
        variants.push((
            "raw blocks 2048, Par::rayon(2) kernel per block".into(),
            Variant {
                block_rows: 2048,
                merge: Merge::Scratch,
                prep: Prep::Raw,
            },
            false,
        ));
    }
    for (name, v, split) in variants {
        cands.push((
            name,
            gram_flops(n, d),
            Box::new(move || {
                if split {
                    black_box(variant_row_split(x, ym, v, par));
                } else {
                    black_box(compute_variant(x, ym, v, par));
                }
            }),
        ));
    }

    // Check the copy computes what the library does (guards the experiment, not the library).
    if with_variants {
        let lib = Moments::compute(x, ym, None, true, par);
        let mut worst: f64 = 0.0;
        let vs = [
            compute_variant(
                x,
                ym,
                Variant {
                    block_rows: 2048,
                    merge: Merge::AsLibrary,
                    prep: Prep::AsLibrary,
                },
                par,
            ),
            compute_variant(
                x,
                ym,
                Variant {
                    block_rows: 2048,
                    merge: Merge::Scratch,
                    prep: Prep::Fused,
                },
                par,
            ),
            variant_row_split(
                x,
                ym,
                Variant {
                    block_rows: 512,
                    merge: Merge::Scratch,
                    prep: Prep::Fused,
                },
                par,
            ),
            variant_row_split(
                x,
                ym,
                Variant {
                    block_rows: 2048,
                    merge: Merge::Scratch,
                    prep: Prep::FusedFast,
                },
                par,
            ),
            variant_row_split(
                x,
                ym,
                Variant {
                    block_rows: 2048,
                    merge: Merge::Scratch,
                    prep: Prep::Shifted(512),
                },
                par,
            ),
        ];
        for v in &vs {
            worst = worst.max(max_rel_diff_lower(v.xx.as_ref(), lib.xx().as_ref()));
            worst = worst.max((&v.xy - lib.xy()).norm_max() / lib.xy().norm_max());
            worst = worst.max((&v.xm - lib.x_mean()).norm_max() / lib.x_mean().norm_max());
        }
        let r = compute_row_split(x, ym, par);
        worst = worst.max(max_rel_diff_lower(r.xx().as_ref(), lib.xx().as_ref()));
        println!(
            "side_by_side {n}x{d}: variants vs library, max rel diff of Cxx, Cxy, x̄ = {worst:.2e}"
        );
        assert!(worst < 1e-10);
    }

    // Interleaved rounds on a quiet machine where possible; see common::Rounds.
    let rounds = {
        let mut calls: Vec<&mut dyn FnMut()> = cands
            .iter_mut()
            .map(|c| &mut *c.2 as &mut dyn FnMut())
            .collect();
        common::Rounds::run(reps, &mut calls)
    };
    let (used, note) = rounds.used();
    // Per-round ratio to the GEMM of the same round: robust to load that changes between rounds.
    let per_round_pct = |i: usize| {
        let mut r: Vec<f64> = used
            .iter()
            .map(|&k| 100.0 * (cands[i].1 / rounds.times[i][k]) / (cands[0].1 / rounds.times[0][k]))
            .collect();
        common::median(&mut r)
    };
    let gemm_rate = cands[0].1 / common::median(&mut rounds.of(0)) / 1e9;
    println!(
        "\nside_by_side {n} x {d}, Par::rayon(2): {note}.\nGram flops = n·d·(d+1) = {:.3e}, GEMM \
         flops = 2·n·d² = {:.3e}",
        gram_flops(n, d),
        gemm_flops(n, d)
    );
    println!(
        "{:<52} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "candidate", "median s", "min s", "max s", "GFLOP/s", "best", "% GEMM", "%/round"
    );
    for (i, c) in cands.iter().enumerate() {
        let mut t = rounds.of(i);
        let med = common::median(&mut t);
        let (mn, mx) = (t[0], t[t.len() - 1]);
        let rate = c.1 / med / 1e9;
        println!(
            "{:<52} {:>9.4} {:>9.4} {:>9.4} {:>9.2} {:>9.2} {:>8.1}% {:>8.1}%",
            c.0,
            med,
            mn,
            mx,
            rate,
            c.1 / mn / 1e9,
            100.0 * rate / gemm_rate,
            per_round_pct(i)
        );
    }
    println!(
        "GFLOP/s: flops / median time (\"best\": / min time); % GEMM: ratio of median rates; \
         %/round: median over rounds of the ratio to that round's GEMM.\n"
    );
}

fn main() {
    // Positional arguments are criterion filters; run the interleaved comparison when there is no
    // filter or one of them is a substring of "side_by_side".
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run_sbs = filters.is_empty() || filters.iter().any(|f| "side_by_side".contains(f.as_str()));
    let run_grid = filters.is_empty() || filters.iter().any(|f| f.starts_with("gram"));
    if run_sbs {
        let reps = std::env::var("GRAM_REPS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(7);
        let with_variants = std::env::var_os("GRAM_VARIANTS").is_some();
        let sizes = std::env::var("GRAM_SIZES").unwrap_or_else(|_| "100000x500".into());
        for size in sizes.split(',') {
            let Some((n, d)) = size
                .split_once('x')
                .and_then(|(n, d)| Some((n.trim().parse().ok()?, d.trim().parse().ok()?)))
            else {
                panic!("GRAM_SIZES: expected e.g. 100000x500,1000x500, got {size:?}");
            };
            side_by_side(n, d, reps, with_variants);
        }
    }
    if run_grid {
        let mut c = Criterion::default().configure_from_args();
        bench_grid(&mut c);
        c.final_summary();
    }
}
