//! A library user's program: build a ridge problem from row-major slices, solve it with two
//! backends chosen by name, check that they agree, and handle the fit through faer types named
//! as `tikhonov::faer` (this crate does not depend on faer itself).

use std::process::ExitCode;

use tikhonov::faer::{Col, MatRef};
use tikhonov::solvers::{self, SolverOptions};
use tikhonov::{Error, RidgeProblem};

const N_SAMPLES: usize = 500;
const N_FEATURES: usize = 8;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tikhonov-dependent: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    // Deterministic data without a random-number crate, and y = 0.5 + Σⱼ (j + 1)·xⱼ exactly.
    let x: Vec<f64> = (0..N_SAMPLES * N_FEATURES)
        .map(|k| ((k * 7919 % 1009) as f64 / 1009.0 - 0.5) * (1.0 + (k % N_FEATURES) as f64))
        .collect();
    let truth: Vec<f64> = (0..N_FEATURES).map(|j| (j + 1) as f64).collect();
    let y: Vec<f64> = x
        .chunks(N_FEATURES)
        .map(|row| 0.5 + row.iter().zip(&truth).map(|(a, b)| a * b).sum::<f64>())
        .collect();

    let problem = RidgeProblem::from_row_major(&x, N_SAMPLES, N_FEATURES, &y)
        .and_then(|b| b.lambda(1e-4).build())
        .map_err(|e: Error| format!("building the problem: {e}"))?;

    // A direct backend takes no tolerance (and refuses one); the iterative one gets a tight one.
    let solve = |name: &str, options: &SolverOptions| {
        solvers::by_name(name, options)
            .and_then(|solver| solver.solve(&problem))
            .map_err(|e| format!("{name}: {e}"))
    };
    let direct = solve("qr", &SolverOptions::default())?;
    let tight = SolverOptions {
        tol: Some(1e-12),
        ..SolverOptions::default()
    };
    let iterative = solve("cg", &tight)?;

    // faer types, named through the re-export: the versions tikhonov was built with.
    let reference: &Col<f64> = &direct.coef;
    let rel = iterative.relative_error(reference.as_ref());
    let intercept_gap = (iterative.intercept - direct.intercept).abs();
    let view = MatRef::from_row_major_slice(&x, N_SAMPLES, N_FEATURES);
    let predicted: Col<f64> = view * reference;
    let rms = (predicted
        .iter()
        .zip(&y)
        .map(|(p, t)| (p + direct.intercept - t).powi(2))
        .sum::<f64>()
        / N_SAMPLES as f64)
        .sqrt();

    for fit in [&direct, &iterative] {
        println!(
            "{:>4}: intercept {:.6}, coef[0] {:.6}, ‖∇J‖ {:.1e}, {} iterations, converged: {}",
            fit.solver,
            fit.intercept,
            fit.coef[0],
            fit.gradient_norm,
            fit.iterations,
            fit.converged
        );
    }
    println!("cg vs qr: relative coefficient error {rel:.1e}, intercept gap {intercept_gap:.1e}");
    println!("qr: RMS residual on the training data {rms:.1e}");

    if !iterative.converged || rel > 1e-8 || intercept_gap > 1e-8 {
        return Err(format!(
            "cg and qr disagree: relative error {rel:e}, intercept gap {intercept_gap:e}"
        ));
    }
    if rms > 1e-2 {
        return Err(format!(
            "qr does not fit noise-free data: RMS residual {rms:e}"
        ));
    }
    Ok(())
}
