//! The command-line grammar of `tikhonov` (clap derive) and its one-line usage errors.
//!
//! Kept apart from `src/bin/tikhonov.rs` (which includes it with `#[path]`) so that
//! `tests/fuzz_cli.rs` can fuzz the parser in-process. Nothing here reads files or runs solvers.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use tikhonov::LossKind;
use tikhonov::error::quote_text;

/// The registered backend names, for `--help` (`tests/adversarial.rs` checks that it lists
/// every name of `tikhonov::solvers::names`).
pub const BACKENDS: &str = "auto, qr, qr-refined, svd, dual, cholesky, cholesky-refined, normal, \
                            newton, gd, agd, cg, pcg, sketch-cg, lbfgs, cd, sgd, sag, saga, svrg";

/// `compare`'s wall-time budget per iterative backend when neither `--time-limit` nor
/// `--max-iter` is given, so that a default comparison finishes in seconds.
pub const COMPARE_TIME_LIMIT: f64 = 2.0;

/// Longest error line printed (characters); longer messages are cut with "…".
pub const MAX_MESSAGE_CHARS: usize = 600;

/// Compare L2-regularised regression solvers (ridge, or logistic with --loss logistic), fit one,
/// or predict with a fitted model.
///
/// Without a subcommand, runs `compare` (on a built-in synthetic problem unless data are given).
#[derive(Parser, Debug)]
#[command(name = "tikhonov", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub compare: CompareArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run several solvers on one problem against a reference and tabulate how they agree.
    Compare(CompareArgs),
    /// Fit with one solver and print the model.
    Fit(FitArgs),
    /// Apply a model saved from `tikhonov fit --format json` to new data.
    Predict(PredictArgs),
    /// Fit a grid of λ (a regularisation path) with one backend.
    Path(PathArgs),
    /// Choose λ: k-fold cross-validation, exact leave-one-out, or GCV.
    Cv(CvArgs),
    /// Benchmark a suite of problems × backends × repeats: convergence curves against the exact
    /// optimum, fitted scaling laws, plots and a report.
    Bench(BenchArgs),
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// The suite, TOML or JSON (`.json`): groups of problems (synthetic grids over n, d, kappa
    /// and lambda; NIST StRD datasets; a CSV file) with their backends. Relative paths in it
    /// start at its folder; benches/suites/small.toml is an example [default: the built-in
    /// suite, benches/suites/default.toml, a few minutes on 2 cores].
    #[arg(long, value_name = "FILE.toml|FILE.json")]
    pub suite: Option<PathBuf>,
    /// The folder for results.csv (one row per recorded step), meta.json, scaling.csv,
    /// index.md and plots/ (created if missing; those files are overwritten).
    #[arg(long, default_value = "bench-results", value_name = "DIR")]
    pub out: PathBuf,
    /// No progress bar (it is drawn only when stderr is a terminal anyway).
    #[arg(long)]
    pub quiet: bool,
    /// Runs of every (problem, backend), instead of the suite's `repeats`.
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub repeats: Option<u64>,
    /// Write every problem of the suite to DIR instead of running it: DIR/<dataset>/X.npy,
    /// y.npy (targets, or the labels as −1/+1), w_star.npy and problem.json (λ, the intercept
    /// flag, the exact optimum's J* and b*), for another tool to run the same problems
    /// (scripts/bench_sklearn.py).
    #[arg(long, value_name = "DIR", conflicts_with = "compare")]
    pub write_data: Option<PathBuf>,
    /// Overlay another tool's curves, dashed, in the suboptimality plots and add its backends
    /// to the report's tables: a CSV with results.csv's columns (scripts/bench_sklearn.py writes
    /// one), matched to the suite's problems by dataset_name.
    #[arg(long, value_name = "FILE.csv")]
    pub compare: Option<PathBuf>,
}

/// The λ grid of `path` and `cv`.
#[derive(Args, Debug)]
pub struct GridArgs {
    /// The grid, comma-separated (any order; the output keeps it) [default: --n-lambdas values
    /// spaced evenly in log λ, decreasing, from where the effective degrees of freedom
    /// df(λ) = Σ σⱼ²/(σⱼ² + S·λ) are 1 % of the rank to where they are 99 %; for --loss logistic
    /// the same grid divided by 4, the logistic curvature's bound].
    #[arg(
        long,
        value_delimiter = ',',
        allow_hyphen_values = true,
        value_name = "L1,L2,…"
    )]
    pub lambdas: Option<Vec<f64>>,
    /// Size of the default grid.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub n_lambdas: u64,
    /// Draw the figure to this SVG file: the coefficient paths (`path`), or the error curve with
    /// ± one standard error and λ_min, λ_1se marked (`cv`).
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct PathArgs {
    /// The backend (`auto`, `svd` (one factorisation for the whole grid), a Gram backend (one
    /// Gram, one factorisation per λ), or an iterative one, warm-started from the previous λ).
    #[arg(long, default_value = "auto", value_name = "NAME")]
    pub solver: String,
    #[command(flatten)]
    pub grid: GridArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("method").required(true).args(["folds", "loo", "gcv"])))]
pub struct CvArgs {
    /// k-fold cross-validation with K folds (a seeded shuffle, --seed; or --fold-ids). Ridge:
    /// exact, from per-fold statistics in one pass over X; --loss logistic: a warm-started path
    /// per fold with --solver.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(2..))]
    pub folds: Option<u64>,
    /// The fold of each sample, instead of a shuffle: a text file with one integer per line, or a
    /// 1-D .npy of integers (as glmnet's foldid; ids are 0-based or 1-based, numbered densely).
    #[arg(long, value_name = "FILE", requires = "folds")]
    pub fold_ids: Option<PathBuf>,
    /// Exact leave-one-out for ridge, from one decomposition (each left-out fit keeps λ,
    /// normalised by its own weight S − sᵢ).
    #[arg(long)]
    pub loo: bool,
    /// With --loo: scikit-learn RidgeCV's convention instead (α = λ·S fixed for every left-out
    /// fit).
    #[arg(long, requires = "loo")]
    pub sklearn_alpha: bool,
    /// With --loo: also print the LOO residuals at λ_min.
    #[arg(long, requires = "loo")]
    pub loo_residuals: bool,
    /// Generalised cross-validation for ridge: GCV(λ) = (RSS/S)/(1 − df/S)².
    #[arg(long)]
    pub gcv: bool,
    /// The backend of each fold's path with --loss logistic (ridge k-fold, LOO and GCV are exact
    /// and need none).
    #[arg(long, default_value = "auto", value_name = "NAME")]
    pub solver: String,
    /// With --folds K (ridge): read the files once in row blocks into each fold's statistics,
    /// never loading X (as `fit --stream`). Rows go to folds by a hash of the row index seeded
    /// with --seed (not the in-memory shuffle), or by --fold-ids.
    #[arg(long, requires = "folds")]
    pub stream: bool,
    /// With --stream: rows per block [default: as `fit --stream`].
    #[arg(long, value_name = "ROWS", requires = "stream", value_parser = clap::value_parser!(u64).range(1..))]
    pub block_rows: Option<u64>,
    /// With --stream: whether the pages of the .npy files stay in the page cache once read
    /// (as `fit --page-cache`).
    #[arg(long, value_enum, default_value = "auto", value_name = "MODE")]
    pub page_cache: PageCacheMode,
    #[command(flatten)]
    pub grid: GridArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Comma-separated backend names, or `all`. Backends: auto, qr, qr-refined, svd, dual,
    /// cholesky, cholesky-refined, normal, newton, gd, agd, cg, pcg, sketch-cg, lbfgs, cd, sgd, sag, saga, svrg
    /// [default: every backend suited to the data's shape: all but `dual` when n > d, whose
    /// n × n kernel then costs O(n³) for nothing; on wide data (d > n, d ≥ 2000) at λ > 0 all but
    /// the backends that factor a d × d matrix (qr, qr-refined, cholesky, cholesky-refined,
    /// normal), whose O(d³) the dual avoids; with --loss logistic: auto, newton, gd, agd, lbfgs,
    /// sgd, sag, saga, svrg, the backends that fit it]. A backend named here that does not fit
    /// the loss shows that in its row.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub solvers: Option<Vec<String>>,
    /// The backend whose answer the others are measured against; if it fails, the next direct
    /// backend of --solvers takes its place (and the output says so) [default: qr-refined, the
    /// exact solution of the f64 data; dual for wide data (d > n, d ≥ 2000) at λ > 0, where a
    /// d × d factorisation would cost O(d³); newton with --loss logistic].
    #[arg(long, value_name = "NAME")]
    pub reference: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct FitArgs {
    /// The backend: auto, qr, qr-refined, svd, dual, cholesky, cholesky-refined, normal, newton, gd, agd,
    /// cg, pcg, sketch-cg, lbfgs, cd, sgd, sag, saga, svrg (`auto` picks a direct backend and the output
    /// names the one it ran). With --loss logistic: auto, newton, gd, agd, lbfgs, sgd, sag, saga,
    /// svrg (`auto` runs newton).
    #[arg(long, default_value = "auto", value_name = "NAME")]
    pub solver: String,
    /// Fit without loading X: read the files in row blocks straight into the sufficient
    /// statistics and, for qr and svd, the triangle R of the centred rows (one pass; memory
    /// bounded by the blocks, not by n) and solve from them. Streaming backends: cholesky,
    /// normal, qr, svd; cholesky-refined and qr-refined, which read the files again once per
    /// round of corrections; cg, pcg, sketch-cg and gd, which read them once per iteration and
    /// hold no d × d matrix (these two groups need regular files). Needs --x/--y (and
    /// --weights) or --data/--target; the output reports the blocks, bytes and passes read.
    #[arg(long)]
    pub stream: bool,
    /// With --stream: rows per block [default: as many as fit in 8 MiB for the two block
    /// buffers, 2·8·(d + k + 1) bytes a row, and at least 1024].
    #[arg(long, value_name = "ROWS", requires = "stream", value_parser = clap::value_parser!(u64).range(1..))]
    pub block_rows: Option<u64>,
    /// When the fit streams (--stream, or files over the memory budget): `auto` hands the
    /// pages of a .npy file that was not already cached back to the kernel as it is read
    /// (a single pass gains nothing from caching a file, and on virtual machines reading is
    /// then faster), unless the fit reads the file again and it fits in half the available
    /// memory; `keep` leaves them cached; `release` always hands them back. Linux only.
    #[arg(long, value_enum, default_value = "auto", value_name = "MODE")]
    pub page_cache: PageCacheMode,
    /// Fit the rows a SQL query returns (a binary built with the `datafusion` feature): the
    /// --target column(s) are the targets, every other column of the result a feature, and the
    /// statistics are aggregated by DataFusion in one parallel pass (`ridge_moments`), never
    /// holding the rows. Files can be named in the query (FROM 'data/*.parquet', FROM
    /// 'x.csv') or registered with --table. Backends: cholesky or normal.
    #[arg(long, value_name = "QUERY", conflicts_with_all = ["stream", "data", "x", "y", "weights"], requires = "target")]
    pub sql: Option<String>,
    /// With --sql: a table for the query, NAME=PATH, a Parquet or CSV file or a directory of
    /// them (by extension; repeatable).
    #[arg(long, value_name = "NAME=PATH", requires = "sql")]
    pub table: Vec<String>,
    /// With --sql: the column of the query's result holding the sample weights (≥ 0).
    #[arg(long, value_name = "COL", requires = "sql")]
    pub weight_column: Option<String>,
    /// Data files larger than this many bytes are streamed (as --stream) instead of loaded,
    /// when the backend streams (`auto` then runs `cholesky-refined`); the output says so
    /// [default: half the memory the system reports available].
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..))]
    pub memory_budget: Option<u64>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Args, Debug)]
pub struct CommonArgs {
    /// CSV file with a header row (use with --target).
    #[arg(long, value_name = "FILE.csv", conflicts_with_all = ["x", "y"], requires = "target")]
    pub data: Option<PathBuf>,
    /// Name of the target column in the CSV, or several (`--targets a,b,c`, `fit` only); every
    /// other column is a feature. With --loss logistic one column of any two labels: numbers
    /// (0/1, ordered by value) or text (`no`/`yes`, ordered by bytes); the second is the positive
    /// class.
    #[arg(
        long,
        visible_alias = "targets",
        value_name = "COL",
        value_delimiter = ','
    )]
    pub target: Vec<String>,
    /// Design matrix X as a 2-D float64 .npy file (use with --y).
    #[arg(long, value_name = "X.npy", requires = "y")]
    pub x: Option<PathBuf>,
    /// Targets y as a float64 .npy file: 1-D, or 2-D (n × k) for k targets (`fit` only); with
    /// --loss logistic, 1-D with two distinct values (0/1, −1/+1), the larger the positive class.
    #[arg(long, value_name = "y.npy", requires = "x")]
    pub y: Option<PathBuf>,
    /// Sample weights as a 1-D float64 .npy file.
    #[arg(long, value_name = "w.npy")]
    pub weights: Option<PathBuf>,
    /// Penalty λ of J = 1/(2S)·Σsᵢrᵢ² + (λ/2)‖w‖² (scikit-learn's Ridge alpha = λ·S); with
    /// several targets, one λ for all or a comma-separated list with one per target. With --loss
    /// logistic, J = (1/S)·Σsᵢ·log(1 + exp(−ỹᵢ(xᵢᵀw + b))) + (λ/2)‖w‖², ỹ = ±1 (scikit-learn's
    /// LogisticRegression C = 1/(λ·S)); separable classes need λ > 0.
    #[arg(
        long,
        default_value = "1e-3",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    pub lambda: Vec<f64>,
    /// The loss: squared (ridge regression) or logistic (two-class logistic regression; one
    /// target of two labels).
    #[arg(long, value_enum, default_value_t = Loss::Squared)]
    pub loss: Loss,
    /// Fit the model through the origin (no intercept).
    #[arg(long)]
    pub no_intercept: bool,
    /// Relative tolerance ‖∇J(w)‖ ≤ tol·‖∇J(w₀)‖ for iterative backends, in (0, 1)
    /// [default: 1e-8; 1e-4 for sgd].
    #[arg(long, allow_hyphen_values = true)]
    pub tol: Option<f64>,
    /// Iteration budget of iterative backends [default: 10000 iterations (sweeps for cd) for gd,
    /// agd, cg, pcg, sketch-cg, lbfgs, cd; 200 epochs for sgd; 1000 epochs (outer iterations for svrg) for
    /// sag, saga, svrg].
    #[arg(long, allow_hyphen_values = true)]
    pub max_iter: Option<usize>,
    /// Wall-time budget in seconds per iterative backend [default: none for `fit`; 2 s each in
    /// `compare` unless --max-iter is given, so a default comparison ends in seconds].
    #[arg(long, allow_hyphen_values = true, value_name = "SECONDS")]
    pub time_limit: Option<f64>,
    /// Fixed step size for gd, sgd, sag, saga, svrg (default: each backend's own, e.g. 1/L for
    /// gd, a decaying schedule for sgd).
    #[arg(long, allow_hyphen_values = true)]
    pub step: Option<f64>,
    /// Seed of stochastic solvers and of the built-in problem.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Any backend option by name, repeatable: abs_tol, batch_size (sgd), memory (lbfgs),
    /// inner_steps (svrg), rcond (svd), refine_steps (qr-refined, cholesky-refined), warm_start
    /// (comma-separated coefficients), … A backend given an option it does not use refuses it.
    #[arg(long = "option", value_name = "NAME=VALUE", allow_hyphen_values = true)]
    pub options: Vec<String>,
    /// Built-in problem: number of samples.
    #[arg(long, default_value_t = 10_000)]
    pub n: usize,
    /// Built-in problem: number of features.
    #[arg(long, default_value_t = 50)]
    pub d: usize,
    /// Built-in problem: condition number of the centred design.
    #[arg(long, default_value_t = 10.0, allow_hyphen_values = true)]
    pub condition: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write every recorded step of the iterative backends to this CSV (columns: solver,
    /// iteration, passes, seconds, objective, residual; with several targets a `target` column
    /// first). Must not name an input file; not written when no iterative backend ran.
    #[arg(long, value_name = "FILE.csv")]
    pub history: Option<PathBuf>,
    /// With --history: record every k-th iteration (and the first and last) [default: 1].
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    pub record_every: Option<u64>,
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("rows").required(true).args(["x", "data"])))]
pub struct PredictArgs {
    /// The model: what `tikhonov fit --format json` printed (one target), saved to a file.
    #[arg(long, value_name = "MODEL.json")]
    pub model: PathBuf,
    /// New rows as a 2-D float64 .npy file, one column per feature of the model, in the order it
    /// was fitted on.
    #[arg(long, value_name = "X.npy")]
    pub x: Option<PathBuf>,
    /// New rows as a CSV file with a header row: every column not named by --target is a
    /// feature, in file order.
    #[arg(long, value_name = "FILE.csv")]
    pub data: Option<PathBuf>,
    /// CSV columns that are not features (the target the model was fitted on, so that the
    /// training file itself can be passed); comma-separated. Their cells may be any text.
    #[arg(
        long,
        visible_alias = "targets",
        value_name = "COL",
        value_delimiter = ',',
        conflicts_with = "x"
    )]
    pub target: Vec<String>,
    /// Output format: one row per sample, `prediction` (ridge) or `decision` (xᵀw + b),
    /// `probability` (of the positive class) and `class` (logistic); every format prints every
    /// digit.
    #[arg(long, value_enum, default_value_t = PredictFormat::Table)]
    pub format: PredictFormat,
}

/// What a streamed fit does with the page cache behind its reader (`stream::PageCache`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageCacheMode {
    /// Release the pages of a `.npy` file that was not already cached, unless the fit reads it
    /// again and it fits in half the available memory.
    Auto,
    /// Always leave them cached.
    Keep,
    /// Always release them.
    Release,
}

impl PageCacheMode {
    /// The library's mode.
    pub fn mode(self) -> tikhonov::stream::PageCache {
        use tikhonov::stream::PageCache;
        match self {
            PageCacheMode::Auto => PageCache::Auto,
            PageCacheMode::Keep => PageCache::Keep,
            PageCacheMode::Release => PageCache::Release,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PredictFormat {
    Table,
    Json,
    Csv,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    Squared,
    Logistic,
}

impl Loss {
    /// The library's name for it.
    pub fn kind(self) -> LossKind {
        match self {
            Loss::Squared => LossKind::Squared,
            Loss::Logistic => LossKind::Logistic,
        }
    }
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// Run a command.
    Run(Box<Cli>),
    /// Print this text (help or version) on stdout and exit successfully.
    Print(String),
}

/// Parses `argv` (program name first). Usage errors come back as one line (without the
/// `error: ` prefix), naming the cause and pointing to `--help`.
pub fn parse<I, T>(argv: I) -> Result<Parsed, String>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    match Cli::try_parse_from(argv) {
        Ok(cli) => {
            validate(&cli).map_err(|e| bounded(&format!("{e}; see `tikhonov --help`")))?;
            Ok(Parsed::Run(Box::new(cli)))
        }
        Err(e) => match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                Ok(Parsed::Print(e.render().to_string()))
            }
            _ => Err(one_line(&e)),
        },
    }
}

/// clap's usage error (several lines: the error, a tip, the usage, a pointer to --help) as one
/// line: the error, the tip or the list of possible values if there is one, and `--help`.
fn one_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    // The first paragraph is the error, possibly followed by indented items (the missing
    // arguments); later paragraphs are tips, possible values, the usage and a pointer to --help.
    let mut paragraphs = rendered.split("\n\n");
    let first: Vec<&str> = paragraphs
        .next()
        .unwrap_or("invalid command line")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut line = first.join(" ");
    line = line.trim_start_matches("error:").trim().to_owned();
    for l in paragraphs.flat_map(str::lines).map(str::trim) {
        if l.starts_with("tip:") || l.starts_with("[possible values") {
            line.push_str("; ");
            line.push_str(l);
        }
    }
    line.push_str("; see `tikhonov --help`");
    bounded(&line)
}

/// A message made one line and bounded in length: control characters escaped, at most
/// [`MAX_MESSAGE_CHARS`] characters.
pub fn bounded(message: &str) -> String {
    quote_text(message, MAX_MESSAGE_CHARS)
}

/// The checks clap cannot express.
fn validate(cli: &Cli) -> Result<(), String> {
    let (common, solvers) = match &cli.command {
        Some(Command::Fit(f)) => (&f.common, None),
        Some(Command::Compare(c)) => (&c.common, c.solvers.as_ref()),
        Some(Command::Predict(_) | Command::Bench(_)) => return Ok(()),
        Some(Command::Path(p)) => (&p.common, None),
        Some(Command::Cv(c)) => (&c.common, None),
        None => (&cli.compare.common, cli.compare.solvers.as_ref()),
    };
    if common.record_every.is_some() && common.history.is_none() {
        return Err(
            "--record-every says which steps --history writes, but no --history FILE.csv was \
             given; add --history or drop --record-every"
                .into(),
        );
    }
    if let Some(list) = solvers {
        for name in list {
            if name != "all" && !tikhonov::solvers::names().any(|n| n == name) {
                return Err(bounded(&format!(
                    "unknown backend `{}` in --solvers; use `all` or a comma-separated list of: {BACKENDS}",
                    quote_text(name, 40)
                )));
            }
        }
    }
    Ok(())
}

impl CommonArgs {
    /// The steps to record with --history (0: none).
    pub fn record_every(&self) -> usize {
        match (&self.history, self.record_every) {
            (None, _) => 0,
            (Some(_), k) => usize::try_from(k.unwrap_or(1)).unwrap_or(usize::MAX),
        }
    }
}
