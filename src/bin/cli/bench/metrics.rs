//! Measuring a point against the optimum: J − J* without cancellation (ridge:
//! [`RidgeProblem::objective_gap`](tikhonov::RidgeProblem::objective_gap); logistic:
//! [`logistic_gap`], a Bregman-divergence form), the distance to w*, and the held-out error
//! on a test split ([`held_out`]).

use faer::Col;
use tikhonov::logistic::LogisticProblem;
use tikhonov::solvers::{self, SolverOptions};
use tikhonov::{Error, Fit, LossKind};

use super::problems::Test;
use crate::Problem;

/// The held-out error of (w, b) on the rows of `test` (m rows, unit weights), NaN without a
/// split (an empty `objective_test_loss` cell):
///
/// ```text
/// squared:   (1/m)·Σ (yᵢ − xᵢᵀw − b)²                 the mean squared error
/// logistic:  (1/m)·Σ log(1 + e^(−ỹᵢ(xᵢᵀw + b)))         the mean log-loss
/// ```
///
/// Neither has the ½ or the penalty of the objective: they are the prediction errors a user
/// reads (the log-loss is scikit-learn's `log_loss`). The log-loss goes through
/// [`tikhonov::loss::log1p_exp_neg`], finite for every margin. Called after a run on the kept
/// iterates (`runs.rs`), so it is not timed.
pub(super) fn held_out(
    test: Option<&Test>,
    loss: LossKind,
    w: faer::ColRef<'_, f64>,
    b: f64,
) -> f64 {
    let Some(test) = test else {
        return f64::NAN;
    };
    let z = &test.x * w;
    let m = test.y.nrows() as f64;
    let sum: f64 = z
        .iter()
        .zip(test.y.iter())
        .map(|(z, y)| match loss {
            LossKind::Logistic => tikhonov::loss::log1p_exp_neg(y * (z + b)),
            LossKind::Squared => {
                let r = y - z - b;
                r * r
            }
        })
        .sum();
    sum / m
}

/// The optimum of one problem and what judging a point against it needs.
pub(super) struct Optimum {
    pub coef: Col<f64>,
    intercept: f64,
    /// ‖∇J‖ at the cold start (w = 0, and b = ȳ for ridge, whose intercept is eliminated;
    /// b = 0 for logistic): the reference of every relative gradient, as in the driver.
    pub cold_gradient: f64,
    /// ∇J at the optimum (logistic only): the linear term of the gap identity.
    gradient: Option<(Col<f64>, f64)>,
    /// ỹᵢ·(xᵢᵀw* + b*) (logistic only).
    margins: Vec<f64>,
}

impl Optimum {
    pub(super) fn new(problem: &Problem<'_>, reference: &Fit) -> Self {
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
    pub(super) fn judge(
        &self,
        problem: &Problem<'_>,
        w: faer::ColRef<'_, f64>,
        b: f64,
    ) -> (f64, f64) {
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
    pub(super) fn split(problem: &Problem<'_>, theta: &[f64]) -> (Col<f64>, f64) {
        let theta = faer::ColRef::from_slice(theta);
        match problem {
            Problem::Ridge(p) => (theta.to_owned(), p.optimal_intercept(theta)),
            Problem::Logistic(p) => p.risk().split(theta),
        }
    }
}

/// The exact optimum of `problem`: `qr-refined` for ridge (`svd` where it refuses, a
/// rank-deficient design at λ = 0), `newton` at its default tolerance for logistic.
pub(super) fn reference(problem: &Problem<'_>) -> Result<Fit, Error> {
    let solve =
        |name: &str| problem.solve(solvers::by_name(name, &SolverOptions::default())?.as_ref());
    match problem {
        Problem::Ridge(_) => solve("qr-refined").or_else(|_| solve("svd")),
        Problem::Logistic(_) => solve("newton"),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
