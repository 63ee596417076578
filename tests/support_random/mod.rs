//! Shared helpers for the property tests (`tests/agreement.rs`, `tests/deterministic.rs`,
//! `tests/stochastic.rs`, `tests/invariances.rs`, `tests/direct.rs`).
//!
//! [`cases`] holds the random problems ([`Case`], [`Data`]) and the strategies that draw them.
//! Everything else here is computed *independently* of the library's own centring, moment and
//! solver code, so that the tests judge the library against the objective as the README states it ("The objective")
//! rather than against itself:
//!
//! - [`weighted_design`]: √s ∘ (X − 𝟙x̄ᵀ) (or √s ∘ X without an intercept), centred in the test;
//! - [`Spectrum`]: the extreme eigenvalues of the regularised Hessian H = XcᵀSXc/S + λI from an
//!   SVD of that matrix, hence κ_H, μ and L;
//! - [`gradient_floor`]: a first-order bound on the rounding error of `RidgeProblem::gradient`,
//!   so that assertions on computed gradient norms are not defeated by rounding.
#![allow(dead_code)]

mod cases;
pub use cases::*;

use faer::{Col, ColRef, Mat, MatRef, Par};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tikhonov::RidgeProblem;

/// Unit roundoff of f64 (the spacing of floats at 1, i.e. 2ε_mach in Higham's u = ε/2 notation).
pub const EPS: f64 = f64::EPSILON;

/// Sample weights for property tests: each weight is 0 with probability `zero_prob`, otherwise
/// uniform in [0.2, 5); at least two weights are kept positive so that S > 0 and a centred
/// design can be nonzero.
pub fn random_weights(n: usize, zero_prob: f64, seed: u64) -> Col<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut s = Col::from_fn(n, |_| {
        if rng.random::<f64>() < zero_prob {
            0.0
        } else {
            rng.random_range(0.2..5.0)
        }
    });
    for i in 0..n.min(2) {
        if s[i] == 0.0 {
            s[i] = 1.0;
        }
    }
    s
}

/// Number of strictly positive weights (n without weights).
pub fn positive_count(weights: Option<&Col<f64>>, n: usize) -> usize {
    weights.map_or(n, |s| s.iter().filter(|v| **v > 0.0).count())
}

/// Weight of row i (1 without weights).
pub fn weight(weights: Option<ColRef<'_, f64>>, i: usize) -> f64 {
    weights.map_or(1.0, |s| s[i])
}

/// Weighted means x̄ (d) and ȳ, two-pass (plain mean, then a correction pass), computed here
/// rather than taken from the library. Zero when `intercept` is false.
pub fn weighted_means(
    x: MatRef<'_, f64>,
    y: ColRef<'_, f64>,
    weights: Option<ColRef<'_, f64>>,
    intercept: bool,
) -> (Col<f64>, f64) {
    let (n, d) = (x.nrows(), x.ncols());
    if !intercept {
        return (Col::zeros(d), 0.0);
    }
    let total: f64 = (0..n).map(|i| weight(weights, i)).sum();
    let mean_of = |v: &dyn Fn(usize) -> f64| -> f64 {
        let m0 = (0..n).map(|i| weight(weights, i) * v(i)).sum::<f64>() / total;
        m0 + (0..n)
            .map(|i| weight(weights, i) * (v(i) - m0))
            .sum::<f64>()
            / total
    };
    let xm = Col::from_fn(d, |j| mean_of(&|i| x[(i, j)]));
    let ym = mean_of(&|i| y[i]);
    (xm, ym)
}

/// √s ∘ (X − 𝟙x̄ᵀ) with the weighted means computed here (√s ∘ X without an intercept), and the
/// matching √s ∘ (y − ȳ). Then H = MᵀM/S + λI and the optimum solves (MᵀM + SλI)w = Mᵀv.
pub fn weighted_design(
    x: MatRef<'_, f64>,
    y: ColRef<'_, f64>,
    weights: Option<ColRef<'_, f64>>,
    intercept: bool,
) -> (Mat<f64>, Col<f64>) {
    let (xm, ym) = weighted_means(x, y, weights, intercept);
    let m = Mat::from_fn(x.nrows(), x.ncols(), |i, j| {
        weight(weights, i).sqrt() * (x[(i, j)] - xm[j])
    });
    let v = Col::from_fn(x.nrows(), |i| weight(weights, i).sqrt() * (y[i] - ym));
    (m, v)
}

/// The extreme eigenvalues of H = XcᵀSXc/S + λI (d × d), and the smallest of the kernel
/// matrix K/S = Xc·S·Xcᵀ/S + λI (n × n) that the dual route factors (the largest is L too).
#[derive(Debug, Clone, Copy)]
pub struct Spectrum {
    /// L = σ_max²/S + λ.
    pub l: f64,
    /// μ = σ_min²/S + λ (σ_min = 0 when d > rank).
    pub mu: f64,
    /// μ_K = σ_n²/S + λ, the smallest eigenvalue of K/S: λ when n > d; with an intercept the
    /// centred design has the null vector √s on the sample side, so μ_K ≈ λ then as well.
    pub mu_kernel: f64,
}

impl Spectrum {
    /// From an SVD of the weighted, centred design (computed in the test, not by the library).
    /// When d exceeds the number of rows the missing singular values are zero; the SVD's own
    /// rounding (≈ ε·σ_max absolute) only matters when σ_min²/S is below ε·L, and then μ ≈ λ.
    pub fn of(
        x: MatRef<'_, f64>,
        weights: Option<ColRef<'_, f64>>,
        intercept: bool,
        lambda: f64,
    ) -> Self {
        let y = Col::<f64>::zeros(x.nrows());
        let (m, _) = weighted_design(x, y.as_ref(), weights, intercept);
        let total: f64 = (0..x.nrows()).map(|i| weight(weights, i)).sum();
        let sv = m
            .singular_values()
            .expect("SVD of a small dense matrix converges");
        let smax = sv.first().copied().unwrap_or(0.0);
        let smin = if x.ncols() > sv.len() {
            0.0
        } else {
            sv.last().copied().unwrap_or(0.0)
        };
        let sn = if x.nrows() > sv.len() {
            0.0
        } else {
            sv.last().copied().unwrap_or(0.0)
        };
        Self {
            l: smax * smax / total + lambda,
            mu: smin * smin / total + lambda,
            mu_kernel: sn * sn / total + lambda,
        }
    }

    /// κ_H = L/μ (∞ when H is singular).
    pub fn kappa(&self) -> f64 {
        if self.mu > 0.0 {
            self.l / self.mu
        } else {
            f64::INFINITY
        }
    }

    /// κ_K = L/μ_K, the condition number of the dual (kernel) system.
    pub fn kappa_kernel(&self) -> f64 {
        if self.mu_kernel > 0.0 {
            self.l / self.mu_kernel
        } else {
            f64::INFINITY
        }
    }
}

/// C = 10·√((n + d)·d), the constant of the direct-backend tolerance (see `tests/agreement.rs`:
/// the worst-case constants of the backward-error theorems grow like m·d with m = n + d rows;
/// rounding errors accumulate like a random walk, hence the square root; the factor 10 covers
/// the constants of the perturbation bounds and the comparison of two approximate solutions).
pub fn direct_constant(n: usize, d: usize) -> f64 {
    10.0 * (((n + d) * d) as f64).sqrt()
}

/// The forward-error bound of a backward-stable direct solve, relative to ‖w*‖:
/// C·ε·κ_H·(1 + ρ) with ρ = ‖√s∘yc‖/(√(S·L)·‖w*‖) (see `tests/agreement.rs` for the derivation).
pub fn primal_tolerance(problem: &RidgeProblem<'_>, spectrum: &Spectrum, w_norm: f64) -> f64 {
    tolerance_scale(problem, spectrum, w_norm) * spectrum.kappa()
}

/// C·ε·(1 + ρ): the factor that multiplies a backend's condition number in its tolerance.
pub fn tolerance_scale(problem: &RidgeProblem<'_>, spectrum: &Spectrum, w_norm: f64) -> f64 {
    let (_, v) = weighted_design(
        problem.x(),
        problem.y(),
        problem.weights(),
        problem.fit_intercept(),
    );
    let rho = v.norm_l2() / ((problem.weight_sum() * spectrum.l).sqrt() * w_norm);
    direct_constant(problem.n_samples(), problem.n_features()) * EPS * (1.0 + rho)
}

/// A first-order bound on the rounding error of the library's `gradient_norm` (which forms the
/// residual r = y − Xw − b from the *uncentred* X, then (1/S)·Xᵀ(s∘r) and Σsᵢrᵢ/S).
///
/// Standard summation bounds (Higham, ch. 3): each rᵢ carries an error of at most
/// γ_{d+2}·aᵢ with aᵢ = |yᵢ| + |xᵢ|ᵀ|w| + |b|, and the inner products add γ_n·|X|ᵀ(s∘|r|).
/// When (w, b) has an error δb in b alone (b recomputed as ȳ − x̄ᵀw), the exact gradient moves by
/// ‖(x̄, 1)‖·|δb| with |δb| ≲ γ_{n+d+2}·[`intercept_rounding_scale`]; that term is added too. A factor 2
/// covers the second-order terms. This is a worst-case bound, so it is pessimistic by orders of
/// magnitude on typical data: it is used as additive slack, never as the quantity under test.
pub fn gradient_floor(problem: &RidgeProblem<'_>, w: ColRef<'_, f64>, b: f64) -> f64 {
    let x = problem.x();
    let y = problem.y();
    let (n, d) = (x.nrows(), x.ncols());
    let s_total = problem.weight_sum();
    let gamma = |k: usize| k as f64 * EPS / (1.0 - k as f64 * EPS);
    let r = problem.residuals(w, b);
    let mut gw = Col::<f64>::zeros(d);
    let mut gb = 0.0;
    for i in 0..n {
        let s = problem.weight(i);
        if s == 0.0 {
            continue;
        }
        let a: f64 =
            y[i].abs() + (0..d).map(|j| x[(i, j)].abs() * w[j].abs()).sum::<f64>() + b.abs();
        let e = s * (gamma(d + 2) * a + gamma(n) * r[i].abs());
        gb += e;
        for j in 0..d {
            gw[j] += x[(i, j)].abs() * e;
        }
    }
    let gw = gw.norm_l2() / s_total + EPS * problem.lambda() * w.norm_l2();
    let gb = gb / s_total;
    let (xm, _) = weighted_means(x, y, problem.weights(), problem.fit_intercept());
    let db = gamma(n + d + 2) * intercept_rounding_scale(problem, w);
    2.0 * ((gw * gw + gb * gb).sqrt() + db * (1.0 + xm.norm_l2()))
}

/// The scale of the rounding error of b = ȳ − x̄ᵀw: the weighted means of the *magnitudes*,
/// mean(|y|) + Σⱼ mean(|xⱼ|)·|wⱼ| (a computed mean is accurate relative to the mean of the
/// magnitudes of its terms, not to the mean itself, which may be ~0). Zero without an intercept.
pub fn intercept_rounding_scale(problem: &RidgeProblem<'_>, w: ColRef<'_, f64>) -> f64 {
    if !problem.fit_intercept() {
        return 0.0;
    }
    let (x, y) = (problem.x(), problem.y());
    let s_total = problem.weight_sum();
    let mean_abs = |v: &dyn Fn(usize) -> f64| -> f64 {
        (0..x.nrows())
            .map(|i| problem.weight(i) * v(i).abs())
            .sum::<f64>()
            / s_total
    };
    mean_abs(&|i| y[i])
        + (0..x.ncols())
            .map(|j| mean_abs(&|i| x[(i, j)]) * w[j].abs())
            .sum::<f64>()
}

/// ‖a − b‖₂.
pub fn distance(a: ColRef<'_, f64>, b: ColRef<'_, f64>) -> f64 {
    (a - b).norm_l2()
}

/// Solves the symmetric positive definite system A·x = rhs with faer's Cholesky (independent of
/// the library's solvers); panics if A is not positive definite.
pub fn spd_solve(a: MatRef<'_, f64>, rhs: ColRef<'_, f64>) -> Col<f64> {
    use faer::linalg::solvers::Solve;
    let llt = a
        .llt(faer::Side::Lower)
        .expect("test system is positive definite");
    llt.solve(rhs.as_mat()).col(0).to_owned()
}

/// Parallelism used in these tests: sequential, so that concurrently running test threads do not
/// oversubscribe the (small) machine and results do not depend on thread scheduling.
pub const PAR: Par = Par::Seq;
