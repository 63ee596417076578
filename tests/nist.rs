//! Accuracy on the NIST StRD linear least-squares datasets at λ = 0 (issue "NIST StRD at λ = 0").
//!
//! Each direct backend is held to what it achieves, measured as the minimum log relative error
//! (LRE, ≈ correct significant digits, capped at 15) over all parameters B0..Bk against NIST's
//! certified values: a per-dataset floor set a little below the measured value (the measured value
//! minus 0.5, rounded down to a multiple of 0.5), or, where a backend cannot solve a dataset, a
//! numerical `Err`. Never a silently wrong answer: a backend that returns `Ok` must have LRE ≥ 1.
//! Iterative backends at λ = 0 on these datasets must either say `converged == false` (or fail
//! with a numerical error) or be right to at least one digit.
//!
//! `cargo run --release --example nist_lre` prints the full table.

mod common;

use common::nist::{self, Dataset};
use tikhonov::solvers::{self, SolverKind, SolverOptions};

/// What a direct backend achieves on a dataset.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// `Ok` with a minimum LRE of at least this many digits.
    Digits(f64),
    /// A numerical `Err` (`is_numerical()`): the backend cannot solve the dataset and says so.
    Refuses,
}
use Expect::{Digits, Refuses};

/// The direct backends, in the column order of [`FLOORS`].
const DIRECT: [&str; 3] = ["qr", "cholesky", "normal"];

/// Per dataset, the floor for [qr, cholesky, normal]. The comments give the minimum LRE measured
/// (release and debug builds agree: the arithmetic is the same).
const FLOORS: [(&str, [Expect; 3]); 11] = [
    // measured 13.33, 12.77, 12.77
    ("Norris", [Digits(12.5), Digits(12.0), Digits(12.0)]),
    // measured 12.58, 11.27, 11.47
    ("Pontius", [Digits(12.0), Digits(10.5), Digits(10.5)]),
    // measured 14.72, 14.72, 14.72
    ("NoInt1", [Digits(14.0), Digits(14.0), Digits(14.0)]),
    // measured 15 (the cap), 15, 15
    ("NoInt2", [Digits(14.5), Digits(14.5), Digits(14.5)]),
    // measured 7.50 for qr (condition estimate 1.9e7 for the equilibrated, centred design); the
    // Gram system squares that, and both Gram backends report Singular (cholesky: non-positive
    // pivot at column 9; normal: smallest LU pivot 1.0e-15 ≤ d·ε·max pivot = 2.4e-15).
    ("Filip", [Digits(7.0), Refuses, Refuses]),
    // measured 13.30, 12.25, 12.05
    ("Longley", [Digits(12.5), Digits(11.5), Digits(11.5)]),
    // measured 9.63, 7.15, 6.62
    ("Wampler1", [Digits(9.0), Digits(6.5), Digits(6.0)]),
    // measured 13.09, 9.49, 9.44
    ("Wampler2", [Digits(12.5), Digits(8.5), Digits(8.5)]),
    // measured 9.73, 6.76, 8.38
    ("Wampler3", [Digits(9.0), Digits(6.0), Digits(7.5)]),
    // measured 7.92, 6.76, 8.38
    ("Wampler4", [Digits(7.0), Digits(6.0), Digits(7.5)]),
    // measured 5.93, 6.25, 6.39 (residuals this large cost even QR ~κ² digits)
    ("Wampler5", [Digits(5.0), Digits(5.5), Digits(5.5)]),
];

fn datasets() -> Vec<Dataset> {
    nist::load_all().unwrap_or_else(|e| panic!("loading the NIST StRD datasets: {e}"))
}

/// Checks one direct backend against its column of [`FLOORS`]; returns every failure.
fn check_direct(column: usize) {
    let backend = DIRECT[column];
    let solver = solvers::by_name(backend, &SolverOptions::default()).unwrap();
    let mut failures = Vec::new();
    for ds in datasets() {
        let (_, floors) = FLOORS
            .iter()
            .find(|(name, _)| *name == ds.name)
            .unwrap_or_else(|| panic!("no floors for {}", ds.name));
        let problem = ds.problem().unwrap();
        let result = solver.solve(&problem);
        match (floors[column], result) {
            (Digits(floor), Ok(fit)) => {
                let got = ds.min_lre(&fit);
                if got < floor {
                    failures.push(format!(
                        "{}: min LRE {got:.2} < floor {floor} (per parameter {:.2?}, condition \
                         estimate {:?}){}",
                        ds.name,
                        ds.lres(&fit),
                        fit.condition_estimate,
                        if got < 1.0 {
                            " — a silently wrong answer"
                        } else {
                            ""
                        }
                    ));
                }
            }
            (Digits(floor), Err(e)) => failures.push(format!(
                "{}: expected ≥ {floor} digits but got an error: {e}",
                ds.name
            )),
            (Refuses, Err(e)) => {
                if !e.is_numerical() {
                    failures.push(format!(
                        "{}: expected a numerical error, got another kind: {e}",
                        ds.name
                    ));
                }
            }
            (Refuses, Ok(fit)) => {
                let got = ds.min_lre(&fit);
                failures.push(if got < 1.0 {
                    format!(
                        "{}: returned Ok with min LRE {got:.2} < 1 (condition estimate {:?}): a \
                         silently wrong answer where a numerical error is expected",
                        ds.name, fit.condition_estimate
                    )
                } else {
                    format!(
                        "{}: now solves the dataset (min LRE {got:.2}, condition estimate {:?}); \
                         replace `Refuses` by a measured floor in FLOORS",
                        ds.name, fit.condition_estimate
                    )
                });
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{backend} on NIST StRD at λ = 0:\n{}",
        failures.join("\n")
    );
}

#[test]
fn qr_meets_its_nist_floors() {
    check_direct(0);
}

#[test]
fn cholesky_meets_its_nist_floors() {
    check_direct(1);
}

#[test]
fn normal_meets_its_nist_floors() {
    check_direct(2);
}

/// An iterative backend with its default options at λ = 0 must never claim convergence with a
/// wrong answer: on every dataset it returns a numerical error, or `converged == false`, or a fit
/// with at least one correct digit in every parameter.
fn check_iterative_is_honest(backend: &str) {
    let solver = solvers::by_name(backend, &SolverOptions::default()).unwrap();
    let mut failures = Vec::new();
    for ds in datasets() {
        let problem = ds.problem().unwrap();
        match solver.solve(&problem) {
            Err(e) if e.is_numerical() => {}
            Err(e) => failures.push(format!("{}: non-numerical error: {e}", ds.name)),
            Ok(fit) if !fit.converged => {}
            Ok(fit) => {
                let got = ds.min_lre(&fit);
                if got < 1.0 {
                    let zero = faer::Col::<f64>::zeros(problem.n_features());
                    let start = problem
                        .gradient_norm(zero.as_ref(), problem.optimal_intercept(zero.as_ref()));
                    failures.push(format!(
                        "{}: converged == true after {} iterations but min LRE {got:.2} \
                         (per parameter {:.2?}); ‖∇J‖ = {:.3e}, relative to ‖∇J(0)‖ {:.3e}, \
                         condition estimate {:?}",
                        ds.name,
                        fit.iterations,
                        ds.lres(&fit),
                        fit.gradient_norm,
                        fit.gradient_norm / start,
                        fit.condition_estimate,
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{backend} claims convergence with a silently wrong answer on NIST StRD at λ = 0:\n{}",
        failures.join("\n")
    );
}

#[test]
fn gd_never_claims_convergence_with_a_wrong_answer() {
    // Measured: converged with LRE 13.3 (Norris), 14.7 (NoInt1), 15 (NoInt2) in one iteration;
    // converged == false after its 10 000 iterations on the other eight.
    check_iterative_is_honest("gd");
}

#[test]
fn sgd_never_claims_convergence_with_a_wrong_answer() {
    // KNOWN BUG (reported to the lead, not yet fixed): with its default options sgd stops on
    // Wampler4 after 37 epochs with converged == true, yet min LRE 0.0 (B0 ≈ 4501 against the
    // certified 1): its relative-gradient stopping rule ‖∇J‖ ≤ 1e-4·‖∇J(0)‖ holds (9.4e-5) while
    // the coefficients are nowhere near the solution. Condition estimate: None (iterative).
    // This assertion is meant to fail until the backend is fixed; do not relax it.
    //
    // Measured otherwise: converged == false after 200 epochs on nine datasets, and Wampler5 is a
    // Diverged error at epoch 1.
    check_iterative_is_honest("sgd");
}

/// Backends registered after this file was written get the baseline check: a direct one is right
/// to at least one digit or refuses with a numerical error; an iterative one never claims
/// convergence with a wrong answer. Give them measured floors above once they settle.
///
/// KNOWN BUG (reported to the lead, not yet fixed): `svd` (new, uncommitted when this was
/// written) returns Ok on Filip with min LRE 0.0 in every parameter (B0 ≈ 9.35 against the
/// certified −1467.49), condition estimate 2.73e13, ‖∇J‖ = 1.2e2 (4.4e-6 relative to ‖∇J(0)‖):
/// at λ = 0 it drops singular values below max(n, d)·ε·σ₁ of the *unequilibrated* centred design
/// and returns the minimum-norm solution of the truncated problem without saying so. This
/// assertion is meant to fail until the backend is fixed; do not relax it. Measured otherwise:
/// svd 12.77, 12.58, 14.77, 15, –, 13.52, 9.33, 10.96, 9.24, 7.93, 5.93 (NIST order); `dual`
/// refuses every dataset at λ = 0 with Singular (its kernel matrix is singular when n > d).
#[test]
fn every_other_registered_backend_is_right_or_says_so() {
    let mut failures = Vec::new();
    for info in solvers::REGISTRY {
        if DIRECT.contains(&info.name) || ["gd", "sgd"].contains(&info.name) {
            continue; // held to stricter standards above
        }
        if info.kind == SolverKind::Iterative {
            check_iterative_is_honest(info.name);
            continue;
        }
        let solver = (info.build)(&SolverOptions::default()).unwrap();
        for ds in datasets() {
            match solver.solve(&ds.problem().unwrap()) {
                Err(e) if e.is_numerical() => {}
                Err(e) => failures.push(format!("{} on {}: {e}", info.name, ds.name)),
                Ok(fit) => {
                    let got = ds.min_lre(&fit);
                    if got < 1.0 {
                        failures.push(format!(
                            "{} on {}: Ok with min LRE {got:.2} < 1, a silently wrong answer \
                             (per parameter {:.2?}, condition estimate {:?})",
                            info.name,
                            ds.name,
                            ds.lres(&fit),
                            fit.condition_estimate
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "NIST StRD at λ = 0:\n{}",
        failures.join("\n")
    );
}

#[test]
fn loader_reproduces_certified_json_shapes() {
    let table = nist::certified_table().unwrap();
    let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
    let mut names = nist::NAMES.to_vec();
    keys.sort_unstable();
    names.sort_unstable();
    assert_eq!(
        keys, names,
        "certified.json and NAMES list different datasets"
    );

    let all = datasets();
    assert_eq!(all.len(), 11);
    for ds in &all {
        let cert = &table[&ds.name];
        assert_eq!(ds.x.nrows(), cert.n_obs, "{}: rows of X", ds.name);
        assert_eq!(ds.y.nrows(), cert.n_obs, "{}: entries of y", ds.name);
        assert_eq!(ds.intercept, cert.intercept, "{}: intercept", ds.name);
        assert_eq!(ds.certified.len(), cert.n_params, "{}: parameters", ds.name);
        assert_eq!(
            ds.x.ncols() + usize::from(ds.intercept),
            cert.n_params,
            "{}: columns of X plus intercept",
            ds.name
        );
        let parsed: Vec<f64> = cert
            .certified_beta
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(ds.certified, parsed, "{}: certified values", ds.name);
    }
    // The published sizes (README table) and a few data points as printed in the files.
    let n: Vec<usize> = all.iter().map(|d| d.x.nrows()).collect();
    assert_eq!(n, [36, 40, 11, 3, 82, 16, 21, 21, 21, 21, 21]);
    let p: Vec<usize> = all.iter().map(|d| d.certified.len()).collect();
    assert_eq!(p, [2, 3, 1, 1, 11, 7, 6, 6, 6, 6, 6]);
    assert!(!all[2].intercept && !all[3].intercept);

    let filip = &all[4];
    assert_eq!((filip.y[0], filip.x[(0, 0)]), (0.8116, -6.860120914));
    assert_eq!((filip.y[81], filip.x[(81, 0)]), (0.9228, -3.2644011));
    let longley = &all[5];
    let last: Vec<f64> = (0..6).map(|j| longley.x[(15, j)]).collect();
    assert_eq!(longley.y[15], 70551.0);
    assert_eq!(last, [116.9, 554894.0, 4007.0, 2827.0, 130081.0, 1962.0]);
    let noint2 = &all[3];
    let y: Vec<f64> = noint2.y.iter().copied().collect();
    let x: Vec<f64> = (0..3).map(|i| noint2.x[(i, 0)]).collect();
    assert_eq!((y, x), (vec![3.0, 4.0, 4.0], vec![4.0, 5.0, 6.0]));
    assert_eq!(noint2.certified, [0.727272727272727]);
}

#[test]
fn polynomial_columns_are_powers_formed_by_repeated_multiplication() {
    for ds in datasets().iter().filter(|d| d.name != "Longley") {
        for i in 0..ds.x.nrows() {
            let t = ds.x[(i, 0)];
            let mut p = t;
            for j in 1..ds.x.ncols() {
                p *= t;
                assert_eq!(ds.x[(i, j)], p, "{} row {i} column {j}", ds.name);
            }
        }
    }
    let filip = nist::load("Filip").unwrap();
    assert_eq!(filip.x.ncols(), 10);
    assert_eq!(nist::load("Wampler1").unwrap().x[(20, 4)], 3_200_000.0); // 20⁵
}

#[test]
fn lre_is_capped_floored_and_absolute_at_zero() {
    assert_eq!(nist::lre(1.0, 1.0), 15.0);
    assert_eq!(nist::lre(1.0 + 1e-17, 1.0), 15.0); // rounds to exactly 1
    assert!((nist::lre(1.001, 1.0) - 3.0).abs() < 1e-9);
    assert!((nist::lre(-2.002, -2.0) - 3.0).abs() < 1e-9);
    assert_eq!(nist::lre(5.0, 1.0), 0.0); // 400 % off: floored
    assert_eq!(nist::lre(-1.0, 1.0), 0.0); // wrong sign
    assert!((nist::lre(1e-7, 0.0) - 7.0).abs() < 1e-9); // certified 0: log absolute error
    assert_eq!(nist::lre(0.0, 0.0), 15.0);
    assert_eq!(nist::lre(f64::NAN, 1.0), 0.0);
    assert_eq!(nist::lre(f64::INFINITY, 1.0), 0.0);
}
