//! The suite file of `tikhonov bench` (TOML, or JSON): its fields, the checks serde cannot
//! express, and the built-in suite `benches/suites/default.toml` (`benches/suites/small.toml`
//! documents the format).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tikhonov::solvers::Registry;
use tikhonov::{Error, LossKind};

/// The built-in suite (`tikhonov bench` without `--suite`): about 5 minutes on 2 cores.
const DEFAULT_SUITE: &str = include_str!("../../../../benches/suites/default.toml");

/// The folder the built-in suite's relative paths start from: where the file lives in the
/// repository this binary was built from.
fn default_suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/suites")
}

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
    pub(super) fn kind(self) -> LossKind {
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
    /// Synthetic: seed of the data; CSV: seed of the test split's draw.
    #[serde(default)]
    pub seed: u64,
    /// The share f ∈ (0, 1) of all rows held out as a test split, on which every recorded step's
    /// held-out error is measured (`objective_test_loss`). Synthetic: n + n_test rows are drawn
    /// from the one generator (n_test = round(n·f/(1 − f)), so the grid's n stays the training
    /// size) and the last n_test are held out; CSV: round(f·N) of the N rows, drawn by a
    /// seeded shuffle (`seed`). Not for NIST data, which are certified whole.
    pub test_fraction: Option<f64>,
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
pub(super) enum SourceKind {
    Synthetic,
    Nist,
    Csv,
}

impl Group {
    pub(super) fn source(&self) -> SourceKind {
        if !self.nist.is_empty() {
            SourceKind::Nist
        } else if self.csv.is_some() {
            SourceKind::Csv
        } else {
            SourceKind::Synthetic
        }
    }

    /// The test rows a synthetic grid of `n` training rows draws besides them: round(n·f/(1 − f))
    /// for `test_fraction` f, so that they are the share f of all the rows drawn; 0 without.
    pub(super) fn synthetic_test_rows(&self, n: usize) -> usize {
        self.test_fraction
            .map_or(0, |f| (n as f64 * f / (1.0 - f)).round() as usize)
    }

    /// The data sources × λ: how many problems the group holds.
    pub(super) fn problems(&self) -> usize {
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

/// The suite at `path`, or the built-in one, and the folder its relative paths start from.
pub fn load(path: Option<&Path>) -> Result<(Suite, PathBuf), Error> {
    Ok(match path {
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
    })
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
    positive_seconds(suite.time_limit).map_err(|m| fail(None, m))?;
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
        positive_seconds(g.time_limit).map_err(fail)?;
        if let Some(f) = g.test_fraction {
            if !(f.is_finite() && f > 0.0 && f < 1.0) {
                return Err(fail(format!(
                    "test_fraction = {f}: give the held-out share of the rows strictly between 0 \
                     and 1, e.g. 0.2"
                )));
            }
            if !g.nist.is_empty() {
                return Err(fail(
                    "test_fraction is not for NIST data (certified whole); drop it from this group"
                        .into(),
                ));
            }
            if let Some(&n) = g.n.iter().find(|&&n| g.synthetic_test_rows(n) == 0) {
                return Err(fail(format!(
                    "test_fraction = {f} holds out no row at n = {n}; raise it above 1/(2n + 1) = {:.3e}",
                    1.0 / (2.0 * n as f64 + 1.0)
                )));
            }
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

/// A `time_limit` must be positive seconds when given; else the error's message.
fn positive_seconds(limit: Option<f64>) -> Result<(), String> {
    match limit {
        Some(t) if !(t.is_finite() && t > 0.0) => {
            Err(format!("time_limit = {t}: give positive seconds"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_and_example_suites_parse_and_validate() {
        let suite: Suite = toml::from_str(DEFAULT_SUITE).unwrap();
        validate(&suite, Path::new("default.toml")).unwrap();
        read_suite(&default_suite_dir().join("small.toml")).unwrap();
    }

    #[test]
    fn a_test_fraction_out_of_range_is_one_line_naming_the_group_and_the_fix() {
        let check = |extra: &str| {
            let text = format!(
                "name = \"s\"\n[[group]]\nname = \"g\"\nn = [10]\nd = [2]\nkappa = [10]\n\
                 solvers = [\"cg\"]\n{extra}"
            );
            let suite: Suite = toml::from_str(&text).unwrap();
            validate(&suite, Path::new("s.toml"))
                .err()
                .map(|e| e.to_string())
        };
        assert_eq!(check("test_fraction = 0.2\n"), None);
        for bad in [
            "test_fraction = 1.0\n",
            "test_fraction = 0.0\n",
            "test_fraction = -0.1\n",
        ] {
            let e = check(bad).unwrap();
            assert!(
                e.contains("group `g`")
                    && e.contains("strictly between 0 and 1")
                    && !e.contains('\n'),
                "{e}"
            );
        }
        // 10·0.01/0.99 rounds to no row.
        let e = check("test_fraction = 0.01\n").unwrap();
        assert!(e.contains("holds out no row at n = 10"), "{e}");
    }
}
