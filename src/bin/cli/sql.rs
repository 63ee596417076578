//! `fit --sql QUERY --target y`: the rows a SQL query returns, aggregated by DataFusion into
//! merged statistics (`tikhonov::datafusion::fit_query`) and solved from them. Needs a binary
//! built with the `datafusion` feature; without it, the option explains how to get one.

use crate::Output;
use crate::args::FitArgs;
#[cfg(feature = "datafusion")]
use crate::write_moment_fits;
use tikhonov::Error;

#[cfg(feature = "datafusion")]
pub(crate) fn fit(
    args: &FitArgs,
    query: &str,
    solver: &str,
    out: &mut Output,
) -> Result<(), Error> {
    use std::time::Instant;

    use serde_json::json;
    use tikhonov::datafusion::fit_query;

    let common = &args.common;
    let targets: Vec<&str> = common.target.iter().map(String::as_str).collect();
    let tables = args
        .table
        .iter()
        .map(|spec| table(spec))
        .collect::<Result<Vec<_>, Error>>()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .build()
        .map_err(|e| Error::Query {
            reason: format!("could not start the query runtime: {e}"),
        })?;
    let start = Instant::now();
    let (stats, fits) = runtime.block_on(async {
        let ctx = context(&tables).await?;
        fit_query(
            &ctx,
            query,
            &targets,
            args.weight_column.as_deref(),
            !common.no_intercept,
            solver,
            &common.lambda,
        )
        .await
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let extra = json!({
        "sql": {
            "query": query,
            "features": stats.features,
            "targets": stats.targets,
            "rows": stats.rows,
            "seconds": seconds,
        }
    });
    let description = crate::args::bounded(&format!(
        "SQL query ({} rows; features {}; target `{}`)",
        stats.rows,
        listed(&stats.features),
        stats.targets.join("`, `")
    ));
    let footer = format!(
        "aggregated    {} rows by DataFusion in {seconds:.3} s",
        stats.rows
    );
    let n = usize::try_from(stats.rows).unwrap_or(usize::MAX);
    let shape = (n, stats.features.len());
    write_moment_fits(
        out,
        common.format,
        &fits,
        &stats.targets,
        shape,
        &description,
        extra,
        &footer,
    );
    Ok(())
}

/// Without the `datafusion` feature: an error that says how to get a binary with it.
#[cfg(not(feature = "datafusion"))]
pub(crate) fn fit(
    _args: &FitArgs,
    _query: &str,
    _solver: &str,
    _out: &mut Output,
) -> Result<(), Error> {
    Err(Error::invalid(
        "sql",
        "a query or a Parquet file",
        "a tikhonov built with the `datafusion` feature for --sql and Parquet files: \
         cargo install tikhonov --features datafusion, or from a checkout \
         cargo run --release --features datafusion -- fit …",
    ))
}

/// `a`, `b`, … (the first 8 names, then how many more).
#[cfg(feature = "datafusion")]
fn listed(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(8).map(|n| format!("`{n}`")).collect();
    match names.len() {
        n if n > 8 => format!("{} and {} more", shown.join(", "), n - 8),
        _ => shown.join(", "),
    }
}

/// A table for the query: `--table NAME=PATH`.
#[cfg(feature = "datafusion")]
struct Table {
    name: String,
    path: String,
    csv: bool,
}

/// Parses `NAME=PATH`; a path ending in `.csv` (or a directory whose name does) is read as CSV
/// with a header row, anything else as Parquet.
#[cfg(feature = "datafusion")]
fn table(spec: &str) -> Result<Table, Error> {
    let bad = |why: &str| Error::invalid("table", crate::args::bounded(spec), why.to_string());
    let (name, path) = spec.split_once('=').ok_or_else(|| {
        bad("NAME=PATH, a table name for the query and a Parquet or CSV file or directory")
    })?;
    if name.is_empty() || path.is_empty() {
        return Err(bad("NAME=PATH with neither part empty"));
    }
    if !std::path::Path::new(path).exists() {
        return Err(bad(
            "NAME=PATH where PATH exists (a Parquet or CSV file, or a directory of them)",
        ));
    }
    Ok(Table {
        name: name.to_string(),
        path: path.to_string(),
        csv: path
            .trim_end_matches('/')
            .to_ascii_lowercase()
            .ends_with(".csv"),
    })
}

/// A context that reads files named in the query (`FROM 'data/*.parquet'`) and has the tables.
#[cfg(feature = "datafusion")]
async fn context(tables: &[Table]) -> Result<datafusion::prelude::SessionContext, Error> {
    use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};

    let ctx = SessionContext::new().enable_url_table();
    tikhonov::datafusion::register(&ctx);
    for t in tables {
        let registered = if t.csv {
            ctx.register_csv(&t.name, &t.path, CsvReadOptions::new())
                .await
        } else {
            ctx.register_parquet(&t.name, &t.path, ParquetReadOptions::default())
                .await
        };
        registered.map_err(|e| Error::Query {
            reason: format!("could not register table `{}` ({}): {e}", t.name, t.path),
        })?;
    }
    Ok(ctx)
}
