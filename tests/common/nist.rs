//! Loader for the NIST StRD linear least-squares datasets in `tests/data/nist-strd/` and the log
//! relative error (LRE) used to score a fit against NIST's certified values.
//!
//! Shared by `tests/nist.rs` (as `mod common;`) and `examples/nist_lre.rs` (through
//! `#[path = "../tests/common/nist.rs"]`), so both read the data the same way.
//!
//! The `.dat` files are NIST's originals (CRLF). Their header states 1-based line ranges, e.g.
//! `Certified Values (lines 31 to 51)` and `Data (lines 61 to 76)`; the loader parses the numbers
//! by whitespace inside those ranges only. It checks the data against the header (observation
//! count, one `y` plus the predictors per row) and the certified estimates in the `.dat` file
//! against `certified.json`, so a corrupted or mis-parsed file is an error, not a wrong test.

// Each user of this module uses a different part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use faer::{Col, Mat};
use serde::Deserialize;
use tikhonov::{Fit, RidgeProblem};

/// The 11 datasets, in the order of NIST's collection page (lower, average, higher difficulty).
pub const NAMES: [&str; 11] = [
    "Norris", "Pontius", "NoInt1", "NoInt2", "Filip", "Longley", "Wampler1", "Wampler2",
    "Wampler3", "Wampler4", "Wampler5",
];

/// The exact least-squares solution of the design as rounded to f64, from `nist_exact.json`
/// (written by `nist_exact.py`, rational arithmetic): the best any f64 solver can return.
#[derive(Debug, Clone, Deserialize)]
pub struct Exact {
    /// Its minimum LRE against NIST's certified values: the accuracy ceiling of the dataset.
    pub exact_lre: f64,
    /// The solution B0..Bk (or B1 alone), rounded to the nearest f64, as decimal strings.
    pub beta: Vec<String>,
}

/// `nist_exact.json`, keyed by dataset name.
pub fn exact_table() -> Result<BTreeMap<String, Exact>, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/nist_exact.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// LRE cap: NIST prints 15 significant digits.
pub const LRE_CAP: f64 = 15.0;

/// The folder holding the `.dat` files and `certified.json`.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nist-strd")
}

/// One entry of `certified.json` (the fields the loader needs).
#[derive(Debug, Clone, Deserialize)]
pub struct Certified {
    /// The `.dat` file name.
    pub file: String,
    /// Number of observations.
    pub n_obs: usize,
    /// Whether the model has an intercept B0.
    pub intercept: bool,
    /// Polynomial degree (line and polynomial models).
    pub degree: Option<usize>,
    /// Number of predictor columns (Longley).
    pub predictors: Option<usize>,
    /// Number of parameters (B0..Bk, or B1 alone without intercept).
    pub n_params: usize,
    /// NIST difficulty: "lower", "average" or "higher".
    pub difficulty: String,
    /// Certified estimates as NIST prints them, B0..Bk (or only B1).
    pub certified_beta: Vec<String>,
    /// Certified standard deviations of the estimates.
    pub certified_sd: Vec<String>,
}

/// A dataset ready to fit: the design NIST's model describes, y, and the certified estimates.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// NIST's name, e.g. "Filip".
    pub name: String,
    /// The design without the intercept column: x, x², …, x^degree for the polynomial models
    /// (powers by repeated multiplication in f64), the 6 predictors for Longley.
    pub x: Mat<f64>,
    /// The response.
    pub y: Col<f64>,
    /// Whether the model has an intercept (false for NoInt1, NoInt2).
    pub intercept: bool,
    /// Certified estimates B0..Bk, or only B1 without intercept.
    pub certified: Vec<f64>,
    /// NIST difficulty: "lower", "average" or "higher".
    pub difficulty: String,
    /// The exact least-squares solution of this f64 design, same order as `certified`.
    pub exact: Vec<f64>,
    /// The LRE of `exact` against `certified`: no f64 solver can be expected to do better.
    pub ceiling: f64,
}

impl Dataset {
    /// The λ = 0 (ordinary least squares) problem, sequential kernels so results are reproducible.
    pub fn problem(&self) -> tikhonov::Result<RidgeProblem<'_>> {
        RidgeProblem::builder(self.x.as_ref(), self.y.as_ref())
            .lambda(0.0)
            .intercept(self.intercept)
            .par(faer::Par::Seq)
            .build()
    }

    /// The fitted parameters in NIST's order: intercept first (when the model has one), then the
    /// coefficients B1..Bk.
    pub fn estimates(&self, fit: &Fit) -> Vec<f64> {
        let mut e = Vec::with_capacity(self.certified.len());
        if self.intercept {
            e.push(fit.intercept);
        }
        e.extend(fit.coef.iter().copied());
        e
    }

    /// The LRE of each parameter, in NIST's order.
    pub fn lres(&self, fit: &Fit) -> Vec<f64> {
        self.estimates(fit)
            .iter()
            .zip(&self.certified)
            .map(|(&e, &c)| lre(e, c))
            .collect()
    }

    /// The smallest LRE over all parameters: the number of digits the fit gets right everywhere.
    pub fn min_lre(&self, fit: &Fit) -> f64 {
        self.lres(fit).into_iter().fold(LRE_CAP, f64::min)
    }

    /// The smallest LRE over all parameters against the exact solution of the f64 design: how
    /// close the fit comes to the best an f64 solver can do.
    pub fn min_lre_vs_exact(&self, fit: &Fit) -> f64 {
        self.estimates(fit)
            .iter()
            .zip(&self.exact)
            .map(|(&e, &c)| lre(e, c))
            .fold(LRE_CAP, f64::min)
    }
}

/// Log relative error −log10(|e − c|/|c|), or the log absolute error −log10|e| when c = 0,
/// capped at [`LRE_CAP`] and floored at 0 (a non-finite estimate scores 0).
pub fn lre(estimate: f64, certified: f64) -> f64 {
    if !estimate.is_finite() {
        return 0.0;
    }
    let err = if certified == 0.0 {
        estimate.abs()
    } else {
        (estimate - certified).abs() / certified.abs()
    };
    if err == 0.0 {
        return LRE_CAP;
    }
    (-err.log10()).clamp(0.0, LRE_CAP)
}

/// `certified.json`, keyed by dataset name.
pub fn certified_table() -> Result<BTreeMap<String, Certified>, String> {
    let path = data_dir().join("certified.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Loads every dataset, in [`NAMES`] order.
pub fn load_all() -> Result<Vec<Dataset>, String> {
    let (table, exact) = (certified_table()?, exact_table()?);
    NAMES
        .iter()
        .map(|name| load_with(name, &table, &exact))
        .collect()
}

/// Loads one dataset by name.
pub fn load(name: &str) -> Result<Dataset, String> {
    load_with(name, &certified_table()?, &exact_table()?)
}

/// Parses `Label (lines a to b)` from the header: the 1-based, inclusive line range.
fn line_range(lines: &[&str], label: &str) -> Result<(usize, usize), String> {
    let line = lines
        .iter()
        .take(30)
        .find(|l| l.trim_start().starts_with(label) && l.contains("(lines"))
        .ok_or_else(|| format!("no `{label} (lines a to b)` in the header"))?;
    let inner = line
        .split_once("(lines")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inner, _)| inner)
        .ok_or_else(|| format!("malformed line range: {line:?}"))?;
    let nums: Vec<&str> = inner.split_whitespace().collect();
    match nums.as_slice() {
        [a, "to", b] => {
            let a: usize = a.parse().map_err(|e| format!("{line:?}: {e}"))?;
            let b: usize = b.parse().map_err(|e| format!("{line:?}: {e}"))?;
            if a == 0 || b < a || b > lines.len() {
                return Err(format!(
                    "line range {a} to {b} does not fit a file of {} lines",
                    lines.len()
                ));
            }
            Ok((a, b))
        }
        _ => Err(format!("malformed line range: {line:?}")),
    }
}

/// The number in the header line `N Observations`.
fn header_observations(lines: &[&str]) -> Result<usize, String> {
    lines
        .iter()
        .take(30)
        .find_map(|l| {
            let mut it = l.split_whitespace().rev();
            match (it.next(), it.next()) {
                (Some("Observations"), Some(n)) => n.parse().ok(),
                _ => None,
            }
        })
        .ok_or_else(|| "no `N Observations` line in the header".to_owned())
}

fn parse_f64(s: &str, where_: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .map_err(|e| format!("{where_}: cannot parse `{s}` as a number: {e}"))
}

fn load_with(
    name: &str,
    table: &BTreeMap<String, Certified>,
    exact: &BTreeMap<String, Exact>,
) -> Result<Dataset, String> {
    let cert = table
        .get(name)
        .ok_or_else(|| format!("certified.json has no entry `{name}`"))?;
    let exact = exact
        .get(name)
        .ok_or_else(|| format!("nist_exact.json has no entry `{name}`"))?;
    let exact_beta: Vec<f64> = exact
        .beta
        .iter()
        .map(|s| parse_f64(s, "nist_exact.json"))
        .collect::<Result<_, _>>()?;
    if exact_beta.len() != cert.n_params {
        return Err(format!(
            "nist_exact.json: {name} has {} parameters, certified.json {}",
            exact_beta.len(),
            cert.n_params
        ));
    }
    let path = data_dir().join(&cert.file);
    let err = |msg: String| format!("{}: {msg}", path.display());
    let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
    // `lines()` strips both "\n" and "\r\n".
    let lines: Vec<&str> = text.lines().collect();

    let n_pred = match (cert.degree, cert.predictors) {
        (Some(_), None) => 1,
        (None, Some(p)) => p,
        _ => {
            return Err(err(
                "certified.json must give exactly one of degree, predictors".into(),
            ));
        }
    };
    let n_cols = cert.degree.unwrap_or(n_pred);
    let n_params = n_cols + usize::from(cert.intercept);
    if cert.n_params != n_params || cert.certified_beta.len() != n_params {
        return Err(err(format!(
            "certified.json: n_params {} and {} certified estimates, but the model has {n_params}",
            cert.n_params,
            cert.certified_beta.len()
        )));
    }

    // Data block: one row per line, y then the predictors.
    let (d0, d1) = line_range(&lines, "Data").map_err(err)?;
    let mut y = Vec::new();
    let mut raw = Vec::new(); // row-major predictors
    for (k, line) in lines[d0 - 1..d1].iter().enumerate() {
        let at = format!("line {}", d0 + k);
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() != 1 + n_pred {
            return Err(err(format!(
                "{at}: {} fields, expected y and {n_pred} predictor(s)",
                fields.len()
            )));
        }
        y.push(parse_f64(fields[0], &at).map_err(err)?);
        for f in &fields[1..] {
            raw.push(parse_f64(f, &at).map_err(err)?);
        }
    }
    let n = y.len();
    let declared = header_observations(&lines).map_err(err)?;
    if n != declared || n != cert.n_obs {
        return Err(err(format!(
            "{n} data rows, header says {declared} observations, certified.json says {}",
            cert.n_obs
        )));
    }

    // Certified block: lines `Bk  estimate  sd`; compare the estimates with certified.json.
    let (c0, c1) = line_range(&lines, "Certified Values").map_err(err)?;
    let in_dat: Vec<(usize, f64)> = lines[c0 - 1..c1]
        .iter()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let k = f.first()?.strip_prefix('B')?.parse::<usize>().ok()?;
            Some((k, f.get(1)?.parse::<f64>().ok()?))
        })
        .collect();
    let certified: Vec<f64> = cert
        .certified_beta
        .iter()
        .map(|s| parse_f64(s, "certified.json"))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    let first = usize::from(!cert.intercept); // B1 alone when there is no intercept
    let expected: Vec<(usize, f64)> = certified
        .iter()
        .enumerate()
        .map(|(i, &c)| (first + i, c))
        .collect();
    if in_dat != expected {
        return Err(err(format!(
            "certified estimates in the file {in_dat:?} differ from certified.json {expected:?}"
        )));
    }

    let x = match cert.degree {
        // Columns x, x², …, x^degree, each power formed as ((x·x)·x)·… in f64.
        Some(degree) => Mat::from_fn(n, degree, |i, j| {
            let t = raw[i];
            (0..j).fold(t, |p, _| p * t)
        }),
        None => Mat::from_fn(n, n_pred, |i, j| raw[i * n_pred + j]),
    };
    Ok(Dataset {
        name: name.to_owned(),
        x,
        y: Col::from_fn(n, |i| y[i]),
        intercept: cert.intercept,
        certified,
        difficulty: cert.difficulty.clone(),
        exact: exact_beta,
        ceiling: exact.exact_lre,
    })
}
