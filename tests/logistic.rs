//! L2-regularised logistic regression: every backend that fits it agrees with `newton`, the
//! problem has the invariances it must have, the gradient has the right sign, and separable
//! data at λ = 0 are an error.
//!
//! The scikit-learn fixtures (raw breast_cancer and synthetic problems against an
//! extended-precision reference) are in `tests/sklearn_logistic.rs`.

#[path = "support_random/mod.rs"]
mod support_random;

use faer::{Col, Mat};
use proptest::prelude::*;
use tikhonov::data::Synthetic;
use tikhonov::logistic::{BinaryLabels, LogisticProblem};
use tikhonov::solvers::{self, Newton, Solver, SolverOptions};
use tikhonov::{Error, Fit, LossKind};

/// The backends that fit the logistic loss, built with `options` where they take them.
fn logistic_backends(options: &SolverOptions) -> Vec<Box<dyn Solver>> {
    solvers::REGISTRY
        .iter()
        .filter(|s| s.losses.contains(&LossKind::Logistic))
        .map(|s| s.build_applicable(options).unwrap())
        .collect()
}

/// A synthetic classification problem: X with κ(Xc) = `condition`, labels drawn from
/// σ(xᵀw* + b* + noise), as 0/1.
fn synthetic(n: usize, d: usize, condition: f64, offset: f64, seed: u64) -> (Mat<f64>, Col<f64>) {
    let spec = Synthetic {
        n_samples: n,
        n_features: d,
        condition,
        noise: 1.0,
        offset,
        intercept: 0.3,
        seed,
    };
    let data = spec.generate().unwrap();
    let labels = spec.logistic_labels(&data);
    (data.x, labels)
}

fn newton(problem: &LogisticProblem<'_>) -> Fit {
    Newton::default().solve_logistic(problem).unwrap()
}

/// ‖θ − θ*‖/‖θ*‖ over (w, b).
fn theta_error(fit: &Fit, reference: &Fit) -> f64 {
    let dw = (&fit.coef - &reference.coef).norm_l2();
    let db = fit.intercept - reference.intercept;
    dw.hypot(db) / reference.coef.norm_l2().hypot(reference.intercept)
}

#[derive(Debug, Clone)]
struct LogisticCase {
    n: usize,
    d: usize,
    condition: f64,
    offset: f64,
    lambda: f64,
    weighted: bool,
    intercept: bool,
    seed: u64,
}

fn case() -> impl Strategy<Value = LogisticCase> {
    (
        60usize..=300,
        1usize..=8,
        0.0..1.0f64,
        -4.0..-1.0f64,
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(n, d, lk, ll, weighted, intercept, seed)| LogisticCase {
            n,
            d,
            condition: 10f64.powf(lk),
            // An offset only with an intercept: without one it makes X ill-conditioned.
            offset: if intercept { 5.0 } else { 0.0 },
            lambda: 10f64.powf(ll),
            weighted,
            intercept,
            seed,
        })
}

proptest! {
    #![proptest_config(support_random::config(24))]

    /// Every backend that fits the logistic loss, at tol = 1e-10, lands within 1e-7 (relative,
    /// over (w, b)) of `newton`; `sgd`, whose documented accuracy is coarse, says whether it
    /// converged and is then as close as its gradient allows.
    #[test]
    fn every_logistic_backend_agrees_with_newton(case in case()) {
        let (x, y) = synthetic(case.n, case.d, case.condition, case.offset, case.seed);
        let labels = match BinaryLabels::from_values(y.as_ref()) {
            Ok(l) => l,
            Err(_) => return Err(TestCaseError::reject("one class only")),
        };
        let s = Col::from_fn(case.n, |i| 0.25 + (i % 5) as f64 * 0.5);
        let mut builder = LogisticProblem::builder(x.as_ref(), &labels)
            .lambda(case.lambda)
            .intercept(case.intercept);
        if case.weighted {
            builder = builder.weights(s.as_ref());
        }
        let problem = builder.build().unwrap();
        let reference = newton(&problem);
        prop_assert!(reference.converged);
        // κ(∇²J) reaches ~10⁴ here (λ ≥ 1e-4, φ'' ≤ ¼), so gd needs up to ~10⁵ iterations.
        let options = SolverOptions {
            tol: Some(1e-10),
            max_iter: Some(300_000),
            ..SolverOptions::default()
        };
        for backend in logistic_backends(&options) {
            // sgd keeps its own epoch budget: it cannot reach 1e-10 and would use all 300 000.
            let backend = if backend.name() == "sgd" {
                solvers::by_name("sgd", &SolverOptions { tol: Some(1e-10), ..SolverOptions::default() }).unwrap()
            } else {
                backend
            };
            let fit = backend.solve_logistic(&problem).unwrap();
            prop_assert_eq!(fit.loss, LossKind::Logistic);
            prop_assert_eq!(fit.labels.as_ref(), Some(labels.classes()));
            let err = theta_error(&fit, &reference);
            if backend.name() == "sgd" {
                prop_assert!(!fit.converged || err <= 1e-3, "sgd: {:e}", err);
                continue;
            }
            prop_assert!(fit.converged, "{} did not converge", fit.solver);
            prop_assert!(err <= 1e-7, "{}: relative error {:e} (case {:?})", fit.solver, err, case);
        }
    }
}

/// A small problem with an intercept, weights and both classes.
fn small() -> (Mat<f64>, Col<f64>) {
    synthetic(80, 3, 3.0, 1.0, 7)
}

#[test]
fn a_weight_of_two_is_a_duplicated_row_and_a_zero_weight_a_dropped_one() {
    let (x, y) = small();
    let n = x.nrows();
    let labels = BinaryLabels::from_values(y.as_ref()).unwrap();
    // Weight 2 on the first 10 rows, 0 on the last 10.
    let s = Col::from_fn(n, |i| {
        if i < 10 {
            2.0
        } else if i >= n - 10 {
            0.0
        } else {
            1.0
        }
    });
    let weighted = LogisticProblem::builder(x.as_ref(), &labels)
        .lambda(1e-2)
        .weights(s.as_ref())
        .build()
        .unwrap();
    // The same data with the first 10 rows repeated and the last 10 dropped.
    let rows: Vec<usize> = (0..10).chain(0..n - 10).collect();
    let xd = Mat::from_fn(rows.len(), x.ncols(), |i, j| x[(rows[i], j)]);
    let yd = Col::from_fn(rows.len(), |i| y[rows[i]]);
    let labels_d = BinaryLabels::from_values(yd.as_ref()).unwrap();
    let expanded = LogisticProblem::builder(xd.as_ref(), &labels_d)
        .lambda(1e-2)
        .build()
        .unwrap();
    let (a, b) = (newton(&weighted), newton(&expanded));
    assert!(theta_error(&a, &b) < 1e-12, "{:e}", theta_error(&a, &b));
    assert!((a.objective - b.objective).abs() < 1e-14);
}

#[test]
fn swapping_the_labels_flips_the_signs_of_w_and_b() {
    let (x, y) = small();
    let flipped = Col::from_fn(y.nrows(), |i| 1.0 - y[i]);
    let (l, lf) = (
        BinaryLabels::from_values(y.as_ref()).unwrap(),
        BinaryLabels::from_values(flipped.as_ref()).unwrap(),
    );
    for intercept in [true, false] {
        let fit = |labels| {
            newton(
                &LogisticProblem::builder(x.as_ref(), labels)
                    .lambda(1e-3)
                    .intercept(intercept)
                    .build()
                    .unwrap(),
            )
        };
        let (a, b) = (fit(&l), fit(&lf));
        let neg = Fit {
            model: tikhonov::Model {
                coef: -&b.coef,
                intercept: -b.intercept,
                ..b.model.clone()
            },
            ..b
        };
        assert!(theta_error(&a, &neg) < 1e-13);
        // Probabilities of the same original class agree: p(1) = 1 − p(0 as the positive class).
        let pa = a.predict_proba(x.as_ref()).unwrap();
        let pb = neg.predict_proba(x.as_ref()).unwrap();
        assert!((&pa - &pb).norm_max() < 1e-12);
    }
}

#[test]
fn the_gradient_is_plus_the_mean_of_p_minus_y_times_x_and_matches_finite_differences() {
    let (x, y) = small();
    let s = Col::from_fn(x.nrows(), |i| 0.5 + (i % 3) as f64);
    let labels = BinaryLabels::from_values(y.as_ref()).unwrap();
    let lambda = 0.05;
    let p = LogisticProblem::builder(x.as_ref(), &labels)
        .lambda(lambda)
        .weights(s.as_ref())
        .build()
        .unwrap();
    let w = Col::from_fn(3, |j| 0.3 - 0.2 * j as f64);
    let b = -0.4;
    let (g, gb) = p.gradient(w.as_ref(), b);
    // The formula written out: +(1/S)·Σ sᵢ(pᵢ − yᵢ)xᵢ + λw, with yᵢ ∈ {0, 1}.
    let total: f64 = s.iter().sum();
    let residual = |i: usize| {
        let m: f64 = (0..3).map(|j| x[(i, j)] * w[j]).sum::<f64>() + b;
        s[i] * (tikhonov::loss::sigmoid(m) - y[i]) / total
    };
    let by_formula = Col::from_fn(3, |j| {
        (0..x.nrows()).map(|i| residual(i) * x[(i, j)]).sum::<f64>() + lambda * w[j]
    });
    let gb_formula: f64 = (0..x.nrows()).map(residual).sum();
    assert!(
        (&g - &by_formula).norm_l2() < 1e-13,
        "{g:?} vs {by_formula:?}"
    );
    assert!((gb - gb_formula).abs() < 1e-14);
    // Central differences of J agree with +∇J, so the seed's −(1/n)·Σ(pᵢ − yᵢ)xᵢ would ascend.
    let h = 1e-6;
    for j in 0..3 {
        let mut e = w.clone();
        e[j] += h;
        let up = p.objective(e.as_ref(), b);
        e[j] -= 2.0 * h;
        let down = p.objective(e.as_ref(), b);
        let fd = (up - down) / (2.0 * h);
        assert!((fd - g[j]).abs() < 1e-8, "∂w{j}: {fd} vs {}", g[j]);
        assert!(g[j].abs() > 1e-3 && (fd + g[j]).abs() > 1e-3);
    }
    let fd_b = (p.objective(w.as_ref(), b + h) - p.objective(w.as_ref(), b - h)) / (2.0 * h);
    assert!((fd_b - gb).abs() < 1e-8);
    assert!((p.gradient_norm(w.as_ref(), b) - g.norm_l2().hypot(gb)).abs() < 1e-14);
}

/// Two clusters on either side of x₀ + x₁ = 0 with a margin: linearly separable.
fn separable() -> (Mat<f64>, Col<f64>) {
    let n = 40;
    let x = Mat::from_fn(n, 2, |i, j| {
        let side = if i % 2 == 0 { 1.0 } else { -1.0 };
        side * (1.0 + 0.1 * ((i * 7 + j * 3) % 11) as f64)
            + if j == 1 { 0.05 * i as f64 } else { 0.0 }
    });
    let y = Col::from_fn(n, |i| (i % 2) as f64);
    (x, y)
}

#[test]
fn separable_data_at_lambda_zero_are_an_error_for_every_backend_and_fine_with_a_penalty() {
    let (x, y) = separable();
    let labels = BinaryLabels::from_values(y.as_ref()).unwrap();
    let p = LogisticProblem::builder(x.as_ref(), &labels)
        .lambda(0.0)
        .build()
        .unwrap();
    for backend in logistic_backends(&SolverOptions::default()) {
        let err = backend.solve_logistic(&p).unwrap_err();
        assert!(
            matches!(err, Error::Separable { .. }),
            "{}: {err}",
            backend.name()
        );
        assert!(err.to_string().contains("λ > 0"), "{err}");
        assert!(err.is_data_error());
    }
    let p = p.with_lambda(1e-3).unwrap();
    let fit = newton(&p);
    assert!(fit.converged && fit.coef.norm_l2().is_finite());
    // Every training sample classified correctly, probabilities strictly inside (0, 1).
    let classes = fit.predict_classes(x.as_ref()).unwrap();
    for (i, c) in classes.iter().enumerate() {
        assert_eq!(c, &labels.classes()[i % 2]);
    }
}

#[test]
fn margins_of_a_thousand_and_beyond_stay_finite() {
    let (x, y) = small();
    let labels = BinaryLabels::from_values(y.as_ref()).unwrap();
    let p = LogisticProblem::builder(x.as_ref(), &labels)
        .lambda(1e-3)
        .build()
        .unwrap();
    let fit = newton(&p);
    for scale in [1e3, 1e30, 1e100] {
        let model = tikhonov::Model {
            coef: &fit.coef * faer::Scale(scale),
            intercept: fit.intercept * scale,
            ..fit.model.clone()
        };
        let m = model.predict(x.as_ref()).unwrap();
        assert!(m.norm_max() >= scale, "margins up to {:e}", m.norm_max());
        let j = p.objective(model.coef.as_ref(), model.intercept);
        let (g, gb) = p.gradient(model.coef.as_ref(), model.intercept);
        assert!(j.is_finite() && j > 0.0, "J = {j} at scale {scale:e}");
        assert!(g.iter().all(|g| g.is_finite()) && gb.is_finite());
        let pr = model.predict_proba(x.as_ref()).unwrap();
        assert!(pr.iter().all(|p| (0.0..=1.0).contains(p)));
    }
    // Newton started where the margins are a thousand times the optimal ones (most curvature
    // weights underflow to zero there) walks back to the same minimiser.
    let far: Vec<f64> = fit
        .coef
        .iter()
        .map(|c| 1e3 * c)
        .chain([1e3 * fit.intercept])
        .collect();
    let options = SolverOptions {
        warm_start: Some(far),
        tol: Some(1e-10),
        ..SolverOptions::default()
    };
    for name in ["newton", "lbfgs"] {
        let again = solvers::by_name(name, &options)
            .unwrap()
            .solve_logistic(&p)
            .unwrap();
        assert!(
            again.converged,
            "{name}: {:?} after {} iterations, ‖∇J‖ = {:e}",
            again.stop, again.iterations, again.gradient_norm
        );
        assert!(
            theta_error(&again, &fit) < 1e-8,
            "{name}: {:e}",
            theta_error(&again, &fit)
        );
    }
}

#[test]
fn a_squared_loss_backend_refuses_the_logistic_loss_naming_those_that_fit_it() {
    let (x, y) = small();
    let labels = BinaryLabels::from_values(y.as_ref()).unwrap();
    let p = LogisticProblem::builder(x.as_ref(), &labels)
        .lambda(1e-3)
        .build()
        .unwrap();
    for name in ["qr", "cholesky", "cg", "cd", "dual"] {
        let err = solvers::by_name(name, &SolverOptions::default())
            .unwrap()
            .solve_logistic(&p)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, Error::UnsupportedLoss { .. }),
            "{name}: {text}"
        );
        assert!(text.contains("newton") && text.contains("lbfgs"), "{text}");
    }
    // `auto` fits it with Newton and says so.
    let fit = solvers::by_name("auto", &SolverOptions::default())
        .unwrap()
        .solve_logistic(&p)
        .unwrap();
    assert_eq!(fit.solver, "auto:newton");
}

#[test]
fn a_ridge_model_is_not_a_classifier() {
    let (x, y) = small();
    let p = tikhonov::RidgeProblem::builder(x.as_ref(), y.as_ref())
        .lambda(1e-3)
        .build()
        .unwrap();
    let fit = solvers::Qr.solve(&p).unwrap();
    let err = fit.predict_proba(x.as_ref()).unwrap_err().to_string();
    assert!(err.contains("logistic"), "{err}");
}
