//! Every backend agrees with the reference (`qr`, Householder QR of the augmented centred system)
//! on random ridge problems, within tolerances derived from each problem (the tolerances of `tests/support_random/mod.rs`, the measures of `src/compare.rs`).
//!
//! # The problems
//!
//! [`Synthetic`](tikhonov::data::Synthetic) designs (drawn by `support_random::general_case`)
//! with n ≤ 300, d ≤ 40 (including d > n, then always with λ > 0), a condition number κ(Xc)
//! of the centred design log-uniform in [1, 10⁶], column offsets (to exercise centring), a
//! true intercept, noise 0, 0.1 or 1, λ log-uniform in [10⁻¹⁰, 10²] or λ = 0 (only when the
//! positive-weight rows outnumber d + 1), random sample weights (≈20 % of them zero) on or
//! off, and the intercept on or off. The true coefficients are N(0, 1), so
//! ‖w*‖ > 0 and every tolerance below is checked to be a small fraction of ‖w*‖: an all-zero
//! answer fails every assertion.
//!
//! # The tolerances
//!
//! The conditioning is measured in the test, from an SVD of √s∘(X − 𝟙x̄ᵀ) centred here (not by
//! the library): H = XcᵀSXc/S + λI has extreme eigenvalues L = σ_max²/S + λ and μ = σ_min²/S + λ,
//! κ_H = L/μ. The optimum is the least-squares solution of the augmented system
//! A = [√s∘Xc; √(Sλ)·I], b = [√s∘yc; 0], with κ(A) = √κ_H and ‖A‖ = √(S·L).
//!
//! *Direct backends.* Householder QR is backward stable for least squares and the Gram route is
//! backward stable for the normal equations AᵀA·w = Aᵀb (Higham, *Accuracy and Stability of
//! Numerical Algorithms*, Thms 20.3 and 10.3, §20.4). Feeding a backward error of relative size
//! c·ε into the perturbation bounds (Higham Thm 20.1 for QR,
//! ‖δw‖/‖w‖ ≲ c·ε·κ(A)·(2 + (κ(A) + 1)·‖r‖/(‖A‖‖w‖)); and for the normal equations
//! ‖δw‖/‖w‖ ≲ c·ε·κ(A)²·(1 + ‖b‖/(‖A‖‖w‖))) gives, for either route,
//!
//! ```text
//! ‖w − w_qr‖ / ‖w_qr‖  ≤  C·ε·κ_H·(1 + ρ),     ρ = ‖√s∘yc‖ / (√(S·L)·‖w*‖)
//! ```
//!
//! The factor (1 + ρ) matters: with a large λ (w* shrunk towards 0) or a noise-dominated yc, the
//! right-hand side XcᵀSyc is a sum with cancellation and both routes lose digits even though
//! κ_H ≈ 1; a bare ε·κ_H bound is violated there by a factor of up to ~10³ (observed), so the
//! bound must carry ρ. The worst-case constant c of those theorems grows like m·d (m = n + d rows,
//! the length of the inner products and of the Householder vectors); rounding errors accumulate
//! like a random walk in practice, so we take **C = 10·√((n + d)·d)** (≤ 1166 here), which also
//! absorbs the factor 2 of comparing two approximate solutions. Calibration on ~10⁴ random
//! problems of this generator: max ‖w − w_qr‖/(ε·κ_H·(1 + ρ)·‖w_qr‖) ≈ 2.0, at most
//! 0.3·√((n + d)·d), so C leaves a margin of ≥ 30 (`svd`, `cholesky` and `normal` all stayed
//! below 1/60 of the asserted bound).
//!
//! Every `Direct` backend of the registry is checked, with the condition number of the system it
//! actually factors: κ_H for the primal routes (`svd`, `cholesky`, `normal`), and for `dual` the
//! kernel matrix Xc·S·Xcᵀ/S + λI, κ_K = L/μ_K with μ_K = σ_n²/S + λ (σ_n = 0 when n > d).
//!
//! The bound is only asserted where it is informative (≤ 0.1, so that a zero or garbage answer
//! fails). Beyond that, a backend must still either return finite coefficients or an error that
//! `is_numerical()`. Refusing is allowed only for a system of order m with ε·κ·m² > 10⁻⁴: the
//! backends refuse when ε times their Hager–Higham κ₁ estimate of the diagonally scaled matrix
//! exceeds 10⁻⁴ (4 digits), and that estimate is ≤ κ₁ ≤ m·κ₂(scaled) ≤ m²·κ₂; `qr` may refuse
//! only when ε·√κ_H > 10⁻⁴. Refusing a well-conditioned problem is a bug.
//!
//! The intercept is b = ȳ − x̄ᵀw for every backend, so |b − b_qr| ≤ ‖x̄‖·‖w − w_qr‖ plus the
//! rounding of that formula, C·ε·(mean|y| + Σⱼ mean|xⱼ|·|wⱼ|) (means of magnitudes: with centred
//! data x̄ and ȳ are themselves rounding noise). Without an intercept b must be exactly 0.
//!
//! *Gradient descent* (tol = 10⁻¹⁰ on the relative gradient norm), on problems with κ_H ≤ 10³
//! and n ≤ 80 (its own property), and on those of the general property with κ_H ≤ 10².
//! With step 1/L̂ (L̂ ≈ L) the gradient of a quadratic contracts by (1 − μ/L̂) per step, so
//! κ_H·ln(10¹⁰) iterations suffice; the budget is 1.05·κ_H·ln(10¹⁰) + 10 and the run must
//! converge within it. Strong convexity gives ‖w − w*‖ ≤ ‖∇f(w)‖/μ, so
//! ‖w − w_qr‖ ≤ (g + g_floor)/μ·(1 + 10⁻⁶) + (qr's own error), with g the reported gradient norm
//! and g_floor a first-order bound on its rounding error (see `support_random::gradient_floor`).
//!
//! *SGD* with default options, on well-conditioned problems (κ(Xc) ≤ 10, n ≥ 200, noise > 0):
//! see the two `sgd_*` properties.
//!
//! Failures found by these properties are pinned as plain `*_regression_*` tests at the end.

#[path = "support_random/mod.rs"]
mod support_random;

use faer::Col;
use proptest::prelude::*;
use support_random::{
    Case, EPS, Ranges, Spectrum, config, direct_constant, distance, general_case, gradient_floor,
    intercept_rounding_scale, tolerance_scale, weighted_means,
};
use tikhonov::solvers::{self, Solver, SolverKind, SolverOptions};
use tikhonov::{Error, Fit, RidgeProblem};

/// The derived tolerances of one problem, with the reference solution.
struct Bounds {
    /// C·(1 + ρ)·ε: multiplied by a backend's condition number, the relative tolerance.
    scale: f64,
    /// C (for the intercept-formula rounding term).
    c: f64,
    /// ‖x̄‖ and the rounding scale mean|y| + Σⱼ mean|xⱼ|·|w*ⱼ| of b = ȳ − x̄ᵀw (zeros without an
    /// intercept).
    x_mean_norm: f64,
    intercept_scale: f64,
    spectrum: Spectrum,
    /// The relative tolerance C·ε·κ_H·(1 + ρ) of the primal backends.
    rel: f64,
}

impl Bounds {
    fn new(problem: &RidgeProblem<'_>, spectrum: Spectrum, reference: &Fit) -> Self {
        let (n, d) = (problem.n_samples(), problem.n_features());
        let c = direct_constant(n, d);
        let scale = tolerance_scale(problem, &spectrum, reference.coef.norm_l2());
        let (xm, _) = weighted_means(
            problem.x(),
            problem.y(),
            problem.weights(),
            problem.fit_intercept(),
        );
        let intercept_scale = intercept_rounding_scale(problem, reference.coef.as_ref());
        Self {
            scale,
            c,
            x_mean_norm: xm.norm_l2(),
            intercept_scale,
            spectrum,
            rel: scale * spectrum.kappa(),
        }
    }

    /// Whether the primal bound is informative (a zero answer would violate it).
    fn informative(&self) -> bool {
        self.rel <= 0.1
    }

    /// |b − b_qr| allowed when ‖w − w_qr‖ ≤ `coef_err`.
    fn intercept_tol(&self, coef_err: f64) -> f64 {
        self.x_mean_norm * coef_err + self.c * EPS * self.intercept_scale
    }
}

/// Checks a fit's intercept against the reference, given the allowed coefficient error.
fn check_intercept(
    label: &str,
    problem: &RidgeProblem<'_>,
    fit: &Fit,
    reference: &Fit,
    bounds: &Bounds,
    coef_err: f64,
) -> Result<(), TestCaseError> {
    if !problem.fit_intercept() {
        prop_assert!(
            fit.intercept == 0.0,
            "{label}: intercept {} without an intercept",
            fit.intercept
        );
        return Ok(());
    }
    let tol = bounds.intercept_tol(coef_err);
    prop_assert!(
        (fit.intercept - reference.intercept).abs() <= tol,
        "{label}: intercept {} vs qr {} (|Δ| = {:e} > tol {tol:e})",
        fit.intercept,
        reference.intercept,
        (fit.intercept - reference.intercept).abs()
    );
    Ok(())
}

/// A direct backend against the reference. `kappa` is the condition number of the system the
/// backend factors (κ_H for the primal routes, κ_K for `dual`) and `order` its size.
///
/// Refusing is allowed only when that system cannot promise 4 digits: the backends refuse when
/// ε times their κ₁ estimate of the diagonally scaled matrix A_s exceeds 10⁻⁴, and (Hager's
/// estimate being a lower bound) that estimate is ≤ κ₁(A_s) ≤ m·κ₂(A_s) ≤ m²·κ₂ (norm
/// equivalence, then van der Sluis for the diagonal scaling), so a refusal with
/// ε·κ·m² ≤ 10⁻⁴ cannot be justified.
fn check_direct(
    name: &str,
    problem: &RidgeProblem<'_>,
    reference: &Fit,
    bounds: &Bounds,
    kappa: f64,
    order: usize,
) -> Result<(), TestCaseError> {
    let solver = solvers::by_name(name, &SolverOptions::default()).expect("registered");
    let fit = match solver.solve(problem) {
        Ok(fit) => fit,
        Err(e) => {
            prop_assert!(
                e.is_numerical(),
                "{name}: non-numerical error on a valid problem: {e}"
            );
            let m2 = (order * order) as f64;
            prop_assert!(
                EPS * kappa * m2 > 1e-4,
                "{name} refused a system with κ = {kappa:e} of order {order} \
                 (ε·κ·m² = {:e} ≤ 1e-4): {e}",
                EPS * kappa * m2
            );
            if let Error::IllConditioned { condition, .. } = e {
                prop_assert!(
                    EPS * condition > 1e-4,
                    "{name} refused with a condition estimate {condition:e} that promises 4 digits"
                );
            }
            return Ok(());
        }
    };
    prop_assert!(fit.coef.iter().all(|v| v.is_finite()) && fit.intercept.is_finite());
    prop_assert!(
        fit.converged,
        "{name}: a direct backend must report converged"
    );
    let w_norm = reference.coef.norm_l2();
    // The backend's own bound, plus the reference's (qr carries an error up to `bounds.rel`).
    let tol = bounds.scale * kappa + bounds.rel;
    if tol > 0.1 {
        return Ok(());
    }
    let err = distance(fit.coef.as_ref(), reference.coef.as_ref());
    prop_assert!(
        err <= tol * w_norm,
        "{name}: ‖w − w_qr‖/‖w_qr‖ = {:e} > C·ε·κ·(1+ρ) = {tol:e} (κ = {kappa:e}, κ_H = {:e})",
        err / w_norm,
        bounds.spectrum.kappa()
    );
    // ∇J(w, b(w)) = (H·(w − w*), 0), so ‖∇J‖ ≤ L·‖w − w*‖, plus the rounding of ∇J itself.
    let g_tol = bounds.spectrum.l * tol * w_norm
        + gradient_floor(problem, fit.coef.as_ref(), fit.intercept);
    prop_assert!(
        fit.gradient_norm <= g_tol,
        "{name}: ‖∇J‖ = {:e} > L·tol·‖w*‖ + rounding = {g_tol:e}",
        fit.gradient_norm
    );
    check_intercept(name, problem, &fit, reference, bounds, tol * w_norm)
}

/// Runs every direct backend (and `gd` when κ_H ≤ 10³) on one case against `qr`.
fn check_case(case: &Case) -> Result<(), TestCaseError> {
    let inst = case.data();
    let problem = inst.problem(case.lambda, case.fit_intercept);
    let spectrum = inst.spectrum(case.lambda, case.fit_intercept);
    let kappa = spectrum.kappa();
    let reference = match solvers::Qr.solve(&problem) {
        Ok(fit) => fit,
        Err(e) => {
            prop_assert!(e.is_numerical(), "qr: {e}");
            prop_assert!(EPS * kappa.sqrt() > 1e-4, "qr refused κ_H = {kappa:e}: {e}");
            return Ok(());
        }
    };
    prop_assert!(reference.coef.iter().all(|v| v.is_finite()));
    let w_norm = reference.coef.norm_l2();
    prop_assert!(w_norm > 0.0, "w* = 0: the test would be vacuous");
    let bounds = Bounds::new(&problem, spectrum, &reference);
    if bounds.informative() {
        // The reference minimises J: ‖∇J(w_qr)‖ ≤ L·‖w_qr − w*‖ + rounding.
        let g_tol = spectrum.l * bounds.rel * w_norm
            + gradient_floor(&problem, reference.coef.as_ref(), reference.intercept);
        prop_assert!(
            reference.gradient_norm <= g_tol,
            "qr: ‖∇J‖ = {:e} > {g_tol:e}",
            reference.gradient_norm
        );
    }
    for info in solvers::REGISTRY {
        match (info.kind, info.name) {
            (SolverKind::Iterative, _) | (_, "qr") => {}
            (_, "dual") => check_direct(
                "dual",
                &problem,
                &reference,
                &bounds,
                spectrum.kappa_kernel(),
                case.n,
            )?,
            (_, name) => check_direct(name, &problem, &reference, &bounds, kappa, case.d)?,
        }
    }
    if kappa <= GD_OPPORTUNISTIC_KAPPA && bounds.informative() {
        check_gd(&problem, &reference, &bounds)?;
    }
    Ok(())
}

prop_compose! {
    /// See `direct_backends_agree_with_qr_when_y_leaves_the_range_of_x`.
    fn residual_case()(
        n in 2usize..=30,
        extra in 0usize..=20,
        log_kappa in 4.0..6.0f64,
        true_intercept in prop_oneof![-10.0..-1.0f64, 1.0..10.0f64],
        log_lambda in -12.0..-9.0f64,
        noise in prop_oneof![Just(0.0), Just(0.1)],
        weighted in any::<bool>(),
        seed in any::<u64>(),
    ) -> Case {
        Case {
            n,
            d: n + extra,
            condition: 10f64.powf(log_kappa),
            offset: 0.0,
            true_intercept,
            noise,
            lambda: 10f64.powf(log_lambda),
            weighted,
            fit_intercept: false,
            seed,
        }
    }
}

/// The largest κ_H of the dedicated gradient-descent property (its cost grows like κ_H; those
/// problems are kept small, n ≤ 80, so that debug builds stay fast).
const GD_MAX_KAPPA: f64 = 1e3;
/// The largest κ_H on which the general agreement property also runs gradient descent.
const GD_OPPORTUNISTIC_KAPPA: f64 = 1e2;
/// Relative gradient tolerance given to gradient descent.
const GD_TOL: f64 = 1e-10;

/// Gradient descent against the reference, on a problem with κ_H ≤ [`GD_MAX_KAPPA`].
fn check_gd(
    problem: &RidgeProblem<'_>,
    reference: &Fit,
    bounds: &Bounds,
) -> Result<(), TestCaseError> {
    let Spectrum { mu, .. } = bounds.spectrum;
    let kappa = bounds.spectrum.kappa();
    // κ_H·ln(1/tol) steps suffice at rate (1 − μ/L̂); 5 % slack for L̂ ≠ L, +10 for tiny κ_H.
    let max_iter = (1.05 * kappa * (1.0 / GD_TOL).ln()).ceil() as usize + 10;
    let options = SolverOptions {
        tol: Some(GD_TOL),
        max_iter: Some(max_iter),
        ..SolverOptions::default()
    };
    let fit = solvers::by_name("gd", &options)
        .expect("valid options")
        .solve(problem);
    prop_assert!(
        fit.is_ok(),
        "gd failed with κ_H = {kappa:e}: {:?}",
        fit.err()
    );
    let fit = fit.unwrap();
    prop_assert!(
        fit.converged && fit.iterations <= max_iter,
        "gd did not converge in {} ≤ {max_iter} iterations (κ_H = {kappa:e}, ‖∇J‖ = {:e})",
        fit.iterations,
        fit.gradient_norm
    );
    // The driver starts at w = 0 with the intercept eliminated.
    let zero = Col::<f64>::zeros(problem.n_features());
    let g0 = problem.gradient_norm(zero.as_ref(), problem.optimal_intercept(zero.as_ref()));
    let floor = gradient_floor(problem, fit.coef.as_ref(), fit.intercept)
        + GD_TOL
            * gradient_floor(
                problem,
                zero.as_ref(),
                problem.optimal_intercept(zero.as_ref()),
            );
    prop_assert!(
        fit.gradient_norm <= GD_TOL * g0 + floor,
        "gd says converged but ‖∇J‖ = {:e} > tol·‖∇J(0)‖ + rounding = {:e}",
        fit.gradient_norm,
        GD_TOL * g0 + floor
    );
    let w_norm = reference.coef.norm_l2();
    let allowed = (fit.gradient_norm + floor) / mu * (1.0 + 1e-6) + bounds.rel * w_norm;
    prop_assert!(
        allowed <= 0.1 * w_norm,
        "gd bound not informative: {allowed:e} vs ‖w*‖ = {w_norm:e}"
    );
    let err = distance(fit.coef.as_ref(), reference.coef.as_ref());
    prop_assert!(
        err <= allowed,
        "gd: ‖w − w_qr‖ = {err:e} > ‖∇J‖/μ + qr error = {allowed:e} (μ = {mu:e}, κ_H = {kappa:e})"
    );
    check_intercept("gd", problem, &fit, reference, bounds, allowed)
}

/// The general agreement family: d ≤ 40, n ≤ 300, κ(Xc) < 10⁶, λ ∈ [10⁻¹⁰, 10²) or (a quarter
/// of the cases, where the design has full rank) 0.
fn case() -> impl Strategy<Value = Case> {
    general_case(Ranges {
        max_d: 40,
        max_extra: 260,
        max_n: 300,
        max_log_kappa: 6.0,
        max_log_offset: 3.0,
        log_lambda: (-10.0, 2.0),
        lambda_zero_prob: 0.25,
    })
}

/// Problems for gradient descent: like [`case`] with d ≤ 20, n ≤ 80 and κ(Xc) ≤ 100, then λ
/// raised (if needed) to the smallest value with κ_H ≤ [`GD_MAX_KAPPA`].
fn gd_case() -> impl Strategy<Value = Case> {
    general_case(Ranges {
        max_d: 20,
        max_extra: 58,
        max_n: 300,
        max_log_kappa: 2.0,
        max_log_offset: 3.0,
        log_lambda: (-4.0, 1.0),
        lambda_zero_prob: 0.25,
    })
    .prop_map(|case| case.cap_kappa(GD_MAX_KAPPA))
}

proptest! {
    #![proptest_config(config(64))]

    /// Every direct backend of the registry agrees with `qr` within C·ε·κ·(1 + ρ) (κ = κ_H, or
    /// κ_K for `dual`) or refuses a system too ill-conditioned for 4 digits; `gd` runs too when
    /// κ_H ≤ 10².
    #[test]
    fn direct_backends_agree_with_qr(case in case()) {
        check_case(&case)?;
    }

    /// The same on a hard corner: no intercept, y with a nonzero mean on column-centred designs
    /// (so y has a component outside the range of X), n ≤ d (X rank-deficient), κ(Xc) in
    /// [10⁴, 10⁶] and λ in [10⁻¹², 10⁻⁹]. The kernel system then has eigenvalues ≈ Sλ along
    /// y's residual, which a kernel-route backend must not turn into lost digits.
    #[test]
    fn direct_backends_agree_with_qr_when_y_leaves_the_range_of_x(case in residual_case()) {
        check_case(&case)?;
    }
}

proptest! {
    #![proptest_config(config(32))]

    /// Gradient descent on problems with κ_H ≤ 10³ (λ raised where needed).
    #[test]
    fn gd_agrees_with_qr_within_its_gradient_bound(case in gd_case()) {
        check_gd_agrees_with_qr_within_its_gradient_bound(case)?;
    }
}

/// Well-conditioned problems for SGD: κ(Xc) ≤ 10, 200 ≤ n ≤ 300, noise 0.1 or 1 (so J* > 0), an
/// offset only when the intercept is fitted (without one, an offset makes X ill-conditioned).
fn sgd_case() -> impl Strategy<Value = Case> {
    (
        200usize..=300,
        1usize..=40,
        0.0..1.0f64,
        -10.0..10.0f64,
        -5.0..5.0f64,
        prop_oneof![Just(0.1), Just(1.0)],
        -6.0..0.0f64,
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(n, d, lk, off, b0, noise, ll, weighted, ic, seed)| Case {
            n,
            d,
            condition: 10f64.powf(lk),
            offset: if ic { off } else { 0.0 },
            true_intercept: b0,
            noise,
            lambda: 10f64.powf(ll),
            weighted,
            fit_intercept: ic,
            seed,
        })
}

proptest! {
    #![proptest_config(config(32))]

    /// With default options on a well-conditioned problem SGD returns a fit: its default step is
    /// the one the library chose, so a `Diverged` error ("the step size is too large") is wrong.
    #[test]
    fn sgd_default_options_succeed_on_well_conditioned_problems(case in sgd_case()) {
        check_sgd_default_options_succeed_on_well_conditioned_problems(case)?;
    }

    /// SGD with default options: honest `converged`, objective gap ≤ 10⁻³·J*, and w, b consistent
    /// with the gap (strong convexity: ‖w − w*‖ ≤ √(2·gap/μ)).
    #[test]
    fn sgd_default_options_are_accurate_and_honest(case in sgd_case()) {
        check_sgd_default_options_are_accurate_and_honest(case)?;
    }
}

// Property bodies; each is documented at its `proptest!` entry above.

fn check_gd_agrees_with_qr_within_its_gradient_bound(case: Case) -> Result<(), TestCaseError> {
    let inst = case.data();
    let problem = inst.problem(case.lambda, case.fit_intercept);
    let spectrum = inst.spectrum(case.lambda, case.fit_intercept);
    prop_assert!(
        spectrum.kappa() <= GD_MAX_KAPPA * 1.001,
        "generator: κ_H = {:e}",
        spectrum.kappa()
    );
    let reference = solvers::Qr
        .solve(&problem)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(reference.coef.norm_l2() > 0.0);
    let bounds = Bounds::new(&problem, spectrum, &reference);
    prop_assert!(bounds.informative(), "κ_H ≤ 10³ but tol = {:e}", bounds.rel);
    check_gd(&problem, &reference, &bounds)?;
    Ok(())
}

fn check_sgd_default_options_succeed_on_well_conditioned_problems(
    case: Case,
) -> Result<(), TestCaseError> {
    let inst = case.data();
    let problem = inst.problem(case.lambda, case.fit_intercept);
    let kappa = inst.spectrum(case.lambda, case.fit_intercept).kappa();
    let fit = solvers::Sgd::default().solve(&problem);
    prop_assert!(
        fit.is_ok(),
        "sgd (defaults) failed with κ_H = {kappa:e}: {}",
        fit.unwrap_err()
    );
    Ok(())
}

fn check_sgd_default_options_are_accurate_and_honest(case: Case) -> Result<(), TestCaseError> {
    let inst = case.data();
    let problem = inst.problem(case.lambda, case.fit_intercept);
    let spectrum = inst.spectrum(case.lambda, case.fit_intercept);
    let reference = solvers::Qr
        .solve(&problem)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let bounds = Bounds::new(&problem, spectrum, &reference);
    prop_assert!(bounds.informative());
    // A failure to return a fit is the other property's business.
    let Ok(fit) = solvers::Sgd::default().solve(&problem) else {
        return Ok(());
    };
    let zero = Col::<f64>::zeros(problem.n_features());
    let b0 = problem.optimal_intercept(zero.as_ref());
    let g0 = problem.gradient_norm(zero.as_ref(), b0);
    let floor = gradient_floor(&problem, fit.coef.as_ref(), fit.intercept);
    if fit.converged {
        prop_assert!(
            fit.gradient_norm <= solvers::Sgd::DEFAULT_TOL * g0 + floor,
            "sgd says converged but ‖∇J‖ = {:e} > tol·‖∇J(0)‖ = {:e}",
            fit.gradient_norm,
            solvers::Sgd::DEFAULT_TOL * g0
        );
    }
    let gap = problem.objective_gap(
        fit.coef.as_ref(),
        fit.intercept,
        reference.coef.as_ref(),
        reference.intercept,
    );
    let j_star = reference.objective;
    let w_norm = reference.coef.norm_l2();
    let coef_err = (2.0 * gap.max(0.0) / spectrum.mu).sqrt() * (1.0 + 1e-6) + bounds.rel * w_norm;
    let err = distance(fit.coef.as_ref(), reference.coef.as_ref());
    prop_assert!(
        err <= coef_err,
        "sgd: ‖w − w*‖ = {err:e} > √(2·gap/μ) = {coef_err:e} (gap {gap:e}, μ {:e})",
        spectrum.mu
    );
    check_intercept("sgd", &problem, &fit, &reference, &bounds, coef_err)?;
    prop_assert!(
        gap <= 1e-3 * j_star,
        "sgd: objective gap {gap:e} > 1e-3·J* = {:e} after {} epochs (converged: {}, \
         ‖∇J‖/‖∇J(0)‖ = {:e}, κ_H = {:e})",
        1e-3 * j_star,
        fit.iterations,
        fit.converged,
        fit.gradient_norm / g0,
        spectrum.kappa()
    );
    Ok(())
}

/// Turns a property check into a plain test result.
fn run(check: Result<(), TestCaseError>) {
    if let Err(e) = check {
        panic!("{e}");
    }
}

/// Found by `direct_backends_agree_with_qr_when_y_leaves_the_range_of_x`: `dual` returns w with
/// ‖w − w_qr‖/‖w_qr‖ ≈ 2.5e-3 (gradient norm ~1e-6, against ~1e-15 for qr, svd, cholesky and
/// normal, whose errors are ≤ 3e-7) instead of refusing: y's component outside the range of X
/// gives α = K⁻¹y a huge component (‖y_⊥‖/(Sλ)) along the near-null space of K, which
/// w = Xcᵀα cancels only to rounding. Fixed by refining w in the primal through the kernel factor.
#[test]
fn dual_regression_y_outside_the_range_of_x() {
    run(check_case(&Case {
        n: 4,
        d: 4,
        condition: 10f64.powf(5.011654951609311),
        offset: 0.0,
        true_intercept: 1.0,
        noise: 0.0,
        lambda: 10f64.powf(-9.816497559810381),
        weighted: false,
        fit_intercept: false,
        seed: 732058913774625467,
    }));
}

/// Found by `sgd_default_options_succeed_on_well_conditioned_problems`: κ_H = 1, yet SGD with
/// its defaults fails with `Diverged` at epoch 1 (objective 0.5322 > start 0.5307). J(0) is
/// already within the noise floor of the raw SGD iterate, and the driver's divergence rule
/// (any objective above the start is divergence) then fires on ordinary gradient noise.
#[test]
fn sgd_regression_false_divergence() {
    let case = Case {
        n: 200,
        d: 1,
        condition: 1.0,
        offset: 0.0,
        true_intercept: 0.0,
        noise: 1.0,
        lambda: 0.010939115221555844,
        weighted: false,
        fit_intercept: false,
        seed: 15473723861618922188,
    };
    let inst = case.data();
    let problem = inst.problem(case.lambda, case.fit_intercept);
    if let Err(e) = solvers::Sgd::default().solve(&problem) {
        panic!("sgd (defaults) failed on a problem with κ_H = 1: {e}");
    }
}
