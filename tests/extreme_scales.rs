//! Extreme data: every direct backend matches the exact solution of the f64 data to 1e-10 or
//! refuses with a reason; `auto` always matches it.
//!
//! **Large column offsets**, as with timestamps. The reference needs no extended arithmetic. With an intercept, w does not depend on a constant
//! added to a column, and X = fl(Z + c) minus c is exact (Sterbenz: both are within a factor of
//! two), so the exact w of the f64 data (X, y) is the exact w of (X − c, y), whose columns have
//! no offset: `qr-refined` solves that to the rounding of w. The intercepts differ by cᵀw.

use faer::{Col, Mat};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use tikhonov::RidgeProblem;
use tikhonov::solvers::{Refined, Registry, Solver, SolverKind, SolverOptions};

/// n × 3 features of spread ~100 (centred κ ≈ 3.5) and their targets.
fn data(n: usize, seed: u64) -> (Mat<f64>, Col<f64>, Col<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut g = || -> f64 { StandardNormal.sample(&mut rng) };
    let z = Mat::from_fn(n, 3, |_, _| 100.0 * g());
    let z = Mat::from_fn(n, 3, |i, j| match j {
        1 => 0.5 * z[(i, 1)] + 0.5 * z[(i, 0)],
        _ => z[(i, j)],
    });
    let y = Col::from_fn(n, |i| {
        z[(i, 0)] - 2.0 * z[(i, 1)] + 0.5 * z[(i, 2)] + 3.0 + g()
    });
    let s = Col::from_fn(n, |i| 0.25 + (i % 5) as f64 * 0.5);
    (z, y, s)
}

fn problem<'a>(
    x: &'a Mat<f64>,
    y: &'a Col<f64>,
    s: Option<&'a Col<f64>>,
    lambda: f64,
) -> RidgeProblem<'a> {
    let b = RidgeProblem::builder(x.as_ref(), y.as_ref()).lambda(lambda);
    match s {
        Some(s) => b.weights(s.as_ref()),
        None => b,
    }
    .build()
    .unwrap()
}

#[test]
fn direct_backends_are_exact_or_refuse_on_offsets_up_to_1e15() {
    let (z, y, s) = data(300, 5);
    let registry = Registry::builtin();
    for offset in [1e13, 1e15] {
        // The data as a user has them: offset, rounded to f64.
        let x = Mat::from_fn(z.nrows(), 3, |i, j| z[(i, j)] + offset);
        // Exactly X − c: the same f64 data without the offset.
        let shifted = Mat::from_fn(z.nrows(), 3, |i, j| x[(i, j)] - offset);
        for weighted in [false, true] {
            for lambda in [0.0, 1e-3] {
                let weights = weighted.then_some(&s);
                let reference = Refined::qr()
                    .solve(&problem(&shifted, &y, weights, lambda))
                    .unwrap();
                let p = problem(&x, &y, weights, lambda);
                let what = format!("offset {offset:e}, weights {weighted}, λ = {lambda}");
                for info in registry.entries() {
                    if info.kind != SolverKind::Direct {
                        continue;
                    }
                    let solver = (info.build)(&SolverOptions::default()).unwrap();
                    match solver.solve(&p) {
                        Ok(fit) => {
                            let err =
                                (&fit.coef - &reference.coef).norm_l2() / reference.coef.norm_l2();
                            assert!(
                                err <= 1e-10,
                                "{}: {what}: relative error {err:e}",
                                info.name
                            );
                            // b = ȳ − x̄ᵀw: of size |c|·‖w‖, so judged relative to that.
                            let b = reference.intercept - offset * reference.coef.sum();
                            let scale = offset * reference.coef.norm_l1();
                            assert!(
                                (fit.intercept - b).abs() <= 1e-10 * scale,
                                "{}: {what}: intercept {} vs {b}",
                                info.name,
                                fit.intercept
                            );
                        }
                        Err(e) => assert!(info.name != "auto", "auto must solve it ({what}): {e}"),
                    }
                }
            }
        }
    }
}

/// **Tiny features** (X·2⁻⁵³², about 1e-160) at λ = 0: the products of the centred entries
/// underflow, so the Gram backends refuse (src/moments.rs, `GramSystem::check_range`) and `auto`
/// falls through to a QR. Scaling by a power of two is exact, so the reference is the unscaled
/// fit's w times 2⁵³².
#[test]
fn gram_backends_refuse_underflowing_features_and_auto_solves_them() {
    let (z, y, s) = data(200, 9);
    let scale = 2f64.powi(-532);
    let x = Mat::from_fn(z.nrows(), 3, |i, j| z[(i, j)] * scale);
    let reference = Refined::qr()
        .solve(&problem(&z, &y, Some(&s), 0.0))
        .unwrap();
    let p = problem(&x, &y, Some(&s), 0.0);
    let registry = Registry::builtin();
    for name in ["cholesky", "normal", "cholesky-refined"] {
        let solver = registry.build(name, &SolverOptions::default()).unwrap();
        let err = solver.solve(&p).unwrap_err().to_string();
        assert!(
            err.contains("underflow") && err.contains("`qr`"),
            "{name}: {err}"
        );
    }
    for name in ["auto", "qr", "qr-refined"] {
        let solver = registry.build(name, &SolverOptions::default()).unwrap();
        let fit = solver.solve(&p).unwrap();
        let expected = &reference.coef * faer::Scale(1.0 / scale);
        let err = (&fit.coef - &expected).norm_l2() / expected.norm_l2();
        assert!(err <= 1e-10, "{name}: relative error {err:e}");
        assert!((fit.intercept - reference.intercept).abs() <= 1e-10 * reference.intercept.abs());
    }
}
