//! Reading and writing NumPy `.npy` files of `float64` values.
//!
//! Reading accepts C order (NumPy's default) and Fortran order, little-endian (`<f8`, what every
//! common machine writes) and big-endian (`>f8`). Values are decoded straight into the faer matrix,
//! so only one copy of the data is ever held. Writing produces C-order `<f8`, the format
//! `np.save` itself writes, so `np.load` returns an ordinary array.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Seek, Write};
use std::path::Path;

use faer::{Col, ColRef, Mat, MatRef};
use npyz::{DType, NpyFile, NpyHeader, Order, TypeChar, WriteOptions, WriterBuilder};

use crate::error::{Error, Result};

/// Buffer size for file I/O: large enough that the per-element decoding, not system calls,
/// dominates.
const BUF_BYTES: usize = 1 << 20;

/// Reads a 2-D `float64` array (C or Fortran order) as an n × d matrix; a 1-D array of length n
/// becomes an n × 1 matrix.
///
/// # Errors
///
/// [`Error::Io`] if the file cannot be opened or read; [`Error::Format`] (naming the file) if it is
/// not a `.npy` file, its dtype is not `float64` (convert with `arr.astype(np.float64)`), it has
/// more than two dimensions, it is shorter or longer than its header says, or it contains NaN or
/// ±∞ (the message gives the 0-based NumPy index); [`Error::Empty`] if the array has no elements.
pub fn read_npy_matrix(path: &Path) -> Result<Mat<f64>> {
    let npy = Npy::open(path)?;
    let (n, d) = match *npy.shape.as_slice() {
        [n] => (n, 1),
        [n, d] => (n, d),
        _ => {
            return Err(npy.format_err(format!(
                "the array has {} dimensions (shape {}) but a matrix needs 1 or 2; reshape it to \
                 (n_samples, n_features) before saving",
                npy.shape.len(),
                shape_str(&npy.shape)
            )));
        }
    };
    let (mut values, order) = npy.values()?;
    let mut m = Mat::<f64>::zeros(n, d);
    // The file holds the array in its memory order; a 1-D array (d = 1) is one column either way.
    if order == Order::Fortran || d == 1 {
        for j in 0..d {
            for (i, slot) in m.col_as_slice_mut(j).iter_mut().enumerate() {
                *slot = values.next(i, j)?;
            }
        }
    } else {
        // C order: fill row by row. Consecutive rows land next to each other in each column, so
        // the d cache lines being written are reused for several rows.
        for i in 0..n {
            for j in 0..d {
                m[(i, j)] = values.next(i, j)?;
            }
        }
    }
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
    let (mut values, _) = npy.values()?;
    let mut v = Col::<f64>::zeros(n);
    for (i, slot) in v.iter_mut().enumerate() {
        *slot = values.next(i, 0)?;
    }
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
struct Npy<'p> {
    path: &'p Path,
    header: NpyHeader,
    reader: BufReader<File>,
    shape: Vec<usize>,
    order: Order,
}

impl<'p> Npy<'p> {
    fn open(path: &'p Path) -> Result<Self> {
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
        // Pipes and devices have no length to check the data against.
        let file_len = meta.is_file().then_some(meta.len());
        let mut reader = BufReader::with_capacity(BUF_BYTES, file);
        let header = NpyHeader::from_reader(&mut reader).map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof | io::ErrorKind::Other => {
                format_err(format!(
                    "not a valid .npy file ({e}); write it with numpy.save (`.npz` archives, \
                     pickles and text files are not supported)"
                ))
            }
            _ => io_err(e),
        })?;

        let dtype = header.dtype();
        let is_f8 = matches!(&dtype, DType::Plain(ts) if ts.type_char() == TypeChar::Float
            && ts.size_field() == 8);
        if !is_f8 {
            return Err(format_err(format!(
                "the array has dtype `{}` but float64 is needed; convert it with \
                 `arr.astype(np.float64)` before saving",
                dtype.descr()
            )));
        }

        let too_big = || {
            format_err(format!(
                "the header declares shape {} which is too large for this machine's memory; \
                 check that the file is not corrupt",
                shape_str(header.shape())
            ))
        };
        let shape: Vec<usize> = header
            .shape()
            .iter()
            .map(|&s| usize::try_from(s).map_err(|_| too_big()))
            .collect::<Result<_>>()?;
        let len = shape
            .iter()
            .try_fold(1usize, |acc, &s| acc.checked_mul(s))
            .ok_or_else(too_big)?;
        // Compare against the file size before allocating, so that a corrupt header cannot make
        // us allocate a huge matrix.
        let needed = (len as u64).checked_mul(8).ok_or_else(too_big)?;
        if let Some(file_len) = file_len {
            let data_start = reader.stream_position().map_err(io_err)?;
            let available = file_len.saturating_sub(data_start);
            if available != needed {
                let problem = if available < needed {
                    "the file is truncated"
                } else {
                    "the file has extra bytes after the data"
                };
                return Err(format_err(format!(
                    "{problem}: shape {} needs {needed} bytes of data but {available} follow the \
                 header; the file is corrupt or was still being written: write it again",
                    shape_str(&shape)
                )));
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

        Ok(Npy {
            path,
            order: header.order(),
            header,
            reader,
            shape,
        })
    }

    fn format_err(&self, message: String) -> Error {
        Error::Format {
            path: self.path.to_path_buf(),
            location: None,
            message,
        }
    }

    /// The values in file order, and that order.
    fn values(self) -> Result<(Values<'p>, Order)> {
        let Npy {
            path,
            header,
            reader,
            shape,
            order,
        } = self;
        let inner = NpyFile::with_header(header, reader)
            .data::<f64>()
            // Unreachable in practice: `open` accepted only float64 dtypes, which npyz decodes.
            .map_err(|e| Error::Format {
                path: path.to_path_buf(),
                location: None,
                message: format!("cannot decode the data as float64 ({e})"),
            })?;
        let values = Values {
            path,
            ndim: shape.len(),
            inner,
        };
        Ok((values, order))
    }
}

/// The data of an opened file, decoded one value at a time in file order.
struct Values<'p> {
    path: &'p Path,
    ndim: usize,
    inner: npyz::NpyReader<f64, BufReader<File>>,
}

impl Values<'_> {
    /// The next value, which is element `[i, j]` of the array (used only in messages), checked to
    /// be finite.
    fn next(&mut self, i: usize, j: usize) -> Result<f64> {
        let v = match self.inner.next() {
            Some(Ok(v)) => v,
            // `open` checked the data length against the file size, so running out (or an
            // unexpected end) means the file changed underneath us.
            None => return Err(self.shrank()),
            Some(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(self.shrank()),
            Some(Err(source)) => {
                return Err(Error::Io {
                    path: self.path.to_path_buf(),
                    source,
                });
            }
        };
        if v.is_finite() {
            return Ok(v);
        }
        Err(Error::Format {
            path: self.path.to_path_buf(),
            location: Some(if self.ndim == 1 {
                format!("index [{i}] (0-based)")
            } else {
                format!("index [{i}, {j}] (0-based)")
            }),
            message: format!(
                "non-finite value ({v}); remove or impute missing and infinite values before \
                 saving the array"
            ),
        })
    }

    fn shrank(&self) -> Error {
        Error::Format {
            path: self.path.to_path_buf(),
            location: None,
            message: "the file ended before all values were read; it was probably modified while \
                      being read: read it again"
                .into(),
        }
    }
}

/// NumPy's spelling of a shape: `(3,)`, `(3, 4)`.
fn shape_str<T: std::fmt::Display>(shape: &[T]) -> String {
    match shape {
        [n] => format!("({n},)"),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
