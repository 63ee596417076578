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
//! The residual is a sum over rows ([`ResidualSums`]: gⱼ = Σᵢ xᵢⱼsᵢeᵢ and h = Σᵢ sᵢeᵢ in
//! double-double), so it can be accumulated over row blocks, and the iteration is a state
//! machine ([`Refiner`]) that asks for one residual at a time: [`refine`] drives it from X in
//! memory, `crate::stream` from a file, one more pass over the file per round of corrections
//! (all targets in the same pass).

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

/// The weighted column means x̄ = XᵀS·1/S in double-double, for the correction equation.
///
/// Why not the problem's f64 x̄: with a large offset (timestamps, X + 1e15) the f64 mean is off
/// by up to ulp(x̄)/2 (0.06 at 1e15), and the intercept b, an f64 of the same size, cannot absorb
/// the residual's mean either; then g − x̄·h = Σᵢ sᵢ(xᵢ − x̄)eᵢ + (x̄_exact − x̄)·h, and the second
/// term moved the fixed point of refinement by 1e-7 relative. With x̄ exact to ~2⁻¹⁰⁴, the w of
/// the fixed point is the exact minimiser of J for the f64 data whatever b rounds to.
pub fn column_means(problem: &RidgeProblem<'_>) -> Vec<Dd> {
    let x = problem.x();
    let s = problem.weight_sum();
    let mut buf = Vec::new();
    (0..problem.n_features())
        .map(|j| {
            let c = column(x, j, &mut buf);
            let sum = match problem.weights() {
                Some(w) => c.iter().zip(w.iter()).fold(Dd::default(), |acc, (&x, &s)| {
                    let (p, e) = two_prod(x, s);
                    acc + Dd { hi: p, lo: e }
                }),
                None => c
                    .iter()
                    .fold(Dd::default(), |acc, &x| acc + Dd { hi: x, lo: 0.0 }),
            };
            sum / s
        })
        .collect()
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
    #[cfg(any(feature = "npy", feature = "csv"))]
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
    #[cfg(any(feature = "npy", feature = "csv"))]
    pub fn zeros(d: usize) -> Self {
        Self {
            g: vec![Dd::default(); d],
            h: Dd::default(),
        }
    }

    /// The sums over `rows` at (w, b) (b = 0 without an intercept). Costs about 45·n·d flops;
    /// on x86-64 CPUs with FMA and AVX2 a version compiled for them (hardware TwoProduct,
    /// vectorised) is chosen at run time.
    pub fn of_rows(rows: Rows<'_>, point: (ColRef<'_, f64>, f64), intercept: bool) -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2")
        {
            // SAFETY: the CPU supports the features `sums_fma` is compiled for.
            return unsafe { sums_fma(rows, point, intercept) };
        }
        sums_kernel(rows, point, intercept)
    }

    /// The sums over an in-memory problem's rows at (w, b).
    pub fn of_problem(problem: &RidgeProblem<'_>, (w, b): (ColRef<'_, f64>, f64)) -> Self {
        let intercept = problem.fit_intercept();
        let b = if intercept { b } else { 0.0 };
        let rows = Rows {
            x: problem.x(),
            y: problem.y(),
            weights: problem.weights(),
        };
        Self::of_rows(rows, (w, b), intercept)
    }

    /// Adds the sums of other rows.
    #[cfg(any(feature = "npy", feature = "csv"))]
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
unsafe fn sums_fma(rows: Rows<'_>, point: (ColRef<'_, f64>, f64), intercept: bool) -> ResidualSums {
    sums_kernel(rows, point, intercept)
}

/// Lanes of independent double-double accumulators in a reduction (for vectorisation).
const LANES: usize = 4;

#[inline(always)]
fn sums_kernel(rows: Rows<'_>, (w, b): (ColRef<'_, f64>, f64), intercept: bool) -> ResidualSums {
    let Rows { x, y, weights } = rows;
    let (n, d) = (x.nrows(), x.ncols());
    let mut buf = Vec::new();
    // e = y − b − X·w, column by column (each entry an independent double-double).
    let mut hi: Vec<f64> = y.iter().copied().collect();
    let mut lo = vec![0.0; n];
    for (h, l) in hi.iter_mut().zip(lo.iter_mut()) {
        (*h, *l) = two_sum(*h, -b);
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
    if let Some(s) = weights {
        for (i, (h, l)) in hi.iter_mut().zip(lo.iter_mut()).enumerate() {
            let e = Dd { hi: *h, lo: *l } * s[i];
            (*h, *l) = (e.hi, e.lo);
        }
    }
    let h = if intercept {
        dd_dot(&hi, &lo, None)
    } else {
        Dd::default()
    };
    let g = (0..d)
        .map(|j| dd_dot(&hi, &lo, Some(column(x, j, &mut buf))))
        .collect();
    ResidualSums { g, h }
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

/// Σᵢ (hiᵢ + loᵢ)·cᵢ (or Σᵢ (hiᵢ + loᵢ) without c) in double-double, over [`LANES`] independent
/// accumulators.
#[inline(always)]
fn dd_dot(hi: &[f64], lo: &[f64], c: Option<&[f64]>) -> Dd {
    let mut acc = [Dd::default(); LANES];
    let term = |i: usize| {
        let e = Dd {
            hi: hi[i],
            lo: lo[i],
        };
        match c {
            Some(c) => e * c[i],
            None => e,
        }
    };
    let full = hi.len() / LANES * LANES;
    for start in (0..full).step_by(LANES) {
        for (k, a) in acc.iter_mut().enumerate() {
            *a = *a + term(start + k);
        }
    }
    let mut total = Dd::default();
    for i in full..hi.len() {
        total = total + term(i);
    }
    acc.iter().fold(total, |t, a| t + *a)
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
    b: f64,
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
        let b = if constants.intercept { b0 } else { 0.0 };
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
    pub fn point(&self) -> (ColRef<'_, f64>, f64) {
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
        if self.b != 0.0 {
            ratio = ratio.max((db / self.b).abs());
        }
        self.last = ratio;
        if !ratio.is_finite() || ratio >= self.previous {
            self.done = true;
            return;
        }
        self.w += &dw;
        self.b += db;
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
            intercept: self.b,
            steps: self.steps,
            last_correction: self.last,
        }
    }
}

/// Runs `refiner` to its end on an in-memory problem: one pass over X per correction, with the
/// column means in double-double ([`column_means`]).
pub(crate) fn refine(
    problem: &RidgeProblem<'_>,
    mut refiner: Refiner,
    mut correct: impl FnMut(Col<f64>) -> Col<f64>,
) -> Refinement {
    let means = if problem.fit_intercept() && refiner.wants_residual() {
        column_means(problem)
    } else {
        vec![Dd::default(); problem.n_features()]
    };
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
        b: f64,
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
    fn the_residual_vanishes_at_the_exact_solution_and_matches_the_gradient() {
        // y = 1 + 2x exactly, with large offsets: at (w, b) = (2, 1) every residual is 0.
        let x = faer::Mat::from_fn(5, 1, |i, _| 1e8 + i as f64);
        let y = Col::from_fn(5, |i| 1.0 + 2.0 * x[(i, 0)]);
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        let (r, h) = optimality_residual(&p, &column_means(&p), faer::col![2.0].as_ref(), 1.0);
        assert_eq!((r[0], h), (0.0, 0.0));
        // Elsewhere −h/S = ∂J/∂b and −rhs/S = ∇_w J − x̄·∂J/∂b = −(1/S)·XcᵀS·e + λw, which for
        // e = 0.5·x − 2 on x = 10⁸ + (0..5) is −0.5·var(x) + λ·w = −1 + 0.75 exactly. The f64
        // gradient loses every digit of it to cancellation (terms of 10¹⁶); double-double does not.
        let p = p.with_lambda(0.5).unwrap();
        let w = faer::col![1.5];
        let (r, h) = optimality_residual(&p, &column_means(&p), w.as_ref(), 3.0);
        let (_, gb) = p.gradient(w.as_ref(), 3.0);
        assert!((-h / p.weight_sum() - gb).abs() <= 1e-15 * gb.abs());
        assert_eq!(-r[0] / p.weight_sum(), -0.25);
    }
}
