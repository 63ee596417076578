//! Getting data in and out: CSV and NumPy `.npy` files, and synthetic problems with a chosen
//! condition number.
//!
//! Everything here returns faer matrices (`faer::Mat<f64>`, column-major), the crate's working type,
//! and reports bad input as an [`Error`](crate::error::Error) that names the file and, where it can,
//! the line and column — never a panic.
//!
//! | you have | call | you get |
//! | --- | --- | --- |
//! | a CSV file with a header row | [`read_csv`]`(path, &["y"])` | [`Dataset`]: `x` (n × d), `y` (n × k), column names |
//! | a CSV file whose target is class labels (`yes`/`no`), or no target | [`read_csv_text`]`(path, &["label"])` | [`TextDataset`]: `x`, the target cells as text |
//! | a 2-D `.npy` array (C or Fortran order, `float64`) | [`read_npy_matrix`] | `Mat<f64>` (a 1-D array becomes n × 1) |
//! | a 1-D `.npy` array (or n × 1) | [`read_npy_vector`] | `Col<f64>` |
//! | a matrix or vector to save for NumPy | [`write_npy_matrix`], [`write_npy_vector`] | a little-endian `<f8` file |
//! | nothing: a test problem of known conditioning | [`Synthetic`]`{ .. }.generate()` | [`SyntheticData`]: `x`, `y`, `true_coef` |
//!
//! `.npy` files are read in C or Fortran order, little- or big-endian (`<f8`, `>f8`); other dtypes
//! are refused with the NumPy call that converts them. Values are streamed in chunks straight into
//! the faer matrix (a C-order file through a blocked transpose, on several threads for large
//! files), so only one copy is held. Files are written as C-order `<f8`, what `np.save` writes.
//!
//! Nothing large is allocated blindly: `.npy` lengths are checked against the file size, and the
//! `.npy` data, the CSV row buffer and synthetic problems against the machine's available memory
//! ([`available_memory`], [`check_memory`]) before they are allocated. Text quoted from a file in
//! an error is shortened and its control characters escaped ([`crate::error::quote_text`]).
//!
//! All readers reject NaN and ±∞ (and, in CSV, empty cells): missing values must be removed or
//! imputed before fitting, and it is far easier to say so here, with the file and position, than
//! later with only a row index.
//!
//! ```no_run
//! # #[cfg(feature = "csv")] {
//! use std::path::Path;
//! use tikhonov::data::{Synthetic, read_csv};
//!
//! // One target column chosen by name; every other column is a feature.
//! let ds = read_csv(Path::new("houses.csv"), &["price"])?;
//! println!("{} samples, features {:?}", ds.x.nrows(), ds.feature_names);
//!
//! // A problem whose centred design has condition number exactly 1e6.
//! let problem = Synthetic { condition: 1e6, ..Synthetic::default() }.generate()?;
//! assert_eq!(problem.x.ncols(), 20);
//! # }
//! # Ok::<(), tikhonov::error::Error>(())
//! ```

#[cfg(feature = "csv")]
pub(crate) mod csv;
#[cfg(feature = "npy")]
pub(crate) mod npy;
#[cfg(feature = "npy")]
mod page_cache;
mod synthetic;

#[cfg(feature = "csv")]
pub use self::csv::{Dataset, TextDataset, read_csv, read_csv_text};
#[cfg(feature = "npy")]
pub use self::npy::{read_npy_matrix, read_npy_vector, write_npy_matrix, write_npy_vector};
pub use self::synthetic::{Synthetic, SyntheticData, gaussian};

/// Bytes of memory the machine can still give this process: `MemAvailable` of `/proc/meminfo`
/// (Linux), `None` where that is unknown.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line
        .trim_start_matches("MemAvailable:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// Refuses a request needing `needed` bytes (`None`: so many that the size overflows) when the
/// machine has less available ([`available_memory`]), before anything is allocated. `what`
/// describes the request for the message and `advice` says what to do instead. Where the
/// available memory is unknown, only an overflowing size is refused.
pub fn check_memory(
    what: impl FnOnce() -> String,
    needed: Option<u64>,
    advice: &str,
) -> crate::error::Result<()> {
    let available = available_memory();
    let fits = match (needed, available) {
        (None, _) => false,
        (Some(n), Some(a)) => n <= a,
        (Some(_), None) => true,
    };
    if fits {
        Ok(())
    } else {
        Err(crate::error::Error::OutOfMemory {
            what: what(),
            needed: needed.unwrap_or(u64::MAX),
            available: available.unwrap_or(0),
            advice: advice.to_owned(),
        })
    }
}
