//! Measured scaling laws: log time = a·log n + b·log d + c and log iterations = e·log κ + f,
//! fitted by least squares through this crate's `qr` with 95 % confidence intervals, next to
//! the theory's exponents.

use std::collections::BTreeMap;

use faer::linalg::solvers::Solve as _;
use faer::{Col, Mat};
use tikhonov::solvers::{self, Solver};
use tikhonov::{Error, RidgeProblem};

use super::runs::{Row, distinct};

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
/// Jacobi scaling leaves the random-rotation designs of `Synthetic` as they are) ∝ √κ_H = κ;
/// sketch-cg ∝ κ⁰ (its sketch makes the preconditioned condition number ≈ 3 whatever κ), and its
/// time ∝ n (a sketch pass and n·d per iteration; in d its 10·d³ set-up competes with n·d, so
/// no single exponent). lbfgs, newton and the stochastic methods have no such law here.
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
        ("time", "n") if solver == "sketch-cg" => Some(1.0),
        ("time", "d") if solver == "dual" => Some(1.0),
        ("iterations", "kappa") => match solver {
            "gd" | "cd" => Some(2.0),
            "agd" | "cg" | "pcg" => Some(1.0),
            "sketch-cg" => Some(0.0),
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
    let groups = distinct(finals.iter().map(|r| r.group.as_str()));
    let mut laws = Vec::new();
    for group in groups {
        let in_group: Vec<&&Row> = finals.iter().filter(|r| r.group == group).collect();
        // The sorted distinct values of one parameter over the group.
        let values = |f: &dyn Fn(&Row) -> f64| {
            let mut v: Vec<f64> = in_group.iter().map(|r| f(r)).collect();
            v.sort_by(f64::total_cmp);
            v.dedup();
            v
        };
        let ns = values(&|r| r.n as f64);
        let ds = values(&|r| r.d as f64);
        let kappas = values(&|r| r.kappa.unwrap_or(f64::NAN));
        let lambdas = values(&|r| r.lambda);
        let at = (ns[ns.len() / 2], ds[ds.len() / 2]);
        let solvers = distinct(in_group.iter().map(|r| r.solver.as_str()));
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
}
