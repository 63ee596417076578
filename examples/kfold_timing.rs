//! Times k-fold cross-validation (`select::kfold`) on a synthetic problem, and writes the data
//! and exact per-fold references for `scripts/compare_glmnet.py` (cv.glmnet and scikit-learn's
//! `LogisticRegressionCV` side by side).
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo run --release --example kfold_timing -- [--write DIR] [--reps R]
//!     [--skip-logistic]
//! ```
//!
//! Ridge: 10-fold CV over the default 100-λ grid on 100 000 × 100 with κ(Xc) = 100 (noise 1,
//! intercept 1), shuffled folds (seed 1) and contiguous ones; the time of the one-pass fold
//! statistics alone; for contrast, the k passes of computing each training set's statistics
//! directly (the held-out rows weighted zero). Logistic: 5-fold CV over 10 λ (log-spaced from
//! 10⁻¹ to 10⁻⁵) on the same X with labels drawn from σ(xᵀw* + b* + noise), with `newton` and
//! `lbfgs` (tol 1e-8). Medians of R runs (default 3).
//!
//! With `--write DIR`, DIR receives little-endian f64 files (column-major X): `x.bin`, `y.bin`,
//! `labels.bin` (0/1), `foldid.bin` (1-based, ridge), `foldid5.bin` (logistic), `lambdas.bin`
//! (ours), `lambdas_logistic.bin`, and the references for glmnet's convention: cv.glmnet
//! refits every fold with the *same* glmnet λ_g = λ·sd(y), which its gaussian family applies
//! as λ_g/sd(y_train) on the fold's own training targets (glmnet's `elnet` divides λ by the
//! standard deviation of the training y). So for fold k and each λ_g, `ref_coef.bin` holds our
//! exact refit (sufficient statistics + Cholesky, κ = 100 keeps 12 digits) at
//! λ_g/sd(y_train_k) — fold-major, λ, then d coefficients and the intercept — and
//! `ref_heldout.bin` its held-out mean squared error (fold-major, from the rows).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use faer::{Col, ColRef, Par};
use tikhonov::data::Synthetic;
use tikhonov::logistic::{BinaryLabels, LogisticProblem};
use tikhonov::moments::Moments;
use tikhonov::select::grid::{default_lambdas, log_spaced};
use tikhonov::select::kfold::{self, Folds};
use tikhonov::solvers::{Registry, SolverOptions};
use tikhonov::sufficient::MomentsProblem;
use tikhonov::{Error, RidgeProblem};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `f` `reps` times and returns the median wall time and the last result.
fn timed<T>(reps: usize, mut f: impl FnMut() -> Result<T, Error>) -> Res<(f64, T)> {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..reps {
        let t = Instant::now();
        last = Some(f()?);
        times.push(t.elapsed().as_secs_f64());
    }
    // reps ≥ 1 is checked when parsing the arguments.
    Ok((median(times), last.expect("at least one repetition")))
}

fn write(dir: &Path, name: &str, values: impl IntoIterator<Item = f64>) -> Res<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join(name))?);
    for v in values {
        f.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let out: Option<PathBuf> = value("--write").map(PathBuf::from);
    let reps: usize = value("--reps").map(|r| r.parse()).transpose()?.unwrap_or(3);
    if reps == 0 {
        return Err("--reps must be at least 1".into());
    }
    let (n, d, k) = (100_000, 100, 10);
    let spec = Synthetic {
        n_samples: n,
        n_features: d,
        condition: 100.0,
        noise: 1.0,
        intercept: 1.0,
        seed: 1,
        ..Synthetic::default()
    };
    let data = spec.generate()?;
    let (x, y) = (data.x.as_ref(), data.y.as_ref());
    let problem = RidgeProblem::builder(x, y).build()?;
    let lambdas = default_lambdas(&problem, 100)?;
    let folds = Folds::shuffled(n, k, 1)?;
    let contiguous = Folds::contiguous(n, k)?;
    println!(
        "ridge: n = {n}, d = {d}, κ = 100, k = {k}, {} λ from {:.3e} to {:.3e}, {} thread(s)",
        lambdas.len(),
        lambdas[0],
        lambdas[lambdas.len() - 1],
        rayon::current_num_threads()
    );

    let (t_stats, _) = timed(reps, || kfold::fold_moments(&problem, &folds))?;
    let (t_cv, cv) = timed(reps, || kfold::ridge(&problem, &lambdas, &folds))?;
    let (t_contig, _) = timed(reps, || kfold::ridge(&problem, &lambdas, &contiguous))?;
    // For contrast: the training statistics of each fold computed directly, k passes over X.
    let (t_kpass, _) = timed(reps, || {
        Ok((0..k)
            .map(|f| {
                let s = Col::from_fn(n, |i| if folds.ids()[i] == f { 0.0 } else { 1.0 });
                Moments::compute(x, y.as_mat(), Some(s.as_ref()), true, Par::rayon(0))
            })
            .count())
    })?;
    println!("| step | median s |");
    println!("| --- | --- |");
    println!("| one-pass fold statistics (shuffled folds) | {t_stats:.3} |");
    println!("| kfold::ridge, shuffled folds, 100 λ | {t_cv:.3} |");
    println!("| kfold::ridge, contiguous folds, 100 λ | {t_contig:.3} |");
    println!("| (contrast) k direct passes for the training statistics | {t_kpass:.3} |");
    println!(
        "λ_min = {:.4e}, λ_1se = {:.4e}, min CV error {:.6}, recomputed from rows: {}",
        cv.curve.lambda_min,
        cv.curve.lambda_1se,
        cv.curve.mean.iter().copied().fold(f64::INFINITY, f64::min),
        cv.recomputed
    );

    // Logistic: 5 folds, 10 λ.
    let labels = spec.logistic_labels(&data);
    let grid = log_spaced(1e-1, 1e-5, 10);
    let folds5 = Folds::shuffled(n, 5, 2)?;
    if let Some(dir) = &out {
        std::fs::create_dir_all(dir)?;
        write_for_glmnet(dir, &problem, &lambdas, &folds)?;
        write(dir, "labels.bin", labels.iter().copied())?;
        write(dir, "lambdas_logistic.bin", grid.iter().copied())?;
        write(
            dir,
            "foldid5.bin",
            folds5.ids().iter().map(|&f| (f + 1) as f64),
        )?;
        println!("\nwrote the data and references to {}", dir.display());
    }
    if args.iter().any(|a| a == "--skip-logistic") {
        return Ok(());
    }
    let binary = BinaryLabels::from_values(labels.as_ref())?;
    let logistic = LogisticProblem::builder(x, &binary).build()?;
    println!("\nlogistic: 5 folds, 10 λ from 1e-1 to 1e-5");
    println!("| backend | median s | iterations | λ_min | min log-loss |");
    println!("| --- | --- | --- | --- | --- |");
    let registry = Registry::builtin();
    for name in ["newton", "lbfgs"] {
        let options = SolverOptions {
            tol: (name == "lbfgs").then_some(1e-8),
            ..SolverOptions::default()
        };
        let info = registry.get(name)?;
        let (t, cv) = timed(reps, || {
            kfold::logistic(info, &options, &logistic, &grid, &folds5)
        })?;
        println!(
            "| {name} | {t:.3} | {} | {:.1e} | {:.6} |",
            cv.iterations,
            cv.curve.lambda_min,
            cv.curve.mean.iter().copied().fold(f64::INFINITY, f64::min)
        );
    }
    Ok(())
}

/// The population standard deviation of y over the rows where `keep(i)`.
fn sd(y: ColRef<'_, f64>, keep: impl Fn(usize) -> bool) -> f64 {
    let rows: Vec<usize> = (0..y.nrows()).filter(|&i| keep(i)).collect();
    let m = rows.iter().map(|&i| y[i]).sum::<f64>() / rows.len() as f64;
    (rows.iter().map(|&i| (y[i] - m).powi(2)).sum::<f64>() / rows.len() as f64).sqrt()
}

/// The data and exact per-fold references for cv.glmnet (see the module docs).
fn write_for_glmnet(
    dir: &Path,
    problem: &RidgeProblem<'_>,
    lambdas: &[f64],
    folds: &Folds,
) -> Res<()> {
    let (x, y) = (problem.x(), problem.y());
    let (n, d) = (x.nrows(), x.ncols());
    write(
        dir,
        "x.bin",
        (0..d).flat_map(|j| (0..n).map(move |i| x[(i, j)])),
    )?;
    write(dir, "y.bin", y.iter().copied())?;
    write(
        dir,
        "foldid.bin",
        folds.ids().iter().map(|&f| (f + 1) as f64),
    )?;
    write(dir, "lambdas.bin", lambdas.iter().copied())?;
    let sd_all = sd(y, |_| true);
    let glmnet: Vec<f64> = lambdas.iter().map(|l| l * sd_all).collect();
    write(dir, "lambdas_glmnet.bin", glmnet.iter().copied())?;
    let stats = kfold::fold_moments(problem, folds)?;
    let (mut coefs, mut heldout) = (Vec::new(), Vec::new());
    for f in 0..folds.k() {
        let mut train = Moments::zeros(d, 1, true);
        for (g, m) in stats.iter().enumerate() {
            if g != f {
                train.merge(m);
            }
        }
        let sd_train = sd(y, |i| folds.ids()[i] != f);
        let rows = folds.members(f);
        for &lg in &glmnet {
            let fit = MomentsProblem::new(train.clone(), lg / sd_train)?.solve()?;
            coefs.extend(fit.coef.iter().copied());
            coefs.push(fit.intercept);
            let sse: f64 = rows
                .iter()
                .map(|&i| {
                    let p = fit.intercept + (0..d).map(|j| x[(i, j)] * fit.coef[j]).sum::<f64>();
                    (y[i] - p).powi(2)
                })
                .sum();
            heldout.push(sse / rows.len() as f64);
        }
    }
    write(dir, "ref_coef.bin", coefs)?;
    write(dir, "ref_heldout.bin", heldout)?;
    Ok(())
}
