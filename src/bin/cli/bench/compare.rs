//! `tikhonov bench --compare FILE.csv`: another tool's table with the columns of
//! `results.csv` (`scripts/bench_sklearn.py` writes scikit-learn's), read back as [`Row`]s so
//! its curves are drawn, dashed, in the same figures and its backends listed in the report.

use std::path::Path;

use tikhonov::{Error, LossKind};

use super::runs::Row;

/// The rows of `path`. Columns are found by name (any order; `solver_name`, `dataset_name`,
/// `time` and `suboptimality` are required); an empty cell is a missing number (NaN), so a
/// tool that does not count passes leaves `passes` empty, and a table without
/// `objective_test_loss` (written before the column existed) reads as having no test split. A
/// row whose `stop` is `solved` is a direct backend's (drawn as a marker); `last` defaults to
/// true.
pub(super) fn read_rows(path: &Path) -> Result<Vec<Row>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let fail = |line: Option<usize>, message: String| Error::Format {
        path: path.to_owned(),
        location: line.map(|l| format!("line {l}")),
        message,
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let column = |name: &str| header.iter().position(|h| h.trim() == name);
    for required in ["solver_name", "dataset_name", "time", "suboptimality"] {
        if column(required).is_none() {
            return Err(fail(
                Some(1),
                format!(
                    "no column `{required}`; --compare takes a CSV with the columns of \
                     results.csv, as scripts/bench_sklearn.py writes"
                ),
            ));
        }
    }
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let line_number = i + 2;
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != header.len() {
            return Err(fail(
                Some(line_number),
                format!(
                    "{} cells for {} columns; quote no cell and put no comma in names",
                    cells.len(),
                    header.len()
                ),
            ));
        }
        let text = |name: &str| column(name).map_or("", |j| cells[j]);
        let number = |name: &str| -> Result<f64, Error> {
            match text(name) {
                "" => Ok(f64::NAN),
                cell => cell.parse().map_err(|_| {
                    fail(
                        Some(line_number),
                        format!("`{name}` = `{cell}` is not a number; write it as 1.5e-3"),
                    )
                }),
            }
        };
        let whole = |name: &str| -> Result<usize, Error> {
            let v = number(name)?;
            Ok(if v.is_finite() && v >= 0.0 {
                v as usize
            } else {
                0
            })
        };
        let stop = text("stop").to_owned();
        rows.push(Row {
            solver: text("solver_name").to_owned(),
            dataset: text("dataset_name").to_owned(),
            group: text("group").to_owned(),
            rep: whole("idx_rep")?,
            iteration: whole("stop_val")?,
            time: number("time")?,
            objective: number("objective_value")?,
            loss: if text("p_loss") == "logistic" {
                LossKind::Logistic
            } else {
                LossKind::Squared
            },
            n: whole("p_n")?,
            d: whole("p_d")?,
            kappa: Some(number("p_kappa")?).filter(|k| k.is_finite()),
            lambda: number("p_lambda")?,
            passes: number("passes")?,
            suboptimality: number("suboptimality")?,
            rel_gradient: number("rel_gradient")?,
            rel_distance: number("rel_distance")?,
            test_loss: number("objective_test_loss")?,
            last: text("last") != "false",
            direct: stop == "solved",
            stop,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Row>, Error> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("theirs.csv");
        std::fs::write(&path, text).unwrap();
        read_rows(&path)
    }

    #[test]
    fn columns_are_found_by_name_and_empty_cells_are_missing() {
        let rows = read(
            "time,suboptimality,dataset_name,solver_name,passes,stop\n\
             0.5,1e-3,a/b,sklearn-lsqr,,max_iter\n\
             0.1,0,a/b,sklearn-svd,,solved\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].solver, "sklearn-lsqr");
        assert!(rows[0].passes.is_nan() && !rows[0].direct && rows[0].last);
        assert!(rows[1].direct && rows[1].suboptimality == 0.0);
        // A table from before `objective_test_loss` existed: no held-out error.
        assert!(rows.iter().all(|r| r.test_loss.is_nan()));
        let rows = read(
            "solver_name,dataset_name,time,suboptimality,objective_test_loss\n\
             a,d,1,0,0.25\nb,d,1,0,\n",
        )
        .unwrap();
        assert_eq!(rows[0].test_loss, 0.25);
        assert!(rows[1].test_loss.is_nan());
    }

    #[test]
    fn a_bad_table_is_a_one_line_error_with_a_fix() {
        let e = read("solver_name,time\nx,1\n").unwrap_err().to_string();
        assert!(
            e.contains("no column `dataset_name`") && !e.contains('\n'),
            "{e}"
        );
        let e = read("solver_name,dataset_name,time,suboptimality\nx,d,fast,1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("`time` = `fast`"), "{e}");
    }
}
