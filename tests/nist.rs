//! Accuracy on the NIST StRD linear least-squares datasets at λ = 0 (issue "NIST StRD at λ = 0").
//!
//! Each direct backend is held to what it achieves, measured as the minimum log relative error
//! (LRE, ≈ correct significant digits, capped at 15) over all parameters B0..Bk against NIST's
//! certified values: a per-dataset floor 0.3 digits below the measured value, or, where a backend
//! cannot solve a dataset, a numerical `Err`. Never a silently wrong answer: a backend that returns
//! `Ok` must have LRE ≥ 1. The refined backends must reach the exact solution of the f64 data
//! (`tests/common/nist_exact.json`), and `auto` its ceiling within 0.5 digits. Iterative
//! backends must keep exactly what `converged == true` promises (see
//! [`check_iterative_is_honest`]).
//!
//! `cargo run --release --example nist_lre` prints the full table.

mod common;

use common::nist::{self, Dataset};
use tikhonov::RidgeProblem;
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
const DIRECT: [&str; 7] = [
    "auto",
    "qr",
    "qr-refined",
    "svd",
    "cholesky",
    "cholesky-refined",
    "normal",
];

/// Per dataset, the floor for each backend of [`DIRECT`]: the minimum LRE measured (in the
/// comment, same order) minus 0.3 digits, rounded down to a tenth, or `Refuses` where the backend
/// returns a numerical error.
///
/// Filip: qr measures 7.50 and svd 7.73 (condition estimate 1.9e7 for the equilibrated, centred
/// design); the Gram system squares that, and the Gram backends report Singular (cholesky:
/// non-positive pivot at column 9; normal: smallest LU pivot below d·ε·max pivot). Refinement
/// reaches the exact f64 solution's 7.90 from the qr factor.
const FLOORS: [(&str, [Expect; 7]); 11] = [
    // measured 14.06, 13.33, 14.06, 12.77, 12.77, 14.06, 12.77
    (
        "Norris",
        [
            Digits(13.7),
            Digits(13.0),
            Digits(13.7),
            Digits(12.4),
            Digits(12.4),
            Digits(13.7),
            Digits(12.4),
        ],
    ),
    // measured 13.51, 12.58, 13.51, 12.23, 11.27, 13.51, 11.47
    (
        "Pontius",
        [
            Digits(13.2),
            Digits(12.2),
            Digits(13.2),
            Digits(11.9),
            Digits(10.9),
            Digits(13.2),
            Digits(11.1),
        ],
    ),
    // measured 14.72, 14.72, 14.72, 14.72, 14.72, 14.72, 14.72
    (
        "NoInt1",
        [
            Digits(14.4),
            Digits(14.4),
            Digits(14.4),
            Digits(14.4),
            Digits(14.4),
            Digits(14.4),
            Digits(14.4),
        ],
    ),
    // measured 15.00, 15.00, 15.00, 15.00, 15.00, 15.00, 15.00
    (
        "NoInt2",
        [
            Digits(14.7),
            Digits(14.7),
            Digits(14.7),
            Digits(14.7),
            Digits(14.7),
            Digits(14.7),
            Digits(14.7),
        ],
    ),
    // measured 7.90, 7.50, 7.90, 7.73, err, err, err
    (
        "Filip",
        [
            Digits(7.6),
            Digits(7.2),
            Digits(7.6),
            Digits(7.4),
            Refuses,
            Refuses,
            Refuses,
        ],
    ),
    // measured 14.62, 13.30, 14.62, 13.40, 12.25, 14.62, 12.05
    (
        "Longley",
        [
            Digits(14.3),
            Digits(12.9),
            Digits(14.3),
            Digits(13.1),
            Digits(11.9),
            Digits(14.3),
            Digits(11.7),
        ],
    ),
    // measured 15.00, 9.63, 15.00, 9.63, 7.15, 15.00, 6.62; qr 9.16 since the centring takes
    // x̄ in two parts (src/problem.rs, `write_scaled_centred_block`): rounding noise at κ·ε of
    // this design (other datasets moved by −0.3 … +0.7 digits), far below the ceiling of 15.
    (
        "Wampler1",
        [
            Digits(14.7),
            Digits(8.8),
            Digits(14.7),
            Digits(9.3),
            Digits(6.8),
            Digits(14.7),
            Digits(6.3),
        ],
    ),
    // measured 13.20, 13.09, 13.20, 13.46, 9.49, 13.20, 9.44
    (
        "Wampler2",
        [
            Digits(12.9),
            Digits(12.7),
            Digits(12.9),
            Digits(13.1),
            Digits(9.1),
            Digits(12.9),
            Digits(9.1),
        ],
    ),
    // measured 15.00, 9.73, 15.00, 9.63, 6.76, 15.00, 8.38
    (
        "Wampler3",
        [
            Digits(14.7),
            Digits(9.4),
            Digits(14.7),
            Digits(9.3),
            Digits(6.4),
            Digits(14.7),
            Digits(8.0),
        ],
    ),
    // measured 15.00, 7.92, 15.00, 7.94, 6.76, 15.00, 8.38
    (
        "Wampler4",
        [
            Digits(14.7),
            Digits(7.6),
            Digits(14.7),
            Digits(7.6),
            Digits(6.4),
            Digits(14.7),
            Digits(8.0),
        ],
    ),
    // measured 15.00, 5.93, 15.00, 5.95, 6.25, 15.00, 6.39
    (
        "Wampler5",
        [
            Digits(14.7),
            Digits(5.6),
            Digits(14.7),
            Digits(5.6),
            Digits(5.9),
            Digits(14.7),
            Digits(6.0),
        ],
    ),
];

fn datasets() -> Vec<Dataset> {
    nist::load_all().unwrap_or_else(|e| panic!("loading the NIST StRD datasets: {e}"))
}

/// Checks one direct backend against its column of [`FLOORS`].
fn check_direct(backend: &str) {
    let column = DIRECT
        .iter()
        .position(|b| *b == backend)
        .unwrap_or_else(|| panic!("{backend} has no column in FLOORS"));
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
fn auto_meets_its_nist_floors() {
    check_direct("auto");
}

#[test]
fn qr_meets_its_nist_floors() {
    check_direct("qr");
}

#[test]
fn qr_refined_meets_its_nist_floors() {
    check_direct("qr-refined");
}

#[test]
fn svd_meets_its_nist_floors() {
    // Before the fix svd returned min LRE 0 on Filip: it truncated at max(n, d)·ε·σ₁ of the
    // unequilibrated design, dropping a direction the data determine to 7 digits.
    check_direct("svd");
}

#[test]
fn cholesky_meets_its_nist_floors() {
    check_direct("cholesky");
}

#[test]
fn cholesky_refined_meets_its_nist_floors() {
    check_direct("cholesky-refined");
}

#[test]
fn normal_meets_its_nist_floors() {
    check_direct("normal");
}

/// The target for `auto`: within 0.5 digits of the ceiling on every dataset (the ceiling
/// being the LRE of the exact solution of the f64 design). Measured: at the ceiling on all 11.
#[test]
fn auto_is_within_half_a_digit_of_the_ceiling() {
    let solver = solvers::by_name("auto", &SolverOptions::default()).unwrap();
    for ds in datasets() {
        let fit = solver.solve(&ds.problem().unwrap()).unwrap();
        let got = ds.min_lre(&fit);
        assert!(
            got >= ds.ceiling - 0.5,
            "{}: {} reaches {got:.2}, ceiling {:.2}",
            ds.name,
            fit.solver,
            ds.ceiling
        );
    }
}

/// Refinement converges to the exact least-squares solution of the f64 data (computed in rational
/// arithmetic, `tests/common/nist_exact.py`): every parameter within 10⁻¹³·⁵ relative of it, so
/// the LRE against NIST is the dataset's ceiling. `cholesky-refined` may refuse Filip instead (its
/// Gram matrix, κ ≈ 4·10¹⁴, is numerically indefinite). Measured: 15 (correctly rounded) on every
/// dataset for both, except Filip 13.97 for qr-refined (after 2 corrections; a third, which the
/// contraction estimate skips, would give 14.16).
#[test]
fn refined_backends_reach_the_exact_solution_of_the_f64_data() {
    let mut failures = Vec::new();
    for name in ["qr-refined", "cholesky-refined"] {
        let solver = solvers::by_name(name, &SolverOptions::default()).unwrap();
        for ds in datasets() {
            match solver.solve(&ds.problem().unwrap()) {
                Ok(fit) => {
                    let got = ds.min_lre_vs_exact(&fit);
                    if got < 13.5 {
                        failures.push(format!(
                            "{name} on {}: min LRE {got:.2} against the exact f64 solution \
                             (against NIST {:.2}, ceiling {:.2}) after {} corrections",
                            ds.name,
                            ds.min_lre(&fit),
                            ds.ceiling,
                            fit.iterations
                        ));
                    }
                }
                Err(e) if name == "cholesky-refined" && ds.name == "Filip" && e.is_numerical() => {}
                Err(e) => failures.push(format!("{name} on {}: {e}", ds.name)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The tolerance every iterative backend runs with here. Each takes `tol` with the shared
/// meaning ‖∇J(w)‖ ≤ tol·‖∇J(w₀)‖ (w₀ = 0), so the test knows what `converged` promises.
const ITERATIVE_TOL: f64 = 1e-6;

/// A lower bound on μ_min, the smallest eigenvalue of the Hessian (1/S)·XcᵀSXc + λI of the
/// profile objective, from faer's SVD of S^½·Xc. The SVD is normwise backward stable, so by
/// Weyl's inequality the computed σ_min is within c·max(n, d)·ε·σ₁ of the true one; c = 10 is a
/// safe constant. A result ≤ 0 means the bound below is vacuous.
fn hessian_min_eigenvalue_lower_bound(problem: &RidgeProblem<'_>) -> f64 {
    let (n, d) = (problem.n_samples(), problem.n_features());
    let mut xs = faer::Mat::zeros(n, d);
    problem.write_scaled_centred_x(xs.as_mut());
    let s = xs
        .singular_values()
        .expect("the SVD of a NIST design converges");
    let hi = s.iter().copied().fold(0.0, f64::max);
    let lo = s.iter().copied().fold(f64::INFINITY, f64::min);
    let lo = lo - 10.0 * n.max(d) as f64 * f64::EPSILON * hi;
    if lo <= 0.0 {
        return problem.lambda();
    }
    lo * lo / problem.weight_sum() + problem.lambda()
}

/// The rounding error of recomputing ‖∇J(w, b)‖ in f64: the residual yᵢ − b − xᵢᵀw carries an
/// error up to ε·mᵢ with mᵢ = |yᵢ| + |ȳ| + |x̄|ᵀ|w| + |xᵢ|ᵀ|w| (both the crate's centred and
/// uncentred forms), and the product with Xᵀ adds n·ε relative to |X|ᵀ·s∘m; the constant 4·(n + d)
/// covers the accumulation in either order.
fn gradient_rounding_floor(problem: &RidgeProblem<'_>, w: faer::ColRef<'_, f64>) -> f64 {
    let (n, d) = (problem.n_samples(), problem.n_features());
    let x = problem.x();
    let xm_w: f64 = (0..d).map(|j| problem.x_mean()[j].abs() * w[j].abs()).sum();
    let m: Vec<f64> = (0..n)
        .map(|i| {
            let xw: f64 = (0..d).map(|j| x[(i, j)].abs() * w[j].abs()).sum();
            problem.weight(i) * (problem.y()[i].abs() + problem.y_mean().abs() + xm_w + xw)
        })
        .collect();
    let total_m: f64 = m.iter().sum();
    let g: f64 = (0..d)
        .map(|j| {
            let v: f64 = (0..n).map(|i| x[(i, j)].abs() * m[i]).sum::<f64>()
                + problem.x_mean()[j].abs() * total_m;
            v * v
        })
        .sum::<f64>()
        .sqrt();
    4.0 * (n + d) as f64 * f64::EPSILON * (g + total_m) / problem.weight_sum()
}

/// An iterative backend at λ = 0 with `tol` = [`ITERATIVE_TOL`] must be honest on every dataset.
/// `converged == true` promises only the shared criterion, so it is checked as exactly that:
///
/// 1. the recomputed relative gradient ‖∇J(w)‖/‖∇J(0)‖ is at most tol (plus the rounding floor of
///    recomputing it);
/// 2. J is μ_min-strongly convex in w, so ‖w − w*‖ ≤ ‖∇J(w)‖/μ_min, and b = ȳ − x̄ᵀw gives
///    |b − b*| ≤ ‖x̄‖·‖w − w*‖. With the f64 optimum w* known exactly (`nist_exact.json`), every
///    parameter must reach the LRE this bound implies against NIST's certified values. At λ = 0 on NIST the bound
///    is often vacuous (κ_H·tol > 1: Filip, the Wamplers); then no LRE is demanded.
///
/// A numerical error or `converged == false` is always honest. Prints one table row per dataset
/// (`cargo test --release --test nist -- --nocapture`).
fn check_iterative_is_honest(backend: &str) -> Vec<String> {
    let options = SolverOptions {
        tol: Some(ITERATIVE_TOL),
        ..SolverOptions::default()
    };
    let solver = solvers::by_name(backend, &options).unwrap();
    let mut failures = Vec::new();
    println!(
        "| {backend} | dataset | converged | iterations | ‖∇J‖/‖∇J(0)‖ | bound ‖w−w*‖/‖w*‖ | \
         implied min LRE | min LRE |"
    );
    for ds in datasets() {
        let problem = ds.problem().unwrap();
        let fit = match solver.solve(&problem) {
            Err(e) if e.is_numerical() => {
                println!("| {backend} | {} | error: {e} |", ds.name);
                continue;
            }
            Err(e) => {
                failures.push(format!("{}: non-numerical error: {e}", ds.name));
                continue;
            }
            Ok(fit) => fit,
        };
        let zero = faer::Col::<f64>::zeros(problem.n_features());
        let start = problem.gradient_norm(zero.as_ref(), problem.optimal_intercept(zero.as_ref()));
        let relative = fit.gradient_norm / start;
        let got = ds.min_lre(&fit);
        if !fit.converged {
            println!(
                "| {backend} | {} | false | {} | {relative:.2e} | – | – | {got:.1} |",
                ds.name, fit.iterations
            );
            continue;
        }
        let floor = gradient_rounding_floor(&problem, fit.coef.as_ref());
        if fit.gradient_norm > ITERATIVE_TOL * start + floor {
            failures.push(format!(
                "{}: converged == true but the recomputed ‖∇J‖ = {:.3e} is {relative:.3e} of \
                 ‖∇J(0)‖ > tol = {ITERATIVE_TOL:e} (rounding floor {floor:.3e})",
                ds.name, fit.gradient_norm
            ));
        }
        let mu = hessian_min_eigenvalue_lower_bound(&problem);
        let dist = if mu > 0.0 {
            fit.gradient_norm / mu
        } else {
            f64::INFINITY
        };
        let x_mean = problem.x_mean().norm_l2();
        // Per parameter (NIST order): the error bound, plus the distance from the f64 optimum
        // (the exact solution of the rounded design) to NIST's values and its own rounding.
        let bounds: Vec<f64> = ds
            .intercept
            .then_some(x_mean * dist)
            .into_iter()
            .chain(std::iter::repeat_n(dist, problem.n_features()))
            .collect();
        let implied: Vec<f64> = bounds
            .iter()
            .zip(ds.exact.iter().zip(&ds.certified))
            .map(|(&b, (&e, &c))| {
                let allowed = b + (e - c).abs() + 2.0 * f64::EPSILON * c.abs();
                (-(allowed / c.abs()).log10()).min(nist::LRE_CAP)
            })
            .collect();
        let implied_min = implied.iter().copied().fold(nist::LRE_CAP, f64::min);
        let w_cert: Vec<f64> = ds.certified[usize::from(ds.intercept)..].to_vec();
        let w_norm = w_cert.iter().map(|v| v * v).sum::<f64>().sqrt();
        println!(
            "| {backend} | {} | true | {} | {relative:.2e} | {:.2e} | {} | {got:.1} |",
            ds.name,
            fit.iterations,
            dist / w_norm,
            if implied_min > 0.0 {
                format!("{implied_min:.1}")
            } else {
                "vacuous".into()
            }
        );
        for ((lre, want), k) in ds.lres(&fit).iter().zip(&implied).zip(0..) {
            if *want > 0.0 && *lre < want - 0.05 {
                failures.push(format!(
                    "{}: converged == true with ‖∇J‖ = {:.3e} and μ_min ≥ {mu:.3e}, so parameter \
                     {k} must have LRE ≥ {want:.2}, but has {lre:.2} (estimates {:?})",
                    ds.name,
                    fit.gradient_norm,
                    ds.estimates(&fit)
                ));
            }
        }
    }
    failures
}

fn assert_honest(backend: &str) {
    let failures = check_iterative_is_honest(backend);
    assert!(
        failures.is_empty(),
        "{backend} on NIST StRD at λ = 0 claims more than it delivers:\n{}",
        failures.join("\n")
    );
}

#[test]
fn gd_is_honest_about_convergence() {
    assert_honest("gd");
}

#[test]
fn sgd_is_honest_about_convergence() {
    // sgd may stop on Wampler4 with converged == true and 0 correct digits: its relative gradient
    // is below tol, and κ_H·tol ≫ 1 there, so the promise is kept and no digits are implied.
    assert_honest("sgd");
}

/// Backends without their own test above get the baseline check: a direct one is right to at
/// least one digit or refuses with a numerical error; an iterative one is honest in the sense of
/// [`check_iterative_is_honest`]. Give direct ones measured floors in [`FLOORS`] once they settle.
/// `dual` refuses every dataset at λ = 0 with Singular (its centred kernel is singular at λ = 0).
#[test]
fn every_other_registered_backend_is_right_or_says_so() {
    let mut failures = Vec::new();
    for info in solvers::REGISTRY {
        if DIRECT.contains(&info.name) || ["gd", "sgd"].contains(&info.name) {
            continue; // held to their own tests above
        }
        if info.kind == SolverKind::Iterative {
            failures.extend(
                check_iterative_is_honest(info.name)
                    .into_iter()
                    .map(|f| format!("{}: {f}", info.name)),
            );
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
