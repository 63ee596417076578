//! Exact identities of the ridge solution, checked on every `Direct` backend of the registry
//! (`auto`, `qr`, `qr-refined`, `svd`, `dual`, `cholesky`, `cholesky-refined`, `normal`, and any
//! added later), on tall and wide (d > n) problems:
//!
//! 1. the design [X, X]/2 with penalty λ/2 has the solution [w, w], where w fits X with λ
//!    (J is unchanged by the substitution, and the minimum-norm split of w between two equal
//!    columns is the even one);
//! 2. stacking [X; X] (and y, s twice) leaves w and b unchanged: S doubles with the loss, so with
//!    the 1/(2S) convention of the README ("The objective") λ stays the same;
//! 3. zero sample weights are the same as dropping those rows;
//! 4. several targets with one λ per target (`Solver::solve_targets`) equal separate fits;
//! 5. at λ = 0 on a rank-deficient design, `svd` and `auto` return the minimum-norm least-squares
//!    solution, compared with a reference computed here from faer's SVD of the weighted, centred
//!    design (`numpy.linalg.lstsq` semantics).
//!
//! `tests/invariances.rs` already checks stacking (and other invariances) for `cholesky` and `qr`;
//! here every direct backend is covered.
//!
//! # Tolerances
//!
//! Each side of an identity is a backward-stable solve, within C·ε·κ·(1 + ρ)·‖w*‖ of its exact
//! solution (`tests/agreement.rs` derives the bound; κ = κ_H = L/μ of H = XcᵀSXc/S + λI measured
//! by an SVD in the test, κ_K of the kernel matrix for `dual`; C = 10·√((n + d)·d)); two sides
//! differ by at most the sum of their bounds. The problems are well conditioned (κ(Xc) ≤ 10,
//! λ ≥ 10⁻³ tall, ≥ 10⁻² wide), and every test checks that its tolerance stays below 10⁻⁶, so a
//! wrong formula (λ off by 10⁻⁶ relative, a weight not dropped) fails. For the minimum-norm
//! property κ is σ₁²/σᵣ² of the rank-r design (κ_H of the problem restricted to its row space).

#[path = "support_random/mod.rs"]
mod support_random;

use faer::{Col, Mat};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use support_random::{
    Case, Data, EPS, PAR, Spectrum, config, direct_constant, intercept_rounding_scale,
    random_weights, tolerance_scale, weighted_design, well_conditioned_case,
};
use tikhonov::multi::MultiRidgeProblem;
use tikhonov::solvers::{self, SolverKind, SolverOptions};
use tikhonov::{Fit, RidgeProblem};

/// The largest tolerance a check may use: beyond it the check would lose its teeth.
const MAX_TOL: f64 = 1e-6;

/// The names of the registry's direct backends.
fn direct_backends() -> Vec<&'static str> {
    solvers::REGISTRY
        .iter()
        .filter(|s| s.kind == SolverKind::Direct)
        .map(|s| s.name)
        .collect()
}

/// A backend's fit and the bound on its distance to the exact solution (absolute, for w), and
/// on its intercept.
struct Bounded {
    fit: Fit,
    w_tol: f64,
    b_tol: f64,
}

/// Solves with `name` and bounds the error (see the module docs). A direct backend must not fail
/// on these well-conditioned problems.
fn solve(name: &str, problem: &RidgeProblem<'_>) -> Result<Bounded, TestCaseError> {
    let fit = solvers::by_name(name, &SolverOptions::default())
        .expect("registered")
        .solve(problem)
        .map_err(|e| TestCaseError::fail(format!("{name} failed: {e}")))?;
    let spectrum = Spectrum::of(
        problem.x(),
        problem.weights(),
        problem.fit_intercept(),
        problem.lambda(),
    );
    let (n, d) = (problem.n_samples(), problem.n_features());
    let kernel = name == "dual" || (name == "auto" && d > n && problem.lambda() > 0.0);
    let kappa = if kernel {
        spectrum.kappa_kernel()
    } else {
        spectrum.kappa()
    };
    let w_norm = fit.coef.norm_l2();
    let rel = tolerance_scale(problem, &spectrum, w_norm.max(f64::MIN_POSITIVE)) * kappa;
    prop_assert!(
        rel <= MAX_TOL,
        "{name}: tolerance {rel:e} too loose to test anything (κ = {kappa:e})"
    );
    let w_tol = rel * w_norm;
    let x_mean = support_random::weighted_means(
        problem.x(),
        problem.y(),
        problem.weights(),
        problem.fit_intercept(),
    )
    .0
    .norm_l2();
    let b_tol = x_mean * w_tol
        + direct_constant(n, d) * EPS * intercept_rounding_scale(problem, fit.coef.as_ref());
    Ok(Bounded { fit, w_tol, b_tol })
}

/// Asserts ‖got − want‖ ≤ tol and |b_got − b_want| ≤ b_tol.
fn assert_close(
    what: &str,
    name: &str,
    (got, b_got): (Col<f64>, f64),
    (want, b_want): (Col<f64>, f64),
    tol: f64,
    b_tol: f64,
) -> Result<(), TestCaseError> {
    let err = (&got - &want).norm_l2();
    prop_assert!(
        err <= tol,
        "{what} ({name}): ‖Δw‖ = {err:e} > {tol:e} (‖w‖ = {:e})",
        want.norm_l2()
    );
    prop_assert!(
        (b_got - b_want).abs() <= b_tol,
        "{what} ({name}): intercept {b_got} vs {b_want} (|Δ| = {:e} > {b_tol:e})",
        (b_got - b_want).abs()
    );
    Ok(())
}

/// One random well-conditioned problem: tall (n ≤ d + 62) or wide (n < d, λ ≥ 10⁻²), d ≤ 10,
/// κ(Xc) ≤ 10, noise 0.1.
fn case() -> impl Strategy<Value = Case> {
    well_conditioned_case(10, 0.3, 60.0, Just(0.1))
}

/// For every direct backend: the fit of `two` equals the fit of `one` mapped by `expand`, where
/// ‖expand(v)‖ ≤ `growth`·‖v‖ (so `one`'s error bound grows by at most that factor).
fn assert_identity(
    what: &str,
    one: &RidgeProblem<'_>,
    two: &RidgeProblem<'_>,
    expand: impl Fn(&Col<f64>) -> Col<f64>,
    growth: f64,
) -> Result<(), TestCaseError> {
    for name in direct_backends() {
        let (a, b) = (solve(name, one)?, solve(name, two)?);
        assert_close(
            what,
            name,
            (b.fit.coef.clone(), b.fit.intercept),
            (expand(&a.fit.coef), a.fit.intercept),
            growth * a.w_tol + b.w_tol,
            a.b_tol + b.b_tol,
        )?;
    }
    Ok(())
}

fn check_half_duplicated_design(case: Case) -> Result<(), TestCaseError> {
    let data = case.data();
    let d = case.d;
    // [X, X]/2: halving is exact in floating point, and so is λ/2.
    let wide = Data {
        x: Mat::from_fn(case.n, 2 * d, |i, j| data.x[(i, j % d)] / 2.0),
        ..data.clone()
    };
    assert_identity(
        "[X, X]/2 with λ/2",
        &data.problem(case.lambda, case.fit_intercept),
        &wide.problem(case.lambda / 2.0, case.fit_intercept),
        |w| Col::from_fn(2 * d, |j| w[j % d]),
        2f64.sqrt(),
    )
}

fn check_stacked_rows(case: Case) -> Result<(), TestCaseError> {
    let data = case.data();
    let twice: Vec<usize> = (0..2 * case.n).map(|i| i % case.n).collect();
    assert_identity(
        "[X; X] with the same λ",
        &data.problem(case.lambda, case.fit_intercept),
        &data.rows(&twice).problem(case.lambda, case.fit_intercept),
        Col::clone,
        1.0,
    )
}

fn check_zero_weights(case: Case) -> Result<(), TestCaseError> {
    let mut data = case.data();
    // At least one zero weight, and (with `random_weights`) at least two positive ones.
    let mut s = random_weights(case.n, 0.3, case.seed);
    if case.n > 2 && s.iter().all(|v| *v > 0.0) {
        s[case.n - 1] = 0.0;
    }
    prop_assume!(s.iter().any(|v| *v == 0.0));
    data.weights = Some(s.clone());
    let kept: Vec<usize> = (0..case.n).filter(|&i| s[i] > 0.0).collect();
    assert_identity(
        "zero weights vs dropped rows",
        &data.rows(&kept).problem(case.lambda, case.fit_intercept),
        &data.problem(case.lambda, case.fit_intercept),
        Col::clone,
        1.0,
    )
}

fn check_per_target_lambda(case: Case) -> Result<(), TestCaseError> {
    let data = case.data();
    // Three targets: the case's y and the targets of two other problems of the same shape; λ
    // shared by targets 0 and 2 (one factorisation serves both), target 1 its own.
    let other = |seed: u64| {
        Case {
            seed,
            ..case.clone()
        }
        .data()
        .y
    };
    let (y1, y2) = (other(case.seed ^ 1), other(case.seed ^ 2));
    let y = Mat::from_fn(case.n, 3, |i, t| [data.y[i], y1[i], y2[i]][t]);
    let lambdas = [case.lambda, 10.0 * case.lambda, case.lambda];
    let mut builder = MultiRidgeProblem::builder(data.x.as_ref(), y.as_ref())
        .lambdas(&lambdas)
        .intercept(case.fit_intercept)
        .par(PAR);
    if let Some(s) = &data.weights {
        builder = builder.weights(s.as_ref());
    }
    let multi = builder.build().expect("valid problem");
    for name in direct_backends() {
        let fits = solvers::by_name(name, &SolverOptions::default())
            .expect("registered")
            .solve_targets(&multi)
            .map_err(|e| TestCaseError::fail(format!("{name} (multi-target) failed: {e}")))?;
        prop_assert_eq!(fits.len(), 3);
        for (t, fit) in fits.into_iter().enumerate() {
            // Built from scratch, not by `multi.target(t)`: separate fits in the user's sense.
            let alone = Data {
                y: y.col(t).to_owned(),
                ..data.clone()
            };
            let single = solve(name, &alone.problem(lambdas[t], case.fit_intercept))?;
            prop_assert_eq!(&fit.solver, &single.fit.solver, "target {}", t);
            assert_close(
                &format!("target {t} of 3 (λ = {})", lambdas[t]),
                name,
                (fit.model.coef, fit.model.intercept),
                (single.fit.coef.clone(), single.fit.intercept),
                2.0 * single.w_tol,
                2.0 * single.b_tol,
            )?;
        }
    }
    Ok(())
}

/// A rank-r design X = A·B (n × d, A n × r and B r × d standard normal), offsets, and y.
#[derive(Debug, Clone)]
struct RankCase {
    n: usize,
    d: usize,
    r: usize,
    weighted: bool,
    fit_intercept: bool,
    seed: u64,
}

prop_compose! {
    fn rank_case()(
        r in 1usize..=5,
        extra_d in 1usize..=6,
        extra_n in 0usize..=40,
        weighted in any::<bool>(),
        fit_intercept in any::<bool>(),
        seed in any::<u64>(),
    ) -> RankCase {
        // n ≥ r + 2 rows (r + 1 with the intercept's centring would still leave rank r), and d
        // may exceed n.
        RankCase { n: r + 2 + extra_n, d: r + extra_d, r, weighted, fit_intercept, seed }
    }
}

fn check_min_norm(case: RankCase) -> Result<(), TestCaseError> {
    let RankCase { n, d, r, .. } = case;
    let mut rng = ChaCha8Rng::seed_from_u64(case.seed);
    let mut normal = || -> f64 {
        // Box–Muller; the generator crate's distributions are not needed for this.
        let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    // Entries on dyadic grids (multiples of 1/8 and 1/4, a few bits each), so that the offset
    // design 3 + A·B is exactly rank r in f64. With real-valued A and B, rounding 3 + aᵢbⱼ to f64
    // perturbs a column of small spread (|bⱼ| = 10⁻³) by ε·3, i.e. 3000·ε relative to its spread:
    // the f64 design then has full rank at that level, above the cut-off, and its least-squares
    // solution (correctly) is not the minimum-norm one of the rank-r model.
    let a = Mat::from_fn(n, r, |_, _| (8.0 * normal()).round() / 8.0);
    let b = Mat::from_fn(r, d, |_, _| (4.0 * normal()).round() / 4.0);
    let noise = Col::from_fn(n, |_| normal());
    let offset = if case.fit_intercept { 3.0 } else { 0.0 };
    let x = Mat::from_fn(n, d, |i, j| {
        offset + (0..r).map(|k| a[(i, k)] * b[(k, j)]).sum::<f64>()
    });
    let y = Col::from_fn(n, |i| {
        1.5 + (0..d).map(|j| x[(i, j)] * (j as f64 - 1.0)).sum::<f64>() + 0.1 * noise[i]
    });
    let weights = case
        .weighted
        .then(|| Col::from_fn(n, |i| 0.5 + ((i * 7 + 3) % 5) as f64 / 3.0));
    let data = Data { x, y, weights };
    let problem = data.problem(0.0, case.fit_intercept);

    // Reference: w = V_r·Σ_r⁻¹·U_rᵀ·(√s∘yc) from faer's SVD of √s∘Xc, centred here.
    let (m, v) = weighted_design(
        data.x.as_ref(),
        data.y.as_ref(),
        problem.weights(),
        case.fit_intercept,
    );
    let svd = m.thin_svd().expect("SVD of a small matrix converges");
    let s = svd.S().column_vector();
    prop_assume!(s[r - 1] > 1e-3 * s[0]); // rank r (B may have a zero column), well conditioned
    prop_assert!(
        s.nrows() == r || s[r] < 1e-12 * s[0],
        "the design should have rank {r}"
    );
    let (u, vv) = (svd.U(), svd.V());
    let coef = Col::from_fn(d, |j| {
        (0..r)
            .map(|k| vv[(j, k)] * (u.col(k).transpose() * &v) / s[k])
            .sum::<f64>()
    });
    let (x_mean, y_mean) = support_random::weighted_means(
        data.x.as_ref(),
        data.y.as_ref(),
        problem.weights(),
        case.fit_intercept,
    );
    let intercept = if case.fit_intercept {
        y_mean - (x_mean.transpose() * &coef)
    } else {
        0.0
    };
    // Least squares with κ = σ₁/σᵣ: the agreement bound with κ_H = κ², ρ from the residual.
    let kappa = (s[0] / s[r - 1]).powi(2);
    let rho = v.norm_l2() / (s[0] * coef.norm_l2());
    let tol = direct_constant(n, d) * EPS * kappa * (1.0 + rho);
    prop_assert!(tol <= MAX_TOL, "tolerance {tol:e} too loose");
    let w_tol = tol * coef.norm_l2();
    let b_tol = x_mean.norm_l2() * w_tol
        + direct_constant(n, d) * EPS * intercept_rounding_scale(&problem, coef.as_ref());
    for name in ["svd", "auto"] {
        let fit = solvers::by_name(name, &SolverOptions::default())
            .expect("registered")
            .solve(&problem)
            .map_err(|e| TestCaseError::fail(format!("{name} failed at λ = 0: {e}")))?;
        assert_close(
            "minimum norm at λ = 0",
            name,
            (fit.model.coef, fit.model.intercept),
            (coef.clone(), intercept),
            w_tol,
            b_tol,
        )?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(48))]

    /// [X, X]/2 with λ/2 gives [w, w] (and the same intercept), every direct backend.
    #[test]
    fn half_duplicated_design_with_half_lambda_repeats_the_coefficients(case in case()) {
        check_half_duplicated_design(case)?;
    }

    /// Stacking every row twice leaves (w, b) unchanged at the same λ, every direct backend.
    #[test]
    fn stacking_the_rows_leaves_the_fit_unchanged(case in case()) {
        check_stacked_rows(case)?;
    }

    /// Several targets with one λ per target equal separate single-target fits, every direct
    /// backend (one factorisation per distinct λ; `svd` one in all).
    #[test]
    fn per_target_lambda_equals_separate_fits(case in case()) {
        check_per_target_lambda(case)?;
    }

    /// Rows with weight 0 are the same as no rows, every direct backend.
    #[test]
    fn zero_weights_equal_dropping_the_rows(case in case()) {
        check_zero_weights(case)?;
    }

    /// At λ = 0 on a rank-deficient design (tall or wide), `svd` and `auto` return the
    /// minimum-norm least-squares solution of an independent SVD reference.
    #[test]
    fn lambda_zero_on_a_rank_deficient_design_is_the_minimum_norm_solution(case in rank_case()) {
        check_min_norm(case)?;
    }
}
