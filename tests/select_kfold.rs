//! λ paths and k-fold cross-validation (`select::path`, `select::kfold`) against brute force:
//! every fold refitted on a copy of its training rows by a reference backend and its held-out
//! error recomputed from the rows; the curve's statistics recomputed by cv.glmnet's formulas
//! written out again here; invariance of the one-pass statistics under fold relabelling and
//! thread count; warm starts.

use faer::{Col, Mat, Par};
use tikhonov::data::Synthetic;
use tikhonov::logistic::{BinaryLabels, LogisticProblem};
use tikhonov::moments::Moments;
use tikhonov::select::grid::{effective_df, gram_eigenvalues, log_spaced};
use tikhonov::select::kfold::{self, Folds, KFold};
use tikhonov::select::path::{logistic_path, ridge_path};
use tikhonov::solvers::{Newton, Qr, Refined, Registry, Solver, SolverInfo, SolverOptions};
use tikhonov::{MultiRidgeProblem, RidgeProblem};

fn info(name: &str) -> SolverInfo {
    *Registry::builtin().get(name).unwrap()
}

/// X (n × d) with κ(Xc) = `condition` and column means `offset`, y = Xw* + 3 + noise.
fn data(n: usize, d: usize, condition: f64, noise: f64, seed: u64) -> (Mat<f64>, Col<f64>) {
    let g = Synthetic {
        n_samples: n,
        n_features: d,
        condition,
        noise,
        offset: 10.0,
        intercept: 3.0,
        seed,
    }
    .generate()
    .unwrap();
    (g.x, g.y)
}

/// Weights in [0.25, 2.25) with every seventh sample weighted 0.
fn weights(n: usize) -> Col<f64> {
    Col::from_fn(n, |i| {
        if i % 7 == 3 {
            0.0
        } else {
            0.25 + ((i * 37) % 8) as f64 / 4.0
        }
    })
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
}

/// cv.glmnet's mean and standard error (cvcompute + cv.elnet, grouped), written out again.
fn glmnet_mean_se(errors: &[Vec<f64>], w: &[f64], j: usize) -> (f64, f64) {
    let total: f64 = w.iter().sum();
    let mean = (0..errors.len()).map(|k| w[k] * errors[k][j]).sum::<f64>() / total;
    let var = (0..errors.len())
        .map(|k| w[k] * (errors[k][j] - mean).powi(2))
        .sum::<f64>()
        / total;
    (mean, (var / (errors.len() as f64 - 1.0)).sqrt())
}

/// Brute force: for each fold, `qr-refined` on a copy of the training rows, and the held-out
/// error Σ sᵢ(yᵢ − xᵢᵀw − b)²/Σ sᵢ from the fold's rows. `[fold][λ]`.
fn brute_force_ridge(
    x: &Mat<f64>,
    y: &Col<f64>,
    s: Option<&Col<f64>>,
    intercept: bool,
    folds: &Folds,
    lambdas: &[f64],
) -> Vec<Vec<f64>> {
    let weight = |i: usize| s.map_or(1.0, |s| s[i]);
    (0..folds.k())
        .map(|f| {
            let train: Vec<usize> = (0..x.nrows()).filter(|&i| folds.ids()[i] != f).collect();
            let xt = Mat::from_fn(train.len(), x.ncols(), |r, j| x[(train[r], j)]);
            let yt = Col::from_fn(train.len(), |r| y[train[r]]);
            let st = Col::from_fn(train.len(), |r| weight(train[r]));
            let held = folds.members(f);
            lambdas
                .iter()
                .map(|&lambda| {
                    let p = RidgeProblem::builder(xt.as_ref(), yt.as_ref())
                        .weights(st.as_ref())
                        .intercept(intercept)
                        .lambda(lambda)
                        .build()
                        .unwrap();
                    let fit = Refined::qr().solve(&p).unwrap();
                    let (mut sum, mut total) = (0.0, 0.0);
                    for &i in &held {
                        let pred = fit.intercept
                            + (0..x.ncols()).map(|j| x[(i, j)] * fit.coef[j]).sum::<f64>();
                        sum += weight(i) * (y[i] - pred).powi(2);
                        total += weight(i);
                    }
                    sum / total
                })
                .collect()
        })
        .collect()
}

fn assert_close(cv: &KFold, brute: &[Vec<f64>], tol: f64, what: &str) {
    for (f, (a, b)) in cv.fold_errors.iter().zip(brute).enumerate() {
        for (j, (a, b)) in a.iter().zip(b).enumerate() {
            assert!(
                relative(*a, *b) < tol,
                "{what}: fold {f}, λ #{j}: {a:e} vs {b:e} ({:.1e})",
                relative(*a, *b)
            );
        }
    }
}

#[test]
fn ridge_kfold_with_given_fold_ids_equals_brute_force_refits() {
    let (n, d) = (300, 6);
    let (x, y) = data(n, d, 1e2, 0.5, 3);
    let s = weights(n);
    // glmnet-style 1-based ids, uneven sizes; and contiguous folds (statistics on views of X).
    let ids: Vec<usize> = (0..n).map(|i| 1 + (i * 7 + i / 13) % 5).collect();
    let given = Folds::from_ids(&ids).unwrap();
    let contiguous = Folds::contiguous(n, 4).unwrap();
    let lambdas = log_spaced(1.0, 1e-6, 7);
    // Columns of similar scale are solved from one eigendecomposition per fold; a column 10³
    // larger sends every λ to the equilibrated Cholesky solve (src/select/kfold.rs, `Spectral`).
    let mut scaled = x.clone();
    scaled.col_mut(1).iter_mut().for_each(|v| *v *= 1e3);
    for (weighted, intercept, folds, x) in [
        (true, true, &given, &x),
        (true, false, &given, &x),
        (false, true, &given, &x),
        (true, true, &contiguous, &x),
        (true, true, &given, &scaled),
    ] {
        let mut b = RidgeProblem::builder(x.as_ref(), y.as_ref()).intercept(intercept);
        if weighted {
            b = b.weights(s.as_ref());
        }
        let p = b.build().unwrap();
        let cv = kfold::ridge(&p, &lambdas, folds).unwrap();
        let brute = brute_force_ridge(x, &y, weighted.then_some(&s), intercept, folds, &lambdas);
        let what = format!(
            "weights {weighted}, intercept {intercept}, k = {}",
            folds.k()
        );
        assert_close(&cv, &brute, 1e-10, &what);
        assert_eq!(cv.recomputed, 0, "{what}: noisy data need no recomputation");
        // The curve: cv.glmnet's weighted mean and standard error of the brute-force values.
        for f in 0..folds.k() {
            let w: f64 = folds.members(f).iter().map(|&i| p.weight(i)).sum();
            assert!(relative(cv.fold_weights[f], w) < 1e-14);
        }
        for j in 0..lambdas.len() {
            let (mean, se) = glmnet_mean_se(&brute, &cv.fold_weights, j);
            assert!(relative(cv.curve.mean[j], mean) < 1e-10, "{what}");
            let cse = cv.curve.se.as_ref().unwrap()[j];
            // se is a difference of nearby errors: compare it on the scale of the mean.
            assert!(
                (cse - se).abs() < 1e-9 * mean,
                "{what}: se {cse:e} vs {se:e}"
            );
        }
        assert_eq!(cv.curve.method, "kfold");
    }
}

#[test]
fn one_pass_statistics_do_not_depend_on_fold_order_or_thread_count() {
    // n/(4k) = 250 rows per fold buffer: every fold is flushed many times.
    let (n, d, k) = (5000, 5, 5);
    let (x, y) = data(n, d, 30.0, 0.3, 11);
    let s = weights(n);
    let folds = Folds::shuffled(n, k, 42).unwrap();
    let lambdas = log_spaced(1e-1, 1e-5, 4);
    let build = |par| {
        RidgeProblem::builder(x.as_ref(), y.as_ref())
            .weights(s.as_ref())
            .par(par)
            .build()
            .unwrap()
    };
    let seq = build(Par::Seq);
    let stats = kfold::fold_moments(&seq, &folds).unwrap();
    let cv = kfold::ridge(&seq, &lambdas, &folds).unwrap();
    for threads in [2, 3] {
        let p = build(Par::rayon(threads));
        let other = kfold::fold_moments(&p, &folds).unwrap();
        for (a, b) in stats.iter().zip(&other) {
            assert_eq!(a.weight_sum(), b.weight_sum());
            assert_eq!(a.xx(), b.xx(), "{threads} threads");
            assert_eq!(a.xy(), b.xy());
            assert_eq!(a.yy(), b.yy());
            assert_eq!(a.x_mean(), b.x_mean());
            assert_eq!(a.y_mean(), b.y_mean());
        }
        assert_eq!(kfold::ridge(&p, &lambdas, &folds).unwrap(), cv);
    }
    // Each fold's statistics equal those of a copy of its rows.
    for (f, m) in stats.iter().enumerate() {
        let rows = folds.members(f);
        let xf = Mat::from_fn(rows.len(), d, |r, j| x[(rows[r], j)]);
        let yf = Mat::from_fn(rows.len(), 1, |r, _| y[rows[r]]);
        let sf = Col::from_fn(rows.len(), |r| s[rows[r]]);
        let direct = Moments::compute(xf.as_ref(), yf.as_ref(), Some(sf.as_ref()), true, Par::Seq);
        assert!(relative(m.weight_sum(), direct.weight_sum()) < 1e-14);
        assert!((m.xx() - direct.xx()).norm_l2() < 1e-12 * direct.xx().norm_l2());
        assert!((m.xy() - direct.xy()).norm_l2() < 1e-12 * direct.xy().norm_l2());
        assert!(relative(m.yy()[0], direct.yy()[0]) < 1e-12);
    }
    // Relabelling the folds permutes the per-fold errors and leaves the curve alone (up to the
    // rounding of merges taken in another order).
    let perm = [3, 0, 4, 2, 1];
    let relabelled: Vec<usize> = folds.ids().iter().map(|&f| perm[f]).collect();
    let other = kfold::ridge(&seq, &lambdas, &Folds::from_ids(&relabelled).unwrap()).unwrap();
    for (f, &g) in perm.iter().enumerate() {
        for (a, b) in cv.fold_errors[f].iter().zip(&other.fold_errors[g]) {
            assert!(relative(*a, *b) < 1e-12, "fold {f}: {a:e} vs {b:e}");
        }
    }
    for j in 0..lambdas.len() {
        assert!(relative(cv.curve.mean[j], other.curve.mean[j]) < 1e-12);
    }
    assert_eq!(cv.curve.lambda_min, other.curve.lambda_min);
}

#[test]
fn lambda_1se_follows_glmnets_rule() {
    let (n, d) = (120, 8);
    let (x, y) = data(n, d, 10.0, 2.0, 5);
    let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
        .build()
        .unwrap();
    let lambdas = log_spaced(10.0, 1e-4, 30);
    let cv = kfold::ridge(&p, &lambdas, &Folds::shuffled(n, 10, 1).unwrap()).unwrap();
    let c = &cv.curve;
    let se = c.se.as_ref().unwrap();
    // glmnet's getOptcv: lambda.min = max(lambda[cvm <= min(cvm)]),
    // lambda.1se = max(lambda[cvm <= (cvm + cvsd)[idmin]]).
    let min = c.mean.iter().copied().fold(f64::INFINITY, f64::min);
    let lambda_min = (0..lambdas.len())
        .filter(|&j| c.mean[j] <= min)
        .map(|j| lambdas[j])
        .fold(f64::NEG_INFINITY, f64::max);
    let at = lambdas.iter().position(|&l| l == lambda_min).unwrap();
    let lambda_1se = (0..lambdas.len())
        .filter(|&j| c.mean[j] <= c.mean[at] + se[at])
        .map(|j| lambdas[j])
        .fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(c.lambda_min, lambda_min);
    assert_eq!(c.lambda_1se, lambda_1se);
    // On this problem the rule matters: it picks a strictly larger λ, inside the grid.
    assert!(
        c.lambda_1se > c.lambda_min,
        "{} {}",
        c.lambda_1se,
        c.lambda_min
    );
    assert!(!c.at_edge());
    for (j, (&mean, &se)) in c.mean.iter().zip(se).enumerate() {
        let (m, s) = glmnet_mean_se(&cv.fold_errors, &cv.fold_weights, j);
        assert!(relative(mean, m) < 1e-14 && relative(se, s) < 1e-12);
    }
}

/// A classification problem: X as `data`, labels 0/1 from σ(xᵀw* + b* + noise).
fn classification(n: usize, d: usize, seed: u64) -> (Mat<f64>, BinaryLabels) {
    let spec = Synthetic {
        n_samples: n,
        n_features: d,
        condition: 10.0,
        noise: 1.0,
        offset: 2.0,
        intercept: 0.3,
        seed,
    };
    let g = spec.generate().unwrap();
    let labels = spec.logistic_labels(&g);
    (g.x, BinaryLabels::from_values(labels.as_ref()).unwrap())
}

#[test]
fn logistic_cv_equals_brute_force_newton_fits_on_the_training_rows() {
    let (n, d) = (400, 5);
    let (x, labels) = classification(n, d, 9);
    let s = weights(n);
    let folds = Folds::shuffled(n, 4, 3).unwrap();
    let lambdas = log_spaced(1e-1, 1e-4, 5);
    let p = LogisticProblem::builder(x.as_ref(), &labels)
        .weights(s.as_ref())
        .build()
        .unwrap();
    let cv = kfold::logistic(
        &info("newton"),
        &SolverOptions::default(),
        &p,
        &lambdas,
        &folds,
    )
    .unwrap();
    let signs = labels.signs();
    let mis = cv.misclassification.as_ref().unwrap();
    for f in 0..folds.k() {
        let train: Vec<usize> = (0..n).filter(|&i| folds.ids()[i] != f).collect();
        let xt = Mat::from_fn(train.len(), d, |r, j| x[(train[r], j)]);
        let yt = Col::from_fn(train.len(), |r| signs[train[r]]);
        let st = Col::from_fn(train.len(), |r| s[train[r]]);
        let lt = BinaryLabels::from_values(yt.as_ref()).unwrap();
        for (j, &lambda) in lambdas.iter().enumerate() {
            let q = LogisticProblem::builder(xt.as_ref(), &lt)
                .weights(st.as_ref())
                .lambda(lambda)
                .build()
                .unwrap();
            let fit = Newton::default().solve_logistic(&q).unwrap();
            let (mut loss, mut wrong, mut total) = (0.0, 0.0, 0.0);
            for i in folds.members(f) {
                let m = fit.intercept + (0..d).map(|c| x[(i, c)] * fit.coef[c]).sum::<f64>();
                let z = signs[i] * m;
                loss += s[i] * ((-z).max(0.0) + (-z.abs()).exp().ln_1p());
                wrong += if z > 0.0 || (m == 0.0 && signs[i] < 0.0) {
                    0.0
                } else {
                    s[i]
                };
                total += s[i];
            }
            let (a, b) = (cv.fold_errors[f][j], loss / total);
            assert!(relative(a, b) < 1e-9, "fold {f}, λ {lambda}: {a} vs {b}");
            assert!((mis.fold_errors[f][j] - wrong / total).abs() < 1e-12);
            assert!(relative(cv.fold_weights[f], total) < 1e-14);
        }
    }
    // A first-order backend gives the same curve to its tolerance.
    let options = SolverOptions {
        tol: Some(1e-10),
        ..SolverOptions::default()
    };
    let lbfgs = kfold::logistic(&info("lbfgs"), &options, &p, &lambdas, &folds).unwrap();
    for j in 0..lambdas.len() {
        assert!(relative(lbfgs.curve.mean[j], cv.curve.mean[j]) < 1e-7);
    }
    assert!(lbfgs.iterations > 0);
    // Backends for the squared loss only are refused with the ones that fit it.
    let err = kfold::logistic(&info("cholesky"), &options, &p, &lambdas, &folds).unwrap_err();
    assert!(err.to_string().contains("newton"), "{err}");
}

#[test]
fn warm_started_paths_take_fewer_iterations_than_cold_starts() {
    let (n, d) = (2000, 20);
    let (x, y) = data(n, d, 1e2, 0.5, 21);
    let ridge = RidgeProblem::builder(x.as_ref(), y.as_ref())
        .build()
        .unwrap();
    let lambdas = tikhonov::select::grid::default_lambdas(&ridge, 20).unwrap();
    let (xc, labels) = classification(n, d, 22);
    let logistic = LogisticProblem::builder(xc.as_ref(), &labels)
        .build()
        .unwrap();
    let grid = log_spaced(1e-1, 1e-4, 20);
    let options = SolverOptions::default();
    for name in ["lbfgs", "agd"] {
        let i = info(name);
        let warm = ridge_path(&i, &options, &ridge, &lambdas).unwrap();
        let cold: usize = lambdas
            .iter()
            .map(|&l| {
                let fit = i
                    .build_checked(&options)
                    .unwrap()
                    .solve(&ridge.with_lambda(l).unwrap())
                    .unwrap();
                assert!(fit.converged);
                fit.iterations
            })
            .sum();
        assert!(
            warm.total_iterations() < cold,
            "ridge {name}: warm {} vs cold {cold}",
            warm.total_iterations()
        );
        assert!(warm.fits.iter().all(|f| f.converged));
        let warm = logistic_path(&i, &options, &logistic, &grid).unwrap();
        let cold: usize = grid
            .iter()
            .map(|&l| {
                let q = logistic.with_lambda(l).unwrap();
                i.build_checked(&options)
                    .unwrap()
                    .solve_logistic(&q)
                    .unwrap()
                    .iterations
            })
            .sum();
        assert!(
            warm.total_iterations() < cold,
            "logistic {name}: warm {} vs cold {cold}",
            warm.total_iterations()
        );
        assert!(warm.fits.iter().all(|f| f.converged));
    }
}

#[test]
fn ridge_paths_agree_with_the_reference_and_report_df_and_training_error() {
    let (n, d) = (200, 6);
    let (x, y) = data(n, d, 1e3, 0.2, 4);
    let s = weights(n);
    let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
        .weights(s.as_ref())
        .build()
        .unwrap();
    let lambdas = log_spaced(1.0, 1e-7, 9);
    let eig = gram_eigenvalues(&p).unwrap();
    for name in ["cholesky", "svd", "qr-refined", "auto", "lbfgs"] {
        let options = SolverOptions {
            tol: (name == "lbfgs").then_some(1e-12),
            ..SolverOptions::default()
        };
        let path = ridge_path(&info(name), &options, &p, &lambdas).unwrap();
        assert_eq!(path.fits.len(), lambdas.len());
        let df = path.df.as_ref().unwrap();
        for (j, (fit, &l)) in path.fits.iter().zip(&lambdas).enumerate() {
            let q = p.with_lambda(l).unwrap();
            let reference = Qr.solve(&q).unwrap();
            let tol = if name == "lbfgs" { 1e-7 } else { 1e-9 };
            assert!(
                fit.relative_error(reference.coef.as_ref()) < tol,
                "{name} at λ = {l}"
            );
            assert_eq!(fit.lambda, l);
            // Training error = 2·(J − (λ/2)‖w‖²).
            let penalty = 0.5 * l * fit.coef.squared_norm_l2();
            assert!(relative(path.train_error[j], 2.0 * (fit.objective - penalty)) < 1e-9);
            assert!((df[j] - 1.0 - effective_df(&eig, p.weight_sum(), l)).abs() < 1e-12);
        }
        // df grows as λ falls, from near 1 (intercept only) towards d + 1.
        assert!(df.windows(2).all(|w| w[0] < w[1]), "{df:?}");
        assert!(df[lambdas.len() - 1] > d as f64 + 0.5, "{df:?}");
    }
    // Options a backend does not take are refused, as for one fit.
    let bad = SolverOptions {
        memory: Some(3),
        ..SolverOptions::default()
    };
    assert!(ridge_path(&info("svd"), &bad, &p, &lambdas).is_err());
    assert!(ridge_path(&info("cholesky"), &SolverOptions::default(), &p, &[]).is_err());
    assert!(
        ridge_path(
            &info("cholesky"),
            &SolverOptions::default(),
            &p,
            &[1.0, -1.0]
        )
        .is_err()
    );
}

#[test]
fn logistic_path_reports_the_mean_log_loss_as_training_error() {
    let (x, labels) = classification(300, 4, 2);
    let p = LogisticProblem::builder(x.as_ref(), &labels)
        .build()
        .unwrap();
    let grid = log_spaced(1.0, 1e-3, 6);
    let path = logistic_path(&info("newton"), &SolverOptions::default(), &p, &grid).unwrap();
    assert!(path.df.is_none());
    for (j, fit) in path.fits.iter().enumerate() {
        let penalty = 0.5 * grid[j] * fit.coef.squared_norm_l2();
        assert!(relative(path.train_error[j], fit.objective - penalty) < 1e-12);
        let alone = Newton::default()
            .solve_logistic(&p.with_lambda(grid[j]).unwrap())
            .unwrap();
        assert!(fit.relative_error(alone.coef.as_ref()) < 1e-9);
    }
    // Less penalty, better training fit.
    assert!(path.train_error.windows(2).all(|w| w[0] > w[1]));
}

#[test]
fn several_targets_choose_their_own_lambda_from_the_same_fold_statistics() {
    let (n, d) = (400, 10);
    let (x, quiet) = data(n, d, 10.0, 0.05, 8);
    let (_, noisy) = data(n, d, 10.0, 20.0, 8);
    let ys = Mat::from_fn(n, 2, |i, t| if t == 0 { quiet[i] } else { noisy[i] });
    let multi = MultiRidgeProblem::builder(x.as_ref(), ys.as_ref())
        .build()
        .unwrap();
    let lambdas = log_spaced(10.0, 1e-6, 25);
    let folds = Folds::shuffled(n, 5, 2).unwrap();
    let both = kfold::ridge_targets(&multi, &lambdas, &folds).unwrap();
    assert_eq!(both.len(), 2);
    for (t, cv) in both.iter().enumerate() {
        let alone = kfold::ridge(&multi.target(t), &lambdas, &folds).unwrap();
        for (a, b) in cv.fold_errors.iter().zip(&alone.fold_errors) {
            for (a, b) in a.iter().zip(b) {
                assert!(relative(*a, *b) < 1e-12, "target {t}: {a} vs {b}");
            }
        }
        assert_eq!(cv.curve.lambda_min, alone.curve.lambda_min);
    }
    // The noisy target wants far more shrinkage.
    assert!(
        both[1].curve.lambda_min > 100.0 * both[0].curve.lambda_min,
        "{} vs {}",
        both[1].curve.lambda_min,
        both[0].curve.lambda_min
    );
}

#[test]
fn held_out_errors_are_recomputed_from_the_rows_when_the_statistics_cancel() {
    // Noise-free targets and a tiny λ: the held-out error is ~10⁻¹⁶ of C_yy/S_k, far below what
    // the statistics resolve, so the rows are read again.
    let (n, d) = (400, 5);
    let (x, y) = data(n, d, 10.0, 0.0, 6);
    let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
        .build()
        .unwrap();
    let folds = Folds::shuffled(n, 4, 0).unwrap();
    let lambdas = [1e-1, 1e-8];
    let cv = kfold::ridge(&p, &lambdas, &folds).unwrap();
    assert_eq!(cv.recomputed, 4, "the four folds at λ = 1e-8");
    let brute = brute_force_ridge(&x, &y, None, true, &folds, &lambdas);
    assert_close(&cv, &brute, 1e-7, "noise-free");
    assert!(cv.curve.mean[1] < 1e-10 * cv.curve.mean[0]);
}

#[test]
fn bad_folds_and_grids_are_errors() {
    let (x, y) = data(50, 3, 10.0, 0.1, 1);
    let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
        .build()
        .unwrap();
    let lambdas = [0.1];
    let wrong_n = Folds::shuffled(49, 5, 0).unwrap();
    let err = kfold::ridge(&p, &lambdas, &wrong_n).unwrap_err();
    assert!(err.to_string().contains("49 samples"), "{err}");
    assert!(kfold::ridge(&p, &[], &Folds::contiguous(50, 5).unwrap()).is_err());
    // A fold whose samples all have weight 0 has no held-out error.
    let s = Col::from_fn(50, |i| if i < 10 { 0.0 } else { 1.0 });
    let q = RidgeProblem::builder(x.as_ref(), y.as_ref())
        .weights(s.as_ref())
        .build()
        .unwrap();
    let err = kfold::ridge(&q, &lambdas, &Folds::contiguous(50, 5).unwrap()).unwrap_err();
    assert!(
        err.to_string().contains("fold 0 has total weight 0"),
        "{err}"
    );
    // λ = 0 with more features than training rows: the refit is singular, and says so.
    let (wide, yw) = data(12, 10, 10.0, 0.1, 1);
    let pw = RidgeProblem::builder(wide.as_ref(), yw.as_ref())
        .build()
        .unwrap();
    let err = kfold::ridge(&pw, &[0.0], &Folds::contiguous(12, 3).unwrap()).unwrap_err();
    assert!(err.is_numerical(), "{err}");
}
