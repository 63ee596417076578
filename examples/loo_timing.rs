//! Times exact leave-one-out over a λ grid (`select::loo`) and prints one JSON object.
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo run --release --example loo_timing                  # synthetic
//! RAYON_NUM_THREADS=2 cargo run --release --example loo_timing -- --repeats 5
//! cargo run --release --example loo_timing -- --write DIR    # also writes X, y, λ, errors
//! cargo run --release --example loo_timing -- --x X.npy --y y.npy --lambdas l.npy
//! ```
//!
//! The problem is `Synthetic` (100 000 × 100, κ(Xc) = 100, seed 0, intercept) unless `--x/--y`
//! are given; the grid is the default 20-λ grid (`select::grid::default_lambdas`) unless
//! `--lambdas` is. Timed, per repeat: `LeaveOneOut::new` plus the `SameAlpha` curve (the
//! convention of scikit-learn's `RidgeCV`, for `scripts/sklearn_ridgecv_fixtures.py timing`,
//! which drives the comparison); data generation and loading are not timed. `--write DIR`
//! (needs the `npy` feature, on by default) writes X.npy, y.npy, lambdas.npy and
//! loo_squared_errors.npy (n × L, the SameAlpha squared LOO residuals) into DIR; nothing is
//! written otherwise.

use std::time::Instant;

use faer::{Col, Mat};
use tikhonov::data::Synthetic;
use tikhonov::select::grid::{default_lambdas, log_spaced};
use tikhonov::select::loo::{LeaveOneOut, LooConvention};
use tikhonov::{Error, Result, RidgeProblem};

#[derive(Default)]
struct Args {
    x: Option<String>,
    y: Option<String>,
    lambdas: Option<String>,
    write: Option<String>,
    repeats: usize,
}

fn parse() -> Result<Args> {
    let mut args = Args {
        repeats: 1,
        ..Args::default()
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| Error::invalid("arguments", &flag, "a value after every flag"))?;
        match flag.as_str() {
            "--x" => args.x = Some(value),
            "--y" => args.y = Some(value),
            "--lambdas" => args.lambdas = Some(value),
            "--write" => args.write = Some(value),
            "--repeats" => {
                args.repeats = value
                    .parse()
                    .map_err(|_| Error::invalid("--repeats", &value, "a positive integer"))?
            }
            _ => {
                return Err(Error::invalid(
                    "flag",
                    flag,
                    "--x, --y, --lambdas, --write or --repeats",
                ));
            }
        }
    }
    Ok(args)
}

#[cfg(feature = "npy")]
mod files {
    use super::*;
    use std::path::Path;
    use tikhonov::data::{read_npy_matrix, read_npy_vector, write_npy_matrix, write_npy_vector};

    pub fn load(x: &str, y: &str) -> Result<(Mat<f64>, Col<f64>)> {
        Ok((
            read_npy_matrix(Path::new(x))?,
            read_npy_vector(Path::new(y))?,
        ))
    }

    pub fn load_vector(path: &str) -> Result<Vec<f64>> {
        Ok(read_npy_vector(Path::new(path))?.iter().copied().collect())
    }

    pub fn write(
        dir: &str,
        x: &Mat<f64>,
        y: &Col<f64>,
        lambdas: &[f64],
        sq: &Mat<f64>,
    ) -> Result<()> {
        let dir = Path::new(dir);
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        write_npy_matrix(&dir.join("X.npy"), x.as_ref())?;
        write_npy_vector(&dir.join("y.npy"), y.as_ref())?;
        let l = Col::from_fn(lambdas.len(), |i| lambdas[i]);
        write_npy_vector(&dir.join("lambdas.npy"), l.as_ref())?;
        write_npy_matrix(&dir.join("loo_squared_errors.npy"), sq.as_ref())
    }
}

#[cfg(not(feature = "npy"))]
mod files {
    use super::*;

    fn needs_npy() -> Error {
        Error::invalid("files", "--x/--y/--lambdas/--write", "the `npy` feature")
    }
    pub fn load(_: &str, _: &str) -> Result<(Mat<f64>, Col<f64>)> {
        Err(needs_npy())
    }
    pub fn load_vector(_: &str) -> Result<Vec<f64>> {
        Err(needs_npy())
    }
    pub fn write(_: &str, _: &Mat<f64>, _: &Col<f64>, _: &[f64], _: &Mat<f64>) -> Result<()> {
        Err(needs_npy())
    }
}

fn main() -> Result<()> {
    let args = parse()?;
    let (x, y) = match (&args.x, &args.y) {
        (Some(x), Some(y)) => files::load(x, y)?,
        _ => {
            let s = Synthetic {
                n_samples: 100_000,
                n_features: 100,
                condition: 100.0,
                seed: 0,
                ..Synthetic::default()
            }
            .generate()?;
            (s.x, s.y)
        }
    };
    let problem = RidgeProblem::builder(x.as_ref(), y.as_ref()).build()?;
    let lambdas = match &args.lambdas {
        Some(path) => files::load_vector(path)?,
        None => {
            let d = default_lambdas(&problem, 2)?;
            log_spaced(d[0], d[1] * 1e-4, 20)
        }
    };

    let mut seconds = Vec::new();
    let mut decompose = Vec::new();
    let mut last = None;
    for _ in 0..args.repeats.max(1) {
        let start = Instant::now();
        let loo = LeaveOneOut::new(&problem)?.with_convention(LooConvention::SameAlpha);
        decompose.push(start.elapsed().as_secs_f64());
        let curve = loo.curve(&lambdas)?;
        seconds.push(start.elapsed().as_secs_f64());
        last = Some((loo, curve));
    }
    // The loop ran at least once (repeats.max(1)).
    let (loo, curve) = last.expect("at least one repeat");
    let ours = loo
        .clone()
        .with_convention(LooConvention::SameLambda)
        .curve(&lambdas)?;
    if let Some(dir) = &args.write {
        let e = loo.target_residual_matrix(0, &lambdas)?;
        let sq = Mat::from_fn(e.nrows(), e.ncols(), |i, j| e[(i, j)] * e[(i, j)]);
        files::write(dir, &x, &y, &lambdas, &sq)?;
    }
    let list = |v: &[f64]| {
        v.iter()
            .map(|s| format!("{s:e}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{{\"n\": {}, \"d\": {}, \"threads\": {}, \"repeats\": {}, \"seconds\": {:e}, \
         \"all_seconds\": [{}], \"decompose_seconds\": [{}], \"lambdas\": [{}], \
         \"lambda_min_same_alpha\": {:e}, \"lambda_min\": {:e}, \"rank\": {}, \
         \"loo_mean_same_alpha\": [{}]}}",
        x.nrows(),
        x.ncols(),
        rayon::current_num_threads(),
        seconds.len(),
        sorted[sorted.len() / 2],
        list(&seconds),
        list(&decompose),
        list(&lambdas),
        curve.lambda_min,
        ours.lambda_min,
        loo.rank(),
        list(&curve.mean)
    );
    Ok(())
}
