//! The `ridge_moments` aggregate (src/datafusion.rs) over partitioned Parquet: the fit from the
//! SQL query equals the in-memory `qr-refined` fit to 1e-12 for every partition count, a null
//! is refused naming its column, and a malformed call or result is an error, not a fit.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use faer::Mat;
use tikhonov::data::Synthetic;
use tikhonov::datafusion::{QueryMoments, RidgeMoments, fit_query, fit_sql, moments_sql, register};
use tikhonov::moments::Moments;
use tikhonov::solvers::{Refined, Solver};
use tikhonov::sufficient::MomentsProblem;
use tikhonov::{Fit, RidgeProblem};

const N: usize = 4000;
const D: usize = 6;
const LAMBDA: f64 = 1e-4;

/// The synthetic problem: X (N × D, column offsets 1e3) and y.
fn problem() -> (Mat<f64>, Vec<f64>) {
    let g = Synthetic {
        n_samples: N,
        n_features: D,
        condition: 30.0,
        noise: 0.5,
        offset: 1e3,
        intercept: 2.0,
        seed: 7,
    }
    .generate()
    .unwrap();
    let y = (0..N).map(|i| g.y[i]).collect();
    (g.x, y)
}

/// The weight of row i in the `w` column: positive, uneven, some zero.
fn weight(i: usize) -> f64 {
    if i.is_multiple_of(11) {
        0.0
    } else {
        0.25 + (i % 7) as f64 / 3.0
    }
}

/// Rows `first .. first + len` as a record batch with columns x1 … xD, y, y2 = 3 − y, and the
/// weight w ([`weight`]).
fn batch(x: &Mat<f64>, y: &[f64], first: usize, len: usize) -> RecordBatch {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for j in 0..D {
        fields.push(Field::new(format!("x{}", j + 1), DataType::Float64, true));
        columns.push(Arc::new(Float64Array::from_iter_values(
            (first..first + len).map(|i| x[(i, j)]),
        )));
    }
    fields.push(Field::new("y", DataType::Float64, true));
    columns.push(Arc::new(Float64Array::from_iter_values(
        y[first..first + len].iter().copied(),
    )));
    fields.push(Field::new("y2", DataType::Float64, true));
    columns.push(Arc::new(Float64Array::from_iter_values(
        y[first..first + len].iter().map(|v| 3.0 - v),
    )));
    fields.push(Field::new("w", DataType::Float64, true));
    columns.push(Arc::new(Float64Array::from_iter_values(
        (first..first + len).map(weight),
    )));
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

fn write_parquet(path: &Path, batches: &[RecordBatch]) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = ArrowWriter::try_new(file, batches[0].schema(), None).unwrap();
    for b in batches {
        writer.write(b).unwrap();
    }
    writer.close().unwrap();
}

/// Writes the problem as `files` Parquet files of uneven sizes (several record batches each).
fn write_files(dir: &Path, x: &Mat<f64>, y: &[f64], files: usize) {
    let mut first = 0;
    for f in 0..files {
        let len = if f + 1 == files {
            N - first
        } else {
            N / files + 37 * (f % 3)
        };
        let batches: Vec<RecordBatch> = (0..len)
            .step_by(300)
            .map(|o| batch(x, y, first + o, 300.min(len - o)))
            .collect();
        write_parquet(&dir.join(format!("part-{f:02}.parquet")), &batches);
        first += len;
    }
}

/// The problem, written as `files` Parquet files into a new temporary directory.
fn written(files: usize) -> (Mat<f64>, Vec<f64>, tempfile::TempDir) {
    let (x, y) = problem();
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), &x, &y, files);
    (x, y, dir)
}

async fn context(dir: &Path, partitions: usize) -> SessionContext {
    let ctx =
        SessionContext::new_with_config(SessionConfig::new().with_target_partitions(partitions));
    register(&ctx);
    ctx.register_parquet("t", dir.to_str().unwrap(), ParquetReadOptions::default())
        .await
        .unwrap();
    ctx
}

fn reference(x: &Mat<f64>, y: &[f64]) -> Fit {
    reference_weighted(x, y, None)
}

/// The in-memory `qr-refined` fit, with weights [`weight`] if `weights`.
fn reference_weighted(x: &Mat<f64>, y: &[f64], weights: Option<&[f64]>) -> Fit {
    let y = faer::Col::from_fn(N, |i| y[i]);
    let mut problem = RidgeProblem::builder(x.as_ref(), y.as_ref()).lambda(LAMBDA);
    if let Some(w) = weights {
        problem = problem.weights_slice(w);
    }
    Refined::qr().solve(&problem.build().unwrap()).unwrap()
}

fn assert_close(fit: &Fit, reference: &Fit, what: &str) {
    let err = (&fit.coef - &reference.coef).norm_l2() / reference.coef.norm_l2();
    assert!(err < 1e-12, "{what}: relative error {err:e}");
    assert!(
        (fit.intercept - reference.intercept).abs() < 1e-12 * reference.intercept.abs().max(1.0),
        "{what}: intercept {} vs {}",
        fit.intercept,
        reference.intercept
    );
}

fn sql(udf: &str) -> String {
    let xs: Vec<String> = (1..=D).map(|j| format!("x{j}")).collect();
    format!("SELECT {udf}({}, y) FROM t", xs.join(", "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_partitions_give_the_in_memory_fit_for_every_partition_count() {
    let (x, y, dir) = written(8);
    let reference = reference(&x, &y);
    let mut states = Vec::new();
    for partitions in [1, 3, 8, 16] {
        let ctx = context(dir.path(), partitions).await;
        let fit = fit_sql(&ctx, &sql("ridge_moments"), LAMBDA, 0)
            .await
            .unwrap();
        assert_close(&fit, &reference, &format!("{partitions} partitions"));
        states.push(
            moments_sql(&ctx, &sql("ridge_moments"))
                .await
                .unwrap()
                .to_bytes(),
        );
    }
    // States from different partition counts summarise the same rows; any two merged are the
    // statistics of the data twice, whose ridge solution at λ is the same (S doubles, and so
    // does every co-moment: (2G + 2S·λ·I)·w = 2c).
    let mut merged = Moments::from_bytes(&states[0]).unwrap();
    merged.merge(&Moments::from_bytes(&states[3]).unwrap());
    let fit = MomentsProblem::new(merged, LAMBDA)
        .unwrap()
        .solve()
        .unwrap();
    assert_close(
        &fit,
        &reference,
        "1-partition state merged with 16-partition state",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_targets_and_no_intercept() {
    let (x, y, dir) = written(4);
    let ctx = context(dir.path(), 4).await;
    ctx.register_udaf(RidgeMoments::new(2).named("ridge_moments2").udaf());
    let xs: Vec<String> = (1..=D).map(|j| format!("x{j}")).collect();
    let query = format!("SELECT ridge_moments2({}, y, y2) FROM t", xs.join(", "));
    let y2: Vec<f64> = y.iter().map(|v| 3.0 - v).collect();
    assert_close(
        &fit_sql(&ctx, &query, LAMBDA, 0).await.unwrap(),
        &reference(&x, &y),
        "target 0 of 2",
    );
    assert_close(
        &fit_sql(&ctx, &query, LAMBDA, 1).await.unwrap(),
        &reference(&x, &y2),
        "target 1 of 2",
    );
    // Without an intercept: the raw moments about 0 equal those of all of X at once to 1e-12.
    // (The fit is not compared with `qr-refined`: raw moments of columns offset by 1e3 square
    // the condition number, so any Gram solve keeps only ~7 digits of it, whatever the merge.)
    let query = sql("ridge_moments_no_intercept");
    let state = moments_sql(&ctx, &query).await.unwrap();
    let yc = Mat::from_fn(N, 1, |i, _| y[i]);
    let whole = Moments::compute(x.as_ref(), yc.as_ref(), None, false, faer::Par::Seq);
    assert!(!state.centred());
    assert_eq!(state.weight_sum(), whole.weight_sum());
    let rel = |a: Mat<f64>, b: Mat<f64>| (&a - &b).norm_l2() / b.norm_l2();
    assert!(rel(state.xx(), whole.xx()) < 1e-12);
    assert!(rel(state.xy().to_owned(), whole.xy().to_owned()) < 1e-12);
    let fit = fit_sql(&ctx, &query, LAMBDA, 0).await.unwrap();
    assert_eq!(fit.intercept, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_null_is_refused_naming_its_column() {
    let (x, y, dir) = written(3);
    // One more file whose x3 has a null in its second row.
    let good = batch(&x, &y, 0, 5);
    let mut columns = good.columns().to_vec();
    columns[2] = Arc::new(Float64Array::from(vec![
        Some(1.0),
        None,
        Some(2.0),
        Some(3.0),
        Some(4.0),
    ]));
    write_parquet(
        &dir.path().join("part-99.parquet"),
        &[RecordBatch::try_new(good.schema(), columns).unwrap()],
    );
    let ctx = context(dir.path(), 4).await;
    let err = fit_sql(&ctx, &sql("ridge_moments"), LAMBDA, 0)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`x3`") && err.contains("null") && err.contains("IS NOT NULL"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_calls_and_results_are_errors() {
    let (_, _, dir) = written(2);
    let ctx = context(dir.path(), 2).await;
    // Only a target, no feature.
    let err = fit_sql(&ctx, "SELECT ridge_moments(y) FROM t", LAMBDA, 0)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("at least one feature"), "{err}");
    // Not a state.
    let err = fit_sql(&ctx, "SELECT count(*) FROM t", LAMBDA, 0)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("one Binary column"), "{err}");
    // Two states.
    let err = fit_sql(
        &ctx,
        &format!(
            "{} UNION ALL {}",
            sql("ridge_moments"),
            sql("ridge_moments")
        ),
        LAMBDA,
        0,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("2 row(s)"), "{err}");
    // A target index beyond the call's.
    assert!(
        fit_sql(&ctx, &sql("ridge_moments"), LAMBDA, 1)
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_with_named_targets_and_a_weight_column() {
    let (x, y, dir) = written(5);
    let ctx = context(dir.path(), 4).await;
    let xs: Vec<String> = (1..=D).map(|j| format!("x{j}")).collect();
    // Every column but the targets is a feature: y2 is left out of the query.
    let query = format!("SELECT {}, y, w FROM t", xs.join(", "));
    let (stats, fits) = fit_query(&ctx, &query, &["y"], Some("w"), true, "cholesky", &[LAMBDA])
        .await
        .unwrap();
    assert_eq!(stats.features, xs);
    assert_eq!(stats.rows, N as u64);
    let w: Vec<f64> = (0..N).map(weight).collect();
    assert_close(&fits[0], &reference_weighted(&x, &y, Some(&w)), "weighted");
    // Unweighted, two targets, the weight column now a feature's worth of noise left out.
    let query = format!("SELECT {}, y, y2 FROM t", xs.join(", "));
    let (stats, fits) = fit_query(&ctx, &query, &["y2", "y"], None, true, "normal", &[LAMBDA])
        .await
        .unwrap();
    assert_eq!(stats.targets, ["y2", "y"]);
    let y2: Vec<f64> = y.iter().map(|v| 3.0 - v).collect();
    assert_close(&fits[0], &reference(&x, &y2), "target y2");
    assert_close(&fits[1], &reference(&x, &y), "target y");
    // The aggregate with a weight argument, registered by `register`.
    let sql_weighted = format!(
        "SELECT ridge_moments_weighted({}, y, w) FROM t",
        xs.join(", ")
    );
    let fit = fit_sql(&ctx, &sql_weighted, LAMBDA, 0).await.unwrap();
    assert_close(
        &fit,
        &reference_weighted(&x, &y, Some(&w)),
        "ridge_moments_weighted",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_that_cannot_be_fitted_says_why() {
    let (_, _, dir) = written(2);
    let ctx = context(dir.path(), 2).await;
    let err = |r: tikhonov::Result<(QueryMoments, Vec<Fit>)>| r.unwrap_err().to_string();
    let e = err(fit_query(
        &ctx,
        "SELECT x1, y FROM t",
        &["z"],
        None,
        true,
        "cholesky",
        &[LAMBDA],
    )
    .await);
    assert!(
        e.contains("`z` is not a column") && e.contains("`x1`, `y`"),
        "{e}"
    );
    let e = err(fit_query(
        &ctx,
        "SELECT 'a' AS s, y FROM t",
        &["y"],
        None,
        true,
        "cholesky",
        &[LAMBDA],
    )
    .await);
    assert!(e.contains("`s`") && e.contains("not numeric"), "{e}");
    let e = err(fit_query(
        &ctx,
        "SELECT x1, y FROM t WHERE y > 1e300",
        &["y"],
        None,
        true,
        "cholesky",
        &[LAMBDA],
    )
    .await);
    assert!(e.contains("no rows"), "{e}");
    let e = err(fit_query(
        &ctx,
        "SELECT x1, y, -w AS w FROM t",
        &["y"],
        Some("w"),
        true,
        "cholesky",
        &[LAMBDA],
    )
    .await);
    assert!(e.contains("negative"), "{e}");
    let e = err(fit_query(
        &ctx,
        "SELECT x1, y FROM t",
        &["y"],
        None,
        true,
        "qr",
        &[LAMBDA],
    )
    .await);
    assert!(e.contains("solve from the statistics alone"), "{e}");
}

/// `tikhonov fit --sql`: a registered table and files named in the query give the in-memory fit.
#[test]
fn the_command_line_fits_a_query() {
    let (x, y, dir) = written(3);
    let reference = reference(&x, &y);
    let xs: Vec<String> = (1..=D).map(|j| format!("x{j}")).collect();
    let glob = dir.path().join("*.parquet");
    let queries = [
        (format!("SELECT {}, y FROM t", xs.join(", ")), true),
        (
            format!("SELECT {}, y FROM '{}'", xs.join(", "), glob.display()),
            false,
        ),
    ];
    for (query, with_table) in queries {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tikhonov"));
        cmd.args([
            "fit", "--sql", &query, "--target", "y", "--solver", "cholesky",
        ]);
        cmd.args(["--lambda", &LAMBDA.to_string(), "--format", "json"]);
        if with_table {
            cmd.arg("--table")
                .arg(format!("t={}", dir.path().display()));
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let coef: Vec<f64> = serde_json::from_value(v["coef"].clone()).unwrap();
        let fit_coef = faer::Col::from_fn(D, |j| coef[j]);
        let err = (&fit_coef - &reference.coef).norm_l2() / reference.coef.norm_l2();
        assert!(err < 1e-12, "{query}: relative error {err:e}");
        assert_eq!(v["sql"]["rows"], N);
        assert_eq!(v["sql"]["features"].as_array().unwrap().len(), D);
    }
    // A Parquet file given as --data is fitted through DataFusion too.
    let file = dir.path().join("part-00.parquet");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tikhonov"))
        .args([
            "fit",
            "--data",
            file.to_str().unwrap(),
            "--target",
            "y",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["solver"], "stream:cholesky");
    assert!(v["sql"]["rows"].as_u64().unwrap() > 0);
    // A bad table spec is a one-line error that says what is expected.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tikhonov"))
        .args([
            "fit",
            "--sql",
            "SELECT * FROM t",
            "--target",
            "y",
            "--table",
            "t",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NAME=PATH"));
}
