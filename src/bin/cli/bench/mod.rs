//! `tikhonov bench`: a suite of problems × backends × repeats, every recorded step measured
//! against the exact optimum, written as a tidy table, fitted scaling laws, SVG plots and a
//! markdown report (README, "Benchmarking").
//!
//! # What is measured, and how
//!
//! - **The optimum** of every problem comes from `qr-refined` (ridge: the exact solution of the
//!   f64 data, README "Backends") or `newton` at tol 1e-12 (logistic), solved once per problem.
//! - **Curves in one run.** An iterative backend runs once unrecorded (the *pilot*: its
//!   iteration count sets the recording cadence k = ⌈iterations / points⌉ and its time is the
//!   baseline of the overhead figure), then `repeats` times with an observer
//!   (`SolverOptions::observer`) that copies the iterate θₖ every k-th iteration. The driver
//!   (`src/iterate.rs`) subtracts the time spent recording and observing from the times it
//!   records, and the copy is all the observer does: suboptimality, distance and gradient are
//!   computed from the copies after the run, so the solver's caches are not disturbed.
//! - **Suboptimality without cancellation.** Ridge: J(w, b) − J(w*, b*) =
//!   ½·(1/S)·Σ sᵢ(xᵢᵀΔw + Δb)² + (λ/2)‖Δw‖²
//!   ([`tikhonov::RidgeProblem::objective_gap`]), a sum of non-negative terms. Logistic:
//!   [`metrics::logistic_gap`], the same identity with the loss's Bregman divergence in place
//!   of the square.
//! - **Scaling laws** ([`laws::power_law`]): log time = a·log n + b·log d + c over the groups
//!   whose only varying parameters are n and d, and log iterations = e·log κ + f over those
//!   where only κ varies, by least squares through this crate's `qr`, with 95 % confidence
//!   intervals.
//!
//! # Files
//!
//! `suite.rs` (the suite file), `problems.rs` (the data), `runs.rs` (running and recording),
//! `metrics.rs` (J − J* and the distance to the optimum), `laws.rs` (scaling laws),
//! `plots.rs` (the SVG figures), `report.rs` (the CSV tables and `index.md`), `meta.rs`
//! (`meta.json`); `export.rs` (`--write-data`: the problems for another tool) and
//! `compare.rs` (`--compare`: that tool's table read back).

mod compare;
mod export;
mod laws;
mod meta;
mod metrics;
mod plots;
mod problems;
mod report;
mod runs;
mod suite;

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tikhonov::Error;

use crate::Output;
use crate::args::BenchArgs;
use laws::fit_laws;
use report::{laws_table, overhead_csv, scaling_csv, write_csv, write_file};
use runs::{OVERHEAD_MIN_SECONDS, Results, Runner, summarise_overhead};

/// `tikhonov bench`.
pub fn run(args: &BenchArgs, out: &mut Output) -> Result<(), Error> {
    let started = Instant::now();
    let (suite, base) = suite::load(args.suite.as_deref())?;
    if let Some(dir) = &args.write_data {
        return export::write_data(&suite, &base, dir, out);
    }
    // Read before the runs, so that a bad table fails at once.
    let compare = match &args.compare {
        Some(path) => compare::read_rows(path)?,
        None => Vec::new(),
    };
    let repeats = args
        .repeats
        .map_or(suite.repeats, |r| usize::try_from(r).unwrap_or(usize::MAX));
    let plot_dir = args.out.join("plots");
    std::fs::create_dir_all(&plot_dir).map_err(|source| Error::Io {
        path: plot_dir.clone(),
        source,
    })?;
    let total: usize = suite
        .groups
        .iter()
        .map(|g| g.problems() * g.solvers.len() * (repeats + 1))
        .sum();
    let target = if args.quiet || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(total as u64), target);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} runs  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut runner = Runner {
        suite: &suite,
        repeats,
        bar,
        results: Results {
            rows: Vec::new(),
            overhead: Vec::new(),
            notes: Vec::new(),
        },
    };
    for group in &suite.groups {
        runner.run_group(group, &base);
    }
    runner.bar.finish_and_clear();
    let results = runner.results;
    let laws = fit_laws(&results.rows);
    let overhead = summarise_overhead(&results.overhead);
    let seconds = started.elapsed().as_secs_f64();

    write_csv(&args.out.join("results.csv"), &results.rows)?;
    let meta = meta::meta(&suite, repeats, seconds, &overhead);
    let meta_text = serde_json::to_string_pretty(&meta).unwrap_or_default();
    write_file(&args.out.join("meta.json"), meta_text.as_bytes())?;
    write_file(&args.out.join("scaling.csv"), scaling_csv(&laws).as_bytes())?;
    write_file(
        &args.out.join("overhead.csv"),
        overhead_csv(&results.overhead).as_bytes(),
    )?;
    let figures = plots::draw_all(&plot_dir, &results.rows, &compare, &laws)?;
    let report = report::report(
        &suite, &meta, &results, &compare, &laws, &overhead, &figures,
    );
    write_file(&args.out.join("index.md"), report.as_bytes())?;

    let _ = writeln!(
        out.stdout,
        "wrote {} ({} rows), meta.json, scaling.csv, overhead.csv, index.md and {} plots in {} ({:.0} s)",
        args.out.join("results.csv").display(),
        results.rows.len(),
        figures.len(),
        plot_dir.display(),
        seconds
    );
    let _ = writeln!(
        out.stdout,
        "recording overhead: median {:+.1} % over {} runs ≥ {OVERHEAD_MIN_SECONDS} s",
        100.0 * overhead.median,
        overhead.runs
    );
    out.stdout.push_str(&laws_table(&laws, false));
    out.notes
        .extend(results.notes.iter().map(|n| format!("note: {n}")));
    if let Some(path) = &args.compare
        && !compare
            .iter()
            .any(|c| results.rows.iter().any(|r| r.dataset == c.dataset))
    {
        out.notes.push(format!(
            "note: {}: no row's dataset_name is a problem of this suite; nothing overlaid \
             (write the data with --write-data from the same suite)",
            path.display()
        ));
    }
    Ok(())
}
