//! Ridge fits over data that need not fit in memory: row blocks read from files straight into
//! sufficient statistics (and, for the orthogonal factorisations, the triangle of the centred
//! rows), merged in order, then solved (features `npy`, `csv`).
//!
//! A [`BlockReader`] yields blocks of B rows (X_B, Y_B, s_B) from a `.npy` pair (X.npy and
//! y.npy, optionally a weights .npy) or from a CSV file (targets chosen by column name, as
//! [`crate::data::read_csv`]). Each block's weighted, centred statistics are computed by
//! [`Moments::compute`] and merged into the running total with the exact Chan–Golub–LeVeque
//! update ([`Moments::merge`]):
//!
//! ```text
//! C ← C_a + C_b + (S_a·S_b / S)·δ δᵀ,      δ = mean_b − mean_a,   S = S_a + S_b
//! ```
//!
//! so the merged statistics are those of the whole file up to rounding, whatever B is. For
//! `cholesky` and `normal` the fit is then the Gram system of the README ("The objective"),
//! formed and solved exactly as the in-memory backends do:
//!
//! ```text
//! D (XcᵀSXc + S·λ·I) D · v = D·XcᵀS·yc,    w = D·v,    b = ȳ − x̄ᵀw
//! ```
//!
//! (D the power-of-two equilibration of [`GramSystem`]), one factorisation per distinct λ for
//! all targets that share it. Memory is two block buffers (the next block is read while the
//! current one is reduced, `rayon::join`), the d × d statistics and the moment routine's
//! per-thread scratch of 2048 rows: never X. Blocks are merged in file order, so the result is
//! deterministic; it depends on B only through rounding (tests/stream.rs bounds that at 1e-12).
//!
//! **`qr` and `svd`: the triangle of the centred rows, in the same pass.** For these the pass
//! also merges each block's triangular factor (`crate::triangle`): a block b of weight S_b and
//! two-part mean m_b (the block's [`Moments`]) is centred by its own mean and scaled by √sᵢ,
//! factored by the tall-skinny QR of `crate::tsqr`, and merged into the running (S, m, R) by
//!
//! ```text
//! R ← R of [ R ; R_b ; √(S·S_b/(S + S_b))·(m_b − m)ᵀ ],      m ← m + (S_b/(S + S_b))·(m_b − m)
//! ```
//!
//! whose Gram matrix is the update above: the QR analogue of the moments merge, with δ taken
//! from both parts of the means, so an offset of 1e15 costs no digits. With R = [R₁₁ R₁₂; 0 R₂₂]
//! (d features, k targets), ‖S^½(Xc·w − yc)‖² + S·λ‖w‖² = ‖R₁₁w − R₁₂‖² + S·λ‖w‖² + const, so
//! `qr` factors [√(Sλ)·I; R₁₁] with right-hand side [0; R₁₂] exactly as the in-memory backend
//! factors its augmented system (the same code, `QrFactor`: equilibration, condition estimate,
//! `Singular` and `IllConditioned`), and `svd` takes the SVD of R₁₁·D with Uᵀ·ys = U_Rᵀ·R₁₂
//! ([`SvdFactorization`]: minimum-norm at λ = 0, the same cut-off max(n, d)·ε·σ₁). The
//! triangle adds (d + k)² numbers to the memory and about 2·B·(d + k)² flops per block to the
//! moments' B·d².
//!
//! **The refined backends read the file again.** `cholesky-refined` and `qr-refined` start
//! from `cholesky`'s or `qr`'s solution and correct it with residuals y − X·w − b computed from
//! the rows in double-double (`crate::refine`): each round of corrections is one more pass
//! over the files (the targets still refining share it; the column means are the statistics'
//! two-part means). Each pass opens the files anew and checks that they still have the first
//! pass's shape (a CSV, its number of rows), so they must be regular files, not pipes; the
//! passes are counted in [`StreamStats::passes`] and each fit's `passes`.
//!
//! **The iterative backends read the file once per iteration** (`cg`, `pcg`, `sketch-cg`,
//! `gd`; the
//! submodule `iterative`, src/stream/iterative.rs). They hold O(d) vectors and the block
//! buffers, never a d × d matrix, for designs whose Gram matrix does not fit: a first pass for
//! S, the two-part means and the column variances, then an `Objective` whose every gradient and
//! Hessian product is one more pass, run by the crate's driver (the same `tol`, `max_iter`,
//! `time_limit` and history as in memory). Its module docs give the design and the passes.
//!
//! **Which backends stream** ([`BACKENDS`]): `cholesky`, `normal`, `qr`, `svd`,
//! `cholesky-refined`, `qr-refined`, `cg`, `pcg`, `sketch-cg` and `gd`. `auto` would pick among
//! them from
//! the data's conditioning before reading them; `dual` forms the n × n kernel; the other
//! iterative backends sample rows or columns at random or are not streamed yet. Asking for one
//! of those is [`Error::NotStreamable`], which names the ones that stream.
//!
//! **Reading.** A C-order `.npy` (NumPy's default) is read one contiguous run per block, in
//! 512 KiB chunks transposed into the column-major block. A Fortran-order `.npy` stores each
//! column contiguously, so a block costs d positioned reads of 8·B bytes, one per column and
//! n·8 bytes apart: the same bytes in all but d times as many system calls (on a rotating disk,
//! d seeks per block, so keep the budget large there). A CSV file is parsed record by record
//! into the block. The diagnostics of each [`Fit`] (J and ‖∇J‖), whatever the backend, are
//! computed from the statistics of the first pass ([`MomentsProblem`]), not from X, and carry
//! the absolute error that module describes.
//!
//! **The page cache** ([`PageCache`], Linux). A pass over a large `.npy` file that is not
//! already cached hands the pages it has read back to the kernel every 32 MiB, unless the fit
//! will read the file again and it fits in half the available memory: one pass gains nothing
//! from caching a file, and keeping it evicts everything else. On a virtual machine it is
//! also the fast way to read: a cold 4 GB fit took 2.4–2.7 s instead of 4.7–5.1 s (README,
//! "Data beyond memory"). The bytes read are the same in every mode.
//!
//! A file that is shorter than its header says, or a bad CSV cell or row, is an error naming the
//! data row (`.npy`) or file line (CSV); no fit is returned from part of a file.
//!
//! **Cross-validation in the same single pass** ([`fold_moments`], [`cv`]). Each block's rows
//! are sorted by fold — a seeded hash of the row index ([`FoldRule::Hashed`]) or given ids
//! ([`FoldRule::Ids`]) — and each fold's slice is reduced and merged into that fold's
//! statistics, so k folds cost one read of the file. The training statistics of fold k are
//! the merge of the other folds', and each λ's refit and held-out error come from them
//! ([`kfold::ridge_from_fold_moments`]); the default grid comes from the merged total. The one
//! thing lost without the rows: a held-out error whose statistics estimate is not accurate to
//! 1e-6 (a nearly perfect fit) cannot be recomputed from the fold's rows as in memory; it is
//! kept and counted in [`KFold::inexact`].
//!
//! ```no_run
//! # #[cfg(feature = "npy")] {
//! use std::path::Path;
//! use tikhonov::stream::{self, BlockReader};
//!
//! let mut reader = BlockReader::npy(Path::new("X.npy"), Path::new("y.npy"))?;
//! let streamed = stream::fit(&mut reader, "cholesky", &[1e-3], true)?;
//! println!("{} blocks, {} bytes", streamed.stats.blocks, streamed.stats.bytes);
//! println!("w = {:?}", streamed.fits[0].coef);
//! # }
//! # Ok::<(), tikhonov::Error>(())
//! ```

use std::path::Path;
use std::time::Instant;

use faer::{Col, ColRef, Mat, MatRef, Par};
use serde::Serialize;

#[cfg(feature = "csv")]
use crate::data::csv::CsvRows;
#[cfg(feature = "npy")]
use crate::data::npy::Npy;
use crate::error::{Error, Result};
use crate::fit::{Fit, Solution};
use crate::moments::{GramSystem, Moments, Workspace};
use crate::multi::{direct_solutions, lambda_groups};
use crate::refine::{Constants, Dd, ResidualSums, Rows};
use crate::select::grid;
use crate::select::kfold::{self, Folds, KFold};
use crate::solvers::qr::QrFactor;
use crate::solvers::refined::Prepared;
use crate::solvers::{
    Cholesky, NormalEquations, Refined, Registry, Solver, SolverOptions, Svd, SvdFactorization,
};
use crate::sufficient::MomentsProblem;
use crate::triangle::CentredTriangle;

mod iterative;

/// The default memory budget of a [`BlockReader`]'s two block buffers: 8 MiB, so that both
/// stay in a 32 MiB L3 cache with the moment routine's scratch, and a block the reader has just
/// written is still cached when it is reduced. On 10⁶ × 100 (2 shared cores) blocks of 2 500 to
/// 8 000 rows were never slower than blocks of 40 000 (a 64 MiB budget) and often faster.
pub const DEFAULT_BUDGET_BYTES: usize = 8 << 20;

/// Rows a budget-sized block is rounded down to a multiple of (when it has that many).
const ROUND_ROWS: usize = 4096;

/// The fewest rows a block gets from the budget: merging a block costs O(d²) (and its statistics
/// O(d²) memory), so a block must be long enough for its O(B·d²) products to dominate, even
/// when d is large and B·d exceeds the budget.
pub const MIN_BLOCK_ROWS: usize = 1024;

/// The backends that fit a stream: `cholesky` and `normal` from the statistics, `qr` and `svd`
/// from the triangle R built in the same pass, `cholesky-refined` and `qr-refined`, which read
/// the file once more per round of corrections, and the iterative `cg`, `pcg`, `sketch-cg` and
/// `gd`, which
/// hold O(d) numbers and read the file once per iteration (no d × d matrix).
pub const BACKENDS: [&str; 10] = crate::error::STREAMING_BACKENDS;

/// What a stream does with the page cache behind it: whether the kernel keeps the pages of a
/// `.npy` file's data once they have been read ([`BlockReader::page_cache`]). Only the
/// contents of the page cache differ: every mode reads the same bytes in the same order. CSV
/// files are always read through the cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PageCache {
    /// The default: at the start of each pass, each file of at least [`AUTO_RELEASE_BYTES`]
    /// of data that is not already cached (a sample of its pages, Linux only) is released
    /// behind the reader, unless the fit will read it again (refinement, the iterative
    /// backends) and it fits in half the available memory, so that later passes read it from
    /// memory. A file already cached stays cached.
    #[default]
    Auto,
    /// Always keep the pages (plain buffered reads).
    Keep,
    /// Always release them behind the reader (on Linux; elsewhere the same as `Keep`).
    Release,
}

/// The smallest data file [`PageCache::Auto`] releases: below this, the cache is not worth
/// managing.
pub const AUTO_RELEASE_BYTES: u64 = 64 << 20;

/// Whether a pass releases the pages of a file of `bytes` of data behind the reader under
/// `mode`: `resident` is the fraction of its pages already cached (`None`: unknown, and then
/// `Auto` leaves the cache alone), `rereads` whether the fit will read the file again and
/// `available` the memory available (`None`: unknown, and then the file is not counted on to
/// stay cached).
#[cfg(feature = "npy")]
fn releases(
    mode: PageCache,
    bytes: u64,
    resident: Option<f64>,
    rereads: bool,
    available: Option<u64>,
) -> bool {
    match mode {
        PageCache::Keep => false,
        PageCache::Release => true,
        PageCache::Auto => {
            let cold = resident.is_some_and(|f| f < 0.5);
            let stays_cached = available.is_some_and(|a| bytes <= a / 2);
            bytes >= AUTO_RELEASE_BYTES && cold && !(rereads && stays_cached)
        }
    }
}

/// What a stream read: blocks, rows, bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StreamStats {
    /// Blocks read.
    pub blocks: usize,
    /// Data rows read in the first pass (n once the stream has ended).
    pub rows: usize,
    /// Bytes read from the files: the data of the `.npy` files (not their headers), or the CSV
    /// text consumed (header included) plus the weights' data; all passes together.
    pub bytes: u64,
    /// Rows per block (the last block may be shorter).
    pub block_rows: usize,
    /// Passes over the files: 1, plus one per round of refinement corrections
    /// (`cholesky-refined`, `qr-refined`) or one per gradient or Hessian product (`cg`, `pcg`,
    /// `gd`, every target's); `blocks` and `bytes` count them all.
    pub passes: usize,
    /// Passes that released the pages of X's file behind the reader ([`PageCache`]).
    pub released_passes: usize,
}

/// One block of rows, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Block<'a> {
    /// 0-based index of the block's first row in the file.
    pub first_row: usize,
    /// The block's features, rows × d (column-major).
    pub x: MatRef<'a, f64>,
    /// The block's targets, rows × k.
    pub y: MatRef<'a, f64>,
    /// The block's weights, if the stream has any.
    pub weights: Option<ColRef<'a, f64>>,
}

/// Where the rows come from.
enum Source {
    /// X.npy and y.npy (1-D, or n × k).
    #[cfg(feature = "npy")]
    Npy { x: Box<Npy>, y: Box<Npy>, n: usize },
    /// One CSV file with named target columns.
    #[cfg(feature = "csv")]
    Csv(Box<CsvRows>),
}

/// A block buffer: column-major X and Y of `capacity` rows, of which the first `rows` hold data.
struct Buffer {
    x: Mat<f64>,
    y: Mat<f64>,
    w: Option<Col<f64>>,
    rows: usize,
    first_row: usize,
}

impl Default for Buffer {
    fn default() -> Self {
        Self {
            x: Mat::zeros(0, 0),
            y: Mat::zeros(0, 0),
            w: None,
            rows: 0,
            first_row: 0,
        }
    }
}

impl Buffer {
    fn block(&self) -> Block<'_> {
        Block {
            first_row: self.first_row,
            x: self.x.as_ref().subrows(0, self.rows),
            y: self.y.as_ref().subrows(0, self.rows),
            weights: self.w.as_ref().map(|w| w.as_ref().subrows(0, self.rows)),
        }
    }

    /// Makes room for `capacity` rows of d features, k targets and (if `weighted`) weights.
    fn reserve(&mut self, capacity: usize, d: usize, k: usize, weighted: bool) {
        if self.x.nrows() != capacity || self.x.ncols() != d {
            self.x = Mat::zeros(capacity, d);
        }
        if self.y.nrows() != capacity || self.y.ncols() != k {
            self.y = Mat::zeros(capacity, k);
        }
        if weighted && self.w.as_ref().is_none_or(|w| w.nrows() != capacity) {
            self.w = Some(Col::zeros(capacity));
        }
    }
}

/// Reads (X, Y[, s]) from files in blocks of rows, never holding X whole: see the
/// [module docs](self).
///
/// The block size follows a memory budget ([`BlockReader::budget`], default
/// [`DEFAULT_BUDGET_BYTES`]): B = budget / (2·8·(d + k + 1)) rows, so that the two buffers
/// [`moments`] alternates between stay within it, rounded down to a multiple of 4096 (two of
/// the moment routine's blocks), but at least [`MIN_BLOCK_ROWS`] and at most n. [`BlockReader::block_rows`] fixes B (at least 1).
pub struct BlockReader {
    source: Source,
    /// A 1-D weights `.npy` (or n × 1), read block by block alongside.
    #[cfg(feature = "npy")]
    weights: Option<(Box<Npy>, usize)>,
    d: usize,
    k: usize,
    budget: usize,
    block_rows: Option<usize>,
    page_cache: PageCache,
    /// Whether the fit will read the files more than once (set by [`fit_with`]).
    rereads: bool,
    next_row: usize,
    done: bool,
    stats: StreamStats,
    buffer: Buffer,
    feature_names: Option<Vec<String>>,
    target_names: Vec<String>,
}

impl std::fmt::Debug for BlockReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockReader")
            .field("n_features", &self.d)
            .field("n_targets", &self.k)
            .field("target_names", &self.target_names)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl BlockReader {
    /// Streams X from `x` (a 2-D `float64` `.npy`, C or Fortran order) and the targets from `y`
    /// (1-D, or n × k for k targets). Only the headers are read here; they are checked as by
    /// [`crate::data::read_npy_matrix`] (dtype, dimensions, data length against the file size,
    /// which names the row where a truncated file's data end), and X and y must have the same
    /// number of rows.
    #[cfg(feature = "npy")]
    pub fn npy(x: &Path, y: &Path) -> Result<Self> {
        let xs = Npy::open_streamed(x)?;
        let ys = Npy::open_streamed(y)?;
        let ((n, d), (ny, k)) = (xs.matrix_shape()?, ys.matrix_shape()?);
        if ny != n {
            return Err(Error::ShapeMismatch {
                what: format!(
                    "{} has {n} rows but {} has {ny}; X and y need one row per sample",
                    x.display(),
                    y.display()
                ),
            });
        }
        let target_names = if k == 1 {
            vec![y.display().to_string()]
        } else {
            (0..k)
                .map(|t| format!("column {t} of {}", y.display()))
                .collect()
        };
        Ok(Self::new(
            Source::Npy {
                x: Box::new(xs),
                y: Box::new(ys),
                n,
            },
            d,
            k,
            None,
            target_names,
        ))
    }

    /// Streams a CSV file with a header row: the columns named in `targets` (one or more, each
    /// once) are the targets, every other column a feature, as [`crate::data::read_csv`]. Only
    /// the header is read here.
    #[cfg(feature = "csv")]
    pub fn csv(path: &Path, targets: &[&str]) -> Result<Self> {
        if targets.is_empty() {
            return Err(Error::invalid(
                "targets",
                "[]",
                "name at least one column of the file as the target",
            ));
        }
        let rows = CsvRows::open(path, targets)?;
        let (d, names, header_bytes) = (rows.n_features(), rows.feature_names(), rows.bytes_read());
        let mut reader = Self::new(
            Source::Csv(Box::new(rows)),
            d,
            targets.len(),
            Some(names),
            targets.iter().map(|t| (*t).to_owned()).collect(),
        );
        reader.stats.bytes = header_bytes;
        Ok(reader)
    }

    fn new(
        source: Source,
        d: usize,
        k: usize,
        feature_names: Option<Vec<String>>,
        target_names: Vec<String>,
    ) -> Self {
        Self {
            source,
            #[cfg(feature = "npy")]
            weights: None,
            d,
            k,
            budget: DEFAULT_BUDGET_BYTES,
            block_rows: None,
            page_cache: PageCache::Auto,
            rereads: false,
            next_row: 0,
            done: false,
            stats: StreamStats::default(),
            buffer: Buffer::default(),
            feature_names,
            target_names,
        }
    }

    /// Sample weights from a 1-D `float64` `.npy` (or n × 1), read block by block alongside the
    /// rows: one per row, finite and ≥ 0 (a negative weight is an error naming its row).
    #[cfg(feature = "npy")]
    pub fn weights(mut self, path: &Path) -> Result<Self> {
        let w = Npy::open_streamed(path)?;
        let (nw, cols) = w.matrix_shape()?;
        if cols != 1 {
            return Err(Error::Format {
                path: path.to_path_buf(),
                location: None,
                message: format!(
                    "the weights have {cols} columns but one weight per sample is needed; save \
                     a 1-D array"
                ),
            });
        }
        if let Some(n) = self.n_samples()
            && n != nw
        {
            return Err(Error::ShapeMismatch {
                what: format!("X has {n} rows but {} has {nw} weights", path.display()),
            });
        }
        self.weights = Some((Box::new(w), nw));
        Ok(self)
    }

    /// The memory budget of the two block buffers, in bytes (default [`DEFAULT_BUDGET_BYTES`]).
    pub fn budget(mut self, bytes: usize) -> Self {
        self.budget = bytes;
        self
    }

    /// Fixes the rows per block (at least 1), overriding the budget (for tests, or to trade
    /// memory for fewer system calls).
    pub fn block_rows(mut self, rows: usize) -> Self {
        self.block_rows = Some(rows.max(1));
        self
    }

    /// What to do with the page cache behind the reader (default [`PageCache::Auto`]).
    pub fn page_cache(mut self, mode: PageCache) -> Self {
        self.page_cache = mode;
        self
    }

    /// At the start of a pass, decides for each `.npy` file whether its pages are released
    /// behind the reader ([`PageCache`]).
    fn choose_page_cache(&mut self) {
        #[cfg(feature = "npy")]
        {
            let (mode, rereads) = (self.page_cache, self.rereads);
            let release = |npy: &Npy| {
                // Probing and reading /proc cost a little: only where the answer is needed.
                let auto = mode == PageCache::Auto && npy.data_bytes() >= AUTO_RELEASE_BYTES;
                releases(
                    mode,
                    npy.data_bytes(),
                    if auto { npy.resident_fraction() } else { None },
                    rereads,
                    if auto {
                        crate::data::available_memory()
                    } else {
                        None
                    },
                )
            };
            let x_released = match &mut self.source {
                Source::Npy { x, y, .. } => {
                    let on = release(y);
                    y.release_behind(on);
                    let on = release(x);
                    x.release_behind(on);
                    on
                }
                #[cfg(feature = "csv")]
                Source::Csv(_) => false,
            };
            if let Some((w, _)) = &mut self.weights {
                let on = release(w);
                w.release_behind(on);
            }
            self.stats.released_passes += usize::from(x_released && cfg!(target_os = "linux"));
        }
    }

    /// d.
    pub fn n_features(&self) -> usize {
        self.d
    }

    /// k.
    pub fn n_targets(&self) -> usize {
        self.k
    }

    /// n, where the files say it before they are read (`.npy`); `None` for CSV.
    pub fn n_samples(&self) -> Option<usize> {
        match &self.source {
            #[cfg(feature = "npy")]
            Source::Npy { n, .. } => Some(*n),
            #[cfg(feature = "csv")]
            Source::Csv(_) => None,
        }
    }

    /// The CSV's feature column names (`None` for `.npy` data).
    pub fn feature_names(&self) -> Option<&[String]> {
        self.feature_names.as_deref()
    }

    /// One name per target: the CSV column, the y file, or `column t of FILE`.
    pub fn target_names(&self) -> &[String] {
        &self.target_names
    }

    /// What has been read so far.
    pub fn stats(&self) -> StreamStats {
        StreamStats {
            block_rows: self.rows_per_block(),
            ..self.stats
        }
    }

    fn weighted(&self) -> bool {
        #[cfg(feature = "npy")]
        return self.weights.is_some();
        #[cfg(not(feature = "npy"))]
        false
    }

    /// B: the override, or the budget over the bytes of a row in the two buffers (at least
    /// [`MIN_BLOCK_ROWS`]); never more than n where n is known (a small file gets a small
    /// buffer).
    pub fn rows_per_block(&self) -> usize {
        let rows = self.block_rows.unwrap_or_else(|| {
            let row_bytes = 2 * 8 * (self.d + self.k + 1);
            let rows = (self.budget / row_bytes).max(MIN_BLOCK_ROWS);
            // Whole multiples of twice the moment routine's 2048-row blocks where the budget
            // allows, so that each block's tree splits evenly between two threads (a fixed
            // unit, not the thread count, so the result does not depend on the machine).
            if rows >= ROUND_ROWS {
                rows / ROUND_ROWS * ROUND_ROWS
            } else {
                rows
            }
        });
        self.n_samples().map_or(rows, |n| rows.min(n.max(1)))
    }

    /// The next block (`None` once the files are exhausted), in a buffer the reader reuses.
    pub fn next_block(&mut self) -> Result<Option<Block<'_>>> {
        let mut buffer = std::mem::take(&mut self.buffer);
        let more = self.fill(&mut buffer);
        self.buffer = buffer;
        Ok(more?.then(|| self.buffer.block()))
    }

    /// Reads the next block into `buf`; `false` (and `buf` untouched) at the end. An error ends
    /// the stream for good: no later call yields a block after a failed one.
    fn fill(&mut self, buf: &mut Buffer) -> Result<bool> {
        let filled = self.fill_next(buf);
        if filled.is_err() {
            self.done = true;
        }
        filled
    }

    fn fill_next(&mut self, buf: &mut Buffer) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        let capacity = self.rows_per_block();
        buf.reserve(capacity, self.d, self.k, self.weighted());
        let r0 = self.next_row;
        let rows = match &mut self.source {
            #[cfg(feature = "npy")]
            Source::Npy { x, y, n } => {
                let rows = capacity.min(*n - r0);
                if rows > 0 {
                    x.read_block(r0, buf.x.as_mut().subrows_mut(0, rows))?;
                    y.read_block(r0, buf.y.as_mut().subrows_mut(0, rows))?;
                }
                self.stats.bytes += 8 * (rows * (self.d + self.k)) as u64;
                rows
            }
            #[cfg(feature = "csv")]
            Source::Csv(csv) => {
                let before = csv.bytes_read();
                let mut rows = 0;
                while rows < capacity {
                    if !csv.next_record()? {
                        break;
                    }
                    let (x, y) = (&mut buf.x, &mut buf.y);
                    csv.features(|j, v| x[(rows, j)] = v)?;
                    csv.numeric_targets(|t, v| y[(rows, t)] = v)?;
                    rows += 1;
                }
                if rows == 0 && r0 == 0 {
                    return Err(csv.no_rows());
                }
                self.stats.bytes += csv.bytes_read() - before;
                rows
            }
        };
        if rows < capacity {
            self.done = true;
        }
        // A later pass must see the rows of the first (a CSV can change length between them).
        let (end, first_pass) = (r0 + rows, self.stats.passes <= 1);
        if !first_pass && (end > self.stats.rows || (self.done && end != self.stats.rows)) {
            return Err(self.changed(format!(
                "it had {} data rows in the first pass but {}{end} in pass {}",
                self.stats.rows,
                if self.done { "" } else { "more than " },
                self.stats.passes
            )));
        }
        #[cfg(feature = "npy")]
        self.fill_weights(buf, r0, rows)?;
        if rows == 0 {
            return Ok(false);
        }
        buf.rows = rows;
        buf.first_row = r0;
        self.next_row += rows;
        self.stats.blocks += 1;
        if first_pass {
            self.stats.rows += rows;
        }
        Ok(true)
    }

    /// The files the stream reads.
    fn paths(&self) -> Vec<&Path> {
        let data = match &self.source {
            #[cfg(feature = "npy")]
            Source::Npy { x, y, .. } => vec![x.path(), y.path()],
            #[cfg(feature = "csv")]
            Source::Csv(csv) => vec![csv.path()],
        };
        #[cfg(feature = "npy")]
        let weights = self.weights.as_ref().map(|(w, _)| w.path());
        #[cfg(not(feature = "npy"))]
        let weights = None;
        data.into_iter().chain(weights).collect()
    }

    /// The first file of the stream that cannot be read again from its start (not a regular
    /// file: a pipe or a device), if any.
    fn not_rereadable(&self) -> Option<&Path> {
        self.paths()
            .into_iter()
            .find(|p| !std::fs::metadata(p).is_ok_and(|m| m.is_file()))
    }

    /// An error: a file of the stream changed between passes (`what` says how).
    fn changed(&self, what: String) -> Error {
        Error::Format {
            path: self.paths()[0].to_path_buf(),
            location: None,
            message: format!(
                "the data changed between passes over them: {what}; refinement reads the files \
                 again for each round of corrections, so keep them unchanged while fitting"
            ),
        }
    }

    /// Starts the stream again at its first row for another pass: every file is opened anew
    /// and its header checked again, against the first pass's shape.
    fn rewind(&mut self) -> Result<()> {
        #[cfg(feature = "npy")]
        let reopened = |old: &Npy| -> Result<Box<Npy>> {
            let new = Npy::open_streamed(old.path())?;
            let (a, b) = (old.matrix_shape()?, new.matrix_shape()?);
            if a != b {
                return Err(self.changed(format!(
                    "{} had shape ({}, {}) and now has ({}, {})",
                    old.path().display(),
                    a.0,
                    a.1,
                    b.0,
                    b.1
                )));
            }
            Ok(Box::new(new))
        };
        // The CSV's header is read again: its bytes count.
        let (source, header_bytes) = match &self.source {
            #[cfg(feature = "npy")]
            Source::Npy { x, y, n } => (
                Source::Npy {
                    x: reopened(x)?,
                    y: reopened(y)?,
                    n: *n,
                },
                0,
            ),
            #[cfg(feature = "csv")]
            Source::Csv(csv) => {
                let targets: Vec<&str> = self.target_names.iter().map(String::as_str).collect();
                let rows = CsvRows::open(csv.path(), &targets)?;
                if rows.n_features() != self.d {
                    return Err(self.changed(format!(
                        "it had {} feature columns and now has {}",
                        self.d,
                        rows.n_features()
                    )));
                }
                let header = rows.bytes_read();
                (Source::Csv(Box::new(rows)), header)
            }
        };
        #[cfg(feature = "npy")]
        let weights = match &self.weights {
            Some((w, nw)) => Some((reopened(w)?, *nw)),
            None => None,
        };
        self.stats.bytes += header_bytes;
        self.source = source;
        #[cfg(feature = "npy")]
        {
            self.weights = weights;
        }
        self.next_row = 0;
        self.done = false;
        Ok(())
    }

    /// Reads the weights of rows r0 .. r0 + rows into `buf` and checks them; at the end of the
    /// stream, also that there were as many weights as rows (a CSV's length is only known then).
    #[cfg(feature = "npy")]
    fn fill_weights(&mut self, buf: &mut Buffer, r0: usize, rows: usize) -> Result<()> {
        let Some((w, nw)) = &self.weights else {
            return Ok(());
        };
        let (end, nw) = (r0 + rows, *nw);
        let mismatch = |rows: String| Error::ShapeMismatch {
            what: format!(
                "{} has {nw} weights but the data have {rows} rows; give one weight per row",
                w.path().display()
            ),
        };
        if end > nw {
            return Err(mismatch(format!("at least {end}")));
        }
        if self.done && end != nw {
            return Err(mismatch(end.to_string()));
        }
        let Some(col) = buf.w.as_mut() else {
            return Ok(());
        };
        if rows > 0 {
            w.read_block(r0, col.as_mat_mut().subrows_mut(0, rows))?;
        }
        if let Some(i) = col.as_ref().subrows(0, rows).iter().position(|v| *v < 0.0) {
            return Err(Error::InvalidWeights {
                reason: format!(
                    "the weight of data row {} (1-based) of {} is {}",
                    r0 + i + 1,
                    w.path().display(),
                    col[i]
                ),
            });
        }
        self.stats.bytes += 8 * rows as u64;
        Ok(())
    }
}

/// The statistics of every row of the stream: each block's [`Moments::compute`] (on rayon's
/// threads), merged in file order with [`Moments::merge`], while a reader thread of its own
/// fills the other of two buffers (so a read waiting on the disk never holds a rayon thread).
/// `centred`: statistics for a model with an intercept.
///
/// # Errors
///
/// Any read error of the files (naming the row or line), in which case no statistics are
/// returned.
pub fn moments(reader: &mut BlockReader, centred: bool) -> Result<Moments> {
    let mut total = Moments::zeros(reader.d, reader.k, centred);
    let mut workspace = Workspace::default();
    each_block(reader, |b| {
        total.merge(&Moments::compute_in(
            b.x,
            b.y,
            b.weights,
            centred,
            Par::rayon(0),
            &mut workspace,
        ));
        Ok(())
    })?;
    Ok(total)
}

/// Runs `each` on every block in file order on this thread, while a reader thread fills the
/// other of two buffers. The first error (of a read or of `each`) ends the stream.
fn each_block(
    reader: &mut BlockReader,
    mut each: impl FnMut(Block<'_>) -> Result<()>,
) -> Result<()> {
    use std::sync::mpsc::sync_channel;
    reader.stats.passes += 1;
    reader.choose_page_cache();
    // Filled buffers go to this thread, emptied ones back to the reader: two in all.
    let (full_tx, full_rx) = sync_channel::<Result<Option<Buffer>>>(1);
    let (empty_tx, empty_rx) = sync_channel::<Buffer>(2);
    for buffer in [std::mem::take(&mut reader.buffer), Buffer::default()] {
        // The receiver is alive until the reader thread starts: this cannot fail.
        let _ = empty_tx.send(buffer);
    }
    std::thread::scope(|scope| {
        scope.spawn(move || {
            while let Ok(mut buffer) = empty_rx.recv() {
                let filled = reader.fill(&mut buffer);
                let end = !matches!(filled, Ok(true));
                let message = filled.map(|more| {
                    if more {
                        Some(buffer)
                    } else {
                        reader.buffer = buffer;
                        None
                    }
                });
                if full_tx.send(message).is_err() || end {
                    break;
                }
            }
        });
        loop {
            match full_rx.recv() {
                Ok(Ok(Some(buffer))) => {
                    // On an error here `empty_tx` is dropped with the buffer, which ends the
                    // reader thread at its next block.
                    each(buffer.block())?;
                    // The reader may have ended (its last block is being reduced): then this
                    // buffer is simply dropped.
                    let _ = empty_tx.send(buffer);
                }
                Ok(Ok(None)) => return Ok(()),
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(Error::Numerical {
                        solver: "stream".into(),
                        detail: "the reader thread stopped without a result (internal error)"
                            .into(),
                    });
                }
            }
        }
    })
}

/// How a streamed cross-validation assigns rows to folds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoldRule {
    /// Row i (0-based) goes to fold h(seed, i) mod k, h the SplitMix64 finaliser of
    /// seed + (i + 1)·φ (φ = 0x9e3779b97f4a7c15): a seeded hash of the row index, so the
    /// assignment needs no state, is the same in every pass and on every machine, and folds
    /// are balanced in expectation (sizes n/k ± O(√(n/k))), not exactly as
    /// [`Folds::shuffled`]'s shuffle.
    Hashed {
        /// k ≥ 2.
        k: usize,
        /// The seed.
        seed: u64,
    },
    /// One fold per row, given (glmnet's `foldid`); n ids in memory (8 bytes a row, 1/d of X).
    Ids(Folds),
}

impl FoldRule {
    /// k.
    pub fn k(&self) -> usize {
        match self {
            FoldRule::Hashed { k, .. } => *k,
            FoldRule::Ids(folds) => folds.k(),
        }
    }

    /// The fold of row `i` (0-based): to reproduce the assignment outside a stream
    /// (`Folds::from_ids`). For [`FoldRule::Ids`], `i` must be below its n.
    pub fn fold(&self, i: usize) -> usize {
        match self {
            FoldRule::Hashed { k, seed } => {
                (crate::sketch::mix64(*seed, i as u64) % *k as u64) as usize
            }
            FoldRule::Ids(folds) => folds.ids()[i],
        }
    }
}

/// The statistics of each fold of a stream, from one pass: [`Moments`] and row counts.
#[derive(Debug, Clone)]
pub struct FoldStats {
    /// Fold k's statistics.
    pub moments: Vec<Moments>,
    /// Fold k's number of rows.
    pub rows: Vec<usize>,
}

impl FoldStats {
    /// The statistics of all rows (the folds merged in order).
    pub fn total(&self) -> Moments {
        let first = &self.moments[0];
        let mut total = Moments::zeros(first.n_features(), first.n_targets(), first.centred());
        self.moments.iter().for_each(|m| total.merge(m));
        total
    }
}

/// Each fold's statistics in one pass over the stream: every block's rows are sorted by fold
/// (`rule`) into a buffer, each fold's slice reduced by [`Moments::compute`] (the folds on
/// rayon's threads), and merged into that fold's total in file order — so the result depends
/// on the data, the rule and the block size only, not on the threads.
///
/// # Errors
///
/// Read errors (naming the row or line); fewer than two folds; with [`FoldRule::Ids`], ids for
/// another number of rows.
pub fn fold_moments(reader: &mut BlockReader, centred: bool, rule: &FoldRule) -> Result<FoldStats> {
    use rayon::prelude::*;
    let k = rule.k();
    if k < 2 {
        return Err(Error::invalid(
            "folds",
            k,
            "at least two folds, e.g. 5 or 10",
        ));
    }
    if let (FoldRule::Ids(folds), Some(n)) = (rule, reader.n_samples())
        && folds.n_samples() != n
    {
        return Err(Error::ShapeMismatch {
            what: format!(
                "the folds assign {} samples but the data have {n} rows",
                folds.n_samples()
            ),
        });
    }
    let (d, t) = (reader.d, reader.k);
    let mut stats = FoldStats {
        moments: vec![Moments::zeros(d, t, centred); k],
        rows: vec![0; k],
    };
    let (mut xs, mut ys, mut ws) = (Mat::<f64>::zeros(0, d), Mat::<f64>::zeros(0, t), Vec::new());
    let (mut ids, mut pos) = (Vec::new(), Vec::new());
    each_block(reader, |b| {
        let len = b.x.nrows();
        if let FoldRule::Ids(folds) = rule
            && b.first_row + len > folds.n_samples()
        {
            return Err(Error::ShapeMismatch {
                what: format!(
                    "the folds assign {} samples but the data have more rows",
                    folds.n_samples()
                ),
            });
        }
        // Counting sort of the block's rows by fold.
        ids.clear();
        ids.extend((b.first_row..b.first_row + len).map(|i| rule.fold(i)));
        let mut first = vec![0usize; k + 1];
        ids.iter().for_each(|&f| first[f + 1] += 1);
        for f in 0..k {
            first[f + 1] += first[f];
        }
        if xs.nrows() < len {
            xs = Mat::zeros(len, d);
            ys = Mat::zeros(len, t);
            ws = vec![0.0; len];
        }
        let mut next = first.clone();
        pos.clear();
        pos.extend(ids.iter().map(|&f| {
            next[f] += 1;
            next[f] - 1
        }));
        // Column by column: each column of the block is read in order.
        for j in 0..d {
            let dst = xs.col_as_slice_mut(j);
            b.x.col(j).iter().zip(&pos).for_each(|(v, &p)| dst[p] = *v);
        }
        for c in 0..t {
            let dst = ys.col_as_slice_mut(c);
            b.y.col(c).iter().zip(&pos).for_each(|(v, &p)| dst[p] = *v);
        }
        if let Some(w) = b.weights {
            w.iter().zip(&pos).for_each(|(v, &p)| ws[p] = *v);
        }
        let weighted = b.weights.is_some();
        let parts: Vec<Moments> = (0..k)
            .into_par_iter()
            .map(|f| {
                let (a, m) = (first[f], first[f + 1] - first[f]);
                Moments::compute(
                    xs.as_ref().subrows(a, m),
                    ys.as_ref().subrows(a, m),
                    weighted.then(|| ColRef::from_slice(&ws[a..a + m])),
                    centred,
                    Par::Seq,
                )
            })
            .collect();
        for (f, part) in parts.iter().enumerate() {
            stats.moments[f].merge(part);
            stats.rows[f] += first[f + 1] - first[f];
        }
        Ok(())
    })?;
    if let FoldRule::Ids(folds) = rule
        && reader.stats.rows != folds.n_samples()
    {
        return Err(Error::ShapeMismatch {
            what: format!(
                "the folds assign {} samples but the data have {} rows",
                folds.n_samples(),
                reader.stats.rows
            ),
        });
    }
    Ok(stats)
}

/// A streamed k-fold cross-validation: one [`KFold`] per target, the grid, what was read.
#[derive(Debug, Clone)]
pub struct StreamedCv {
    /// One result per target, in target order.
    pub results: Vec<KFold>,
    /// The grid of λ the curves are over.
    pub lambdas: Vec<f64>,
    /// Blocks, rows and bytes read.
    pub stats: StreamStats,
}

/// Exact k-fold cross-validation of ridge over `lambdas` (`None`: the default grid of
/// `n_lambdas` values from the statistics of all rows, [`grid::default_lambdas_of`]) from one
/// pass over the stream ([`fold_moments`], then
/// [`kfold::ridge_from_fold_moments`]): no
/// second read. Every target gets its own curve.
pub fn cv(
    reader: &mut BlockReader,
    rule: &FoldRule,
    lambdas: Option<&[f64]>,
    n_lambdas: usize,
    intercept: bool,
) -> Result<StreamedCv> {
    let stats = fold_moments(reader, intercept, rule)?;
    let lambdas = match lambdas {
        Some(l) => l.to_vec(),
        None => grid::default_lambdas_of(&stats.total(), n_lambdas)?,
    };
    let results = kfold::ridge_from_fold_moments(&stats.moments, &stats.rows, &lambdas)?;
    Ok(StreamedCv {
        results,
        lambdas,
        stats: reader.stats(),
    })
}

/// A streamed fit: one [`Fit`] per target, and what was read.
#[derive(Debug, Clone)]
pub struct Streamed {
    /// One fit per target, in target order.
    pub fits: Vec<Fit>,
    /// Blocks, rows and bytes read, and the passes over the files.
    pub stats: StreamStats,
    /// Seconds spent in the first pass: reading the files and accumulating the statistics (and
    /// the triangle R, for the backends that factor it).
    pub read_seconds: f64,
}

/// Refuses, before anything is read, a backend that cannot fit a stream
/// ([`Error::NotStreamable`], naming the ones that can); unknown names are
/// [`Error::UnknownSolver`].
pub fn check_backend(solver: &str) -> Result<()> {
    Registry::builtin().get(solver)?;
    if BACKENDS.contains(&solver) {
        return Ok(());
    }
    let why = match solver {
        "auto" => {
            "it picks its backend from the shape and conditioning of data it has not read; \
             choose `qr-refined` or `cholesky-refined`"
        }
        "dual" => "it forms the n × n kernel of the rows",
        _ => {
            "it samples rows or columns of X at random, or is not streamed yet; the iterative \
             backends that stream are `cg`, `pcg`, `sketch-cg` and `gd` (one read of the files \
             per iteration)"
        }
    };
    Err(Error::NotStreamable {
        solver: solver.to_owned(),
        why: why.to_owned(),
    })
}

/// How a streamed fit solves, by backend.
enum Method {
    /// `cholesky`, or `normal` when `normal`: the Gram system of the statistics.
    Gram { normal: bool },
    /// `qr`: the ridge solve from the triangle R.
    Qr,
    /// `svd`: the SVD of R₁₁, with the user's cut-off.
    Svd(Svd),
    /// `cholesky-refined` or `qr-refined`: the base solve, then rounds of corrections, each
    /// one more pass over the stream.
    Refined(Refined),
    /// `cg`, `pcg`, `sketch-cg` or `gd`: O(d) vectors (d² for `sketch-cg`'s factor), one pass
    /// per iteration (`stream::iterative`).
    Iterative,
}

impl Method {
    /// The method of `solver` with its `options` (any option the backend does not take is an
    /// error, as in memory).
    fn new(solver: &str, options: &SolverOptions) -> Result<Self> {
        check_backend(solver)?;
        Registry::builtin().get(solver)?.build_checked(options)?;
        Ok(match solver {
            "normal" => Method::Gram { normal: true },
            "qr" => Method::Qr,
            "svd" => Method::Svd(Svd::from_options(options)?),
            "qr-refined" => Method::Refined(Refined::qr().with_options(options)?),
            "cholesky-refined" => Method::Refined(Refined::cholesky().with_options(options)?),
            s if iterative::ITERATIVE.contains(&s) => Method::Iterative,
            _ => Method::Gram { normal: false },
        })
    }

    /// Whether the first pass builds the triangle R besides the statistics.
    fn needs_triangle(&self) -> bool {
        match self {
            Method::Qr | Method::Svd(_) => true,
            Method::Refined(r) => r.factors_qr(),
            Method::Gram { .. } | Method::Iterative => false,
        }
    }
}

/// Streams the reader to its end and fits every target with `solver` (one of [`BACKENDS`]) and
/// its default options: λ is one value for all targets or one per target; `intercept` fits an
/// unpenalised intercept (centred statistics) or none. See [`fit_with`].
pub fn fit(
    reader: &mut BlockReader,
    solver: &str,
    lambdas: &[f64],
    intercept: bool,
) -> Result<Streamed> {
    fit_with(
        reader,
        solver,
        &SolverOptions::default(),
        lambdas,
        intercept,
    )
}

/// [`fit`] with the backend's options (`rcond` for `svd`, `refine_steps` for the refined
/// backends, `tol`, `max_iter`, `time_limit`, `record_every`, `step` and an observer for `cg`,
/// `pcg` and `gd`). The backend, its options and λ are checked before the files are read.
///
/// `cg`, `pcg`, `sketch-cg` and `gd` read the files once per iteration (see the module docs);
/// each fit's
/// `passes` is then the reads its target needed (the shared first pass included), and
/// [`StreamStats::passes`] the reads of all targets.
///
/// One pass reads the files: `cholesky` and `normal` solve the Gram system of the merged
/// statistics; `qr` and `svd` solve from the triangle R of the centred rows merged in the same
/// pass (`crate::triangle`); `cholesky-refined` and `qr-refined` start from `cholesky`'s or
/// `qr`'s solution and then read the files again once per round of corrections (the targets
/// still refining share each pass), so they need regular files, not pipes. `Fit::solver` is
/// `stream:<solver>`; `fit_seconds` is the whole time (reading included) divided by the number
/// of targets, as for the in-memory multi-target fits; `passes` is the number of passes over
/// the files (1, plus the rounds of corrections), also in [`StreamStats::passes`].
///
/// # Errors
///
/// [`Error::NotStreamable`] for another backend; [`Error::InvalidParameter`] for a bad λ, count
/// of λ or option; for the refined backends, a file that is not a regular file, or that changed
/// between passes; any read error (naming the row or line; nothing is fitted then);
/// [`Error::InvalidWeights`] when every weight is zero; the backend's numerical errors
/// (wrapped in [`Error::Target`] naming the first target of the failing λ when there are
/// several).
pub fn fit_with(
    reader: &mut BlockReader,
    solver: &str,
    options: &SolverOptions,
    lambdas: &[f64],
    intercept: bool,
) -> Result<Streamed> {
    let method = Method::new(solver, options)?;
    check_lambdas(lambdas, reader.k)?;
    reader.rereads = matches!(method, Method::Iterative | Method::Refined(_));
    if let Method::Iterative = method {
        if let Some(path) = reader.not_rereadable() {
            return Err(Error::Format {
                path: path.to_path_buf(),
                location: None,
                message: format!(
                    "the streamed `{solver}` reads the files once per iteration, which needs \
                     regular files, not a pipe or device; save the data to a file, or fit with \
                     `cholesky` (one pass)"
                ),
            });
        }
        return iterative::fit(reader, solver, options, lambdas, intercept);
    }
    if let Method::Refined(refined) = &method
        && let Some(path) = reader.not_rereadable()
    {
        return Err(Error::Format {
            path: path.to_path_buf(),
            location: None,
            message: format!(
                "`{}` reads the files again for each round of corrections, which needs regular \
                 files, not a pipe or device; save the data to a file, or fit with `{}`",
                refined.name(),
                if refined.factors_qr() {
                    "qr"
                } else {
                    "cholesky"
                }
            ),
        });
    }
    let start = Instant::now();
    let first = if method.needs_triangle() {
        let (moments, r) = triangle(reader, intercept)?.into_parts();
        FirstPass {
            moments,
            r: Some(r),
            n: reader.stats.rows,
        }
    } else {
        FirstPass {
            moments: moments(reader, intercept)?,
            r: None,
            n: reader.stats.rows,
        }
    };
    let read_seconds = start.elapsed().as_secs_f64();
    if reader.weighted() && first.moments.weight_sum() == 0.0 {
        return Err(Error::InvalidWeights {
            reason: "all weights are zero".into(),
        });
    }
    let names = reader.target_names.clone();
    let fits = solve(first, &method, solver, lambdas, &names, Some(reader), start)?;
    Ok(Streamed {
        fits,
        stats: reader.stats(),
        read_seconds,
    })
}

/// [`fit`] for statistics already merged (from any source): every target of `moments` with
/// `cholesky` or `normal` (the backends that need nothing else) and one λ for all targets or
/// one per target.
pub fn fit_moments(moments: Moments, solver: &str, lambdas: &[f64]) -> Result<Vec<Fit>> {
    let method = moments_method(solver)?;
    let k = moments.n_targets();
    check_lambdas(lambdas, k)?;
    let names: Vec<String> = (0..k).map(|t| format!("target {t}")).collect();
    let first = FirstPass {
        moments,
        r: None,
        n: 0,
    };
    solve(
        first,
        &method,
        solver,
        lambdas,
        &names,
        None,
        Instant::now(),
    )
}

/// Refuses, before any data are read, a backend that cannot solve from the statistics alone
/// (only `cholesky` and `normal` can: [`fit_moments`]); unknown names are
/// [`Error::UnknownSolver`].
pub fn check_moments_backend(solver: &str) -> Result<()> {
    moments_method(solver).map(|_| ())
}

/// The [`Method`] of a backend that solves from the statistics alone.
fn moments_method(solver: &str) -> Result<Method> {
    let method = Method::new(solver, &SolverOptions::default())?;
    if !matches!(method, Method::Gram { .. }) {
        return Err(Error::invalid(
            "solver",
            solver,
            "`cholesky` or `normal`, which solve from the statistics alone (`qr` and `svd` need \
             the triangle of the rows, the refined backends the rows themselves: use \
             `stream::fit`)",
        ));
    }
    Ok(method)
}

/// One λ ≥ 0 (finite) for all k targets, or k of them.
fn check_lambdas(lambdas: &[f64], k: usize) -> Result<()> {
    let l = lambdas.len();
    if l != 1 && l != k {
        return Err(Error::InvalidParameter {
            name: "lambda",
            value: format!("{l} values for {k} targets"),
            expected: format!("one λ for all targets or {k}, one per target, in target order"),
        });
    }
    for &lambda in lambdas {
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(Error::invalid(
                "lambda",
                lambda,
                "λ must be finite and ≥ 0 (λ = 0 is ordinary least squares)",
            ));
        }
    }
    Ok(())
}

/// The centred triangle ([`CentredTriangle`]) and the statistics of every row of the stream in
/// one pass: each block's (on rayon's threads) merged in file order.
fn triangle(reader: &mut BlockReader, centred: bool) -> Result<CentredTriangle> {
    let mut total = CentredTriangle::zeros(reader.d, reader.k, centred);
    each_block(reader, |b| {
        let part = CentredTriangle::compute(b.x, b.y, b.weights, centred, Par::rayon(0));
        total.merge(&part);
        Ok(())
    })?;
    Ok(total)
}

/// What the first pass over a stream built: the statistics of n rows, and the triangle R
/// ((d + k)², [`CentredTriangle`]) when the backend factors it.
struct FirstPass {
    moments: Moments,
    r: Option<Mat<f64>>,
    n: usize,
}

impl FirstPass {
    /// The QR factor of the ridge system of targets `targets` at λ, from R's first d columns and
    /// those targets' columns (the other targets' columns do not change them: the reflections
    /// are determined by the first d columns).
    fn qr_factor(&self, solver: &str, lambda: f64, targets: &[usize]) -> Result<QrFactor> {
        let r = self
            .r
            .as_ref()
            .ok_or_else(|| internal(solver, "no triangle"))?;
        let d = self.moments.n_features();
        let cols: Vec<usize> = (0..d).chain(targets.iter().map(|t| d + t)).collect();
        let data = Mat::from_fn(r.nrows(), cols.len(), |i, j| r[(i, cols[j])]);
        QrFactor::from_data_triangle(
            solver,
            data.as_ref(),
            d,
            (self.n, self.moments.weight_sum()),
            lambda,
            Par::rayon(0),
        )
    }
}

/// An internal error of a streamed solve (an invariant of this module failed).
fn internal(solver: &str, what: &str) -> Error {
    Error::Numerical {
        solver: format!("stream:{solver}"),
        detail: format!("{what} (internal error)"),
    }
}

/// Solves every target from the first pass with `method`: one factorisation per distinct λ for
/// the targets that share it (`svd`: one for all), the refined backends then reading `reader`
/// again; each fit judged on its own target's [`MomentsProblem`].
fn solve(
    first: FirstPass,
    method: &Method,
    solver: &str,
    lambdas: &[f64],
    names: &[String],
    mut reader: Option<&mut BlockReader>,
    start: Instant,
) -> Result<Vec<Fit>> {
    let k = first.moments.n_targets();
    let lambda_of = |t: usize| lambdas[if lambdas.len() == 1 { 0 } else { t }];
    let groups = lambda_groups(&(0..k).map(lambda_of).collect::<Vec<_>>());
    let in_context = |e: Error, lambda: f64, t: usize| {
        let e = e.in_context(lambda);
        if k == 1 {
            e
        } else {
            Error::Target {
                index: t,
                name: crate::error::quote_text(&names[t], 60),
                source: Box::new(e),
            }
        }
    };
    let solutions = if let Method::Refined(refined) = method {
        let reader = reader
            .as_deref_mut()
            .ok_or_else(|| internal(solver, "no stream to refine from"))?;
        let prepared = groups
            .iter()
            .map(|(lambda, targets)| {
                prepare(&first, refined, *lambda, targets)
                    .map_err(|e| in_context(e, *lambda, targets[0]))
            })
            .collect::<Result<Vec<_>>>()?;
        let refinements = refine_stream(reader, &first, refined, &groups, &prepared, lambda_of)?;
        let group_of = in_target_order(
            &groups,
            (0..groups.len())
                .map(|g| vec![g; groups[g].1.len()])
                .collect(),
        );
        refinements
            .into_iter()
            .enumerate()
            .map(|(t, r)| {
                refined
                    .conclude(r, &prepared[group_of[t]])
                    .map_err(|e| in_context(e, lambda_of(t), t))
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        let svd = match method {
            Method::Svd(svd) => {
                let r = first
                    .r
                    .as_ref()
                    .ok_or_else(|| internal(solver, "no triangle"))?;
                Some(SvdFactorization::from_triangle(
                    r.as_ref(),
                    first.n,
                    svd.rcond(),
                    &first.moments,
                )?)
            }
            _ => None,
        };
        let per_group = groups
            .iter()
            .map(|(lambda, targets)| {
                solve_group(&first, method, solver, svd.as_ref(), *lambda, targets)
                    .map_err(|e| in_context(e, *lambda, targets[0]))
            })
            .collect::<Result<Vec<_>>>()?;
        in_target_order(&groups, per_group)
    };
    let passes = reader.map_or(1, |r| r.stats.passes) as f64;
    let name = format!("stream:{solver}");
    let seconds = start.elapsed().as_secs_f64() / k.max(1) as f64;
    let mut judge = MomentsProblem::new(first.moments, lambda_of(0))?;
    let mut fits = Vec::with_capacity(k);
    for (t, solution) in solutions.into_iter().enumerate() {
        judge.retarget(t, lambda_of(t));
        let solution = Solution { passes, ..solution };
        fits.push(Fit::judged(&judge, &name, solution, seconds)?);
    }
    Ok(fits)
}

/// The solutions of the targets `targets` at λ (one λ group) by a method without refinement.
fn solve_group(
    first: &FirstPass,
    method: &Method,
    solver: &str,
    svd: Option<&SvdFactorization>,
    lambda: f64,
    targets: &[usize],
) -> Result<Vec<Solution>> {
    let m = &first.moments;
    match method {
        Method::Gram { normal } => {
            let system = GramSystem::from_moments(m.clone(), lambda);
            let (w, b, condition) = if *normal {
                NormalEquations.solve_system(&system, targets)
            } else {
                Cholesky.solve_system(&system, targets, Par::rayon(0))
            }?;
            Ok(direct_solutions(w.as_ref(), &b, condition))
        }
        Method::Qr => {
            let f = first.qr_factor(solver, lambda, targets)?;
            let w = f.checked_coefficients(solver)?;
            Ok(targets
                .iter()
                .enumerate()
                .map(|(c, &t)| {
                    let b = m.intercept(t, w.col(c));
                    Solution::direct(w.col(c).to_owned(), b, Some(f.condition))
                })
                .collect())
        }
        Method::Svd(_) => {
            let f = svd.ok_or_else(|| internal(solver, "no SVD"))?;
            Ok(targets
                .iter()
                .map(|&t| {
                    let (w, b) = f.target_coefficients(t, lambda);
                    Solution::direct(w, b, Some(f.condition(lambda)))
                })
                .collect())
        }
        Method::Refined(_) => Err(internal(solver, "a refined backend without refinement")),
        Method::Iterative => Err(internal(solver, "an iterative backend without the stream")),
    }
}

/// The base solve of a refined backend for one λ group, from the first pass: `qr`'s factor of
/// the triangle or `cholesky`'s of the statistics.
fn prepare(
    first: &FirstPass,
    refined: &Refined,
    lambda: f64,
    targets: &[usize],
) -> Result<Prepared> {
    if refined.factors_qr() {
        let f = first.qr_factor(refined.name(), lambda, targets)?;
        refined.prepare_qr(f, |c, w| first.moments.intercept(targets[c], w))
    } else {
        let system = GramSystem::from_moments(first.moments.clone(), lambda);
        refined.prepare_cholesky(&system, targets, Par::rayon(0))
    }
}

/// Refines every target together from its group's base solve (`prepared[g]` for
/// `groups[g]`): each round of corrections is one more pass over the stream, shared by every
/// target that still wants a correction, until none does. The column means are the
/// statistics' two-part means (accurate to about ε² relative, as double-double).
fn refine_stream(
    reader: &mut BlockReader,
    first: &FirstPass,
    refined: &Refined,
    groups: &[(f64, Vec<usize>)],
    prepared: &[Prepared],
    lambda_of: impl Fn(usize) -> f64,
) -> Result<Vec<crate::refine::Refinement>> {
    let m = &first.moments;
    let (hi, lo) = m.x_mean_parts();
    let means: Vec<Dd> = (0..m.n_features())
        .map(|j| Dd {
            hi: hi[j],
            lo: lo[j],
        })
        .collect();
    let per_group = groups
        .iter()
        .zip(prepared)
        .map(|((_, targets), p)| {
            (0..targets.len())
                .map(|c| {
                    let constants = Constants {
                        intercept: m.centred(),
                        weight_sum: m.weight_sum(),
                        lambda: lambda_of(targets[c]),
                        x_mean: m.x_mean().to_owned(),
                    };
                    refined.refiner(constants, p, c)
                })
                .collect()
        })
        .collect();
    let group_of = in_target_order(
        groups,
        (0..groups.len())
            .map(|g| vec![g; groups[g].1.len()])
            .collect(),
    );
    let mut refiners = in_target_order(groups, per_group);
    loop {
        let active: Vec<usize> = (0..refiners.len())
            .filter(|&t| refiners[t].wants_residual())
            .collect();
        if active.is_empty() {
            break;
        }
        reader.rewind()?;
        let points: Vec<_> = active.iter().map(|&t| (t, refiners[t].point())).collect();
        let sums = residual_pass(reader, &points, m.centred())?;
        for (&t, s) in active.iter().zip(&sums) {
            let p = &prepared[group_of[t]];
            refiners[t].step(s, &means, |r| p.correct(r));
        }
    }
    Ok(refiners.into_iter().map(|r| r.finish()).collect())
}

/// Rows per chunk of a block in [`residual_pass`].
const RESIDUAL_CHUNK: usize = 2048;

/// One pass over the stream: the residual sums ([`ResidualSums`]) of target t at (w, b) for
/// each `(t, (w, b))` of `points`. Each block is cut into chunks of [`RESIDUAL_CHUNK`] rows
/// reduced on rayon's threads and added in order, so the result does not depend on the threads.
fn residual_pass(
    reader: &mut BlockReader,
    points: &[(usize, (ColRef<'_, f64>, Dd))],
    intercept: bool,
) -> Result<Vec<ResidualSums>> {
    use rayon::prelude::*;
    let mut totals = vec![ResidualSums::zeros(reader.d); points.len()];
    each_block(reader, |block| {
        let rows = block.x.nrows();
        let chunks: Vec<Vec<ResidualSums>> = (0..rows.div_ceil(RESIDUAL_CHUNK))
            .into_par_iter()
            .map(|c| {
                let (r0, len) = (
                    c * RESIDUAL_CHUNK,
                    RESIDUAL_CHUNK.min(rows - c * RESIDUAL_CHUNK),
                );
                points
                    .iter()
                    .map(|&(t, point)| {
                        let rows = Rows {
                            x: block.x,
                            y: block.y.col(t),
                            weights: block.weights,
                        };
                        ResidualSums::of_rows(rows.subrows(r0, len), point, intercept)
                    })
                    .collect()
            })
            .collect();
        for chunk in &chunks {
            totals
                .iter_mut()
                .zip(chunk)
                .for_each(|(total, part)| total.add(part));
        }
        Ok(())
    })?;
    Ok(totals)
}

/// Items made per λ group (`items[g][c]` belongs to target `groups[g].1[c]`), in target order.
fn in_target_order<T>(groups: &[(f64, Vec<usize>)], items: Vec<Vec<T>>) -> Vec<T> {
    let mut tagged: Vec<(usize, T)> = groups
        .iter()
        .zip(items)
        .flat_map(|((_, targets), items)| targets.iter().copied().zip(items))
        .collect();
    tagged.sort_by_key(|(t, _)| *t);
    tagged.into_iter().map(|(_, item)| item).collect()
}

#[cfg(all(test, feature = "csv", feature = "npy"))]
mod tests {
    use super::*;

    /// `Auto` releases only a large file that is not cached, and keeps it when the fit will
    /// read it again and it fits in half the memory; `Keep` and `Release` do as they say.
    #[test]
    fn auto_releases_only_large_cold_files_read_once() {
        use PageCache::{Auto, Keep, Release};
        let big = 4 << 30;
        let ram = Some(24 << 30);
        assert!(releases(Auto, big, Some(0.0), false, ram));
        assert!(releases(Auto, big, Some(0.4), false, ram));
        // Already cached, or unknown: left alone.
        assert!(!releases(Auto, big, Some(0.5), false, ram));
        assert!(!releases(Auto, big, None, false, ram));
        // Small.
        assert!(!releases(
            Auto,
            AUTO_RELEASE_BYTES - 1,
            Some(0.0),
            false,
            ram
        ));
        assert!(releases(Auto, AUTO_RELEASE_BYTES, Some(0.0), false, ram));
        // Read again: kept if it fits in half the memory, else released (or memory unknown).
        assert!(!releases(Auto, big, Some(0.0), true, ram));
        assert!(releases(Auto, big, Some(0.0), true, Some(big * 2 - 1)));
        assert!(releases(Auto, big, Some(0.0), true, None));
        for (resident, rereads) in [(None, true), (Some(1.0), false), (Some(0.0), false)] {
            assert!(!releases(Keep, big, resident, rereads, ram));
            assert!(releases(Release, 8, resident, rereads, ram));
        }
    }

    /// A pass after the first must see the first pass's data: a CSV that grew or shrank, or a
    /// `.npy` whose shape changed, between passes is an error, not a fit from mixed data.
    #[test]
    fn files_that_change_between_passes_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("d.csv");
        let rows = |n: usize| -> String {
            let body: String = (0..n).map(|i| format!("{i},{}\n", i % 7)).collect();
            format!("x,y\n{body}")
        };
        for (changed, expect) in [
            (rows(29), "30 data rows in the first pass but 29 in pass 2"),
            (rows(31), "but 31 in pass 2"),
            (rows(45), "but more than 40 in pass 2"),
        ] {
            std::fs::write(&csv, rows(30)).unwrap();
            let mut reader = BlockReader::csv(&csv, &["y"]).unwrap().block_rows(10);
            moments(&mut reader, true).unwrap();
            std::fs::write(&csv, changed).unwrap();
            reader.rewind().unwrap();
            let e = moments(&mut reader, true).unwrap_err().to_string();
            assert!(
                e.contains("changed between passes") && e.contains(expect),
                "{e}"
            );
        }
        let (x, y) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
        let write = |n: usize| {
            crate::data::write_npy_matrix(&x, Mat::<f64>::zeros(n, 2).as_ref()).unwrap();
            crate::data::write_npy_vector(&y, Col::<f64>::zeros(n).as_ref()).unwrap();
        };
        write(20);
        let mut reader = BlockReader::npy(&x, &y).unwrap();
        moments(&mut reader, true).unwrap();
        write(21);
        let e = reader.rewind().unwrap_err().to_string();
        assert!(e.contains("had shape (20, 2) and now has (21, 2)"), "{e}");
    }
}
