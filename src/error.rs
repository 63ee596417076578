//! The crate's one error type.
//!
//! Every message says what is wrong *and* what to do about it, so that a command-line user who sees
//! only `error: …` on stderr can fix the input without reading the source.

use std::path::PathBuf;

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in tikhonov.
///
/// Variants fall in three families, which the command-line front end maps to exit codes:
/// bad input data ([`Error::is_data_error`]), numerical failure ([`Error::is_numerical`]) and
/// bad configuration (everything else).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two inputs whose sizes must agree do not.
    #[error("shape mismatch: {what}; make the inputs agree in size")]
    ShapeMismatch {
        /// Which sizes disagree, with the numbers.
        what: String,
    },

    /// A problem with no samples or no features.
    #[error("empty data: {what}; a ridge problem needs at least one sample and one feature")]
    Empty {
        /// What is empty.
        what: String,
    },

    /// NaN or ±∞ in the input.
    #[error(
        "non-finite value ({value}) in {what} at {position}; remove or impute missing values before fitting"
    )]
    NonFinite {
        /// Which input ("X", "y", "weights").
        what: &'static str,
        /// Where, e.g. "row 3, column 2".
        position: String,
        /// The offending value.
        value: f64,
    },

    /// Sample weights that cannot define a weighted least-squares problem.
    #[error("invalid sample weights: {reason}; weights must be finite, ≥ 0, and not all zero")]
    InvalidWeights {
        /// What is wrong with them.
        reason: String,
    },

    /// A hyper-parameter outside its valid range (λ < 0, tol ≤ 0, step ≤ 0, …).
    #[error("invalid parameter `{name}` = {}: {expected}", value_text(value))]
    InvalidParameter {
        /// Parameter name as the user spells it.
        name: &'static str,
        /// The value given (formatted).
        value: String,
        /// What a valid value looks like.
        expected: String,
    },

    /// The linear system is singular to working precision.
    ///
    /// The message names the likely cause for the backend that found it (dependent columns at
    /// λ = 0, a squared condition number for the Gram-matrix backends, the kernel's rank for
    /// `dual`); [`Error::in_context`] turns it into [`Error::SingularDespitePenalty`] when λ > 0.
    #[error(
        "{solver}: the system is singular to working precision ({detail}); {}",
        singular_advice(solver)
    )]
    Singular {
        /// The backend that found it.
        solver: String,
        /// What it saw (pivot, threshold).
        detail: String,
    },

    /// A system that λ > 0 makes non-singular in exact arithmetic was singular in floating point:
    /// the data overflow or are extremely scaled. Made from [`Error::Singular`] by
    /// [`Error::in_context`], which knows λ.
    #[error(
        "{solver}: the system is singular to working precision ({detail}) although λ = {lambda:e} > 0 \
         makes it regular in exact arithmetic, so the cause is overflow or extreme scaling: of the \
         data (entries or columns many orders of magnitude apart), or of λ itself (far beyond the \
         data's scale); rescale the features and the target (e.g. standardise them) or choose λ \
         on their scale{}",
        other_backends(solver, &["auto", "qr-refined"])
    )]
    SingularDespitePenalty {
        /// The backend that found it.
        solver: String,
        /// What it saw (pivot, threshold).
        detail: String,
        /// The penalty of the problem.
        lambda: f64,
    },

    /// The system can be factored but the answer would have too few correct digits.
    #[error(
        "{solver}: the system is too ill-conditioned (condition estimate {condition:.3e}, so fewer \
         than {min_digits} correct digits can be guaranteed){}, `svd` for the minimum-norm \
         solution of a (nearly) rank-deficient design, or increase λ",
        other_backends(solver, &["auto", "qr-refined"])
    )]
    IllConditioned {
        /// The backend that refused.
        solver: String,
        /// Its condition estimate of the factored matrix.
        condition: f64,
        /// The number of digits it was asked to guarantee.
        min_digits: u32,
    },

    /// An iterative method blew up.
    ///
    /// `step` says where its step size came from: only a fixed step makes "the step is too large"
    /// the diagnosis. The driver ([`crate::iterate::run`]) does not know and says
    /// [`StepSource::Unknown`]; a front end that does fills it in with [`Error::with_step`].
    #[error(
        "{solver} diverged at iteration {iteration} (objective {objective:e}, started at {start:e}); {}",
        diverged_advice(solver, *step)
    )]
    Diverged {
        /// The backend.
        solver: String,
        /// Iteration at which divergence was detected.
        iteration: usize,
        /// Objective there (may be non-finite).
        objective: f64,
        /// Objective at the start.
        start: f64,
        /// Where the step size came from.
        step: StepSource,
    },

    /// A factorisation failed for a reason other than singularity (e.g. an SVD that did not converge).
    #[error("{solver}: {}", without_self_advice(solver, detail))]
    Numerical {
        /// The backend.
        solver: String,
        /// What failed.
        detail: String,
    },

    /// A solver name the registry does not know.
    #[error("unknown solver `{}`; known solvers: {known}", quote_text(name, 40))]
    UnknownSolver {
        /// The name asked for.
        name: String,
        /// Comma-separated list of the registered names.
        known: String,
    },

    /// A file could not be read.
    #[error("{}: {}", path_text(path), io_advice(source))]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A request that needs more memory than the machine has available.
    #[error(
        "{what} needs {} of memory but only {} is available; {advice}",
        if *needed == u64::MAX { "more than 18 EB (its size overflows)".to_string() } else { format!("about {}", bytes(*needed)) },
        bytes(*available)
    )]
    OutOfMemory {
        /// What was asked for, e.g. "the built-in problem with n = 100000000, d = 100".
        what: String,
        /// Bytes it needs (an estimate; `u64::MAX` when the size overflows).
        needed: u64,
        /// Bytes available (`MemAvailable` of /proc/meminfo).
        available: u64,
        /// What to do instead.
        advice: String,
    },

    /// One target of a multi-target fit failed.
    #[error("target {index} (`{name}`): {source}")]
    Target {
        /// 0-based index of the target.
        index: usize,
        /// Its name (the CSV column, or `column t of FILE`).
        name: String,
        /// What went wrong for it.
        #[source]
        source: Box<Error>,
    },

    /// Class labels that do not make a binary classification problem.
    #[error("invalid labels: {reason}")]
    InvalidLabels {
        /// What is wrong with them and what to do.
        reason: String,
    },

    /// The classes are separated, so at λ = 0 the loss has no minimiser.
    #[error(
        "{solver}: the classes are linearly separable (the point reached at iteration \
         {iteration} classifies every sample of positive weight correctly), so at λ = 0 the \
         logistic loss has no minimiser: scaling that point up lowers the loss forever and the \
         coefficients grow without bound; use λ > 0 (e.g. 1e-4), which makes the minimiser \
         unique and finite"
    )]
    Separable {
        /// The backend that found it.
        solver: String,
        /// The iteration at which every margin was positive.
        iteration: usize,
    },

    /// A backend asked to minimise a loss it does not handle.
    #[error("{solver} does not fit the {loss} loss; backends that do: {supported}")]
    UnsupportedLoss {
        /// The backend.
        solver: String,
        /// The loss asked for (`logistic`).
        loss: &'static str,
        /// Comma-separated names of the backends that fit it.
        supported: String,
    },

    /// Bytes given as a serialised [`crate::moments::Moments`] state that are not one
    /// ([`crate::state`]).
    #[error("moments state: {reason}")]
    InvalidState {
        /// What is wrong and what to do.
        reason: String,
    },

    /// A backend asked to fit a stream (data read in row blocks) that needs more than the
    /// sufficient statistics.
    #[error(
        "{solver} cannot fit streamed data ({why}); backends that stream: {}",
        crate::error::streaming_backends()
    )]
    NotStreamable {
        /// The backend asked for.
        solver: String,
        /// What it needs that a stream does not keep.
        why: String,
    },

    /// A SQL query (the `datafusion` feature, src/datafusion.rs) failed or did not return one
    /// merged moments state.
    #[error("query: {reason}")]
    Query {
        /// DataFusion's message (naming the column for bad data), or what the result lacked.
        reason: String,
    },

    /// A file could be read but its content is not what was expected.
    #[error("{}{}: {message}", path_text(path), location.as_deref().map(|l| format!(", {l}")).unwrap_or_default())]
    Format {
        /// The file.
        path: PathBuf,
        /// Where in the file, e.g. "line 4, column `x2`", when known.
        location: Option<String>,
        /// What is wrong and what to do.
        message: String,
    },
}

impl Error {
    /// `true` for errors caused by the data themselves (shapes, non-finite values, files).
    pub fn is_data_error(&self) -> bool {
        matches!(
            self,
            Error::ShapeMismatch { .. }
                | Error::Empty { .. }
                | Error::NonFinite { .. }
                | Error::InvalidWeights { .. }
                | Error::InvalidLabels { .. }
                | Error::Separable { .. }
                | Error::Io { .. }
                | Error::Format { .. }
                | Error::InvalidState { .. }
                | Error::OutOfMemory { .. }
        ) || matches!(self, Error::Target { source, .. } if source.is_data_error())
    }

    /// `true` for numerical failures: singular or ill-conditioned systems, divergence.
    pub fn is_numerical(&self) -> bool {
        matches!(
            self,
            Error::Singular { .. }
                | Error::SingularDespitePenalty { .. }
                | Error::IllConditioned { .. }
                | Error::Diverged { .. }
                | Error::Numerical { .. }
        ) || matches!(self, Error::Target { source, .. } if source.is_numerical())
    }

    /// The error with what the caller knows about the problem: a [`Error::Singular`] at λ > 0
    /// becomes [`Error::SingularDespitePenalty`] (the advice for λ = 0 would mislead).
    pub fn in_context(self, lambda: f64) -> Self {
        match self {
            Error::Singular { solver, detail } if lambda > 0.0 => Error::SingularDespitePenalty {
                solver,
                detail,
                lambda,
            },
            other => other,
        }
    }

    /// The error with the fixed step size the user gave (`None`: the backend's own step, or it
    /// has none): a [`Error::Diverged`] then blames the step only if there was one.
    pub fn with_step(self, step: Option<f64>) -> Self {
        match self {
            Error::Diverged {
                solver,
                iteration,
                objective,
                start,
                step: StepSource::Unknown,
            } => Error::Diverged {
                iteration,
                objective,
                start,
                step: step
                    .filter(|_| takes_step(&solver))
                    .map_or(StepSource::Own, StepSource::Fixed),
                solver,
            },
            other => other,
        }
    }

    /// An invalid parameter: its name, the value given, and what is expected instead.
    pub fn invalid(
        name: &'static str,
        value: impl std::fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        Error::InvalidParameter {
            name,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// The backends with a step size a user can fix (`SolverOptions::step`, `--step`).
fn takes_step(solver: &str) -> bool {
    matches!(solver, "gd" | "sgd" | "sag" | "saga" | "svrg")
}

/// Where the step size of a diverged iterative method came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepSource {
    /// Not known where the error was made (the iteration driver).
    Unknown,
    /// The backend's own step (1/L, a schedule), or a backend without a step size.
    Own,
    /// A fixed step the user chose.
    Fixed(f64),
}

/// What a singular system means for the backend that found it.
fn singular_advice(solver: &str) -> String {
    let base = solver.split(':').next_back().unwrap_or(solver);
    match base {
        "dual" => "the dual's centred n × n kernel has rank at most min(n − 1, d) < n by \
                   construction, so it needs λ > 0; use λ > 0 or a primal backend (`auto`, `qr`)"
            .into(),
        "cholesky" | "cholesky-refined" | "normal" => format!(
            "{base} factors the Gram matrix, which squares the condition number, so an \
             ill-conditioned design (κ(X)² beyond 1/ε ≈ 4.5e15) fails here as well as linearly \
             dependent (or constant) columns at λ = 0; use `auto` or `qr-refined` (they factor X \
             itself), `svd` for the minimum-norm solution, or λ > 0"
        ),
        _ => format!(
            "at λ = 0 this means linearly dependent (or constant) feature columns, or fewer \
             samples than features: use λ > 0, drop the dependent columns{}",
            if base == "svd" {
                String::new()
            } else {
                ", or `svd` for the minimum-norm solution".into()
            }
        ),
    }
}

/// `; use `a` or `b`` for the backends in `candidates` other than `solver` itself (no backend
/// advises itself).
fn other_backends(solver: &str, candidates: &[&str]) -> String {
    let base = solver.split(':').next_back().unwrap_or(solver);
    let others: Vec<String> = candidates
        .iter()
        .filter(|&&c| c != base && c != solver)
        .map(|c| format!("`{c}`"))
        .collect();
    match others.as_slice() {
        [] => String::new(),
        [one] => format!(", or use {one}"),
        many => format!(", or use {}", many.join(" or ")),
    }
}

/// Why an iterative method may have diverged, given where its step came from.
fn diverged_advice(solver: &str, step: StepSource) -> String {
    let data = "values large enough to overflow, or features on extremely different scales; \
                rescale (standardise) the features and the target, or use a direct backend \
                (`auto`, `qr`)";
    let takes_step = takes_step(solver);
    match step {
        StepSource::Fixed(step) => format!(
            "the fixed step {step:e} is too large for this problem: use a smaller one, or omit \
             it for the backend's default step"
        ),
        StepSource::Unknown if takes_step => format!(
            "if its step was fixed (`with_step`, `--step`) it is too large: use a smaller step or \
             the default; with the default step the cause is the data: {data}"
        ),
        _ if takes_step => {
            format!("{solver} used its default step, so the cause is the data: {data}")
        }
        _ => format!("{solver} has no step size to tune, so the cause is the data: {data}"),
    }
}

/// A numerical failure's detail without advice to use the backend that failed.
fn without_self_advice(solver: &str, detail: &str) -> String {
    let base = solver.split(':').next_back().unwrap_or(solver);
    if base == "qr" || base == "qr-refined" {
        detail.replace("try `qr`", "try `svd`, `auto`")
    } else {
        detail.to_owned()
    }
}

/// The backends that fit a stream (`crate::stream`, whose `BACKENDS` this is): those that need
/// the statistics, those that need the triangle R of the centred rows (built in the same pass),
/// the refined ones, which read the file once more per round of corrections, and the iterative
/// ones, which read it once per iteration.
pub(crate) const STREAMING_BACKENDS: [&str; 10] = [
    "cholesky",
    "normal",
    "qr",
    "svd",
    "cholesky-refined",
    "qr-refined",
    "cg",
    "pcg",
    "sketch-cg",
    "gd",
];

/// `` `cholesky`, `normal`, … ``: [`STREAMING_BACKENDS`] for messages.
fn streaming_backends() -> String {
    STREAMING_BACKENDS
        .iter()
        .map(|b| format!("`{b}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A byte count for messages: `3.2 GB`, `512 MB`.
pub fn bytes(n: u64) -> String {
    let units = [
        ("EB", 1e18),
        ("PB", 1e15),
        ("TB", 1e12),
        ("GB", 1e9),
        ("MB", 1e6),
        ("kB", 1e3),
    ];
    for (unit, size) in units {
        if n as f64 >= size {
            return format!("{:.1} {unit}", n as f64 / size);
        }
    }
    format!("{n} bytes")
}

/// `text` made safe to print in a one-line message: control characters (newlines, escapes, NUL,
/// bidirectional overrides) escaped as `\u{..}`-style sequences, and at most `max` characters
/// kept, the rest replaced by `…` and the total length. Data from files go through this before
/// they are quoted in an error.
pub fn quote_text(text: &str, max: usize) -> String {
    let mut out = String::new();
    let total = text.chars().count();
    for (shown, c) in text.chars().enumerate() {
        if shown >= max {
            out.push_str(&format!("… ({total} characters)"));
            return out;
        }
        if c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
        {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A parameter's value for a message: a long number in exponent form (`1e300`, not 301
/// digits), anything else quoted as data.
fn value_text(value: &str) -> String {
    match value.parse::<f64>() {
        Ok(x) if value.len() > 12 => format!("{x:e}"),
        _ => quote_text(value, 80),
    }
}

/// A path for a one-line message: control characters escaped, long paths shortened.
fn path_text(path: &std::path::Path) -> String {
    quote_text(&path.display().to_string(), 160)
}

/// An I/O error with what to do about the common kinds.
fn io_advice(e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let advice = match e.kind() {
        ErrorKind::NotFound => "; check the path",
        ErrorKind::PermissionDenied => "; check the file's permissions",
        ErrorKind::IsADirectory => "; give a file, not a directory",
        ErrorKind::StorageFull => "; free some space or write elsewhere",
        _ => "",
    };
    format!("{}{advice}", quote_text(&e.to_string(), 200))
}
