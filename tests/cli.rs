//! The command-line front end: the JSON contract, data options and exit codes.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use tikhonov::solvers::SolverKind;

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

#[test]
fn errors_are_one_line_with_the_right_exit_code() {
    let check = |args: &[&str], code: i32, needle: &str| {
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
    };
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
