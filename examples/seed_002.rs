//! The second seed text's experiment, corrected: choosing λ for a one-feature ridge regression.
//!
//! x ~ U(0, 1), y = 3x + 2 + 0.5·N(0, 1); 100 training and 100 test samples. For a grid of λ it
//! prints the training and test error, then the λ chosen by 10-fold cross-validation, exact
//! leave-one-out and GCV — all computed on the training samples only — and the test error there.
//!
//! The seed writes J(θ) = (1/m)·RSS + (λ'/m)·‖θ‖² with the bias *inside* θ, so its penalty shrinks
//! the intercept towards 0 too; its gradient code also has a shape bug, so this example does not
//! run it but solves the seed's objective in closed form, (AᵀA + λ'·I)·θ = Aᵀy with A = [1, x],
//! next to the crate's (intercept never penalised, λ = λ'/m: README, "The objective"). Where the
//! penalty matters, the seed's fit drags b towards 0 along with the slope; the crate's b tends
//! to ȳ, the best constant, and its test error stays far lower.
//!
//! Run with `cargo run --release --example seed_002`.

use faer::{Col, Mat};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use tikhonov::select::grid::log_spaced;
use tikhonov::select::kfold::{self, Folds};
use tikhonov::select::loo::LeaveOneOut;
use tikhonov::solvers::{Qr, Solver};
use tikhonov::{Result, RidgeProblem};

/// m samples of (x, y).
fn draw(m: usize, rng: &mut impl Rng) -> (Mat<f64>, Col<f64>) {
    let x: Vec<f64> = (0..m).map(|_| rng.random::<f64>()).collect();
    let y = Col::from_fn(m, |i| {
        let z: f64 = StandardNormal.sample(rng);
        3.0 * x[i] + 2.0 + 0.5 * z
    });
    (Mat::from_fn(m, 1, |i, _| x[i]), y)
}

/// Mean squared error of y ≈ w·x + b.
fn mse(x: &Mat<f64>, y: &Col<f64>, w: f64, b: f64) -> f64 {
    let m = y.nrows();
    (0..m)
        .map(|i| (y[i] - w * x[(i, 0)] - b).powi(2))
        .sum::<f64>()
        / m as f64
}

/// The seed's objective (1/m)·‖y − Aθ‖² + (λ'/m)·‖θ‖², θ = (b, w) with the bias penalised:
/// θ = (AᵀA + λ'·I)⁻¹·Aᵀy, a 2 × 2 system. Returns (w, b).
fn seed_fit(x: &Mat<f64>, y: &Col<f64>, lambda_prime: f64) -> (f64, f64) {
    let m = y.nrows();
    let (mut sx, mut sxx, mut sy, mut sxy) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..m {
        let xi = x[(i, 0)];
        sx += xi;
        sxx += xi * xi;
        sy += y[i];
        sxy += xi * y[i];
    }
    let a = nalgebra::Matrix2::new(m as f64 + lambda_prime, sx, sx, sxx + lambda_prime);
    let theta = a
        .cholesky()
        .expect("AᵀA + λ'I is positive definite for λ' > 0 or two distinct x")
        .solve(&nalgebra::Vector2::new(sy, sxy));
    (theta[1], theta[0])
}

fn main() -> Result<()> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
    let m = 100;
    let (x, y) = draw(m, &mut rng);
    let (x_test, y_test) = draw(m, &mut rng);
    let problem = RidgeProblem::builder(x.as_ref(), y.as_ref()).build()?;
    let lambdas = log_spaced(10.0, 1e-6, 29);

    println!("x ~ U(0,1), y = 3x + 2 + 0.5·N(0,1); {m} training and {m} test samples\n");
    println!(
        "{:>10} | {:>9} {:>9} {:>9} {:>9} | {:>10} {:>9} {:>9} {:>9}",
        "λ", "w", "b", "train", "test", "seed λ'=mλ", "w", "b", "test"
    );
    for &lambda in &lambdas {
        let fit = Qr.solve(&problem.with_lambda(lambda)?)?;
        let (w, b) = (fit.coef[0], fit.intercept);
        let (sw, sb) = seed_fit(&x, &y, lambda * m as f64);
        println!(
            "{:>10.3e} | {:>9.4} {:>9.4} {:>9.4} {:>9.4} | {:>10.3e} {:>9.4} {:>9.4} {:>9.4}",
            lambda,
            w,
            b,
            mse(&x, &y, w, b),
            mse(&x_test, &y_test, w, b),
            lambda * m as f64,
            sw,
            sb,
            mse(&x_test, &y_test, sw, sb)
        );
    }

    let folds = Folds::shuffled(m, 10, 0)?;
    let cv = kfold::ridge(&problem, &lambdas, &folds)?.curve;
    let loo_and_gcv = LeaveOneOut::new(&problem)?;
    let loo = loo_and_gcv.curve(&lambdas)?;
    let gcv = loo_and_gcv.gcv(&lambdas)?;
    println!("\nλ chosen on the training samples (test error of the refit there):");
    for (name, lambda) in [
        ("10-fold CV, minimum", cv.lambda_min),
        ("10-fold CV, one-standard-error rule", cv.lambda_1se),
        ("exact leave-one-out", loo.lambda_min),
        ("GCV", gcv.lambda_min),
    ] {
        let fit = Qr.solve(&problem.with_lambda(lambda)?)?;
        println!(
            "  {name:<38} λ = {lambda:.3e}: w = {:.4}, b = {:.4}, test error {:.4}",
            fit.coef[0],
            fit.intercept,
            mse(&x_test, &y_test, fit.coef[0], fit.intercept)
        );
    }
    let (big, ols) = (1e3, Qr.solve(&problem.with_lambda(0.0)?)?);
    let (seed_w, seed_b) = seed_fit(&x, &y, big);
    let ours = Qr.solve(&problem.with_lambda(big / m as f64)?)?;
    println!(
        "\nThe noise variance is 0.25, the least test error any model can reach; with one feature \
         and 100 samples little regularisation is needed, and every criterion picks a small λ \
         (the unpenalised fit: w = {:.4}, b = {:.4}). A large penalty shows what penalising the \
         bias does: at λ' = {big} the seed's fit has w = {seed_w:.4}, b = {seed_b:.4} (both shrunk \
         towards 0, test error {:.2}), the crate's w = {:.4}, b = {:.4} (b tends to ȳ, the best \
         constant; test error {:.2}).",
        ols.coef[0],
        ols.intercept,
        mse(&x_test, &y_test, seed_w, seed_b),
        ours.coef[0],
        ours.intercept,
        mse(&x_test, &y_test, ours.coef[0], ours.intercept),
    );
    Ok(())
}
