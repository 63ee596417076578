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
//! O(n·d) operations in twice the working precision (≈ 21 f64 flops per entry of X). This is the
//! augmented system [I X; XᵀS −SλI] of Björck (1967, *Iterative refinement of linear least squares
//! solutions I*) with the residual block e eliminated exactly: it is recomputed in extended
//! precision at each step instead of being carried in f64, which is what makes large-residual
//! problems (Wampler5) converge to the solution of the f64 data. The iteration contracts by about
//! κ·ε per step for a QR factor (R is exact for a nearby matrix) and κ²·ε for a Cholesky factor of
//! the rounded Gram matrix (κ of the equilibrated design), and its fixed point is the exact
//! minimiser of J for the data as given (Demmel, Hida, Li & Riedy 2009, *Extra-precise iterative
//! refinement for overdetermined least squares problems*, use the same stopping rules as below).
//!
//! The residual is a sum over rows ([`ResidualSums`]: gⱼ = Σᵢ xᵢⱼsᵢeᵢ and h = Σᵢ sᵢeᵢ in
//! double-double), so it can be accumulated over row blocks, and the iteration is a state
//! machine ([`Refiner`]) that asks for one residual at a time: [`refine`] drives it from X in
//! memory, `crate::stream` from a file, one more pass over the file per round of corrections
//! (all targets in the same pass).
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
//! **Cost.** The residual is formed in one read of X (in memory: chunks of rows on rayon's threads,
//! each in sub-blocks whose rows of X stay in cache between forming e and forming XᵀS·e), ≈ 21·n·d
//! flops, and its sums are added in a fixed order, so the result is the same on any number of
//! threads. The sums are those of Ogita, Rump & Oishi's Sum2 and Dot2 rather than chains of
//! double-double additions: TwoSum on the high parts, what it drops added in f64 (10 flops a term
//! instead of 20), with an error bound of the same order, u·|Σ| + γ²ₘ·Σ|terms|. On 100 000 × 500
//! that took a round from 56–57 ms to 30–35 ms (`cargo run --release --example refine_timing`),
//! with the same refined coefficients bit for bit there and on every NIST dataset but Filip, whose
//! refined answer moved closer to the exact solution of the f64 data (LRE 14.05 → 14.38).

use faer::{Col, ColRef, MatRef};

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
    #[inline]
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

/// Rows of (X, y, s): X (rows × d), one target y and the weights (`None`: all ones).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub x: MatRef<'a, f64>,
    pub y: ColRef<'a, f64>,
    pub weights: Option<ColRef<'a, f64>>,
}

impl Rows<'_> {
    /// Rows `first .. first + len` of these.
    pub fn subrows(self, first: usize, len: usize) -> Self {
        Self {
            x: self.x.subrows(first, len),
            y: self.y.subrows(first, len),
            weights: self.weights.map(|s| s.subrows(first, len)),
        }
    }
}

/// The sums over rows that the optimality residual is made of, in double-double: gⱼ = Σᵢ xᵢⱼ·sᵢeᵢ
/// and h = Σᵢ sᵢeᵢ (only with an intercept) at e = y − X·w − b. They add over row blocks
/// ([`ResidualSums::add`]), so the residual of data read in blocks (a file, `crate::stream`) is
/// that of the whole data up to double-double rounding.
#[derive(Debug, Clone)]
pub(crate) struct ResidualSums {
    g: Vec<Dd>,
    h: Dd,
}

impl ResidualSums {
    /// The sums of no rows.
    pub fn zeros(d: usize) -> Self {
        Self {
            g: vec![Dd::default(); d],
            h: Dd::default(),
        }
    }

    /// The sums over `rows` at (w, b) (b = 0 without an intercept), on this thread. Costs about
    /// 21·n·d flops in one read of the rows (in sub-blocks whose residual and rows of X stay in
    /// cache between forming e and forming XᵀS·e); on x86-64 CPUs with FMA and AVX2 a version
    /// compiled for them (hardware TwoProduct, vectorised) is chosen at run time.
    pub fn of_rows(rows: Rows<'_>, point: (ColRef<'_, f64>, Dd), intercept: bool) -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2")
        {
            // SAFETY: the CPU supports the features `sums_fma` is compiled for.
            return unsafe { sums_fma(rows, point, intercept) };
        }
        sums_kernel(rows, point, intercept)
    }

    /// The sums over an in-memory problem's rows at (w, b): chunks of [`CHUNK_ROWS`] rows on
    /// rayon's threads (when the problem's `par` allows more than one), added in chunk order, so
    /// the result is the same bit for bit on any number of threads.
    pub fn of_problem(problem: &RidgeProblem<'_>, (w, b): (ColRef<'_, f64>, Dd)) -> Self {
        let intercept = problem.fit_intercept();
        let b = if intercept { b } else { Dd::default() };
        let rows = Rows {
            x: problem.x(),
            y: problem.y(),
            weights: problem.weights(),
        };
        let (n, d) = (problem.n_samples(), problem.n_features());
        let chunk = |c: usize| {
            let start = c * CHUNK_ROWS;
            let len = CHUNK_ROWS.min(n - start);
            Self::of_rows(rows.subrows(start, len), (w, b), intercept)
        };
        let count = n.div_ceil(CHUNK_ROWS);
        let parts: Vec<Self> = if problem.par().degree() > 1 && count > 1 {
            use rayon::prelude::*;
            (0..count).into_par_iter().map(chunk).collect()
        } else {
            (0..count).map(chunk).collect()
        };
        parts.iter().fold(Self::zeros(d), |mut total, part| {
            total.add(part);
            total
        })
    }

    /// Adds the sums of other rows.
    pub fn add(&mut self, other: &ResidualSums) {
        for (a, b) in self.g.iter_mut().zip(&other.g) {
            *a = *a + *b;
        }
        self.h = self.h + other.h;
    }

    /// The right-hand side of the correction equation, g − S·λ·w − x̄·h rounded to f64, and h
    /// (`means` are the column means x̄ in double-double).
    pub fn correction(
        &self,
        means: &[Dd],
        w: ColRef<'_, f64>,
        weight_sum: f64,
        lambda: f64,
    ) -> (Col<f64>, f64) {
        let (sl, sl_lo) = two_prod(weight_sum, lambda);
        let shift = Dd { hi: sl, lo: sl_lo };
        let rhs = Col::from_fn(self.g.len(), |j| {
            ((self.g[j] + -(shift * w[j])) + -(self.h * means[j])).to_f64()
        });
        (rhs, self.h.to_f64())
    }
}

/// [`sums_kernel`] compiled with FMA and AVX2, so `f64::mul_add` is one instruction and the
/// loops vectorise.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sums_fma(rows: Rows<'_>, point: (ColRef<'_, f64>, Dd), intercept: bool) -> ResidualSums {
    sums_kernel(rows, point, intercept)
}

/// Rows of X per task of the residual pass. Fixed, not derived from the thread count: each
/// chunk's sums are formed in one order on one thread and the chunks' sums are added in chunk
/// order, so the result is the same bit for bit on any number of threads.
const CHUNK_ROWS: usize = 4096;

/// Independent accumulators per sum ([`Lanes`]). They are kept as separate arrays of high and
/// low parts, so the arithmetic on them vectorises, and sixteen of them hide the latency of the
/// chain of dependent operations inside one update (with four, the sums were bound by that
/// latency).
const LANES: usize = 16;

/// An unevaluated sum p + q of two f64, not normalised (|q| may exceed ulp(p)/2): a term of
/// a [`Lanes`] sum.
type Pair = (f64, f64);

/// [`LANES`] partial sums of one sum in twice the working precision, term i of a sum to lane
/// i mod LANES. Each lane is an unnormalised pair (high part, low part) updated as in Sum2 of
/// Ogita, Rump & Oishi (2005): TwoSum on the high parts, the errors added in f64. That is half
/// the operations of a double-double addition per term (10 against 20), with an error bound of
/// the same order, u·|Σ| + γ²ₘ·Σ|terms| for m terms per lane (their error bound for Sum2).
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

    /// Adds p + q to lane k in the manner of Sum2: the high parts by TwoSum, what TwoSum drops
    /// and q into the plain f64 low part.
    #[inline(always)]
    fn add(&mut self, k: usize, (p, q): Pair) {
        let (s, e) = two_sum(self.hi[k], p);
        self.hi[k] = s;
        self.lo[k] += e + q;
    }

    /// Adds Σᵢ term(c₁[i], …, c_N[i]) over the rows of the N equally long columns `cols`, term i
    /// to lane i mod [`LANES`]. Groups of LANES rows are taken as arrays, so the lanes' loop has a
    /// constant trip count and no bounds checks, and vectorises.
    #[inline(always)]
    fn sum<const N: usize>(&mut self, cols: [&[f64]; N], term: impl Fn([f64; N]) -> Pair) {
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

    /// The lanes, each normalised to a double-double, added in order.
    fn total(&self) -> Dd {
        (0..LANES).fold(Dd::default(), |t, k| {
            let (hi, lo) = two_sum(self.hi[k], self.lo[k]);
            t + Dd { hi, lo }
        })
    }
}

/// Rows per sub-block of a residual chunk: the sub-block's rows of X (≈ 384 KiB) stay in the L2
/// cache between the sweep that forms e and the sweep that forms Xᵀ·S·e; a multiple of
/// [`LANES`], so every sub-block but a chunk's last starts at lane 0.
fn sub_block_rows(d: usize) -> usize {
    ((48 * 1024) / d.max(1)).clamp(LANES, CHUNK_ROWS) / LANES * LANES
}

/// (Σᵢ sᵢ·eᵢ·xᵢⱼ for every column j, Σᵢ sᵢ·eᵢ) over `rows`, with e = y − b − X·w formed in
/// double-double, sub-block by sub-block ([`sub_block_rows`]).
#[inline(always)]
fn sums_kernel(rows: Rows<'_>, (w, b): (ColRef<'_, f64>, Dd), intercept: bool) -> ResidualSums {
    let Rows { x, y, weights } = rows;
    let (n, d) = (x.nrows(), x.ncols());
    let block = sub_block_rows(d);
    let mut g = vec![Lanes::ZERO; d];
    let mut h = Lanes::ZERO;
    let mut hi = vec![0.0; block.min(n)];
    let mut lo = vec![0.0; block.min(n)];
    let mut buf = Vec::new();
    let mut s0 = 0;
    while s0 < n {
        let m = block.min(n - s0);
        let x = x.subrows(s0, m);
        let (hi, lo) = (&mut hi[..m], &mut lo[..m]);
        // e = y − b − X·w, column by column, each entry an unnormalised pair updated as in
        // Dot2 of Ogita, Rump & Oishi (TwoProduct, TwoSum on the high part, the errors added
        // in f64), then normalised to a double-double: its error is at most
        // u·|e| + γ²_{d+2}·(|y| + |b| + Σⱼ|xᵢⱼwⱼ|), far below what refinement resolves.
        for ((h, l), &yi) in hi
            .iter_mut()
            .zip(lo.iter_mut())
            .zip(y.subrows(s0, m).iter())
        {
            let (s, e) = two_sum(yi, -b.hi);
            (*h, *l) = (s, e - b.lo);
        }
        for j in 0..d {
            let wj = -w[j];
            if wj == 0.0 {
                continue;
            }
            let c = column(x, j, &mut buf);
            for ((h, l), &xij) in hi.iter_mut().zip(lo.iter_mut()).zip(c) {
                let (p, pe) = two_prod(xij, wj);
                let (s, e) = two_sum(*h, p);
                *h = s;
                *l += e + pe;
            }
        }
        for (h, l) in hi.iter_mut().zip(lo.iter_mut()) {
            (*h, *l) = two_sum(*h, *l);
        }
        // S·e.
        if let Some(s) = weights {
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
        if intercept {
            h.sum([hi, lo], |[hi, lo]| (hi, lo));
        }
        for (j, g) in g.iter_mut().enumerate() {
            let c = column(x, j, &mut buf);
            // (hi + lo)·c = p + (hi·c − p) + lo·c: the first two exactly (TwoProduct), the
            // last rounded, which is below the lane sum's own error.
            g.sum([hi, lo, c], |[hi, lo, c]| {
                let (p, pe) = two_prod(hi, c);
                (p, lo.mul_add(c, pe))
            });
        }
        s0 += m;
    }
    ResidualSums {
        g: g.iter().map(Lanes::total).collect(),
        h: h.total(),
    }
}

/// Column j of X as a slice: borrowed when contiguous, else gathered into `buf`.
#[inline(always)]
fn column<'a>(x: MatRef<'a, f64>, j: usize, buf: &'a mut Vec<f64>) -> &'a [f64] {
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

/// What refinement needs of a target's data besides the passes over them: whether there is an
/// intercept, S, λ, and the f64 column means x̄ (for δb and the offset bound of
/// [`Refiner::new`]).
#[derive(Debug, Clone)]
pub(crate) struct Constants {
    pub intercept: bool,
    pub weight_sum: f64,
    pub lambda: f64,
    pub x_mean: Col<f64>,
}

impl Constants {
    /// Those of an in-memory problem.
    pub fn of(problem: &RidgeProblem<'_>) -> Self {
        Self {
            intercept: problem.fit_intercept(),
            weight_sum: problem.weight_sum(),
            lambda: problem.lambda(),
            x_mean: problem.x_mean().to_owned(),
        }
    }
}

/// One target's refinement, a correction at a time: [`Refiner::point`] is where the next
/// residual is needed (while [`Refiner::wants_residual`]), and [`Refiner::step`] applies the
/// correction computed from it. Whoever holds the data computes the residuals: [`refine`] from
/// X in memory, `crate::stream` in one pass over the file per round for all targets at once.
///
/// The stopping rules: stop when the correction is below ε relative (converged), when the next
/// one is predicted to be (this correction times the contraction below ε: it saves the O(n·d)
/// residual that would only confirm convergence), when a correction fails to halve the previous
/// one (no more progress: the noise level of the correction solves is reached, the rule of
/// Demmel et al.), or when it grows (the iteration diverges; that correction is not applied).
#[derive(Debug, Clone)]
pub(crate) struct Refiner {
    constants: Constants,
    w: Col<f64>,
    /// b in double-double: see the module docs ("The intercept").
    b: Dd,
    max_steps: usize,
    column_norms: Col<f64>,
    contraction: f64,
    previous: f64,
    steps: usize,
    last: f64,
    done: bool,
}

impl Refiner {
    /// Starts from (w₀, b₀) for at most `max_steps` corrections. `column_norms` are ‖S^½Xc eⱼ‖
    /// (any positive weights work) and define the norm in which corrections are compared;
    /// `contraction` estimates the factor by which one correction shrinks the error (κ·ε for
    /// the backend's factor, with a safety factor).
    pub fn new(
        constants: Constants,
        (w0, b0): (Col<f64>, f64),
        max_steps: usize,
        column_norms: Col<f64>,
        contraction: f64,
    ) -> Self {
        // A column whose mean is large against its spread (offset ratio ρⱼ = |x̄ⱼ|/sdⱼ, sdⱼ =
        // ‖S^½Xc eⱼ‖/√S) was centred with an f64 mean off by up to ε·|x̄ⱼ|, so the factored
        // matrix carries a relative error of up to about ε·ρⱼ whatever its κ: one correction
        // shrinks the error by no more than that (measured 6.8e-7 per step at ρ = 10¹³).
        // Predicting convergence from κ·ε alone stopped refinement at 5e-13 there instead of at
        // the rounding of w.
        let contraction = if constants.intercept {
            let root_s = constants.weight_sum.sqrt();
            (0..column_norms.nrows())
                .filter(|&j| column_norms[j] > 0.0)
                .map(|j| f64::EPSILON * constants.x_mean[j].abs() * root_s / column_norms[j])
                .fold(contraction, f64::max)
        } else {
            contraction
        };
        let b = Dd::new(if constants.intercept { b0 } else { 0.0 });
        Self {
            constants,
            w: w0,
            b,
            max_steps,
            column_norms,
            contraction,
            previous: f64::INFINITY,
            steps: 0,
            last: f64::INFINITY,
            done: false,
        }
    }

    /// Whether another residual is wanted.
    pub fn wants_residual(&self) -> bool {
        !self.done && self.steps < self.max_steps
    }

    /// The current (w, b): where the next residual is computed.
    pub fn point(&self) -> (ColRef<'_, f64>, Dd) {
        (self.w.as_ref(), self.b)
    }

    /// One correction from the residual sums at [`Refiner::point`] (`means`: the column means
    /// in double-double); `correct(r)` must solve (XcᵀSXc + SλI)·δ = r with the backend's
    /// factor.
    pub fn step(
        &mut self,
        sums: &ResidualSums,
        means: &[Dd],
        correct: impl FnOnce(Col<f64>) -> Col<f64>,
    ) {
        let c = &self.constants;
        let (rhs, h) = sums.correction(means, self.w.as_ref(), c.weight_sum, c.lambda);
        let dw = correct(rhs);
        let db = if c.intercept {
            h / c.weight_sum - crate::linalg::dot(c.x_mean.as_ref(), dw.as_ref())
        } else {
            0.0
        };
        let scaled = |v: ColRef<'_, f64>| {
            (0..v.nrows())
                .map(|j| (v[j] * self.column_norms[j]).abs())
                .fold(0.0, f64::max)
        };
        let size = scaled(self.w.as_ref());
        let mut ratio = if size > 0.0 {
            scaled(dw.as_ref()) / size
        } else {
            scaled(dw.as_ref())
        };
        if self.b.hi != 0.0 {
            ratio = ratio.max((db / self.b.hi).abs());
        }
        self.last = ratio;
        if !ratio.is_finite() || ratio >= self.previous {
            self.done = true;
            return;
        }
        self.w += &dw;
        self.b = self.b + Dd::new(db);
        self.steps += 1;
        if ratio <= f64::EPSILON
            || ratio * self.contraction <= f64::EPSILON
            || ratio > 0.5 * self.previous
        {
            self.done = true;
        }
        self.previous = ratio;
    }

    /// What refinement did.
    pub fn finish(self) -> Refinement {
        Refinement {
            coef: self.w,
            intercept: self.b.to_f64(),
            steps: self.steps,
            last_correction: self.last,
        }
    }
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

/// Runs `refiner` to its end on an in-memory problem: one pass over X per correction, with the
/// problem's two-part column means as double-doubles.
pub(crate) fn refine(
    problem: &RidgeProblem<'_>,
    mut refiner: Refiner,
    mut correct: impl FnMut(Col<f64>) -> Col<f64>,
) -> Refinement {
    let means = two_part_means(problem);
    while refiner.wants_residual() {
        let sums = ResidualSums::of_problem(problem, refiner.point());
        refiner.step(&sums, &means, &mut correct);
    }
    refiner.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The right-hand side of the correction equation and h at (w, b).
    fn optimality_residual(
        problem: &RidgeProblem<'_>,
        means: &[Dd],
        w: ColRef<'_, f64>,
        b: Dd,
    ) -> (Col<f64>, f64) {
        ResidualSums::of_problem(problem, (w, b)).correction(
            means,
            w,
            problem.weight_sum(),
            problem.lambda(),
        )
    }

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
