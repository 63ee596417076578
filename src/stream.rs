//! Ridge fits over data that need not fit in memory: row blocks read from files straight into
//! sufficient statistics, merged in order, then solved (features `npy`, `csv`).
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
//! so the merged statistics are those of the whole file up to rounding, whatever B is. The fit is
//! then the Gram system of the README ("The objective"), formed and solved exactly as the
//! in-memory `cholesky` and `normal` backends do:
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
//! **Which backends stream.** Those that need only the statistics: `cholesky` and `normal`
//! ([`BACKENDS`]). `cholesky-refined` (and `auto`, which picks it) refines with residuals
//! y − Xw computed from X in double-double, one more pass over the file per correction; `qr`,
//! `qr-refined` and `svd` factor X itself; `dual` forms the n × n kernel; the iterative
//! backends read X once per iteration. None of those is implemented over a stream, and asking
//! for one is [`Error::NotStreamable`], which names the ones that stream.
//!
//! **Reading.** A C-order `.npy` (NumPy's default) is read one contiguous run per block, in
//! 512 KiB chunks transposed into the column-major block. A Fortran-order `.npy` stores each
//! column contiguously, so a block costs d positioned reads of 8·B bytes, one per column and
//! n·8 bytes apart: the same bytes in all but d times as many system calls (on a rotating disk,
//! d seeks per block, so keep the budget large there). A CSV file is parsed record by record
//! into the block. The diagnostics of each [`Fit`] (J and ‖∇J‖) are computed from the statistics
//! ([`MomentsProblem`](crate::sufficient::MomentsProblem)), not from X, and carry the absolute error that module describes.
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
use crate::fit::Fit;
use crate::moments::Moments;
use crate::select::grid;
use crate::select::kfold::{self, Folds, KFold};
pub use crate::sufficient::{BACKENDS, check_backend, fit_moments};
use crate::sufficient::{check_lambdas, solve_targets};

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

/// What a stream read: blocks, rows, bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StreamStats {
    /// Blocks read.
    pub blocks: usize,
    /// Data rows read (n once the stream has ended).
    pub rows: usize,
    /// Bytes read from the files: the data of the `.npy` files (not their headers), or the CSV
    /// text consumed (header included) plus the weights' data.
    pub bytes: u64,
    /// Rows per block (the last block may be shorter).
    pub block_rows: usize,
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
        #[cfg(feature = "npy")]
        self.fill_weights(buf, r0, rows)?;
        if rows == 0 {
            return Ok(false);
        }
        buf.rows = rows;
        buf.first_row = r0;
        self.next_row += rows;
        self.stats.blocks += 1;
        self.stats.rows += rows;
        Ok(true)
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
    each_block(reader, |b| {
        total.merge(&Moments::compute(
            b.x,
            b.y,
            b.weights,
            centred,
            Par::rayon(0),
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
                let mut z = seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                z ^= z >> 31;
                (z % *k as u64) as usize
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
    /// Blocks, rows and bytes read.
    pub stats: StreamStats,
    /// Seconds spent reading the files and accumulating the statistics.
    pub read_seconds: f64,
}

/// Streams the reader to its end and fits every target with `solver` (one of [`BACKENDS`]): λ
/// is one value for all targets or one per target; `intercept` fits an unpenalised intercept
/// (centred statistics) or none. The backend and λ are checked before the files are read.
///
/// `Fit::solver` is `stream:<solver>`; `fit_seconds` is the whole time (reading included)
/// divided by the number of targets, as for the in-memory multi-target fits; `passes` is 1.
///
/// # Errors
///
/// [`Error::NotStreamable`] for another backend; [`Error::InvalidParameter`] for a bad λ or
/// count of λ; any read error (naming the row or line; nothing is fitted then);
/// [`Error::InvalidWeights`] when every weight is zero; the backend's numerical errors
/// (wrapped in [`Error::Target`] naming the first target of the failing λ when there are
/// several).
pub fn fit(
    reader: &mut BlockReader,
    solver: &str,
    lambdas: &[f64],
    intercept: bool,
) -> Result<Streamed> {
    check_backend(solver)?;
    let k = reader.k;
    check_lambdas(lambdas, k)?;
    let start = Instant::now();
    let m = moments(reader, intercept)?;
    let read_seconds = start.elapsed().as_secs_f64();
    if reader.weighted() && m.weight_sum() == 0.0 {
        return Err(Error::InvalidWeights {
            reason: "all weights are zero".into(),
        });
    }
    let fits = solve_targets(m, solver, lambdas, &reader.target_names, start)?;
    Ok(Streamed {
        fits,
        stats: reader.stats(),
        read_seconds,
    })
}
