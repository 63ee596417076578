//! `tikhonov bench --write-data DIR`: every problem of a suite written for another tool to
//! run (`scripts/bench_sklearn.py`), with the exact optimum its curves are measured against.
//!
//! Per problem, in `DIR/<dataset_name as a file name>/`: `X.npy` (n × d), `y.npy` (the targets;
//! for a logistic group the labels as ỹ ∈ {−1, +1}, the larger value +1 as in scikit-learn's
//! `classes_`), `w_star.npy` and `problem.json` (the names, loss, λ, the intercept flag, n, d,
//! κ, S, the optimum's J* and b*, n_test, and the group's backends, tol, max_iter and time
//! limit); with a test split (`test_fraction`) also `X_test.npy` and `y_test.npy` (labels as
//! ỹ, mapped as the training ones), on which `objective_test_loss` is measured. The
//! objective is this crate's, J(w, b) = (1/S)·Σ sᵢ·ℓ(xᵢᵀw + b, yᵢ) + (λ/2)‖w‖² with unit
//! weights (S = n) and ℓ = ½(y − z)² or log(1 + e^(−ỹz)).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;
use tikhonov::Error;
use tikhonov::data::{write_npy_matrix, write_npy_vector};

use super::metrics::reference;
use super::plots::slug;
use super::problems::{Data, datasets};
use super::report::write_file;
use super::suite::{Group, Suite};
use crate::{Output, Problem};

/// Writes every problem of `suite` (relative paths from `base`) to `dir`; a problem that
/// cannot be built or solved is a note, as in a run.
pub(super) fn write_data(
    suite: &Suite,
    base: &Path,
    dir: &Path,
    out: &mut Output,
) -> Result<(), Error> {
    let mut written = 0;
    for group in &suite.groups {
        for make in datasets(group, base) {
            let written_here = make().map(|data| {
                let mut count = 0;
                for &lambda in &group.lambda {
                    match write_problem(suite, group, &data, lambda, dir) {
                        Ok(()) => count += 1,
                        Err(e) => out
                            .notes
                            .push(format!("note: {} at λ = {lambda}: skipped: {e}", data.name)),
                    }
                }
                count
            });
            match written_here {
                Ok(count) => written += count,
                Err(e) => out
                    .notes
                    .push(format!("note: {}: skipped: {e}", group.name)),
            }
        }
    }
    let _ = writeln!(
        out.stdout,
        "wrote {written} problems (X.npy, y.npy, w_star.npy, problem.json; X_test.npy and \
         y_test.npy with a test split) in {}",
        dir.display()
    );
    Ok(())
}

fn write_problem(
    suite: &Suite,
    group: &Group,
    data: &Data,
    lambda: f64,
    dir: &Path,
) -> Result<(), Error> {
    let labels = data.labels(group.loss)?;
    let problem = data.problem(labels.as_ref(), lambda)?;
    let optimum = reference(&problem)?;
    let name = data.dataset_name(group, lambda);
    let folder = dir.join(slug(&name));
    std::fs::create_dir_all(&folder).map_err(|source| Error::Io {
        path: folder.clone(),
        source,
    })?;
    let y = match &problem {
        Problem::Ridge(_) => data.y.as_ref(),
        Problem::Logistic(p) => p.data().y(),
    };
    write_npy_matrix(&folder.join("X.npy"), data.x.as_ref())?;
    write_npy_vector(&folder.join("y.npy"), y)?;
    write_npy_vector(&folder.join("w_star.npy"), optimum.coef.as_ref())?;
    if let Some(test) = &data.test {
        write_npy_matrix(&folder.join("X_test.npy"), test.x.as_ref())?;
        write_npy_vector(&folder.join("y_test.npy"), test.y.as_ref())?;
    }
    let meta = json!({
        "dataset_name": name,
        "group": group.name,
        "loss": group.loss.kind().name(),
        "lambda": lambda,
        "intercept": data.intercept,
        "n": data.x.nrows(),
        "d": data.x.ncols(),
        "kappa": data.kappa,
        "n_test": data.test.as_ref().map_or(0, |t| t.x.nrows()),
        "weight_sum": problem.data().weight_sum(),
        "objective_star": optimum.objective,
        "intercept_star": optimum.intercept,
        "solvers": group.solvers,
        "tol": group.tol,
        "max_iter": group.max_iter,
        "time_limit": group.time_limit.or(suite.time_limit),
    });
    let text = serde_json::to_string_pretty(&meta).unwrap_or_default();
    write_file(&folder.join("problem.json"), text.as_bytes())
}
