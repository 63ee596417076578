//! Invariances of the ridge solution and the λ mappings of the README's "The objective" table that can
//! be checked without external libraries, for the direct backends `cholesky` and `qr`.
//!
//! # Tolerances
//!
//! Each property compares two solutions of problems that are equal *in exact arithmetic* (or
//! related by an exact formula). Each computed solution is within C·ε·κ_H·(1 + ρ)·‖w*‖ of the
//! exact one (the bound derived in `tests/agreement.rs`: κ_H is the condition number of
//! H = XcᵀSXc/S + λI measured by an SVD in the test, ρ = ‖√s∘yc‖/(√(S·L)·‖w*‖) accounts for
//! cancellation in the right-hand side, C = 10·√((n + d)·d)), so two of them differ by at most
//! twice that. The problems here are well conditioned (κ(Xc) ≤ 10; tall designs with
//! λ ≥ 10⁻³, wide ones with λ ≥ 10⁻²; n ≤ 157, d ≤ 15), which puts these tolerances around
//! 10⁻¹³–10⁻¹⁰ relative: far below any effect a wrong formula would have (a relative change of
//! 10⁻⁶ in λ, or a weight of 2.01 instead of 2, fails them), and each test also checks that its
//! tolerance is below 10⁻⁶, so it can never silently become vacuous. Observed differences stay
//! 40–100 times below the tolerances. The intercept b = ȳ − x̄ᵀw inherits ‖x̄‖·‖Δw‖ plus the
//! rounding of that formula, C·ε·(mean|y| + Σⱼ mean|xⱼ|·|wⱼ|).
//!
//! Where a transformation itself rounds (y + c, a·y), the rounding is a backward perturbation
//! of the targets of relative size ε·(‖y‖∞ + |c|)/rms(yc), which multiplies the same condition
//! number; the tolerance is scaled by that factor.

#[path = "support_random/mod.rs"]
mod support_random;

use faer::linalg::matmul::matmul;
use faer::{Accum, Col, ColRef, Mat};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use support_random::{
    Case, Data, EPS, PAR, config, direct_constant, distance, intercept_rounding_scale,
    noise_strategy, primal_tolerance, spd_solve, weighted_design, weighted_means,
    well_conditioned_case,
};
use tikhonov::solvers;
use tikhonov::{Fit, RidgeProblem};

/// The direct backends the invariances are checked on.
const BACKENDS: [&str; 2] = ["cholesky", "qr"];

/// The largest tolerance an invariance may use: beyond it the check would lose its teeth.
const MAX_TOL: f64 = 1e-6;

/// Solves with a named backend; a direct backend must not fail on these problems.
fn solve(name: &str, problem: &RidgeProblem<'_>) -> Result<Fit, TestCaseError> {
    let solver = solvers::by_name(name, &Default::default()).expect("registered backend");
    solver.solve(problem).map_err(|e| {
        TestCaseError::fail(format!("{name} failed on a well-conditioned problem: {e}"))
    })
}

/// The derived tolerance of a problem: relative bound on ‖w − w*‖/‖w*‖ for one solve, and the
/// intercept scale (‖x̄‖, C·ε·(mean|y| + Σⱼ mean|xⱼ|·|wⱼ|)).
struct Tolerance {
    rel: f64,
    x_mean_norm: f64,
    intercept_rounding: f64,
}

impl Tolerance {
    fn new(data: &Data, problem: &RidgeProblem<'_>, fit: &Fit) -> Result<Self, TestCaseError> {
        Self::with_limit(data, problem, fit, MAX_TOL)
    }

    /// As [`Tolerance::new`], with another ceiling on the tolerance.
    fn with_limit(
        data: &Data,
        problem: &RidgeProblem<'_>,
        fit: &Fit,
        limit: f64,
    ) -> Result<Self, TestCaseError> {
        let spectrum = data.spectrum(problem.lambda(), problem.fit_intercept());
        let w_norm = fit.coef.norm_l2();
        prop_assert!(w_norm > 0.0, "w* = 0 would make the comparison vacuous");
        let rel = primal_tolerance(problem, &spectrum, w_norm);
        prop_assert!(
            rel <= limit,
            "tolerance {rel:e} too loose (κ_H = {:e})",
            spectrum.kappa()
        );
        let (xm, _) = weighted_means(
            problem.x(),
            problem.y(),
            problem.weights(),
            problem.fit_intercept(),
        );
        let c = direct_constant(problem.n_samples(), problem.n_features());
        let scale = intercept_rounding_scale(problem, fit.coef.as_ref());
        Ok(Self {
            rel,
            x_mean_norm: xm.norm_l2(),
            intercept_rounding: c * EPS * scale,
        })
    }
}

/// Asserts that `got` matches `want` = (w, b) with the coefficients scaled by `a` and the
/// intercept scaled by `a` and shifted by `c`, within `factor` times two single-solve tolerances.
#[allow(clippy::too_many_arguments)]
fn assert_same(
    what: &str,
    name: &str,
    got: &Fit,
    want: (ColRef<'_, f64>, f64),
    tol: &Tolerance,
    a: f64,
    c: f64,
    factor: f64,
) -> Result<(), TestCaseError> {
    let (want_w, want_b) = want;
    let w_want = Col::from_fn(want_w.nrows(), |j| a * want_w[j]);
    let w_norm = w_want.norm_l2();
    let dw = distance(got.coef.as_ref(), w_want.as_ref());
    let w_tol = 2.0 * tol.rel * factor * w_norm;
    prop_assert!(
        dw <= w_tol,
        "{what} ({name}): ‖Δw‖/‖w‖ = {:e} > {:e}",
        dw / w_norm,
        w_tol / w_norm
    );
    let b_want = a * want_b + c;
    let b_tol = tol.x_mean_norm * w_tol + (a.abs() + factor) * tol.intercept_rounding;
    prop_assert!(
        (got.intercept - b_want).abs() <= b_tol,
        "{what} ({name}): intercept {} vs {b_want} (|Δ| = {:e} > {b_tol:e})",
        got.intercept,
        (got.intercept - b_want).abs()
    );
    Ok(())
}

/// Tall problems (n ≥ d + 2, n ≤ 157, any λ ≥ 10⁻³) and wide ones (n < d, λ ≥ 10⁻²) with
/// d ≤ 15, κ(Xc) ≤ 10, offsets up to 10 only with an intercept, noise 0, 0.1 or 1.
fn case() -> impl Strategy<Value = Case> {
    well_conditioned_case(15, 0.2, 140.0, noise_strategy())
}

// The property bodies; each is documented at its `proptest!` entry at the end of the file.

fn check_sample_permutation_leaves_the_fit_unchanged(case: Case) -> Result<(), TestCaseError> {
    let data = case.data();
    let mut order: Vec<usize> = (0..case.n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(case.seed));
    let permuted = data.rows(&order);
    for name in BACKENDS {
        let p = data.problem(case.lambda, case.fit_intercept);
        let fit = solve(name, &p)?;
        let tol = Tolerance::new(&data, &p, &fit)?;
        let other = solve(name, &permuted.problem(case.lambda, case.fit_intercept))?;
        assert_same(
            "permutation",
            name,
            &other,
            (fit.coef.as_ref(), fit.intercept),
            &tol,
            1.0,
            0.0,
            1.0,
        )?;
    }
    Ok(())
}

fn check_duplicating_every_row_leaves_the_fit_unchanged(case: Case) -> Result<(), TestCaseError> {
    let data = case.data();
    let twice: Vec<usize> = (0..2 * case.n).map(|i| i % case.n).collect();
    let doubled = data.rows(&twice);
    for name in BACKENDS {
        let p = data.problem(case.lambda, case.fit_intercept);
        let fit = solve(name, &p)?;
        let tol = Tolerance::new(&data, &p, &fit)?;
        let other = solve(name, &doubled.problem(case.lambda, case.fit_intercept))?;
        assert_same(
            "duplicated rows",
            name,
            &other,
            (fit.coef.as_ref(), fit.intercept),
            &tol,
            1.0,
            0.0,
            1.0,
        )?;
    }
    Ok(())
}

fn check_weight_two_is_a_duplicated_row(
    case: Case,
    pick: prop::sample::Index,
) -> Result<(), TestCaseError> {
    let data = case.data();
    let s = data.weights.clone().unwrap_or_else(|| Col::ones(case.n));
    // A row with a positive weight (row 0 always has one).
    let k = (0..case.n)
        .map(|i| (pick.index(case.n) + i) % case.n)
        .find(|&i| s[i] > 0.0)
        .expect("some weight is positive");
    let mut heavier = data.clone();
    heavier.weights = Some(Col::from_fn(
        case.n,
        |i| if i == k { 2.0 * s[i] } else { s[i] },
    ));
    let rows: Vec<usize> = (0..case.n).chain([k]).collect();
    let appended = data.rows(&rows);
    for name in BACKENDS {
        let p = heavier.problem(case.lambda, case.fit_intercept);
        let fit = solve(name, &p)?;
        let tol = Tolerance::new(&heavier, &p, &fit)?;
        let other = solve(name, &appended.problem(case.lambda, case.fit_intercept))?;
        assert_same(
            "weight 2 vs duplicate",
            name,
            &other,
            (fit.coef.as_ref(), fit.intercept),
            &tol,
            1.0,
            0.0,
            1.0,
        )?;
    }
    Ok(())
}

fn check_shifting_y_shifts_only_the_intercept(case: Case, c: f64) -> Result<(), TestCaseError> {
    // Without an intercept a shift of y is not absorbed: the property needs one.
    let case = Case {
        fit_intercept: true,
        ..case
    };
    let data = case.data();
    let mut shifted = data.clone();
    shifted.y = Col::from_fn(case.n, |i| data.y[i] + c);
    // Rounding of yᵢ + c: a target perturbation of relative size ε·(‖y‖∞ + |c|)/rms(yc).
    let factor = rounding_factor(&data, c);
    for name in BACKENDS {
        let p = data.problem(case.lambda, true);
        let fit = solve(name, &p)?;
        let tol = Tolerance::new(&data, &p, &fit)?;
        let other = solve(name, &shifted.problem(case.lambda, true))?;
        assert_same(
            "y + c",
            name,
            &other,
            (fit.coef.as_ref(), fit.intercept),
            &tol,
            1.0,
            c,
            factor,
        )?;
    }
    Ok(())
}

fn check_scaling_y_scales_w_and_b(
    case: Case,
    log_a: f64,
    negative: bool,
) -> Result<(), TestCaseError> {
    let a = if negative { -1.0 } else { 1.0 } * 10f64.powf(log_a);
    let data = case.data();
    let mut scaled = data.clone();
    scaled.y = Col::from_fn(case.n, |i| a * data.y[i]);
    for name in BACKENDS {
        let p = data.problem(case.lambda, case.fit_intercept);
        let fit = solve(name, &p)?;
        let tol = Tolerance::new(&data, &p, &fit)?;
        let other = solve(name, &scaled.problem(case.lambda, case.fit_intercept))?;
        assert_same(
            "a·y",
            name,
            &other,
            (fit.coef.as_ref(), fit.intercept),
            &tol,
            a,
            0.0,
            1.0,
        )?;
    }
    Ok(())
}

fn check_coefficient_norm_decreases_with_lambda(case: Case) -> Result<(), TestCaseError> {
    let data = case.data();
    // 10⁻³ … 10³, half a decade apart (wide problems start at 10⁻², as generated).
    let start = if case.n < case.d + 2 { -4 } else { -6 };
    let grid: Vec<f64> = (start..=6)
        .map(|k| 10f64.powf(f64::from(k) / 2.0))
        .collect();
    for name in BACKENDS {
        let mut last: Option<(f64, f64)> = None;
        let mut first_norm = None;
        for &lambda in &grid {
            let p = data.problem(lambda, case.fit_intercept);
            let fit = solve(name, &p)?;
            let tol = Tolerance::new(&data, &p, &fit)?;
            let norm = fit.coef.norm_l2();
            if let Some((prev, prev_tol)) = last {
                prop_assert!(
                    norm <= prev * (1.0 + prev_tol + tol.rel),
                    "{name}: ‖w(λ = {lambda:e})‖ = {norm:e} > previous {prev:e}"
                );
            }
            first_norm.get_or_insert(norm);
            last = Some((norm, tol.rel));
        }
        let (end, _) = last.expect("non-empty grid");
        prop_assert!(
            end < 0.5 * first_norm.unwrap(),
            "{name}: ‖w‖ barely moved over the grid"
        );
    }
    Ok(())
}

fn check_huge_lambda_sends_w_to_zero_and_b_to_the_mean(case: Case) -> Result<(), TestCaseError> {
    let lambda = 1e12;
    let data = case.data();
    let (m, v) = weighted_design(
        data.x.as_ref(),
        data.y.as_ref(),
        data.weights.as_ref().map(|s| s.as_ref()),
        case.fit_intercept,
    );
    let s_total: f64 = data.weights.as_ref().map_or(case.n as f64, |s| s.sum());
    let mut g = Col::<f64>::zeros(case.d);
    matmul(
        g.as_mat_mut(),
        Accum::Replace,
        m.transpose(),
        v.as_mat(),
        1.0 / s_total,
        PAR,
    );
    let a_norm = data.spectrum(0.0, case.fit_intercept).l;
    let (xm, ym) = weighted_means(
        data.x.as_ref(),
        data.y.as_ref(),
        data.weights.as_ref().map(|s| s.as_ref()),
        case.fit_intercept,
    );
    for name in BACKENDS {
        let p = data.problem(lambda, case.fit_intercept);
        let fit = solve(name, &p)?;
        // ρ ~ √λ here (w* ~ g/λ is tiny against ‖√s∘yc‖/√(S·L)), so C·ε·(1 + ρ) can reach
        // 10⁻⁵; the assertions below stay sharp because they are relative to ‖g‖/λ.
        let tol = Tolerance::with_limit(&data, &p, &fit, 1e-4)?;
        let g_over = g.norm_l2() / lambda;
        prop_assert!(
            fit.coef.norm_l2() <= g_over * (1.0 + tol.rel),
            "{name}: ‖w‖ = {:e} > ‖g‖/λ = {g_over:e}",
            fit.coef.norm_l2()
        );
        let limit = Col::from_fn(case.d, |j| g[j] / lambda);
        let allowed = a_norm / lambda * g_over + 2.0 * tol.rel * g_over;
        prop_assert!(
            distance(fit.coef.as_ref(), limit.as_ref()) <= allowed,
            "{name}: ‖w − g/λ‖ = {:e} > {allowed:e}",
            distance(fit.coef.as_ref(), limit.as_ref())
        );
        let b_tol = xm.norm_l2() * g_over * (1.0 + tol.rel) + tol.intercept_rounding;
        prop_assert!(
            (fit.intercept - ym).abs() <= b_tol,
            "{name}: b = {} vs ȳ = {ym} (|Δ| = {:e} > {b_tol:e})",
            fit.intercept,
            (fit.intercept - ym).abs()
        );
    }
    Ok(())
}

fn check_lambda_zero_without_intercept_is_least_squares(case: Case) -> Result<(), TestCaseError> {
    let data = case.data();
    let weights = data.weights.as_ref().map(|s| s.as_ref());
    let (m, v) = weighted_design(data.x.as_ref(), data.y.as_ref(), weights, false);
    let svd = m.thin_svd().expect("SVD converges");
    let sigma = svd.S().column_vector();
    // κ(Xc) ≤ 10 and weights in [0.2, 5) keep the nonzero singular values above σ₁/10³,
    // while the structurally zero ones (rank ≤ n − 1, zero weights) are O(ε·σ₁): a cut at
    // 10⁻⁸·σ₁ separates them unambiguously.
    let rank = sigma.iter().filter(|&&s| s > 1e-8 * sigma[0]).count();
    let mut w_ls = Col::<f64>::zeros(case.d);
    for k in 0..rank {
        let coef = svd.U().col(k).transpose() * &v / sigma[k];
        w_ls += svd.V().col(k) * faer::Scale(coef);
    }
    let kappa = (sigma[0] / sigma[rank - 1]).powi(2);
    let rel = direct_constant(case.n, case.d)
        * EPS
        * kappa
        * (1.0 + v.norm_l2() / (sigma[0] * w_ls.norm_l2()));
    prop_assert!(rel <= MAX_TOL, "tolerance {rel:e} too loose");
    let backends: &[&str] = if rank == case.d {
        &["cholesky", "qr", "svd"]
    } else {
        &["svd"]
    };
    for &name in backends {
        let fit = solve(name, &data.problem(0.0, false))?;
        prop_assert!(fit.intercept == 0.0);
        let err = distance(fit.coef.as_ref(), w_ls.as_ref());
        prop_assert!(
            err <= 2.0 * rel * w_ls.norm_l2(),
            "{name}: ‖w − w_ls‖/‖w_ls‖ = {:e} > {:e} (rank {rank} of {})",
            err / w_ls.norm_l2(),
            2.0 * rel,
            case.d
        );
    }
    Ok(())
}

fn check_rss_over_2m_convention_is_lambda_times_n(case: Case) -> Result<(), TestCaseError> {
    let data = Data {
        weights: None,
        ..case.data()
    };
    let lambda_prime = case.lambda * case.n as f64 * 1.7;
    let mut a = Mat::<f64>::zeros(case.d, case.d);
    matmul(
        a.as_mut(),
        Accum::Replace,
        data.x.transpose(),
        data.x.as_ref(),
        1.0,
        PAR,
    );
    for j in 0..case.d {
        a[(j, j)] += lambda_prime;
    }
    let mut rhs = Col::<f64>::zeros(case.d);
    matmul(
        rhs.as_mat_mut(),
        Accum::Replace,
        data.x.transpose(),
        data.y.as_mat(),
        1.0,
        PAR,
    );
    let theta = spd_solve(a.as_ref(), rhs.as_ref());
    for name in BACKENDS {
        let p = data.problem(lambda_prime / case.n as f64, false);
        let fit = solve(name, &p)?;
        let tol = Tolerance::new(&data, &p, &fit)?;
        let err = distance(fit.coef.as_ref(), theta.as_ref());
        prop_assert!(
            err <= 2.0 * tol.rel * theta.norm_l2(),
            "{name}: ‖w − θ‖/‖θ‖ = {:e} > {:e}",
            err / theta.norm_l2(),
            2.0 * tol.rel
        );
        prop_assert!(fit.intercept == 0.0);
    }
    Ok(())
}

fn check_sklearn_ridge_alpha_is_lambda_times_s(case: Case) -> Result<(), TestCaseError> {
    let data = case.data();
    let weights = data.weights.as_ref().map(|s| s.as_ref());
    let s_total: f64 = data.weights.as_ref().map_or(case.n as f64, |s| s.sum());
    let alpha = case.lambda * s_total * 0.6;
    let (m, v) = weighted_design(
        data.x.as_ref(),
        data.y.as_ref(),
        weights,
        case.fit_intercept,
    );
    let mut a = Mat::<f64>::zeros(case.d, case.d);
    matmul(
        a.as_mut(),
        Accum::Replace,
        m.transpose(),
        m.as_ref(),
        1.0,
        PAR,
    );
    for j in 0..case.d {
        a[(j, j)] += alpha;
    }
    let mut rhs = Col::<f64>::zeros(case.d);
    matmul(
        rhs.as_mat_mut(),
        Accum::Replace,
        m.transpose(),
        v.as_mat(),
        1.0,
        PAR,
    );
    let w = spd_solve(a.as_ref(), rhs.as_ref());
    let (xm, ym) = weighted_means(
        data.x.as_ref(),
        data.y.as_ref(),
        weights,
        case.fit_intercept,
    );
    let b = if case.fit_intercept {
        ym - xm.iter().zip(w.iter()).map(|(m, w)| m * w).sum::<f64>()
    } else {
        0.0
    };
    for name in BACKENDS {
        let p = data.problem(alpha / s_total, case.fit_intercept);
        let fit = solve(name, &p)?;
        let tol = Tolerance::new(&data, &p, &fit)?;
        assert_same(
            "sklearn Ridge(alpha)",
            name,
            &fit,
            (w.as_ref(), b),
            &tol,
            1.0,
            0.0,
            1.0,
        )?;
    }
    Ok(())
}

fn check_sgd_regressor_alpha_is_lambda(case: Case, seed: u64) -> Result<(), TestCaseError> {
    let data = case.data();
    let p = data.problem(case.lambda, case.fit_intercept);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w = Col::from_fn(case.d, |_| rand::Rng::random_range(&mut rng, -2.0..2.0));
    let b = if case.fit_intercept {
        rand::Rng::random_range(&mut rng, -5.0..5.0)
    } else {
        0.0
    };
    let s = |i: usize| data.weights.as_ref().map_or(1.0, |s| s[i]);
    let s_total: f64 = (0..case.n).map(s).sum();
    let mut loss = 0.0;
    let mut scale = 0.0;
    for i in 0..case.n {
        let pred: f64 = (0..case.d).map(|j| data.x[(i, j)] * w[j]).sum::<f64>() + b;
        let r = data.y[i] - pred;
        loss += s(i) * 0.5 * r * r;
        let mag: f64 = data.y[i].abs()
            + (0..case.d)
                .map(|j| (data.x[(i, j)] * w[j]).abs())
                .sum::<f64>()
            + b.abs();
        scale += s(i) * (r.abs() * mag);
    }
    let j_sklearn = loss / s_total + 0.5 * case.lambda * w.squared_norm_l2();
    let j = p.objective(w.as_ref(), b);
    // Each rᵢ carries (d + 2)·ε·(|yᵢ| + |xᵢ|ᵀ|w| + |b|), so rᵢ² carries twice that times |rᵢ|;
    // the sums add n·ε relative.
    let allowed =
        2.0 * (case.d as f64 + 2.0) * EPS * scale / s_total + 4.0 * case.n as f64 * EPS * j_sklearn;
    prop_assert!(
        (j - j_sklearn).abs() <= allowed,
        "J = {j:e} vs sklearn's {j_sklearn:e} (|Δ| = {:e} > {allowed:e})",
        (j - j_sklearn).abs()
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(48))]

    /// Reordering the samples (with their weights) changes neither w nor b.
    #[test]
    fn sample_permutation_leaves_the_fit_unchanged(case in case()) {
        check_sample_permutation_leaves_the_fit_unchanged(case)?;
    }

    /// Stacking the data twice keeps w and b at the same λ: J is a weighted *mean*.
    #[test]
    fn duplicating_every_row_leaves_the_fit_unchanged(case in case()) {
        check_duplicating_every_row_leaves_the_fit_unchanged(case)?;
    }

    /// Doubling the weight of one row is the same as appending a copy of it (with its weight;
    /// without weights the copy is plain, so the weighted and unweighted code paths meet).
    #[test]
    fn weight_two_is_a_duplicated_row(case in case(), pick in any::<prop::sample::Index>()) {
        check_weight_two_is_a_duplicated_row(case, pick)?;
    }

    /// y + c (with an intercept) changes only the intercept, by exactly c.
    #[test]
    fn shifting_y_shifts_only_the_intercept(case in case(), c in -1e3..1e3f64) {
        check_shifting_y_shifts_only_the_intercept(case, c)?;
    }

    /// a·y scales w and b by a.
    #[test]
    fn scaling_y_scales_w_and_b(case in case(), log_a in -2.0..2.0f64, negative in any::<bool>()) {
        check_scaling_y_scales_w_and_b(case, log_a, negative)?;
    }

    /// ‖w(λ)‖ is non-increasing in λ (‖w(λ)‖² = Σₖ (vₖᵀg)²/(hₖ + λ)² in H's eigenbasis), and it
    /// really decreases over the grid.
    #[test]
    fn coefficient_norm_decreases_with_lambda(case in case()) {
        check_coefficient_norm_decreases_with_lambda(case)?;
    }

    /// λ → ∞: w ≈ g/λ with g = XcᵀS·yc/S (so w → 0) and b → ȳ. Exactly,
    /// w = (A + λI)⁻¹g with A = XcᵀSXc/S ⪰ 0, so ‖w‖ ≤ ‖g‖/λ and ‖w − g/λ‖ ≤ ‖A‖·‖g‖/λ².
    #[test]
    fn huge_lambda_sends_w_to_zero_and_b_to_the_mean(case in case()) {
        check_huge_lambda_sends_w_to_zero_and_b_to_the_mean(case)?;
    }

    /// Without an intercept and with λ = 0, the fit is the least-squares solution of
    /// √s∘X·w ≈ √s∘y, computed here from faer's SVD as V·Σ⁺·Uᵀ(√s∘y) (tall, full-rank designs;
    /// `svd`, which documents the minimum-norm solution at λ = 0, is also checked on wide ones).
    #[test]
    fn lambda_zero_without_intercept_is_least_squares(case in case()) {
        check_lambda_zero_without_intercept_is_least_squares(case)?;
    }

    /// README, "The objective": minimising 1/(2m)·RSS + λ'/(2m)·‖θ‖² (no intercept, no weights) is solving
    /// (XᵀX + λ'I)θ = Xᵀy, which tikhonov does at λ = λ'/n.
    #[test]
    fn rss_over_2m_convention_is_lambda_times_n(case in case()) {
        check_rss_over_2m_convention_is_lambda_times_n(case)?;
    }

    /// README, "The objective": scikit-learn's `Ridge(alpha)` minimises ‖y − Xw − b‖²_S + α‖w‖², whose
    /// solution is (XcᵀSXc + αI)w = XcᵀS·yc, b = ȳ − x̄ᵀw (weighted centring); tikhonov gives
    /// it at λ = α/S. The normal equations are formed and solved here with faer.
    #[test]
    fn sklearn_ridge_alpha_is_lambda_times_s(case in case()) {
        check_sklearn_ridge_alpha_is_lambda_times_s(case)?;
    }

    /// README, "The objective": scikit-learn's `SGDRegressor(penalty="l2", alpha)` minimises
    /// (1/n)·Σ ½(yᵢ − xᵢᵀw − b)² + (α/2)‖w‖², which is J itself at λ = α: the two objectives agree
    /// at every (w, b) (here with weights too, sample_weight-style), up to summation rounding.
    #[test]
    fn sgd_regressor_alpha_is_lambda(case in case(), seed in any::<u64>()) {
        check_sgd_regressor_alpha_is_lambda(case, seed)?;
    }
}

/// 1 + (‖y‖∞ + |c|)/rms(yc): the relative size of the rounding of y + c against the centred
/// targets, in units of ε.
fn rounding_factor(data: &Data, c: f64) -> f64 {
    let (_, v) = weighted_design(
        data.x.as_ref(),
        data.y.as_ref(),
        data.weights.as_ref().map(|s| s.as_ref()),
        true,
    );
    let s_total: f64 = data
        .weights
        .as_ref()
        .map_or(data.y.nrows() as f64, |s| s.sum());
    let rms = v.norm_l2() / s_total.sqrt();
    let y_max = data.y.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    1.0 + (y_max + c.abs()) / rms
}
