//! The adversarial corpus of issue 13 (families 1, 2, 5, 6 and 8) as regression tests, run
//! against the built binary: no panic, no abort, no lost file, and every error one bounded line
//! that names the cause and a way out.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use tikhonov::Error;
use tikhonov::error::StepSource;

const BIN: &str = env!("CARGO_BIN_EXE_tikhonov");

/// The longest stderr line accepted (characters).
const MAX_LINE: usize = 700;

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary built by cargo can be started")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stderr is one line per message, each bounded, without raw control characters, and no panic.
fn assert_clean_stderr(args: &[&str], out: &Output) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    for line in err.lines() {
        assert!(
            line.chars().count() <= MAX_LINE,
            "{args:?}: a line of {} characters",
            line.chars().count()
        );
        assert!(
            !line.chars().any(char::is_control),
            "{args:?}: control character in {line:?}"
        );
    }
}

/// Runs `args`, expecting exit `code` and exactly one stderr line `error: …` containing every
/// needle.
fn fails(args: &[&str], code: i32, needles: &[&str]) -> String {
    let out = run(args);
    assert_clean_stderr(args, &out);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    for needle in needles {
        assert!(err.contains(needle), "{args:?}: no {needle:?} in {err}");
    }
    err
}

fn succeeds(args: &[&str]) -> Output {
    let out = run(args);
    assert_clean_stderr(args, &out);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    out
}

fn s(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// A small regression data set as X.npy, y.npy, Y2.npy (two targets), w.npy and d.csv.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let n = 40;
        let x = faer::Mat::from_fn(n, 3, |i, j| ((i * (j + 3)) % 7) as f64 + 0.1 * j as f64);
        let y = faer::Col::from_fn(n, |i| x[(i, 0)] - 2.0 * x[(i, 1)] + 0.5 + (i % 3) as f64);
        let y2 = faer::Mat::from_fn(n, 2, |i, t| y[i] * (t + 1) as f64);
        let w = faer::Col::from_fn(n, |i| 1.0 + (i % 2) as f64);
        let p = |name: &str| dir.path().join(name);
        tikhonov::data::write_npy_matrix(&p("X.npy"), x.as_ref()).unwrap();
        tikhonov::data::write_npy_vector(&p("y.npy"), y.as_ref()).unwrap();
        tikhonov::data::write_npy_matrix(&p("Y2.npy"), y2.as_ref()).unwrap();
        tikhonov::data::write_npy_vector(&p("w.npy"), w.as_ref()).unwrap();
        let mut csv = String::from("a,b,c,y,z\n");
        for i in 0..n {
            csv += &format!(
                "{},{},{},{},{}\n",
                x[(i, 0)],
                x[(i, 1)],
                x[(i, 2)],
                y[i],
                2.0 * y[i]
            );
        }
        std::fs::write(p("d.csv"), csv).unwrap();
        Files { dir }
    }
    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

// Family 1: panics.

#[test]
fn huge_time_limits_mean_no_limit() {
    for t in ["1e19", "1e20", "1e300", "inf"] {
        let out = succeeds(&[
            "fit",
            "--solver",
            "gd",
            "--n",
            "50",
            "--d",
            "3",
            "--time-limit",
            t,
        ]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("converged     true"));
    }
    for t in ["0", "-1", "nan"] {
        fails(
            &[
                "fit",
                "--solver",
                "gd",
                "--n",
                "50",
                "--d",
                "3",
                "--time-limit",
                t,
            ],
            2,
            &["time_limit", "positive"],
        );
    }
}

#[test]
fn built_in_problems_too_large_for_memory_are_refused_with_the_memory_needed() {
    fails(
        &["--n", "100000000000", "--d", "100"],
        1,
        &["needs about", "TB", "available", "smaller n or d"],
    );
    // n·d overflows usize.
    fails(
        &["fit", "--n", "18446744073709551615", "--d", "3"],
        1,
        &["overflows", "smaller n or d"],
    );
}

#[test]
fn a_closed_or_full_stdout_does_not_panic() {
    let mut child = Command::new(BIN)
        .args(["compare", "--n", "200", "--d", "4"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end at once, as `tikhonov compare | true` does.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_clean_stderr(&["compare | true"], &out);
    assert!(out.status.success(), "{}", stderr(&out));

    if Path::new("/dev/full").exists() {
        let out = Command::new(BIN)
            .args(["fit", "--n", "50", "--d", "3"])
            .stdout(std::fs::File::create("/dev/full").unwrap())
            .output()
            .unwrap();
        assert_clean_stderr(&["fit > /dev/full"], &out);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("cannot write the output"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn d_by_d_backends_that_would_not_fit_are_skipped_or_refused() {
    // Wide enough that one d × d matrix alone exceeds the available memory on this machine.
    let Some(available) = tikhonov::data::available_memory() else {
        return; // no /proc/meminfo: the check cannot be exercised here
    };
    let d = ((available as f64 / 8.0).sqrt() * 1.2) as usize;
    let files = Files::new();
    let csv = files.path("wide.csv");
    let mut text: String = (0..d).map(|j| format!("c{j},")).collect();
    text += "y\n";
    for i in 0..2 {
        for j in 0..d {
            text += if (i + j) % 3 == 0 { "1," } else { "0," };
        }
        text += &format!("{i}\n");
    }
    std::fs::write(&csv, text).unwrap();
    for solver in ["cholesky", "normal", "qr", "qr-refined"] {
        fails(
            &[
                "fit",
                "--data",
                s(&csv),
                "--target",
                "y",
                "--solver",
                solver,
            ],
            1,
            &["skipped", "needs about", "available"],
        );
    }
    let out = succeeds(&[
        "compare",
        "--data",
        s(&csv),
        "--target",
        "y",
        "--solvers",
        "cholesky,dual,qr",
        "--reference",
        "qr",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The reference qr is skipped too, so `dual` serves as the reference.
    assert_eq!(v["reference"], "dual", "{v}");
    let results = v["results"].as_array().unwrap();
    for r in results.iter().filter(|r| r["solver"] != "dual") {
        assert!(r["error"].as_str().unwrap().contains("skipped"), "{r}");
    }
    assert!(stderr(&out).contains("served as the reference"));
}

// Family 2: abort.

#[test]
fn npy_lengths_are_checked_against_the_file_before_allocating() {
    let files = Files::new();
    let evil = files.path("evil.npy");
    let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
    bytes.extend(0xFFFF_FFF0u32.to_le_bytes());
    bytes.extend(b"{}xxxxxx");
    std::fs::write(&evil, &bytes).unwrap();
    fails(
        &["fit", "--x", s(&evil), "--y", s(&files.path("y.npy"))],
        1,
        &["header claims 4294967280 bytes", "write it again"],
    );
    // A consistent header whose shape needs more memory than there is: a sparse file.
    let sparse = files.path("sparse.npy");
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 100000), }";
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let len = header.len() + 1;
    bytes.extend((len as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.push(b'\n');
    let f = std::fs::File::create(&sparse).unwrap();
    (&f).write_all(&bytes).unwrap();
    if f.set_len(bytes.len() as u64 + 8 * 1_000_000_000 * 100_000)
        .is_err()
    {
        return; // this file system has no sparse files that large
    }
    fails(
        &["fit", "--x", s(&sparse), "--y", s(&files.path("y.npy"))],
        1,
        &["needs about", "available"],
    );
}

// Family 5: lost files.

#[test]
fn history_never_overwrites_an_input() {
    let files = Files::new();
    let link = files.path("link.npy");
    #[cfg(unix)]
    std::os::unix::fs::symlink(files.path("X.npy"), &link).unwrap();
    let before: Vec<Vec<u8>> = ["X.npy", "y.npy", "w.npy", "d.csv"]
        .iter()
        .map(|f| std::fs::read(files.path(f)).unwrap())
        .collect();
    let (x, y, w, d) = (
        files.path("X.npy"),
        files.path("y.npy"),
        files.path("w.npy"),
        files.path("d.csv"),
    );
    let npy = [
        "fit",
        "--solver",
        "gd",
        "--x",
        s(&x),
        "--y",
        s(&y),
        "--weights",
        s(&w),
    ];
    let mut targets = vec![s(&x), s(&y), s(&w)];
    if cfg!(unix) {
        targets.push(s(&link));
    }
    for target in targets {
        let mut args = npy.to_vec();
        args.extend(["--history", target]);
        fails(&args, 2, &["history", "destroy"]);
    }
    fails(
        &[
            "fit",
            "--solver",
            "gd",
            "--data",
            s(&d),
            "--target",
            "y",
            "--history",
            s(&d),
        ],
        2,
        &["history", "destroy"],
    );
    let after: Vec<Vec<u8>> = ["X.npy", "y.npy", "w.npy", "d.csv"]
        .iter()
        .map(|f| std::fs::read(files.path(f)).unwrap())
        .collect();
    assert!(before == after, "an input file changed");
}

#[test]
fn a_direct_only_run_leaves_an_existing_history_alone() {
    let files = Files::new();
    let h = files.path("h.csv");
    std::fs::write(&h, "precious\n").unwrap();
    let out = succeeds(&[
        "compare",
        "--n",
        "60",
        "--d",
        "3",
        "--solvers",
        "qr,cholesky",
        "--history",
        s(&h),
    ]);
    assert!(stderr(&out).contains("not written"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&h).unwrap(), "precious\n");
    // With an iterative backend it is replaced, completely, and no temporary file is left.
    succeeds(&[
        "compare",
        "--n",
        "60",
        "--d",
        "3",
        "--solvers",
        "qr,cg",
        "--history",
        s(&h),
    ]);
    let text = std::fs::read_to_string(&h).unwrap();
    assert!(
        text.starts_with("solver,iteration,passes,seconds,objective,residual\n"),
        "{text}"
    );
    assert!(text.lines().count() > 2);
    let names: Vec<String> = std::fs::read_dir(files.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
    fails(
        &[
            "fit",
            "--solver",
            "cg",
            "--n",
            "30",
            "--d",
            "2",
            "--history",
            "/nonexistent-dir/h.csv",
        ],
        2,
        &["history", "folder"],
    );
}

// Family 6: messages that mislead.

#[test]
fn data_are_never_echoed_in_full_or_raw() {
    let files = Files::new();
    let y = files.path("y.npy");
    let cell = files.path("cell.csv");
    std::fs::write(&cell, format!("a,y\n{},1\n", "x".repeat(1_000_000))).unwrap();
    fails(
        &["fit", "--data", s(&cell), "--target", "y"],
        1,
        &["…", "not a number"],
    );

    let wide = files.path("wide.csv");
    let header: Vec<String> = (0..100_000).map(|j| format!("c{j}")).collect();
    std::fs::write(&wide, header.join(",") + "\n").unwrap();
    fails(
        &["fit", "--data", s(&wide), "--target", "y"],
        1,
        &["and 99980 more"],
    );

    let ctrl = files.path("ctrl.csv");
    std::fs::write(&ctrl, "a\u{1b}[2J,y\n1\u{7},2\n").unwrap();
    fails(
        &["fit", "--data", s(&ctrl), "--target", "y"],
        1,
        &["\\u{7}"],
    );
    fails(
        &["fit", "--data", s(&ctrl), "--target", "q\u{1b}"],
        1,
        &["\\u{1b}"],
    );

    // A 400 KB header (a dtype string), and one with 130 000 dimensions.
    for (descr, shape) in [
        ("A".repeat(400_000), "(3,)".to_string()),
        ("<f8".to_string(), format!("({})", "1, ".repeat(130_000))),
    ] {
        let big = files.path("big.npy");
        let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let mut bytes = b"\x93NUMPY\x02\x00".to_vec();
        bytes.extend((header.len() as u32).to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend([0u8; 24]);
        std::fs::write(&big, bytes).unwrap();
        fails(&["fit", "--x", s(&big), "--y", s(&y)], 1, &["…"]);
    }
}

#[test]
fn npy_from_a_pipe_is_read() {
    let files = Files::new();
    let bytes = std::fs::read(files.path("X.npy")).unwrap();
    let mut child = Command::new(BIN)
        .args([
            "fit",
            "--solver",
            "qr",
            "--format",
            "json",
            "--x",
            "/dev/stdin",
            "--y",
        ])
        .arg(files.path("y.npy"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let piped = child.wait_with_output().unwrap();
    assert!(piped.status.success(), "{}", stderr(&piped));
    let file = succeeds(&[
        "fit",
        "--solver",
        "qr",
        "--format",
        "json",
        "--x",
        s(&files.path("X.npy")),
        "--y",
        s(&files.path("y.npy")),
    ]);
    let coef = |o: &Output| {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["coef"].clone()
    };
    assert_eq!(coef(&piped), coef(&file));
}

#[test]
fn npy_from_a_fifo_is_read() {
    let files = Files::new();
    let fifo = files.path("x.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        return; // no mkfifo on this system
    }
    let bytes = std::fs::read(files.path("X.npy")).unwrap();
    let child = Command::new(BIN)
        .args([
            "fit",
            "--solver",
            "qr",
            "--x",
            s(&fifo),
            "--y",
            s(&files.path("y.npy")),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Opening a FIFO for writing waits for a reader: on a thread, so that a binary that fails
    // before opening it fails the test instead of hanging it.
    let writer = fifo.clone();
    std::thread::spawn(move || {
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&writer) {
            let _ = f.write_all(&bytes);
        }
    });
    let out = child.wait_with_output().unwrap();
    assert_clean_stderr(&["--x FIFO"], &out);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn semicolon_and_tab_separated_files_get_a_hint() {
    let files = Files::new();
    for (name, sep, needle) in [("semi.csv", ";", "`;`"), ("tab.csv", "\t", "tabs")] {
        let p = files.path(name);
        std::fs::write(&p, format!("a{sep}b{sep}y\n1{sep}2{sep}3\n")).unwrap();
        fails(
            &["fit", "--data", s(&p), "--target", "y"],
            1,
            &[needle, "comma-separated"],
        );
    }
}

#[test]
fn unknown_backend_names_are_errors_listing_the_valid_ones() {
    for list in ["all,bogus", "qr,,cg", "bogus"] {
        fails(
            &["compare", "--n", "30", "--d", "2", "--solvers", list],
            2,
            &["unknown backend", "svrg", "qr-refined"],
        );
    }
}

#[test]
fn divergence_blames_the_step_only_when_one_was_given() {
    let step = fails(
        &[
            "fit", "--solver", "gd", "--step", "1e6", "--n", "50", "--d", "3",
        ],
        1,
        &["diverged", "fixed step"],
    );
    assert!(step.contains("too large"), "{step}");
    let diverged = |solver: &str| Error::Diverged {
        solver: solver.into(),
        iteration: 3,
        objective: f64::INFINITY,
        start: 1.0,
        step: StepSource::Unknown,
    };
    // Backends without a step never blame one; with no --step given, neither does gd.
    for (solver, step) in [
        ("cg", None),
        ("pcg", None),
        ("cd", None),
        ("lbfgs", None),
        ("gd", None),
        ("cg", Some(0.5)),
    ] {
        let m = diverged(solver).with_step(step).to_string();
        assert!(
            !m.contains("step size is") && !m.contains("too large"),
            "{m}"
        );
        assert!(m.contains("overflow") && m.contains("rescale"), "{m}");
    }
    for solver in ["cg", "cd"] {
        let m = diverged(solver).to_string();
        assert!(!m.contains("too large"), "{m}");
    }
    let m = diverged("gd").with_step(Some(0.5)).to_string();
    assert!(m.contains("fixed step 5e-1 is too large"), "{m}");
}

#[test]
fn multi_target_errors_and_history_name_the_target() {
    let files = Files::new();
    let d = files.path("d.csv");
    // Target `y` at λ = 0 with the dual (n > d) is singular; `z` at λ = 1 is not.
    fails(
        &[
            "fit",
            "--data",
            s(&d),
            "--targets",
            "y,z",
            "--lambda",
            "0,1",
            "--solver",
            "dual",
        ],
        1,
        &["target 0 (`y`)", "dual"],
    );
    let h = files.path("h.csv");
    succeeds(&[
        "fit",
        "--data",
        s(&d),
        "--targets",
        "y,z",
        "--solver",
        "cg",
        "--history",
        s(&h),
    ]);
    let text = std::fs::read_to_string(&h).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("target,solver,iteration,passes,seconds,objective,residual")
    );
    let targets: std::collections::BTreeSet<&str> =
        lines.map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(targets.into_iter().collect::<Vec<_>>(), ["y", "z"]);
}

#[test]
fn negative_numbers_reach_the_validation() {
    fails(
        &[
            "fit", "--solver", "gd", "--n", "30", "--d", "2", "--tol", "-1e-8",
        ],
        2,
        &["tol", "(0, 1)"],
    );
    fails(
        &[
            "fit", "--solver", "gd", "--n", "30", "--d", "2", "--step", "-1",
        ],
        2,
        &["step"],
    );
    fails(
        &["fit", "--n", "30", "--d", "2", "--lambda", "-1e-3"],
        2,
        &["lambda"],
    );
}

#[test]
fn usage_errors_are_one_line() {
    for args in [
        &["--bogus"][..],
        &["fit", "--format", "xml"],
        &["compare", "--n", "abc"],
        &["fit", "--lambda"],
        &["fit", "--data", "x.csv"],
        &["fit", "--x", "a.npy"],
        &["fit", "--record-every", "0", "--history", "h.csv"],
        &["fit", "--n", "30", "--record-every", "5"],
        &["nonsense-subcommand"],
        &["fit", "--seed", "-1"],
        &["fit", "--target", "y\u{1b}[31m", "--x", "a"],
        &["fit", "--loss", "hinge"],
        &["predict", "--model", "m.json"],
        &[
            "predict", "--model", "m.json", "--x", "a.npy", "--data", "d.csv",
        ],
        &[
            "predict", "--model", "m.json", "--x", "a.npy", "--target", "y",
        ],
        &["predict", "--x", "a.npy"],
        &[
            "predict", "--model", "m.json", "--x", "a.npy", "--format", "xml",
        ],
    ] {
        let err = fails(args, 2, &["--help"]);
        assert!(!err.contains("Usage"), "{args:?}: {err}");
    }
    fails(
        &["fit", "--n", "30", "--record-every", "5"],
        2,
        &["--history"],
    );
    fails(&["fit", "--data", "x.csv"], 2, &["--target <COL>"]);
    fails(&["fit", "--format", "xml"], 2, &["xml", "table, json"]);
    fails(
        &["fit", "--loss", "hinge"],
        2,
        &["hinge", "squared, logistic"],
    );
    fails(
        &[
            "predict", "--model", "m.json", "--format", "xml", "--x", "a",
        ],
        2,
        &["table, json, csv"],
    );
}

#[test]
fn singular_systems_at_positive_lambda_blame_scaling_not_dependent_columns() {
    let files = Files::new();
    let x = faer::Mat::from_fn(40, 3, |i, j| {
        let v = ((i * 7 + j * 3) % 11) as f64 + 1.0;
        v * [1e200, 1.0, 1e-200][j]
    });
    let xp = files.path("scaled.npy");
    tikhonov::data::write_npy_matrix(&xp, x.as_ref()).unwrap();
    // The Gram backends square the 1e200 column (1e400 overflows): they refuse, blaming scaling.
    // `qr` equilibrates without squaring and solves it (src/solvers/qr.rs tests).
    for solver in ["cholesky", "normal"] {
        let err = fails(
            &[
                "fit",
                "--solver",
                solver,
                "--x",
                s(&xp),
                "--y",
                s(&files.path("y.npy")),
            ],
            1,
            &["overflow or extreme scaling", "rescale"],
        );
        assert!(!err.contains("usually means λ = 0"), "{err}");
        // No backend advises itself.
        assert!(!err.contains(&format!("use `{solver}`")), "{err}");
    }
    let at_zero = Error::Singular {
        solver: "qr".into(),
        detail: "pivot".into(),
    };
    assert!(at_zero.to_string().contains("linearly dependent"));
    let positive = at_zero.in_context(0.1).to_string();
    assert!(
        positive.contains("overflow") && !positive.contains("linearly dependent"),
        "{positive}"
    );
}

#[test]
fn no_backend_advises_itself() {
    let qr = Error::Numerical {
        solver: "qr".into(),
        detail: "the solution has non-finite entries; try `qr` or a larger λ".into(),
    }
    .to_string();
    assert!(!qr.contains("try `qr`"), "{qr}");
    let refined = Error::IllConditioned {
        solver: "qr-refined".into(),
        condition: 1e20,
        min_digits: 4,
    }
    .to_string();
    assert!(
        !refined.contains("`qr-refined`") && refined.contains("`auto`"),
        "{refined}"
    );
}

#[test]
fn filip_like_and_dual_refusals_state_the_real_cause() {
    let chol = fails(
        &[
            "fit",
            "--solver",
            "cholesky",
            "--lambda",
            "0",
            "--n",
            "20",
            "--d",
            "3",
            "--condition",
            "1e12",
        ],
        1,
        &["squares the condition number", "`auto`", "`qr-refined`"],
    );
    assert!(!chol.contains("usually means"), "{chol}");
    fails(
        &[
            "fit", "--solver", "dual", "--lambda", "0", "--n", "20", "--d", "3",
        ],
        1,
        &["by construction", "`auto`", "`qr`"],
    );
}

// Family 8: the README and --help tell the truth.

#[test]
fn the_compare_table_names_what_auto_ran() {
    let out = succeeds(&["compare", "--n", "100", "--d", "3", "--solvers", "auto,qr"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with("auto:")), "{text}");
}

#[test]
fn help_lists_backends_and_budget_defaults() {
    for sub in ["compare", "fit"] {
        let out = succeeds(&[sub, "--help"]);
        let text = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
        for name in tikhonov::solvers::names() {
            assert!(
                text.contains(&format!(" {name},")) || text.contains(&format!(" {name} ")),
                "{sub}: {name}"
            );
        }
        for needle in ["1e-8", "1e-4 for sgd", "10000", "200 epochs", "2 s each"] {
            assert!(text.contains(needle), "{sub} --help lacks {needle}");
        }
        // The backends that fit the logistic loss, as the registry says, and its λ convention.
        let logistic: Vec<&str> = tikhonov::solvers::REGISTRY
            .iter()
            .filter(|i| i.losses.contains(&tikhonov::LossKind::Logistic))
            .map(|i| i.name)
            .collect();
        let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for needle in [
            format!("logistic: {}", logistic.join(", ")),
            "LogisticRegression C = 1/(λ·S)".into(),
        ] {
            assert!(words.contains(&needle), "{sub} --help lacks {needle}");
        }
    }
    let out = succeeds(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for sub in ["compare", "fit", "predict"] {
        assert!(text.contains(&format!("  {sub} ")), "--help lacks {sub}");
    }
    let out = succeeds(&["predict", "--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in ["--model", "--x", "--data", "--target", "table, json, csv"] {
        assert!(text.contains(needle), "predict --help lacks {needle}");
    }
}

#[test]
fn compare_reports_its_default_time_limit_and_falls_back_from_a_failed_reference() {
    let out = succeeds(&["compare", "--n", "200", "--d", "4", "--solvers", "qr,cg"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("time limit 2 s each"));
    let out = succeeds(&[
        "compare",
        "--n",
        "40",
        "--d",
        "5",
        "--lambda",
        "0",
        "--reference",
        "dual",
        "--solvers",
        "cg,qr",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reference"], "qr");
    assert_eq!(v["reference_failures"][0]["solver"], "dual");
    assert!(stderr(&out).contains("served as the reference"));
    // Without a direct backend to fall back to, the reference's own error stands.
    fails(
        &[
            "compare",
            "--n",
            "40",
            "--d",
            "5",
            "--lambda",
            "0",
            "--reference",
            "dual",
            "--solvers",
            "cg",
        ],
        1,
        &["dual", "by construction"],
    );
}

#[test]
fn unconverged_backends_are_warned_about() {
    let out = succeeds(&[
        "fit",
        "--solver",
        "gd",
        "--n",
        "200",
        "--d",
        "5",
        "--condition",
        "100",
        "--max-iter",
        "3",
    ]);
    let err = stderr(&out);
    assert!(err.starts_with("warning: gd did not converge"), "{err}");
}

/// Every `tikhonov …` line of the README's "Command line" block runs (with `cargo install
/// --path .`'s binary, from the repository root), comparisons under a short time limit.
#[test]
fn the_readme_command_lines_work() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(Path::new(root).join("README.md")).unwrap();
    let section = &readme[readme.find("## Command line").unwrap()..];
    let block = section
        .split("```sh\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("steps.csv");
    let mut ran = 0;
    for line in block.lines().filter(|l| l.starts_with("tikhonov")) {
        let command = line.split('#').next().unwrap();
        let mut args: Vec<String> = command
            .split_whitespace()
            .skip(1)
            .map(|w| {
                if w == "steps.csv" {
                    s(&history).to_owned()
                } else if w.ends_with(".svg") {
                    // Plots go to the temporary folder, not the repository.
                    s(&dir.path().join(w)).to_owned()
                } else {
                    w.to_owned()
                }
            })
            .collect();
        // A budget keeps `compare` short; `fit`, `path` and `cv` name one backend, which may be
        // a direct one that refuses it.
        let one_backend = ["fit", "path", "cv"];
        if !args
            .iter()
            .any(|a| one_backend.contains(&a.as_str()) || a == "--time-limit")
        {
            args.extend(["--time-limit".into(), "0.2".into()]);
        }
        let out = Command::new(BIN)
            .args(&args)
            .current_dir(root)
            .output()
            .unwrap();
        assert!(out.status.success(), "{line}: {}", stderr(&out));
        assert_clean_stderr(&[line], &out);
        ran += 1;
    }
    assert!(ran >= 6, "{ran} command lines found");
    assert!(std::fs::read_to_string(&history).unwrap().lines().count() > 10);
}

#[test]
fn wide_data_leave_out_d_by_d_backends_by_default() {
    let files = Files::new();
    let csv = files.path("wide.csv");
    let d = 2500;
    let mut text: String = (0..d).map(|j| format!("c{j},")).collect();
    text += "y\n";
    for i in 0..3 {
        for j in 0..d {
            text += &format!("{},", ((i * 31 + j * 17) % 13) as f64 / 13.0);
        }
        text += &format!("{i}\n");
    }
    std::fs::write(&csv, text).unwrap();
    let out = succeeds(&[
        "compare",
        "--data",
        s(&csv),
        "--target",
        "y",
        "--solvers",
        "cg",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reference"], "dual", "{v}");
    let out = succeeds(&[
        "compare",
        "--data",
        s(&csv),
        "--target",
        "y",
        "--max-iter",
        "50",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["solver"].as_str().unwrap())
        .collect();
    for skipped in ["qr", "qr-refined", "cholesky", "cholesky-refined", "normal"] {
        assert!(!names.contains(&skipped), "{names:?}");
    }
    assert!(
        names.contains(&"dual") && names.contains(&"svd"),
        "{names:?}"
    );
    assert!(
        stderr(&out).contains("note: left out qr"),
        "{}",
        stderr(&out)
    );
}
