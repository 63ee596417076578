//! The command-line front end: the JSON contract, data options and exit codes.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use tikhonov::logistic::{BinaryLabels, LogisticProblem};
use tikhonov::solvers::{Newton, Solver, SolverKind};

fn tikhonov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tikhonov"))
        .args(args)
        .output()
        .expect("the binary built by cargo can be started")
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

/// The keys `fit --format json` promises, and every `compare` result repeats.
const FIT_KEYS: [&str; 11] = [
    "solver",
    "lambda",
    "n_samples",
    "n_features",
    "intercept",
    "coef",
    "objective",
    "gradient_norm",
    "iterations",
    "converged",
    "fit_seconds",
];

fn assert_fit_object(v: &Value, d: usize) {
    for key in FIT_KEYS {
        assert!(v.get(key).is_some(), "missing key {key} in {v}");
    }
    assert_eq!(v["n_features"], d);
    assert_eq!(v["coef"].as_array().unwrap().len(), d);
    assert!(
        v["coef"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c.as_f64().unwrap().is_finite())
    );
}

#[test]
fn compare_json_lists_every_backend_against_the_reference() {
    let out = tikhonov(&[
        "compare",
        "--n",
        "400",
        "--d",
        "6",
        "--solvers",
        "all",
        "--format",
        "json",
    ]);
    let v = json(&out);
    assert_eq!(v["reference"], "qr-refined");
    let results = v["results"].as_array().unwrap();
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["solver"].as_str().unwrap())
        .collect();
    for name in tikhonov::solvers::names() {
        // A dispatcher names the backend that ran after its own name: "auto:qr-refined".
        let dispatched = format!("{name}:");
        assert!(
            names
                .iter()
                .any(|n| *n == name || n.starts_with(&dispatched)),
            "{name} missing from {names:?}"
        );
    }
    for r in results {
        assert_fit_object(r, 6);
        assert_eq!(r["n_samples"], 400);
        let err = r["coef_rel_error"].as_f64().unwrap();
        let gap = r["objective_gap"].as_f64().unwrap();
        assert!(gap >= 0.0);
        let name = r["solver"].as_str().unwrap();
        let base = name.split(':').next_back().unwrap();
        let info = tikhonov::solvers::REGISTRY
            .iter()
            .find(|i| i.name == base)
            .unwrap();
        match (info.kind, base) {
            (SolverKind::Direct, _) => assert!(err < 1e-10, "{r}"),
            (SolverKind::Iterative, "sgd") => assert!(err < 1e-2, "{r}"),
            // Iterative defaults stop at a relative residual of 1e-8 or tighter; κ_H = 10² here.
            (SolverKind::Iterative, _) => assert!(err < 1e-5 && r["converged"] == true, "{r}"),
        }
    }
    // Without --solvers, only the backends suited to the shape: the kernel form is for d > n.
    let tall = json(&tikhonov(&[
        "compare", "--n", "400", "--d", "6", "--format", "json",
    ]));
    let wide = json(&tikhonov(&[
        "compare", "--n", "20", "--d", "60", "--format", "json",
    ]));
    let has_dual = |v: &Value| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["solver"] == "dual")
    };
    assert!(!has_dual(&tall) && has_dual(&wide));
}

#[test]
fn default_command_is_compare_with_a_table() {
    let out = tikhonov(&["--n", "300", "--d", "4", "--solvers", "cholesky,gd"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("built-in synthetic problem: n = 300, d = 4"),
        "{text}"
    );
    assert!(text.contains("cholesky") && text.contains("gd") && text.contains("rel. error"));
}

#[test]
fn fit_reads_csv_by_target_name_and_npy_with_weights() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("d.csv");
    let mut text = String::from("a,y,b\n");
    for i in 0..30 {
        let (a, b) = (i as f64, ((i * 7) % 5) as f64);
        text += &format!("{a},{},{b}\n", 1.0 + 2.0 * a - 3.0 * b);
    }
    std::fs::write(&csv, text).unwrap();
    let v = json(&tikhonov(&[
        "fit",
        "--data",
        csv.to_str().unwrap(),
        "--target",
        "y",
        "--lambda",
        "0",
        "--format",
        "json",
    ]));
    assert_fit_object(&v, 2);
    // `fit` defaults to `auto`, which names the backend it ran.
    let ran = v["solver"].as_str().unwrap();
    assert!(
        ran.strip_prefix("auto:")
            .is_some_and(|b| tikhonov::solvers::names().any(|n| n == b)),
        "{ran}"
    );
    let coef: Vec<f64> = v["coef"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_f64().unwrap())
        .collect();
    assert!(
        (coef[0] - 2.0).abs() < 1e-10 && (coef[1] + 3.0).abs() < 1e-10,
        "{coef:?}"
    );
    assert!((v["intercept"].as_f64().unwrap() - 1.0).abs() < 1e-9);

    // The same data as .npy, with weights, through the origin.
    let x = faer::Mat::from_fn(30, 2, |i, j| {
        if j == 0 {
            i as f64
        } else {
            ((i * 7) % 5) as f64
        }
    });
    let y = faer::Col::from_fn(30, |i| 2.0 * x[(i, 0)] - 3.0 * x[(i, 1)]);
    let w = faer::Col::from_fn(30, |i| 1.0 + (i % 2) as f64);
    let (xp, yp, wp) = (
        dir.path().join("x.npy"),
        dir.path().join("y.npy"),
        dir.path().join("w.npy"),
    );
    tikhonov::data::write_npy_matrix(&xp, x.as_ref()).unwrap();
    tikhonov::data::write_npy_vector(&yp, y.as_ref()).unwrap();
    tikhonov::data::write_npy_vector(&wp, w.as_ref()).unwrap();
    let p = |p: &Path| p.to_str().unwrap().to_owned();
    let v = json(&tikhonov(&[
        "fit",
        "--x",
        &p(&xp),
        "--y",
        &p(&yp),
        "--weights",
        &p(&wp),
        "--no-intercept",
        "--lambda",
        "0",
        "--solver",
        "qr",
        "--format",
        "json",
    ]));
    assert_eq!(v["intercept"], 0.0);
    assert_eq!(v["solver"], "qr");
    assert!((v["coef"][0].as_f64().unwrap() - 2.0).abs() < 1e-12);
}

/// Runs `args`, expecting exit `code` and one stderr line that contains `needle`.
fn check(args: &[&str], code: i32, needle: &str) {
    let out = tikhonov(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains(needle), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
}

#[test]
fn errors_are_one_line_with_the_right_exit_code() {
    // Bad usage: exit 2.
    check(
        &["fit", "--solver", "newton-cg", "--n", "20", "--d", "2"],
        2,
        "unknown solver `newton-cg`",
    );
    check(
        &["fit", "--lambda", "-1", "--n", "20", "--d", "2"],
        2,
        "lambda",
    );
    check(
        &[
            "fit", "--tol", "2", "--solver", "gd", "--n", "20", "--d", "2",
        ],
        2,
        "tol",
    );
    check(&["fit", "--data", "x.csv"], 2, "--target");
    // Bad data or numerical failure: exit 1.
    check(
        &[
            "fit",
            "--x",
            "/nonexistent/x.npy",
            "--y",
            "/nonexistent/y.npy",
        ],
        1,
        "/nonexistent/x.npy",
    );
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("nan.csv");
    std::fs::write(&csv, "a,y\n1,2\nNaN,3\n").unwrap();
    check(
        &["fit", "--data", csv.to_str().unwrap(), "--target", "y"],
        1,
        "line 3",
    );
    let dup = dir.path().join("dup.csv");
    std::fs::write(&dup, "a,b,y\n1,1,2\n2,2,3\n3,3,5\n4,4,4\n").unwrap();
    for solver in ["cholesky", "normal", "qr"] {
        check(
            &[
                "fit",
                "--data",
                dup.to_str().unwrap(),
                "--target",
                "y",
                "--lambda",
                "0",
                "--solver",
                solver,
            ],
            1,
            "singular",
        );
    }
    check(
        &[
            "fit", "--solver", "gd", "--step", "1000", "--n", "50", "--d", "3",
        ],
        1,
        "diverged",
    );
}

#[test]
fn history_csv_has_one_row_per_recorded_step_of_each_iterative_solver() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.csv");
    let out = tikhonov(&[
        "compare",
        "--n",
        "300",
        "--d",
        "5",
        "--solvers",
        "cholesky,gd",
        "--format",
        "json",
        "--history",
        path.to_str().unwrap(),
    ]);
    let v = json(&out);
    let gd = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["solver"] == "gd")
        .unwrap();
    let gd_iterations = gd["iterations"].as_u64().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("solver,iteration,passes,seconds,objective,residual")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // Direct backends record nothing; gd records its start and every iteration.
    assert!(rows.iter().all(|r| r[0] == "gd" && r.len() == 6));
    assert_eq!(rows.len() as u64, gd_iterations + 1);
    let iterations: Vec<u64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    assert_eq!(iterations, (0..=gd_iterations).collect::<Vec<_>>());
    let residuals: Vec<f64> = rows.iter().map(|r| r[5].parse().unwrap()).collect();
    assert_eq!(residuals[0], 1.0);
    let tol = 1e-8; // gd's default tolerance
    assert!(*residuals.last().unwrap() <= tol);
    assert!(residuals[1..].iter().all(|&r| r > 0.0 && r < 1.0));
}

#[test]
fn fit_with_several_targets_equals_separate_fits() {
    let dir = tempfile::tempdir().unwrap();
    // One file with both targets, and one per target (every non-target column is a feature).
    let (mut text, mut only_a, mut only_b) = (
        String::from("u,a,v,b\n"),
        String::from("u,a,v\n"),
        String::from("u,v,b\n"),
    );
    for i in 0..30 {
        let (u, v) = (i as f64 * 0.1, ((i * 7) % 11) as f64);
        let (a, b) = (1.0 + 2.0 * u - v + 0.01 * (i % 3) as f64, 3.0 * v - u);
        text += &format!("{u},{a},{v},{b}\n");
        only_a += &format!("{u},{a},{v}\n");
        only_b += &format!("{u},{v},{b}\n");
    }
    let file = |name: &str, content: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let path = &file("two.csv", &text);
    let singles = [file("a.csv", &only_a), file("b.csv", &only_b)];
    let both = json(&tikhonov(&[
        "fit",
        "--data",
        path,
        "--targets",
        "a,b",
        "--lambda",
        "1e-3,0.5",
        "--solver",
        "qr",
        "--format",
        "json",
    ]));
    assert_eq!(both["n_targets"], 2);
    assert_eq!(both["n_features"], 2);
    for (t, (target, lambda)) in [("a", "1e-3"), ("b", "0.5")].into_iter().enumerate() {
        let one = json(&tikhonov(&[
            "fit",
            "--data",
            &singles[t],
            "--target",
            target,
            "--lambda",
            lambda,
            "--solver",
            "qr",
            "--format",
            "json",
        ]));
        let coef = |v: &Value| -> Vec<f64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_f64().unwrap())
                .collect()
        };
        let (many, single) = (coef(&both["coef"][t]), coef(&one["coef"]));
        for (m, s) in many.iter().zip(&single) {
            assert!(
                (m - s).abs() <= 1e-12 * s.abs().max(1.0),
                "{many:?} vs {single:?}"
            );
        }
        let (bm, bs) = (
            both["intercept"][t].as_f64().unwrap(),
            one["intercept"].as_f64().unwrap(),
        );
        assert!((bm - bs).abs() <= 1e-12 * bs.abs().max(1.0));
        assert_eq!(both["lambda"][t], one["lambda"]);
    }
    // A λ list that does not match the targets, and several targets for compare, are usage errors.
    for args in [
        &[
            "fit",
            "--data",
            path,
            "--targets",
            "a,b",
            "--lambda",
            "1,2,3",
        ][..],
        &["compare", "--data", path, "--targets", "a,b"][..],
    ] {
        let out = tikhonov(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    }
}

#[test]
fn backend_options_by_name_reach_the_backend_or_are_refused() {
    let base = ["fit", "--n", "300", "--d", "4", "--format", "json"];
    let with = |extra: &[&str]| tikhonov(&[&base[..], extra].concat());
    let ok = with(&[
        "--solver", "lbfgs", "--option", "memory=2", "--tol", "1e-10",
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let fit = json(&ok);
    assert_eq!(fit["solver"], "lbfgs");
    assert_eq!(fit["stop"], "converged");
    // An option the backend does not use, a malformed one, an unknown name: one-line errors.
    for (extra, needle) in [
        (
            &["--solver", "gd", "--option", "memory=2"][..],
            "taken by lbfgs",
        ),
        (
            &["--solver", "cg", "--step", "0.1"][..],
            "`step` is taken by gd",
        ),
        (
            &["--solver", "lbfgs", "--option", "memory"][..],
            "NAME=VALUE",
        ),
        (
            &["--solver", "lbfgs", "--option", "memroy=2"][..],
            "one of tol",
        ),
    ] {
        let out = with(extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?}");
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
    // A warm start at the answer converges at once.
    let coef: Vec<String> = fit["coef"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap().to_string())
        .collect();
    let warm = format!("warm_start={}", coef.join(","));
    let again = json(&with(&[
        "--solver", "lbfgs", "--tol", "1e-10", "--option", &warm,
    ]));
    assert_eq!(again["iterations"], 0);
}

/// A small two-class data set: features `a`, `b` and a label `yes`/`no` drawn (deterministically)
/// with P(yes) = σ(1.5a − b + 0.3), so the classes overlap.
struct Labelled {
    x: faer::Mat<f64>,
    labels: Vec<&'static str>,
}

impl Labelled {
    fn new(n: usize) -> Self {
        let x = faer::Mat::from_fn(n, 2, |i, j| {
            let t = (i * (3 + 4 * j) + 7 * j) as f64;
            (t * 0.618_033_988_7).fract() * 4.0 - 2.0
        });
        let labels = (0..n)
            .map(|i| {
                let m = 1.5 * x[(i, 0)] - x[(i, 1)] + 0.3;
                let u = ((i as f64 + 0.5) * 0.754_877_666_2).fract();
                if u < 1.0 / (1.0 + (-m).exp()) {
                    "yes"
                } else {
                    "no"
                }
            })
            .collect();
        Labelled { x, labels }
    }

    /// The CSV text `a,label,b` with the label column as given by `label`.
    fn csv(&self, label: impl Fn(&str) -> String) -> String {
        let mut text = String::from("a,label,b\n");
        for (i, l) in self.labels.iter().enumerate() {
            text += &format!("{},{},{}\n", self.x[(i, 0)], label(l), self.x[(i, 1)]);
        }
        text
    }
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|c| c.as_f64().unwrap())
        .collect()
}

fn write(dir: &Path, name: &str, text: impl AsRef<[u8]>) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn fit_logistic_maps_the_labels_and_agrees_with_the_library_newton() {
    let data = Labelled::new(80);
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "d.csv", data.csv(str::to_owned));
    let labels = BinaryLabels::from_strings(&data.labels).unwrap();
    let problem = LogisticProblem::builder(data.x.as_ref(), &labels)
        .lambda(1e-2)
        .build()
        .unwrap();
    let library = Newton::default().solve_logistic(&problem).unwrap();
    let fit = |extra: &[&str]| {
        let base = ["fit", "--loss", "logistic", "--lambda", "1e-2", "--format"];
        json(&tikhonov(&[&base[..], extra].concat()))
    };
    for solver in ["newton", "auto"] {
        let v = fit(&[
            "json", "--data", &csv, "--target", "label", "--solver", solver,
        ]);
        assert_fit_object(&v, 2);
        assert_eq!(v["loss"], "logistic");
        assert_eq!(v["labels"], serde_json::json!(["no", "yes"]));
        assert_eq!(v["n_samples"], 80);
        assert_eq!(v["converged"], true);
        for (c, l) in numbers(&v["coef"]).iter().zip(library.coef.iter()) {
            assert!((c - l).abs() <= 1e-10 * l.abs().max(1.0), "{solver}: {v}");
        }
        let b = v["intercept"].as_f64().unwrap();
        assert!((b - library.intercept).abs() <= 1e-10, "{solver}: {v}");
    }
    let table = tikhonov(&[
        "fit", "--loss", "logistic", "--data", &csv, "--target", "label",
    ]);
    let text = String::from_utf8(json_ok(table)).unwrap();
    assert!(
        text.contains("labels        `no` → −1, `yes` → +1"),
        "{text}"
    );
    assert!(text.contains("loss          logistic"), "{text}");

    // The same labels as 0/1 in a .npy file: the same classes by value, the same fit.
    let (xp, yp) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    let y01 = faer::Col::from_fn(80, |i| f64::from(u8::from(data.labels[i] == "yes")));
    tikhonov::data::write_npy_matrix(&xp, data.x.as_ref()).unwrap();
    tikhonov::data::write_npy_vector(&yp, y01.as_ref()).unwrap();
    let v = fit(&[
        "json",
        "--x",
        xp.to_str().unwrap(),
        "--y",
        yp.to_str().unwrap(),
        "--solver",
        "newton",
    ]);
    assert_eq!(v["labels"], serde_json::json!(["0", "1"]));
    for (c, l) in numbers(&v["coef"]).iter().zip(library.coef.iter()) {
        assert!((c - l).abs() <= 1e-10 * l.abs().max(1.0), "{v}");
    }
    // Numeric labels in a CSV are ordered by value: `10` is the positive class, after `9`.
    let numeric = write(
        dir.path(),
        "n.csv",
        data.csv(|l| if l == "yes" { "10" } else { "9" }.into()),
    );
    let v = fit(&["json", "--data", &numeric, "--target", "label"]);
    assert_eq!(v["labels"], serde_json::json!(["9", "10"]));
    assert_eq!(
        v["coef"],
        fit(&["json", "--data", &csv, "--target", "label"])["coef"]
    );
}

/// The stdout of a successful run.
fn json_ok(out: Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn compare_logistic_runs_the_backends_that_fit_it_against_newton() {
    let data = Labelled::new(200);
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "d.csv", data.csv(str::to_owned));
    let out = tikhonov(&[
        "compare", "--loss", "logistic", "--data", &csv, "--target", "label", "--lambda", "1e-2",
        "--format", "json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = json(&out);
    assert_eq!(v["reference"], "newton");
    assert_eq!(v["loss"], "logistic");
    let results = v["results"].as_array().unwrap();
    let ran: Vec<&str> = results
        .iter()
        .map(|r| r["solver"].as_str().unwrap().split(':').next().unwrap())
        .collect();
    let expected: Vec<&str> = tikhonov::solvers::REGISTRY
        .iter()
        .filter(|i| i.losses.contains(&tikhonov::LossKind::Logistic))
        .map(|i| i.name)
        .collect();
    assert_eq!(ran, expected);
    for r in results {
        assert_eq!(r["labels"], serde_json::json!(["no", "yes"]), "{r}");
        let name = r["solver"].as_str().unwrap();
        if r["converged"] == true {
            // sgd stops at a relative gradient of 1e-4 by default, the others at 1e-8 or below.
            let bound = if name == "sgd" { 1e-6 } else { 1e-12 };
            assert!(r["objective_gap"].as_f64().unwrap() < bound, "{r}");
        } else {
            // A backend that stopped on its budget says so on stderr.
            assert!(
                stderr.contains(&format!("warning: {name} did not converge")),
                "{r}"
            );
        }
    }
    // A backend named explicitly that fits only the squared loss shows why in its row.
    let v = json(&tikhonov(&[
        "compare",
        "--loss",
        "logistic",
        "--data",
        &csv,
        "--target",
        "label",
        "--solvers",
        "lbfgs,qr",
        "--format",
        "json",
    ]));
    assert_eq!(v["results"][0]["converged"], true);
    let error = v["results"][1]["error"].as_str().unwrap();
    assert!(error.contains("qr does not fit the logistic loss") && error.contains("newton"));
    let table = json_ok(tikhonov(&[
        "compare",
        "--loss",
        "logistic",
        "--n",
        "300",
        "--d",
        "3",
        "--solvers",
        "newton",
    ]));
    let text = String::from_utf8(table).unwrap();
    assert!(
        text.contains("logistic loss, labels `0` → −1, `1` → +1"),
        "{text}"
    );
    assert!(text.contains("reference: newton"), "{text}");
}

#[test]
fn predict_applies_a_saved_fit_to_new_rows() {
    let data = Labelled::new(50);
    let dir = tempfile::tempdir().unwrap();
    let csv = write(dir.path(), "d.csv", data.csv(str::to_owned));
    let model = json_ok(tikhonov(&[
        "fit", "--loss", "logistic", "--data", &csv, "--target", "label", "--format", "json",
    ]));
    let model_path = write(dir.path(), "model.json", model);
    // The model applied to `rows`, printed in `format`.
    let predict = |model: &str, rows: &[&str], format: &str| {
        let base = ["predict", "--model", model, "--format", format];
        json_ok(tikhonov(&[&base[..], rows].concat()))
    };
    let rows = ["--data", &csv, "--target", "label"];
    let v: Value = serde_json::from_slice(&predict(&model_path, &rows, "json")).unwrap();
    assert_eq!(v["n_samples"], 50);
    assert_eq!(v["loss"], "logistic");
    assert_eq!(v["labels"], serde_json::json!(["no", "yes"]));
    let (m, p) = (numbers(&v["decision"]), numbers(&v["probability"]));
    let classes = v["class"].as_array().unwrap();
    assert_eq!((m.len(), p.len(), classes.len()), (50, 50, 50));
    let mut right = 0;
    for i in 0..50 {
        assert!(p[i] > 0.0 && p[i] < 1.0, "{}", p[i]);
        assert_eq!((p[i] > 0.5), (m[i] > 0.0));
        let class = if m[i] > 0.0 { "yes" } else { "no" };
        assert_eq!(classes[i], class);
        right += usize::from(class == data.labels[i]);
    }
    assert!(right >= 35, "{right} of 50 training labels predicted");
    // CSV: a header and one row per sample, the same numbers.
    let text = String::from_utf8(predict(&model_path, &rows, "csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 51);
    assert_eq!(lines[0], "decision,probability,class");
    let first: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(first[0].parse::<f64>().unwrap(), m[0]);
    assert_eq!(first[1].parse::<f64>().unwrap(), p[0]);
    assert_eq!(first[2], classes[0]);

    // Ridge: the prediction is X·w + b, from a .npy file.
    let (xp, yp) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    let y = faer::Col::from_fn(50, |i| {
        3.0 * data.x[(i, 0)] - data.x[(i, 1)] + (i % 4) as f64
    });
    tikhonov::data::write_npy_matrix(&xp, data.x.as_ref()).unwrap();
    tikhonov::data::write_npy_vector(&yp, y.as_ref()).unwrap();
    let (xs, ys) = (xp.to_str().unwrap(), yp.to_str().unwrap());
    let ridge = json_ok(tikhonov(&["fit", "--x", xs, "--y", ys, "--format", "json"]));
    let ridge_path = write(dir.path(), "ridge.json", &ridge);
    let fit: Value = serde_json::from_slice(&ridge).unwrap();
    let (w, b) = (numbers(&fit["coef"]), fit["intercept"].as_f64().unwrap());
    let v: Value = serde_json::from_slice(&predict(&ridge_path, &["--x", xs], "json")).unwrap();
    assert_eq!(v["loss"], "squared");
    assert!(v.get("labels").is_none() && v.get("probability").is_none());
    let prediction = numbers(&v["prediction"]);
    assert_eq!(prediction.len(), 50);
    for (i, p) in prediction.iter().enumerate() {
        let expected = data.x[(i, 0)] * w[0] + data.x[(i, 1)] * w[1] + b;
        assert!(
            (p - expected).abs() <= 1e-12 * expected.abs().max(1.0),
            "{p} {expected}"
        );
    }
    let text = String::from_utf8(predict(&ridge_path, &["--x", xs], "csv")).unwrap();
    assert_eq!(text.lines().next(), Some("prediction"));
    assert_eq!(
        text.lines().nth(1).unwrap().parse::<f64>().unwrap(),
        prediction[0]
    );
}

#[test]
fn logistic_and_predict_errors_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str, text: &str| write(dir.path(), name, text);
    let three = p("three.csv", "a,l\n0,x\n1,y\n2,z\n3,x\n");
    let one = p("one.csv", "a,l\n0,x\n1,x\n");
    let separable = p("sep.csv", "a,l\n0,no\n1,no\n2,yes\n3,yes\n");
    let logistic = |data: &str| {
        ["fit", "--loss", "logistic", "--data", data, "--target", "l"].map(str::to_owned)
    };
    let run = |args: &[String], extra: &[&str], code: i32, needle: &str| {
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend(extra);
        check(&all, code, needle);
    };
    run(
        &logistic(&three),
        &[],
        1,
        "more than two distinct labels (`x`, `y`, `z`",
    );
    run(
        &logistic(&one),
        &[],
        1,
        "a classifier needs samples of both classes",
    );
    run(&logistic(&separable), &["--lambda", "0"], 1, "use λ > 0");
    run(
        &logistic(&separable),
        &["--lambda", "0", "--solver", "lbfgs"],
        1,
        "linearly separable",
    );
    // Usage errors: a backend that fits only ridge, several targets.
    run(
        &logistic(&separable),
        &["--solver", "qr"],
        2,
        "backends that do: auto, newton",
    );
    run(
        &logistic(&separable),
        &["--targets", "l,a"],
        2,
        "one target and one λ",
    );
    check(
        &[
            "compare",
            "--loss",
            "logistic",
            "--reference",
            "cholesky",
            "--n",
            "50",
            "--d",
            "2",
        ],
        2,
        "cholesky does not fit the logistic loss",
    );

    // predict: a model that does not exist, is not JSON, is not a model, has several targets;
    // rows with the wrong number of features.
    let data = p("d.csv", "a,b,l\n1,2,no\n2,1,yes\n3,3,no\n4,1,yes\n");
    let model = json_ok(tikhonov(&[
        "fit", "--loss", "logistic", "--data", &data, "--target", "l", "--format", "json",
    ]));
    let model = write(dir.path(), "m.json", model);
    let predict = |model: &str, rows: &str, code: i32, needle: &str| {
        check(
            &["predict", "--model", model, "--data", rows, "--target", "l"],
            code,
            needle,
        );
    };
    let missing = dir.path().join("none.json");
    predict(missing.to_str().unwrap(), &data, 1, "cannot read the model");
    predict(&p("text.json", "not json"), &data, 1, "not a JSON document");
    predict(
        &p("other.json", r#"{"coef": [1, 2]}"#),
        &data,
        1,
        "not a tikhonov model",
    );
    let several = r#"{"n_targets": 2, "coef": [[1, 2], [3, 4]], "intercept": [0, 0]}"#;
    predict(&p("two.json", several), &data, 1, "several targets");
    let wide = p("wide.csv", "a,b,c,l\n1,2,3,no\n");
    predict(
        &model,
        &wide,
        1,
        "the model has 2 coefficients but the new data have 3 columns",
    );
    check(&["predict", "--model", &model], 2, "--x");
}

#[test]
fn path_and_cv_print_their_keys_and_agree_with_the_library() {
    use tikhonov::select::kfold::{self, Folds};
    use tikhonov::select::loo::LeaveOneOut;
    let dir = tempfile::tempdir().unwrap();
    let spec = tikhonov::data::Synthetic {
        n_samples: 300,
        n_features: 4,
        condition: 10.0,
        noise: 0.5,
        seed: 3,
        ..Default::default()
    };
    let data = spec.generate().unwrap();
    let (xp, yp) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    tikhonov::data::write_npy_matrix(&xp, data.x.as_ref()).unwrap();
    tikhonov::data::write_npy_vector(&yp, data.y.as_ref()).unwrap();
    let (x, y) = (xp.to_str().unwrap(), yp.to_str().unwrap());
    let grid = "1,0.1,0.01,0.001,0.0001";
    let lambdas = [1.0, 0.1, 0.01, 0.001, 0.0001];
    let problem = tikhonov::RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
        .build()
        .unwrap();

    // The path: one fit per λ, the keys `path` promises, and each fit the library's.
    let svg = dir.path().join("path.svg");
    let v = json(&tikhonov(&[
        "path",
        "--x",
        x,
        "--y",
        y,
        "--lambdas",
        grid,
        "--solver",
        "qr",
        "--format",
        "json",
        "--plot",
        svg.to_str().unwrap(),
    ]));
    for key in [
        "lambdas",
        "df",
        "coef",
        "intercept",
        "objective",
        "train_error",
    ] {
        assert_eq!(v[key].as_array().unwrap().len(), 5, "{key}: {v}");
    }
    let fit = tikhonov::solvers::Qr
        .solve(&problem.with_lambda(0.01).unwrap())
        .unwrap();
    assert!((v["coef"][2][1].as_f64().unwrap() - fit.coef[1]).abs() < 1e-12);
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));

    // k-fold with given fold ids equals the library on the same folds.
    let ids: Vec<usize> = (0..300).map(|i| (i * 7) % 5).collect();
    let ids_file = dir.path().join("folds.txt");
    let text: String = ids.iter().map(|i| format!("{}\n", i + 1)).collect();
    std::fs::write(&ids_file, text).unwrap();
    let v = json(&tikhonov(&[
        "cv",
        "--folds",
        "5",
        "--fold-ids",
        ids_file.to_str().unwrap(),
        "--x",
        x,
        "--y",
        y,
        "--lambdas",
        grid,
        "--format",
        "json",
    ]));
    let folds = Folds::from_ids(&ids).unwrap();
    let exact = kfold::ridge(&problem, &lambdas, &folds).unwrap();
    assert_eq!(v["method"], "kfold");
    assert_eq!(v["lambda_min"].as_f64().unwrap(), exact.curve.lambda_min);
    assert_eq!(v["lambda_1se"].as_f64().unwrap(), exact.curve.lambda_1se);
    for k in 0..5 {
        assert_eq!(v["cv_mean"][k].as_f64().unwrap(), exact.curve.mean[k]);
        assert!(v["cv_se"][k].as_f64().unwrap() > 0.0);
    }
    assert!(v["fit_seconds"].as_f64().unwrap() >= 0.0);

    // Exact LOO (with its residuals) and GCV.
    let v = json(&tikhonov(&[
        "cv",
        "--loo",
        "--loo-residuals",
        "--x",
        x,
        "--y",
        y,
        "--lambdas",
        grid,
        "--format",
        "json",
    ]));
    let loo = LeaveOneOut::new(&problem).unwrap();
    let curve = loo.curve(&lambdas).unwrap();
    assert_eq!(v["method"], "loo");
    assert_eq!(v["lambda_min"].as_f64().unwrap(), curve.lambda_min);
    assert_eq!(v["loo_residuals"].as_array().unwrap().len(), 300);
    let v = json(&tikhonov(&[
        "cv",
        "--gcv",
        "--x",
        x,
        "--y",
        y,
        "--lambdas",
        grid,
        "--format",
        "json",
    ]));
    assert_eq!(v["method"], "gcv");
    assert!(v.get("cv_se").is_none(), "{v}");
    assert_eq!(
        v["lambda_min"].as_f64().unwrap(),
        loo.gcv(&lambdas).unwrap().lambda_min
    );

    // Logistic k-fold on the built-in problem; LOO is ridge-only.
    let v = json(&tikhonov(&[
        "cv",
        "--folds",
        "3",
        "--loss",
        "logistic",
        "--n",
        "400",
        "--d",
        "3",
        "--n-lambdas",
        "6",
        "--format",
        "json",
    ]));
    assert_eq!(v["loss"], "logistic");
    assert_eq!(v["misclassification_mean"].as_array().unwrap().len(), 6);
    check(
        &["cv", "--loo", "--loss", "logistic", "--n", "50", "--d", "2"],
        2,
        "--folds K with --loss logistic",
    );
    check(
        &[
            "cv",
            "--folds",
            "4",
            "--fold-ids",
            ids_file.to_str().unwrap(),
            "--x",
            x,
            "--y",
            y,
        ],
        2,
        "distinct ids",
    );
    check(&["cv", "--n", "50", "--d", "2"], 2, "--folds");
}
