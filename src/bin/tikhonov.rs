//! `tikhonov`: compare ridge or logistic-regression solvers on one problem, fit with one of
//! them, or predict with a fitted model.
//!
//! The front end only parses, loads, calls the library and prints; no mathematics lives here.
//! Output is assembled in memory and written once at the end: a closed pipe (`tikhonov | head`)
//! ends the program quietly, any other write error is a one-line error. Every error is one line
//! on stderr, bounded in length ([`args::bounded`]).

#[path = "cli/args.rs"]
mod args;
#[path = "cli/bench/mod.rs"]
mod bench;
#[path = "cli/plot.rs"]
mod plot;
#[path = "cli/select.rs"]
mod select;
#[path = "cli/sql.rs"]
mod sql;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use args::{
    COMPARE_TIME_LIMIT, Command, CommonArgs, CompareArgs, FitArgs, Format, Loss, Parsed,
    PredictArgs, PredictFormat,
};
use faer::{Col, Mat};
use serde_json::{Value, json};
use tikhonov::compare::{self, Comparison};
use tikhonov::data::{self, Synthetic};
use tikhonov::logistic::{BinaryLabels, LogisticProblem};
use tikhonov::solvers::{self, Solver, SolverOptions};
use tikhonov::stream::{self, BlockReader};
use tikhonov::{Error, Fit, LossKind, Model, MultiRidgeProblem, RidgeProblem};

/// Data owned by the front end; the problem borrows from it.
struct Loaded {
    x: Mat<f64>,
    targets: Targets,
    /// One name per target: the CSV column, or `column t of FILE` for a 2-D .npy.
    target_names: Vec<String>,
    /// The CSV's feature column names (none for .npy data or the built-in problem).
    feature_names: Option<Vec<String>>,
    weights: Option<Col<f64>>,
    description: String,
}

/// The targets, as the loss reads them.
enum Targets {
    /// n × k numbers, one column per target (the squared loss).
    Values(Mat<f64>),
    /// One target of two classes (the logistic loss).
    Labels(BinaryLabels),
}

/// The problem of one target, of either loss; it borrows the [`Loaded`] data.
enum Problem<'a> {
    Ridge(RidgeProblem<'a>),
    Logistic(LogisticProblem<'a>),
}

impl<'a> Problem<'a> {
    /// The data, λ and intercept (for the logistic loss with the signs ỹ = ±1 as targets): what
    /// shapes, memory estimates and the output need.
    fn data(&self) -> &RidgeProblem<'a> {
        match self {
            Problem::Ridge(p) => p,
            Problem::Logistic(p) => p.data(),
        }
    }

    fn loss(&self) -> LossKind {
        match self {
            Problem::Ridge(_) => LossKind::Squared,
            Problem::Logistic(_) => LossKind::Logistic,
        }
    }

    fn solve(&self, solver: &dyn Solver) -> Result<Fit, Error> {
        match self {
            Problem::Ridge(p) => solver.solve(p),
            Problem::Logistic(p) => solver.solve_logistic(p),
        }
    }

    fn compare(
        &self,
        reference: &dyn Solver,
        list: &[Box<dyn Solver>],
    ) -> Result<Comparison, Error> {
        match self {
            Problem::Ridge(p) => compare::compare(p, reference, list),
            Problem::Logistic(p) => compare::compare_logistic(p, reference, list),
        }
    }
}

/// What a run prints: stdout text and stderr notes (warnings), written when it ends.
#[derive(Default)]
struct Output {
    stdout: String,
    notes: Vec<String>,
}

fn main() -> ExitCode {
    let cli = match args::parse(std::env::args_os()) {
        Ok(Parsed::Run(cli)) => cli,
        Ok(Parsed::Print(text)) => return write_stdout(&text),
        Err(line) => {
            report(&format!("error: {line}"));
            return ExitCode::from(2);
        }
    };
    let mut out = Output::default();
    let result = match &cli.command {
        Some(Command::Fit(a)) => run_fit(a, &mut out),
        Some(Command::Compare(a)) => run_compare(a, &mut out),
        Some(Command::Predict(a)) => run_predict(a, &mut out),
        Some(Command::Path(a)) => select::run_path(a, &mut out),
        Some(Command::Cv(a)) => select::run_cv(a, &mut out),
        Some(Command::Bench(a)) => bench::run(a, &mut out),
        None => run_compare(&cli.compare, &mut out),
    };
    for note in &out.notes {
        report(note);
    }
    match result {
        Ok(()) => write_stdout(&out.stdout),
        Err(e) => {
            report(&format!("error: {e}"));
            // 1 for bad data or a numerical failure, 2 for bad usage (as clap does).
            if e.is_data_error() || e.is_numerical() {
                ExitCode::from(1)
            } else {
                ExitCode::from(2)
            }
        }
    }
}

/// One line on stderr, bounded; a stderr that cannot be written to is ignored (there is nowhere
/// else to say it).
fn report(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", args::bounded(line));
}

/// Writes `text` to stdout: success, a quiet success when the reader has gone (a closed pipe),
/// or a one-line error (e.g. a full disk) with exit code 1.
fn write_stdout(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            report(&format!(
                "error: cannot write the output to stdout ({e}); redirect it to a file on a disk \
                 with free space, or to a pipe"
            ));
            ExitCode::from(1)
        }
    }
}

/// A number for the table: as given when of ordinary size (`0.001`, `10`), else in exponent
/// form (`1e308`, not 309 digits).
fn num(x: f64) -> String {
    if x == 0.0 || (1e-4..1e6).contains(&x.abs()) {
        x.to_string()
    } else {
        format!("{x:e}")
    }
}

/// The input files named on the command line.
fn inputs(args: &CommonArgs) -> Vec<&Path> {
    [&args.data, &args.x, &args.y, &args.weights]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .collect()
}

/// Where `--history` will be written, checked before anything is computed: it must not be (a
/// link to, or a hard link of) an input, and its folder must exist.
fn history_target(args: &CommonArgs) -> Result<Option<PathBuf>, Error> {
    let Some(path) = &args.history else {
        return Ok(None);
    };
    let refuse = |input: &Path| Error::InvalidParameter {
        name: "history",
        value: path.display().to_string(),
        expected: format!(
            "a new file, not the input {} (writing the history would destroy it); choose \
             another name",
            input.display()
        ),
    };
    // Resolve links so that writing replaces what the link points to, not the link.
    let resolved = match std::fs::canonicalize(path) {
        Ok(p) => p,
        Err(_) => {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let dir = std::fs::canonicalize(parent).map_err(|e| Error::InvalidParameter {
                name: "history",
                value: path.display().to_string(),
                expected: format!(
                    "a file in an existing folder, but {} cannot be used ({e}); create the \
                     folder or choose another path",
                    parent.display()
                ),
            })?;
            match path.file_name() {
                Some(name) => dir.join(name),
                None => {
                    return Err(Error::InvalidParameter {
                        name: "history",
                        value: path.display().to_string(),
                        expected: "a file name such as steps.csv".into(),
                    });
                }
            }
        }
    };
    let history_meta = std::fs::metadata(&resolved).ok();
    if history_meta.as_ref().is_some_and(|m| m.is_dir()) {
        return Err(Error::InvalidParameter {
            name: "history",
            value: path.display().to_string(),
            expected: "a file name, not a directory (e.g. DIR/steps.csv)".into(),
        });
    }
    for input in inputs(args) {
        if std::fs::canonicalize(input).is_ok_and(|p| p == resolved) {
            return Err(refuse(input));
        }
        #[cfg(unix)]
        if let (Some(h), Ok(i)) = (&history_meta, std::fs::metadata(input)) {
            use std::os::unix::fs::MetadataExt;
            if h.dev() == i.dev() && h.ino() == i.ino() {
                return Err(refuse(input));
            }
        }
    }
    Ok(Some(resolved))
}

/// Writes the history rows (`header` then `rows`) to `path`. A regular file is written to a
/// temporary file in the same folder and renamed over it, so an existing file is replaced only
/// by a complete history; a device or pipe (`/dev/stdout`) is written directly.
fn write_history(path: &Path, header: &[&str], rows: &[HistoryRow<'_>]) -> Result<(), Error> {
    let io = |source: std::io::Error| Error::Io {
        path: path.to_owned(),
        source,
    };
    let csv_err = |e: csv::Error| Error::Io {
        path: path.to_owned(),
        source: e.into(),
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).map_err(csv_err)?;
    for HistoryRow { target, solver, r } in rows {
        let values = (
            solver,
            r.iteration,
            r.passes,
            r.seconds,
            r.objective,
            r.residual,
        );
        match target {
            Some(t) => w.serialize((t, values)),
            None => w.serialize(values),
        }
        .map_err(csv_err)?;
    }
    let text = w.into_inner().map_err(|e| io(e.into_error()))?;
    let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file());
    if special {
        return std::fs::write(path, text).map_err(io);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{}.tikhonov-{}.tmp",
        name.as_deref().unwrap_or("history"),
        std::process::id()
    ));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(&text)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io)
}

/// One recorded step of one fit, for the history file.
struct HistoryRow<'f> {
    /// The target's name, with several targets.
    target: Option<&'f str>,
    solver: &'f str,
    r: &'f tikhonov::Record,
}

/// The history rows of `fits` (one per recorded step), each with its target when given.
fn history_rows<'f>(
    fits: impl IntoIterator<Item = (Option<&'f str>, &'f Fit)>,
) -> Vec<HistoryRow<'f>> {
    fits.into_iter()
        .flat_map(|(target, fit)| {
            fit.history.iter().map(move |r| HistoryRow {
                target,
                solver: &fit.solver,
                r,
            })
        })
        .collect()
}

const HISTORY_COLUMNS: [&str; 6] = [
    "solver",
    "iteration",
    "passes",
    "seconds",
    "objective",
    "residual",
];

/// Writes the history if there is something to write; otherwise leaves any existing file alone
/// and says so.
fn save_history(
    path: Option<&Path>,
    multi: bool,
    rows: &[HistoryRow<'_>],
    out: &mut Output,
) -> Result<(), Error> {
    let Some(path) = path else { return Ok(()) };
    if rows.is_empty() {
        out.notes.push(format!(
            "note: {} not written: no iterative backend recorded a step (direct backends have \
             no iterations); add an iterative backend such as `cg` to record one",
            path.display()
        ));
        return Ok(());
    }
    let mut header: Vec<&str> = if multi { vec!["target"] } else { vec![] };
    header.extend(HISTORY_COLUMNS);
    write_history(path, &header, rows)
}

/// Whether `path` names a Parquet file (by its extension).
fn is_parquet(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

fn load(args: &CommonArgs) -> Result<Loaded, Error> {
    if let Some(path) = args.data.as_deref().filter(|p| is_parquet(p)) {
        return Err(Error::invalid(
            "data",
            path.display(),
            "a CSV file here: Parquet is read by DataFusion, and only by `tikhonov fit --data \
             F.parquet` (or `fit --sql`) in a binary built with --features datafusion; convert \
             it to CSV or .npy for this command",
        ));
    }
    let logistic = args.loss == Loss::Logistic;
    let (x, targets, target_names, description, feature_names) = if let Some(path) = &args.data {
        // clap guarantees --target with --data.
        let targets: Vec<&str> = args.target.iter().map(String::as_str).collect();
        let desc = format!("{} (target `{}`)", path.display(), targets.join("`, `"));
        if logistic {
            // Refused before the file is read.
            single_target(targets.len(), args)?;
            let ds = data::read_csv_text(path, &targets)?;
            let labels = BinaryLabels::from_text(&ds.targets[0]).map_err(|e| {
                labels_in(e, &format!("column `{}` of {}", targets[0], path.display()))
            })?;
            let names = Some(ds.feature_names);
            (ds.x, Targets::Labels(labels), ds.target_names, desc, names)
        } else {
            let ds = data::read_csv(path, &targets)?;
            let names = Some(ds.feature_names);
            (ds.x, Targets::Values(ds.y), ds.target_names, desc, names)
        }
    } else if let (Some(xp), Some(yp)) = (&args.x, &args.y) {
        let x = data::read_npy_matrix(xp)?;
        let y = data::read_npy_matrix(yp)?;
        let names = if y.ncols() == 1 {
            vec![yp.display().to_string()]
        } else {
            (0..y.ncols())
                .map(|t| format!("column {t} of {}", yp.display()))
                .collect()
        };
        let targets = if logistic {
            single_target(y.ncols(), args)?;
            let labels = BinaryLabels::from_values(y.col(0))
                .map_err(|e| labels_in(e, &yp.display().to_string()))?;
            Targets::Labels(labels)
        } else {
            Targets::Values(y)
        };
        (
            x,
            targets,
            names,
            format!("{} / {}", xp.display(), yp.display()),
            None,
        )
    } else {
        let spec = Synthetic {
            n_samples: args.n,
            n_features: args.d,
            condition: args.condition,
            seed: args.seed,
            ..Synthetic::default()
        };
        let s = spec.generate()?;
        let mut desc = format!(
            "built-in synthetic problem: n = {}, d = {}, κ(Xc) = {}, noise σ = {}, seed = {}",
            spec.n_samples,
            spec.n_features,
            num(spec.condition),
            spec.noise,
            spec.seed
        );
        let targets = if logistic {
            desc += ", labels 0/1 drawn with P(1) = σ(y)";
            Targets::Labels(BinaryLabels::from_values(
                spec.logistic_labels(&s).as_ref(),
            )?)
        } else {
            Targets::Values(s.y.as_mat().to_owned())
        };
        (s.x, targets, vec!["y".into()], desc, None)
    };
    let weights = args
        .weights
        .as_deref()
        .map(data::read_npy_vector)
        .transpose()?;
    Ok(Loaded {
        x,
        targets,
        target_names,
        feature_names,
        weights,
        description: args::bounded(&description),
    })
}

/// `e`, when it is about the labels, saying where they came from.
fn labels_in(e: Error, source: &str) -> Error {
    match e {
        Error::InvalidLabels { reason } => Error::InvalidLabels {
            reason: format!("{source}: {reason}"),
        },
        other => other,
    }
}

/// Refuses anything but one target and one λ where a problem of one target is solved:
/// `compare`, and every fit of the logistic loss.
fn single_target(k: usize, args: &CommonArgs) -> Result<(), Error> {
    if k == 1 && args.lambda.len() == 1 {
        return Ok(());
    }
    Err(Error::InvalidParameter {
        name: "targets",
        value: format!("{k} targets with {} λ values", args.lambda.len()),
        expected: match args.loss {
            Loss::Logistic => {
                "one target and one λ with --loss logistic, which fits one column \
                               of two-class labels (several targets are fitted with the squared \
                               loss)"
            }
            Loss::Squared => {
                "one target and one λ for `compare` (`tikhonov fit` fits several \
                              targets, with one λ or one per target)"
            }
        }
        .into(),
    })
}

/// The single-target problem (`compare`, or `fit` with one target).
fn problem<'a>(data: &'a Loaded, args: &CommonArgs) -> Result<Problem<'a>, Error> {
    let k = match &data.targets {
        Targets::Values(y) => y.ncols(),
        Targets::Labels(_) => 1,
    };
    single_target(k, args)?;
    let (x, lambda, intercept) = (data.x.as_ref(), args.lambda[0], !args.no_intercept);
    // The builders' optional last step: the weights, when given.
    let weights = data.weights.as_ref().map(Col::as_ref).into_iter();
    match &data.targets {
        Targets::Values(y) => {
            let b = RidgeProblem::builder(x, y.col(0)).lambda(lambda);
            let b = weights.fold(b.intercept(intercept), |b, w| b.weights(w));
            b.build().map(Problem::Ridge)
        }
        Targets::Labels(labels) => {
            let b = LogisticProblem::builder(x, labels).lambda(lambda);
            let b = weights.fold(b.intercept(intercept), |b, w| b.weights(w));
            b.build().map(Problem::Logistic)
        }
    }
}

/// All targets `y` of the data, with one λ for all or one per target.
fn multi_problem<'a>(
    data: &'a Loaded,
    y: &'a Mat<f64>,
    args: &CommonArgs,
) -> Result<MultiRidgeProblem<'a>, Error> {
    let (k, l) = (y.ncols(), args.lambda.len());
    if l != 1 && l != k {
        return Err(Error::InvalidParameter {
            name: "lambda",
            value: format!("{l} values for {k} targets"),
            expected: format!("one λ for all targets or {k}, one per target, in target order"),
        });
    }
    let mut b =
        MultiRidgeProblem::builder(data.x.as_ref(), y.as_ref()).intercept(!args.no_intercept);
    b = match args.lambda.as_slice() {
        [one] => b.lambda(*one),
        many => b.lambdas(many),
    };
    if let Some(w) = &data.weights {
        b = b.weights(w.as_ref());
    }
    b.build()
}

/// The solver options of the command line; `default_time_limit` applies when no budget was given.
fn options(args: &CommonArgs, default_time_limit: Option<f64>) -> Result<SolverOptions, Error> {
    let mut opts = SolverOptions {
        tol: args.tol,
        max_iter: args.max_iter,
        time_limit: args.time_limit.or(default_time_limit),
        step: args.step,
        seed: Some(args.seed),
        // Recording costs a little time (excluded from the timings), so only when asked.
        record_every: args.record_every(),
        ..SolverOptions::default()
    };
    for option in &args.options {
        let Some((name, value)) = option.split_once('=') else {
            return Err(Error::invalid(
                "option",
                args::bounded(option),
                "NAME=VALUE, e.g. --option memory=5",
            ));
        };
        opts.set(name.trim(), value)?;
    }
    Ok(opts)
}

/// Builds `name` from the command line's options, refusing one it does not use. `--seed` also
/// seeds the built-in problem (and has a default), so it only counts as given to the backends
/// that sample; `--history` turns recording on, which a direct backend has nothing for (reported
/// when the history is written).
fn build_backend(name: &str, opts: &SolverOptions) -> Result<Box<dyn Solver>, Error> {
    let registry = solvers::Registry::builtin();
    let info = registry.get(name)?;
    info.build_checked(&applicable_options(info, opts))
}

/// The command line's options for one backend: `--seed` (which also seeds the built-in
/// problem, and has a default) only for those that sample, and recording only for those that
/// iterate; every option the user gave stays, so one the backend does not use is refused.
fn applicable_options(info: &solvers::SolverInfo, opts: &SolverOptions) -> SolverOptions {
    let mut opts = opts.clone();
    if !info.options.contains("seed") {
        opts.seed = None;
    }
    if !info.options.contains("record_every") {
        opts.record_every = 0;
    }
    opts
}

/// Builds each of `names` with the options it takes (one set of options is meant for several
/// backends), refusing an option the user gave that none of them takes (`defaulted` names the
/// options the front end set itself, such as `compare`'s default time limit, and `--seed`).
fn build_backends(
    names: &[String],
    opts: &SolverOptions,
    defaulted: &[&str],
) -> Result<Vec<Box<dyn Solver>>, Error> {
    let registry = solvers::Registry::builtin();
    let infos = names
        .iter()
        .map(|n| registry.get(n))
        .collect::<Result<Vec<_>, _>>()?;
    for option in opts.given() {
        let users = option != "seed" && !defaulted.contains(&option);
        if users && !infos.iter().any(|i| i.options.contains(option)) {
            return Err(Error::invalid(
                option,
                format!("given to {}", names.join(", ")),
                "an option one of the compared backends uses (see `tikhonov fit --help`)",
            ));
        }
    }
    infos.iter().map(|i| i.build_applicable(opts)).collect()
}

/// The backends that take a fixed step (`--step`).
fn takes_step(name: &str) -> bool {
    solvers::Registry::builtin()
        .get(name)
        .is_ok_and(|info| info.options.contains("step"))
}

/// `e` with what the front end knows: λ (a singular system at λ > 0 is a scaling problem) and
/// whether the user fixed the step of this backend.
fn in_context(e: Error, name: &str, lambda: f64, step: Option<f64>) -> Error {
    e.in_context(lambda)
        .with_step(step.filter(|_| takes_step(name)))
}

/// A warning for a fit that stopped on its budget.
fn unconverged_note(fit: &Fit, target: Option<&str>) -> Option<String> {
    (!fit.converged).then(|| {
        format!(
            "warning: {}{} did not converge (stopped after {} iterations, ‖∇J‖ = {:.3e}): its \
             answer is not the optimum; raise --max-iter or --time-limit, or loosen --tol",
            fit.solver,
            target.map(|t| format!(" (target {t})")).unwrap_or_default(),
            fit.iterations,
            fit.gradient_norm
        )
    })
}

/// Refuses, before any data are read, a backend that does not fit the loss (a usage error that
/// lists those that do).
fn check_loss(name: &str, loss: Loss) -> Result<(), Error> {
    let registry = solvers::Registry::builtin();
    let info = registry.get(name)?;
    if info.losses.contains(&loss.kind()) {
        Ok(())
    } else {
        Err(solvers::unsupported(name, loss.kind()))
    }
}

fn run_fit(args: &FitArgs, out: &mut Output) -> Result<(), Error> {
    if args.stream {
        return run_fit_stream(args, &args.solver, out);
    }
    if let Some(query) = &args.sql {
        return run_fit_sql(args, query, out);
    }
    if let Some(path) = args.common.data.as_deref().filter(|p| is_parquet(p)) {
        // A Parquet file is read by DataFusion, in one parallel pass into the statistics.
        if args.common.weights.is_some() {
            return Err(Error::invalid(
                "weights",
                "a .npy file with a Parquet --data",
                "the weights as a column of the Parquet file: --sql \"SELECT * FROM 'F.parquet'\" \
                 --target y --weight-column w",
            ));
        }
        let query = format!(
            "SELECT * FROM '{}'",
            path.display().to_string().replace('\'', "''")
        );
        return run_fit_sql(args, &query, out);
    }
    if let Some(solver) = stream_instead(args, out)? {
        return run_fit_stream(args, &solver, out);
    }
    let common = &args.common;
    let opts = options(common, None)?;
    let solver = build_backend(&args.solver, &opts)?;
    check_loss(&args.solver, common.loss)?;
    let history = history_target(common)?;
    let data = load(common)?;
    if let Targets::Values(y) = &data.targets
        && (y.ncols() > 1 || common.lambda.len() > 1)
    {
        return run_fit_targets(args, solver.as_ref(), &data, y, history.as_deref(), out);
    }
    let problem = problem(&data, common)?;
    let lambda = problem.data().lambda();
    compare::check_backend_memory(&args.solver, problem.data())?;
    let fit = problem
        .solve(solver.as_ref())
        .map_err(|e| in_context(e, &args.solver, lambda, common.step))?;
    out.notes.extend(unconverged_note(&fit, None));
    save_history(
        history.as_deref(),
        false,
        &history_rows([(None, &fit)]),
        out,
    )?;
    let s = &mut out.stdout;
    match common.format {
        Format::Json => {
            let _ = writeln!(s, "{}", fit_json(problem.data(), &fit));
        }
        Format::Table => {
            let _ = writeln!(s, "{}", data.description);
            let _ = writeln!(s, "lambda        {}", num(lambda));
            print_fit(s, &fit);
        }
    }
    Ok(())
}

/// Refuses `--loss logistic` with `--stream` (`why`: what the streamed mode does instead).
fn squared_loss_to_stream(loss: Loss, why: &str) -> Result<(), Error> {
    if loss == Loss::Logistic {
        return Err(Error::invalid(
            "loss",
            "logistic",
            format!("the squared loss with --stream: {why}; drop --stream or --loss logistic"),
        ));
    }
    Ok(())
}

/// Whether `fit` streams its files instead of loading them: when their size exceeds the memory
/// budget (`--memory-budget`, default half the available memory) and the backend streams
/// (`auto` streams as `cholesky-refined`); the backend to stream with, and a note saying why.
/// A backend that cannot stream, the logistic loss and the built-in problem load as usual.
fn stream_instead(args: &FitArgs, out: &mut Output) -> Result<Option<String>, Error> {
    let common = &args.common;
    let files: Vec<&Path> = [&common.data, &common.x, &common.y, &common.weights]
        .into_iter()
        .flatten()
        .map(PathBuf::as_path)
        .collect();
    if files.is_empty() || common.loss != Loss::Squared {
        return Ok(None);
    }
    let size: u64 = files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let (budget, why) = match args.memory_budget {
        Some(b) => (b, "--memory-budget"),
        None => match data::available_memory() {
            Some(a) => (
                a / 2,
                "half the available memory; --memory-budget to change it",
            ),
            None => return Ok(None),
        },
    };
    if size <= budget {
        return Ok(None);
    }
    let solver = if args.solver == "auto" {
        "cholesky-refined"
    } else {
        args.solver.as_str()
    };
    let sizes = format!(
        "the data files ({}) exceed the memory budget ({}, {why})",
        tikhonov::error::bytes(size),
        tikhonov::error::bytes(budget)
    );
    if stream::check_backend(solver).is_err() {
        out.notes.push(format!(
            "note: {sizes}, but `{solver}` cannot stream: loading them (--solver cholesky, qr \
             or another streaming backend would stream)"
        ));
        return Ok(None);
    }
    out.notes.push(format!(
        "note: {sizes}: streamed with `{solver}`{} instead of loading them",
        if args.solver == "auto" {
            " (auto's choice when streaming)"
        } else {
            ""
        }
    ));
    Ok(Some(solver.to_string()))
}

/// `fit --stream`: the files read in row blocks into merged statistics and, for `qr` and `svd`,
/// the triangle R of the centred rows (`tikhonov::stream`), never loading X, then solved from
/// them; the refined backends read the files again once per round of corrections, and `cg`,
/// `pcg` and `gd` once per iteration (their steps go to `--history`).
fn run_fit_stream(args: &FitArgs, solver: &str, out: &mut Output) -> Result<(), Error> {
    let common = &args.common;
    squared_loss_to_stream(
        common.loss,
        "a streamed fit solves ridge from the sufficient statistics, while the logistic loss \
         needs X at every Newton step",
    )?;
    // Refused before any file is read: a backend that cannot stream, an option it does not take.
    stream::check_backend(solver)?;
    let opts = applicable_options(
        solvers::Registry::builtin().get(solver)?,
        &options(common, None)?,
    );
    build_backend(solver, &opts)?;
    let history = history_target(common)?;
    let (mut reader, description) = stream_reader(common, args.block_rows, args.page_cache)?;
    let streamed = stream::fit_with(
        &mut reader,
        solver,
        &opts,
        &common.lambda,
        !common.no_intercept,
    )?;
    let stats = streamed.stats;
    let fits = &streamed.fits;
    // The iterative backends (`cg`, `pcg`, `gd`) record their steps; the direct ones have none.
    let multi = fits.len() > 1;
    let names = reader.target_names();
    for (fit, name) in fits.iter().zip(names) {
        out.notes
            .extend(unconverged_note(fit, multi.then_some(name.as_str())));
    }
    let rows = history_rows(
        fits.iter()
            .zip(names)
            .map(|(f, name)| (multi.then_some(name.as_str()), f)),
    );
    save_history(history.as_deref(), multi, &rows, out)?;
    let mut extra = json!({ "streamed": true, "stream": stream_json(&stats) });
    extra["stream"]["read_seconds"] = json!(streamed.read_seconds);
    let mut footer = format!(
        "streamed      {} blocks of ≤ {} rows, {} rows, {} bytes read in {:.3} s",
        stats.blocks, stats.block_rows, stats.rows, stats.bytes, streamed.read_seconds
    );
    if stats.passes > 1 {
        let why = if fits.iter().any(|f| f.iterations > 0) {
            "one per iteration of the iterative backend, plus its set-up passes"
        } else {
            "1 + the rounds of refinement"
        };
        footer += &format!(
            "\npasses        {} over the files ({why}; blocks and bytes count them all, the time \
             is the first pass's)",
            stats.passes
        );
    }
    if stats.released_passes > 0 {
        footer += &format!(
            "\npage cache    X's pages handed back to the kernel as read, in {} of {} passes (the \
             file was not cached; --page-cache keep leaves them)",
            stats.released_passes, stats.passes
        );
    }
    let shape = (stats.rows, reader.n_features());
    write_moment_fits(
        out,
        common.format,
        &streamed.fits,
        names,
        shape,
        &description,
        extra,
        &footer,
    );
    Ok(())
}

/// Writes the fits of a run solved from merged statistics (`--stream`, `--sql`): one fit's
/// JSON, or the per-target arrays, with `extra`'s keys added; or the table, `description` first
/// and `footer` last. `shape` is (n, d).
#[allow(clippy::too_many_arguments)]
fn write_moment_fits(
    out: &mut Output,
    format: Format,
    fits: &[Fit],
    names: &[String],
    (n, d): (usize, usize),
    description: &str,
    extra: Value,
    footer: &str,
) {
    let s = &mut out.stdout;
    match format {
        Format::Json => {
            let each: Vec<Value> = fits.iter().map(|f| fit_json_sized(f, n, d)).collect();
            let mut v = match each.as_slice() {
                [one] => one.clone(),
                _ => {
                    let mut v = json!({
                        "n_samples": n,
                        "n_features": d,
                        "n_targets": fits.len(),
                    });
                    for key in PER_FIT_KEYS {
                        v[key] = each.iter().map(|e| e[key].clone()).collect();
                    }
                    v
                }
            };
            if let Value::Object(extra) = extra {
                for (key, value) in extra {
                    v[key] = value;
                }
            }
            let _ = writeln!(s, "{v}");
        }
        Format::Table => {
            let _ = writeln!(s, "{description}");
            if let [fit] = fits {
                let _ = writeln!(s, "lambda        {}", num(fit.lambda));
                print_fit(s, fit);
            } else {
                for (t, fit) in fits.iter().enumerate() {
                    let name = tikhonov::error::quote_text(&names[t], 60);
                    let _ = writeln!(s, "\ntarget {t} (`{name}`) (λ = {})", num(fit.lambda));
                    print_fit(s, fit);
                }
            }
            let _ = writeln!(s, "{footer}");
        }
    }
}

/// `fit --sql`: the query's rows aggregated by DataFusion into merged statistics
/// (`tikhonov::datafusion::fit_query`), then solved by a backend that needs only them.
fn run_fit_sql(args: &FitArgs, query: &str, out: &mut Output) -> Result<(), Error> {
    let common = &args.common;
    squared_loss_to_stream(
        common.loss,
        "a fit from a query solves ridge from the sufficient statistics, while the logistic loss \
         needs X at every Newton step",
    )?;
    // `auto`, the default, picks among backends that read X; from statistics alone the choice
    // is the equilibrated Cholesky solve.
    let auto = args.solver == "auto";
    let solver = if auto { "cholesky" } else { &args.solver };
    stream::check_moments_backend(solver)?;
    build_backend(solver, &options(common, None)?)?;
    let history = history_target(common)?;
    sql::fit(args, query, solver, out)?;
    if auto {
        out.notes.push(
            "note: --sql solves from the aggregated statistics, so `auto` ran `cholesky`".into(),
        );
    }
    save_history(history.as_deref(), false, &[], out)
}

/// The JSON of what a streamed run read: `blocks`, `rows`, `bytes`, `block_rows`, `passes`,
/// `released_passes`.
fn stream_json(stats: &stream::StreamStats) -> Value {
    json!({
        "blocks": stats.blocks,
        "rows": stats.rows,
        "bytes": stats.bytes,
        "block_rows": stats.block_rows,
        "passes": stats.passes,
        "released_passes": stats.released_passes,
    })
}

/// The block reader of `--stream` over the command line's files (CSV with its targets, or the
/// .npy pair; the weights), and the data's description. Only headers are read here.
fn stream_reader(
    common: &CommonArgs,
    block_rows: Option<u64>,
    page_cache: args::PageCacheMode,
) -> Result<(BlockReader, String), Error> {
    let (mut reader, description) = if let Some(path) = &common.data {
        let targets: Vec<&str> = common.target.iter().map(String::as_str).collect();
        let desc = format!("{} (target `{}`)", path.display(), targets.join("`, `"));
        (BlockReader::csv(path, &targets)?, desc)
    } else if let (Some(xp), Some(yp)) = (&common.x, &common.y) {
        let desc = format!("{} / {}", xp.display(), yp.display());
        (BlockReader::npy(xp, yp)?, desc)
    } else {
        return Err(Error::invalid(
            "stream",
            "the built-in problem",
            "data files with --stream: --x X.npy --y y.npy, or --data FILE.csv --target COL",
        ));
    };
    if let Some(w) = &common.weights {
        reader = reader.weights(w)?;
    }
    if let Some(rows) = block_rows {
        reader = reader.block_rows(usize::try_from(rows).unwrap_or(usize::MAX));
    }
    reader = reader.page_cache(page_cache.mode());
    Ok((reader, args::bounded(&description)))
}

/// `` `no` → −1, `yes` → +1 ``: which label is which class of a logistic model.
fn label_mapping([negative, positive]: &[String; 2]) -> String {
    let q = |label: &str| tikhonov::error::quote_text(label, 40);
    format!("`{}` → −1, `{}` → +1", q(negative), q(positive))
}

fn print_fit(s: &mut String, fit: &Fit) {
    // Writing to a String cannot fail.
    let _ = writeln!(s, "solver        {}", fit.solver);
    if fit.loss != LossKind::Squared {
        let _ = writeln!(s, "loss          {}", fit.loss.name());
    }
    if let Some(labels) = &fit.labels {
        let _ = writeln!(s, "labels        {}", label_mapping(labels));
    }
    let _ = writeln!(s, "intercept     {:.12e}", fit.intercept);
    for (j, c) in fit.coef.iter().enumerate() {
        let _ = writeln!(s, "coef[{j:>3}]     {c:.12e}");
    }
    let _ = writeln!(s, "objective     {:.12e}", fit.objective);
    let _ = writeln!(s, "‖∇J‖          {:.3e}", fit.gradient_norm);
    let _ = writeln!(s, "iterations    {}", fit.iterations);
    let _ = writeln!(s, "converged     {}", fit.converged);
    let _ = writeln!(s, "fit seconds   {:.6}", fit.fit_seconds);
    if let Some(k) = fit.condition_estimate {
        let _ = writeln!(
            s,
            "condition     {k:.3e} (estimate, of the matrix factored)"
        );
    }
}

/// `fit` with k targets: one call to `solve_targets`, so direct backends factor once per λ.
fn run_fit_targets(
    args: &FitArgs,
    solver: &dyn Solver,
    data: &Loaded,
    y: &Mat<f64>,
    history: Option<&Path>,
    out: &mut Output,
) -> Result<(), Error> {
    let common = &args.common;
    let multi = multi_problem(data, y, common)?;
    compare::check_backend_memory(&args.solver, &multi.target(0))?;
    let fits = match solver.solve_targets(&multi) {
        Ok(fits) => fits,
        Err(e) => return Err(which_target(e, args, solver, &multi, data)),
    };
    for (t, fit) in fits.iter().enumerate() {
        out.notes
            .extend(unconverged_note(fit, Some(&target_label(data, t))));
    }
    let rows = history_rows(
        fits.iter()
            .enumerate()
            .map(|(t, f)| (Some(data.target_names[t].as_str()), f)),
    );
    save_history(history, true, &rows, out)?;
    let s = &mut out.stdout;
    match common.format {
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
            let _ = writeln!(s, "{v}");
        }
        Format::Table => {
            let _ = writeln!(s, "{}", data.description);
            for (t, fit) in fits.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "\ntarget {} (λ = {})",
                    target_label(data, t),
                    num(multi.lambda(t))
                );
                print_fit(s, fit);
            }
        }
    }
    Ok(())
}

/// `0 (`price`)`: a target's index and name for messages.
fn target_label(data: &Loaded, t: usize) -> String {
    format!(
        "{t} (`{}`)",
        tikhonov::error::quote_text(&data.target_names[t], 60)
    )
}

/// The error of a multi-target solve, naming the target it belongs to: the targets are solved
/// one by one (only on this error path) until one fails the same way.
fn which_target(
    e: Error,
    args: &FitArgs,
    solver: &dyn Solver,
    multi: &MultiRidgeProblem<'_>,
    data: &Loaded,
) -> Error {
    for t in 0..multi.n_targets() {
        let problem = multi.target(t);
        if let Err(err) = solver.solve(&problem) {
            return Error::Target {
                index: t,
                name: tikhonov::error::quote_text(&data.target_names[t], 60),
                source: Box::new(in_context(
                    err,
                    &args.solver,
                    problem.lambda(),
                    args.common.step,
                )),
            };
        }
    }
    e
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

/// The primal backends that factor a d × d matrix, skipped by default on wide data.
const D_BY_D: [&str; 5] = ["qr", "qr-refined", "cholesky", "cholesky-refined", "normal"];

/// Wide data, where a d × d factorisation costs O(d³) for what the dual does in O(n²·d): d > n,
/// d ≥ 2000, and λ > 0 (the dual needs it).
fn is_wide(problem: &RidgeProblem<'_>) -> bool {
    let (n, d) = (problem.n_samples(), problem.n_features());
    d > n && d >= 2000 && problem.lambda() > 0.0
}

/// The backends a comparison runs: the list given (`all` expanded, repeats dropped) or every
/// backend that fits the loss and suits the data's shape (with a note naming those left out on
/// wide data).
///
/// A backend named in the list that does not fit the loss is run all the same, and its row shows
/// its `UnsupportedLoss` error, which names the backends that do: a comparison reports refusals
/// as results (as it does a backend skipped for memory), and so `all` keeps meaning every backend.
fn comparison_names(args: &CompareArgs, problem: &Problem<'_>, out: &mut Output) -> Vec<String> {
    let loss = problem.loss();
    let problem = problem.data();
    let mut names: Vec<String> = Vec::new();
    match &args.solvers {
        Some(list) => {
            for name in list {
                if name == "all" {
                    names.extend(solvers::names().map(String::from));
                } else {
                    names.push(name.clone());
                }
            }
        }
        None => {
            let wide = is_wide(problem);
            names.extend(
                solvers::REGISTRY
                    .iter()
                    .filter(|info| info.losses.contains(&loss))
                    .map(|info| info.name)
                    .filter(|&name| name != "dual" || problem.n_features() > problem.n_samples())
                    .filter(|name| !(wide && D_BY_D.contains(name)))
                    .map(String::from),
            );
            if wide {
                let d = problem.n_features() as f64;
                out.notes.push(format!(
                    "note: left out {} on wide data (d = {} > n = {}): each factors a d × d \
                     matrix (≈ {:.1e} flops) where `dual` needs O(n²·d); name them in --solvers \
                     to run them anyway",
                    D_BY_D.join(", "),
                    problem.n_features(),
                    problem.n_samples(),
                    d * d * d / 3.0
                ));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

fn run_compare(args: &CompareArgs, out: &mut Output) -> Result<(), Error> {
    let common = &args.common;
    let default_limit =
        (common.time_limit.is_none() && common.max_iter.is_none()).then_some(COMPARE_TIME_LIMIT);
    let opts = options(common, default_limit)?;
    if let Some(name) = &args.reference {
        // An unknown name, or one that does not fit the loss, is a usage error before any data
        // are read.
        check_loss(name, common.loss)?;
    }
    let history = history_target(common)?;
    let data = load(common)?;
    let problem = problem(&data, common)?;
    let lambda = problem.data().lambda();
    let reference_name = match &args.reference {
        Some(name) => name.clone(),
        // The logistic reference: it converges quadratically to the tolerance (1e-10).
        None if problem.loss() == LossKind::Logistic => "newton".into(),
        None if is_wide(problem.data()) => "dual".into(),
        // The exact solution of the f64 data, so that a reference's own rounding (κ·ε for `qr`)
        // is not charged to the backends measured against it.
        None => "qr-refined".into(),
    };
    let reference = solvers::Registry::builtin()
        .get(&reference_name)?
        .build_applicable(&opts)?;
    let names = comparison_names(args, &problem, out);
    // `--history` turns recording on for every backend; one that records nothing is reported
    // when the history is written.
    let defaulted: &[&str] = if default_limit.is_some() {
        &["time_limit", "record_every"]
    } else {
        &["record_every"]
    };
    let list = build_backends(&names, &opts, defaulted)?;
    let mut comparison = problem
        .compare(reference.as_ref(), &list)
        .map_err(|e| in_context(e, &reference_name, lambda, common.step))?;
    comparison.entries = std::mem::take(&mut comparison.entries)
        .into_iter()
        .map(|compare::Entry { solver, outcome }| {
            let outcome = outcome.map_err(|e| in_context(e, &solver, lambda, common.step));
            compare::Entry { solver, outcome }
        })
        .collect();
    for (name, message) in &comparison.reference_failures {
        out.notes.push(format!(
            "note: the reference `{name}` failed ({}); `{}` served as the reference instead",
            tikhonov::error::quote_text(message, 300),
            comparison.reference.solver
        ));
    }
    for e in &comparison.entries {
        if let Ok(m) = &e.outcome {
            out.notes.extend(unconverged_note(&m.fit, None));
        }
    }
    let rows = history_rows(
        comparison
            .entries
            .iter()
            .filter_map(|e| e.outcome.as_ref().ok())
            .map(|m| (None, &m.fit)),
    );
    save_history(history.as_deref(), false, &rows, out)?;
    match common.format {
        Format::Json => {
            let _ = writeln!(
                out.stdout,
                "{}",
                compare_json(
                    problem.data(),
                    &comparison,
                    opts.time_limit,
                    default_limit.is_some()
                )
            );
        }
        Format::Table => print_table(
            &mut out.stdout,
            &data.description,
            problem.data(),
            &comparison,
            opts.time_limit,
            default_limit.is_some(),
        ),
    }
    Ok(())
}

/// The JSON of one fit: [`Fit`]'s own serialisation (its keys are the contract, see
/// src/fit.rs) with the data's shape, without the history (written to `--history` instead).
#[derive(serde::Serialize)]
struct FitOutput<'f> {
    #[serde(flatten)]
    fit: &'f Fit,
    n_samples: usize,
    n_features: usize,
}

fn fit_json(problem: &RidgeProblem<'_>, fit: &Fit) -> Value {
    fit_json_sized(fit, problem.n_samples(), problem.n_features())
}

/// A fit's JSON object with the shape of its data.
fn fit_json_sized(fit: &Fit, n_samples: usize, n_features: usize) -> Value {
    let without_history = Fit {
        history: Vec::new(),
        ..fit.clone()
    };
    let output = FitOutput {
        fit: &without_history,
        n_samples,
        n_features,
    };
    // Serialising plain numbers, strings and vectors to a `Value` cannot fail.
    serde_json::to_value(output).expect("a Fit serialises to JSON")
}

fn compare_json(
    problem: &RidgeProblem<'_>,
    c: &Comparison,
    time_limit: Option<f64>,
    default_limit: bool,
) -> Value {
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
            Err(err) => json!({ "solver": e.solver, "error": args::bounded(&err.to_string()) }),
        })
        .collect();
    let failures: Vec<Value> = c
        .reference_failures
        .iter()
        .map(|(name, message)| json!({ "solver": name, "error": args::bounded(message) }))
        .collect();
    json!({
        "loss": c.reference.loss.name(),
        "reference": c.reference.solver,
        "reference_failures": failures,
        "time_limit": time_limit,
        "time_limit_is_default": default_limit,
        "results": results,
    })
}

fn print_table(
    s: &mut String,
    description: &str,
    problem: &RidgeProblem<'_>,
    c: &Comparison,
    time_limit: Option<f64>,
    default_limit: bool,
) {
    // The name a row shows: what ran (`auto:qr-refined`, as in the JSON), else the backend.
    let label = |e: &compare::Entry| match &e.outcome {
        Ok(m) => m.fit.solver.clone(),
        Err(_) => e.solver.clone(),
    };
    let w = c
        .entries
        .iter()
        .map(|e| label(e).chars().count())
        .max()
        .unwrap_or(0)
        .max(6);
    // Writing to a String cannot fail.
    let _ = writeln!(s, "{description}");
    if let Some(labels) = &c.reference.labels {
        let _ = writeln!(
            s,
            "{} loss, labels {}",
            c.reference.loss.name(),
            label_mapping(labels)
        );
    }
    let _ = writeln!(
        s,
        "λ = {}, intercept {}, reference: {} (objective {:.12e})",
        num(problem.lambda()),
        if problem.fit_intercept() { "on" } else { "off" },
        c.reference.solver,
        c.reference.objective
    );
    if !c.reference_failures.is_empty() {
        let failed: Vec<&str> = c
            .reference_failures
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        let _ = writeln!(
            s,
            "(reference {} failed, see the notes on stderr; {} served instead)",
            failed.join(", "),
            c.reference.solver
        );
    }
    match time_limit {
        Some(t) if default_limit => {
            let _ = writeln!(
                s,
                "iterative backends: time limit {t} s each (compare's default; set --time-limit \
                 or --max-iter to change it)"
            );
        }
        Some(t) => {
            let _ = writeln!(s, "iterative backends: time limit {t} s each");
        }
        None => {}
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<w$} {:>10} {:>7} {:>8} {:>9} {:>11} {:>10} {:>11}",
        "solver", "time (s)", "iters", "passes", "converged", "obj. gap", "‖∇J‖", "rel. error"
    );
    for e in &c.entries {
        let name = label(e);
        let _ = match &e.outcome {
            Ok(m) => writeln!(
                s,
                "{:<w$} {:>10.4} {:>7} {:>8.1} {:>9} {:>11.3e} {:>10.3e} {:>11.3e}",
                name,
                m.fit.fit_seconds,
                m.fit.iterations,
                m.fit.passes,
                if m.fit.converged { "yes" } else { "no" },
                m.objective_gap,
                m.fit.gradient_norm,
                m.coef_rel_error
            ),
            Err(err) => writeln!(s, "{name:<w$} failed: {}", args::bounded(&err.to_string())),
        };
    }
}

/// Reads a model written by `tikhonov fit --format json` (a [`Fit`], whose [`Model`] keys are
/// flattened into it; the diagnostics are ignored). Every failure is a [`Error::Format`] that
/// says what the file should be.
fn read_model(path: &Path) -> Result<Model, Error> {
    const WHAT: &str = "--model takes the JSON that `tikhonov fit --format json` prints, saved \
                        to a file (`tikhonov fit … --format json > model.json`)";
    let refuse = |message: String| Error::Format {
        path: path.to_owned(),
        location: None,
        message: format!("{message}; {WHAT}"),
    };
    let file =
        std::fs::File::open(path).map_err(|e| refuse(format!("cannot read the model ({e})")))?;
    let value: Value = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| refuse(format!("not a JSON document ({e})")))?;
    if !value.is_object() {
        return Err(refuse("not a JSON object".into()));
    }
    if value.get("results").is_some() {
        return Err(refuse(
            "this is the output of `compare` (a list of fits), not one model".into(),
        ));
    }
    if value.get("n_targets").is_some() || value["coef"].get(0).is_some_and(Value::is_array) {
        return Err(refuse(
            "a fit of several targets (`coef` holds one array per target), not one model; fit \
             the target to predict alone (--target COL, or a 1-D --y)"
                .into(),
        ));
    }
    serde_json::from_value(value).map_err(|e| refuse(format!("not a tikhonov model ({e})")))
}

/// One output column of `predict`.
enum Column {
    Numbers(Col<f64>),
    Text(Vec<String>),
}

impl Column {
    fn json(&self) -> Value {
        match self {
            Column::Numbers(v) => v.iter().copied().collect(),
            Column::Text(v) => json!(v),
        }
    }

    /// Row `i` as text: numbers as [`num`] writes them (every digit), labels as they are.
    fn cell(&self, i: usize) -> String {
        match self {
            Column::Numbers(v) => num(v[i]),
            Column::Text(v) => v[i].clone(),
        }
    }
}

fn run_predict(args: &PredictArgs, out: &mut Output) -> Result<(), Error> {
    let model = read_model(&args.model)?;
    let (x, source) = match (&args.x, &args.data) {
        (Some(path), _) => (data::read_npy_matrix(path)?, path.display().to_string()),
        (None, Some(path)) => {
            let targets: Vec<&str> = args.target.iter().map(String::as_str).collect();
            let ds = data::read_csv_text(path, &targets)?;
            (ds.x, path.display().to_string())
        }
        // clap requires one of --x and --data.
        (None, None) => unreachable!("clap requires --x or --data"),
    };
    let xr = x.as_ref();
    let columns: Vec<(&str, Column)> = match model.loss {
        LossKind::Squared => vec![("prediction", Column::Numbers(model.predict(xr)?))],
        LossKind::Logistic => vec![
            ("decision", Column::Numbers(model.predict(xr)?)),
            ("probability", Column::Numbers(model.predict_proba(xr)?)),
            ("class", Column::Text(model.predict_classes(xr)?)),
        ],
    };
    let n = x.nrows();
    let s = &mut out.stdout;
    match args.format {
        PredictFormat::Json => {
            let mut v = json!({ "n_samples": n, "loss": model.loss.name() });
            if let Some(labels) = &model.labels {
                v["labels"] = json!(labels);
            }
            for (name, column) in &columns {
                v[*name] = column.json();
            }
            let _ = writeln!(s, "{v}");
        }
        PredictFormat::Csv => {
            // Writing CSV records of strings into memory cannot fail.
            const IN_MEMORY: &str = "CSV is written to memory";
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(columns.iter().map(|(name, _)| name))
                .expect(IN_MEMORY);
            for i in 0..n {
                w.write_record(columns.iter().map(|(_, c)| c.cell(i)))
                    .expect(IN_MEMORY);
            }
            let text = w.into_inner().expect(IN_MEMORY);
            s.push_str(&String::from_utf8_lossy(&text));
        }
        PredictFormat::Table => {
            let _ = writeln!(
                s,
                "model {} ({} loss, d = {}{}) on {source}: {n} rows",
                args.model.display(),
                model.loss.name(),
                model.n_features(),
                model
                    .labels
                    .as_ref()
                    .map(|l| format!(", labels {}", label_mapping(l)))
                    .unwrap_or_default()
            );
            // Labels with control characters escaped, so that a row stays one line.
            let cells: Vec<Vec<String>> = columns
                .iter()
                .map(|(_, c)| {
                    (0..n)
                        .map(|i| tikhonov::error::quote_text(&c.cell(i), 40))
                        .collect()
                })
                .collect();
            let widths: Vec<usize> = columns
                .iter()
                .zip(&cells)
                .map(|((name, _), col)| {
                    col.iter()
                        .map(|c| c.chars().count())
                        .chain([name.chars().count()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let rw = n.saturating_sub(1).to_string().len().max(3);
            let _ = write!(s, "{:>rw$}", "row");
            for ((name, _), w) in columns.iter().zip(&widths) {
                let _ = write!(s, "  {name:>w$}");
            }
            let _ = writeln!(s);
            for i in 0..n {
                let _ = write!(s, "{i:>rw$}");
                for (col, w) in cells.iter().zip(&widths) {
                    let _ = write!(s, "  {:>w$}", col[i]);
                }
                let _ = writeln!(s);
            }
        }
    }
    Ok(())
}
