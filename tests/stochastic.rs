//! The variance-reduced backends (`sag`, `saga`, `svrg`) agree with the reference (`qr`) to
//! tight tolerances, reproducibly; `sgd`'s schedules are validated and each reaches its own,
//! looser standard.
//!
//! # The problems
//!
//! [`Synthetic`] designs with d ≤ 8 and n ≤ 60 (d > n included, then λ > 0), a condition number
//! κ(Xc) of the centred design log-uniform in [1, 10³], column offsets, noise 0, 0.1 or 1,
//! random weights (≈ 20 % zero) on or off, the intercept on or off, and λ log-uniform in
//! [10⁻⁸, 1] or 0, then raised where needed so that κ_H = L/μ ≤ 10³ (H = XcᵀSXc/S + λI,
//! measured in the test from an SVD). The true coefficients are N(0, 1), so ‖w*‖ > 0 and an
//! all-zero answer fails every assertion.
//!
//! # The tolerances
//!
//! Each backend runs at tol = 10⁻¹⁰ on the relative gradient norm and must report
//! `converged` within a budget of epochs derived from its convergence theorem (see [`budget`]).
//! Strong convexity then bounds the distance to the optimum, ‖w − w*‖ ≤ ‖∇f(w)‖/μ, so
//!
//! ```text
//! ‖w − w_qr‖ ≤ (g + g_floor)/μ + (qr's own error),     g ≤ tol·‖∇f(0)‖ + g_floor
//! ```
//!
//! with g the reported gradient norm and g_floor a first-order bound on its rounding error
//! (`support_random::gradient_floor`); qr's error is C·ε·κ_H·(1 + ρ)·‖w*‖ (see
//! `tests/agreement.rs`). Since ‖∇f(0)‖ = ‖H·w*‖ ≤ L·‖w*‖, the first term is at most
//! tol·κ_H·‖w*‖ = 10⁻⁷·‖w*‖: every backend lands within 10⁻⁷ relative distance of the
//! reference, which is asserted too.

#[path = "support_random/mod.rs"]
mod support_random;

use faer::Col;
use proptest::prelude::*;
use support_random::{
    Case, EPS, PAR, config, direct_constant, distance, gradient_floor, intercept_rounding_scale,
    primal_tolerance, weighted_design, weighted_means,
};
use tikhonov::RidgeProblem;
use tikhonov::data::{Synthetic, SyntheticData};
use tikhonov::solvers::{self, Schedule, Sgd, Solver, SolverOptions};

/// The tolerance every variance-reduced backend is run at.
const TOL: f64 = 1e-10;
/// The largest κ_H of the test problems (λ is raised to reach it).
const MAX_KAPPA: f64 = 1e3;
/// The backends under test.
const VARIANCE_REDUCED: [&str; 3] = ["sag", "saga", "svrg"];

prop_compose! {
    fn case()(
        d in 1usize..=8,
        n in 2usize..=60,
        log_kappa in 0.0..3.0f64,
        offset in prop_oneof![Just(0.0), -100.0..100.0f64],
        noise in prop_oneof![Just(0.0), Just(0.1), Just(1.0)],
        lambda_zero in proptest::bool::weighted(0.25),
        log_lambda in -8.0..0.0f64,
        weighted in any::<bool>(),
        fit_intercept in any::<bool>(),
        seed in any::<u64>(),
    ) -> Case {
        Case {
            n,
            d,
            condition: 10f64.powf(log_kappa),
            // Without an intercept an offset is a huge first singular value: κ far above 10³.
            offset: if fit_intercept { offset } else { 0.0 },
            true_intercept: 1.5,
            noise,
            lambda: 10f64.powf(log_lambda),
            weighted,
            fit_intercept,
            seed,
        }
        .lambda_zero_if(lambda_zero)
        .cap_kappa(MAX_KAPPA)
    }
}

/// L_max = maxᵢ (n·sᵢ/S)·‖xᵢ − x̄‖² + λ, the largest smoothness of a sample term, computed here
/// from the test's own centring.
fn max_sample_smoothness(problem: &RidgeProblem<'_>) -> f64 {
    let (m, _) = weighted_design(
        problem.x(),
        problem.y(),
        problem.weights(),
        problem.fit_intercept(),
    );
    // Row i of m is √sᵢ·(xᵢ − x̄), so (n/S)·‖row‖² = (n·sᵢ/S)·‖xᵢ − x̄‖².
    let scale = problem.n_samples() as f64 / problem.weight_sum();
    (0..m.nrows())
        .map(|i| scale * m.row(i).squared_norm_l2())
        .fold(0.0, f64::max)
        + problem.lambda()
}

/// The epoch budget from each backend's convergence theorem, with iterations k counted in
/// samples (an epoch is n of them; an SVRG outer iteration is 2n inner steps):
///
/// - SAG (Schmidt, Le Roux & Bach 2017, Thm 1): f − f* ≤ (1 − min(μ/(16·L_max), 1/(8n)))ᵏ·C;
/// - SAGA (Defazio, Bach & Lacoste-Julien 2014, Thm 1): ‖θ − θ*‖² ≤
///   (1 − min(1/(4n), μ/(3·L_max)))ᵏ·C;
/// - SVRG (Johnson & Zhang 2013, Thm 1): per outer iteration a factor
///   α = 12.5·L_max/(μ·2n) + 0.25 when that is below 1; otherwise the theorem says nothing
///   and we allow the SAGA budget (same step family), measured to be ample.
///
/// Reaching ‖∇f‖ ≤ tol·‖∇f(0)‖ needs the squared error to shrink by ~ tol²/κ_H, i.e.
/// ln(κ_H/tol²) ≤ 54 e-folds; we allow 60 of them and the theorems' constants C as a factor 2.
fn budget(name: &str, n: usize, l_max: f64, mu: f64) -> usize {
    let n_f = n as f64;
    let efolds = 2.0 * 60.0;
    let rate = |r: f64| (efolds / r / n_f).ceil() as usize + 10;
    let saga = rate((1.0 / (4.0 * n_f)).min(mu / (3.0 * l_max)));
    match name {
        "sag" => rate((1.0 / (8.0 * n_f)).min(mu / (16.0 * l_max))),
        "saga" => saga,
        "svrg" => {
            let alpha = 12.5 * l_max / (mu * 2.0 * n_f) + 0.25;
            if alpha < 1.0 {
                (efolds / -alpha.ln()).ceil() as usize + 10
            } else {
                saga
            }
        }
        _ => unreachable!("only the variance-reduced backends have a budget"),
    }
}

fn check_variance_reduced(case: &Case) -> Result<(), TestCaseError> {
    let inst = case.data();
    let problem = inst.problem(case.lambda, case.fit_intercept);
    let spectrum = inst.spectrum(case.lambda, case.fit_intercept);
    let kappa = spectrum.kappa();
    prop_assert!(kappa <= MAX_KAPPA * 1.001, "generator: κ_H = {kappa:e}");
    let reference = solvers::Qr
        .solve(&problem)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let w_norm = reference.coef.norm_l2();
    prop_assert!(w_norm > 0.0, "w* = 0: the test would be vacuous");
    let qr_err = primal_tolerance(&problem, &spectrum, w_norm) * w_norm;
    let zero = Col::<f64>::zeros(case.d);
    let b0 = problem.optimal_intercept(zero.as_ref());
    let g0 = problem.gradient_norm(zero.as_ref(), b0);
    let l_max = max_sample_smoothness(&problem);
    for name in VARIANCE_REDUCED {
        let max_iter = budget(name, case.n, l_max, spectrum.mu);
        let options = SolverOptions {
            tol: Some(TOL),
            max_iter: Some(max_iter),
            seed: Some(case.seed),
            ..SolverOptions::default()
        };
        let solver = solvers::by_name(name, &options).expect("registered");
        let fit = solver
            .solve(&problem)
            .map_err(|e| TestCaseError::fail(format!("{name}: {e} (κ_H = {kappa:e})")))?;
        prop_assert!(
            fit.converged,
            "{name} did not converge in {max_iter} epochs (κ_H = {kappa:e}, L_max/μ = {:e}, \
             ‖∇J‖/‖∇J(0)‖ = {:e})",
            l_max / spectrum.mu,
            fit.gradient_norm / g0
        );
        let floor = gradient_floor(&problem, fit.coef.as_ref(), fit.intercept)
            + TOL * gradient_floor(&problem, zero.as_ref(), b0);
        prop_assert!(
            fit.gradient_norm <= TOL * g0 + floor,
            "{name} says converged but ‖∇J‖ = {:e} > tol·‖∇J(0)‖ + rounding = {:e}",
            fit.gradient_norm,
            TOL * g0 + floor
        );
        let err = distance(fit.coef.as_ref(), reference.coef.as_ref());
        let allowed = (fit.gradient_norm + floor) / spectrum.mu * (1.0 + 1e-6) + qr_err;
        prop_assert!(
            err <= allowed,
            "{name}: ‖w − w_qr‖ = {err:e} > ‖∇J‖/μ + qr error = {allowed:e} (κ_H = {kappa:e})"
        );
        let target = 1e-7 * w_norm + floor / spectrum.mu + qr_err;
        prop_assert!(
            err <= target,
            "{name}: ‖w − w_qr‖/‖w_qr‖ = {:e} > 1e-7 (+ rounding {:e})",
            err / w_norm,
            (target - 1e-7 * w_norm) / w_norm
        );
        check_intercept(name, &problem, &fit, &reference, allowed)?;
    }
    Ok(())
}

/// |b − b_qr| ≤ ‖x̄‖·‖w − w_qr‖ plus the rounding of b = ȳ − x̄ᵀw (see `tests/agreement.rs`);
/// without an intercept b is exactly 0.
fn check_intercept(
    name: &str,
    problem: &RidgeProblem<'_>,
    fit: &tikhonov::Fit,
    reference: &tikhonov::Fit,
    coef_err: f64,
) -> Result<(), TestCaseError> {
    if !problem.fit_intercept() {
        prop_assert!(fit.intercept == 0.0, "{name}: intercept without one");
        return Ok(());
    }
    let (xm, _) = weighted_means(problem.x(), problem.y(), problem.weights(), true);
    let c = direct_constant(problem.n_samples(), problem.n_features());
    let tol = xm.norm_l2() * coef_err
        + c * EPS * intercept_rounding_scale(problem, reference.coef.as_ref());
    prop_assert!(
        (fit.intercept - reference.intercept).abs() <= tol,
        "{name}: intercept {} vs qr {} (tol {tol:e})",
        fit.intercept,
        reference.intercept
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(16))]

    /// sag, saga and svrg at tol = 10⁻¹⁰ converge within their theorems' budgets and land within
    /// ‖∇J‖/μ (hence 10⁻⁷ relative) of `qr` on problems with κ_H ≤ 10³.
    #[test]
    fn variance_reduced_backends_agree_with_qr(case in case()) {
        check_variance_reduced(&case)?;
    }
}

/// A fixed well-conditioned problem: n = 2000, d = 5, κ(Xc) = 3, noise 1, offset columns,
/// λ = 10⁻³, intercept on.
fn well_conditioned() -> SyntheticData {
    Synthetic {
        n_samples: 2000,
        n_features: 5,
        condition: 3.0,
        noise: 1.0,
        offset: 2.0,
        intercept: 1.0,
        seed: 7,
    }
    .generate()
    .expect("valid synthetic parameters")
}

fn ridge(data: &SyntheticData, lambda: f64) -> RidgeProblem<'_> {
    RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
        .lambda(lambda)
        .par(PAR)
        .build()
        .expect("valid problem")
}

fn options(tol: f64, max_iter: usize, seed: u64) -> SolverOptions {
    SolverOptions {
        tol: Some(tol),
        max_iter: Some(max_iter),
        seed: Some(seed),
        ..SolverOptions::default()
    }
}

/// The same seed gives the same result bit for bit; another seed samples differently.
#[test]
fn stochastic_backends_are_reproducible() {
    let data = Synthetic {
        n_samples: 300,
        n_features: 4,
        condition: 5.0,
        noise: 0.5,
        seed: 3,
        ..Default::default()
    }
    .generate()
    .unwrap();
    let problem = ridge(&data, 1e-3);
    for name in ["sgd", "sag", "saga", "svrg"] {
        let run = |seed| {
            solvers::by_name(name, &options(1e-12, 20, seed))
                .unwrap()
                .solve(&problem)
                .unwrap()
        };
        let (a, b, c) = (run(1), run(1), run(2));
        assert_eq!(a.coef, b.coef, "{name}: same seed, different coefficients");
        assert_eq!(a.iterations, b.iterations);
        assert_ne!(a.coef, c.coef, "{name}: the seed is ignored");
    }
}

/// `passes` counts every pass over the data: the driver's evaluation at θ₀ and once per epoch,
/// the epoch's n sample gradients (2n for an SVRG outer iteration), and the slope tables' or
/// snapshot's initial pass.
#[test]
fn passes_count_every_pass_over_the_data() {
    let data = well_conditioned();
    let problem = ridge(&data, 1e-3);
    let epochs = 5;
    for (name, expected) in [
        ("sgd", 1.0 + 2.0 * epochs as f64),
        ("sag", 2.0 + 2.0 * epochs as f64),
        ("saga", 2.0 + 2.0 * epochs as f64),
        ("svrg", 2.0 + 3.0 * epochs as f64),
    ] {
        let fit = solvers::by_name(name, &options(1e-15, epochs, 0))
            .unwrap()
            .solve(&problem)
            .unwrap();
        assert_eq!((fit.iterations, fit.converged), (epochs, false), "{name}");
        assert_eq!(fit.passes, expected, "{name}");
    }
}

/// Every averaged schedule whose steps stay near η_max for long (constant, 1/(λ(t + t₀)),
/// inverse scaling with p = 1/4) reaches an objective gap ≤ 10⁻⁴·J* in the default 200 epochs
/// on a well-conditioned problem, with batches of 1 and 8 (measured: ≤ 1.2·10⁻⁶·J*); and
/// averaging a constant step beats its last iterate by at least 10× (the last iterate stalls at
/// the noise floor ∝ η, measured 4·10⁻²·J*, Bach & Moulines 2013). `converged` is honest.
#[test]
fn sgd_schedules_reach_their_standard() {
    let data = well_conditioned();
    let problem = ridge(&data, 1e-3);
    let reference = solvers::Qr.solve(&problem).unwrap();
    let j_star = reference.objective;
    let zero = Col::<f64>::zeros(problem.n_features());
    let g0 = problem.gradient_norm(zero.as_ref(), problem.optimal_intercept(zero.as_ref()));
    let gap = |sgd: Sgd| {
        let fit = sgd.solve(&problem).unwrap();
        let floor = gradient_floor(&problem, fit.coef.as_ref(), fit.intercept);
        assert!(!fit.converged || fit.gradient_norm <= Sgd::DEFAULT_TOL * g0 + floor);
        problem.objective_gap(
            fit.coef.as_ref(),
            fit.intercept,
            reference.coef.as_ref(),
            reference.intercept,
        )
    };
    let schedules = [
        Schedule::Optimal { t0: None },
        Schedule::Constant { eta: None },
        Schedule::InverseScaling {
            eta0: None,
            power: 0.25,
        },
    ];
    for schedule in schedules {
        for batch in [1, 8] {
            let sgd = Sgd::default()
                .with_schedule(schedule)
                .unwrap()
                .with_batch_size(batch)
                .unwrap();
            let g = gap(sgd);
            assert!(
                g <= 1e-4 * j_star,
                "{schedule:?}, batch {batch}: gap {g:e} > 1e-4·J* = {:e}",
                1e-4 * j_star
            );
        }
    }
    let constant = Sgd::default()
        .with_schedule(Schedule::Constant { eta: None })
        .unwrap();
    let (averaged, last) = (gap(constant.clone()), gap(constant.with_averaging(false)));
    assert!(
        averaged * 10.0 <= last,
        "averaging did not help: {averaged:e} vs last iterate {last:e}"
    );
}

/// Hyper-parameters are checked when the solver value is built; a schedule that needs λ > 0
/// is refused on a problem with λ = 0; a step far above the theory's is a divergence error.
#[test]
fn stochastic_hyper_parameters_are_validated() {
    let invalid =
        |r: tikhonov::Result<Sgd>| matches!(r, Err(tikhonov::Error::InvalidParameter { .. }));
    let sgd = Sgd::default;
    assert!(invalid(sgd().with_batch_size(0)));
    assert!(invalid(sgd().with_step(0.0)));
    assert!(invalid(
        sgd().with_schedule(Schedule::Constant { eta: Some(-1.0) })
    ));
    assert!(invalid(
        sgd().with_schedule(Schedule::Optimal { t0: Some(0.0) })
    ));
    for power in [0.0, 1.5, f64::NAN] {
        let schedule = Schedule::InverseScaling { eta0: None, power };
        assert!(invalid(sgd().with_schedule(schedule)), "power {power}");
    }
    assert!(solvers::Svrg::default().with_inner_steps(0).is_err());
    assert!(
        tikhonov::stochastic::StochasticSettings::default()
            .with_step(f64::INFINITY)
            .is_err()
    );

    let data = well_conditioned();
    let unpenalised = ridge(&data, 0.0);
    let err = sgd()
        .with_schedule(Schedule::Optimal { t0: Some(10.0) })
        .unwrap()
        .solve(&unpenalised)
        .unwrap_err();
    assert!(err.to_string().contains("λ > 0"), "{err}");
    // With t₀ chosen from the smoothness the schedule is the constant η_max at λ = 0.
    assert!(sgd().solve(&unpenalised).is_ok());

    let problem = ridge(&data, 1e-3);
    for name in ["sgd", "sag", "saga", "svrg"] {
        let options = SolverOptions {
            step: Some(1e3),
            ..options(1e-8, 50, 0)
        };
        let err = solvers::by_name(name, &options)
            .unwrap()
            .solve(&problem)
            .unwrap_err();
        assert!(
            matches!(err, tikhonov::Error::Diverged { .. }),
            "{name}: {err}"
        );
    }
}
