//! The tables and the report of a bench: `results.csv`, `scaling.csv`, `overhead.csv` and
//! `index.md`.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};
use tikhonov::Error;

use super::laws::{Law, median};
use super::plots::Figure;
use super::runs::{OVERHEAD_MIN_SECONDS, Overhead, OverheadSummary, Results, Row, distinct};
use super::suite::Suite;

/// A number for the CSV and the report: shortest round-trip digits, exponent form outside
/// [1e-4, 1e15), empty for NaN.
pub fn cell(x: f64) -> String {
    if x.is_nan() {
        String::new()
    } else if x == 0.0 || (x.is_finite() && (1e-4..1e15).contains(&x.abs())) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

/// The columns of `results.csv`: benchopt's names first (`objective_test_loss` is its name
/// for a metric on the test split; empty when the problem has none), then ours.
pub const COLUMNS: &[&str] = &[
    "solver_name",
    "dataset_name",
    "objective_value",
    "objective_test_loss",
    "time",
    "stop_val",
    "idx_rep",
    "p_loss",
    "p_n",
    "p_d",
    "p_kappa",
    "p_lambda",
    "group",
    "passes",
    "suboptimality",
    "rel_gradient",
    "rel_distance",
    "last",
    "stop",
];

pub(super) fn write_csv(path: &Path, rows: &[Row]) -> Result<(), Error> {
    let mut s = COLUMNS.join(",");
    s.push('\n');
    for r in rows {
        let fields = [
            r.solver.clone(),
            r.dataset.clone(),
            cell(r.objective),
            cell(r.test_loss),
            cell(r.time),
            r.iteration.to_string(),
            r.rep.to_string(),
            r.loss.name().to_owned(),
            r.n.to_string(),
            r.d.to_string(),
            r.kappa.map(cell).unwrap_or_default(),
            cell(r.lambda),
            r.group.clone(),
            cell(r.passes),
            cell(r.suboptimality),
            cell(r.rel_gradient),
            cell(r.rel_distance),
            r.last.to_string(),
            r.stop.clone(),
        ];
        s.push_str(&fields.join(","));
        s.push('\n');
    }
    write_file(path, s.as_bytes())
}

pub(super) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// One row per iterative (problem, backend): the pilot's unrecorded time, the median recorded
/// time, the cadence and the steps recorded.
pub(super) fn overhead_csv(overhead: &[Overhead]) -> String {
    let mut s = String::from("dataset_name,solver_name,unrecorded,recorded,cadence,steps\n");
    for o in overhead {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{}",
            o.dataset,
            o.solver,
            cell(o.unrecorded),
            cell(o.recorded),
            o.cadence,
            o.steps
        );
    }
    s
}

pub(super) fn scaling_csv(laws: &[Law]) -> String {
    let mut s = String::from("group,solver,law,predictor,exponent,ci95,theory,dof,points\n");
    for l in laws {
        for (j, p) in l.predictors.iter().enumerate() {
            let _ = writeln!(
                s,
                "{},{},{},{p},{},{},{},{},{}",
                l.group,
                l.solver,
                l.law,
                cell(l.fit.coef[j]),
                cell(l.fit.half_width[j]),
                l.theory[j].map(cell).unwrap_or_default(),
                l.fit.dof,
                l.points.len()
            );
        }
    }
    s
}

/// The fitted exponents next to theory, as a markdown table (`markdown`) or plain text.
pub(super) fn laws_table(laws: &[Law], markdown: bool) -> String {
    let mut s = String::new();
    if laws.is_empty() {
        return s;
    }
    if markdown {
        s.push_str(
            "| group | backend | law | exponent ± 95 % CI | theory | within 0.15 | points |\n\
             | --- | --- | --- | --- | --- | --- | ---: |\n",
        );
    } else {
        s.push_str("scaling laws (exponent ± 95 % CI; theory):\n");
    }
    for l in laws {
        for (j, p) in l.predictors.iter().enumerate() {
            let what = match l.law {
                "time" => format!("time ∝ {p}^a"),
                _ => "iterations ∝ κ^e".to_owned(),
            };
            let estimate = format!("{:.3} ± {:.3}", l.fit.coef[j], l.fit.half_width[j]);
            let theory = l.theory[j].map_or("—".to_owned(), |t| format!("{t}"));
            let within = l.theory[j].map_or("—", |t| {
                if (l.fit.coef[j] - t).abs() <= 0.15 {
                    "yes"
                } else {
                    "no"
                }
            });
            if markdown {
                let _ = writeln!(
                    s,
                    "| {} | `{}` | {what} | {estimate} | {theory} | {within} | {} |",
                    l.group,
                    l.solver,
                    l.points.len()
                );
            } else {
                let _ = writeln!(
                    s,
                    "  {:<14} {:<11} {what:<18} {estimate:<16} theory {theory}",
                    l.group, l.solver
                );
            }
        }
    }
    s
}

/// `index.md`: the machine, the overhead, the laws and, per problem, a table and its plots.
pub(super) fn report(
    suite: &Suite,
    meta: &Value,
    results: &Results,
    compare: &[Row],
    laws: &[Law],
    overhead: &OverheadSummary,
    figures: &[Figure],
) -> String {
    let mut s = String::new();
    let m = &meta["machine"];
    let _ = writeln!(s, "# Benchmark report: suite `{}`\n", suite.name);
    let _ = writeln!(
        s,
        "`{}` on {} ({} cores, {:.1} GiB), tikhonov {} at commit {}{}, {}; {} repeats, {:.0} s.\n",
        meta["command"].as_str().unwrap_or_default(),
        m["cpu_model"].as_str().unwrap_or("an unknown CPU"),
        m["cores"],
        m["memory_bytes"].as_f64().unwrap_or(0.0) / f64::from(1u32 << 30),
        meta["tikhonov_version"].as_str().unwrap_or_default(),
        meta["git_commit"].as_str().unwrap_or("unknown"),
        if meta["git_dirty"] == json!(true) {
            " (with uncommitted changes)"
        } else {
            ""
        },
        meta["date"].as_str().unwrap_or_default(),
        meta["repeats"],
        meta["seconds"].as_f64().unwrap_or(0.0),
    );
    s.push_str(
        "Times are wall-clock seconds since the solve began with the recording excluded; on a \
         shared machine single figures move by tens of per cent, so read ratios. Suboptimality \
         is J − J* against `qr-refined` (ridge) or `newton` (logistic), computed without \
         cancellation; an exact zero (the reference itself) is drawn at the bottom of a plot. \
         The curves are the first repeat's.\n\n",
    );
    if !compare.is_empty() {
        s.push_str(
            "Another tool's rows (`--compare`) are drawn dashed (hollow markers for its direct \
             solvers) and listed in the tables under their own names; their times are those of \
             whole reruns with growing iteration budgets, their J − J* is measured against the \
             same optimum.\n\n",
        );
    }
    let _ = writeln!(
        s,
        "**Recording overhead**: median {:+.1} % of the unrecorded run's time over {} iterative \
         runs of at least {OVERHEAD_MIN_SECONDS} s (recorded time of the last step / time of the \
         same run without recording − 1; noise included).\n",
        100.0 * overhead.median,
        overhead.runs
    );
    if !laws.is_empty() {
        s.push_str("## Scaling laws\n\n");
        s.push_str(
            "Least squares on the logarithms of the medians over repeats of converged runs, \
             through this crate's `qr`; 95 % confidence intervals from the residual variance. \
             κ is the condition number of the centred design (κ_H = κ² at λ = 0).\n\n",
        );
        s.push_str(&laws_table(laws, true));
        s.push('\n');
        for f in figures.iter().filter(|f| f.problem.is_none()) {
            let _ = writeln!(s, "![{}](plots/{})\n", f.title, f.file);
        }
    }
    if !results.notes.is_empty() {
        s.push_str("## Notes\n\n");
        for n in &results.notes {
            let _ = writeln!(s, "- {n}");
        }
        s.push('\n');
    }
    s.push_str("## Problems\n\n");
    let datasets = distinct(results.rows.iter().map(|r| r.dataset.as_str()));
    for dataset in datasets {
        let rows: Vec<&Row> = results
            .rows
            .iter()
            .chain(compare)
            .filter(|r| r.dataset == dataset && r.last)
            .collect();
        let first = rows[0];
        let _ = writeln!(
            s,
            "### {dataset}\n\n{} loss, n = {}, d = {}{}, λ = {}.\n",
            first.loss.name(),
            first.n,
            first.d,
            first
                .kappa
                .map(|k| format!(", κ = {k}"))
                .unwrap_or_default(),
            cell(first.lambda)
        );
        // The held-out error's column only where the problem has a test split.
        let held_out = rows.iter().any(|r| r.test_loss.is_finite());
        if held_out {
            let _ = writeln!(
                s,
                "Held-out error: the {} of the last iterate on the test split.\n",
                match first.loss {
                    tikhonov::LossKind::Logistic => "mean log-loss",
                    tikhonov::LossKind::Squared => "mean squared error",
                }
            );
        }
        s.push_str(
            "| backend | time (median) | iterations | passes | suboptimality | ‖w − w*‖/‖w*‖ |",
        );
        s.push_str(if held_out {
            " held-out error | stop |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n"
        } else {
            " stop |\n| --- | ---: | ---: | ---: | ---: | ---: | --- |\n"
        });
        let solvers = distinct(rows.iter().map(|r| r.solver.as_str()));
        for solver in solvers {
            let runs: Vec<&&Row> = rows.iter().filter(|r| r.solver == solver).collect();
            let mut times: Vec<f64> = runs.iter().map(|r| r.time).collect();
            let r = runs[0];
            let test = match (held_out, r.test_loss.is_finite()) {
                (false, _) => String::new(),
                (true, true) => format!(" {:.6e} |", r.test_loss),
                (true, false) => " — |".to_owned(),
            };
            let _ = writeln!(
                s,
                "| `{solver}` | {:.3e} s | {} | {} | {:.2e} | {:.2e} |{test} {} |",
                median(&mut times),
                r.iteration,
                if r.passes.is_nan() {
                    "—".to_owned()
                } else {
                    format!("{:.1}", r.passes)
                },
                r.suboptimality,
                r.rel_distance,
                r.stop
            );
        }
        s.push('\n');
        for f in figures
            .iter()
            .filter(|f| f.problem.as_deref() == Some(dataset))
        {
            let _ = writeln!(s, "![{}](plots/{})", f.title, f.file);
        }
        s.push('\n');
    }
    s
}
