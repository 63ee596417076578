//! `tikhonov bench` end to end on the example suite (benches/suites/small.toml, about a second):
//! the tidy table's columns and values, meta.json, the scaling laws, the figures and the report;
//! and, on a one-problem suite, `--write-data` and `--compare` (another tool's table, written
//! here by hand: no Python in the tests).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn tikhonov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tikhonov"))
        .args(args)
        .output()
        .expect("the binary built by cargo can be started")
}

fn small_suite() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/suites/small.toml")
        .to_string_lossy()
        .into_owned()
}

/// The table as header → column of cells.
fn read_table(path: &Path) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    let rows = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells.len(), header.len(), "{l}");
            header
                .iter()
                .cloned()
                .zip(cells.iter().map(|c| (*c).to_owned()))
                .collect()
        })
        .collect();
    (header, rows)
}

fn num(row: &BTreeMap<String, String>, key: &str) -> f64 {
    row[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key} = {:?}", row[key]))
}

#[test]
fn the_small_suite_writes_the_table_meta_laws_figures_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = tikhonov(&[
        "bench",
        "--suite",
        &small_suite(),
        "--out",
        out_dir.to_str().unwrap(),
        "--quiet",
        "--repeats",
        "2",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    // The progress bar is off (--quiet, and stderr is a pipe): stderr holds notes at most.
    assert!(stderr.lines().all(|l| l.starts_with("note: ")), "{stderr}");

    // The tidy table: benchopt's column names and ours.
    let (header, rows) = read_table(&out_dir.join("results.csv"));
    for column in [
        "solver_name",
        "dataset_name",
        "objective_value",
        "objective_test_loss",
        "time",
        "stop_val",
        "idx_rep",
        "p_n",
        "p_d",
        "p_kappa",
        "p_lambda",
        "p_loss",
        "passes",
        "suboptimality",
        "rel_gradient",
        "rel_distance",
    ] {
        assert!(header.iter().any(|h| h == column), "no column {column}");
    }
    assert!(rows.len() > 100, "{} rows", rows.len());
    for r in &rows {
        assert!(num(r, "suboptimality") >= 0.0, "{r:?}");
        assert!(num(r, "time") >= 0.0, "{r:?}");
        assert!(["0", "1"].contains(&r["idx_rep"].as_str()), "{r:?}");
    }
    // The held-out error is there exactly where the suite holds out a test split (the time,
    // logistic and diabetes groups): a mean squared error or log-loss, so positive.
    for r in &rows {
        let split = ["time", "logistic", "diabetes"].contains(&r["group"].as_str());
        if split {
            assert!(num(r, "objective_test_loss") > 0.0, "{r:?}");
        } else {
            assert_eq!(r["objective_test_loss"], "", "{r:?}");
        }
    }
    // Every backend of the suite has rows, and the direct ones one per repeat.
    for solver in [
        "gd", "cd", "cholesky", "qr", "cg", "newton", "lbfgs", "saga",
    ] {
        assert!(
            rows.iter().any(|r| r["solver_name"] == solver),
            "{solver} missing"
        );
    }
    // gd is a descent method: on every recorded curve its suboptimality never rises, and it
    // falls by many orders of magnitude to the tolerance.
    let mut curves: BTreeMap<(String, String), Vec<&BTreeMap<String, String>>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r["solver_name"] == "gd") {
        curves
            .entry((r["dataset_name"].clone(), r["idx_rep"].clone()))
            .or_default()
            .push(r);
    }
    assert_eq!(curves.len(), 3 * 2, "three κ, two repeats");
    for ((dataset, _), curve) in &curves {
        assert!(curve.len() >= 20, "{dataset}: {} steps", curve.len());
        let subs: Vec<f64> = curve.iter().map(|r| num(r, "suboptimality")).collect();
        assert!(
            subs.windows(2).all(|w| w[1] <= w[0] * (1.0 + 1e-12)),
            "{dataset}: {subs:?}"
        );
        let last = curve.last().unwrap();
        assert_eq!(last["last"], "true");
        assert_eq!(last["stop"], "converged");
        assert!(num(last, "rel_gradient") <= 1e-6, "{last:?}");
        assert!(subs[subs.len() - 1] < 1e-8 * subs[0], "{dataset}: {subs:?}");
        let times: Vec<f64> = curve.iter().map(|r| num(r, "time")).collect();
        assert!(times.windows(2).all(|w| w[1] >= w[0]), "{times:?}");
    }
    // The references themselves (qr-refined, newton) are not in the table, but a direct
    // backend on a ridge problem lands at the rounding level of the optimum.
    for r in rows.iter().filter(|r| r["solver_name"] == "cholesky") {
        assert!(num(r, "rel_distance") < 1e-8, "{r:?}");
    }

    // meta.json: machine, versions, commit, command, date.
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("meta.json")).unwrap()).unwrap();
    for key in ["cpu_model", "cores", "memory_bytes"] {
        assert!(!meta["machine"][key].is_null(), "machine.{key}: {meta}");
    }
    assert_eq!(meta["tikhonov_version"], env!("CARGO_PKG_VERSION"));
    assert!(meta.get("git_commit").is_some(), "{meta}");
    assert!(
        meta["command"].as_str().unwrap().contains("bench --suite"),
        "{meta}"
    );
    assert!(meta["date"].as_str().unwrap().ends_with('Z'), "{meta}");
    assert_eq!(meta["repeats"], 2);

    // The κ law of gd (iteration counts are deterministic) is the theory's κ².
    let (_, laws) = read_table(&out_dir.join("scaling.csv"));
    let gd = laws
        .iter()
        .find(|l| l["solver"] == "gd" && l["law"] == "iterations")
        .expect("a κ law for gd");
    assert!((num(gd, "exponent") - 2.0).abs() < 0.15, "{gd:?}");
    assert!(num(gd, "ci95") > 0.0 && num(gd, "ci95") < 0.15, "{gd:?}");
    assert!(
        laws.iter()
            .any(|l| l["solver"] == "cholesky" && l["predictor"] == "d"),
        "{laws:?}"
    );

    // Figures: two per problem and the scaling ones, each a real drawing.
    let plots: Vec<_> = std::fs::read_dir(out_dir.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for name in [
        "kappa_n64-d8-k10_time.svg",
        "kappa_n64-d8-k10_passes.svg",
        "scaling_kappa_iterations_kappa.svg",
        "scaling_time_time_n.svg",
        "scaling_time_time_d.svg",
        "diabetes_diabetes_time.svg",
        "nist_Norris_time.svg",
    ] {
        assert!(
            plots.iter().any(|p| p.file_name().unwrap() == name),
            "{name} missing from {plots:?}"
        );
    }
    for p in &plots {
        let svg = std::fs::read_to_string(p).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.len() > 2000,
            "{}",
            p.display()
        );
        assert!(
            svg.contains("<polyline") || svg.contains("<circle"),
            "{}",
            p.display()
        );
    }
    // The report embeds every figure.
    let report = std::fs::read_to_string(out_dir.join("index.md")).unwrap();
    for p in &plots {
        let name = p.file_name().unwrap().to_string_lossy();
        assert!(report.contains(&format!("(plots/{name})")), "{name}");
    }
    assert!(report.contains("Scaling laws"), "{report}");
}

#[test]
fn a_bad_suite_is_one_line_naming_the_group_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("bad.toml");
    std::fs::write(
        &suite,
        "name = \"bad\"\n[[group]]\nname = \"g\"\nloss = \"logistic\"\nn = [10]\nd = [2]\n\
         kappa = [10]\nsolvers = [\"cg\"]\n",
    )
    .unwrap();
    let out = tikhonov(&[
        "bench",
        "--suite",
        suite.to_str().unwrap(),
        "--out",
        dir.path().join("o").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("group `g`") && stderr.contains("cg does not fit the logistic loss"),
        "{stderr}"
    );
    // A typo in a field name is refused, not ignored.
    std::fs::write(
        &suite,
        "name = \"bad\"\nrepeat = 2\n[[group]]\nname = \"g\"\nn = [10]\nd = [2]\n\
         kappa = [10]\nsolvers = [\"cg\"]\n",
    )
    .unwrap();
    let out = tikhonov(&["bench", "--suite", suite.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("repeat"), "{stderr}");
}

/// `tikhonov bench` on one ridge problem (three backends, one repeat: a fraction of a second;
/// 50 training rows and round(50·0.2/0.8) = 13 held out), the suite written to `dir`/tiny.toml
/// and the output to `dir`/out, with `extra` arguments.
fn tiny_bench(dir: &Path, extra: &[&str]) -> Output {
    let suite = dir.join("tiny.toml");
    std::fs::write(
        &suite,
        "name = \"tiny\"\nrepeats = 1\npoints = 20\n[[group]]\nname = \"tiny\"\n\
         n = [50]\nd = [5]\nkappa = [10]\nlambda = [0.01]\ntest_fraction = 0.2\n\
         solvers = [\"cholesky\", \"qr\", \"cg\"]\n",
    )
    .unwrap();
    let out_dir = dir.join("out");
    let mut args = vec![
        "bench",
        "--suite",
        suite.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    tikhonov(&args)
}

#[test]
fn write_data_gives_another_tool_the_problems_and_their_optimum() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = tiny_bench(dir.path(), &["--write-data", data.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let folder = data.join("tiny_n50-d5-k10");
    for file in ["X.npy", "y.npy", "w_star.npy", "problem.json"] {
        assert!(folder.join(file).is_file(), "{file} missing");
    }
    let x = tikhonov::data::read_npy_matrix(&folder.join("X.npy")).unwrap();
    assert_eq!((x.nrows(), x.ncols()), (50, 5));
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("problem.json")).unwrap())
            .unwrap();
    assert_eq!(meta["dataset_name"], "tiny/n50-d5-k10");
    assert_eq!(meta["lambda"], 0.01);
    assert_eq!(meta["weight_sum"], 50.0);
    // J* is the crate's objective at w*: recompute it from the files.
    let y = tikhonov::data::read_npy_vector(&folder.join("y.npy")).unwrap();
    let w = tikhonov::data::read_npy_vector(&folder.join("w_star.npy")).unwrap();
    let b = meta["intercept_star"].as_f64().unwrap();
    let r = &y - &x * &w;
    let j = (0..50).map(|i| (r[i] - b).powi(2)).sum::<f64>() / 100.0 + 0.005 * w.squared_norm_l2();
    let j_star = meta["objective_star"].as_f64().unwrap();
    assert!((j - j_star).abs() < 1e-12 * j_star, "{j} vs {j_star}");
    // Nothing was run.
    assert!(!dir.path().join("out").exists());

    // The test split is written too, and the bench's held-out error of the direct cholesky run
    // is the mean squared error of its coefficients on it, recomputed here from the files.
    let x_test = tikhonov::data::read_npy_matrix(&folder.join("X_test.npy")).unwrap();
    let y_test = tikhonov::data::read_npy_vector(&folder.join("y_test.npy")).unwrap();
    assert_eq!(
        (x_test.nrows(), x_test.ncols(), y_test.nrows()),
        (13, 5, 13)
    );
    assert_eq!(meta["n_test"], 13);
    let problem = tikhonov::RidgeProblem::builder(x.as_ref(), y.as_ref())
        .lambda(0.01)
        .intercept(true)
        .build()
        .unwrap();
    let fit = tikhonov::solvers::by_name("cholesky", &Default::default())
        .unwrap()
        .solve(&problem)
        .unwrap();
    let r = &y_test - &x_test * &fit.coef;
    let mse = (0..13).map(|i| (r[i] - fit.intercept).powi(2)).sum::<f64>() / 13.0;
    let out = tiny_bench(dir.path(), &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, rows) = read_table(&dir.path().join("out/results.csv"));
    let cholesky: Vec<_> = rows
        .iter()
        .filter(|r| r["solver_name"] == "cholesky")
        .collect();
    assert_eq!(cholesky.len(), 1);
    let held_out = num(cholesky[0], "objective_test_loss");
    assert!((held_out - mse).abs() <= 1e-12 * mse, "{held_out} vs {mse}");
    // Every recorded step of cg has one, near the optimum's at its end.
    let cg: Vec<f64> = rows
        .iter()
        .filter(|r| r["solver_name"] == "cg")
        .map(|r| num(r, "objective_test_loss"))
        .collect();
    assert!(
        cg.len() > 1 && (cg[cg.len() - 1] - mse).abs() < 1e-6 * mse,
        "{cg:?}"
    );
}

#[test]
fn compare_overlays_another_tools_curves_dashed() {
    let dir = tempfile::tempdir().unwrap();
    // Columns by name in any order; passes left empty; a direct solver's row says `solved`;
    // a row of a problem not in the suite is ignored.
    let theirs = dir.path().join("theirs.csv");
    std::fs::write(
        &theirs,
        "dataset_name,solver_name,time,stop_val,idx_rep,suboptimality,passes,last,stop\n\
         tiny/n50-d5-k10,sklearn-lsqr,1e-4,1,0,0.5,,false,max_iter\n\
         tiny/n50-d5-k10,sklearn-lsqr,2e-4,2,0,1e-6,,false,max_iter\n\
         tiny/n50-d5-k10,sklearn-lsqr,4e-4,4,0,1e-20,,true,converged\n\
         tiny/n50-d5-k10,sklearn-svd,3e-4,0,0,1e-30,,true,solved\n\
         elsewhere/x,sklearn-lsqr,1e-4,1,0,0.5,,true,converged\n",
    )
    .unwrap();
    let out = tiny_bench(dir.path(), &["--compare", theirs.to_str().unwrap()]);
    let out_dir = dir.path().join("out");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let plots = out_dir.join("plots");
    let time = std::fs::read_to_string(plots.join("tiny_n50-d5-k10_time.svg")).unwrap();
    let legend = |svg: &str, name: &str| svg.contains(&format!("\n{name}\n</text>"));
    for name in ["qr", "cg", "sklearn-lsqr", "sklearn-svd"] {
        assert!(legend(&time, name), "{name} not in the legend");
    }
    // Without passes, the other tool's curves are not in the figure against passes.
    let passes = std::fs::read_to_string(plots.join("tiny_n50-d5-k10_passes.svg")).unwrap();
    assert!(
        legend(&passes, "cg") && !passes.contains("sklearn"),
        "{passes}"
    );
    // Dashes are drawn as many short segments: far more polylines than with the solid cg alone.
    let dashes = time.matches("<polyline").count();
    let solid = passes.matches("<polyline").count();
    assert!(dashes > solid + 5, "{dashes} vs {solid}");
    // The table lists them, and the results table is ours alone.
    let report = std::fs::read_to_string(out_dir.join("index.md")).unwrap();
    assert!(report.contains("| `sklearn-lsqr` |") && report.contains("| `sklearn-svd` |"));
    let (_, rows) = read_table(&out_dir.join("results.csv"));
    assert!(
        rows.iter()
            .all(|r| !r["solver_name"].starts_with("sklearn"))
    );

    // A table without the needed columns is a one-line error with the fix.
    std::fs::write(&theirs, "solver_name,time\nx,1\n").unwrap();
    let out = tiny_bench(dir.path(), &["--compare", theirs.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("no column `dataset_name`") && stderr.contains("bench_sklearn.py"),
        "{stderr}"
    );
}
