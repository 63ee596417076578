//! `tikhonov path` and `tikhonov cv`: choosing λ from the command line. Parses nothing and
//! computes nothing itself: it loads, calls `tikhonov::select`, and prints.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};
use tikhonov::select::kfold::{self, Folds, KFold};
use tikhonov::select::loo::{LeaveOneOut, LooConvention};
use tikhonov::select::{CvCurve, grid, path};
use tikhonov::{Error, Fit, MultiRidgeProblem};

use super::args::{CvArgs, Format, GridArgs, Loss, PathArgs};
use super::plot;
use super::{
    Loaded, Output, Problem, Targets, applicable_options, load, multi_problem, num, options,
    problem, stream_json, stream_reader, unconverged_note,
};
use tikhonov::stream::{self, FoldRule};

/// The grid: the one given, or the default from the design's degrees of freedom (divided by 4
/// for the logistic loss, whose curvature φ'' ≤ ¼ scales its Hessian against the Gram matrix).
fn lambdas(
    grid_args: &GridArgs,
    problem: &tikhonov::RidgeProblem<'_>,
    loss: Loss,
) -> Result<Vec<f64>, Error> {
    if let Some(given) = &grid_args.lambdas {
        return Ok(given.clone());
    }
    let n = usize::try_from(grid_args.n_lambdas).unwrap_or(usize::MAX);
    let grid = grid::default_lambdas(problem, n)?;
    Ok(match loss {
        Loss::Squared => grid,
        Loss::Logistic => grid.into_iter().map(|l| l / 4.0).collect(),
    })
}

/// One value per λ, as JSON (non-finite values as null).
fn numbers(values: &[f64]) -> Value {
    json!(values)
}

pub fn run_path(args: &PathArgs, out: &mut Output) -> Result<(), Error> {
    let common = &args.common;
    let info = *tikhonov::solvers::Registry::builtin().get(&args.solver)?;
    let opts = applicable_options(&info, &options(common, None)?);
    let data = load(common)?;
    let problem = problem(&data, common)?;
    let grid = lambdas(&args.grid, problem.data(), common.loss)?;
    let start = Instant::now();
    let result = match &problem {
        Problem::Ridge(p) => path::ridge_path(&info, &opts, p, &grid)?,
        Problem::Logistic(p) => path::logistic_path(&info, &opts, p, &grid)?,
    };
    let seconds = start.elapsed().as_secs_f64();
    for fit in &result.fits {
        if let Some(note) = unconverged_note(fit, None) {
            out.notes.push(format!("λ = {}: {note}", num(fit.lambda)));
        }
    }
    if let Some(file) = &args.grid.plot {
        let coef: Vec<Vec<f64>> = result
            .fits
            .iter()
            .map(|f| f.coef.iter().copied().collect())
            .collect();
        plot::coefficient_paths(
            file,
            &result.lambdas,
            &coef,
            &feature_names(&data),
            &format!(
                "coefficient paths ({}, {})",
                info.name,
                loss_name(common.loss)
            ),
        )?;
    }
    let s = &mut out.stdout;
    match common.format {
        Format::Json => {
            let fits = &result.fits;
            let field = |f: fn(&Fit) -> Value| Value::Array(fits.iter().map(f).collect());
            let v = json!({
                "solver": info.name,
                "loss": loss_name(common.loss),
                "labels": fits.first().and_then(|f| f.labels.clone()),
                "n_samples": problem.data().n_samples(),
                "n_features": problem.data().n_features(),
                "lambdas": numbers(&result.lambdas),
                "df": result.df,
                "coef": field(|f| json!(f.coef.iter().copied().collect::<Vec<f64>>())),
                "intercept": field(|f| json!(f.intercept)),
                "objective": field(|f| json!(f.objective)),
                "train_error": numbers(&result.train_error),
                "gradient_norm": field(|f| json!(f.gradient_norm)),
                "iterations": field(|f| json!(f.iterations)),
                "converged": field(|f| json!(f.converged)),
                "fit_seconds": seconds,
            });
            let _ = writeln!(s, "{v}");
        }
        Format::Table => {
            let _ = writeln!(s, "{}", data.description);
            let _ = writeln!(
                s,
                "path of {} λ with {} ({} loss), {:.3} s\n",
                result.lambdas.len(),
                info.name,
                loss_name(common.loss),
                seconds
            );
            let _ = writeln!(
                s,
                "{:>12} {:>9} {:>13} {:>13} {:>7} {:>9}",
                "λ", "df", "train error", "objective", "iters", "converged"
            );
            for (k, fit) in result.fits.iter().enumerate() {
                let df = result.df.as_ref().map_or(f64::NAN, |df| df[k]);
                let _ = writeln!(
                    s,
                    "{:>12.4e} {:>9.3} {:>13.6e} {:>13.6e} {:>7} {:>9}",
                    result.lambdas[k],
                    df,
                    result.train_error[k],
                    fit.objective,
                    fit.iterations,
                    if fit.converged { "yes" } else { "no" }
                );
            }
        }
    }
    Ok(())
}

fn loss_name(loss: Loss) -> &'static str {
    loss.kind().name()
}

fn feature_names(data: &Loaded) -> Vec<String> {
    data.feature_names.clone().unwrap_or_default()
}

/// The fold assignment of `cv --folds K`: a seeded shuffle, or the ids of --fold-ids.
fn folds(args: &CvArgs, n: usize, k: usize) -> Result<Folds, Error> {
    let Some(file) = &args.fold_ids else {
        return Folds::shuffled(n, k, args.common.seed);
    };
    let ids = read_fold_ids(file)?;
    if ids.len() != n {
        return Err(Error::ShapeMismatch {
            what: format!(
                "{} holds {} fold ids but the data have {n} samples; give one id per sample, in \
                 sample order",
                file.display(),
                ids.len()
            ),
        });
    }
    let folds = Folds::from_ids(&ids)?;
    if folds.k() != k {
        return Err(Error::invalid(
            "folds",
            k,
            format!(
                "the number of distinct ids in {} ({}), or drop --folds' value to match it",
                file.display(),
                folds.k()
            ),
        ));
    }
    Ok(folds)
}

/// Fold ids from a text file (one non-negative integer per line) or a 1-D .npy of integers.
fn read_fold_ids(file: &Path) -> Result<Vec<usize>, Error> {
    let integer = |v: f64, at: String| -> Result<usize, Error> {
        if v >= 0.0 && v.fract() == 0.0 && v < 1e15 {
            Ok(v as usize)
        } else {
            Err(Error::Format {
                path: file.to_owned(),
                location: Some(at),
                message: format!("`{v}` is not a fold id; use non-negative integers"),
            })
        }
    };
    if file.extension().is_some_and(|e| e == "npy") {
        let v = tikhonov::data::read_npy_vector(file)?;
        return v
            .iter()
            .enumerate()
            .map(|(i, &x)| integer(x, format!("entry {i}")))
            .collect();
    }
    let text = std::fs::read_to_string(file).map_err(|source| Error::Io {
        path: file.to_owned(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let v = l.trim().parse::<f64>().map_err(|_| Error::Format {
                path: file.to_owned(),
                location: Some(format!("line {}", i + 1)),
                message: format!(
                    "`{}` is not a fold id; write one integer per line",
                    tikhonov::error::quote_text(l.trim(), 40)
                ),
            })?;
            integer(v, format!("line {}", i + 1))
        })
        .collect()
}

/// What one target's cross-validation produced, for the output.
struct TargetCv {
    curve: CvCurve,
    /// Logistic k-fold: the misclassification rate's curve.
    misclassification: Option<CvCurve>,
    /// `--loo-residuals`: the LOO residuals at λ_min.
    residuals: Option<Vec<f64>>,
}

pub fn run_cv(args: &CvArgs, out: &mut Output) -> Result<(), Error> {
    if args.stream {
        return run_cv_stream(args, out);
    }
    let common = &args.common;
    if common.loss == Loss::Logistic && args.folds.is_none() {
        return Err(Error::invalid(
            "cv",
            if args.loo { "--loo" } else { "--gcv" },
            "--folds K with --loss logistic: leave-one-out and GCV have exact forms for ridge \
             only",
        ));
    }
    let info = *tikhonov::solvers::Registry::builtin().get(&args.solver)?;
    let opts = applicable_options(&info, &options(common, None)?);
    let data = load(common)?;
    let multi_y = match &data.targets {
        Targets::Values(y) if y.ncols() > 1 => Some(y),
        _ => None,
    };
    let start = Instant::now();
    let (method, results, names): (&str, Vec<TargetCv>, Vec<String>) = if let Some(y) = multi_y {
        let multi = multi_problem(&data, y, common)?;
        let grid = lambdas(&args.grid, &multi.target(0), common.loss)?;
        let (method, results) = cv_targets(args, &multi, &grid)?;
        (method, results, data.target_names.clone())
    } else {
        let problem = problem(&data, common)?;
        let grid = lambdas(&args.grid, problem.data(), common.loss)?;
        let (method, result) = cv_one(args, &info, &opts, &problem, &grid)?;
        (method, vec![result], data.target_names.clone())
    };
    let seconds = start.elapsed().as_secs_f64();
    let report = CvReport {
        method,
        results: &results,
        names: &names,
        description: &data.description,
        seconds,
        stream: None,
    };
    print_cv(args, &report, out)
}

/// `cv --folds K --stream`: each fold's statistics from one pass over the files
/// (`tikhonov::stream::cv`), never loading X; ridge only.
fn run_cv_stream(args: &CvArgs, out: &mut Output) -> Result<(), Error> {
    let common = &args.common;
    super::squared_loss_to_stream(
        common.loss,
        "streamed k-fold CV solves ridge from each fold's statistics, while logistic refits \
         need X",
    )?;
    let Some(k) = args.folds else {
        return Err(Error::invalid(
            "cv",
            if args.loo {
                "--loo --stream"
            } else {
                "--gcv --stream"
            },
            "--folds K with --stream: leave-one-out and GCV need X itself, k-fold CV only each \
             fold's statistics; drop --stream",
        ));
    };
    let k = usize::try_from(k).unwrap_or(usize::MAX);
    let rule = match &args.fold_ids {
        Some(file) => {
            let folds = Folds::from_ids(&read_fold_ids(file)?)?;
            if folds.k() != k {
                return Err(Error::invalid(
                    "folds",
                    k,
                    format!(
                        "the number of distinct ids in {} ({}), or drop --folds' value to match \
                         it",
                        file.display(),
                        folds.k()
                    ),
                ));
            }
            FoldRule::Ids(folds)
        }
        None => FoldRule::Hashed {
            k,
            seed: common.seed,
        },
    };
    let (mut reader, description) = stream_reader(common, args.block_rows, args.page_cache)?;
    let start = Instant::now();
    let n_lambdas = usize::try_from(args.grid.n_lambdas).unwrap_or(usize::MAX);
    let cv = stream::cv(
        &mut reader,
        &rule,
        args.grid.lambdas.as_deref(),
        n_lambdas,
        !common.no_intercept,
    )?;
    let seconds = start.elapsed().as_secs_f64();
    let results: Vec<TargetCv> = cv
        .results
        .iter()
        .map(|r| TargetCv {
            curve: r.curve.clone(),
            misclassification: None,
            residuals: None,
        })
        .collect();
    let inexact = cv.results.iter().map(|r| r.inexact).sum();
    let report = CvReport {
        method: "kfold",
        results: &results,
        names: reader.target_names(),
        description: &description,
        seconds,
        stream: Some((cv.stats, inexact)),
    };
    print_cv(args, &report, out)
}

/// What `cv` prints, whichever way it was computed.
struct CvReport<'a> {
    method: &'a str,
    results: &'a [TargetCv],
    names: &'a [String],
    description: &'a str,
    seconds: f64,
    /// With --stream: what was read, and how many held-out errors are inexact.
    stream: Option<(tikhonov::stream::StreamStats, usize)>,
}

/// Prints a cross-validation (table or JSON), its edge warnings and its figure.
fn print_cv(args: &CvArgs, report: &CvReport<'_>, out: &mut Output) -> Result<(), Error> {
    let common = &args.common;
    let CvReport {
        method,
        results,
        names,
        description,
        seconds,
        stream,
    } = *report;
    for (t, r) in results.iter().enumerate() {
        if r.curve.at_edge() {
            out.notes.push(format!(
                "warning: {}λ_min = {} is at the edge of the grid; the minimum may lie beyond \
                 it: extend the grid (--lambdas, or a larger --n-lambdas)",
                if results.len() > 1 {
                    format!("target {t}: ")
                } else {
                    String::new()
                },
                num(r.curve.lambda_min)
            ));
        }
    }
    if let Some(file) = &args.grid.plot {
        let title = format!(
            "{} cross-validation{}",
            method,
            names
                .first()
                .map(|n| format!(" ({})", tikhonov::error::quote_text(n, 40)))
                .unwrap_or_default()
        );
        plot::cv_curve(file, &results[0].curve, &title)?;
    }
    let s = &mut out.stdout;
    match common.format {
        Format::Json => {
            let one = |r: &TargetCv| {
                let mut v = json!({
                    "lambdas": numbers(&r.curve.lambdas),
                    "cv_mean": numbers(&r.curve.mean),
                    "lambda_min": r.curve.lambda_min,
                    "lambda_1se": r.curve.lambda_1se,
                    "lambda_min_at_edge": r.curve.at_edge(),
                });
                if let Some(se) = &r.curve.se {
                    v["cv_se"] = numbers(se);
                }
                if let Some(m) = &r.misclassification {
                    v["misclassification_mean"] = numbers(&m.mean);
                    v["misclassification_se"] = json!(m.se);
                }
                if let Some(res) = &r.residuals {
                    v["loo_residuals"] = numbers(res);
                }
                v
            };
            let mut v = if results.len() == 1 {
                one(&results[0])
            } else {
                // Every per-target key an array over the targets.
                let each: Vec<Value> = results.iter().map(one).collect();
                let mut v = json!({ "n_targets": results.len(), "targets": names });
                for key in each[0]
                    .as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>())
                    .unwrap_or_default()
                {
                    v[&key] = each.iter().map(|e| e[&key].clone()).collect();
                }
                v
            };
            v["method"] = json!(method);
            v["loss"] = json!(loss_name(common.loss));
            v["fit_seconds"] = json!(seconds);
            if let Some((stats, inexact)) = stream {
                v["streamed"] = json!(true);
                v["stream"] = stream_json(&stats);
                v["stream"]["inexact"] = json!(inexact);
            }
            let _ = writeln!(s, "{v}");
        }
        Format::Table => {
            let _ = writeln!(s, "{}", description);
            let _ = writeln!(
                s,
                "{method} ({} loss), {:.3} s",
                loss_name(common.loss),
                seconds
            );
            if let Some((stats, inexact)) = stream {
                let _ = writeln!(
                    s,
                    "streamed      {} blocks of ≤ {} rows, {} rows, {} bytes read (one pass){}",
                    stats.blocks,
                    stats.block_rows,
                    stats.rows,
                    stats.bytes,
                    if inexact > 0 {
                        format!(
                            "; {inexact} held-out errors from the statistics alone are less \
                             accurate than 1e-6 (nearly perfect fits)"
                        )
                    } else {
                        String::new()
                    }
                );
            }
            for (t, r) in results.iter().enumerate() {
                if results.len() > 1 {
                    let _ = writeln!(
                        s,
                        "\ntarget {t} (`{}`)",
                        tikhonov::error::quote_text(&names[t], 60)
                    );
                }
                let _ = writeln!(
                    s,
                    "λ_min = {}, λ_1se = {}\n",
                    num(r.curve.lambda_min),
                    num(r.curve.lambda_1se)
                );
                let _ = writeln!(s, "{:>12} {:>14} {:>12}", "λ", "mean error", "std. error");
                for (k, &l) in r.curve.lambdas.iter().enumerate() {
                    let se = r
                        .curve
                        .se
                        .as_ref()
                        .map_or(String::from("—"), |se| format!("{:.4e}", se[k]));
                    let mark = if l == r.curve.lambda_min {
                        "  ← λ_min"
                    } else if l == r.curve.lambda_1se {
                        "  ← λ_1se"
                    } else {
                        ""
                    };
                    let _ = writeln!(
                        s,
                        "{:>12.4e} {:>14.6e} {:>12}{mark}",
                        l, r.curve.mean[k], se
                    );
                }
            }
        }
    }
    Ok(())
}

/// Cross-validation of one target (either loss).
fn cv_one(
    args: &CvArgs,
    info: &tikhonov::solvers::SolverInfo,
    opts: &tikhonov::solvers::SolverOptions,
    problem: &Problem<'_>,
    grid: &[f64],
) -> Result<(&'static str, TargetCv), Error> {
    let n = problem.data().n_samples();
    if let Some(k) = args.folds {
        let folds = folds(args, n, usize::try_from(k).unwrap_or(usize::MAX))?;
        let result: KFold = match problem {
            Problem::Ridge(p) => kfold::ridge(p, grid, &folds)?,
            Problem::Logistic(p) => kfold::logistic(info, opts, p, grid, &folds)?,
        };
        return Ok((
            "kfold",
            TargetCv {
                curve: result.curve,
                misclassification: result.misclassification.map(|m| m.curve),
                residuals: None,
            },
        ));
    }
    let Problem::Ridge(p) = problem else {
        unreachable!("run_cv refuses --loo and --gcv with the logistic loss before loading")
    };
    let loo = LeaveOneOut::new(p)?.with_convention(if args.sklearn_alpha {
        LooConvention::SameAlpha
    } else {
        LooConvention::SameLambda
    });
    if args.gcv {
        let curve = loo.gcv(grid)?;
        return Ok((
            "gcv",
            TargetCv {
                curve,
                misclassification: None,
                residuals: None,
            },
        ));
    }
    let curve = loo.curve(grid)?;
    let residuals = if args.loo_residuals {
        Some(loo.residuals(curve.lambda_min)?.iter().copied().collect())
    } else {
        None
    };
    Ok((
        "loo",
        TargetCv {
            curve,
            misclassification: None,
            residuals,
        },
    ))
}

/// Cross-validation of every target of a multi-target ridge problem, one λ chosen per target.
fn cv_targets(
    args: &CvArgs,
    multi: &MultiRidgeProblem<'_>,
    grid: &[f64],
) -> Result<(&'static str, Vec<TargetCv>), Error> {
    let plain = |curve| TargetCv {
        curve,
        misclassification: None,
        residuals: None,
    };
    if let Some(k) = args.folds {
        let n = multi.target(0).n_samples();
        let folds = folds(args, n, usize::try_from(k).unwrap_or(usize::MAX))?;
        let results = kfold::ridge_targets(multi, grid, &folds)?;
        return Ok((
            "kfold",
            results.into_iter().map(|r| plain(r.curve)).collect(),
        ));
    }
    let loo = LeaveOneOut::of_targets(multi)?.with_convention(if args.sklearn_alpha {
        LooConvention::SameAlpha
    } else {
        LooConvention::SameLambda
    });
    let t_count = multi.n_targets();
    if args.gcv {
        let curves = (0..t_count)
            .map(|t| loo.target_gcv(t, grid).map(plain))
            .collect::<Result<_, _>>()?;
        return Ok(("gcv", curves));
    }
    let mut results = Vec::with_capacity(t_count);
    for t in 0..t_count {
        let curve = loo.target_curve(t, grid)?;
        let residuals = if args.loo_residuals {
            Some(
                loo.target_residuals(t, curve.lambda_min)?
                    .iter()
                    .copied()
                    .collect(),
            )
        } else {
            None
        };
        results.push(TargetCv {
            curve,
            misclassification: None,
            residuals,
        });
    }
    Ok(("loo", results))
}
