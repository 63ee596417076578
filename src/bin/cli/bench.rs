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
//!   ½·(1/S)·Σ sᵢ(xᵢᵀΔw + Δb)² + (λ/2)‖Δw‖² ([`RidgeProblem::objective_gap`]), a sum of
//!   non-negative terms. Logistic: [`logistic_gap`], the same identity with the loss's Bregman
//!   divergence in place of the square.
//! - **Scaling laws** ([`power_law`]): log time = a·log n + b·log d + c over the groups whose
//!   only varying parameters are n and d, and log iterations = e·log κ + f over those where only
//!   κ varies, by least squares through this crate's `qr`, with 95 % confidence intervals.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use faer::linalg::solvers::Solve as _;
use faer::{Col, Mat};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Deserialize;
use serde_json::{Value, json};
use tikhonov::data::Synthetic;
use tikhonov::iterate::Observation;
use tikhonov::logistic::{BinaryLabels, LogisticProblem};
use tikhonov::options::ObserverOption;
use tikhonov::solvers::{self, Registry, Solver, SolverKind, SolverOptions};
use tikhonov::{Error, Fit, LossKind, Record, RidgeProblem};

use super::args::BenchArgs;
use super::{Output, Problem, bench_plot};

/// The built-in suite (`tikhonov bench` without `--suite`): about 5 minutes on 2 cores.
const DEFAULT_SUITE: &str = include_str!("../../../benches/suites/default.toml");

/// The folder the built-in suite's relative paths start from: where the file lives in the
/// repository this binary was built from.
fn default_suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/suites")
}

// ---------------------------------------------------------------------------------------------
// The suite file
// ---------------------------------------------------------------------------------------------

/// A suite: groups of problems, each with its backends; every (problem, backend) is run
/// `repeats` times.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    /// Shown in the report.
    pub name: String,
    /// Runs of each (problem, backend); `--repeats` overrides it.
    #[serde(default = "default_repeats")]
    pub repeats: usize,
    /// About how many steps of an iterative run are recorded (the cadence is
    /// ⌈iterations / points⌉ from the pilot run).
    #[serde(default = "default_points")]
    pub points: usize,
    /// Wall-time budget in seconds of every iterative run, unless a group sets its own.
    pub time_limit: Option<f64>,
    /// The groups, in order.
    #[serde(rename = "group")]
    pub groups: Vec<Group>,
}

fn default_repeats() -> usize {
    3
}
fn default_points() -> usize {
    100
}
fn default_noise() -> f64 {
    0.1
}
fn default_lambda() -> Vec<f64> {
    vec![1e-3]
}

/// The loss of a group, as the suite file spells it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuiteLoss {
    #[default]
    Squared,
    Logistic,
}

impl SuiteLoss {
    fn kind(self) -> LossKind {
        match self {
            SuiteLoss::Squared => LossKind::Squared,
            SuiteLoss::Logistic => LossKind::Logistic,
        }
    }
}

/// Where iterative backends start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Start {
    /// w = 0, the usual cold start.
    #[default]
    Zero,
    /// w₀ = w* − H⁻¹·c𝟙 (ridge only), where ∇J(w₀) = −c𝟙 has the same component along every
    /// eigendirection of H (c makes ‖∇J(w₀)‖ = ‖∇J(0)‖). From w = 0 the gradient along the
    /// slowest direction starts about 1/κ_H below the others, so counts to a relative tolerance
    /// grow more slowly than the theory's worst case (on 64 × 8 at tol 1e-8, gd's counts grow
    /// like κ^1.88 from zero and κ^2.00 from here); the `kappa` groups of the built-in suite
    /// start here to measure the rate itself. The method of `tests/deterministic.rs`.
    Equalised,
}

/// One group: a data source (a synthetic grid, NIST StRD datasets, or a CSV file), penalties,
/// backends and their stopping rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The group's name (a prefix of its problems' `dataset_name`).
    pub name: String,
    #[serde(default)]
    pub loss: SuiteLoss,
    /// Registry names of the backends to run.
    pub solvers: Vec<String>,
    /// Penalties λ; every problem is run at each.
    #[serde(default = "default_lambda")]
    pub lambda: Vec<f64>,
    /// Relative tolerance of the iterative backends (their default when absent).
    pub tol: Option<f64>,
    /// Iteration budget of the iterative backends (their default when absent).
    pub max_iter: Option<usize>,
    /// Wall-time budget in seconds of each iterative run (else the suite's).
    pub time_limit: Option<f64>,
    #[serde(default)]
    pub start: Start,
    /// Synthetic grid: samples.
    #[serde(default)]
    pub n: Vec<usize>,
    /// Synthetic grid: features.
    #[serde(default)]
    pub d: Vec<usize>,
    /// Synthetic grid: κ(Xc).
    #[serde(default)]
    pub kappa: Vec<f64>,
    /// Synthetic: noise standard deviation of y.
    #[serde(default = "default_noise")]
    pub noise: f64,
    /// Synthetic: seed of the data.
    #[serde(default)]
    pub seed: u64,
    /// NIST StRD datasets by name (tests/data/nist-strd/).
    #[serde(default)]
    pub nist: Vec<String>,
    /// Folder of the NIST files, relative to the suite file.
    pub nist_dir: Option<PathBuf>,
    /// A CSV file with a header, relative to the suite file.
    pub csv: Option<PathBuf>,
    /// The CSV's target column.
    pub target: Option<String>,
    /// Centre and scale every feature column to unit population standard deviation.
    #[serde(default)]
    pub standardize: bool,
}

/// Which data a group describes.
enum SourceKind {
    Synthetic,
    Nist,
    Csv,
}

impl Group {
    fn source(&self) -> SourceKind {
        if !self.nist.is_empty() {
            SourceKind::Nist
        } else if self.csv.is_some() {
            SourceKind::Csv
        } else {
            SourceKind::Synthetic
        }
    }

    /// The data sources × λ: how many problems the group holds.
    fn problems(&self) -> usize {
        let sources = match self.source() {
            SourceKind::Synthetic => self.n.len() * self.d.len() * self.kappa.len(),
            SourceKind::Nist => self.nist.len(),
            SourceKind::Csv => 1,
        };
        sources * self.lambda.len()
    }
}

/// Reads a suite (TOML, or JSON when the name ends in `.json`) and checks it.
pub fn read_suite(path: &Path) -> Result<Suite, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let format = |message: String| Error::Format {
        path: path.to_owned(),
        location: None,
        message,
    };
    let suite: Suite = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| {
            format(format!(
                "not a suite: {e}; see benches/suites/small.toml for the fields"
            ))
        })?
    } else {
        toml::from_str(&text).map_err(|e| {
            format(format!(
                "not a suite: {}; see benches/suites/small.toml for the fields",
                e.message()
            ))
        })?
    };
    validate(&suite, path)?;
    Ok(suite)
}

/// The checks serde cannot express, each a one-line error naming the group and the fix.
fn validate(suite: &Suite, path: &Path) -> Result<(), Error> {
    let fail = |group: Option<&str>, message: String| Error::Format {
        path: path.to_owned(),
        location: group.map(|g| format!("group `{g}`")),
        message,
    };
    if suite.repeats == 0 || suite.points == 0 {
        return Err(fail(
            None,
            "`repeats` and `points` must be at least 1".into(),
        ));
    }
    if suite.groups.is_empty() {
        return Err(fail(None, "no [[group]]; add at least one".into()));
    }
    if let Some(t) = suite.time_limit
        && !(t.is_finite() && t > 0.0)
    {
        return Err(fail(
            None,
            format!("time_limit = {t}: give positive seconds"),
        ));
    }
    let registry = Registry::builtin();
    for g in &suite.groups {
        let fail = |m: String| fail(Some(&g.name), m);
        let synthetic = !(g.n.is_empty() && g.d.is_empty() && g.kappa.is_empty());
        let sources =
            usize::from(synthetic) + usize::from(!g.nist.is_empty()) + usize::from(g.csv.is_some());
        if sources != 1 {
            return Err(fail(
                "give exactly one data source: a synthetic grid (n, d and kappa), nist = [names], \
                 or csv = \"FILE\" with target"
                    .into(),
            ));
        }
        if synthetic
            && (g.n.is_empty()
                || g.d.is_empty()
                || g.kappa.is_empty()
                || g.n.contains(&0)
                || g.d.contains(&0)
                || g.kappa.iter().any(|k| !(k.is_finite() && *k >= 1.0)))
        {
            return Err(fail(
                "a synthetic grid needs non-empty n and d lists of positive sizes and kappa values ≥ 1"
                    .into(),
            ));
        }
        if g.csv.is_some() && g.target.is_none() {
            return Err(fail("csv needs target = \"COLUMN\"".into()));
        }
        if g.lambda.is_empty() || g.lambda.iter().any(|l| !(l.is_finite() && *l >= 0.0)) {
            return Err(fail("lambda must list finite penalties ≥ 0".into()));
        }
        if g.solvers.is_empty() {
            return Err(fail("solvers is empty; name at least one backend".into()));
        }
        if g.start == Start::Equalised && g.loss == SuiteLoss::Logistic {
            return Err(fail(
                "start = \"equalised\" is defined for the squared loss only; use start = \"zero\""
                    .into(),
            ));
        }
        if let Some(t) = g.time_limit
            && !(t.is_finite() && t > 0.0)
        {
            return Err(fail(format!("time_limit = {t}: give positive seconds")));
        }
        for name in &g.solvers {
            let info = registry.get(name).map_err(|e| fail(e.to_string()))?;
            if !info.losses.contains(&g.loss.kind()) {
                return Err(fail(format!(
                    "{name} does not fit the {} loss; drop it from this group",
                    g.loss.kind().name()
                )));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------------------------

/// One dataset of a group, owned.
struct Data {
    /// `dataset_name`: group/source.
    name: String,
    x: Mat<f64>,
    /// Targets (ridge) or 0/1 labels (logistic).
    y: Col<f64>,
    intercept: bool,
    kappa: Option<f64>,
}

/// The datasets of `group` (before λ), built one at a time.
fn datasets<'g>(
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

fn synthetic(group: &Group, n: usize, d: usize, kappa: f64) -> Result<Data, Error> {
    let recipe = Synthetic {
        n_samples: n,
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
    Ok(Data {
        name: format!("{}/n{n}-d{d}-k{kappa}", group.name),
        x: data.x,
        y,
        intercept: true,
        kappa: Some(kappa),
    })
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
    })
}

fn csv(group: &Group, path: &Path) -> Result<Data, Error> {
    let target = group.target.as_deref().expect("validated: target");
    let data = tikhonov::data::read_csv(path, &[target])?;
    let mut x = data.x;
    if group.standardize {
        standardize(&mut x);
    }
    let stem = path
        .file_stem()
        .map_or_else(|| "csv".into(), |s| s.to_string_lossy().into_owned());
    Ok(Data {
        name: format!("{}/{stem}", group.name),
        y: data.y.col(0).to_owned(),
        x,
        intercept: true,
        kappa: None,
    })
}

/// Each column centred and divided by its population standard deviation (left centred when
/// that is zero).
fn standardize(x: &mut Mat<f64>) {
    let n = x.nrows() as f64;
    for j in 0..x.ncols() {
        let col = x.col_as_slice_mut(j);
        let mean = col.iter().sum::<f64>() / n;
        let sd = (col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        let scale = if sd > 0.0 { 1.0 / sd } else { 1.0 };
        col.iter_mut().for_each(|v| *v = (*v - mean) * scale);
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring a point against the optimum
// ---------------------------------------------------------------------------------------------

/// The optimum of one problem and what judging a point against it needs.
struct Optimum {
    coef: Col<f64>,
    intercept: f64,
    /// ‖∇J‖ at the cold start (w = 0, and b = ȳ for ridge, whose intercept is eliminated;
    /// b = 0 for logistic): the reference of every relative gradient, as in the driver.
    cold_gradient: f64,
    /// ∇J at the optimum (logistic only): the linear term of the gap identity.
    gradient: Option<(Col<f64>, f64)>,
    /// ỹᵢ·(xᵢᵀw* + b*) (logistic only).
    margins: Vec<f64>,
}

impl Optimum {
    fn new(problem: &Problem<'_>, reference: &Fit) -> Self {
        let d = reference.coef.nrows();
        let zero = Col::<f64>::zeros(d);
        match problem {
            Problem::Ridge(p) => Optimum {
                coef: reference.coef.clone(),
                intercept: reference.intercept,
                cold_gradient: p.gradient_norm(zero.as_ref(), p.optimal_intercept(zero.as_ref())),
                gradient: None,
                margins: Vec::new(),
            },
            Problem::Logistic(p) => Optimum {
                coef: reference.coef.clone(),
                intercept: reference.intercept,
                cold_gradient: p.gradient_norm(zero.as_ref(), 0.0),
                gradient: Some(p.gradient(reference.coef.as_ref(), reference.intercept)),
                margins: margins(p, reference.coef.as_ref(), reference.intercept),
            },
        }
    }

    /// (suboptimality, ‖w − w*‖/‖w*‖) of (w, b).
    fn judge(&self, problem: &Problem<'_>, w: faer::ColRef<'_, f64>, b: f64) -> (f64, f64) {
        let gap = match problem {
            Problem::Ridge(p) => p.objective_gap(w, b, self.coef.as_ref(), self.intercept),
            Problem::Logistic(p) => logistic_gap(p, self, w, b),
        };
        let diff = (w - self.coef.as_ref()).norm_l2();
        let scale = self.coef.norm_l2();
        (gap, if scale > 0.0 { diff / scale } else { diff })
    }

    /// (w, b) of an iterate θ in the objective's variables: w alone for ridge (the intercept is
    /// eliminated: b = ȳ − x̄ᵀw), (w, b + x̄ᵀw) for logistic (`EmpiricalRisk::split`).
    fn split(problem: &Problem<'_>, theta: &[f64]) -> (Col<f64>, f64) {
        let theta = faer::ColRef::from_slice(theta);
        match problem {
            Problem::Ridge(p) => (theta.to_owned(), p.optimal_intercept(theta)),
            Problem::Logistic(p) => p.risk().split(theta),
        }
    }
}

/// ỹᵢ·(xᵢᵀw + b).
fn margins(p: &LogisticProblem<'_>, w: faer::ColRef<'_, f64>, b: f64) -> Vec<f64> {
    let z = p.data().x() * w;
    z.iter()
        .zip(p.data().y().iter())
        .map(|(z, s)| s * (z + b))
        .collect()
}

/// J(w, b) − J(w*, b*) for the logistic loss, without the cancellation of subtracting two
/// objective values. The identity
///
/// ```text
/// J(θ) − J(θ*) = (1/S)·Σ sᵢ·D(mᵢ, mᵢ*) + (λ/2)‖w − w*‖² + ∇J(θ*)ᵀ(θ − θ*)
/// D(m, m*) = φ(m) − φ(m*) − φ'(m*)(m − m*) = δ²·∫₀¹ (1 − s)·φ''(m* + sδ) ds,   δ = m − m*
/// ```
///
/// (φ(m) = log(1 + e^(−m)), mᵢ = ỹᵢ(xᵢᵀw + b)) is exact; D ≥ 0 is the Bregman divergence of φ.
/// For |δ| ≤ 1 the integral is taken by 8-point Gauss–Legendre quadrature, whose integrand
/// φ'' = σ(m)σ(−m) > 0 is analytic within π of the real axis, so D comes out to a few ulps
/// relative however small it is; for |δ| > 1 the defining difference loses at most a small
/// factor. The last term vanishes at the exact optimum; with `newton`'s answer at tol 1e-12 it is
/// ≤ ‖∇J(θ*)‖·‖θ − θ*‖, the floor below which the gap is not resolved. A result below zero
/// (within that floor) is reported as 0.
fn logistic_gap(p: &LogisticProblem<'_>, opt: &Optimum, w: faer::ColRef<'_, f64>, b: f64) -> f64 {
    let m = margins(p, w, b);
    let s_total = p.data().weight_sum();
    let sum: f64 = m
        .iter()
        .zip(&opt.margins)
        .enumerate()
        .map(|(i, (&m, &ms))| p.data().weight(i) * bregman_logistic(m, ms))
        .sum();
    let dw = w - opt.coef.as_ref();
    let mut gap = sum / s_total + 0.5 * p.lambda() * dw.squared_norm_l2();
    if let Some((gw, gb)) = &opt.gradient {
        gap += tikhonov_dot(gw.as_ref(), dw.as_ref()) + gb * (b - opt.intercept);
    }
    gap.max(0.0)
}

fn tikhonov_dot(a: faer::ColRef<'_, f64>, b: faer::ColRef<'_, f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(a, b)| a * b).sum()
}

/// Nodes and weights of 8-point Gauss–Legendre quadrature on [−1, 1] (positive half).
const GAUSS_LEGENDRE_8: [(f64, f64); 4] = [
    (0.183_434_642_495_649_8, 0.362_683_783_378_362),
    (0.525_532_409_916_329, 0.313_706_645_877_887_3),
    (0.796_666_477_413_626_7, 0.222_381_034_453_374_5),
    (0.960_289_856_497_536_3, 0.101_228_536_290_376_3),
];

/// D(m, m*) = φ(m) − φ(m*) − φ'(m*)(m − m*) for φ(m) = log(1 + e^(−m)); see [`logistic_gap`].
fn bregman_logistic(m: f64, m_star: f64) -> f64 {
    let delta = m - m_star;
    if delta.abs() <= 1.0 {
        // δ²·∫₀¹ (1 − s)·φ''(m* + sδ) ds with s = (1 + t)/2.
        let curvature = |m: f64| {
            let e = (-m.abs()).exp();
            e / ((1.0 + e) * (1.0 + e))
        };
        let mut integral = 0.0;
        for (t, weight) in GAUSS_LEGENDRE_8 {
            for t in [t, -t] {
                let s = 0.5 * (1.0 + t);
                integral += 0.5 * weight * (1.0 - s) * curvature(m_star + s * delta);
            }
        }
        delta * delta * integral
    } else {
        let phi = tikhonov::loss::log1p_exp_neg;
        // φ'(m*) = −σ(−m*).
        (phi(m) - phi(m_star) + tikhonov::loss::sigmoid(-m_star) * delta).max(0.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

/// One recorded step of one run: a row of `results.csv`.
#[derive(Debug, Clone)]
pub struct Row {
    pub solver: String,
    pub dataset: String,
    pub group: String,
    pub rep: usize,
    pub iteration: usize,
    /// Seconds since the solve began, recording excluded.
    pub time: f64,
    pub objective: f64,
    pub loss: LossKind,
    pub n: usize,
    pub d: usize,
    pub kappa: Option<f64>,
    pub lambda: f64,
    pub passes: f64,
    pub suboptimality: f64,
    pub rel_gradient: f64,
    pub rel_distance: f64,
    /// Whether this is the run's last step.
    pub last: bool,
    /// Why the run stopped (`solved` for a direct backend).
    pub stop: String,
    pub direct: bool,
}

/// The recording overhead of one (problem, backend): the pilot's unrecorded time against the
/// median recorded time of the same run.
#[derive(Debug, Clone)]
pub struct Overhead {
    pub dataset: String,
    pub solver: String,
    pub unrecorded: f64,
    pub recorded: f64,
    pub cadence: usize,
    pub steps: usize,
}

/// Everything a bench produced.
pub struct Results {
    pub rows: Vec<Row>,
    pub overhead: Vec<Overhead>,
    pub notes: Vec<String>,
}

struct Runner<'s> {
    suite: &'s Suite,
    repeats: usize,
    bar: ProgressBar,
    results: Results,
}

/// What one run of one backend returned, with the steps the observer kept.
type Kept = Arc<Mutex<Vec<(Record, Vec<f64>)>>>;

impl Runner<'_> {
    fn note(&mut self, line: String) {
        self.results.notes.push(line);
    }

    fn run_group(&mut self, group: &Group, base: &Path) {
        for make in datasets(group, base) {
            let data = match make() {
                Ok(d) => d,
                Err(e) => {
                    self.note(format!("{}: skipped: {e}", group.name));
                    self.bar.inc(
                        (group.lambda.len() * group.solvers.len() * (self.repeats + 1)) as u64,
                    );
                    continue;
                }
            };
            for &lambda in &group.lambda {
                if let Err(e) = self.run_problem(group, &data, lambda) {
                    self.note(format!("{} at λ = {lambda}: skipped: {e}", data.name));
                }
            }
        }
    }

    fn run_problem(&mut self, group: &Group, data: &Data, lambda: f64) -> Result<(), Error> {
        let labels = match group.loss {
            SuiteLoss::Squared => None,
            SuiteLoss::Logistic => Some(BinaryLabels::from_values(data.y.as_ref())?),
        };
        // A problem caches λ-free work on its design (the Gram moments, L, the sample-major
        // copy: docs/ARCHITECTURE.md), so every run gets a fresh one: no run is timed on what
        // an earlier run (the reference, the pilot, a previous repeat) computed.
        let build = || -> Result<Problem<'_>, Error> {
            Ok(match &labels {
                None => Problem::Ridge(
                    RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
                        .lambda(lambda)
                        .intercept(data.intercept)
                        .build()?,
                ),
                Some(labels) => Problem::Logistic(
                    LogisticProblem::builder(data.x.as_ref(), labels)
                        .lambda(lambda)
                        .intercept(data.intercept)
                        .build()?,
                ),
            })
        };
        let problem = build()?;
        let dataset = if group.lambda.len() > 1 {
            format!("{}-l{lambda}", data.name)
        } else {
            data.name.clone()
        };
        self.bar.set_message(dataset.clone());
        let reference = match &problem {
            Problem::Ridge(_) => problem
                .solve(solvers::by_name("qr-refined", &SolverOptions::default())?.as_ref())
                .or_else(|_| {
                    problem.solve(solvers::by_name("svd", &SolverOptions::default())?.as_ref())
                })?,
            Problem::Logistic(_) => {
                problem.solve(solvers::by_name("newton", &SolverOptions::default())?.as_ref())?
            }
        };
        let optimum = Optimum::new(&problem, &reference);
        let warm_start = match (group.start, &problem) {
            (Start::Equalised, Problem::Ridge(p)) => match equalised_start(p, &optimum) {
                Ok(w) => Some(w),
                Err(e) => {
                    self.note(format!("{dataset}: cold start instead of equalised: {e}"));
                    None
                }
            },
            _ => None,
        };
        let template = Row {
            solver: String::new(),
            dataset: dataset.clone(),
            group: group.name.clone(),
            rep: 0,
            iteration: 0,
            time: 0.0,
            objective: f64::NAN,
            loss: group.loss.kind(),
            n: data.x.nrows(),
            d: data.x.ncols(),
            kappa: data.kappa,
            lambda,
            passes: 0.0,
            suboptimality: f64::NAN,
            rel_gradient: f64::NAN,
            rel_distance: f64::NAN,
            last: true,
            stop: String::new(),
            direct: true,
        };
        let registry = Registry::builtin();
        for name in &group.solvers {
            let info = *registry.get(name)?;
            let options = SolverOptions {
                tol: group.tol,
                max_iter: group.max_iter,
                time_limit: group.time_limit.or(self.suite.time_limit),
                warm_start: warm_start.clone(),
                ..SolverOptions::default()
            };
            let row = Row {
                solver: name.clone(),
                direct: info.kind == SolverKind::Direct,
                ..template.clone()
            };
            let outcome = if info.kind == SolverKind::Direct {
                self.run_direct(&info, &options, &build, &problem, &optimum, &row)
            } else {
                self.run_iterative(&info, &options, &build, &problem, &optimum, &row)
            };
            if let Err(e) = outcome {
                self.note(format!("{dataset}: {name}: {e}"));
            }
        }
        Ok(())
    }

    /// `build` makes a fresh problem for each run; `problem` is the one runs are judged on.
    fn run_direct<'a>(
        &mut self,
        info: &solvers::SolverInfo,
        options: &SolverOptions,
        build: &dyn Fn() -> Result<Problem<'a>, Error>,
        problem: &Problem<'_>,
        optimum: &Optimum,
        row: &Row,
    ) -> Result<(), Error> {
        self.bar.inc(1); // no pilot
        let solver = info.build_applicable(options)?;
        for rep in 0..self.repeats {
            let fit = build()?.solve(solver.as_ref());
            self.bar.inc(1);
            let fit = fit?;
            let (gap, distance) = optimum.judge(problem, fit.coef.as_ref(), fit.intercept);
            self.results.rows.push(Row {
                rep,
                iteration: fit.iterations,
                time: fit.fit_seconds,
                objective: fit.objective,
                passes: fit.passes,
                suboptimality: gap,
                rel_gradient: relative(fit.gradient_norm, optimum.cold_gradient),
                rel_distance: distance,
                stop: stop_name(&fit),
                ..row.clone()
            });
        }
        Ok(())
    }

    fn run_iterative<'a>(
        &mut self,
        info: &solvers::SolverInfo,
        options: &SolverOptions,
        build: &dyn Fn() -> Result<Problem<'a>, Error>,
        problem: &Problem<'_>,
        optimum: &Optimum,
        row: &Row,
    ) -> Result<(), Error> {
        // The pilot: unrecorded; its iterations set the cadence, its time is the baseline.
        let pilot = build()?.solve(info.build_applicable(options)?.as_ref());
        self.bar.inc(1);
        let pilot = pilot?;
        let cadence = pilot.iterations.div_ceil(self.suite.points).max(1);
        let mut recorded_times = Vec::new();
        let mut steps = 0;
        for rep in 0..self.repeats {
            let kept: Kept = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&kept);
            let observer = ObserverOption(Arc::new(move |o: &Observation<'_>| {
                // A copy of θ and of the record, nothing else: the metrics are computed after
                // the run. A poisoned lock (a panic elsewhere) only loses this step.
                if let Ok(mut v) = sink.lock() {
                    v.push((*o.record, o.theta.iter().copied().collect()));
                }
                std::ops::ControlFlow::Continue(())
            }));
            let recording = SolverOptions {
                record_every: cadence,
                observer: Some(observer),
                ..options.clone()
            };
            let fit = build()?.solve(info.build_applicable(&recording)?.as_ref());
            self.bar.inc(1);
            let fit = fit?;
            let kept = std::mem::take(&mut *kept.lock().unwrap_or_else(|e| e.into_inner()));
            // The driver calls the observer again at the last step when it was already due.
            let mut seen = std::collections::BTreeSet::new();
            let kept: Vec<_> = kept
                .into_iter()
                .filter(|(r, _)| seen.insert(r.iteration))
                .collect();
            let last_iteration = kept.last().map(|(r, _)| r.iteration);
            if let Some((r, _)) = kept.last() {
                recorded_times.push(r.seconds);
            }
            steps = kept.len();
            let stop = stop_name(&fit);
            for (record, theta) in kept {
                let (w, b) = Optimum::split(problem, &theta);
                let (gap, distance) = optimum.judge(problem, w.as_ref(), b);
                self.results.rows.push(Row {
                    rep,
                    iteration: record.iteration,
                    time: record.seconds,
                    objective: record.objective,
                    passes: record.passes,
                    suboptimality: gap,
                    rel_gradient: record.residual,
                    rel_distance: distance,
                    last: Some(record.iteration) == last_iteration,
                    stop: stop.clone(),
                    ..row.clone()
                });
            }
        }
        self.results.overhead.push(Overhead {
            dataset: row.dataset.clone(),
            solver: row.solver.clone(),
            unrecorded: pilot.fit_seconds,
            recorded: median(&mut recorded_times),
            cadence,
            steps,
        });
        Ok(())
    }
}

/// w₀ = w* − H⁻¹·c𝟙 with H = XcᵀSXc/S + λI and c = ‖∇J(0)‖/√d (see [`Start::Equalised`]).
fn equalised_start(p: &RidgeProblem<'_>, optimum: &Optimum) -> Result<Vec<f64>, Error> {
    let d = p.n_features();
    let h = p.moments().xx_symmetric() * faer::Scale(1.0 / p.weight_sum())
        + Mat::<f64>::identity(d, d) * faer::Scale(p.lambda());
    let llt = h.llt(faer::Side::Lower).map_err(|_| {
        Error::invalid(
            "start",
            "equalised",
            "a design whose Hessian is positive definite (full column rank, or λ > 0)",
        )
    })?;
    let c = optimum.cold_gradient / (d as f64).sqrt();
    let e = llt.solve(Mat::<f64>::from_fn(d, 1, |_, _| c).as_ref());
    Ok((0..d).map(|j| optimum.coef[j] - e[(j, 0)]).collect())
}

fn relative(x: f64, reference: f64) -> f64 {
    if reference > 0.0 { x / reference } else { x }
}

fn stop_name(fit: &Fit) -> String {
    serde_json::to_value(fit.stop)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The median (NaN for none); sorts `v`.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

// ---------------------------------------------------------------------------------------------
// Scaling laws
// ---------------------------------------------------------------------------------------------

/// A least-squares fit y = Σⱼ βⱼ·xⱼ + c with 95 % confidence half-widths.
#[derive(Debug, Clone)]
pub struct LinearFit {
    pub coef: Vec<f64>,
    pub intercept: f64,
    /// t₀.₉₇₅(m − p − 1)·√(s²·[(XcᵀXc)⁻¹]ⱼⱼ); NaN without residual degrees of freedom.
    pub half_width: Vec<f64>,
    /// m − p − 1.
    pub dof: usize,
}

/// Fits y = Σⱼ βⱼ·columns[j] + c by least squares, through this crate: a [`RidgeProblem`] at
/// λ = 0 with an intercept, solved by `qr` (the columns here are logarithms of a few sizes, so
/// κ is small and QR's error is at the rounding level). The confidence intervals are the
/// textbook ones for Gaussian errors: s² = RSS/(m − p − 1), Cov β = s²·(XcᵀXc)⁻¹ (Xc the centred
/// columns, the intercept eliminated), half-width t₀.₉₇₅(m − p − 1)·√Cov_jj.
pub fn power_law(columns: &[Vec<f64>], y: &[f64]) -> Result<LinearFit, Error> {
    let (m, p) = (y.len(), columns.len());
    let x = Mat::from_fn(m, p, |i, j| columns[j][i]);
    let yv = Col::from_fn(m, |i| y[i]);
    let problem = RidgeProblem::builder(x.as_ref(), yv.as_ref())
        .lambda(0.0)
        .build()?;
    let fit = solvers::Qr.solve(&problem)?;
    let residuals = problem.residuals(fit.coef.as_ref(), fit.intercept);
    let rss = residuals.squared_norm_l2();
    let dof = m.saturating_sub(p + 1);
    let half_width = if dof == 0 {
        vec![f64::NAN; p]
    } else {
        let s2 = rss / dof as f64;
        let xtx = problem.moments().xx_symmetric();
        let inverse = xtx
            .llt(faer::Side::Lower)
            .map(|l| l.solve(Mat::<f64>::identity(p, p).as_ref()))
            .map_err(|_| Error::invalid("scaling law", "a degenerate design", "distinct sizes"))?;
        (0..p)
            .map(|j| t_975(dof) * (s2 * inverse[(j, j)]).sqrt())
            .collect()
    };
    Ok(LinearFit {
        coef: fit.coef.iter().copied().collect(),
        intercept: fit.intercept,
        half_width,
        dof,
    })
}

/// The 0.975 quantile of Student's t with `dof` degrees of freedom: the table to 30, then the
/// Cornish–Fisher expansion in 1/ν about the normal quantile (error < 1e-5 from ν = 30).
pub fn t_975(dof: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706_204_736,
        4.302_652_730,
        3.182_446_305,
        2.776_445_105,
        2.570_581_836,
        2.446_911_851,
        2.364_624_252,
        2.306_004_135,
        2.262_157_163,
        2.228_138_852,
        2.200_985_160,
        2.178_812_830,
        2.160_368_656,
        2.144_786_688,
        2.131_449_546,
        2.119_905_299,
        2.109_815_578,
        2.100_922_040,
        2.093_024_054,
        2.085_963_447,
        2.079_613_845,
        2.073_873_068,
        2.068_657_610,
        2.063_898_562,
        2.059_538_553,
        2.055_529_439,
        2.051_830_516,
        2.048_407_142,
        2.045_229_642,
        2.042_272_456,
    ];
    if dof == 0 {
        return f64::NAN;
    }
    if let Some(t) = TABLE.get(dof - 1) {
        return *t;
    }
    let z: f64 = 1.959_963_984_540_054;
    let nu = dof as f64;
    let (z3, z5, z7) = (z.powi(3), z.powi(5), z.powi(7));
    z + (z3 + z) / (4.0 * nu)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * nu * nu)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * nu.powi(3))
}

/// One fitted law of one (group, backend).
#[derive(Debug, Clone)]
pub struct Law {
    pub group: String,
    pub solver: String,
    /// "time" (log time against log n, log d) or "iterations" (log iterations against log κ).
    pub law: &'static str,
    /// The predictors' names ("n", "d", "kappa"), in the order of `fit.coef`.
    pub predictors: Vec<&'static str>,
    pub fit: LinearFit,
    /// The theory's exponent of each predictor, where there is one.
    pub theory: Vec<Option<f64>>,
    /// The points fitted: (predictor values, y), medians over repeats.
    pub points: Vec<(Vec<f64>, f64)>,
    /// The fixed sizes the other plot axis is drawn at: (n, d) medians.
    pub at: (f64, f64),
}

/// The exponents the theory gives for `law` of backend `solver`, in the order of `predictors`.
///
/// Time: the direct backends factor a d × d system after an n·d² pass (time ∝ n·d²); `dual`
/// factors the n × n kernel after an n²·d product (∝ n²·d); a first-order backend costs n·d per
/// pass, and at fixed κ its iteration count does not grow with n or d (∝ n·d). Iterations
/// against κ = κ(Xc), with κ_H = κ² at λ = 0: gd and cd ∝ κ_H = κ², agd and cg (and pcg, whose
/// Jacobi scaling leaves the random-rotation designs of `Synthetic` as they are) ∝ √κ_H = κ.
/// lbfgs, newton and the stochastic methods have no such law here.
fn theory(law: &str, solver: &str, predictor: &str) -> Option<f64> {
    let direct = [
        "auto",
        "qr",
        "qr-refined",
        "svd",
        "cholesky",
        "cholesky-refined",
        "normal",
    ];
    let first_order = ["gd", "agd", "cg", "pcg", "lbfgs", "cd"];
    match (law, predictor) {
        ("time", "n") if direct.contains(&solver) || first_order.contains(&solver) => Some(1.0),
        ("time", "d") if direct.contains(&solver) => Some(2.0),
        ("time", "d") if first_order.contains(&solver) => Some(1.0),
        ("time", "n") if solver == "dual" => Some(2.0),
        ("time", "d") if solver == "dual" => Some(1.0),
        ("iterations", "kappa") => match solver {
            "gd" | "cd" => Some(2.0),
            "agd" | "cg" | "pcg" => Some(1.0),
            _ => None,
        },
        _ => None,
    }
}

/// The laws the results support: per group whose only varying sizes are n and d (time), or κ
/// (iterations), per backend with at least one residual degree of freedom, from the medians
/// over repeats of the runs that converged (or were solved).
pub fn fit_laws(rows: &[Row]) -> Vec<Law> {
    let finals: Vec<&Row> = rows
        .iter()
        .filter(|r| r.last && (r.stop == "converged" || r.stop == "solved"))
        .collect();
    let mut groups: Vec<&str> = Vec::new();
    for r in &finals {
        if !groups.contains(&r.group.as_str()) {
            groups.push(&r.group);
        }
    }
    let mut laws = Vec::new();
    for group in groups {
        let in_group: Vec<&&Row> = finals.iter().filter(|r| r.group == group).collect();
        let distinct = |f: &dyn Fn(&Row) -> f64| {
            let mut v: Vec<f64> = in_group.iter().map(|r| f(r)).collect();
            v.sort_by(f64::total_cmp);
            v.dedup();
            v
        };
        let ns = distinct(&|r| r.n as f64);
        let ds = distinct(&|r| r.d as f64);
        let kappas = distinct(&|r| r.kappa.unwrap_or(f64::NAN));
        let lambdas = distinct(&|r| r.lambda);
        let at = (ns[ns.len() / 2], ds[ds.len() / 2]);
        let mut solvers: Vec<&str> = Vec::new();
        for r in &in_group {
            if !solvers.contains(&r.solver.as_str()) {
                solvers.push(&r.solver);
            }
        }
        let (law, predictors): (&'static str, Vec<&'static str>) =
            if kappas.len() >= 3 && ns.len() == 1 && ds.len() == 1 && lambdas.len() == 1 {
                ("iterations", vec!["kappa"])
            } else if kappas.len() <= 1 && lambdas.len() == 1 && (ns.len() >= 3 || ds.len() >= 3) {
                let mut p = Vec::new();
                if ns.len() > 1 {
                    p.push("n");
                }
                if ds.len() > 1 {
                    p.push("d");
                }
                ("time", p)
            } else {
                continue;
            };
        for solver in solvers {
            if law == "iterations" && in_group.iter().any(|r| r.solver == solver && r.direct) {
                continue;
            }
            // Medians over repeats at each grid point.
            let mut cells: BTreeMap<Vec<u64>, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
            for r in in_group.iter().filter(|r| r.solver == solver) {
                let values: Vec<f64> = predictors
                    .iter()
                    .map(|p| match *p {
                        "n" => r.n as f64,
                        "d" => r.d as f64,
                        _ => r.kappa.unwrap_or(f64::NAN),
                    })
                    .collect();
                let y = if law == "time" {
                    r.time
                } else {
                    r.iteration as f64
                };
                let key = values.iter().map(|v| v.to_bits()).collect();
                cells.entry(key).or_insert((values, Vec::new())).1.push(y);
            }
            let points: Vec<(Vec<f64>, f64)> = cells
                .into_values()
                .map(|(x, mut ys)| (x, median(&mut ys)))
                .filter(|(_, y)| *y > 0.0)
                .collect();
            if points.len() < predictors.len() + 2 {
                continue;
            }
            let columns: Vec<Vec<f64>> = (0..predictors.len())
                .map(|j| points.iter().map(|(x, _)| x[j].ln()).collect())
                .collect();
            let ys: Vec<f64> = points.iter().map(|(_, y)| y.ln()).collect();
            let Ok(fit) = power_law(&columns, &ys) else {
                continue;
            };
            laws.push(Law {
                group: group.to_owned(),
                solver: solver.to_owned(),
                law,
                theory: predictors.iter().map(|p| theory(law, solver, p)).collect(),
                predictors: predictors.clone(),
                fit,
                points,
                at,
            });
        }
    }
    laws
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

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

/// The columns of `results.csv`: benchopt's names first, then ours.
pub const COLUMNS: &[&str] = &[
    "solver_name",
    "dataset_name",
    "objective_value",
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

fn write_csv(path: &Path, rows: &[Row]) -> Result<(), Error> {
    let mut s = COLUMNS.join(",");
    s.push('\n');
    for r in rows {
        let fields = [
            r.solver.clone(),
            r.dataset.clone(),
            cell(r.objective),
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

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// The machine, versions, commit, command and date, for `meta.json`.
fn meta(suite: &Suite, repeats: usize, seconds: f64, overhead: &OverheadSummary) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, m)| m.trim().to_owned());
    let processors = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024);
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "HEAD"]);
    let dirty = commit
        .as_ref()
        .and_then(|_| git(&["status", "--porcelain", "--untracked-files=no"]))
        .map(|s| !s.is_empty());
    json!({
        "suite": suite.name,
        "repeats": repeats,
        "points": suite.points,
        "machine": {
            "cpu_model": cpu,
            "cores": std::thread::available_parallelism().map(|n| n.get()).ok(),
            "processors_in_cpuinfo": processors,
            "memory_bytes": memory,
            "rayon_threads": rayon_threads(),
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
        },
        "tikhonov_version": env!("CARGO_PKG_VERSION"),
        "git_commit": commit,
        "git_dirty": dirty,
        "command": command_line(),
        "date": utc_now(),
        "seconds": seconds,
        "recording_overhead": {
            "median": overhead.median,
            "runs": overhead.runs,
            "min_unrecorded_seconds": OVERHEAD_MIN_SECONDS,
        },
    })
}

fn rayon_threads() -> usize {
    // The thread count faer's and the crate's parallel loops use (RAYON_NUM_THREADS, else cores).
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The exact command line, each argument quoted for a POSIX shell where it needs it.
fn command_line() -> String {
    std::env::args_os()
        .map(|a| {
            let a = a.to_string_lossy().into_owned();
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Now in UTC, ISO 8601 to the second (days to a civil date: H. Hinnant's algorithm).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Runs shorter than this (unrecorded) are left out of the overhead figure: their times are
/// dominated by timer and scheduling noise on a shared machine.
const OVERHEAD_MIN_SECONDS: f64 = 0.05;

/// The recording overhead over the runs long enough to measure it.
pub struct OverheadSummary {
    /// Median of recorded/unrecorded − 1.
    pub median: f64,
    pub runs: usize,
}

fn summarise_overhead(overhead: &[Overhead]) -> OverheadSummary {
    let mut ratios: Vec<f64> = overhead
        .iter()
        .filter(|o| o.unrecorded >= OVERHEAD_MIN_SECONDS && o.recorded.is_finite())
        .map(|o| o.recorded / o.unrecorded - 1.0)
        .collect();
    OverheadSummary {
        runs: ratios.len(),
        median: median(&mut ratios),
    }
}

/// `tikhonov bench`.
pub fn run_bench(args: &BenchArgs, out: &mut Output) -> Result<(), Error> {
    let started = Instant::now();
    let (suite, base) = match &args.suite {
        Some(path) => (
            read_suite(path)?,
            path.parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        ),
        None => {
            let path = default_suite_dir().join("default.toml");
            let suite: Suite = toml::from_str(DEFAULT_SUITE).map_err(|e| Error::Format {
                path: path.clone(),
                location: None,
                message: format!("the built-in suite does not parse: {}", e.message()),
            })?;
            validate(&suite, &path)?;
            (suite, default_suite_dir())
        }
    };
    let repeats = args
        .repeats
        .map_or(suite.repeats, |r| usize::try_from(r).unwrap_or(usize::MAX));
    let plots = args.out.join("plots");
    std::fs::create_dir_all(&plots).map_err(|source| Error::Io {
        path: plots.clone(),
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
    let meta = meta(&suite, repeats, seconds, &overhead);
    let meta_text = serde_json::to_string_pretty(&meta).unwrap_or_default();
    write_file(&args.out.join("meta.json"), meta_text.as_bytes())?;
    write_file(&args.out.join("scaling.csv"), scaling_csv(&laws).as_bytes())?;
    write_file(
        &args.out.join("overhead.csv"),
        overhead_csv(&results.overhead).as_bytes(),
    )?;
    let figures = bench_plot::draw_all(&plots, &results.rows, &laws)?;
    let report = report(&suite, &meta, &results, &laws, &overhead, &figures);
    write_file(&args.out.join("index.md"), report.as_bytes())?;

    let _ = writeln!(
        out.stdout,
        "wrote {} ({} rows), meta.json, scaling.csv, overhead.csv, index.md and {} plots in {} ({:.0} s)",
        args.out.join("results.csv").display(),
        results.rows.len(),
        figures.len(),
        plots.display(),
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
    Ok(())
}

/// One row per iterative (problem, backend): the pilot's unrecorded time, the median recorded
/// time, the cadence and the steps recorded.
fn overhead_csv(overhead: &[Overhead]) -> String {
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

fn scaling_csv(laws: &[Law]) -> String {
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
fn laws_table(laws: &[Law], markdown: bool) -> String {
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
fn report(
    suite: &Suite,
    meta: &Value,
    results: &Results,
    laws: &[Law],
    overhead: &OverheadSummary,
    figures: &[bench_plot::Figure],
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
    let mut datasets: Vec<&str> = Vec::new();
    for r in &results.rows {
        if !datasets.contains(&r.dataset.as_str()) {
            datasets.push(&r.dataset);
        }
    }
    for dataset in datasets {
        let rows: Vec<&Row> = results
            .rows
            .iter()
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
        s.push_str(
            "| backend | time (median) | iterations | passes | suboptimality | ‖w − w*‖/‖w*‖ | stop |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | --- |\n",
        );
        let mut solvers: Vec<&str> = Vec::new();
        for r in &rows {
            if !solvers.contains(&r.solver.as_str()) {
                solvers.push(&r.solver);
            }
        }
        for solver in solvers {
            let runs: Vec<&&Row> = rows.iter().filter(|r| r.solver == solver).collect();
            let mut times: Vec<f64> = runs.iter().map(|r| r.time).collect();
            let r = runs[0];
            let _ = writeln!(
                s,
                "| `{solver}` | {:.3e} s | {} | {:.1} | {:.2e} | {:.2e} | {} |",
                median(&mut times),
                r.iteration,
                r.passes,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_law_recovers_exact_exponents() {
        // time = 3e-9 · n^1.0 · d^2.0 on a 3 × 3 grid: the slopes come back to 1e-10 and the
        // confidence intervals collapse (the residuals are rounding).
        let mut cols = vec![Vec::new(), Vec::new()];
        let mut y = Vec::new();
        for n in [1000.0f64, 4000.0, 16000.0] {
            for d in [10.0f64, 40.0, 160.0] {
                cols[0].push(n.ln());
                cols[1].push(d.ln());
                y.push((3e-9 * n * d * d).ln());
            }
        }
        let fit = power_law(&cols, &y).unwrap();
        assert!((fit.coef[0] - 1.0).abs() < 1e-10, "{:?}", fit.coef);
        assert!((fit.coef[1] - 2.0).abs() < 1e-10, "{:?}", fit.coef);
        assert!((fit.intercept - 3e-9f64.ln()).abs() < 1e-9);
        assert_eq!(fit.dof, 6);
        assert!(
            fit.half_width.iter().all(|h| *h < 1e-10),
            "{:?}",
            fit.half_width
        );
    }

    #[test]
    fn confidence_interval_is_the_textbook_one() {
        // y = 2x + e, x = 0..4, e = (0.1, −0.2, 0.1, 0.1, −0.1): by hand, Sxx = 10, the slope
        // is 2 + Σ(x − x̄)e/Sxx, s² = RSS/3, half-width t₀.₉₇₅(3)·√(s²/Sxx).
        let x: Vec<f64> = (0..5).map(f64::from).collect();
        let e = [0.1, -0.2, 0.1, 0.1, -0.1];
        let y: Vec<f64> = x.iter().zip(e).map(|(x, e)| 2.0 * x + e).collect();
        let fit = power_law(std::slice::from_ref(&x), &y).unwrap();
        let slope = 2.0 + x.iter().zip(e).map(|(x, e)| (x - 2.0) * e).sum::<f64>() / 10.0;
        let intercept = y.iter().sum::<f64>() / 5.0 - slope * 2.0;
        let rss: f64 = x
            .iter()
            .zip(&y)
            .map(|(x, y)| (y - slope * x - intercept).powi(2))
            .sum();
        let half = 3.182_446_305 * (rss / 3.0 / 10.0).sqrt();
        assert!((fit.coef[0] - slope).abs() < 1e-13);
        assert!(
            (fit.half_width[0] - half).abs() < 1e-12 * half,
            "{fit:?} vs {half}"
        );
    }

    #[test]
    fn t_quantiles_match_tables_beyond_thirty() {
        // R: qt(0.975, c(40, 60, 120, 1e6)).
        for (dof, t) in [
            (40, 2.021_075_390),
            (60, 2.000_297_822),
            (120, 1.979_930_405),
            (1_000_000, 1.959_966_),
        ] {
            assert!(
                (t_975(dof) - t).abs() < 2e-5,
                "{dof}: {} vs {t}",
                t_975(dof)
            );
        }
    }

    #[test]
    fn logistic_bregman_divergence_is_accurate_where_the_difference_cancels() {
        // D(m, m*) ≈ ½·φ''(m*)·δ² for small δ; the plain difference loses every digit there.
        for m_star in [-30.0, -2.0, 0.0, 0.7, 5.0, 40.0] {
            // δ as the difference of the two f64 margins, which is exact (Sterbenz).
            let m = m_star + 1e-9;
            let delta = m - m_star;
            let e = (-f64::abs(m_star)).exp();
            let curvature = e / ((1.0 + e) * (1.0 + e));
            let d = bregman_logistic(m, m_star);
            assert!(
                (d / (0.5 * curvature * delta * delta) - 1.0).abs() < 1e-8,
                "{m_star}: {d}"
            );
        }
        // Away from m*, both branches agree with the definition at the switch.
        let direct = |m: f64, ms: f64| {
            let phi = tikhonov::loss::log1p_exp_neg;
            phi(m) - phi(ms) + tikhonov::loss::sigmoid(-ms) * (m - ms)
        };
        for (m, ms) in [(1.0, 0.0), (0.3, -0.7), (3.0, 2.0)] {
            let (a, b) = (bregman_logistic(m, ms), direct(m, ms));
            assert!((a - b).abs() < 1e-14, "{a} vs {b}");
        }
    }

    #[test]
    fn the_built_in_and_example_suites_parse_and_validate() {
        let suite: Suite = toml::from_str(DEFAULT_SUITE).unwrap();
        validate(&suite, Path::new("default.toml")).unwrap();
        read_suite(&default_suite_dir().join("small.toml")).unwrap();
    }

    #[test]
    fn utc_dates_are_iso_8601() {
        let now = utc_now();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
    }
}
