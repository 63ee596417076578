//! Exact leave-one-out and GCV (`select::loo`) against brute force and scikit-learn.
//!
//! - Brute force: every left-out problem (the data without row i, with the left-out penalty of
//!   the convention) solved by `qr-refined`, and eᵢ = yᵢ − xᵢᵀw₋ᵢ − b₋ᵢ; with weights (one of
//!   them 0) and intercept, without intercept, with several targets, with fewer samples than
//!   features, and at λ = 0 and λ = 10⁻¹⁴·scale (scale = the largest eigenvalue of XcᵀSXc / S).
//! - GCV against its definition from a `qr-refined` fit's residuals and df = tr(H) + 1, tr(H)
//!   itself by brute force (hⱼⱼ is ŷⱼ of the fit to the target eⱼ).
//! - scikit-learn: `LooConvention::SameAlpha` against `RidgeCV(store_cv_results=True)`'s
//!   `cv_results_` (= sᵢ·eᵢ²) and `alpha_`, from `tests/fixtures/sklearn_ridgecv/` written by
//!   `scripts/sklearn_ridgecv_fixtures.py` (no Python needed here).

use faer::{Col, Mat};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use tikhonov::data::Synthetic;
use tikhonov::multi::MultiRidgeProblem;
use tikhonov::select::grid::gram_eigenvalues;
use tikhonov::select::loo::{LeaveOneOut, LooConvention, per_target};
use tikhonov::solvers::{Refined, Solver};
use tikhonov::{Error, RidgeProblem};

/// A test problem: X with offsets (n × d, κ(Xc) = `condition`), y, and weights.
struct Data {
    x: Mat<f64>,
    y: Col<f64>,
    weights: Col<f64>,
}

fn data(n: usize, d: usize, condition: f64, seed: u64) -> Data {
    let s = Synthetic {
        n_samples: n,
        n_features: d,
        condition,
        noise: 0.5,
        offset: 3.0,
        intercept: 2.0,
        seed,
    }
    .generate()
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 100);
    let weights = Col::from_fn(n, |_| rng.random_range(0.2..3.0));
    Data {
        x: s.x,
        y: s.y,
        weights,
    }
}

fn problem<'a>(
    x: &'a Mat<f64>,
    y: &'a Col<f64>,
    w: Option<&'a Col<f64>>,
    b: bool,
) -> RidgeProblem<'a> {
    let builder = RidgeProblem::builder(x.as_ref(), y.as_ref()).intercept(b);
    match w {
        Some(w) => builder.weights(w.as_ref()),
        None => builder,
    }
    .build()
    .unwrap()
}

/// The largest eigenvalue of XcᵀSXc / S: λ on this scale is a strong penalty.
fn scale(p: &RidgeProblem<'_>) -> f64 {
    gram_eigenvalues(p).unwrap()[0] / p.weight_sum()
}

/// eᵢ from n refits by `qr-refined` on the data without row i, each at penalty
/// `left_out_lambda(S − sᵢ)` (in the crate's normalisation).
fn brute_force(
    x: &Mat<f64>,
    y: &Col<f64>,
    w: Option<&Col<f64>>,
    intercept: bool,
    left_out_lambda: impl Fn(f64) -> f64,
) -> Col<f64> {
    let (n, d) = (x.nrows(), x.ncols());
    let s_total: f64 = w.map_or(n as f64, |w| w.iter().sum());
    Col::from_fn(n, |i| {
        let keep = |a: usize| if a < i { a } else { a + 1 };
        let xi = Mat::from_fn(n - 1, d, |a, j| x[(keep(a), j)]);
        let yi = Col::from_fn(n - 1, |a| y[keep(a)]);
        let wi = w.map(|w| Col::from_fn(n - 1, |a| w[keep(a)]));
        let si = w.map_or(1.0, |w| w[i]);
        let p = problem(&xi, &yi, wi.as_ref(), intercept)
            .with_lambda(left_out_lambda(s_total - si))
            .unwrap();
        let fit = Refined::qr().solve(&p).unwrap();
        y[i] - (0..d).map(|j| x[(i, j)] * fit.coef[j]).sum::<f64>() - fit.intercept
    })
}

/// max |a − b| / max |b|, and the largest elementwise relative difference over entries with
/// |b| ≥ 10⁻³·max|b| (smaller ones are compared by the first number only).
fn differences(a: &Col<f64>, b: &Col<f64>) -> (f64, f64) {
    let top = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let abs = a
        .iter()
        .zip(b.iter())
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()))
        / top;
    let rel = a
        .iter()
        .zip(b.iter())
        .filter(|(_, b)| b.abs() >= 1e-3 * top)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs() / b.abs()));
    (abs, rel)
}

fn assert_close(a: &Col<f64>, b: &Col<f64>, tol: f64, what: &str) {
    let (abs, rel) = differences(a, b);
    assert!(
        abs <= tol && rel <= tol,
        "{what}: max diff {abs:e} of max |e|, max relative {rel:e}"
    );
}

#[test]
fn loo_residuals_equal_brute_force_refits_with_weights_and_intercept() {
    let mut dat = data(40, 6, 30.0, 1);
    dat.weights[5] = 0.0; // enters no fit: its LOO residual is the full fit's
    for intercept in [true, false] {
        let p = problem(&dat.x, &dat.y, Some(&dat.weights), intercept);
        let sc = scale(&p);
        let s = p.weight_sum();
        let loo = LeaveOneOut::new(&p).unwrap();
        for lambda in [0.0, 1e-14 * sc, 1e-6 * sc, 1e-2 * sc, sc, 100.0 * sc] {
            let ours = loo.residuals(lambda).unwrap();
            let bf = brute_force(&dat.x, &dat.y, Some(&dat.weights), intercept, |_| lambda);
            assert_close(
                &ours,
                &bf,
                1e-10,
                &format!("same λ, intercept {intercept}, λ = {lambda:e}"),
            );
            let alpha = loo.clone().with_convention(LooConvention::SameAlpha);
            let ours = alpha.residuals(lambda).unwrap();
            let bf = brute_force(&dat.x, &dat.y, Some(&dat.weights), intercept, |rest| {
                lambda * s / rest
            });
            assert_close(
                &ours,
                &bf,
                1e-10,
                &format!("same α, intercept {intercept}, λ = {lambda:e}"),
            );
        }
        // The zero-weight sample: the residual of the fit on all data.
        let lambda = 0.1 * sc;
        let fit = Refined::qr()
            .solve(&p.with_lambda(lambda).unwrap())
            .unwrap();
        let r5 =
            dat.y[5] - (0..6).map(|j| dat.x[(5, j)] * fit.coef[j]).sum::<f64>() - fit.intercept;
        let e5 = loo.residuals(lambda).unwrap()[5];
        assert!((e5 - r5).abs() <= 1e-12 * r5.abs().max(1.0), "{e5} vs {r5}");
    }
}

#[test]
fn loo_without_weights_matches_brute_force_and_the_conventions_differ_by_order_one_over_n() {
    let dat = data(30, 4, 10.0, 2);
    let p = problem(&dat.x, &dat.y, None, true);
    let sc = scale(&p);
    let loo = LeaveOneOut::new(&p).unwrap();
    let lambda = 0.05 * sc;
    let ours = loo.residuals(lambda).unwrap();
    assert_close(
        &ours,
        &brute_force(&dat.x, &dat.y, None, true, |_| lambda),
        1e-10,
        "same λ",
    );
    let other = loo
        .clone()
        .with_convention(LooConvention::SameAlpha)
        .residuals(lambda)
        .unwrap();
    // Unweighted, SameAlpha is SameLambda at λ·n/(n − 1).
    let scaled = loo.residuals(lambda * 30.0 / 29.0).unwrap();
    assert_close(&other, &scaled, 1e-12, "same α = same λ at λ·n/(n − 1)");
    let (abs, _) = differences(&ours, &other);
    assert!(abs > 1e-6, "the conventions should differ, by {abs:e}");
}

#[test]
fn lambda_zero_and_tiny_lambda_stay_accurate_on_ill_conditioned_full_rank_data() {
    // κ(Xc) = 10⁵: 1 − hᵢᵢ is a sum of non-negative terms, so nothing cancels as λ → 0.
    let dat = data(50, 5, 1e5, 3);
    let p = problem(&dat.x, &dat.y, Some(&dat.weights), true);
    let sc = scale(&p);
    let loo = LeaveOneOut::new(&p).unwrap();
    for lambda in [0.0, 1e-16 * sc, 1e-14 * sc, 1e-12 * sc] {
        let ours = loo.residuals(lambda).unwrap();
        let bf = brute_force(&dat.x, &dat.y, Some(&dat.weights), true, |_| lambda);
        // Both sides carry errors of order κ·ε ≈ 2e-11 (measured: 1e-11 of max |e|, 2e-10
        // elementwise).
        assert_close(&ours, &bf, 1e-9, &format!("λ = {lambda:e}"));
    }
    // At λ = 0 and at the smallest λ the answers agree with each other to rounding.
    // λ = 0 is the limit: at α/θ_min² = 10⁻¹⁸ the answers agree to rounding.
    let a = loo.residuals(0.0).unwrap();
    let b = loo.residuals(1e-28 * sc).unwrap();
    assert_close(&a, &b, 1e-13, "λ = 0 vs 1e-28·scale");
}

#[test]
fn fewer_samples_than_features() {
    let dat = data(12, 30, 10.0, 4);
    for intercept in [true, false] {
        let p = problem(&dat.x, &dat.y, Some(&dat.weights), intercept);
        let sc = scale(&p);
        let loo = LeaveOneOut::new(&p).unwrap();
        assert_eq!(loo.rank(), if intercept { 11 } else { 12 });
        for lambda in [1e-10 * sc, 1e-3 * sc, sc] {
            let ours = loo.residuals(lambda).unwrap();
            let bf = brute_force(&dat.x, &dat.y, Some(&dat.weights), intercept, |_| lambda);
            assert_close(
                &ours,
                &bf,
                1e-10,
                &format!("n < d, intercept {intercept}, λ = {lambda:e}"),
            );
        }
        // At λ = 0 every sample is interpolated: no LOO residual, and an error that says why.
        let err = loo.residuals(0.0).unwrap_err();
        assert!(matches!(err, Error::Numerical { .. }), "{err}");
        assert!(err.to_string().contains("alone determines"), "{err}");
        assert!(loo.gcv(&[0.0]).is_err());
        assert!(loo.gcv(&[sc]).unwrap().mean[0].is_finite());
    }
}

#[test]
fn a_sample_that_alone_determines_a_feature_is_refused_at_lambda_zero() {
    // Column 2 is non-zero only in sample 3: without it, w₂ is free at λ = 0.
    let mut dat = data(20, 3, 5.0, 5);
    for i in 0..20 {
        dat.x[(i, 2)] = if i == 3 { 1.5 } else { 0.0 };
    }
    let p = problem(&dat.x, &dat.y, None, false);
    let loo = LeaveOneOut::new(&p).unwrap();
    let err = loo.residuals(0.0).unwrap_err();
    assert!(err.to_string().contains("sample 3"), "{err}");
    assert!(loo.curve(&[1.0, 0.0]).is_err());
    // Any λ > 0 determines it again.
    let lambda = 1e-3 * scale(&p);
    assert_close(
        &loo.residuals(lambda).unwrap(),
        &brute_force(&dat.x, &dat.y, None, false, |_| lambda),
        1e-10,
        "λ > 0",
    );
}

#[test]
fn gcv_equals_its_definition_from_a_refit() {
    let dat = data(25, 4, 20.0, 6);
    // A fifth column x₅ = x₁ + x₂: rank 4 of 5, so ‖q‖² also gets the part of y along the
    // direction the rank cut-off drops (src/select/loo.rs); λ > 0 only there.
    let mut dependent = Data {
        x: Mat::from_fn(25, 5, |i, j| match j {
            4 => dat.x[(i, 0)] + dat.x[(i, 1)],
            _ => dat.x[(i, j)],
        }),
        y: dat.y.clone(),
        weights: dat.weights.clone(),
    };
    dependent.y[3] += 1.0;
    for (dat, with_zero) in [(&dat, true), (&dependent, false)] {
        let (n, d) = (25, dat.x.ncols());
        for intercept in [true, false] {
            let p = problem(&dat.x, &dat.y, Some(&dat.weights), intercept);
            let s = p.weight_sum();
            let sc = scale(&p);
            let lambdas: Vec<f64> = [10.0 * sc, 0.1 * sc, 1e-4 * sc, 0.0]
                .into_iter()
                .filter(|&l| with_zero || l > 0.0)
                .collect();
            let loo = LeaveOneOut::new(&p).unwrap();
            assert_eq!(loo.rank(), 4);
            let gcv = loo.gcv(&lambdas).unwrap();
            assert_eq!(gcv.method, "gcv");
            assert!(gcv.se.is_none());
            for (&lambda, &value) in lambdas.iter().zip(&gcv.mean) {
                let q = p.with_lambda(lambda).unwrap();
                let fit = Refined::qr().solve(&q).unwrap();
                let r = q.residuals(fit.coef.as_ref(), fit.intercept);
                let rss: f64 = (0..n).map(|i| dat.weights[i] * r[i] * r[i]).sum();
                // tr(H): hⱼⱼ = ŷⱼ of the fit to the target eⱼ (same X, weights and λ).
                let trace: f64 = (0..n)
                    .map(|j| {
                        let e = Col::from_fn(n, |i| if i == j { 1.0 } else { 0.0 });
                        let pj = problem(&dat.x, &e, Some(&dat.weights), intercept)
                            .with_lambda(lambda)
                            .unwrap();
                        let f = Refined::qr().solve(&pj).unwrap();
                        (0..d).map(|l| dat.x[(j, l)] * f.coef[l]).sum::<f64>() + f.intercept
                    })
                    .sum();
                let expected = (rss / s) / (1.0 - trace / s).powi(2);
                assert!(
                    (value - expected).abs() <= 1e-10 * expected,
                    "d = {d}, λ = {lambda:e}: {value} vs {expected}"
                );
                let df = if intercept { 5.0 } else { 4.0 };
                if lambda == 0.0 {
                    assert!((trace - df).abs() < 1e-10, "tr(H) at λ = 0 is {trace}");
                }
            }
        }
    }
}

#[test]
fn the_curve_is_the_weighted_mean_and_glmnet_standard_error_of_the_squared_residuals() {
    let mut dat = data(30, 3, 5.0, 7);
    dat.weights[0] = 0.0;
    let p = problem(&dat.x, &dat.y, Some(&dat.weights), true);
    let sc = scale(&p);
    let lambdas = [sc, 0.1 * sc, 0.01 * sc, 1e-4 * sc];
    let loo = LeaveOneOut::new(&p).unwrap();
    let curve = loo.curve(&lambdas).unwrap();
    let s = p.weight_sum();
    for (l, &lambda) in lambdas.iter().enumerate() {
        let e = brute_force(&dat.x, &dat.y, Some(&dat.weights), true, |_| lambda);
        let sq: Vec<f64> = e.iter().map(|e| e * e).collect();
        let mean: f64 = (0..30).map(|i| dat.weights[i] * sq[i]).sum::<f64>() / s;
        let var: f64 = (0..30)
            .map(|i| dat.weights[i] * (sq[i] - mean).powi(2))
            .sum::<f64>()
            / s;
        let se = (var / 28.0).sqrt(); // 29 samples of positive weight
        assert!((curve.mean[l] - mean).abs() <= 1e-10 * mean);
        let got = curve.se.as_ref().unwrap()[l];
        assert!((got - se).abs() <= 1e-9 * se, "{got} vs {se}");
    }
    let best = curve
        .mean
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(curve.lambda_min, lambdas[best]);
    // One call for a grid equals one call per λ.
    let single = loo.residuals(lambdas[2]).unwrap();
    let grid = loo.target_residual_matrix(0, &lambdas).unwrap();
    assert_eq!(single, grid.col(2).to_owned());
}

#[test]
fn several_targets_share_one_decomposition_and_each_chooses_its_lambda() {
    let dat = data(30, 4, 10.0, 8);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    // Target 1: y buried in noise; target 2: y scaled (the same λ as y).
    let y = Mat::from_fn(30, 3, |i, t| match t {
        0 => dat.y[i],
        1 => dat.y[i] + rng.random_range(-8.0..8.0),
        _ => 4.0 * dat.y[i],
    });
    let mp = MultiRidgeProblem::builder(dat.x.as_ref(), y.as_ref())
        .weights(dat.weights.as_ref())
        .build()
        .unwrap();
    let p0 = mp.target(0);
    let sc = scale(&p0);
    let lambdas: Vec<f64> = (0..15)
        .map(|i| sc * 10f64.powf(1.0 - 0.5 * i as f64))
        .collect();
    let curves = per_target(&mp, &lambdas).unwrap();
    assert_eq!(curves.len(), 3);
    let loo = LeaveOneOut::of_targets(&mp).unwrap();
    for t in 0..3 {
        let single = LeaveOneOut::new(&mp.target(t))
            .unwrap()
            .curve(&lambdas)
            .unwrap();
        assert_eq!(curves[t].lambda_min, single.lambda_min);
        for (a, b) in curves[t].mean.iter().zip(&single.mean) {
            assert!((a - b).abs() <= 1e-12 * b);
        }
        let lambda = curves[t].lambda_min;
        let e = loo.target_residuals(t, lambda).unwrap();
        let yt = Col::from_fn(30, |i| y[(i, t)]);
        assert_close(
            &e,
            &brute_force(&dat.x, &yt, Some(&dat.weights), true, |_| lambda),
            1e-10,
            "target",
        );
    }
    // Each target its own λ (the noisy one another than y's), and λ does not depend on the
    // units of y.
    assert_ne!(curves[1].lambda_min, curves[0].lambda_min);
    assert_eq!(curves[2].lambda_min, curves[0].lambda_min);
    assert!(loo.target_curve(3, &lambdas).is_err());
}

#[test]
fn bad_grids_are_errors() {
    let dat = data(10, 2, 2.0, 10);
    let loo = LeaveOneOut::new(&problem(&dat.x, &dat.y, None, true)).unwrap();
    assert!(loo.curve(&[]).is_err());
    assert!(loo.curve(&[1.0, -1.0]).is_err());
    assert!(loo.gcv(&[f64::NAN]).is_err());
}

#[derive(Deserialize)]
struct Fixture {
    name: String,
    n_samples: usize,
    n_features: usize,
    x: Vec<f64>,
    y: Vec<Vec<f64>>,
    weights: Option<Vec<f64>>,
    fit_intercept: bool,
    alphas: Vec<f64>,
    lambdas: Vec<f64>,
    #[serde(rename = "alpha_")]
    alpha: Vec<f64>,
    /// [target][alpha][sample]: sᵢ·eᵢ².
    cv_results: Vec<Vec<Vec<f64>>>,
}

#[test]
fn same_alpha_reproduces_scikit_learn_ridgecv() {
    let cases: Vec<Fixture> =
        serde_json::from_str(include_str!("fixtures/sklearn_ridgecv/ridgecv_loo.json")).unwrap();
    assert_eq!(cases.len(), 3);
    for case in &cases {
        let (n, d, k) = (case.n_samples, case.n_features, case.y.len());
        let x = Mat::from_fn(n, d, |i, j| case.x[i * d + j]);
        let y = Mat::from_fn(n, k, |i, t| case.y[t][i]);
        let w = case.weights.as_ref().map(|w| Col::from_fn(n, |i| w[i]));
        let mut builder =
            MultiRidgeProblem::builder(x.as_ref(), y.as_ref()).intercept(case.fit_intercept);
        if let Some(w) = &w {
            builder = builder.weights(w.as_ref());
        }
        let mp = builder.build().unwrap();
        let loo = LeaveOneOut::of_targets(&mp)
            .unwrap()
            .with_convention(LooConvention::SameAlpha);
        let curves = loo.curves(&case.lambdas).unwrap();
        let s: f64 = w.as_ref().map_or(n as f64, |w| w.iter().sum());
        assert_eq!(curves.len(), k);
        for (t, curve) in curves.iter().enumerate() {
            let e = loo.target_residual_matrix(t, &case.lambdas).unwrap();
            for (l, theirs) in case.cv_results[t].iter().enumerate() {
                let top = theirs.iter().fold(0.0f64, |m, v| m.max(*v));
                for (i, &sk) in theirs.iter().enumerate() {
                    let wi = w.as_ref().map_or(1.0, |w| w[i]);
                    let ours = wi * e[(i, l)] * e[(i, l)];
                    assert!(
                        (ours - sk).abs() <= 1e-10 * sk.max(1e-6 * top),
                        "{} target {t} alpha {} sample {i}: {ours:e} vs {sk:e}",
                        case.name,
                        case.alphas[l]
                    );
                }
            }
            // RidgeCV's alpha_ minimises the plain mean of sᵢ·eᵢ², ours Σ sᵢ·eᵢ²/S: the same λ.
            let chosen = curve.lambda_min * s;
            assert!(
                (chosen - case.alpha[t]).abs() <= 1e-12 * case.alpha[t],
                "{} target {t}: α = {chosen} vs RidgeCV's {}",
                case.name,
                case.alpha[t]
            );
        }
    }
}

#[test]
fn an_exactly_rank_deficient_design_has_the_limit_of_its_ridge_loo() {
    // Column 3 duplicates column 0: rank 3 of 4. At λ > 0 the refits are regular; λ = 0 is the
    // limit λ → 0 (the predictions, and so the LOO residuals, are unique).
    let base = data(30, 3, 5.0, 11);
    let x = Mat::from_fn(30, 4, |i, j| base.x[(i, j % 3)]);
    let p = problem(&x, &base.y, Some(&base.weights), true);
    let loo = LeaveOneOut::new(&p).unwrap();
    assert_eq!(loo.rank(), 3);
    let sc = scale(&p);
    let lambda = 1e-3 * sc;
    assert_close(
        &loo.residuals(lambda).unwrap(),
        &brute_force(&x, &base.y, Some(&base.weights), true, |_| lambda),
        1e-10,
        "duplicated column, λ > 0",
    );
    let reduced = problem(&base.x, &base.y, Some(&base.weights), true);
    assert_close(
        &loo.residuals(0.0).unwrap(),
        &LeaveOneOut::new(&reduced).unwrap().residuals(0.0).unwrap(),
        1e-10,
        "duplicated column, λ = 0",
    );
}

#[test]
fn blocks_and_threads_do_not_change_the_residuals() {
    // 2 500 samples: three blocks of the per-sample passes, and two threads in the QR.
    let dat = data(2500, 5, 10.0, 12);
    let sc = scale(&problem(&dat.x, &dat.y, None, true));
    let lambda = 1e-2 * sc;
    for weighted in [false, true] {
        let w = weighted.then_some(&dat.weights);
        let seq = RidgeProblem::builder(dat.x.as_ref(), dat.y.as_ref());
        let seq = match w {
            Some(w) => seq.weights(w.as_ref()),
            None => seq,
        }
        .par(faer::Par::Seq)
        .build()
        .unwrap();
        let a = LeaveOneOut::new(&seq).unwrap().residuals(lambda).unwrap();
        let par = problem(&dat.x, &dat.y, w, true)
            .with_lambda(lambda)
            .unwrap();
        let b = LeaveOneOut::new(&par).unwrap().residuals(lambda).unwrap();
        // Two thread counts round the QR differently: each eᵢ is then off by about
        // (r + 1)·ε·κ_B/(1 − hᵢᵢ) (src/select/loo.rs, "Accuracy"), 1e-12 on the worst sample.
        assert_close(&a, &b, 1e-11, "sequential vs parallel");
        // With weights the per-sample penalties differ (the sample-by-sample path), without
        // them one product per block does it: both against brute force.
        let bf = brute_force(&dat.x, &dat.y, w, true, |_| lambda);
        assert_close(&b, &bf, 1e-10, &format!("n = 2500, weighted {weighted}"));
    }
}
