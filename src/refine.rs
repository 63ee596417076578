//! Iterative refinement of a direct ridge solution with residuals in double-double arithmetic.
//!
//! A direct backend's answer (w₀, b₀) carries the rounding error of its factorisation, of the
//! centring (b = ȳ − x̄ᵀw cancels when the intercept is small against the data, NIST Wampler1) and
//! of forming XcᵀSXc. Refinement removes all three. With the *original* data (X, y, s, uncentred)
//! it computes the residual of the optimality conditions of J
//!
//! ```text
//! e = y − X·w − b·1,      g = XᵀS·e − S·λ·w,      h = 1ᵀS·e         (h only with an intercept)
//! ```
//!
//! in double-double arithmetic (≈ 106-bit significands, Dekker 1971; TwoSum and TwoProduct via
//! `f64::mul_add`, Ogita, Rump & Oishi 2005, *Accurate sum and dot product*), so they are exact to
//! far below the f64 rounding of w. Eliminating δb from the correction equations gives
//!
//! ```text
//! (XcᵀS·Xc + S·λ·I)·δw = g − x̄·h,        δb = h/S − x̄ᵀδw,
//! ```
//!
//! the same matrix the backend has already factored, so each step costs two triangular solves plus
//! O(n·d) double-double operations (≈ 20 f64 flops each). This is the augmented system
//! [I X; XᵀS −SλI] of Björck (1967, *Iterative refinement of linear least squares solutions I*)
//! with the residual block e eliminated exactly: it is recomputed in extended precision at each
//! step instead of being carried in f64, which is what makes large-residual problems (Wampler5)
//! converge to the solution of the f64 data. The iteration contracts by about κ·ε per step for a
//! QR factor (R is exact for a nearby matrix) and κ²·ε for a Cholesky factor of the rounded Gram
//! matrix (κ of the equilibrated design), and its fixed point is the exact minimiser of J for the
//! data as given (Demmel, Hida, Li & Riedy 2009, *Extra-precise iterative refinement for
//! overdetermined least squares problems*, use the same stopping rules as below).
//!
//! **The intercept** is carried in double-double between corrections, and rounded to f64 only
//! when refinement ends. Substituting w = w* + ω and b = b* + β into the residuals gives
//! h = −S·(β + x̄ᵀω) and g − x̄·h = −(XcᵀS·Xc + S·λ·I)·ω − S·(x̄ − x̄_used)·(β + x̄ᵀω): with the
//! x̄ the correction equation uses off by ξ = x̄ − x̄_used, a fixed point keeps ω ≈ S·A⁻¹·ξ·β.
//! With b in f64, β is up to ulp(b)/2, which with a large offset (timestamps, X + 1e15, where
//! b ≈ −x̄ᵀw is as large) is not small: x̄ then had to be exact to ≈ 2⁻¹⁰⁴, a double-double sum
//! over X (a pass of its own, as costly as the residual). With b in double-double, β is ≈ ε²·|b|,
//! and the problem's two-part mean x̄ₕ + x̄ₗ (off by ξ ≤ n·ε·spread + ε²·|x̄|: its correction pass
//! is an f64 sum) leaves |ω|/|w| ≈ n·ε³·ρ + ε⁴·ρ², ρ = |x̄|/spread: below 10⁻²⁷ at n = 10⁵ and
//! ρ = 10¹⁵.
//!
//! **Cost.** The residual is formed in one read of X (chunks of rows on rayon's threads, each in
//! sub-blocks whose rows of X stay in cache between forming e and forming XᵀS·e), ≈ 45·n·d flops,
//! and its sums are added in a fixed order, so the result is the same on any number of threads.

use faer::{Col, ColRef};

use crate::linalg::{two_prod, two_sum};
use crate::problem::RidgeProblem;

/// a + b = s + e exactly when |a| ≥ |b| (Dekker's FastTwoSum).
#[inline(always)]
fn fast_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    (s, b - (s - a))
}

/// A double-double number hi + lo with |lo| ≤ ulp(hi)/2: about 106 significant bits.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Dd {
    /// The leading f64.
    pub hi: f64,
    /// The trailing correction.
    pub lo: f64,
}

impl Dd {
    /// An f64 as a double-double.
    #[cfg(test)]
    pub fn new(x: f64) -> Self {
        Self { hi: x, lo: 0.0 }
    }

    /// self + a·b, the product formed exactly.
    #[inline]
    #[cfg(test)]
    pub fn add_prod(self, a: f64, b: f64) -> Dd {
        let (p, e) = two_prod(a, b);
        self + Dd { hi: p, lo: e }
    }

    /// The nearest f64 (up to one rounding).
    #[inline]
    pub fn to_f64(self) -> f64 {
        self.hi + self.lo
    }
}

impl std::ops::Add for Dd {
    type Output = Dd;
    /// Relative error ≈ 2⁻¹⁰⁴ (the "accurate" addition of the QD library).
    #[inline(always)]
    fn add(self, b: Dd) -> Dd {
        let (s, e) = two_sum(self.hi, b.hi);
        let (t, f) = two_sum(self.lo, b.lo);
        let (s, e) = fast_two_sum(s, e + t);
        let (hi, lo) = fast_two_sum(s, e + f);
        Dd { hi, lo }
    }
}

impl std::ops::Mul<f64> for Dd {
    type Output = Dd;
    #[inline(always)]
    fn mul(self, b: f64) -> Dd {
        let (p, e) = two_prod(self.hi, b);
        let (hi, lo) = fast_two_sum(p, self.lo.mul_add(b, e));
        Dd { hi, lo }
    }
}

impl std::ops::Mul for Dd {
    type Output = Dd;
    /// Relative error ≈ 2⁻¹⁰² (the lo·lo term is below it).
    #[inline(always)]
    fn mul(self, b: Dd) -> Dd {
        let (p, e) = two_prod(self.hi, b.hi);
        let cross = self.hi.mul_add(b.lo, self.lo * b.hi);
        let (hi, lo) = fast_two_sum(p, e + cross);
        Dd { hi, lo }
    }
}

impl std::ops::Div<f64> for Dd {
    type Output = Dd;
    /// One f64 quotient and one correction from the exact remainder: relative error ≈ 2⁻¹⁰³.
    #[inline(always)]
    fn div(self, b: f64) -> Dd {
        let q = self.hi / b;
        let (p, e) = two_prod(q, b);
        let remainder = (Dd {
            hi: self.hi,
            lo: self.lo,
        }) + -(Dd { hi: p, lo: e });
        let (hi, lo) = fast_two_sum(q, remainder.hi / b);
        Dd { hi, lo }
    }
}

impl std::ops::Neg for Dd {
    type Output = Dd;
    #[inline(always)]
    fn neg(self) -> Dd {
        Dd {
            hi: -self.hi,
            lo: -self.lo,
        }
    }
}

/// Rows of X per task of the residual pass. Fixed, not derived from the thread count: each
/// chunk's sums are formed in one order on one thread and the chunks' sums are added in chunk
/// order, so the result is the same bit for bit on any number of threads.
const CHUNK_ROWS: usize = 4096;

/// Independent double-double accumulators per sum. They are kept as separate arrays of high and
/// low parts, so the arithmetic on them vectorises, and sixteen of them hide the latency of the
/// chain of dependent operations inside one double-double addition (with four, the sums were
/// bound by that latency).
const LANES: usize = 16;

/// [`LANES`] partial sums of one double-double sum: term i of a sum goes to lane i mod LANES.
#[derive(Clone, Copy)]
struct Lanes {
    hi: [f64; LANES],
    lo: [f64; LANES],
}

impl Lanes {
    const ZERO: Lanes = Lanes {
        hi: [0.0; LANES],
        lo: [0.0; LANES],
    };

    #[inline(always)]
    fn add(&mut self, k: usize, t: Dd) {
        let a = Dd {
            hi: self.hi[k],
            lo: self.lo[k],
        } + t;
        (self.hi[k], self.lo[k]) = (a.hi, a.lo);
    }

    /// Adds Σᵢ term(c₁[i], …, c_N[i]) over the rows of the N equally long columns `cols`, term i
    /// to lane i mod [`LANES`]. Groups of LANES rows are taken as arrays, so the lanes' loop has a
    /// constant trip count and no bounds checks, and vectorises.
    #[inline(always)]
    fn sum<const N: usize>(&mut self, cols: [&[f64]; N], term: impl Fn([f64; N]) -> Dd) {
        let len = cols[0].len();
        let full = len / LANES * LANES;
        let mut start = 0;
        while start < full {
            let group: [&[f64; LANES]; N] = cols.map(|c| {
                c[start..start + LANES]
                    .try_into()
                    .expect("a range of LANES entries")
            });
            for k in 0..LANES {
                self.add(k, term(group.map(|c| c[k])));
            }
            start += LANES;
        }
        for (k, i) in (full..len).enumerate() {
            self.add(k, term(cols.map(|c| c[i])));
        }
    }

    /// The lanes added in order.
    fn total(&self) -> Dd {
        (0..LANES).fold(Dd::default(), |t, k| {
            t + Dd {
                hi: self.hi[k],
                lo: self.lo[k],
            }
        })
    }
}

/// `chunk(start, len)` for the chunks of [`CHUNK_ROWS`] rows of an n-row problem, in row order:
/// on rayon's threads when `par` allows more than one and there is more than one chunk.
fn chunks<T: Send>(n: usize, par: faer::Par, chunk: impl Fn(usize, usize) -> T + Sync) -> Vec<T> {
    let count = n.div_ceil(CHUNK_ROWS);
    let run = |c: usize| {
        let start = c * CHUNK_ROWS;
        chunk(start, CHUNK_ROWS.min(n - start))
    };
    if par.degree() > 1 && count > 1 {
        use rayon::prelude::*;
        (0..count).into_par_iter().map(run).collect()
    } else {
        (0..count).map(run).collect()
    }
}

/// The optimality residual of J at (w, b) in double-double: returns g − x̄·h (rounded to f64),
/// the right-hand side of the correction equation, and h = 1ᵀS·e (0 without an intercept);
/// `means` is x̄ ([`two_part_means`]). See the [module docs](self). Costs about 45·n·d flops in
/// one read of X: chunks of [`CHUNK_ROWS`] rows on rayon's threads (when the problem's `par`
/// allows), each in sub-blocks small enough that their residual e and their rows of X stay in
/// cache between forming e and forming XᵀS·e.
pub fn optimality_residual(
    problem: &RidgeProblem<'_>,
    means: &[Dd],
    w: ColRef<'_, f64>,
    b: Dd,
) -> (Col<f64>, f64) {
    let d = problem.n_features();
    let b = if problem.fit_intercept() {
        b
    } else {
        Dd::default()
    };
    let at = Point { problem, w, b };
    let parts = chunks(problem.n_samples(), problem.par(), |start, len| {
        residual_chunk(at, start, len)
    });
    let (g, h) = parts.iter().fold(
        (vec![Dd::default(); d], Dd::default()),
        |(mut g, h), (gc, hc)| {
            g.iter_mut().zip(gc).for_each(|(g, c)| *g = *g + *c);
            (g, h + *hc)
        },
    );
    let h = if problem.fit_intercept() {
        h
    } else {
        Dd::default()
    };
    let (sl, sl_lo) = two_prod(problem.weight_sum(), problem.lambda());
    let shift = Dd { hi: sl, lo: sl_lo };
    let rhs = Col::from_fn(d, |j| (g[j] + -(shift * w[j]) + -(h * means[j])).to_f64());
    (rhs, h.to_f64())
}

/// The problem and the point (w, b) whose residual a chunk forms.
#[derive(Clone, Copy)]
struct Point<'a> {
    problem: &'a RidgeProblem<'a>,
    w: ColRef<'a, f64>,
    b: Dd,
}

/// [`residual_chunk_kernel`], compiled for AVX2 and FMA when the CPU has them (so
/// `f64::mul_add`, the TwoProduct, is one instruction and the lanes vectorise).
fn residual_chunk(at: Point<'_>, start: usize, len: usize) -> (Vec<Dd>, Dd) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports the features `residual_chunk_fma` is compiled for.
        return unsafe { residual_chunk_fma(at, start, len) };
    }
    residual_chunk_kernel(at, start, len)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn residual_chunk_fma(at: Point<'_>, start: usize, len: usize) -> (Vec<Dd>, Dd) {
    residual_chunk_kernel(at, start, len)
}

/// Rows per sub-block of a residual chunk: the sub-block's rows of X (≈ 384 KiB) stay in the L2
/// cache between the sweep that forms e and the sweep that forms Xᵀ·S·e; a multiple of
/// [`LANES`], so every sub-block but a chunk's last starts at lane 0.
fn sub_block_rows(d: usize) -> usize {
    ((48 * 1024) / d.max(1)).clamp(LANES, CHUNK_ROWS) / LANES * LANES
}

/// For the rows `start .. start + len`: (Σᵢ sᵢ·eᵢ·xᵢⱼ for every column j, Σᵢ sᵢ·eᵢ), with
/// e = y − b − X·w formed in double-double.
#[inline(always)]
fn residual_chunk_kernel(at: Point<'_>, start: usize, len: usize) -> (Vec<Dd>, Dd) {
    let Point { problem, w, b } = at;
    let d = problem.n_features();
    let rows = sub_block_rows(d);
    let mut g = vec![Lanes::ZERO; d];
    let mut h = Lanes::ZERO;
    let mut hi = vec![0.0; rows];
    let mut lo = vec![0.0; rows];
    let mut buf = Vec::new();
    let mut s0 = start;
    while s0 < start + len {
        let m = rows.min(start + len - s0);
        let x = problem.x().subrows(s0, m);
        let (hi, lo) = (&mut hi[..m], &mut lo[..m]);
        // e = y − b − X·w, column by column (each entry an independent double-double).
        for ((h, l), &yi) in hi
            .iter_mut()
            .zip(lo.iter_mut())
            .zip(problem.y().subrows(s0, m).iter())
        {
            let e = Dd { hi: yi, lo: 0.0 } + -b;
            (*h, *l) = (e.hi, e.lo);
        }
        for j in 0..d {
            let wj = -w[j];
            if wj == 0.0 {
                continue;
            }
            let c = column(x, j, &mut buf);
            for ((h, l), &xij) in hi.iter_mut().zip(lo.iter_mut()).zip(c) {
                let (p, pe) = two_prod(xij, wj);
                let e = Dd { hi: *h, lo: *l } + Dd { hi: p, lo: pe };
                (*h, *l) = (e.hi, e.lo);
            }
        }
        // S·e.
        if let Some(s) = problem.weights() {
            for ((h, l), &si) in hi
                .iter_mut()
                .zip(lo.iter_mut())
                .zip(s.subrows(s0, m).iter())
            {
                let e = Dd { hi: *h, lo: *l } * si;
                (*h, *l) = (e.hi, e.lo);
            }
        }
        let (hi, lo) = (&*hi, &*lo);
        h.sum([hi, lo], |[hi, lo]| Dd { hi, lo });
        for (j, g) in g.iter_mut().enumerate() {
            let c = column(x, j, &mut buf);
            g.sum([hi, lo, c], |[hi, lo, c]| Dd { hi, lo } * c);
        }
        s0 += m;
    }
    (g.iter().map(Lanes::total).collect(), h.total())
}

/// Column j of X as a slice: borrowed when contiguous, else gathered into `buf`.
#[inline(always)]
fn column<'a>(x: faer::MatRef<'a, f64>, j: usize, buf: &'a mut Vec<f64>) -> &'a [f64] {
    let c = x.col(j);
    match c.try_as_col_major() {
        Some(c) => c.as_slice(),
        None => {
            buf.clear();
            buf.extend(c.iter().copied());
            buf
        }
    }
}

/// What refinement did.
#[derive(Debug, Clone)]
pub struct Refinement {
    /// The refined coefficients.
    pub coef: Col<f64>,
    /// The refined intercept (0 without one).
    pub intercept: f64,
    /// Corrections applied.
    pub steps: usize,
    /// The size of the last correction computed, max over components of |δwⱼ|·‖Xs eⱼ‖ relative
    /// to the same norm of w (plus |δb| relative to |b|): an estimate of the relative error
    /// that was left before it was applied.
    pub last_correction: f64,
}

/// x̄ as double-doubles from the problem's two-part means (zero without an intercept).
fn two_part_means(problem: &RidgeProblem<'_>) -> Vec<Dd> {
    let (hi, lo) = (problem.x_mean(), problem.x_mean_low());
    (0..problem.n_features())
        .map(|j| Dd {
            hi: hi[j],
            lo: lo[j],
        })
        .collect()
}

/// Refines (w₀, b₀) for at most `max_steps` corrections. `correct(r)` must solve
/// (XcᵀSXc + SλI)·δ = r with the backend's factor; `column_norms` are ‖S^½Xc eⱼ‖ (any positive
/// weights work) and define the norm in which corrections are compared; `contraction` estimates
/// the factor by which one correction shrinks the error (κ·ε for the backend's factor, with a
/// safety factor).
///
/// Stops when the correction is below ε relative (converged), when the next one is predicted to
/// be (this correction times `contraction` below ε: it saves the O(n·d) residual that would only
/// confirm convergence), when a correction fails to halve the previous one (no more progress:
/// the noise level of the correction solves is reached, the rule of Demmel et al.), or when it
/// grows (the iteration diverges; that correction is not applied).
pub fn refine(
    problem: &RidgeProblem<'_>,
    w0: Col<f64>,
    b0: f64,
    max_steps: usize,
    column_norms: ColRef<'_, f64>,
    contraction: f64,
    mut correct: impl FnMut(Col<f64>) -> Col<f64>,
) -> Refinement {
    let mut w = w0;
    // b is carried in double-double: see the module docs ("The intercept").
    let mut b = Dd {
        hi: if problem.fit_intercept() { b0 } else { 0.0 },
        lo: 0.0,
    };
    let s = problem.weight_sum();
    let mut previous = f64::INFINITY;
    let mut steps = 0;
    let mut last = f64::INFINITY;
    // A column whose mean is large against its spread (offset ratio ρⱼ = |x̄ⱼ|/sdⱼ, sdⱼ =
    // ‖S^½Xc eⱼ‖/√S) was centred with an f64 mean off by up to ε·|x̄ⱼ|, so the factored matrix
    // carries a relative error of up to about ε·ρⱼ whatever its κ: one correction shrinks the
    // error by no more than that (measured 6.8e-7 per step at ρ = 10¹³). Predicting convergence
    // from κ·ε alone stopped refinement at 5e-13 there instead of at the rounding of w.
    let contraction = if problem.fit_intercept() {
        let root_s = s.sqrt();
        (0..problem.n_features())
            .filter(|&j| column_norms[j] > 0.0)
            .map(|j| f64::EPSILON * problem.x_mean()[j].abs() * root_s / column_norms[j])
            .fold(contraction, f64::max)
    } else {
        contraction
    };
    let means = two_part_means(problem);
    while steps < max_steps {
        let (rhs, h) = optimality_residual(problem, &means, w.as_ref(), b);
        let dw = correct(rhs);
        let db = if problem.fit_intercept() {
            h / s - crate::linalg::dot(problem.x_mean(), dw.as_ref())
        } else {
            0.0
        };
        let scaled = |v: ColRef<'_, f64>| {
            (0..v.nrows())
                .map(|j| (v[j] * column_norms[j]).abs())
                .fold(0.0, f64::max)
        };
        let size = scaled(w.as_ref());
        let mut ratio = if size > 0.0 {
            scaled(dw.as_ref()) / size
        } else {
            scaled(dw.as_ref())
        };
        if b.hi != 0.0 {
            ratio = ratio.max((db / b.hi).abs());
        }
        last = ratio;
        if !ratio.is_finite() || ratio >= previous {
            break;
        }
        w += &dw;
        b = b + Dd { hi: db, lo: 0.0 };
        steps += 1;
        if ratio <= f64::EPSILON || ratio * contraction <= f64::EPSILON || ratio > 0.5 * previous {
            break;
        }
        previous = ratio;
    }
    Refinement {
        coef: w,
        intercept: b.to_f64(),
        steps,
        last_correction: last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_free_transformations_are_exact() {
        let (s, e) = two_sum(1.0, 1e-20);
        assert_eq!((s, e), (1.0, 1e-20));
        let a = 1.0 + f64::EPSILON;
        let (p, e) = two_prod(a, a);
        // (1 + ε)² = 1 + 2ε + ε²: the ε² is lost by the product and kept in e.
        assert_eq!(p, 1.0 + 2.0 * f64::EPSILON);
        assert_eq!(e, f64::EPSILON * f64::EPSILON);
        // 1e16 + 1 − 1e16 = 1 in double-double, 0 or 2 in f64.
        let x = Dd::new(1e16) + Dd::new(1.0) + Dd::new(-1e16);
        assert_eq!(x.to_f64(), 1.0);
        assert_eq!((Dd::new(3.0) * (1.0 / 3.0)).add_prod(-1.0, 1.0).to_f64(), {
            let (p, e) = two_prod(3.0, 1.0 / 3.0);
            (p - 1.0) + e
        });
    }

    #[test]
    fn the_residual_pass_is_the_same_on_any_number_of_threads_and_sums_every_row_once() {
        // Several chunks, a partial last chunk and sub-block, an offset, weights or none, and a
        // strided X (gathered column by column).
        use faer::{Mat, Par};
        let (n, d) = (3 * CHUNK_ROWS + 37, 7);
        let x = Mat::from_fn(n, d, |i, j| 1e6 + ((i * (j + 3)) % 97) as f64 * 0.01);
        let xt = x.transpose().to_owned();
        let y = Col::from_fn(n, |i| ((i * 5) % 13) as f64 - 6.0);
        let s = Col::from_fn(n, |i| 0.5 + (i % 3) as f64);
        let w = Col::from_fn(d, |j| 0.1 * (j as f64 + 1.0));
        let b = Dd { hi: 3.0, lo: 1e-17 };
        for weights in [Some(s.as_ref()), None] {
            let build = |x, par| {
                let builder = RidgeProblem::builder(x, y.as_ref()).lambda(0.5).par(par);
                match weights {
                    Some(s) => builder.weights(s),
                    None => builder,
                }
                .build()
                .unwrap()
            };
            let seq = build(x.as_ref(), Par::Seq);
            let means = two_part_means(&seq);
            let (r, h) = optimality_residual(&seq, &means, w.as_ref(), b);
            for p in [
                build(x.as_ref(), Par::rayon(2)),
                build(xt.transpose(), Par::rayon(2)),
            ] {
                assert_eq!(
                    optimality_residual(&p, &means, w.as_ref(), b),
                    (r.clone(), h)
                );
            }
            // One double-double sum per column in row order: the same to the rounding of the
            // result (a row summed twice or missed would be off by 10⁻⁴ relative or more).
            let sw = |i: usize| weights.map_or(1.0, |s| s[i]);
            let e: Vec<Dd> = (0..n)
                .map(|i| {
                    let e = (0..d).fold(Dd::new(y[i]) + -b, |e, j| e.add_prod(x[(i, j)], -w[j]));
                    e * sw(i)
                })
                .collect();
            let h_plain = e.iter().fold(Dd::default(), |t, e| t + *e);
            let (sl, sl_lo) = two_prod(seq.weight_sum(), seq.lambda());
            for j in 0..d {
                let g = (0..n).fold(Dd::default(), |t, i| t + e[i] * x[(i, j)]);
                let plain =
                    (g + -(Dd { hi: sl, lo: sl_lo } * w[j]) + -(h_plain * means[j])).to_f64();
                assert!(
                    (r[j] - plain).abs() <= 4.0 * f64::EPSILON * plain.abs(),
                    "{j}"
                );
            }
            assert!((h - h_plain.to_f64()).abs() <= 4.0 * f64::EPSILON * h.abs());
        }
    }

    #[test]
    fn the_residual_vanishes_at_the_exact_solution_and_matches_the_gradient() {
        // y = 1 + 2x exactly, with large offsets: at (w, b) = (2, 1) every residual is 0.
        let x = faer::Mat::from_fn(5, 1, |i, _| 1e8 + i as f64);
        let y = Col::from_fn(5, |i| 1.0 + 2.0 * x[(i, 0)]);
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let (r, h) = optimality_residual(
            &p,
            &two_part_means(&p),
            faer::col![2.0].as_ref(),
            Dd::new(1.0),
        );
        assert_eq!((r[0], h), (0.0, 0.0));
        // Elsewhere −h/S = ∂J/∂b and −rhs/S = ∇_w J − x̄·∂J/∂b = −(1/S)·XcᵀS·e + λw, which for
        // e = 0.5·x − 2 on x = 10⁸ + (0..5) is −0.5·var(x) + λ·w = −1 + 0.75 exactly. The f64
        // gradient loses every digit of it to cancellation (terms of 10¹⁶); double-double does not.
        let p = p.with_lambda(0.5).unwrap();
        let w = faer::col![1.5];
        let (r, h) = optimality_residual(&p, &two_part_means(&p), w.as_ref(), Dd::new(3.0));
        let (_, gb) = p.gradient(w.as_ref(), 3.0);
        assert!((-h / p.weight_sum() - gb).abs() <= 1e-15 * gb.abs());
        assert_eq!(-r[0] / p.weight_sum(), -0.25);
    }
}
