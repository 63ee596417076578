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
    #[error("invalid parameter `{name}` = {value}: {expected}")]
    InvalidParameter {
        /// Parameter name as the user spells it.
        name: &'static str,
        /// The value given (formatted).
        value: String,
        /// What a valid value looks like.
        expected: String,
    },

    /// The linear system is singular to working precision.
    #[error(
        "{solver}: the system is singular to working precision ({detail}); this usually means λ = 0 \
         with linearly dependent (or constant) feature columns: use λ > 0, drop the dependent \
         columns, or use a solver that returns the minimum-norm solution"
    )]
    Singular {
        /// The backend that found it.
        solver: String,
        /// What it saw (pivot, threshold).
        detail: String,
    },

    /// The system can be factored but the answer would have too few correct digits.
    #[error(
        "{solver}: the system is too ill-conditioned (condition estimate {condition:.3e}, so fewer \
         than {min_digits} correct digits can be guaranteed); use `auto` or `qr-refined` \
         (refinement in extended precision recovers the digits), `svd` for the minimum-norm \
         solution of a (nearly) rank-deficient design, or increase λ"
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
    #[error(
        "{solver} diverged at iteration {iteration} (objective {objective:e}, started at {start:e}); \
         the step size is too large for this problem: use a smaller step, or the backend's default step (1/L for gd)"
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
    },

    /// A factorisation failed for a reason other than singularity (e.g. an SVD that did not converge).
    #[error("{solver}: {detail}")]
    Numerical {
        /// The backend.
        solver: String,
        /// What failed.
        detail: String,
    },

    /// A solver name the registry does not know.
    #[error("unknown solver `{name}`; known solvers: {known}")]
    UnknownSolver {
        /// The name asked for.
        name: String,
        /// Comma-separated list of the registered names.
        known: String,
    },

    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A file could be read but its content is not what was expected.
    #[error("{}{}: {message}", path.display(), location.as_deref().map(|l| format!(", {l}")).unwrap_or_default())]
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
                | Error::Io { .. }
                | Error::Format { .. }
        )
    }

    /// `true` for numerical failures: singular or ill-conditioned systems, divergence.
    pub fn is_numerical(&self) -> bool {
        matches!(
            self,
            Error::Singular { .. }
                | Error::IllConditioned { .. }
                | Error::Diverged { .. }
                | Error::Numerical { .. }
        )
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
