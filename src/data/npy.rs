//! Reading and writing NumPy `.npy` files of `float64` values.
//!
//! Reading accepts C order (NumPy's default) and Fortran order, little-endian (`<f8`, what every
//! common machine writes) and big-endian (`>f8`). Values are decoded chunk by chunk straight into
//! the faer matrix, so only one copy of the data (and a small buffer per thread) is ever held. Writing produces C-order `<f8`, the format
//! `np.save` itself writes, so `np.load` returns an ordinary array.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use faer::reborrow::ReborrowMut;
use faer::{Col, ColRef, Mat, MatMut, MatRef};
use npyz::{DType, Order, WriteOptions, WriterBuilder};
use rayon::prelude::*;

use super::page_cache;
use crate::error::{Error, Result, quote_text};

/// Buffer size for writing and for reading the header: large enough that the per-element
/// encoding, not system calls, dominates.
const BUF_BYTES: usize = 1 << 20;

/// Bytes of data read at a time by each reading thread: a chunk plus the part of the matrix it
/// fills fit in a 1 MiB L2 cache, and 1000 system calls per GB cost nothing next to the copying.
const CHUNK_BYTES: usize = 1 << 19;

/// Rows per tile of the blocked transpose of a C-order chunk ([`transpose_chunk`]): one cache
/// line per row of the tile (8 KiB) stays in L1 while 8 consecutive columns are written from it.
const TILE_ROWS: usize = 128;

/// Files with at least this much data are read by several threads (each gets ≥ half of it).
const PARALLEL_BYTES: usize = 16 << 20;

/// Reads a 2-D `float64` array (C or Fortran order) as an n × d matrix; a 1-D array of length n
/// becomes an n × 1 matrix.
///
/// The data are streamed from the file in chunks of `CHUNK_BYTES` straight into the
/// column-major matrix, so apart from the matrix itself only one chunk buffer per thread is held.
/// A C-order file (NumPy's default: rows contiguous) is transposed chunk by chunk with a blocked
/// transpose (`TILE_ROWS` rows at a time, see `transpose_chunk`); a Fortran-order file is
/// already column-major and is decoded in place. Regular files of at least `PARALLEL_BYTES` are
/// read by rayon's threads, each with positional reads of its own contiguous part.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be opened or read; [`Error::Format`] (naming the file) if it is
/// not a `.npy` file, its dtype is not `float64` (convert with `arr.astype(np.float64)`), it has
/// more than two dimensions, it is shorter or longer than its header says, or it contains NaN or
/// ±∞ (the message gives the 0-based NumPy index of the first one in file order);
/// [`Error::Empty`] if the array has no elements.
pub fn read_npy_matrix(path: &Path) -> Result<Mat<f64>> {
    let npy = Npy::open(path)?;
    let (n, d) = npy.matrix_shape()?;
    let mut m = Mat::<f64>::zeros(n, d);
    // A 1-D array (d = 1) is one column in either order.
    if npy.order == Order::Fortran || d == 1 {
        npy.read_columns(m.as_mut())?;
    } else {
        npy.read_rows(m.as_mut())?;
    }
    npy.check_stream_end()?;
    Ok(m)
}

/// Reads a 1-D `float64` array of length n, or a 2-D array of shape (n, 1), as a column vector.
///
/// # Errors
///
/// As [`read_npy_matrix`]; in addition, an [`Error::Format`] if the array is 2-D with more than one
/// column.
pub fn read_npy_vector(path: &Path) -> Result<Col<f64>> {
    let npy = Npy::open(path)?;
    let n = match *npy.shape.as_slice() {
        [n] | [n, 1] => n,
        _ => {
            return Err(npy.format_err(format!(
                "the array has shape {} but a vector is needed: a 1-D array or a single column; \
                 pass `arr.ravel()` to np.save if it holds one value per sample",
                shape_str(&npy.shape)
            )));
        }
    };
    let mut v = Col::<f64>::zeros(n);
    npy.read_columns(v.as_mat_mut())?;
    npy.check_stream_end()?;
    Ok(v)
}

/// Writes `m` as a 2-D C-order little-endian `float64` (`<f8`) array of shape (nrows, ncols),
/// creating or truncating the file.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be created or written.
pub fn write_npy_matrix(path: &Path, m: MatRef<'_, f64>) -> Result<()> {
    let (n, d) = (m.nrows(), m.ncols());
    // C order: the last index varies fastest, so write row by row.
    write_npy(
        path,
        &[n as u64, d as u64],
        (0..n).flat_map(|i| (0..d).map(move |j| m[(i, j)])),
    )
}

/// Writes `v` as a 1-D little-endian `float64` (`<f8`) array, creating or truncating the file.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be created or written.
pub fn write_npy_vector(path: &Path, v: ColRef<'_, f64>) -> Result<()> {
    write_npy(path, &[v.nrows() as u64], v.iter().copied())
}

fn write_npy(path: &Path, shape: &[u64], values: impl Iterator<Item = f64>) -> Result<()> {
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::create(path).map_err(io_err)?;
    let mut out = BufWriter::with_capacity(BUF_BYTES, file);
    let mut writer = WriteOptions::<f64>::new()
        .dtype(DType::Plain(little_endian_f8()))
        .shape(shape)
        .writer(&mut out)
        .begin_nd()
        .map_err(io_err)?;
    for v in values {
        writer.push(&v).map_err(io_err)?;
    }
    writer.finish().map_err(io_err)?;
    // `finish` flushes, but flushing again explicitly makes sure a late write error (disk full)
    // is reported rather than lost when the buffer is dropped.
    out.flush().map_err(io_err)?;
    Ok(())
}

fn little_endian_f8() -> npyz::TypeStr {
    // A constant, well-formed type string: parsing it cannot fail.
    "<f8".parse().expect("`<f8` is a valid NumPy type string")
}

/// An opened `.npy` file whose header has been checked: `float64`, and exactly as many data bytes
/// as the shape requires.
pub(crate) struct Npy {
    path: PathBuf,
    source: Source,
    /// Byte offset of the first value.
    data_start: u64,
    big_endian: bool,
    shape: Vec<usize>,
    order: Order,
    /// Whether [`Npy::read_block`] hands the pages it has read back to the kernel
    /// ([`Npy::release_behind`]).
    release_behind: bool,
    /// Where this pass's last release of pages ended, in rows (0 before the first).
    released_rows: AtomicUsize,
}

/// The data a streamed file reads between two releases of its pages ([`Npy::release_behind`]).
/// On the development machine, reading a cold 4 GB file took 4.5–6.5 s releasing every 512 KiB
/// (never releasing: 3.8–4.2 s), 2.3–2.7 s every 3.2 MiB and 1.9–2.2 s every 16–64 MiB
/// (src/data/page_cache.rs).
const RELEASE_BYTES: usize = 32 << 20;

/// Where the data bytes come from.
enum Source {
    /// A regular file, read with positional reads so that several threads can each read their own
    /// part at once.
    #[cfg(unix)]
    Positional(File),
    /// A pipe or device (or any file on a platform without positional reads): one stream, read
    /// in order by one thread.
    Sequential(Mutex<BufReader<File>>),
}

impl Source {
    /// Fills `buf` with the bytes at `offset` (a positional source) or with the next bytes of the
    /// stream (a sequential one, which is only ever read in order, so `offset` is implied).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        match self {
            #[cfg(unix)]
            Source::Positional(file) => {
                std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
            }
            Source::Sequential(reader) => {
                let _ = offset;
                // A poisoned lock only means another reader panicked; the stream is still usable.
                let mut reader = reader.lock().unwrap_or_else(|e| e.into_inner());
                reader.read_exact(buf)
            }
        }
    }
}

impl Npy {
    fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, false)
    }

    /// Opens and checks the file; `streamed`: it will be read block by block and never held
    /// whole, so its size is not checked against the available memory, and a data length that
    /// disagrees with the header is reported with the row where the data end.
    fn open_with(path: &Path, streamed: bool) -> Result<Self> {
        let io_err = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let format_err = |message: String| Error::Format {
            path: path.to_path_buf(),
            location: None,
            message,
        };
        let file = File::open(path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        if meta.is_dir() {
            return Err(format_err(
                "this is a directory; give the path of a .npy file written by numpy.save".into(),
            ));
        }
        // Pipes and devices have no length to check lengths against; they are read in order.
        let file_len = meta.is_file().then_some(meta.len());
        let mut reader = BufReader::with_capacity(BUF_BYTES, file);
        let header = Header::read(&mut reader, file_len).map_err(|e| match e {
            HeaderError::Io(source) => io_err(source),
            HeaderError::Format(message) => format_err(message),
        })?;
        let Header {
            big_endian,
            fortran_order,
            shape,
            data_start,
        } = header;

        let too_big = || {
            format_err(format!(
                "the header declares shape {} which has more elements than this machine can \
                 address; check that the file is not corrupt",
                shape_str(&shape)
            ))
        };
        let len = shape
            .iter()
            .try_fold(1usize, |acc, &s| acc.checked_mul(s))
            .ok_or_else(too_big)?;
        let needed = (len as u64).checked_mul(8).ok_or_else(too_big)?;
        // Compare against the file size before allocating, so that a corrupt header cannot make
        // us allocate a huge matrix.
        if let Some(file_len) = file_len {
            let available = file_len.saturating_sub(data_start);
            if available != needed {
                let problem = if available < needed {
                    "the file is truncated"
                } else {
                    "the file has extra bytes after the data"
                };
                let location = (available < needed && len > 0)
                    .then(|| truncated_at(&shape, fortran_order, available / 8));
                return Err(Error::Format {
                    path: path.to_path_buf(),
                    location,
                    message: format!(
                        "{problem}: shape {} needs {needed} bytes of data but {available} follow \
                         the header; the file is corrupt or was still being written: write it \
                         again",
                        shape_str(&shape)
                    ),
                });
            }
        }
        if len == 0 {
            return Err(Error::Empty {
                what: format!(
                    "{} holds an array of shape {} with no elements",
                    path.display(),
                    shape_str(&shape)
                ),
            });
        }
        // A sparse file or a pipe can claim more data than fits in memory (a streamed file is
        // never held whole).
        if !streamed {
            super::check_memory(
                || format!("reading {} (shape {})", path.display(), shape_str(&shape)),
                Some(needed),
                "use a smaller array or a machine with more memory, or fit without loading it: \
                 `tikhonov fit --stream --solver cholesky` (`tikhonov::stream`)",
            )?;
        }

        #[cfg(unix)]
        let source = if file_len.is_some() {
            // Positional reads ignore the buffered reader's position (it may have read ahead).
            Source::Positional(reader.into_inner())
        } else {
            Source::Sequential(Mutex::new(reader))
        };
        #[cfg(not(unix))]
        let source = Source::Sequential(Mutex::new(reader));
        Ok(Npy {
            path: path.to_path_buf(),
            order: if fortran_order {
                Order::Fortran
            } else {
                Order::C
            },
            source,
            data_start,
            big_endian,
            shape,
            release_behind: false,
            released_rows: AtomicUsize::new(0),
        })
    }

    /// Opens a `.npy` file to be read block by block ([`Npy::read_block`]): the header is checked
    /// as for [`read_npy_matrix`] (and a wrong data length names the row where the data end), but
    /// not against the available memory, since the array is never held whole. A Fortran-order
    /// matrix must be a regular file: its blocks are read column by column at scattered offsets.
    pub(crate) fn open_streamed(path: &Path) -> Result<Self> {
        let npy = Self::open_with(path, true)?;
        let (_, d) = npy.matrix_shape()?;
        if npy.order == Order::Fortran && d > 1 && matches!(npy.source, Source::Sequential(_)) {
            return Err(npy.format_err(
                "a Fortran-order matrix is streamed column by column at scattered offsets, \
                 which needs a regular file, not a pipe or device; save it to a file, or in C \
                 order (`np.save(f, np.ascontiguousarray(arr))`)"
                    .into(),
            ));
        }
        Ok(npy)
    }

    /// Bytes of data (the header excluded).
    pub(crate) fn data_bytes(&self) -> u64 {
        8 * self.shape.iter().product::<usize>() as u64
    }

    /// The fraction of the data's pages already in the page cache, from a sample
    /// (src/data/page_cache.rs); `None` for a pipe or where it cannot be told.
    pub(crate) fn resident_fraction(&self) -> Option<f64> {
        match &self.source {
            #[cfg(unix)]
            Source::Positional(file) => {
                page_cache::resident_fraction(file, self.data_start, self.data_bytes())
            }
            Source::Sequential(_) => None,
        }
    }

    /// From now on, [`Npy::read_block`] hands the pages of the rows it has read back to the
    /// kernel, every [`RELEASE_BYTES`] of data and at the last row (`on`), or leaves them cached.
    /// For a single pass over a file that is not cached: see src/data/page_cache.rs for why.
    pub(crate) fn release_behind(&mut self, on: bool) {
        self.release_behind = on;
        *self.released_rows.get_mut() = 0;
    }

    /// Releases the pages of the rows read since the last release, up to `end` (exclusive),
    /// once they hold at least [`RELEASE_BYTES`] ([`Npy::release_behind`]); after the last row,
    /// every page of the data.
    ///
    /// The kernel drops only the cached folios wholly inside a range, and it caches a file
    /// read in order in folios of up to a few MiB. So a release covers whole runs of at least
    /// [`RELEASE_BYTES`] in C order, and in Fortran order (d runs, one per column) of at least
    /// [`RELEASE_BYTES`] / 8 per column, and the folios straddling two releases go in the last
    /// one, which covers the whole file.
    fn release_rows_before(&self, end: usize) {
        #[cfg(unix)]
        if let (true, Source::Positional(file)) = (self.release_behind, &self.source) {
            let Ok((n, d)) = self.matrix_shape() else {
                return;
            };
            let (from, contiguous) = (
                self.released_rows.load(Ordering::Relaxed),
                self.order == Order::C || d == 1,
            );
            let (start, data_end) = (self.data_start, self.data_start + self.data_bytes());
            if end >= n {
                page_cache::release(file, 0, data_end);
            } else if contiguous && (end - from) * 8 * d >= RELEASE_BYTES {
                page_cache::release(
                    file,
                    start + 8 * (from * d) as u64,
                    start + 8 * (end * d) as u64,
                );
            } else if !contiguous && (end - from) * 8 >= RELEASE_BYTES / 8 {
                for j in 0..d {
                    let run = (
                        start + 8 * (j * n + from) as u64,
                        start + 8 * (j * n + end) as u64,
                    );
                    page_cache::release(file, run.0, run.1);
                }
            } else {
                return;
            }
            self.released_rows.store(end, Ordering::Relaxed);
        }
        #[cfg(not(unix))]
        let _ = end;
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// (n, d) of a 2-D array, (n, 1) of a 1-D one; an error for any other number of dimensions.
    pub(crate) fn matrix_shape(&self) -> Result<(usize, usize)> {
        match *self.shape.as_slice() {
            [n] => Ok((n, 1)),
            [n, d] => Ok((n, d)),
            _ => Err(self.format_err(format!(
                "the array has {} dimensions (shape {}) but a matrix needs 1 or 2; reshape it to \
                 (n_samples, n_features) before saving",
                self.shape.len(),
                shape_str(&self.shape)
            ))),
        }
    }

    /// Reads the rows r0 .. r0 + dst.nrows() of the matrix ([`Npy::matrix_shape`]) into `dst`,
    /// a row range of an owned `Mat` (contiguous columns), on this thread.
    ///
    /// C order (and any single column): one contiguous run of the file, read in chunks of
    /// [`CHUNK_BYTES`] and transposed ([`transpose_chunk`]). Fortran order: each column's part
    /// is a contiguous run of its own, so a block costs d positioned reads of 8·rows bytes, one
    /// per column, n·8 bytes apart in the file: the same bytes in all, but d times as many
    /// system calls, and on a rotating disk d seeks per block (keep blocks large there).
    pub(crate) fn read_block(&self, r0: usize, dst: MatMut<'_, f64>) -> Result<()> {
        let (n, d) = self.matrix_shape()?;
        let rows = dst.nrows();
        if self.order == Order::C || d == 1 {
            self.read_row_range(r0, dst)?;
            self.release_rows_before(r0 + rows);
            return Ok(());
        }
        let mut dst = dst;
        let mut buf = vec![0u8; CHUNK_BYTES.min(8 * rows.max(1))];
        for j in 0..d {
            let mut done = 0;
            while done < rows {
                let len = (buf.len() / 8).min(rows - done);
                let bytes = &mut buf[..8 * len];
                self.read(8 * (j * n + r0 + done), bytes)?;
                let out = &mut column(dst.rb_mut(), j)[done..done + len];
                if !decode(bytes, out, self.big_endian) {
                    let p = out.iter().position(|v| !v.is_finite()).unwrap_or(0);
                    return Err(self.non_finite(r0 + done + p, j, out[p]));
                }
                done += len;
            }
        }
        self.release_rows_before(r0 + rows);
        Ok(())
    }

    /// For a stream (pipe, device), that no byte follows the data; a regular file's length was
    /// checked against the header in [`Npy::open`].
    fn check_stream_end(&self) -> Result<()> {
        if let Source::Sequential(reader) = &self.source {
            let mut reader = reader.lock().unwrap_or_else(|e| e.into_inner());
            let mut one = [0u8; 1];
            let extra = loop {
                match reader.read(&mut one) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(source) => {
                        return Err(Error::Io {
                            path: self.path.to_path_buf(),
                            source,
                        });
                    }
                }
            };
            if extra > 0 {
                return Err(self.format_err(format!(
                    "the stream has extra bytes after the {} values of shape {}; the data are \
                     corrupt or two arrays were concatenated: write one array with numpy.save",
                    self.shape.iter().product::<usize>(),
                    shape_str(&self.shape)
                )));
            }
        }
        Ok(())
    }

    fn format_err(&self, message: String) -> Error {
        Error::Format {
            path: self.path.to_path_buf(),
            location: None,
            message,
        }
    }

    /// How many threads to read `bytes` of data with: one per rayon thread for regular files of
    /// at least [`PARALLEL_BYTES`] (each thread then gets at least half of that), else one.
    fn workers(&self, bytes: usize) -> usize {
        match self.source {
            #[cfg(unix)]
            Source::Positional(_) if bytes >= PARALLEL_BYTES => rayon::current_num_threads()
                .min(bytes / (PARALLEL_BYTES / 2))
                .max(1),
            _ => 1,
        }
    }

    /// Reads a file whose memory order is column-major (Fortran order, or one column) into `dst`,
    /// which has the array's shape. Column j is the contiguous run of values j·n .. (j+1)·n of the
    /// file, so each thread takes a contiguous range of columns and decodes chunk by chunk.
    fn read_columns(&self, dst: MatMut<'_, f64>) -> Result<()> {
        let (n, d) = (dst.nrows(), dst.ncols());
        let per = d.div_ceil(self.workers(8 * n * d).min(d));
        first_error(
            dst.par_col_chunks_mut(per)
                .enumerate()
                .map(|(c, part)| self.read_column_range(c * per, part)),
        )
    }

    /// [`Npy::read_columns`] for the columns j0 .. j0 + part.ncols().
    fn read_column_range(&self, j0: usize, mut part: MatMut<'_, f64>) -> Result<()> {
        let (n, w) = (part.nrows(), part.ncols());
        let total = n * w;
        let mut buf = vec![0u8; CHUNK_BYTES.min(8 * total)];
        let mut done = 0;
        while done < total {
            let len = (buf.len() / 8).min(total - done);
            let bytes = &mut buf[..8 * len];
            self.read(8 * (j0 * n + done), bytes)?;
            // The chunk may start inside one column and span several (when n is small).
            let mut k = 0;
            while k < len {
                let (j, i) = ((done + k) / n, (done + k) % n);
                let run = (n - i).min(len - k);
                let out = &mut column(part.rb_mut(), j)[i..i + run];
                if !decode(&bytes[8 * k..8 * (k + run)], out, self.big_endian) {
                    // `decode` wrote every value of the run, so the culprit is the first
                    // non-finite one there.
                    let p = out.iter().position(|v| !v.is_finite()).unwrap_or(0);
                    return Err(self.non_finite(i + p, j0 + j, out[p]));
                }
                k += run;
            }
            done += len;
        }
        Ok(())
    }

    /// Reads a C-order (row-major) file into `dst`, which has the array's shape n × d: each
    /// thread takes a contiguous range of rows and transposes it chunk by chunk.
    fn read_rows(&self, dst: MatMut<'_, f64>) -> Result<()> {
        let (n, d) = (dst.nrows(), dst.ncols());
        let per = n.div_ceil(self.workers(8 * n * d).min(n));
        first_error(
            dst.par_row_chunks_mut(per)
                .enumerate()
                .map(|(c, part)| self.read_row_range(c * per, part)),
        )
    }

    /// [`Npy::read_rows`] for the rows i0 .. i0 + part.nrows().
    fn read_row_range(&self, i0: usize, mut part: MatMut<'_, f64>) -> Result<()> {
        let (n, d) = (part.nrows(), part.ncols());
        let chunk_rows = (CHUNK_BYTES / (8 * d)).clamp(1, n);
        let mut buf = vec![0u8; 8 * d * chunk_rows];
        let mut start = 0;
        while start < n {
            let rows = chunk_rows.min(n - start);
            let bytes = &mut buf[..8 * d * rows];
            self.read(8 * (i0 + start) * d, bytes)?;
            if !transpose_chunk(
                bytes,
                part.rb_mut().subrows_mut(start, rows),
                self.big_endian,
            ) {
                // Locate the first non-finite value in file order for the message.
                let k = bytes
                    .chunks_exact(8)
                    .position(|b| !to_f64(b, self.big_endian).is_finite())
                    .unwrap_or(0);
                let v = to_f64(&bytes[8 * k..8 * k + 8], self.big_endian);
                return Err(self.non_finite(i0 + start + k / d, k % d, v));
            }
            start += rows;
        }
        Ok(())
    }

    /// Fills `buf` with the data bytes starting `offset` bytes after the header.
    fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.source
            .read_at(self.data_start + offset as u64, buf)
            .map_err(|source| {
                // The first row this read covers, for the message (the row of a Fortran-order
                // matrix's value is its index within its column).
                let value = offset / 8;
                let row = match *self.shape.as_slice() {
                    [n, d] if d > 1 && self.order == Order::Fortran => value % n.max(1),
                    [_, d] => value / d.max(1),
                    _ => value,
                };
                let location = Some(format!("data rows from {} (1-based)", row + 1));
                if source.kind() == io::ErrorKind::UnexpectedEof {
                    // `open` checked a regular file's data length against its size, so running
                    // out means the file changed underneath us; a stream is simply truncated.
                    let message = match self.source {
                        Source::Sequential(_) => format!(
                            "the stream ended before all values of shape {} were read; the data \
                             are truncated: write the whole array with numpy.save",
                            shape_str(&self.shape)
                        ),
                        #[cfg(unix)]
                        Source::Positional(_) => "the file ended before all values were read; it \
                                                  was probably modified while being read: read \
                                                  it again"
                            .into(),
                    };
                    Error::Format {
                        path: self.path.to_path_buf(),
                        location,
                        message,
                    }
                } else {
                    Error::Io {
                        path: self.path.to_path_buf(),
                        source,
                    }
                }
            })
    }

    /// The error for the non-finite value `v` at element [i, j] of the array.
    fn non_finite(&self, i: usize, j: usize, v: f64) -> Error {
        Error::Format {
            path: self.path.to_path_buf(),
            location: Some(if self.shape.len() == 1 {
                format!("index [{i}] (0-based)")
            } else {
                format!("index [{i}, {j}] (0-based)")
            }),
            message: format!(
                "non-finite value ({v}); remove or impute missing and infinite values before \
                 saving the array"
            ),
        }
    }
}

/// The first error of the workers' results, in their (file) order, or `Ok`.
fn first_error(results: impl IndexedParallelIterator<Item = Result<()>>) -> Result<()> {
    results.collect::<Vec<_>>().into_iter().collect()
}

/// Column j of a view of a freshly allocated `Mat` as a slice.
fn column(m: MatMut<'_, f64>, j: usize) -> &mut [f64] {
    // Views of an owned `Mat` (and their row/column ranges) have unit row stride.
    m.col_mut(j)
        .try_as_col_major_mut()
        .expect("a column of an owned Mat is contiguous")
        .as_slice_mut()
}

/// One `float64` from its 8 bytes in the file's byte order.
#[inline(always)]
fn to_f64(b: &[u8], big_endian: bool) -> f64 {
    // Callers pass exactly 8 bytes (`chunks_exact(8)` or an 8-byte range).
    let b: [u8; 8] = b.try_into().expect("8 bytes");
    if big_endian {
        f64::from_be_bytes(b)
    } else {
        f64::from_le_bytes(b)
    }
}

/// Decodes `bytes` (8 per value, the file's byte order) into `out`; `false` if any value is NaN
/// or ±∞.
fn decode(bytes: &[u8], out: &mut [f64], big_endian: bool) -> bool {
    let mut finite = true;
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        let v = to_f64(b, big_endian);
        finite &= v.is_finite();
        *o = v;
    }
    finite
}

/// Writes the row-major `rows × d` block `bytes` (8 per value, the file's byte order) into the
/// column-major `dst`; `false` if any value is NaN or ±∞.
///
/// Blocked transpose: for a tile of [`TILE_ROWS`] rows, column j is written as one contiguous run
/// of the tile's rows, reading value j of each row. The tile's rows touch only `TILE_ROWS` cache
/// lines of `bytes` per column, and consecutive columns reuse those lines (8 values each) from L1,
/// so every byte is loaded from memory once and every write is sequential; a plain row-by-row
/// fill instead writes d scattered columns per row.
fn transpose_chunk(bytes: &[u8], mut dst: MatMut<'_, f64>, big_endian: bool) -> bool {
    let (rows, d) = (dst.nrows(), dst.ncols());
    let mut finite = true;
    let mut i0 = 0;
    while i0 < rows {
        let h = TILE_ROWS.min(rows - i0);
        let tile = &bytes[8 * d * i0..8 * d * (i0 + h)];
        for j in 0..d {
            let out = &mut column(dst.rb_mut(), j)[i0..i0 + h];
            for (o, row) in out.iter_mut().zip(tile.chunks_exact(8 * d)) {
                let v = to_f64(&row[8 * j..8 * j + 8], big_endian);
                finite &= v.is_finite();
                *o = v;
            }
        }
        i0 += h;
    }
    finite
}

/// Where the data of a truncated array of `shape` end when only `values` values are present:
/// the 1-based data row (and, for a Fortran-order matrix, whose columns follow each other, the
/// column) whose value is the first one missing.
fn truncated_at(shape: &[usize], fortran_order: bool, values: u64) -> String {
    let values = usize::try_from(values).unwrap_or(usize::MAX);
    match *shape {
        [_, d] if d > 1 && !fortran_order => {
            format!("data row {} (1-based) is incomplete", values / d + 1)
        }
        [n, d] if d > 1 && n > 0 => format!(
            "Fortran order: column {} (0-based) ends before data row {} (1-based)",
            values / n,
            values % n + 1
        ),
        [_] | [_, _] => format!("data row {} (1-based) is missing", values + 1),
        _ => format!("value {values} (0-based, in file order) is missing"),
    }
}

/// NumPy's spelling of a shape: `(3,)`, `(3, 4)`; a shape of many dimensions is cut short
/// (`(1, 1, 1, … 100000 dimensions)`) so that a message stays one readable line.
fn shape_str<T: std::fmt::Display>(shape: &[T]) -> String {
    const MAX_SHOWN: usize = 6;
    match shape {
        [n] => format!("({n},)"),
        _ if shape.len() > MAX_SHOWN => format!(
            "({}, … {} dimensions)",
            shape[..MAX_SHOWN]
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            shape.len()
        ),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The longest header accepted: `numpy.save` writes ~128 bytes (numpy itself refuses headers
/// over 10 000 bytes by default), so anything longer is corrupt or hostile, and this bounds what
/// a stream's header can make us allocate.
const MAX_HEADER_BYTES: u64 = 1 << 20;

/// The checked header of a `.npy` file: a `float64` array, its shape and where the data start.
#[derive(Debug)]
struct Header {
    big_endian: bool,
    fortran_order: bool,
    shape: Vec<usize>,
    /// Byte offset of the first value: magic, version, length field and header text.
    data_start: u64,
}

/// Why a header was refused: the file could not be read, or its content is wrong (the message).
enum HeaderError {
    Io(io::Error),
    Format(String),
}

impl Header {
    /// Reads and checks the header from `reader` (positioned at the start of the file), leaving
    /// it at the first data byte. Every length is checked against `file_len` (when the source
    /// has one) and [`MAX_HEADER_BYTES`] before anything of that length is allocated.
    fn read(reader: &mut impl Read, file_len: Option<u64>) -> Result<Self, HeaderError> {
        let not_npy = |what: &str| {
            HeaderError::Format(format!(
                "not a valid .npy file ({what}); write it with numpy.save (`.npz` archives, pickles \
                 and text files are not supported)"
            ))
        };
        let mut prefix = [0u8; 8];
        read_full(reader, &mut prefix)
            .map_err(HeaderError::Io)?
            .then_some(())
            .ok_or_else(|| not_npy("shorter than the 10 bytes of a .npy preamble"))?;
        if &prefix[..6] != b"\x93NUMPY" {
            let text = prefix
                .iter()
                .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
            return Err(not_npy(if text {
                "it starts like a text file; a CSV file goes with --data FILE.csv --target COL"
            } else {
                "it does not start with the bytes \\x93NUMPY"
            }));
        }
        let (major, minor) = (prefix[6], prefix[7]);
        let field = match major {
            1 => 2,
            2 | 3 => 4,
            _ => {
                return Err(HeaderError::Format(format!(
                    "unsupported .npy format version {major}.{minor} (versions 1.0, 2.0 and 3.0 \
                     are read); write the file with numpy.save"
                )));
            }
        };
        let mut len_bytes = [0u8; 4];
        read_full(reader, &mut len_bytes[..field])
            .map_err(HeaderError::Io)?
            .then_some(())
            .ok_or_else(|| not_npy("the file ends inside the header length"))?;
        let header_len = u64::from(u32::from_le_bytes(len_bytes));
        let data_start = 8 + field as u64 + header_len;
        if let Some(file_len) = file_len
            && data_start > file_len
        {
            return Err(HeaderError::Format(format!(
                "the header claims {header_len} bytes but the file has only {file_len} in all; \
                 the file is truncated or corrupt: write it again with numpy.save"
            )));
        }
        if header_len > MAX_HEADER_BYTES {
            return Err(HeaderError::Format(format!(
                "the header claims {header_len} bytes, more than the {MAX_HEADER_BYTES} accepted \
                 (numpy.save writes about 128); the file is corrupt: write it again with numpy.save"
            )));
        }
        // Bounded by MAX_HEADER_BYTES (and by the file's length) just above.
        let mut text = vec![0u8; header_len as usize];
        read_full(reader, &mut text)
            .map_err(HeaderError::Io)?
            .then_some(())
            .ok_or_else(|| not_npy("the stream ends inside the header"))?;
        let text = if major == 3 {
            String::from_utf8(text).map_err(|_| not_npy("the version 3 header is not UTF-8"))?
        } else {
            // Versions 1 and 2 are latin-1.
            text.iter().map(|&b| char::from(b)).collect()
        };
        let dict = parse_header(&text).map_err(|why| {
            HeaderError::Format(format!(
                "the header {} is not a valid .npy header ({why}); write the file with numpy.save",
                quote_text(text.trim_end(), 80)
            ))
        })?;
        let big_endian = match dict.descr.as_str() {
            "<f8" | "=f8" | "f8" | "<d" | "=d" | "d" | "float64" => false,
            ">f8" | ">d" => true,
            other => {
                return Err(HeaderError::Format(format!(
                    "the array has dtype `{}` but float64 is needed; convert it with \
                     `arr.astype(np.float64)` before saving",
                    quote_text(other, 80)
                )));
            }
        };
        Ok(Header {
            big_endian,
            fortran_order: dict.fortran_order,
            shape: dict.shape,
            data_start,
        })
    }
}

/// Fills `buf` from `reader`; `false` if the stream ends first.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match reader.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// The three entries of a `.npy` header dictionary.
#[derive(Debug, PartialEq)]
struct HeaderDict {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parses the Python literal `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`
/// (quotes either way, any spacing, trailing commas, `L` suffixes of Python 2) without recursion.
/// A `descr` that is not a string (a structured dtype, a list) is refused.
fn parse_header(text: &str) -> std::result::Result<HeaderDict, String> {
    let mut p = Lexer {
        s: text.as_bytes(),
        i: 0,
    };
    p.expect(b'{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p.skip_space();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.skip_space();
        p.expect(b':')?;
        p.skip_space();
        match key.as_str() {
            "descr" => {
                if p.peek() == Some(b'[') {
                    return Err(
                        "a structured dtype; save a plain float64 array (`arr.astype(np.float64)`)"
                            .into(),
                    );
                }
                descr = Some(p.string()?);
            }
            "fortran_order" => fortran = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            other => return Err(format!("unexpected key {}", quote_text(other, 40))),
        }
        p.skip_space();
        if !p.eat(b',') {
            p.skip_space();
            p.expect(b'}')?;
            break;
        }
    }
    p.skip_space();
    if p.i != p.s.len() {
        return Err("text after the dictionary".into());
    }
    Ok(HeaderDict {
        descr: descr.ok_or("no 'descr' key")?,
        fortran_order: fortran.ok_or("no 'fortran_order' key")?,
        shape: shape.ok_or("no 'shape' key")?,
    })
}

/// A cursor over the header text.
struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += usize::from(hit);
        hit
    }
    fn expect(&mut self, c: u8) -> std::result::Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected `{}` at byte {}", char::from(c), self.i))
        }
    }
    fn string(&mut self) -> std::result::Result<String, String> {
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("expected a quoted string at byte {}", self.i)),
        };
        self.i += 1;
        let start = self.i;
        while let Some(c) = self.peek() {
            if c == quote {
                let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                return Ok(text);
            }
            self.i += 1;
        }
        Err("unterminated string".into())
    }
    fn boolean(&mut self) -> std::result::Result<bool, String> {
        for (word, value) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s[self.i..].starts_with(word) {
                self.i += word.len();
                return Ok(value);
            }
        }
        Err(format!("expected True or False at byte {}", self.i))
    }
    fn tuple(&mut self) -> std::result::Result<Vec<usize>, String> {
        let close = if self.eat(b'(') {
            b')'
        } else if self.eat(b'[') {
            b']'
        } else {
            return Err(format!("expected a tuple of sizes at byte {}", self.i));
        };
        let mut dims = Vec::new();
        loop {
            self.skip_space();
            if self.eat(close) {
                return Ok(dims);
            }
            let start = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            if start == self.i {
                return Err(format!("expected a non-negative size at byte {}", self.i));
            }
            // ASCII digits only, so the slice is UTF-8.
            let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
            let dim = digits
                .parse::<usize>()
                .map_err(|_| format!("size {} is too large", quote_text(digits, 30)))?;
            dims.push(dim);
            self.eat(b'L');
            self.skip_space();
            if !self.eat(b',') {
                self.skip_space();
                return if self.eat(close) {
                    Ok(dims)
                } else {
                    Err(format!(
                        "expected `,` or `{}` at byte {}",
                        char::from(close),
                        self.i
                    ))
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use npyz::NpyFile;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().expect("create temp dir")
    }

    fn sample(n: usize, d: usize) -> Mat<f64> {
        Mat::from_fn(n, d, |i, j| (i * 10 + j) as f64 + 0.25 * (j as f64) - 3.5)
    }

    /// Writes `values` (already in file order) with the given dtype, order and shape through npyz.
    fn write_raw<T: npyz::Serialize>(
        path: &Path,
        dtype: &str,
        order: Order,
        shape: &[u64],
        values: &[T],
    ) {
        let mut out = Vec::new();
        let mut w = WriteOptions::<T>::new()
            .dtype(DType::Plain(dtype.parse().unwrap()))
            .order(order)
            .shape(shape)
            .writer(&mut out)
            .begin_nd()
            .unwrap();
        for v in values {
            w.push(v).unwrap();
        }
        w.finish().unwrap();
        std::fs::write(path, out).unwrap();
    }

    /// A streamed read that releases behind it leaves none of the file's pages cached, in C and
    /// Fortran order, and reads the same values as one that keeps them. Skipped where the page
    /// cache cannot be probed (not Linux) or keeps pages whatever it is told (tmpfs).
    #[test]
    fn released_pages_leave_the_page_cache() {
        let dir = tmp();
        let (n, d) = (6000, 50);
        let m = sample(n, d);
        let c = dir.path().join("c.npy");
        write_npy_matrix(&c, m.as_ref()).unwrap();
        let fortran: Vec<f64> = (0..d)
            .flat_map(|j| m.col(j).iter().copied().collect::<Vec<_>>())
            .collect();
        let f = dir.path().join("f.npy");
        write_raw(&f, "<f8", Order::Fortran, &[n as u64, d as u64], &fortran);
        for path in [&c, &f] {
            // Written back and read whole: clean pages, all cached.
            File::open(path).unwrap().sync_all().unwrap();
            let _ = std::fs::read(path).unwrap();
            let read = |release: bool| {
                let mut npy = Npy::open_streamed(path).unwrap();
                npy.release_behind(release);
                let mut out = Mat::<f64>::zeros(n, d);
                for r0 in (0..n).step_by(1000) {
                    npy.read_block(r0, out.as_mut().subrows_mut(r0, 1000))
                        .unwrap();
                }
                (out, npy.resident_fraction())
            };
            let (kept, resident) = read(false);
            assert_eq!(kept, m);
            if resident != Some(1.0) {
                eprintln!("skipped: the page cache cannot be probed here ({resident:?})");
                return;
            }
            let (released, resident) = read(true);
            assert_eq!(released, m);
            if resident != Some(0.0) {
                // Only a file system that ignores the advice may keep them.
                let npy = Npy::open_streamed(path).unwrap();
                let Source::Positional(file) = &npy.source else {
                    unreachable!("a regular file is read with positional reads")
                };
                page_cache::release(file, 0, npy.data_start + npy.data_bytes());
                assert_eq!(
                    npy.resident_fraction(),
                    resident,
                    "{}: the reader left {resident:?} of the pages that releasing the whole \
                     file drops",
                    path.display()
                );
                eprintln!("skipped: this file system keeps pages it is told to drop");
            }
        }
    }

    #[test]
    fn c_order_round_trip() {
        let dir = tmp();
        let p = dir.path().join("m.npy");
        let m = sample(7, 3);
        write_npy_matrix(&p, m.as_ref()).unwrap();
        // The file really is C order: the second value is m[0, 1].
        let file = NpyFile::new(BufReader::new(File::open(&p).unwrap())).unwrap();
        assert_eq!(file.order(), Order::C);
        assert_eq!(file.shape(), &[7, 3]);
        let flat: Vec<f64> = file.into_vec().unwrap();
        assert_eq!(flat[1], m[(0, 1)]);

        let back = read_npy_matrix(&p).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn fortran_order_is_read() {
        let dir = tmp();
        let p = dir.path().join("f.npy");
        let m = sample(5, 4);
        // Fortran order: the first index varies fastest, i.e. column by column.
        let flat: Vec<f64> = (0..4)
            .flat_map(|j| (0..5).map(move |i| (i, j)))
            .map(|(i, j)| m[(i, j)])
            .collect();
        write_raw(&p, "<f8", Order::Fortran, &[5, 4], &flat);
        assert_eq!(read_npy_matrix(&p).unwrap(), m);
    }

    #[test]
    fn c_and_fortran_order_load_identically() {
        // Non-square, odd sizes that are not multiples of the tile or the chunk: (2101, 1003)
        // has 16.9 MB of data, so it is read by several threads, in chunks of 65 rows (C) or
        // of 65 536 values spanning column boundaries (Fortran); (517, 3) has several transpose
        // tiles in one chunk. Both byte orders go through the same paths.
        let dir = tmp();
        for (n, d, dtype) in [(2101usize, 1003usize, "<f8"), (517, 3, ">f8")] {
            assert!(!n.is_multiple_of(TILE_ROWS) && !(CHUNK_BYTES / 8).is_multiple_of(n));
            let m = Mat::from_fn(n, d, |i, j| (i as f64) * 1.5 - (j as f64) * 1e-3 + 0.125);
            let c: Vec<f64> = (0..n)
                .flat_map(|i| (0..d).map(move |j| (i, j)))
                .map(|(i, j)| m[(i, j)])
                .collect();
            let f: Vec<f64> = (0..d)
                .flat_map(|j| (0..n).map(move |i| (i, j)))
                .map(|(i, j)| m[(i, j)])
                .collect();
            let (pc, pf) = (dir.path().join("c.npy"), dir.path().join("f.npy"));
            write_raw(&pc, dtype, Order::C, &[n as u64, d as u64], &c);
            write_raw(&pf, dtype, Order::Fortran, &[n as u64, d as u64], &f);
            let (mc, mf) = (read_npy_matrix(&pc).unwrap(), read_npy_matrix(&pf).unwrap());
            assert_eq!(mc, m, "C order, {n} x {d}");
            assert_eq!(mf, m, "Fortran order, {n} x {d}");
        }
    }

    #[test]
    fn big_endian_is_read() {
        let dir = tmp();
        let p = dir.path().join("be.npy");
        let m = sample(3, 2);
        let flat: Vec<f64> = (0..3)
            .flat_map(|i| (0..2).map(move |j| (i, j)))
            .map(|(i, j)| m[(i, j)])
            .collect();
        write_raw(&p, ">f8", Order::C, &[3, 2], &flat);
        assert_eq!(read_npy_matrix(&p).unwrap(), m);
    }

    #[test]
    fn vectors_one_and_two_dimensional() {
        let dir = tmp();
        let p = dir.path().join("v.npy");
        let v = Col::from_fn(6, |i| i as f64 * 1.5 - 2.0);
        write_npy_vector(&p, v.as_ref()).unwrap();
        let file = NpyFile::new(BufReader::new(File::open(&p).unwrap())).unwrap();
        assert_eq!(file.shape(), &[6]);
        assert_eq!(read_npy_vector(&p).unwrap(), v);
        // A 1-D array read as a matrix is one column.
        let m = read_npy_matrix(&p).unwrap();
        assert_eq!((m.nrows(), m.ncols()), (6, 1));
        assert_eq!(m.col(0).to_owned(), v);

        // An (n, 1) matrix is accepted as a vector; an (n, 2) one is not.
        let q = dir.path().join("col.npy");
        write_npy_matrix(&q, v.as_mat()).unwrap();
        assert_eq!(read_npy_vector(&q).unwrap(), v);
        let r = dir.path().join("two.npy");
        write_npy_matrix(&r, sample(3, 2).as_ref()).unwrap();
        let e = read_npy_vector(&r).unwrap_err().to_string();
        assert!(e.contains("(3, 2)") && e.contains("two.npy"), "{e}");
    }

    #[test]
    fn wrong_dtype_says_how_to_convert() {
        let dir = tmp();
        let p = dir.path().join("f32.npy");
        write_raw(&p, "<f4", Order::C, &[2, 2], &[1.0f32, 2.0, 3.0, 4.0]);
        let e = read_npy_matrix(&p).unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, Error::Format { .. }), "{m}");
        assert!(m.contains("<f4") && m.contains("astype(np.float64)"), "{m}");
        assert!(m.contains("f32.npy"), "{m}");

        let p = dir.path().join("i64.npy");
        write_raw(&p, "<i8", Order::C, &[3], &[1i64, 2, 3]);
        let m = read_npy_vector(&p).unwrap_err().to_string();
        assert!(m.contains("astype(np.float64)"), "{m}");
    }

    #[test]
    fn three_dimensions_rejected() {
        let dir = tmp();
        let p = dir.path().join("cube.npy");
        write_raw(&p, "<f8", Order::C, &[2, 2, 2], &[0.0f64; 8]);
        let m = read_npy_matrix(&p).unwrap_err().to_string();
        assert!(m.contains("3 dimensions") && m.contains("(2, 2, 2)"), "{m}");
    }

    #[test]
    fn non_finite_values_rejected_with_index() {
        let dir = tmp();
        let p = dir.path().join("nan.npy");
        let mut m = sample(4, 3);
        m[(2, 1)] = f64::NAN;
        write_npy_matrix(&p, m.as_ref()).unwrap();
        let msg = read_npy_matrix(&p).unwrap_err().to_string();
        assert!(
            msg.contains("[2, 1]") && msg.contains("remove or impute"),
            "{msg}"
        );

        // 1-D arrays get a 1-D index; the same file read as a vector fails the same way.
        let q = dir.path().join("inf.npy");
        let mut v = Col::from_fn(5, |i| i as f64);
        v[3] = f64::NEG_INFINITY;
        write_npy_vector(&q, v.as_ref()).unwrap();
        let msg = read_npy_vector(&q).unwrap_err().to_string();
        assert!(
            msg.contains("index [3] ") && msg.contains("inf.npy"),
            "{msg}"
        );
        let msg = read_npy_matrix(&q).unwrap_err().to_string();
        assert!(msg.contains("index [3] "), "{msg}");
    }

    #[test]
    fn truncated_and_garbage_files() {
        let dir = tmp();
        let p = dir.path().join("t.npy");
        write_npy_matrix(&p, sample(10, 3).as_ref()).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 8]).unwrap();
        let m = read_npy_matrix(&p).unwrap_err().to_string();
        assert!(m.contains("truncated"), "{m}");

        let g = dir.path().join("g.npy");
        std::fs::write(&g, b"x1,x2\n1,2\n").unwrap();
        let e = read_npy_matrix(&g).unwrap_err();
        assert!(matches!(e, Error::Format { .. }), "{e}");
        assert!(e.to_string().contains("not a valid .npy file"), "{e}");

        let e = read_npy_matrix(&dir.path().join("missing.npy")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }), "{e}");
    }

    #[test]
    fn empty_array_is_empty_error() {
        let dir = tmp();
        let p = dir.path().join("e.npy");
        write_npy_matrix(&p, Mat::<f64>::zeros(0, 3).as_ref()).unwrap();
        assert!(matches!(read_npy_matrix(&p), Err(Error::Empty { .. })));
    }

    #[test]
    fn header_dictionaries_as_numpy_and_hands_write_them() {
        let ok = |text: &str| parse_header(text).unwrap();
        let h = ok("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }   \n");
        assert_eq!(
            h,
            HeaderDict {
                descr: "<f8".into(),
                fortran_order: false,
                shape: vec![3, 4]
            }
        );
        let h = ok("{\"shape\":[5L],\"fortran_order\":True,\"descr\":\">f8\"}");
        assert_eq!(
            (h.shape, h.fortran_order, h.descr.as_str()),
            (vec![5], true, ">f8")
        );
        assert_eq!(
            ok("{'descr': '<f8', 'fortran_order': False, 'shape': ()}").shape,
            Vec::<usize>::new()
        );
        for bad in [
            "",
            "{",
            "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,)}",
            "{'descr': '<f8', 'fortran_order': 0, 'shape': (3,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-3,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,)}",
            "{'descr': '<f8', 'fortran_order': False}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'extra': 1}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,)} trailing",
        ] {
            assert!(parse_header(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lengths_are_checked_before_anything_is_allocated() {
        let dir = tmp();
        let p = dir.path().join("evil.npy");
        // A version 2 header length of 4 GiB in a 20-byte file.
        let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
        bytes.extend(0xFFFF_FFF0u32.to_le_bytes());
        bytes.extend(b"{}xxxxxx");
        std::fs::write(&p, &bytes).unwrap();
        let m = read_npy_matrix(&p).unwrap_err().to_string();
        assert!(m.contains("4294967280") && m.contains("only 20"), "{m}");
        // Version 4 does not exist; a file shorter than the preamble is not .npy.
        std::fs::write(&p, b"\x93NUMPY\x04\x00\x10\x00").unwrap();
        let m = read_npy_matrix(&p).unwrap_err().to_string();
        assert!(m.contains("version 4.0"), "{m}");
        std::fs::write(&p, b"\x93NUM").unwrap();
        let m = read_npy_matrix(&p).unwrap_err().to_string();
        assert!(m.contains("not a valid .npy file"), "{m}");
    }
}
