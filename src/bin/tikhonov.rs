//! `tikhonov`: compare ridge solvers on one problem, or fit with one of them.
//!
//! The front end only parses, loads, calls the library and prints; no mathematics lives here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use faer::{Col, Mat};
use serde_json::{Value, json};
use tikhonov::compare::{self, Comparison};
use tikhonov::data::{self, Synthetic};
use tikhonov::solvers::{self, Solver, SolverOptions};
use tikhonov::{Error, Fit, MultiRidgeProblem, RidgeProblem};

/// Compare L2-regularised regression solvers, or fit one.
///
/// Without a subcommand, runs `compare` (on a built-in synthetic problem unless data are given).
#[derive(Parser, Debug)]
#[command(name = "tikhonov", version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    compare: CompareArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run several solvers on one problem against a reference and tabulate how they agree.
    Compare(CompareArgs),
    /// Fit with one solver and print the model.
    Fit(FitArgs),
}

#[derive(Args, Debug)]
struct CompareArgs {
    /// Comma-separated solver names, or `all` [default: every backend suited to the data's
    /// shape: all but `dual` when n > d, whose n × n kernel then costs O(n³) for nothing].
    #[arg(long, value_delimiter = ',')]
    solvers: Option<Vec<String>>,
    /// The solver whose answer the others are measured against.
    #[arg(long, default_value = "qr")]
    reference: String,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct FitArgs {
    /// The backend to use (`auto` picks a direct backend and the output names the one it ran).
    #[arg(long, default_value = "auto")]
    solver: String,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args, Debug)]
struct CommonArgs {
    /// CSV file with a header row (use with --target).
    #[arg(long, value_name = "FILE.csv", conflicts_with_all = ["x", "y"], requires = "target")]
    data: Option<PathBuf>,
    /// Name of the target column in the CSV, or several (`--targets a,b,c`, `fit` only); every
    /// other column is a feature.
    #[arg(
        long,
        visible_alias = "targets",
        value_name = "COL",
        value_delimiter = ','
    )]
    target: Vec<String>,
    /// Design matrix X as a 2-D float64 .npy file (use with --y).
    #[arg(long, value_name = "X.npy", requires = "y")]
    x: Option<PathBuf>,
    /// Targets y as a float64 .npy file: 1-D, or 2-D (n × k) for k targets (`fit` only).
    #[arg(long, value_name = "y.npy", requires = "x")]
    y: Option<PathBuf>,
    /// Sample weights as a 1-D float64 .npy file.
    #[arg(long, value_name = "w.npy")]
    weights: Option<PathBuf>,
    /// Penalty λ of J = 1/(2S)·Σsᵢrᵢ² + (λ/2)‖w‖² (scikit-learn's Ridge alpha = λ·S); with
    /// several targets, one λ for all or a comma-separated list with one per target.
    #[arg(
        long,
        default_value = "1e-3",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    lambda: Vec<f64>,
    /// Fit the model through the origin (no intercept).
    #[arg(long)]
    no_intercept: bool,
    /// Relative tolerance ‖∇J(w)‖ ≤ tol·‖∇J(w₀)‖ for iterative solvers.
    #[arg(long, allow_negative_numbers = true)]
    tol: Option<f64>,
    /// Iteration (epoch) budget for iterative solvers.
    #[arg(long)]
    max_iter: Option<usize>,
    /// Wall-time budget in seconds for iterative solvers.
    #[arg(long, allow_negative_numbers = true)]
    time_limit: Option<f64>,
    /// Fixed step size for gradient methods (default: 1/L, or a decaying schedule for sgd).
    #[arg(long, allow_negative_numbers = true)]
    step: Option<f64>,
    /// Seed of stochastic solvers and of the built-in problem.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Built-in problem: number of samples.
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    /// Built-in problem: number of features.
    #[arg(long, default_value_t = 50)]
    d: usize,
    /// Built-in problem: condition number of the centred design.
    #[arg(long, default_value_t = 10.0)]
    condition: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write every recorded step of the iterative solvers to this CSV (columns: solver,
    /// iteration, passes, seconds, objective, residual).
    #[arg(long, value_name = "FILE.csv")]
    history: Option<PathBuf>,
    /// With --history: record every k-th iteration (and the first and last).
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    record_every: u64,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Table,
    Json,
}

/// Data owned by the front end; the problem borrows from it.
struct Loaded {
    x: Mat<f64>,
    /// n × k, one column per target.
    y: Mat<f64>,
    weights: Option<Col<f64>>,
    description: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Fit(args)) => run_fit(&args),
        Some(Command::Compare(args)) => run_compare(&args),
        None => run_compare(&cli.compare),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            // 1 for bad data or a numerical failure, 2 for bad usage (as clap does).
            if e.is_data_error() || e.is_numerical() {
                ExitCode::from(1)
            } else {
                ExitCode::from(2)
            }
        }
    }
}

fn load(args: &CommonArgs) -> Result<Loaded, Error> {
    let (x, y, description) = if let Some(path) = &args.data {
        // clap guarantees --target with --data.
        let targets: Vec<&str> = args.target.iter().map(String::as_str).collect();
        let ds = data::read_csv(path, &targets)?;
        let desc = format!("{} (target `{}`)", path.display(), targets.join("`, `"));
        (ds.x, ds.y, desc)
    } else if let (Some(xp), Some(yp)) = (&args.x, &args.y) {
        let x = data::read_npy_matrix(xp)?;
        let y = data::read_npy_matrix(yp)?;
        (x, y, format!("{} / {}", xp.display(), yp.display()))
    } else {
        let spec = Synthetic {
            n_samples: args.n,
            n_features: args.d,
            condition: args.condition,
            seed: args.seed,
            ..Synthetic::default()
        };
        let s = spec.generate()?;
        let y = s.y.as_mat().to_owned();
        let desc = format!(
            "built-in synthetic problem: n = {}, d = {}, κ(Xc) = {}, noise σ = {}, seed = {}",
            spec.n_samples, spec.n_features, spec.condition, spec.noise, spec.seed
        );
        (s.x, y, desc)
    };
    let weights = args
        .weights
        .as_deref()
        .map(data::read_npy_vector)
        .transpose()?;
    Ok(Loaded {
        x,
        y,
        weights,
        description,
    })
}

/// The single-target problem (`compare`, or `fit` with one target).
fn problem<'a>(data: &'a Loaded, args: &CommonArgs) -> Result<RidgeProblem<'a>, Error> {
    let k = data.y.ncols();
    if k != 1 || args.lambda.len() != 1 {
        return Err(Error::InvalidParameter {
            name: "targets",
            value: format!("{k} targets with {} λ values", args.lambda.len()),
            expected: "one target and one λ for `compare` (`tikhonov fit` fits several targets, \
                       with one λ or one per target)"
                .into(),
        });
    }
    let mut b = RidgeProblem::builder(data.x.as_ref(), data.y.col(0))
        .lambda(args.lambda[0])
        .intercept(!args.no_intercept);
    if let Some(w) = &data.weights {
        b = b.weights(w.as_ref());
    }
    b.build()
}

/// All targets of the data, with one λ for all or one per target.
fn multi_problem<'a>(data: &'a Loaded, args: &CommonArgs) -> Result<MultiRidgeProblem<'a>, Error> {
    let (k, l) = (data.y.ncols(), args.lambda.len());
    if l != 1 && l != k {
        return Err(Error::InvalidParameter {
            name: "lambda",
            value: format!("{l} values for {k} targets"),
            expected: format!("one λ for all targets or {k}, one per target, in target order"),
        });
    }
    let mut b =
        MultiRidgeProblem::builder(data.x.as_ref(), data.y.as_ref()).intercept(!args.no_intercept);
    b = match args.lambda.as_slice() {
        [one] => b.lambda(*one),
        many => b.lambdas(many),
    };
    if let Some(w) = &data.weights {
        b = b.weights(w.as_ref());
    }
    b.build()
}

fn options(args: &CommonArgs) -> SolverOptions {
    SolverOptions {
        tol: args.tol,
        max_iter: args.max_iter,
        time_limit: args.time_limit,
        step: args.step,
        seed: Some(args.seed),
        // Recording costs a little time (excluded from the timings), so only when asked.
        record_every: if args.history.is_some() {
            usize::try_from(args.record_every).unwrap_or(usize::MAX)
        } else {
            0
        },
        ..SolverOptions::default()
    }
}

/// Builds `name` from the command line's options, refusing one it does not use. `--seed` has a
/// default, so it only counts as given to the backends that sample.
fn build_backend(name: &str, opts: &SolverOptions) -> Result<Box<dyn Solver>, Error> {
    let registry = solvers::Registry::builtin();
    let info = registry.get(name)?;
    let mut opts = opts.clone();
    if !info.options.contains("seed") {
        opts.seed = None;
    }
    info.build_checked(&opts)
}

/// Builds each of `names` with the options it takes (one set of options is meant for several
/// backends), refusing an option that none of them takes.
fn build_backends(names: &[String], opts: &SolverOptions) -> Result<Vec<Box<dyn Solver>>, Error> {
    let registry = solvers::Registry::builtin();
    let infos = names
        .iter()
        .map(|n| registry.get(n))
        .collect::<Result<Vec<_>, _>>()?;
    for option in opts.given() {
        if option != "seed" && !infos.iter().any(|i| i.options.contains(option)) {
            return Err(Error::invalid(
                option,
                format!("given to {}", names.join(", ")),
                "an option one of the compared backends uses (see `tikhonov fit --help`)",
            ));
        }
    }
    infos.iter().map(|i| i.build_applicable(opts)).collect()
}

/// Writes the recorded steps of `fits` to `path`, one row per step.
fn write_history<'f>(path: &Path, fits: impl IntoIterator<Item = &'f Fit>) -> Result<(), Error> {
    let io = |e: csv::Error| Error::Io {
        path: path.to_owned(),
        source: e.into(),
    };
    let mut out = csv::Writer::from_path(path).map_err(io)?;
    out.write_record([
        "solver",
        "iteration",
        "passes",
        "seconds",
        "objective",
        "residual",
    ])
    .map_err(io)?;
    for fit in fits {
        for r in &fit.history {
            out.serialize((
                &fit.solver,
                r.iteration,
                r.passes,
                r.seconds,
                r.objective,
                r.residual,
            ))
            .map_err(io)?;
        }
    }
    out.flush().map_err(|e| Error::Io {
        path: path.to_owned(),
        source: e,
    })
}

fn run_fit(args: &FitArgs) -> Result<(), Error> {
    let solver = build_backend(&args.solver, &options(&args.common))?;
    let data = load(&args.common)?;
    if data.y.ncols() > 1 || args.common.lambda.len() > 1 {
        return run_fit_targets(args, solver.as_ref(), &data);
    }
    let problem = problem(&data, &args.common)?;
    let fit = solver.solve(&problem)?;
    if let Some(path) = &args.common.history {
        write_history(path, [&fit])?;
    }
    match args.common.format {
        Format::Json => println!("{}", fit_json(&problem, &fit)),
        Format::Table => {
            println!("{}", data.description);
            println!("lambda        {}", problem.lambda());
            print_fit(&fit);
        }
    }
    Ok(())
}

fn print_fit(fit: &Fit) {
    println!("solver        {}", fit.solver);
    println!("intercept     {:.12e}", fit.intercept);
    for (j, c) in fit.coef.iter().enumerate() {
        println!("coef[{j:>3}]     {c:.12e}");
    }
    println!("objective     {:.12e}", fit.objective);
    println!("‖∇J‖          {:.3e}", fit.gradient_norm);
    println!("iterations    {}", fit.iterations);
    println!("converged     {}", fit.converged);
    println!("fit seconds   {:.6}", fit.fit_seconds);
    if let Some(k) = fit.condition_estimate {
        println!("condition     {k:.3e} (estimate, of the matrix factored)");
    }
}

/// `fit` with k targets: one call to `solve_targets`, so direct backends factor once per λ.
fn run_fit_targets(args: &FitArgs, solver: &dyn Solver, data: &Loaded) -> Result<(), Error> {
    let multi = multi_problem(data, &args.common)?;
    let fits = solver.solve_targets(&multi)?;
    if let Some(path) = &args.common.history {
        write_history(path, &fits)?;
    }
    match args.common.format {
        Format::Json => {
            // The single-target object, with every per-fit key an array over the targets.
            let each: Vec<Value> = fits
                .iter()
                .enumerate()
                .map(|(t, fit)| fit_json(&multi.target(t), fit))
                .collect();
            let mut v = json!({
                "n_samples": data.x.nrows(),
                "n_features": data.x.ncols(),
                "n_targets": fits.len(),
            });
            for key in PER_FIT_KEYS {
                v[key] = each.iter().map(|e| e[key].clone()).collect();
            }
            println!("{v}");
        }
        Format::Table => {
            println!("{}", data.description);
            for (t, fit) in fits.iter().enumerate() {
                println!("\ntarget {t} (λ = {})", multi.lambda(t));
                print_fit(fit);
            }
        }
    }
    Ok(())
}

/// The keys of a fit object that belong to one target.
const PER_FIT_KEYS: [&str; 11] = [
    "solver",
    "lambda",
    "intercept",
    "coef",
    "objective",
    "gradient_norm",
    "iterations",
    "passes",
    "converged",
    "fit_seconds",
    "condition_estimate",
];

fn run_compare(args: &CompareArgs) -> Result<(), Error> {
    let opts = options(&args.common);
    let reference = solvers::Registry::builtin()
        .get(&args.reference)?
        .build_applicable(&opts)?;
    let data = load(&args.common)?;
    let problem = problem(&data, &args.common)?;
    let names: Vec<String> = match &args.solvers {
        Some(list) if !list.iter().any(|s| s == "all") => list.clone(),
        Some(_) => solvers::names().map(String::from).collect(),
        None => solvers::names()
            .filter(|&name| name != "dual" || problem.n_features() > problem.n_samples())
            .map(String::from)
            .collect(),
    };
    let list = build_backends(&names, &opts)?;
    let comparison = compare::compare(&problem, reference.as_ref(), &list)?;
    if let Some(path) = &args.common.history {
        write_history(
            path,
            comparison
                .entries
                .iter()
                .filter_map(|e| e.outcome.as_ref().ok())
                .map(|m| &m.fit),
        )?;
    }
    match args.common.format {
        Format::Json => println!("{}", compare_json(&problem, &comparison)),
        Format::Table => print_table(&data.description, &problem, &comparison),
    }
    Ok(())
}

fn fit_json(problem: &RidgeProblem<'_>, fit: &Fit) -> Value {
    json!({
        "solver": fit.solver,
        "lambda": problem.lambda(),
        "n_samples": problem.n_samples(),
        "n_features": problem.n_features(),
        "intercept": fit.intercept,
        "coef": fit.coef.iter().collect::<Vec<_>>(),
        "objective": fit.objective,
        "gradient_norm": fit.gradient_norm,
        "iterations": fit.iterations,
        "passes": fit.passes,
        "converged": fit.converged,
        "fit_seconds": fit.fit_seconds,
        "condition_estimate": fit.condition_estimate,
    })
}

fn compare_json(problem: &RidgeProblem<'_>, c: &Comparison) -> Value {
    let results: Vec<Value> = c
        .entries
        .iter()
        .map(|e| match &e.outcome {
            Ok(m) => {
                let mut v = fit_json(problem, &m.fit);
                v["objective_gap"] = json!(m.objective_gap);
                v["coef_rel_error"] = json!(m.coef_rel_error);
                v
            }
            Err(err) => json!({ "solver": e.solver, "error": err.to_string() }),
        })
        .collect();
    json!({ "reference": c.reference.solver, "results": results })
}

fn print_table(description: &str, problem: &RidgeProblem<'_>, c: &Comparison) {
    let w = c
        .entries
        .iter()
        .map(|e| e.solver.len())
        .max()
        .unwrap_or(0)
        .max(6);
    println!("{description}");
    println!(
        "λ = {}, intercept {}, reference: {} (objective {:.12e})\n",
        problem.lambda(),
        if problem.fit_intercept() { "on" } else { "off" },
        c.reference.solver,
        c.reference.objective
    );
    println!(
        "{:<w$} {:>10} {:>7} {:>8} {:>9} {:>11} {:>10} {:>11}",
        "solver", "time (s)", "iters", "passes", "converged", "obj. gap", "‖∇J‖", "rel. error"
    );
    for e in &c.entries {
        match &e.outcome {
            Ok(m) => println!(
                "{:<w$} {:>10.4} {:>7} {:>8.1} {:>9} {:>11.3e} {:>10.3e} {:>11.3e}",
                e.solver,
                m.fit.fit_seconds,
                m.fit.iterations,
                m.fit.passes,
                if m.fit.converged { "yes" } else { "no" },
                m.objective_gap,
                m.fit.gradient_norm,
                m.coef_rel_error
            ),
            Err(err) => println!("{:<w$} failed: {err}", e.solver),
        }
    }
}
