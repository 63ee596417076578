//! The data of a suite's groups: synthetic grids (`tikhonov::data::Synthetic`), NIST StRD
//! files (`tests/data/nist-strd/`) and CSV files, each built once and owned, with the test
//! split a group's `test_fraction` holds out; the problems that borrow them are built per run
//! (`runs.rs`).

use std::path::Path;

use faer::{Col, ColRef, Mat, MatRef};
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use tikhonov::data::Synthetic;
use tikhonov::logistic::{BinaryLabels, LogisticProblem};
use tikhonov::{Error, RidgeProblem};

use super::suite::{Group, SourceKind, SuiteLoss};
use crate::Problem;

/// One dataset of a group, owned.
pub(super) struct Data {
    /// `dataset_name`: group/source.
    pub name: String,
    pub x: Mat<f64>,
    /// Targets (ridge) or 0/1 labels (logistic).
    pub y: Col<f64>,
    pub intercept: bool,
    /// κ(Xc) the generator was asked for (synthetic data only). With a test split it is that
    /// of all n + n_test rows drawn; the training rows' own is close to it, not equal.
    pub kappa: Option<f64>,
    /// The rows held out (`test_fraction`), none without.
    pub test: Option<Test>,
}

/// A held-out split: rows no problem is fitted on, where each recorded iterate's held-out
/// error is measured (`metrics::held_out`).
pub(super) struct Test {
    pub x: Mat<f64>,
    /// Targets (ridge), or ỹ ∈ {−1, +1} for a logistic group under the training labels'
    /// mapping (the larger of the two values is +1, as `BinaryLabels::from_values` maps them).
    pub y: Col<f64>,
}

impl Data {
    /// The targets read as two classes (`BinaryLabels`: the larger value is ỹ = +1) for a
    /// logistic group; none for ridge.
    pub(super) fn labels(&self, loss: SuiteLoss) -> Result<Option<BinaryLabels>, Error> {
        Ok(match loss {
            SuiteLoss::Squared => None,
            SuiteLoss::Logistic => Some(BinaryLabels::from_values(self.y.as_ref())?),
        })
    }

    /// A new problem on this data at `lambda`: ridge, or logistic on `labels`. Each call builds
    /// a fresh design, whose cache is empty.
    pub(super) fn problem<'d>(
        &'d self,
        labels: Option<&'d BinaryLabels>,
        lambda: f64,
    ) -> Result<Problem<'d>, Error> {
        Ok(match labels {
            None => Problem::Ridge(
                RidgeProblem::builder(self.x.as_ref(), self.y.as_ref())
                    .lambda(lambda)
                    .intercept(self.intercept)
                    .build()?,
            ),
            Some(labels) => Problem::Logistic(
                LogisticProblem::builder(self.x.as_ref(), labels)
                    .lambda(lambda)
                    .intercept(self.intercept)
                    .build()?,
            ),
        })
    }

    /// The problem's `dataset_name`: the data's, with `-l{λ}` when its group has several λ.
    pub(super) fn dataset_name(&self, group: &Group, lambda: f64) -> String {
        if group.lambda.len() > 1 {
            format!("{}-l{lambda}", self.name)
        } else {
            self.name.clone()
        }
    }
}

/// The datasets of `group` (before λ), built one at a time.
pub(super) fn datasets<'g>(
    group: &'g Group,
    base: &Path,
) -> Vec<Box<dyn FnOnce() -> Result<Data, Error> + 'g>> {
    let mut out: Vec<Box<dyn FnOnce() -> Result<Data, Error> + 'g>> = Vec::new();
    match group.source() {
        SourceKind::Synthetic => {
            for &n in &group.n {
                for &d in &group.d {
                    for &kappa in &group.kappa {
                        out.push(Box::new(move || synthetic(group, n, d, kappa)));
                    }
                }
            }
        }
        SourceKind::Nist => {
            let dir = group
                .nist_dir
                .as_ref()
                .map_or_else(|| base.join("../../tests/data/nist-strd"), |d| base.join(d));
            for name in &group.nist {
                let dir = dir.clone();
                out.push(Box::new(move || nist(group, &dir, name)));
            }
        }
        SourceKind::Csv => {
            let path = base.join(group.csv.as_ref().expect("validated: csv"));
            out.push(Box::new(move || csv(group, &path)));
        }
    }
    out
}

/// A synthetic problem of n training rows; with `test_fraction`, n + n_test rows are drawn
/// from the one recipe (the same U·diag(σ)·Vᵀ design, coefficients, noise and labels) and the
/// last n_test held out. The rows of U span a uniformly random subspace of 𝟙⊥, so they are
/// exchangeable and the two splits have the same distribution.
fn synthetic(group: &Group, n: usize, d: usize, kappa: f64) -> Result<Data, Error> {
    let n_test = group.synthetic_test_rows(n);
    let recipe = Synthetic {
        n_samples: n + n_test,
        n_features: d,
        condition: kappa,
        noise: group.noise,
        seed: group.seed,
        ..Synthetic::default()
    };
    let data = recipe.generate()?;
    let y = match group.loss {
        SuiteLoss::Squared => data.y.clone(),
        SuiteLoss::Logistic => recipe.logistic_labels(&data),
    };
    let train: Vec<usize> = (0..n).collect();
    let held: Vec<usize> = (n..n + n_test).collect();
    let (x, y, test) = split(group, data.x.as_ref(), y.as_ref(), &train, &held)?;
    Ok(Data {
        name: format!("{}/n{n}-d{d}-k{kappa}", group.name),
        x,
        y,
        intercept: true,
        kappa: Some(kappa),
        test,
    })
}

/// The training design and targets, and the rows held out.
type Split = (Mat<f64>, Col<f64>, Option<Test>);

/// The rows `train` as the training data and the rows `held` (none: no split) as a [`Test`],
/// the test labels of a logistic group mapped to ỹ as the training labels are.
fn split(
    group: &Group,
    x: MatRef<'_, f64>,
    y: ColRef<'_, f64>,
    train: &[usize],
    held: &[usize],
) -> Result<Split, Error> {
    let rows = |idx: &[usize]| {
        (
            Mat::from_fn(idx.len(), x.ncols(), |i, j| x[(idx[i], j)]),
            Col::from_fn(idx.len(), |i| y[idx[i]]),
        )
    };
    let (x_train, y_train) = rows(train);
    if held.is_empty() {
        return Ok((x_train, y_train, None));
    }
    let (x_test, mut y_test) = rows(held);
    if group.loss == SuiteLoss::Logistic {
        y_test = test_signs(y_train.as_ref(), y_test.as_ref())?;
    }
    Ok((
        x_train,
        y_train,
        Some(Test {
            x: x_test,
            y: y_test,
        }),
    ))
}

/// ỹ ∈ {−1, +1} of test labels under the training labels' mapping: the larger of the training
/// rows' two values is +1 (`BinaryLabels::from_values`); a value outside them is an error.
fn test_signs(train: ColRef<'_, f64>, test: ColRef<'_, f64>) -> Result<Col<f64>, Error> {
    let high = train.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let low = train.iter().copied().fold(f64::INFINITY, f64::min);
    let mut signs = Col::zeros(test.nrows());
    for (i, &v) in test.iter().enumerate() {
        signs[i] = if v == high {
            1.0
        } else if v == low {
            -1.0
        } else {
            return Err(Error::invalid(
                "test label",
                v,
                format!(
                    "one of the training rows' classes {low} and {high} (another test_fraction or seed)"
                ),
            ));
        };
    }
    Ok(signs)
}

/// A NIST StRD linear least-squares dataset as its certified model describes it (a polynomial
/// of the given degree in x, or the predictor columns; with or without intercept), read from the
/// `.dat` file's data lines (their 1-based range is in the header). The same reading as
/// `tests/common/nist.rs`, without the certified values.
fn nist(group: &Group, dir: &Path, name: &str) -> Result<Data, Error> {
    let index_path = dir.join("certified.json");
    let format = |path: &Path, message: String| Error::Format {
        path: path.to_owned(),
        location: None,
        message,
    };
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })
    };
    let index: Value = serde_json::from_str(&read(&index_path)?)
        .map_err(|e| format(&index_path, format!("not JSON: {e}")))?;
    let entry = index.get(name).ok_or_else(|| {
        format(
            &index_path,
            format!(
                "no dataset `{name}`; known: {}",
                index
                    .as_object()
                    .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            ),
        )
    })?;
    let file = dir.join(entry["file"].as_str().unwrap_or_default());
    let text = read(&file)?;
    let lines: Vec<&str> = text.lines().collect();
    let (first, last) = lines
        .iter()
        .find_map(|l| {
            let rest = l
                .trim()
                .strip_prefix("Data")?
                .trim()
                .strip_prefix("(lines")?;
            let mut it = rest.trim_end_matches(')').split("to");
            Some((
                it.next()?.trim().parse::<usize>().ok()?,
                it.next()?.trim().parse::<usize>().ok()?,
            ))
        })
        .ok_or_else(|| format(&file, "no `Data (lines A to B)` header".into()))?;
    let rows: Vec<Vec<f64>> = lines
        .get(first.saturating_sub(1)..last.min(lines.len()))
        .unwrap_or_default()
        .iter()
        .map(|l| {
            l.split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .collect();
    let n = rows.len();
    let degree = entry["degree"].as_u64().map(|d| d as usize);
    let d = degree.unwrap_or_else(|| rows.first().map_or(0, |r| r.len().saturating_sub(1)));
    if n == 0 || d == 0 || rows.iter().any(|r| r.len() < 2) {
        return Err(format(&file, "no data rows of `y x…` numbers".into()));
    }
    let x = Mat::from_fn(n, d, |i, j| match degree {
        Some(_) => rows[i][1].powi(j as i32 + 1),
        None => rows[i][j + 1],
    });
    let y = Col::from_fn(n, |i| rows[i][0]);
    Ok(Data {
        name: format!("{}/{name}", group.name),
        x,
        y,
        intercept: entry["intercept"].as_bool().unwrap_or(true),
        kappa: None,
        test: None,
    })
}

/// A CSV dataset; with `test_fraction` f, round(f·N) of its N rows are held out, drawn by a
/// Fisher–Yates shuffle from ChaCha8 seeded with the group's `seed` (the same rows on every
/// run and platform), both splits kept in file order. Standardisation is fitted on the
/// training rows and applied to the test rows too, so nothing of the test split leaks in.
fn csv(group: &Group, path: &Path) -> Result<Data, Error> {
    let target = group.target.as_deref().expect("validated: target");
    let data = tikhonov::data::read_csv(path, &[target])?;
    let rows = data.x.nrows();
    let (train, held) = match group.test_fraction {
        None => ((0..rows).collect(), Vec::new()),
        Some(f) => {
            let n_test = (f * rows as f64).round() as usize;
            if n_test == 0 || rows - n_test < 2 {
                return Err(Error::invalid(
                    "test_fraction",
                    f,
                    format!(
                        "a share of the {rows} rows that leaves at least one test and two \
                         training rows"
                    ),
                ));
            }
            let mut order: Vec<usize> = (0..rows).collect();
            let mut rng = ChaCha8Rng::seed_from_u64(group.seed);
            for i in (1..rows).rev() {
                order.swap(i, rng.random_range(0..=i));
            }
            let mut held = order[..n_test].to_vec();
            let mut train = order[n_test..].to_vec();
            held.sort_unstable();
            train.sort_unstable();
            (train, held)
        }
    };
    let (mut x, y, mut test) = split(group, data.x.as_ref(), data.y.col(0), &train, &held)?;
    if group.standardize {
        for (mean, scale, j) in standardize(&mut x) {
            if let Some(t) = &mut test {
                t.x.col_as_slice_mut(j)
                    .iter_mut()
                    .for_each(|v| *v = (*v - mean) * scale);
            }
        }
    }
    let stem = path
        .file_stem()
        .map_or_else(|| "csv".into(), |s| s.to_string_lossy().into_owned());
    Ok(Data {
        name: format!("{}/{stem}", group.name),
        y,
        x,
        intercept: true,
        kappa: None,
        test,
    })
}

/// Each column centred and divided by its population standard deviation (left centred when
/// that is zero); returns each column's (mean, 1/sd, column) to apply to other rows.
fn standardize(x: &mut Mat<f64>) -> Vec<(f64, f64, usize)> {
    let n = x.nrows() as f64;
    let mut applied = Vec::with_capacity(x.ncols());
    for j in 0..x.ncols() {
        let col = x.col_as_slice_mut(j);
        let mean = col.iter().sum::<f64>() / n;
        let sd = (col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        let scale = if sd > 0.0 { 1.0 / sd } else { 1.0 };
        col.iter_mut().for_each(|v| *v = (*v - mean) * scale);
        applied.push((mean, scale, j));
    }
    applied
}
