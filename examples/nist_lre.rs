//! Accuracy on the NIST StRD linear least-squares datasets at λ = 0 (ordinary least squares).
//!
//! Fits each of the 11 datasets with every registered backend and prints a Markdown table of the
//! minimum log relative error (LRE, ≈ correct significant digits, capped at 15) over all
//! parameters B0..Bk against NIST's certified values. A backend that returns an error, or an
//! iterative backend that stops without converging, is shown as "error" with the kind of failure.
//! The "ceiling" column is the LRE of the exact least-squares solution of the f64 design
//! (rational arithmetic, `tests/common/nist_exact.py`): no f64 solver can be expected to beat it;
//! "auto ran" names the backend `auto` chose.
//!
//! Run with `cargo run --release --example nist_lre`; add `-- --details` to also print, for
//! every fit, the LRE of each parameter, the relative optimality residual and the condition
//! estimate.

#[path = "../tests/common/nist.rs"]
mod nist;

use tikhonov::Error;
use tikhonov::solvers::{self, SolverOptions};

/// The failure kinds, in footnote order.
const KINDS: [&str; 6] = [
    "singular",
    "ill-conditioned",
    "diverged",
    "not converged",
    "numerical",
    "other",
];
const MARKS: [&str; 6] = ["¹", "²", "³", "⁴", "⁵", "⁶"];

fn kind_of(err: &Error) -> usize {
    match err {
        Error::Singular { .. } => 0,
        Error::IllConditioned { .. } => 1,
        Error::Diverged { .. } => 2,
        Error::Numerical { .. } => 4,
        _ => 5,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let datasets = nist::load_all()?;
    let names: Vec<&str> = solvers::names().collect();
    let options = SolverOptions::default();
    let details = std::env::args().any(|a| a == "--details");
    let mut detail_lines = Vec::new();

    let mut used = [false; KINDS.len()];
    let mut notes = Vec::new();
    let mut rows = Vec::new();
    for ds in &datasets {
        let problem = ds.problem()?;
        let mut cells = Vec::new();
        let mut kappa = String::from("–");
        let mut auto_ran = String::from("–");
        for name in &names {
            let solver = solvers::by_name(name, &options)?;
            let result = solver.solve(&problem);
            if details {
                detail_lines.push(describe(ds, &problem, name, &result));
            }
            let cell = match result {
                Ok(fit) if fit.converged => {
                    if *name == "qr"
                        && let Some(k) = fit.condition_estimate
                    {
                        kappa = format!("{k:.1e}");
                    }
                    if *name == "auto" {
                        auto_ran = fit.solver.trim_start_matches("auto:").to_owned();
                    }
                    format!("{:.1}", ds.min_lre(&fit))
                }
                Ok(fit) => {
                    used[3] = true;
                    notes.push(format!(
                        "- {name} on {}: not converged after {} iterations ({:.0} passes), \
                         min LRE {:.1} at that point, ‖∇J‖ = {:.2e}",
                        ds.name,
                        fit.iterations,
                        fit.passes,
                        ds.min_lre(&fit),
                        fit.gradient_norm
                    ));
                    format!("error{}", MARKS[3])
                }
                Err(e) => {
                    let k = kind_of(&e);
                    used[k] = true;
                    notes.push(format!("- {name} on {}: {e}", ds.name));
                    format!("error{}", MARKS[k])
                }
            };
            cells.push(cell);
        }
        rows.push((ds, kappa, auto_ran, cells));
    }

    println!(
        "Minimum LRE over B0..Bk at λ = 0 (digits that agree with NIST's certified values; cap 15).\n"
    );
    print!("| dataset | difficulty | n | params | κ (qr) | ceiling | auto ran |");
    for name in &names {
        print!(" {name} |");
    }
    println!();
    print!("|---|---|--:|--:|--:|--:|---|");
    for _ in &names {
        print!("--:|");
    }
    println!();
    for (ds, kappa, auto_ran, cells) in &rows {
        print!(
            "| {} | {} | {} | {} | {kappa} | {:.1} | {auto_ran} |",
            ds.name,
            ds.difficulty,
            ds.x.nrows(),
            ds.certified.len(),
            ds.ceiling
        );
        for c in cells {
            print!(" {c} |");
        }
        println!();
    }
    println!();
    println!(
        "κ (qr): the qr backend's condition estimate max|Rᵢᵢ|/min|Rᵢᵢ| of the centred, \
         column-equilibrated design. ceiling: the LRE of the exact least-squares solution of the \
         f64 design (rational arithmetic)."
    );
    for (k, kind) in KINDS.iter().enumerate() {
        if used[k] {
            println!("{} {kind}", MARKS[k]);
        }
    }
    if !notes.is_empty() {
        println!("\nDetails:\n");
        for n in &notes {
            println!("{n}");
        }
    }
    if details {
        println!("\nPer fit: LRE of B0..Bk, ‖∇J‖/‖∇J(0)‖, condition estimate, iterations.\n");
        for l in &detail_lines {
            println!("{l}");
        }
    }
    Ok(())
}

/// One line of `--details` output for a fit.
fn describe(
    ds: &nist::Dataset,
    problem: &tikhonov::RidgeProblem<'_>,
    name: &str,
    result: &tikhonov::Result<tikhonov::Fit>,
) -> String {
    match result {
        Err(e) => format!("- {} / {name}: error: {e}", ds.name),
        Ok(fit) => {
            let zero = faer::Col::<f64>::zeros(problem.n_features());
            let start =
                problem.gradient_norm(zero.as_ref(), problem.optimal_intercept(zero.as_ref()));
            let lres: Vec<String> = ds.lres(fit).iter().map(|l| format!("{l:.1}")).collect();
            format!(
                "- {} / {name} ({}): converged {}, min LRE {:.4} (against the exact f64 solution \
                 {:.2}), LRE [{}], ‖∇J‖ {:.2e} (relative {:.2e}), condition estimate {}, \
                 iterations {}, estimates {:?}",
                ds.name,
                fit.solver,
                fit.converged,
                ds.min_lre(fit),
                ds.min_lre_vs_exact(fit),
                lres.join(", "),
                fit.gradient_norm,
                fit.gradient_norm / start,
                fit.condition_estimate
                    .map_or("none".to_owned(), |c| format!("{c:.3e}")),
                fit.iterations,
                ds.estimates(fit)
            )
        }
    }
}
