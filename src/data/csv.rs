//! Reading a numeric CSV file with a header row into a design matrix and one or more targets.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use ::csv::Position;
use faer::Mat;

use crate::error::{Error, Result, quote_text};

/// A data set read from a file: the design matrix, the targets and the column names.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Features, n × d: every column of the file that is not a target, in file order.
    pub x: Mat<f64>,
    /// Targets, n × k: one column per requested target, in the order they were requested.
    pub y: Mat<f64>,
    /// Names of the columns of `x`, from the header row.
    pub feature_names: Vec<String>,
    /// Names of the columns of `y`, as requested.
    pub target_names: Vec<String>,
}

/// A data set whose target columns are kept as text: for class labels (any two values, see
/// [`crate::logistic::BinaryLabels::from_text`]), or for prediction, where the targets are only
/// columns to leave out.
#[derive(Debug, Clone)]
pub struct TextDataset {
    /// Features, n × d: every column of the file that is not a target, in file order.
    pub x: Mat<f64>,
    /// One vector of n cells per requested target (trimmed, never empty), in the order requested.
    pub targets: Vec<Vec<String>>,
    /// Names of the columns of `x`, from the header row.
    pub feature_names: Vec<String>,
    /// Names of the target columns, as requested.
    pub target_names: Vec<String>,
}

/// Reads a comma-separated file whose first row names the columns.
///
/// The columns named in `targets` (one or more, each exactly once) become the columns of
/// [`Dataset::y`], in the order given; every other column is a feature of [`Dataset::x`], in file
/// order. Every cell must be a finite decimal number (`1`, `-2.5`, `3e-4`; surrounding spaces are
/// ignored). Empty lines are skipped and a UTF-8 byte-order mark is tolerated.
///
/// # Errors
///
/// - [`Error::Io`] if the file cannot be opened or read.
/// - [`Error::InvalidParameter`] if `targets` is empty or names a column twice.
/// - [`Error::Format`] (naming the file, and the line and column where there is one) for: a missing
///   header row; an empty or repeated column name; a target name not in the header (the message
///   lists the available names); no feature column left; a row with the wrong number of fields;
///   a cell that is empty, not a number, NaN or ±∞.
/// - [`Error::Empty`] if there is a header but no data row.
///
/// The whole file is parsed into a row-major buffer first (the number of rows is not known until
/// the end) and then copied into the column-major matrices, so the peak memory is about twice the
/// size of the binary data — still less than the text of the file.
pub fn read_csv(path: &Path, targets: &[&str]) -> Result<Dataset> {
    if targets.is_empty() {
        return Err(Error::invalid(
            "targets",
            "[]",
            "name at least one column of the file as the target",
        ));
    }
    let table = read_table(path, targets, |cell| cell.number())?;
    let k = targets.len();
    let y = Mat::from_fn(table.x.nrows(), k, |i, j| table.targets[i * k + j]);
    Ok(Dataset {
        x: table.x,
        y,
        feature_names: table.feature_names,
        target_names: owned(targets),
    })
}

/// Reads a comma-separated file as [`read_csv`] does, but keeps the cells of the `targets`
/// columns as text (trimmed; an empty cell is still an error, a missing value): for class labels
/// such as `yes`/`no`. `targets` may be empty (every column is a feature), or name columns only
/// to leave them out of the features, as prediction on a training file does.
///
/// # Errors
///
/// As [`read_csv`], except that an empty `targets` is allowed and target cells need not be
/// numbers.
pub fn read_csv_text(path: &Path, targets: &[&str]) -> Result<TextDataset> {
    let table = read_table(path, targets, |cell| cell.text())?;
    let (n, k) = (table.x.nrows(), targets.len());
    let mut cells = table.targets.into_iter();
    let mut columns: Vec<Vec<String>> = (0..k).map(|_| Vec::with_capacity(n)).collect();
    for _ in 0..n {
        for column in &mut columns {
            column.extend(cells.next());
        }
    }
    Ok(TextDataset {
        x: table.x,
        targets: columns,
        feature_names: table.feature_names,
        target_names: owned(targets),
    })
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|t| (*t).to_owned()).collect()
}

/// What [`read_table`] found: the features, and the target cells row-major (n × k).
struct Table<T> {
    x: Mat<f64>,
    targets: Vec<T>,
    feature_names: Vec<String>,
}

/// One (trimmed) cell of the file, with what an error about it must say.
struct Cell<'a> {
    path: &'a Path,
    pos: Option<&'a Position>,
    column: &'a str,
    text: &'a str,
    hint: &'a str,
}

/// The reader behind [`read_csv`] and [`read_csv_text`]: the header, the target columns (each
/// named once; none is allowed), the features parsed as numbers, and each target cell converted
/// by `target`.
fn read_table<T>(
    path: &Path,
    targets: &[&str],
    target: impl Fn(&Cell<'_>) -> Result<T>,
) -> Result<Table<T>> {
    let mut rows = CsvRows::open(path, targets)?;
    let d = rows.feature_cols.len();
    // Row-major buffers, copied into column-major matrices once the row count is known.
    let mut xbuf: Vec<f64> = Vec::new();
    let mut ybuf: Vec<T> = Vec::new();
    let mut n = 0usize;
    while rows.next_record()? {
        if xbuf.capacity() - xbuf.len() < d {
            // The buffer is about to grow (doubling): make sure the grown buffer and the matrix it
            // is copied into fit in memory, rather than letting a huge file end in an abort.
            let cells = (xbuf.len() + d).max(2 * xbuf.capacity());
            super::check_memory(
                || format!("reading {} ({n} rows so far, {d} features)", path.display()),
                u64::try_from(cells).ok().and_then(|c| c.checked_mul(16)),
                "use a smaller file or a machine with more memory, or fit without loading it: \
                 `tikhonov fit --stream --solver cholesky` (`tikhonov::stream`)",
            )?;
            xbuf.try_reserve(cells - xbuf.len())
                .map_err(|_| Error::OutOfMemory {
                    what: format!("reading {}", path.display()),
                    needed: (cells as u64).saturating_mul(16),
                    available: super::available_memory().unwrap_or(0),
                    advice: "use a smaller file, or a machine with more memory".into(),
                })?;
        }
        rows.features(|_, v| xbuf.push(v))?;
        rows.targets(&target, |_, v| ybuf.push(v))?;
        n += 1;
    }
    if n == 0 {
        return Err(rows.no_rows());
    }
    let x = Mat::from_fn(n, d, |i, j| xbuf[i * d + j]);
    Ok(Table {
        x,
        targets: ybuf,
        feature_names: rows.feature_names(),
    })
}

/// A CSV file read one record at a time, with its header checked: which columns are features
/// and which are targets, and the errors [`read_csv`] documents. [`read_table`] collects the
/// records; `crate::stream` parses them into fixed-size row blocks and never holds the file.
pub(crate) struct CsvRows {
    path: PathBuf,
    reader: ::csv::Reader<BufReader<File>>,
    header: Vec<String>,
    hint: String,
    feature_cols: Vec<usize>,
    target_cols: Vec<usize>,
    record: ::csv::StringRecord,
}

impl CsvRows {
    /// Opens `path` and checks its header against `targets` (each named once; none is allowed):
    /// every other column is a feature.
    pub(crate) fn open(path: &Path, targets: &[&str]) -> Result<Self> {
        for (i, t) in targets.iter().enumerate() {
            if targets[..i].contains(t) {
                return Err(Error::invalid(
                    "targets",
                    quote_text(&targets.join(","), 80),
                    format!(
                        "each target column may be named only once, but `{}` appears twice",
                        quote_text(t, 80)
                    ),
                ));
            }
        }

        let file = File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(true)
            // We check the number of fields ourselves, to report it with the line and the header
            // size.
            .flexible(true)
            .trim(::csv::Trim::All)
            .from_reader(BufReader::new(file));

        let header_record = reader.headers().map_err(|e| csv_error(path, e))?;
        // Leading empty lines are skipped, so the header is not necessarily on line 1.
        let header_pos = header_record.position().cloned();
        let header_line = || format!("line {}", line_of(path, header_pos.as_ref()));
        let header: Vec<String> = header_record
            .iter()
            .enumerate()
            // Spreadsheet programs often start UTF-8 files with a byte-order mark; it is not part
            // of the first column's name.
            .map(|(i, h)| {
                if i == 0 {
                    h.trim_start_matches('\u{feff}')
                } else {
                    h
                }
                .trim()
                .to_owned()
            })
            .collect();
        let hint = delimiter_hint(&header);
        let format_err = |location: Option<String>, message: String| Error::Format {
            path: path.to_path_buf(),
            location,
            message: format!("{message}{hint}"),
        };
        if header.is_empty() || (header.len() == 1 && header[0].is_empty()) {
            return Err(format_err(
                Some(header_line()),
                "the file is empty or has no header row; the first line must name the columns, \
                 e.g. `x1,x2,y`"
                    .into(),
            ));
        }

        let mut index_of: HashMap<&str, usize> = HashMap::with_capacity(header.len());
        for (j, name) in header.iter().enumerate() {
            if name.is_empty() {
                return Err(format_err(
                    Some(format!("{}, column {}", header_line(), j + 1)),
                    format!(
                        "column {} has an empty name; give every column a name in the header row \
                         (pandas writes its row index as an unnamed first column: save with \
                         `index=False`)",
                        j + 1
                    ),
                ));
            }
            if let Some(first) = index_of.insert(name.as_str(), j) {
                return Err(format_err(
                    Some(header_line()),
                    format!(
                        "column name `{}` appears twice (columns {} and {}); rename one of them so \
                         that every column name is unique",
                        quote_text(name, 80),
                        first + 1,
                        j + 1
                    ),
                ));
            }
        }

        let mut target_cols = Vec::with_capacity(targets.len());
        for t in targets {
            match index_of.get(t) {
                Some(&j) => target_cols.push(j),
                None => {
                    return Err(format_err(
                        Some(header_line()),
                        format!(
                            "no column named `{}` to use as the target; the columns are: {}. \
                             Choose one of these names (they are case-sensitive)",
                            quote_text(t, 80),
                            quoted_list(&header)
                        ),
                    ));
                }
            }
        }
        let feature_cols: Vec<usize> = (0..header.len())
            .filter(|j| !target_cols.contains(j))
            .collect();
        if feature_cols.is_empty() {
            return Err(format_err(
                Some(header_line()),
                format!(
                    "every column ({}) is a target, so no feature column is left; a regression \
                     needs at least one feature column",
                    quoted_list(&header)
                ),
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            header,
            hint,
            feature_cols,
            target_cols,
            record: ::csv::StringRecord::new(),
        })
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The number of feature columns, d.
    pub(crate) fn n_features(&self) -> usize {
        self.feature_cols.len()
    }

    /// The names of the feature columns, in file order.
    pub(crate) fn feature_names(&self) -> Vec<String> {
        self.feature_cols
            .iter()
            .map(|&j| self.header[j].clone())
            .collect()
    }

    /// Bytes of the file consumed so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }

    /// Reads the next record (`false` at the end of the file), checking that it has one field
    /// per column of the header.
    pub(crate) fn next_record(&mut self) -> Result<bool> {
        // `read_record` reuses one record allocation for the whole file.
        if !self
            .reader
            .read_record(&mut self.record)
            .map_err(|e| csv_error(&self.path, e))?
        {
            return Ok(false);
        }
        let width = self.header.len();
        if self.record.len() != width {
            return Err(Error::Format {
                path: self.path.clone(),
                location: Some(format!(
                    "line {}",
                    line_of(&self.path, self.record.position())
                )),
                message: format!(
                    "this row has {} field{} but the header has {width} columns; every row needs \
                     exactly one value per column (check for a missing or extra comma, or an \
                     unquoted comma inside a value){}",
                    self.record.len(),
                    if self.record.len() == 1 { "" } else { "s" },
                    self.hint
                ),
            });
        }
        Ok(true)
    }

    /// Parses the current record's feature cells: `put(c, value)` for the c-th feature.
    pub(crate) fn features(&self, mut put: impl FnMut(usize, f64)) -> Result<()> {
        for (c, &j) in self.feature_cols.iter().enumerate() {
            put(c, self.cell(j).number()?);
        }
        Ok(())
    }

    /// Converts the current record's target cells: `put(t, convert(cell))` for the t-th target.
    fn targets<T>(
        &self,
        convert: impl Fn(&Cell<'_>) -> Result<T>,
        mut put: impl FnMut(usize, T),
    ) -> Result<()> {
        for (t, &j) in self.target_cols.iter().enumerate() {
            put(t, convert(&self.cell(j))?);
        }
        Ok(())
    }

    /// Parses the current record's target cells as numbers: `put(t, value)`.
    pub(crate) fn numeric_targets(&self, put: impl FnMut(usize, f64)) -> Result<()> {
        self.targets(|cell| cell.number(), put)
    }

    /// The error for a file with a header row but no data row.
    pub(crate) fn no_rows(&self) -> Error {
        Error::Empty {
            what: format!("{} has a header row but no data rows", self.path.display()),
        }
    }

    fn cell(&self, j: usize) -> Cell<'_> {
        Cell {
            path: &self.path,
            pos: self.record.position(),
            column: &self.header[j],
            text: &self.record[j],
            hint: &self.hint,
        }
    }
}

impl Cell<'_> {
    /// The cell as a finite `f64`, or an error that says where and why it is not one.
    fn number(&self) -> Result<f64> {
        let text = self.non_empty()?;
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err(self.error(format!(
                "non-finite value `{}`; remove or impute missing and infinite values before \
                 fitting",
                shorten(text)
            ))),
            Err(_) => Err(self.error(format!(
                "`{}` is not a number; every feature and target cell must be a decimal number \
                 such as `1.5` or `-2e3` (encode categories as numbers, remove or impute missing \
                 values)",
                shorten(text)
            ))),
        }
    }

    /// The cell's text (a label), which must not be empty.
    fn text(&self) -> Result<String> {
        self.non_empty().map(str::to_owned)
    }

    fn non_empty(&self) -> Result<&str> {
        if self.text.is_empty() {
            return Err(self.error(
                "empty cell (a missing value); remove or impute missing values before fitting"
                    .into(),
            ));
        }
        Ok(self.text)
    }

    fn error(&self, message: String) -> Error {
        Error::Format {
            path: self.path.to_path_buf(),
            location: Some(format!(
                "line {}, column `{}`",
                line_of(self.path, self.pos),
                quote_text(self.column, 80)
            )),
            message: format!("{message}{}", self.hint),
        }
    }
}

/// Converts an error of the `csv` crate into ours, keeping the line number when it has one.
fn csv_error(path: &Path, e: ::csv::Error) -> Error {
    let line = e
        .position()
        .map(|p| format!("line {}", line_of(path, Some(p))));
    match e.into_kind() {
        ::csv::ErrorKind::Io(source) => Error::Io {
            path: path.to_path_buf(),
            source,
        },
        ::csv::ErrorKind::Utf8 { .. } => {
            let mut magic = [0u8; 6];
            let npy = File::open(path)
                .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
                .is_ok()
                && &magic == b"\x93NUMPY";
            Error::Format {
                path: path.to_path_buf(),
                location: line,
                message: if npy {
                    "this is a NumPy .npy file, not CSV text; pass it with --x (design) or --y \
                     (targets) instead of --data"
                        .into()
                } else {
                    "the text is not valid UTF-8; save the file as UTF-8 (or plain ASCII)".into()
                },
            }
        }
        other => Error::Format {
            path: path.to_path_buf(),
            location: line,
            message: format!(
                "cannot parse the file as CSV ({}); check that it is a comma-separated text file",
                quote_text(&format!("{other:?}"), 120)
            ),
        },
    }
}

/// The 1-based line on which the record whose reader position is `pos` starts.
///
/// The `csv` crate's own line numbers are not reliable for this: a record's position is taken
/// *before* the blank lines preceding it (and, with CRLF endings, before the previous line's LF)
/// have been counted. The byte offset in the position is exact, though, so on the (rare) error
/// path we re-read the file up to that offset, count newlines, and skip the line breaks the parser
/// would skip. If the file cannot be re-read, the `csv` crate's estimate is used.
fn line_of(path: &Path, pos: Option<&Position>) -> u64 {
    let Some(pos) = pos else { return 0 };
    let count = || -> std::io::Result<u64> {
        let mut newlines = 0u64;
        let mut offset = 0u64;
        let mut reader = BufReader::new(File::open(path)?);
        loop {
            let buf = reader.fill_buf()?;
            if buf.is_empty() {
                return Ok(newlines + 1);
            }
            let mut used = 0;
            for &b in buf {
                if offset >= pos.byte() && b != b'\n' && b != b'\r' {
                    return Ok(newlines + 1);
                }
                newlines += u64::from(b == b'\n');
                offset += 1;
                used += 1;
            }
            reader.consume(used);
        }
    };
    count().unwrap_or(pos.line())
}

/// `` `a`, `b`, `c` ``, for listing column names in messages: at most 20 names of at most 40
/// characters each (control characters escaped), then how many more there are.
fn quoted_list(names: &[String]) -> String {
    const MAX_NAMES: usize = 20;
    let mut list = names
        .iter()
        .take(MAX_NAMES)
        .map(|n| format!("`{}`", quote_text(n, 40)))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > MAX_NAMES {
        list.push_str(&format!(" and {} more", names.len() - MAX_NAMES));
    }
    list
}

/// The text itself if short, else its first characters and an ellipsis, so that one huge garbage
/// cell does not flood the terminal; control characters are escaped.
fn shorten(text: &str) -> String {
    quote_text(text, 40)
}

/// A hint appended to format errors when the header is one column that contains `;` or a tab:
/// the file is most likely separated by that character, not by commas.
fn delimiter_hint(header: &[String]) -> String {
    match header {
        [only] => [(';', "`;`"), ('\t', "tabs")]
            .into_iter()
            .find(|(c, _)| only.contains(*c))
            .map(|(c, name)| {
                format!(
                    " (the header is a single column containing {name}: the file seems to be \
                     separated by {name}, but tikhonov reads comma-separated files; convert it, \
                     e.g. `pd.read_csv(f, sep={c:?}).to_csv(out, index=False)`)"
                )
            })
            .unwrap_or_default(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_file(contents: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::Builder::new()
            .suffix(".csv")
            .tempfile()
            .expect("create temp file");
        f.write_all(contents.as_bytes()).expect("write temp file");
        f.flush().expect("flush temp file");
        f
    }

    fn message(e: &Error) -> String {
        e.to_string()
    }

    #[test]
    fn reads_features_and_targets_by_name() {
        let f = write_file("x1, y ,x2,z\n1,10,2,100\n3, 30 ,4.5,300\n\n-5e-1,50,6,500\n");
        let ds = read_csv(f.path(), &["z", "y"]).unwrap();
        assert_eq!(ds.feature_names, vec!["x1", "x2"]);
        assert_eq!(ds.target_names, vec!["z", "y"]);
        assert_eq!((ds.x.nrows(), ds.x.ncols()), (3, 2));
        assert_eq!((ds.y.nrows(), ds.y.ncols()), (3, 2));
        assert_eq!(ds.x[(0, 0)], 1.0);
        assert_eq!(ds.x[(1, 1)], 4.5);
        assert_eq!(ds.x[(2, 0)], -0.5);
        assert_eq!(ds.y[(0, 0)], 100.0);
        assert_eq!(ds.y[(1, 1)], 30.0);
        assert_eq!(ds.y[(2, 1)], 50.0);
    }

    #[test]
    fn tolerates_byte_order_mark() {
        let f = write_file("\u{feff}a,b\n1,2\n");
        let ds = read_csv(f.path(), &["a"]).unwrap();
        assert_eq!(ds.feature_names, vec!["b"]);
        assert_eq!(ds.y[(0, 0)], 1.0);
    }

    #[test]
    fn missing_target_lists_columns() {
        let f = write_file("x1,x2,y\n1,2,3\n");
        let e = read_csv(f.path(), &["price"]).unwrap_err();
        let m = message(&e);
        assert!(matches!(e, Error::Format { .. }), "{m}");
        assert!(m.contains("`price`"), "{m}");
        assert!(m.contains("`x1`, `x2`, `y`"), "{m}");
        assert!(m.contains(&f.path().display().to_string()), "{m}");
    }

    #[test]
    fn bad_number_names_line_and_column() {
        let f = write_file("x1,x2,y\n1,2,3\n4,5,6\n7,abc,9\n");
        let e = read_csv(f.path(), &["y"]).unwrap_err();
        let m = message(&e);
        assert!(m.contains("line 4, column `x2`"), "{m}");
        assert!(m.contains("`abc`"), "{m}");
        assert!(m.contains(&f.path().display().to_string()), "{m}");
    }

    #[test]
    fn line_numbers_count_blank_lines_and_crlf() {
        for (text, line) in [
            ("\n\nx,y\n1,2\n3,abc\n", 5),
            ("x,y\n1,2\n\n\n3,abc\n", 5),
            ("x,y\r\n1,2\r\n\r\n3,abc\r\n", 4),
            ("x,y\n\"1\",\"2\"\n3,abc\n", 3),
        ] {
            let f = write_file(text);
            let m = message(&read_csv(f.path(), &["y"]).unwrap_err());
            assert!(m.contains(&format!("line {line}, column")), "{text:?}: {m}");
        }
        let f = write_file("\r\nx,y\r\n1,2\r\n3\r\n");
        let m = message(&read_csv(f.path(), &["y"]).unwrap_err());
        assert!(m.contains("line 4:"), "{m}");
        // A header spanning two lines (a quoted newline in a name) shifts the data lines.
        let f = write_file("\"a\nb\",y\n1,2\n3,abc\n");
        let m = message(&read_csv(f.path(), &["y"]).unwrap_err());
        assert!(m.contains("line 4, column `y`"), "{m}");
    }

    #[test]
    fn bad_target_value_is_reported_too() {
        let f = write_file("x,y\n1,2\n3,oops\n");
        let m = message(&read_csv(f.path(), &["y"]).unwrap_err());
        assert!(m.contains("line 3, column `y`"), "{m}");
    }

    #[test]
    fn nan_inf_and_empty_cells_are_rejected() {
        for (cell, what) in [
            ("NaN", "non-finite"),
            ("-inf", "non-finite"),
            ("  ", "empty"),
        ] {
            let f = write_file(&format!("x1,x2,y\n1,2,3\n4,{cell},6\n"));
            let m = message(&read_csv(f.path(), &["y"]).unwrap_err());
            assert!(m.contains("line 3, column `x2`"), "{m}");
            assert!(m.contains(what), "{m}");
            assert!(m.contains("remove or impute"), "{m}");
        }
    }

    #[test]
    fn ragged_row_names_line() {
        let f = write_file("a,b,c\n1,2,3\n4,5\n");
        let e = read_csv(f.path(), &["c"]).unwrap_err();
        let m = message(&e);
        assert!(matches!(e, Error::Format { .. }), "{m}");
        assert!(m.contains("line 3"), "{m}");
        assert!(m.contains("2 fields") && m.contains("3 columns"), "{m}");
    }

    #[test]
    fn no_rows_is_empty() {
        let f = write_file("a,b\n");
        assert!(matches!(
            read_csv(f.path(), &["a"]),
            Err(Error::Empty { .. })
        ));
    }

    #[test]
    fn no_feature_left_is_an_error() {
        let f = write_file("a,b\n1,2\n");
        let m = message(&read_csv(f.path(), &["a", "b"]).unwrap_err());
        assert!(m.contains("no feature column"), "{m}");
    }

    #[test]
    fn header_problems() {
        let f = write_file(",a,b\n0,1,2\n");
        let m = message(&read_csv(f.path(), &["b"]).unwrap_err());
        assert!(m.contains("empty name") && m.contains("index=False"), "{m}");

        let f = write_file("a,b,a\n0,1,2\n");
        let m = message(&read_csv(f.path(), &["b"]).unwrap_err());
        assert!(m.contains("appears twice"), "{m}");

        let f = write_file("");
        let m = message(&read_csv(f.path(), &["b"]).unwrap_err());
        assert!(m.contains("no header row"), "{m}");
    }

    #[test]
    fn bad_target_lists() {
        let f = write_file("a,b\n1,2\n");
        assert!(matches!(
            read_csv(f.path(), &[]),
            Err(Error::InvalidParameter { .. })
        ));
        assert!(matches!(
            read_csv(f.path(), &["a", "a"]),
            Err(Error::InvalidParameter { .. })
        ));
    }

    #[test]
    fn text_targets_are_kept_as_text_and_may_be_none() {
        let f = write_file("a,label,b\n1, yes ,2\n3,no,4\n");
        let ds = read_csv_text(f.path(), &["label"]).unwrap();
        assert_eq!(ds.targets, vec![vec!["yes".to_owned(), "no".to_owned()]]);
        assert_eq!(ds.feature_names, vec!["a", "b"]);
        assert_eq!(ds.x[(1, 1)], 4.0);
        // No target: every column is a feature (the file must then be all numbers).
        let m = message(&read_csv_text(f.path(), &[]).unwrap_err());
        assert!(
            m.contains("line 2, column `label`") && m.contains("`yes`"),
            "{m}"
        );
        let f = write_file("a,b\n1,2\n");
        let ds = read_csv_text(f.path(), &[]).unwrap();
        assert!(ds.targets.is_empty() && ds.x.ncols() == 2 && ds.x.nrows() == 1);
        // Two targets come back column by column; an empty label is a missing value.
        let f = write_file("a,s,t\n1,p,q\n2,r,u\n");
        let ds = read_csv_text(f.path(), &["t", "s"]).unwrap();
        assert_eq!(ds.targets[0], ["q", "u"]);
        assert_eq!(ds.targets[1], ["p", "r"]);
        let f = write_file("a,s\n1,p\n2, \n");
        let m = message(&read_csv_text(f.path(), &["s"]).unwrap_err());
        assert!(
            m.contains("line 3, column `s`") && m.contains("empty cell"),
            "{m}"
        );
    }

    #[test]
    fn missing_file_is_io_error() {
        let e = read_csv(Path::new("/nonexistent/dir/data.csv"), &["y"]).unwrap_err();
        assert!(matches!(e, Error::Io { .. }));
        assert!(message(&e).contains("/nonexistent/dir/data.csv"));
    }
}
