//! Measures a streamed `cholesky` fit (`tikhonov::stream`) against the disk-read rate, and
//! checks it against the in-memory fit of the same file (README, "Data beyond memory").
//!
//! ```text
//! cargo run --release --example stream_timing -- [--n 5000000] [--d 100] [--dir DIR] [--keep]
//!                                                 [--rounds 3]
//! ```
//!
//! Writes a C-order `<f8` X.npy of n × d (default 5 000 000 × 100: 4 GB) and y.npy to DIR
//! (default: a new directory under the system's temporary directory), in chunks of 2^16 rows
//! (X Gaussian with column offsets, y = Xw* + 1 + noise), then in this order:
//!
//! 1. cached (as writing left the file): `dd if=X.npy of=/dev/null bs=16M`, then this program
//!    run again as `stream X.npy y.npy` under `/usr/bin/time -f %M`: the streamed `cholesky` fit
//!    (λ = 1e-3, intercept), its wall time (opening the files to the solution) and peak RSS;
//! 2. cold, in `--rounds R` alternating rounds (default 3): `dd` as above, `dd iflag=nocache`
//!    (which drops the pages behind it, as the streamed reader does by default: `PageCache`),
//!    and the streamed fit, each after dropping the file's own pages from the page cache (`dd
//!    if=FILE iflag=nocache count=0`, POSIX_FADV_DONTNEED, no privileges needed; nothing else
//!    is dropped), then the median share of each dd's rate;
//! 3. this program as `memory X.npy y.npy` under `/usr/bin/time`: `read_npy_matrix` and the
//!    in-memory `cholesky` fit, and the relative difference of the coefficients.
//!
//! With `--parquet P` (a build with the `datafusion` feature: `cargo run --release --features
//! datafusion --example stream_timing -- --parquet 64`), the same rows are also written as P
//! Parquet files (uncompressed, plain encoding, one row group each, columns x0 … x{d−1}, y) and
//! fitted by `tikhonov::datafusion::fit_query` (`SELECT * FROM t`, target y, DataFusion's
//! default partitioning over the P files), timed as a child like the others right after the
//! cached streamed fit is timed again; both read from the page cache.
//!
//! The files are deleted at the end unless `--keep`.
//!
//! The children can be run by hand on kept files, e.g. in alternating rounds with `dd` (each
//! after `dd if=X.npy iflag=nocache count=0`): `stream_timing stream X.npy y.npy` (the
//! streamed fit; `STREAM_BUDGET_MB=M` sets the reader's block budget and
//! `STREAM_PAGE_CACHE=auto|keep|release` its page-cache mode), `stream_timing read
//! X.npy y.npy` (the reader alone, every block and nothing computed) and `stream_timing memory
//! X.npy y.npy`.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use faer::{Col, Mat};
use rayon::prelude::*;
use tikhonov::RidgeProblem;
use tikhonov::data::{gaussian, read_npy_matrix, write_npy_vector};
use tikhonov::solvers::{Cholesky, Solver};
use tikhonov::stream::{self, BlockReader, PageCache};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const LAMBDA: f64 = 1e-3;
const CHUNK_ROWS: usize = 1 << 16;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("stream") => return child_stream(Path::new(&args[1]), Path::new(&args[2])),
        Some("memory") => return child_memory(Path::new(&args[1]), Path::new(&args[2])),
        Some("read") => return child_read(Path::new(&args[1]), Path::new(&args[2])),
        #[cfg(feature = "datafusion")]
        Some("sql") => return parquet::child_sql(Path::new(&args[1])),
        _ => {}
    }
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let n: usize = value("--n").map_or(Ok(5_000_000), |v| v.parse())?;
    let d: usize = value("--d").map_or(Ok(100), |v| v.parse())?;
    let keep = args.iter().any(|a| a == "--keep");
    let dir = match value("--dir") {
        Some(d) => PathBuf::from(d),
        None => std::env::temp_dir().join(format!("stream_timing_{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let (xp, yp) = (dir.join("X.npy"), dir.join("y.npy"));

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at start: {}", load.trim());
    let t = Instant::now();
    write_problem(&xp, &yp, n, d)?;
    let size = std::fs::metadata(&xp)?.len();
    println!(
        "wrote {} ({n} × {d}, {:.2} GB) in {:.1} s",
        xp.display(),
        size as f64 / 1e9,
        t.elapsed().as_secs_f64()
    );

    // Cached: the file as writing it left it in the page cache.
    let dd_cached = dd_rate(&xp, size, false)?;
    let (s_out, s_rss) = timed_child("stream", &xp, &yp)?;
    let cached = parse(&s_out);
    report("page cache", &[("dd", dd_cached)], size, &cached, s_rss);
    // Cold, in alternating rounds: this file's pages dropped from the cache first (`dd
    // iflag=nocache count=0`, which needs no privileges for one's own file) before each dd and
    // before the fit. Two dd's: plain, and releasing the pages behind it as the fit does.
    let rounds: usize = value("--rounds").map_or(Ok(3), |v| v.parse())?;
    let mut shares = Vec::new();
    let mut cold = None;
    for round in 1..=rounds {
        drop_cache(&xp)?;
        let dd_plain = dd_rate(&xp, size, false)?;
        drop_cache(&xp)?;
        let dd_release = dd_rate(&xp, size, true)?;
        drop_cache(&xp)?;
        drop_cache(&yp)?;
        let (s_out, s_rss) = timed_child("stream", &xp, &yp)?;
        let fit = parse(&s_out);
        let dds = [("dd", dd_plain), ("dd iflag=nocache", dd_release)];
        report(&format!("cold, round {round}"), &dds, size, &fit, s_rss);
        shares.push(dds.map(|(_, dd)| size as f64 / fit.seconds / dd));
        cold = Some(fit);
    }
    let cold = cold.ok_or("--rounds must be at least 1")?;
    let median = |i: usize| {
        let mut v: Vec<f64> = shares.iter().map(|s| s[i]).collect();
        v.sort_by(f64::total_cmp);
        100.0 * v[v.len() / 2]
    };
    println!(
        "cold, median of {rounds} rounds: {:.0} % of dd's rate, {:.0} % of dd iflag=nocache's",
        median(0),
        median(1)
    );

    let (m_out, m_rss) = timed_child("memory", &xp, &yp)?;
    let m = parse(&m_out);
    println!(
        "in memory: {:.3} s (read {:.3} s, fit {:.3} s), peak RSS {:.0} MB",
        m.seconds + m.read,
        m.read,
        m.seconds,
        m_rss as f64 / 1e3
    );
    for (what, s) in [("cached", &cached), ("cold", &cold)] {
        println!(
            "{what}: ‖w_stream − w_memory‖/‖w_memory‖ = {:.2e}, |b_stream − b_memory| = {:.2e}",
            rel_diff(&s.coef, &m.coef),
            (s.intercept - m.intercept).abs()
        );
    }
    #[cfg(feature = "datafusion")]
    if let Some(files) = value("--parquet") {
        parquet::compare(&dir, &xp, &yp, files.parse()?, &m)?;
    }
    if !keep {
        std::fs::remove_file(&xp)?;
        std::fs::remove_file(&yp)?;
        std::fs::remove_dir(&dir).ok();
    }
    Ok(())
}

/// X (C order, written chunk by chunk through a hand-written `.npy` header) and y.
fn write_problem(xp: &Path, yp: &Path, n: usize, d: usize) -> Res<()> {
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({n}, {d}), }}");
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut out = BufWriter::with_capacity(1 << 22, std::fs::File::create(xp)?);
    out.write_all(b"\x93NUMPY\x01\x00")?;
    out.write_all(&u16::try_from(header.len())?.to_le_bytes())?;
    out.write_all(header.as_bytes())?;
    let w_true = Col::from_fn(d, |j| ((j % 7) as f64 - 3.0) * 0.5);
    let mut y = Col::<f64>::zeros(n);
    let chunks = n.div_ceil(CHUNK_ROWS);
    for c0 in (0..chunks).step_by(8) {
        // Eight chunks generated in parallel, written in order.
        let parts: Vec<(Vec<u8>, Vec<f64>)> = (c0..(c0 + 8).min(chunks))
            .into_par_iter()
            .map(|c| {
                let rows = CHUNK_ROWS.min(n - c * CHUNK_ROWS);
                let g = gaussian(rows, d + 1, c as u64);
                let mut bytes = Vec::with_capacity(8 * rows * d);
                let mut ys = Vec::with_capacity(rows);
                for i in 0..rows {
                    let mut yi = 1.0 + 0.1 * g[(i, d)];
                    for j in 0..d {
                        let v = g[(i, j)] + 0.01 * j as f64;
                        bytes.extend(v.to_le_bytes());
                        yi += w_true[j] * v;
                    }
                    ys.push(yi);
                }
                (bytes, ys)
            })
            .collect();
        for (k, (bytes, ys)) in parts.into_iter().enumerate() {
            out.write_all(&bytes)?;
            let r0 = (c0 + k) * CHUNK_ROWS;
            for (i, v) in ys.into_iter().enumerate() {
                y[r0 + i] = v;
            }
        }
    }
    out.flush()?;
    write_npy_vector(yp, y.as_ref())?;
    Ok(())
}

/// The streamed fit's line: time, blocks, rate against each dd's, peak RSS.
fn report(what: &str, dds: &[(&str, f64)], size: u64, s: &Child, rss_kb: u64) {
    let rate = size as f64 / s.seconds;
    let dd_rates: Vec<String> = dds
        .iter()
        .map(|(name, dd)| format!("{name} bs=16M {:.2} GB/s", dd / 1e9))
        .collect();
    let shares: Vec<String> = dds
        .iter()
        .map(|(name, dd)| format!("{:.0} % of {name}", 100.0 * rate / dd))
        .collect();
    println!(
        "{what}: {}; streamed cholesky {:.3} s ({:.2} CPU s; {} blocks of ≤ {} rows, {} bytes, \
         pages released in {} pass(es)) = {:.2} GB/s = {}; peak RSS {:.0} MB",
        dd_rates.join(", "),
        s.seconds,
        s.cpu,
        s.blocks,
        s.block_rows,
        s.bytes,
        s.released_passes,
        rate / 1e9,
        shares.join(", "),
        rss_kb as f64 / 1e3
    );
}

/// Drops the file's pages from the page cache: `dd if=path iflag=nocache count=0` (GNU dd's
/// documented way; POSIX_FADV_DONTNEED on the whole file).
fn drop_cache(path: &Path) -> Res<()> {
    let status = Command::new("dd")
        .arg(format!("if={}", path.display()))
        .args(["iflag=nocache", "count=0"])
        .stderr(std::process::Stdio::null())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err("dd iflag=nocache failed".into())
    }
}

/// Bytes per second of `dd if=path of=/dev/null bs=16M`, timed from outside; with `release`,
/// `iflag=nocache`: GNU dd then drops the pages it has read behind it.
fn dd_rate(path: &Path, size: u64, release: bool) -> Res<f64> {
    let t = Instant::now();
    let status = Command::new("dd")
        .arg(format!("if={}", path.display()))
        .args(["of=/dev/null", "bs=16M"])
        .args(release.then_some("iflag=nocache"))
        .stderr(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        return Err("dd failed".into());
    }
    Ok(size as f64 / t.elapsed().as_secs_f64())
}

/// Runs this program as `mode X y` under `/usr/bin/time -f %M`: (its stdout, peak RSS in kB).
fn timed_child(mode: &str, xp: &Path, yp: &Path) -> Res<(String, u64)> {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M %U %S"])
        .arg(std::env::current_exe()?)
        .arg(mode)
        .arg(xp)
        .arg(yp)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{mode} failed: {stderr}").into());
    }
    let last: Vec<f64> = stderr
        .lines()
        .last()
        .map(|l| {
            l.split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let [rss, user, sys] = last[..] else {
        return Err("no RSS and CPU times from /usr/bin/time".into());
    };
    let stdout = String::from_utf8(out.stdout)?;
    Ok((format!("{stdout}cpu {}\n", user + sys), rss as u64))
}

struct Child {
    coef: Vec<f64>,
    intercept: f64,
    seconds: f64,
    read: f64,
    blocks: usize,
    block_rows: usize,
    bytes: u64,
    /// Passes that released X's pages behind the reader.
    released_passes: usize,
    /// User + system CPU seconds of the whole child process.
    cpu: f64,
}

/// `key value` lines; `coef` followed by the coefficients.
fn parse(text: &str) -> Child {
    let mut c = Child {
        coef: Vec::new(),
        intercept: 0.0,
        seconds: 0.0,
        read: 0.0,
        blocks: 0,
        block_rows: 0,
        bytes: 0,
        released_passes: 0,
        cpu: 0.0,
    };
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(key), rest) = (it.next(), it) else {
            continue;
        };
        let values: Vec<f64> = rest.filter_map(|v| v.parse().ok()).collect();
        let first = values.first().copied().unwrap_or(0.0);
        match key {
            "coef" => c.coef = values,
            "intercept" => c.intercept = first,
            "seconds" => c.seconds = first,
            "read" => c.read = first,
            "blocks" => c.blocks = first as usize,
            "block_rows" => c.block_rows = first as usize,
            "bytes" => c.bytes = first as u64,
            "released_passes" => c.released_passes = first as usize,
            "cpu" => c.cpu = first,
            _ => {}
        }
    }
    c
}

fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    let norm = b.iter().map(|v| v * v).sum::<f64>().sqrt();
    let diff = a
        .iter()
        .zip(b)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    diff / norm
}

fn print_fit(coef: &Col<f64>, intercept: f64) {
    let coef: Vec<String> = coef.iter().map(|v| format!("{v:e}")).collect();
    println!("coef {}", coef.join(" "));
    println!("intercept {intercept:e}");
}

/// The streamed fit, timed from opening the files to the solution.
fn child_stream(xp: &Path, yp: &Path) -> Res<()> {
    let t = Instant::now();
    let mut reader = BlockReader::npy(xp, yp)?.page_cache(page_cache()?);
    if let Some(mb) = std::env::var("STREAM_BUDGET_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        reader = reader.budget(mb << 20);
    }
    let s = stream::fit(&mut reader, "cholesky", &[LAMBDA], true)?;
    let seconds = t.elapsed().as_secs_f64();
    print_fit(&s.fits[0].coef, s.fits[0].intercept);
    println!("seconds {seconds}");
    println!("blocks {}", s.stats.blocks);
    println!("block_rows {}", s.stats.block_rows);
    println!("bytes {}", s.stats.bytes);
    println!("released_passes {}", s.stats.released_passes);
    Ok(())
}

/// The reader's page-cache mode: `STREAM_PAGE_CACHE` = `auto` (the default), `keep` or
/// `release`.
fn page_cache() -> Res<PageCache> {
    Ok(match std::env::var("STREAM_PAGE_CACHE").as_deref() {
        Err(_) | Ok("auto") => PageCache::Auto,
        Ok("keep") => PageCache::Keep,
        Ok("release") => PageCache::Release,
        Ok(other) => {
            return Err(format!("STREAM_PAGE_CACHE={other}: use auto, keep or release").into());
        }
    })
}

/// Only the reading: every block of the stream, on this thread, nothing computed.
fn child_read(xp: &Path, yp: &Path) -> Res<()> {
    let t = Instant::now();
    let mut reader = BlockReader::npy(xp, yp)?.page_cache(page_cache()?);
    let mut rows = 0;
    while let Some(b) = reader.next_block()? {
        rows += b.x.nrows();
    }
    println!("seconds {}", t.elapsed().as_secs_f64());
    println!("rows {rows}");
    Ok(())
}

/// The in-memory fit of the same files: read, then `cholesky`.
fn child_memory(xp: &Path, yp: &Path) -> Res<()> {
    let t = Instant::now();
    let x: Mat<f64> = read_npy_matrix(xp)?;
    let y = tikhonov::data::read_npy_vector(yp)?;
    let read = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
        .lambda(LAMBDA)
        .build()?;
    let fit = Cholesky.solve(&p)?;
    let seconds = t.elapsed().as_secs_f64();
    print_fit(&fit.coef, fit.intercept);
    println!("seconds {seconds}");
    println!("read {read}");
    Ok(())
}

/// `--parquet P`: the same rows as P Parquet files, fitted through DataFusion.
#[cfg(feature = "datafusion")]
mod parquet {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Instant;

    use datafusion::arrow::array::{ArrayRef, Float64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::basic::Compression;
    use datafusion::parquet::file::properties::WriterProperties;
    use datafusion::prelude::{ParquetReadOptions, SessionContext};
    use tikhonov::stream::BlockReader;

    use super::{Child, LAMBDA, Res, parse, print_fit, rel_diff, timed_child};

    /// Writes `files` Parquet files of the rows of X.npy / y.npy (streamed, contiguous row
    /// ranges of equal size), then times the cached streamed fit and the query's fit.
    pub fn compare(dir: &Path, xp: &Path, yp: &Path, files: usize, memory: &Child) -> Res<()> {
        let pq = dir.join("parquet");
        std::fs::create_dir_all(&pq)?;
        let t = Instant::now();
        let bytes = write(&pq, xp, yp, files)?;
        println!(
            "wrote {files} Parquet files ({:.2} GB) in {:.1} s",
            bytes as f64 / 1e9,
            t.elapsed().as_secs_f64()
        );
        let (s_out, s_rss) = timed_child("stream", xp, yp)?;
        let (q_out, q_rss) = timed_child("sql", &pq, &pq)?;
        let (s, q) = (parse(&s_out), parse(&q_out));
        let rows = std::fs::metadata(yp)?.len().saturating_sub(128) / 8;
        for (what, c, rss) in [("streamed .npy", &s, s_rss), ("DataFusion SQL", &q, q_rss)] {
            println!(
                "{what}: {:.3} s ({:.2} CPU s) = {:.1} M rows/s; peak RSS {:.0} MB; \
                 ‖w − w_memory‖/‖w_memory‖ = {:.2e}",
                c.seconds,
                c.cpu,
                rows as f64 / c.seconds / 1e6,
                rss as f64 / 1e3,
                rel_diff(&c.coef, &memory.coef)
            );
        }
        println!(
            "DataFusion over {files} Parquet files takes {:.2}× the streamed .npy time",
            q.seconds / s.seconds
        );
        std::fs::remove_dir_all(&pq)?;
        Ok(())
    }

    /// The rows as `files` Parquet files; returns their total size in bytes.
    fn write(pq: &Path, xp: &Path, yp: &Path, files: usize) -> Res<u64> {
        let mut reader = BlockReader::npy(xp, yp)?;
        let (n, d) = (reader.n_samples().unwrap_or(0), reader.n_features());
        let mut fields: Vec<Field> = (0..d)
            .map(|j| Field::new(format!("x{j}"), DataType::Float64, false))
            .collect();
        fields.push(Field::new("y", DataType::Float64, false));
        let schema = Arc::new(Schema::new(fields));
        let props = WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .set_dictionary_enabled(false)
            .set_max_row_group_row_count(Some(n.div_ceil(files).max(1)))
            .build();
        let path = |f: usize| pq.join(format!("part-{f:03}.parquet"));
        let mut writer: Option<(usize, ArrowWriter<std::fs::File>)> = None;
        let mut row = 0;
        while let Some(block) = reader.next_block()? {
            let mut i = 0;
            while i < block.x.nrows() {
                let file = (row * files) / n;
                let file_end = ((file + 1) * n).div_ceil(files);
                let len = (block.x.nrows() - i).min(file_end - row);
                if writer.as_ref().is_none_or(|(f, _)| *f != file) {
                    if let Some((_, w)) = writer.take() {
                        w.close()?;
                    }
                    let out = std::fs::File::create(path(file))?;
                    writer = Some((
                        file,
                        ArrowWriter::try_new(out, schema.clone(), Some(props.clone()))?,
                    ));
                }
                let mut columns: Vec<ArrayRef> = (0..d)
                    .map(|j| {
                        let c = block.x.col(j).subrows(i, len);
                        Arc::new(Float64Array::from_iter_values(c.iter().copied())) as ArrayRef
                    })
                    .collect();
                let y = block.y.col(0).subrows(i, len);
                columns.push(Arc::new(Float64Array::from_iter_values(y.iter().copied())));
                let batch = RecordBatch::try_new(schema.clone(), columns)?;
                if let Some((_, w)) = writer.as_mut() {
                    w.write(&batch)?;
                }
                i += len;
                row += len;
            }
        }
        if let Some((_, w)) = writer.take() {
            w.close()?;
        }
        let mut bytes = 0;
        for f in 0..files {
            bytes += std::fs::metadata(path(f))?.len();
        }
        Ok(bytes)
    }

    /// `SELECT * FROM t` over the directory's files, target y, timed from the context's creation
    /// to the solution.
    pub fn child_sql(dir: &Path) -> Res<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread().build()?;
        let t = Instant::now();
        let (_, fits) = runtime.block_on(async {
            let ctx = SessionContext::new();
            ctx.register_parquet(
                "t",
                &dir.display().to_string(),
                ParquetReadOptions::default(),
            )
            .await?;
            let fitted = tikhonov::datafusion::fit_query(
                &ctx,
                "SELECT * FROM t",
                &["y"],
                None,
                true,
                "cholesky",
                &[LAMBDA],
            )
            .await?;
            Ok::<_, Box<dyn std::error::Error>>(fitted)
        })?;
        let seconds = t.elapsed().as_secs_f64();
        print_fit(&fits[0].coef, fits[0].intercept);
        println!("seconds {seconds}");
        Ok(())
    }
}
