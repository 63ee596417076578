//! R's `cv.glmnet` with fixed fold ids against the crate's convention and cross-validation curve,
//! from `tests/fixtures/glmnet_cv/cv_glmnet.json` (written by `scripts/glmnet_cv_fixtures.py`
//! with glmnet's coordinate descent run to its rounding floor; no R needed here).
//!
//! cv.glmnet refits fold k with the same glmnet λ_g, which its gaussian family divides by the
//! standard deviation of the fold's training targets; in the crate's convention that refit is
//! λ_k = λ_g / sd_k(y) (README, "Conventions"). Each fold is refitted by `qr-refined` at λ_k,
//! and checked against:
//! - glmnet's `fit.preval` (every held-out sample's prediction by its fold's fit),
//! - `cvm`, `cvsd`, `lambda.min` and `lambda.1se` recomputed from the per-fold held-out errors
//!   by `select::kfold::glmnet_curve` (the weighted mean, cv.glmnet's standard error, its 1-se
//!   rule).

use faer::{Col, Mat};
use serde::Deserialize;
use tikhonov::RidgeProblem;
use tikhonov::select::kfold::{Folds, glmnet_curve};
use tikhonov::solvers::{Refined, Solver};

#[derive(Deserialize)]
struct Fixture {
    glmnet_version: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    x: Vec<Vec<f64>>,
    y: Vec<f64>,
    weights: Option<Vec<f64>>,
    intercept: bool,
    foldid: Vec<usize>,
    lambda_glmnet: Vec<f64>,
    cvm: Vec<f64>,
    cvsd: Vec<f64>,
    lambda_min: f64,
    lambda_1se: f64,
    fit_preval: Vec<Vec<f64>>,
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/glmnet_cv/cv_glmnet.json"
    );
    let text = std::fs::read_to_string(path).expect("the committed glmnet fixture");
    serde_json::from_str(&text).expect("a well-formed fixture")
}

/// glmnet's sd of the training targets under the crate's convention: weighted, population,
/// about the weighted mean with an intercept and about 0 without.
fn target_sd(y: &[f64], s: &[f64], intercept: bool) -> f64 {
    let total: f64 = s.iter().sum();
    let mean = if intercept {
        y.iter().zip(s).map(|(y, s)| s * y).sum::<f64>() / total
    } else {
        0.0
    };
    (y.iter()
        .zip(s)
        .map(|(y, s)| s * (y - mean).powi(2))
        .sum::<f64>()
        / total)
        .sqrt()
}

#[test]
fn per_fold_refits_and_the_curve_reproduce_cv_glmnet() {
    let fx = fixture();
    assert!(!fx.glmnet_version.is_empty());
    for case in &fx.cases {
        let (n, d) = (case.y.len(), case.x[0].len());
        let x = Mat::from_fn(n, d, |i, j| case.x[i][j]);
        let s: Vec<f64> = case.weights.clone().unwrap_or_else(|| vec![1.0; n]);
        let folds = Folds::from_ids(&case.foldid).unwrap();
        let lambdas = &case.lambda_glmnet;
        let mut errors = vec![vec![0.0; lambdas.len()]; folds.k()];
        let mut fold_weights = vec![0.0; folds.k()];
        let mut worst_prediction = 0.0f64;
        for f in 0..folds.k() {
            let train: Vec<usize> = (0..n).filter(|&i| folds.ids()[i] != f).collect();
            let held = folds.members(f);
            let xt = Mat::from_fn(train.len(), d, |r, j| x[(train[r], j)]);
            let yt: Vec<f64> = train.iter().map(|&i| case.y[i]).collect();
            let st: Vec<f64> = train.iter().map(|&i| s[i]).collect();
            let sd = target_sd(&yt, &st, case.intercept);
            let (yt, st) = (
                Col::from_fn(yt.len(), |r| yt[r]),
                Col::from_fn(st.len(), |r| st[r]),
            );
            fold_weights[f] = held.iter().map(|&i| s[i]).sum();
            for (l, &lambda_g) in lambdas.iter().enumerate() {
                let p = RidgeProblem::builder(xt.as_ref(), yt.as_ref())
                    .weights(st.as_ref())
                    .intercept(case.intercept)
                    .lambda(lambda_g / sd)
                    .build()
                    .unwrap();
                let fit = Refined::qr().solve(&p).unwrap();
                let mut sum = 0.0;
                for &i in &held {
                    let pred = fit.intercept + (0..d).map(|j| x[(i, j)] * fit.coef[j]).sum::<f64>();
                    let theirs = case.fit_preval[l][i];
                    worst_prediction =
                        worst_prediction.max((pred - theirs).abs() / (1.0 + theirs.abs()));
                    sum += s[i] * (case.y[i] - pred).powi(2);
                }
                errors[f][l] = sum / fold_weights[f];
            }
        }
        // glmnet at thresh = 1e-20 stops at the floor of its coordinate descent: measured 7e-13
        // to 1.7e-9 here (the last on the uncentred case, whose Gram matrix is the worst
        // conditioned); a wrong λ mapping would be off by 1e-3 or more. cvm and cvsd inherit
        // the gap (1.0e-9 relative at the weakest λ of that case), hence 1e-8 below.
        assert!(
            worst_prediction < 1e-8,
            "{}: held-out predictions differ from glmnet's fit.preval by {worst_prediction:e}",
            case.name
        );
        let curve = glmnet_curve(lambdas, &errors, &fold_weights);
        let se = curve.se.as_ref().unwrap();
        let rows = curve
            .mean
            .iter()
            .zip(se)
            .zip(case.cvm.iter().zip(&case.cvsd));
        for (l, ((&mean, &se), (&cvm, &cvsd))) in rows.enumerate() {
            assert!(
                (mean - cvm).abs() < 1e-8 * cvm,
                "{}: cvm #{l}: {mean:e} vs {cvm:e}",
                case.name
            );
            assert!(
                (se - cvsd).abs() < 1e-8 * cvm,
                "{}: cvsd #{l}: {se:e} vs {cvsd:e}",
                case.name
            );
        }
        assert_eq!(curve.lambda_min, case.lambda_min, "{}", case.name);
        assert_eq!(curve.lambda_1se, case.lambda_1se, "{}", case.name);
    }
}
