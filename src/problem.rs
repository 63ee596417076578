//! The ridge problem: validated, borrowed data, the penalty, and the objective written once.
//!
//! ```text
//! J(w, b) = 1/(2S) · Σᵢ sᵢ (yᵢ − xᵢᵀw − b)²  +  (λ/2)·‖w‖²,      S = Σᵢ sᵢ (= n without weights)
//! ```
//!
//! Every backend solves this problem and every diagnostic (objective, gradient, objective gap) is
//! computed here, so two solvers are always judged by the same numbers.

use faer::linalg::matmul::matmul;
use faer::{Accum, Col, ColRef, MatRef, Par};

use std::sync::Arc;

use std::sync::OnceLock;

use crate::design::Design;
use crate::error::{Error, Result};
use crate::linalg::{dot, half_weighted_mean_square, norm2, two_sum, write_centred_scaled};
use crate::moments::{GramSystem, Moments};

/// A validated ridge regression problem that borrows its data.
///
/// Build one with [`RidgeProblem::builder`] (faer views), [`RidgeProblem::from_nalgebra`]
/// or [`RidgeProblem::from_row_major`]; all three check shapes, finiteness, weights and λ once,
/// so every solver can assume a well-formed problem.
#[derive(Debug, Clone)]
pub struct RidgeProblem<'a> {
    /// X, s, the intercept, S, x̄, and the λ-free work on them: shared with every problem made
    /// by `with_lambda` and with the per-target problems of a multi-target fit.
    design: Design<'a>,
    y: ColRef<'a, f64>,
    lambda: f64,
    y_mean: f64,
    /// What ȳ's f64 rounding drops (see [`Design::x_mean_low`]).
    y_mean_lo: f64,
    /// λ-free work on (X, y, s): shared with every problem made by `with_lambda`.
    target: Arc<TargetCache>,
}

/// The target-level cache: the moments of (X, y), shared by every λ on the same target.
#[derive(Debug, Default)]
struct TargetCache {
    moments: OnceLock<Moments>,
}

/// Builder for [`RidgeProblem`]: set λ, the intercept, weights and parallelism, then [`build`].
///
/// [`build`]: RidgeProblemBuilder::build
#[derive(Debug, Clone)]
#[must_use = "call .build() to validate the problem"]
pub struct RidgeProblemBuilder<'a> {
    x: MatRef<'a, f64>,
    y: ColRef<'a, f64>,
    weights: Option<ColRef<'a, f64>>,
    lambda: f64,
    intercept: bool,
    par: Par,
}

impl<'a> RidgeProblem<'a> {
    /// Starts a problem from faer views: `x` is n × d (any strides), `y` has n entries.
    ///
    /// Defaults: intercept on, no weights, all cores, and **λ = 1 unless you call
    /// [`RidgeProblemBuilder::lambda`]**. λ = 1 is a strong penalty for most data (scikit-learn's
    /// `Ridge(alpha)` is α = λ·S, so α = n); it is a default only so that a first experiment runs,
    /// not a recommendation: set λ, or choose it by cross-validation. [`crate::Fit`] records the
    /// λ it was fitted with (`fit.lambda`).
    pub fn builder(x: MatRef<'a, f64>, y: ColRef<'a, f64>) -> RidgeProblemBuilder<'a> {
        RidgeProblemBuilder {
            x,
            y,
            weights: None,
            lambda: 1.0,
            intercept: true,
            par: Par::rayon(0),
        }
    }

    /// Starts a problem from nalgebra's column-major `DMatrix` and `DVector`, without copying.
    pub fn from_nalgebra(
        x: &'a nalgebra::DMatrix<f64>,
        y: &'a nalgebra::DVector<f64>,
    ) -> RidgeProblemBuilder<'a> {
        let x = MatRef::from_column_major_slice(x.as_slice(), x.nrows(), x.ncols());
        Self::builder(x, ColRef::from_slice(y.as_slice()))
    }

    /// Starts a problem from a row-major slice `x` of `n_samples × n_features` values and `y`,
    /// without copying. Fails if `x.len()` is not `n_samples · n_features`.
    pub fn from_row_major(
        x: &'a [f64],
        n_samples: usize,
        n_features: usize,
        y: &'a [f64],
    ) -> Result<RidgeProblemBuilder<'a>> {
        let x = row_major(x, n_samples, n_features)?;
        Ok(Self::builder(x, ColRef::from_slice(y)))
    }

    /// The design: X, the weights, the intercept, S, x̄, and the λ-free work on them.
    pub fn design(&self) -> &Design<'a> {
        &self.design
    }
    /// The design matrix X (n × d), as given (not centred).
    pub fn x(&self) -> MatRef<'a, f64> {
        self.design.x()
    }
    /// The targets y (n).
    pub fn y(&self) -> ColRef<'a, f64> {
        self.y
    }
    /// The sample weights s, if any (`None` means all ones).
    pub fn weights(&self) -> Option<ColRef<'a, f64>> {
        self.design.weights()
    }
    /// The penalty λ.
    pub fn lambda(&self) -> f64 {
        self.lambda
    }
    /// Whether an (unpenalised) intercept b is fitted.
    pub fn fit_intercept(&self) -> bool {
        self.design.fit_intercept()
    }
    /// The parallelism that backends use for dense kernels.
    pub fn par(&self) -> Par {
        self.design.par()
    }
    /// n, the number of samples.
    pub fn n_samples(&self) -> usize {
        self.design.n_samples()
    }
    /// d, the number of features.
    pub fn n_features(&self) -> usize {
        self.design.n_features()
    }
    /// S = Σᵢ sᵢ (n without weights).
    pub fn weight_sum(&self) -> f64 {
        self.design.weight_sum()
    }
    /// The weight of sample i (1 without weights).
    #[inline]
    pub fn weight(&self, i: usize) -> f64 {
        self.design.weight(i)
    }
    /// The weighted column means x̄ = Σ sᵢxᵢ / S, or zero without an intercept (no centring).
    pub fn x_mean(&self) -> ColRef<'_, f64> {
        self.design.x_mean()
    }
    /// What x̄'s f64 rounding drops ([`Design::x_mean_low`]): at most ulp(x̄)/2, so it matters
    /// only where a column's mean is large against its spread.
    pub fn x_mean_low(&self) -> ColRef<'_, f64> {
        self.design.x_mean_low()
    }
    /// The weighted target mean ȳ, or zero without an intercept.
    pub fn y_mean(&self) -> f64 {
        self.y_mean
    }

    /// The same data with another λ (the data are already validated; only λ is checked).
    ///
    /// The new problem shares every λ-free computation with this one (the Gram moments, the
    /// stochastic methods' sample-major copy, column norms, the top eigenvalue of the Gram
    /// matrix), so a path over many λ does each of them once.
    pub fn with_lambda(&self, lambda: f64) -> Result<Self> {
        check_lambda(lambda)?;
        Ok(Self {
            lambda,
            ..self.clone()
        })
    }

    /// Another target `y` and penalty λ on the same, already validated X and weights: the
    /// per-target problems of a [`crate::multi::MultiRidgeProblem`]. Only ȳ is computed (O(n));
    /// X is neither re-checked nor re-averaged (x̄ and S depend on X and the weights only).
    /// The caller guarantees that `y` has n finite entries and that λ is finite and ≥ 0.
    pub(crate) fn with_target_unchecked(&self, y: ColRef<'a, f64>, lambda: f64) -> Self {
        debug_assert!(y.nrows() == self.n_samples() && lambda.is_finite() && lambda >= 0.0);
        let (y_mean, y_mean_lo) = if self.fit_intercept() {
            weighted_mean(y, self.weights(), self.weight_sum())
        } else {
            (0.0, 0.0)
        };
        Self {
            y,
            lambda,
            y_mean,
            y_mean_lo,
            target: Arc::default(),
            ..self.clone()
        }
    }

    /// The (centred when fitting an intercept, weighted) moments of (X, y), one pass over X the
    /// first time, then cached and shared by every λ made from this problem with `with_lambda`.
    pub fn moments(&self) -> &Moments {
        self.target.moments.get_or_init(|| {
            Moments::compute(
                self.x(),
                self.y.as_mat(),
                self.weights(),
                self.fit_intercept(),
                self.par(),
            )
        })
    }

    /// Whether the moments of (X, y) are already cached (so [`RidgeProblem::moments`] reads
    /// nothing).
    pub(crate) fn has_moments(&self) -> bool {
        self.target.moments.get().is_some()
    }

    /// The equilibrated Gram system (XcᵀSXc + SλI)·w = XcᵀSyc for this λ, from the cached
    /// moments.
    pub fn gram_system(&self) -> GramSystem {
        GramSystem::from_moments(self.moments().clone(), self.lambda)
    }

    /// The intercept that is optimal for given coefficients: b(w) = ȳ − x̄ᵀw (0 without intercept).
    pub fn optimal_intercept(&self, w: ColRef<'_, f64>) -> f64 {
        if self.fit_intercept() {
            self.y_mean - dot(self.x_mean(), w)
        } else {
            0.0
        }
    }

    /// The residuals r = y − Xw − b (n entries).
    pub fn residuals(&self, w: ColRef<'_, f64>, b: f64) -> Col<f64> {
        let mut r = Col::from_fn(self.n_samples(), |i| self.y[i] - b);
        matmul(
            r.as_mat_mut(),
            Accum::Add,
            self.x(),
            w.as_mat(),
            -1.0,
            self.par(),
        );
        r
    }

    /// The objective J(w, b) = 1/(2S)·Σ sᵢ rᵢ² + (λ/2)‖w‖².
    pub fn objective(&self, w: ColRef<'_, f64>, b: f64) -> f64 {
        let r = self.residuals(w, b);
        self.loss_from_residuals(r.as_ref()) + self.penalty_term(w)
    }

    /// The gradient of J: (∇_w J, ∂_b J) = (−(1/S)·XᵀSr + λw, −(1/S)·Σ sᵢrᵢ), with ∂_b J = 0
    /// when there is no intercept.
    pub fn gradient(&self, w: ColRef<'_, f64>, b: f64) -> (Col<f64>, f64) {
        let mut r = self.residuals(w, b);
        if let Some(s) = self.weights() {
            r.iter_mut().zip(s.iter()).for_each(|(r, s)| *r *= s);
        }
        let inv_s = 1.0 / self.weight_sum();
        let mut g = w.to_owned() * faer::Scale(self.lambda);
        matmul(
            g.as_mat_mut(),
            Accum::Add,
            self.x().transpose(),
            r.as_mat(),
            -inv_s,
            self.par(),
        );
        let gb = if self.fit_intercept() {
            -inv_s * r.iter().sum::<f64>()
        } else {
            0.0
        };
        (g, gb)
    }

    /// ‖∇J(w, b)‖₂ over all free parameters (w, and b when fitted): the optimality residual.
    pub fn gradient_norm(&self, w: ColRef<'_, f64>, b: f64) -> f64 {
        let (g, gb) = self.gradient(w, b);
        norm2(g.as_ref()).hypot(gb)
    }

    /// The objective gap J(w, b) − J(w*, b*) against a reference solution, computed without
    /// cancellation: J is quadratic, so the gap is exactly
    /// ½·(1/S)·Σ sᵢ (xᵢᵀΔw + Δb)² + (λ/2)‖Δw‖² + ∇J(w*, b*)ᵀ(Δw, Δb), and the last term is zero
    /// at the optimum. The result is accurate even when both objectives agree to 16 digits.
    pub fn objective_gap(
        &self,
        w: ColRef<'_, f64>,
        b: f64,
        w_ref: ColRef<'_, f64>,
        b_ref: f64,
    ) -> f64 {
        let dw = w - w_ref;
        let db = b - b_ref;
        // residuals of (Δw, Δb) against y = 0 are −(XΔw + Δb); the sign vanishes when squared.
        let mut r = Col::from_fn(self.n_samples(), |_| db);
        matmul(
            r.as_mat_mut(),
            Accum::Add,
            self.x(),
            dw.as_mat(),
            1.0,
            self.par(),
        );
        self.loss_from_residuals(r.as_ref()) + self.penalty_term(dw.as_ref())
    }

    /// Writes S^½·Xc (rows √sᵢ·(xᵢ − x̄); x̄ = 0 without intercept) into `out` (n × d): the
    /// matrix whose orthogonal factorisations the accurate backends work on.
    pub fn write_scaled_centred_x(&self, out: faer::MatMut<'_, f64>) {
        self.write_scaled_centred_columns(0, out);
    }

    /// Writes columns `first .. first + out.ncols()` of S^½·Xc into `out`, for backends that
    /// read X in blocks of columns.
    pub fn write_scaled_centred_columns(&self, first: usize, out: faer::MatMut<'_, f64>) {
        self.write_scaled_centred_block(0, first, out);
    }

    /// Writes rows `first .. first + out.nrows()` of S^½·Xc into `out`, for backends that stream
    /// X in blocks of rows.
    pub fn write_scaled_centred_rows(&self, first: usize, out: faer::MatMut<'_, f64>) {
        self.write_scaled_centred_block(first, 0, out);
    }

    /// Writes the block of S^½·Xc with top-left entry (`row`, `col`) and the shape of `out`
    /// ([`write_centred_scaled`]). √sᵢ is taken once per row of the block, not once per entry.
    fn write_scaled_centred_block(&self, row: usize, col: usize, out: faer::MatMut<'_, f64>) {
        let (len, width) = (out.nrows(), out.ncols());
        let root: Option<Vec<f64>> = self
            .weights()
            .map(|s| s.subrows(row, len).iter().map(|s| s.sqrt()).collect());
        write_centred_scaled(
            self.x().submatrix(row, col, len, width),
            (
                self.x_mean().subrows(col, width),
                self.x_mean_low().subrows(col, width),
            ),
            root.as_deref(),
            out,
        );
    }

    /// S^½·yc (entries √sᵢ·(yᵢ − ȳ); ȳ = 0 without intercept).
    pub fn scaled_centred_y(&self) -> Col<f64> {
        Col::from_fn(self.n_samples(), |i| {
            self.weight(i).sqrt() * ((self.y[i] - self.y_mean) - self.y_mean_lo)
        })
    }

    /// 1/(2S)·Σ sᵢ rᵢ².
    /// 1/(2S)·Σ sᵢ rᵢ², scaled so that it is finite whenever the result is.
    fn loss_from_residuals(&self, r: ColRef<'_, f64>) -> f64 {
        half_weighted_mean_square(r, self.weights(), self.weight_sum())
    }

    /// (λ/2)·‖w‖², scaled so that it is finite whenever the result is.
    fn penalty_term(&self, w: ColRef<'_, f64>) -> f64 {
        let norm = norm2(w);
        0.5 * self.lambda * norm * norm
    }
}

/// A row-major slice of `n_samples × n_features` values as a matrix view, or a shape error.
pub(crate) fn row_major(x: &[f64], n_samples: usize, n_features: usize) -> Result<MatRef<'_, f64>> {
    if n_samples.checked_mul(n_features) != Some(x.len()) {
        return Err(Error::ShapeMismatch {
            what: format!(
                "x has {} values but n_samples × n_features = {n_samples} × {n_features}",
                x.len()
            ),
        });
    }
    Ok(MatRef::from_row_major_slice(x, n_samples, n_features))
}

impl<'a> RidgeProblemBuilder<'a> {
    /// Sets the penalty λ ≥ 0 (README, "The objective"; scikit-learn's `Ridge(alpha)` is α = λ·S).
    pub fn lambda(mut self, lambda: f64) -> Self {
        self.lambda = lambda;
        self
    }
    /// Fits an unpenalised intercept (default) or forces the model through the origin.
    pub fn intercept(mut self, intercept: bool) -> Self {
        self.intercept = intercept;
        self
    }
    /// Sample weights sᵢ ≥ 0 with Σsᵢ > 0; weight 2 is the same as a duplicated row.
    pub fn weights(mut self, weights: ColRef<'a, f64>) -> Self {
        self.weights = Some(weights);
        self
    }
    /// Sample weights from a slice.
    pub fn weights_slice(self, weights: &'a [f64]) -> Self {
        self.weights(ColRef::from_slice(weights))
    }
    /// Parallelism for the dense kernels (default: all cores).
    pub fn par(mut self, par: Par) -> Self {
        self.par = par;
        self
    }

    /// Validates everything once: shapes, finiteness of X, y and weights, weights ≥ 0 and not all
    /// zero, λ ≥ 0 and finite. Computes S and the weighted means used for centring.
    pub fn build(self) -> Result<RidgeProblem<'a>> {
        let (n, d) = (self.x.nrows(), self.x.ncols());
        if n == 0 || d == 0 {
            return Err(Error::Empty {
                what: format!("X is {n} × {d}"),
            });
        }
        if self.y.nrows() != n {
            return Err(Error::ShapeMismatch {
                what: format!("X has {n} rows but y has {} entries", self.y.nrows()),
            });
        }
        check_lambda(self.lambda)?;
        check_finite_col("y", self.y)?;
        if !self.x.is_all_finite() {
            return Err(first_non_finite(self.x));
        }
        let weight_sum = match self.weights {
            None => n as f64,
            Some(s) => check_weights(s, n)?,
        };

        let ((x_mean, x_mean_lo), (y_mean, y_mean_lo)) = if self.intercept {
            weighted_means(self.x, self.y, self.weights, weight_sum, self.par)
        } else {
            ((Col::zeros(d), Col::zeros(d)), (0.0, 0.0))
        };
        Ok(RidgeProblem {
            design: Design::from_validated(
                self.x,
                self.weights,
                self.intercept,
                self.par,
                weight_sum,
                x_mean,
                x_mean_lo,
            ),
            y: self.y,
            lambda: self.lambda,
            y_mean,
            y_mean_lo,
            target: Arc::default(),
        })
    }
}

fn check_lambda(lambda: f64) -> Result<()> {
    if lambda.is_finite() && lambda >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            "lambda",
            lambda,
            "λ must be finite and ≥ 0 (λ = 0 is ordinary least squares)",
        ))
    }
}

fn check_finite_col(what: &'static str, v: ColRef<'_, f64>) -> Result<()> {
    match v.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::NonFinite {
            what,
            position: format!("row {i}"),
            value: v[i],
        }),
    }
}

/// Locates the first non-finite entry of X for the error message (only called on failure).
fn first_non_finite(x: MatRef<'_, f64>) -> Error {
    for j in 0..x.ncols() {
        for i in 0..x.nrows() {
            let v = x[(i, j)];
            if !v.is_finite() {
                return Error::NonFinite {
                    what: "X",
                    position: format!("row {i}, column {j}"),
                    value: v,
                };
            }
        }
    }
    unreachable!("first_non_finite is only called when X has a non-finite entry")
}

/// Checks the weights and returns S = Σ sᵢ.
fn check_weights(s: ColRef<'_, f64>, n: usize) -> Result<f64> {
    if s.nrows() != n {
        return Err(Error::ShapeMismatch {
            what: format!("X has {n} rows but weights have {} entries", s.nrows()),
        });
    }
    if let Some(i) = s.iter().position(|v| !v.is_finite() || *v < 0.0) {
        return Err(Error::InvalidWeights {
            reason: format!("weight {i} is {}", s[i]),
        });
    }
    let total: f64 = s.iter().sum();
    if total <= 0.0 {
        return Err(Error::InvalidWeights {
            reason: "all weights are zero".into(),
        });
    }
    Ok(total)
}

/// Weighted means with one correction pass (x̄ ← x̄ + Σsᵢ(xᵢ − x̄)/S), which removes most of the
/// rounding error of the plain sum when the columns have a large offset, each returned in two
/// parts (the f64 nearest the mean, and what that rounding drops) for X and for y.
fn weighted_means(
    x: MatRef<'_, f64>,
    y: ColRef<'_, f64>,
    weights: Option<ColRef<'_, f64>>,
    weight_sum: f64,
    par: Par,
) -> ((Col<f64>, Col<f64>), (f64, f64)) {
    let ones;
    let s = match weights {
        Some(s) => s,
        None => {
            ones = Col::<f64>::ones(x.nrows());
            ones.as_ref()
        }
    };
    let mut mean = Col::<f64>::zeros(x.ncols());
    matmul(
        mean.as_mat_mut(),
        Accum::Replace,
        x.transpose(),
        s.as_mat(),
        1.0 / weight_sum,
        par,
    );
    // Correction pass: Σ sᵢ(xᵢ − x̄) = Xᵀs − S·x̄ evaluated column by column with the shifted data.
    let correction = Col::from_fn(x.ncols(), |j| {
        let c = x.col(j);
        let m = mean[j];
        c.iter()
            .zip(s.iter())
            .map(|(v, s)| s * (v - m))
            .sum::<f64>()
            / weight_sum
    });
    // x̄ = mean + correction, kept in two parts (TwoSum): the f64 nearest x̄ and what it drops.
    let mut low = Col::zeros(x.ncols());
    for j in 0..x.ncols() {
        (mean[j], low[j]) = two_sum(mean[j], correction[j]);
    }
    ((mean, low), weighted_mean(y, weights, weight_sum))
}

/// The weighted mean Σ sᵢvᵢ/S (sᵢ = 1 without weights) with the same correction pass as
/// [`weighted_means`].
fn weighted_mean(
    v: ColRef<'_, f64>,
    weights: Option<ColRef<'_, f64>>,
    weight_sum: f64,
) -> (f64, f64) {
    let s = |i: usize| weights.map_or(1.0, |s| s[i]);
    let m0 = (0..v.nrows()).map(|i| v[i] * s(i)).sum::<f64>() / weight_sum;
    two_sum(
        m0,
        (0..v.nrows()).map(|i| s(i) * (v[i] - m0)).sum::<f64>() / weight_sum,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::mat;

    #[test]
    fn rejects_bad_input_with_errors() {
        let x = mat![[1.0, 2.0], [3.0, 4.0], [5.0, 7.0]];
        let y = faer::col![1.0, 2.0, 3.0];
        let short = faer::col![1.0, 2.0];
        assert!(matches!(
            RidgeProblem::builder(x.as_ref(), short.as_ref()).build(),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(
            RidgeProblem::builder(x.as_ref(), y.as_ref())
                .lambda(-1.0)
                .build(),
            Err(Error::InvalidParameter { .. })
        ));
        let mut bad = x.clone();
        bad[(2, 1)] = f64::NAN;
        let err = RidgeProblem::builder(bad.as_ref(), y.as_ref())
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("row 2, column 1"), "{err}");
        let w = faer::col![1.0, -1.0, 0.0];
        assert!(matches!(
            RidgeProblem::builder(x.as_ref(), y.as_ref())
                .weights(w.as_ref())
                .build(),
            Err(Error::InvalidWeights { .. })
        ));
        let zeros = faer::col![0.0, 0.0, 0.0];
        assert!(
            RidgeProblem::builder(x.as_ref(), y.as_ref())
                .weights(zeros.as_ref())
                .build()
                .is_err()
        );
        assert!(RidgeProblem::from_row_major(&[1.0; 5], 3, 2, &[0.0; 3]).is_err());
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = mat![[1.0, 2.0], [3.0, -4.0], [5.0, 7.0], [0.5, 0.25]];
        let y = faer::col![1.0, 2.0, 3.0, -1.0];
        let s = faer::col![1.0, 2.0, 0.5, 3.0];
        let p = RidgeProblem::builder(x.as_ref(), y.as_ref())
            .weights(s.as_ref())
            .lambda(0.3)
            .build()
            .unwrap();
        let w = faer::col![0.2, -0.1];
        let b = 0.7;
        let (g, gb) = p.gradient(w.as_ref(), b);
        let h = 1e-6;
        for j in 0..2 {
            let mut wp = w.clone();
            wp[j] += h;
            let mut wm = w.clone();
            wm[j] -= h;
            let fd = (p.objective(wp.as_ref(), b) - p.objective(wm.as_ref(), b)) / (2.0 * h);
            assert!((fd - g[j]).abs() < 1e-7, "{fd} vs {}", g[j]);
        }
        let fd = (p.objective(w.as_ref(), b + h) - p.objective(w.as_ref(), b - h)) / (2.0 * h);
        assert!((fd - gb).abs() < 1e-7);
    }

    #[test]
    fn layouts_agree() {
        let rows = [1.0, 2.0, 3.0, 4.0, 5.0, 7.0];
        let y = [1.0, 2.0, 3.0];
        let p = RidgeProblem::from_row_major(&rows, 3, 2, &y)
            .unwrap()
            .build()
            .unwrap();
        let xm = nalgebra::DMatrix::from_row_slice(3, 2, &rows);
        let ym = nalgebra::DVector::from_row_slice(&y);
        let q = RidgeProblem::from_nalgebra(&xm, &ym).build().unwrap();
        let w = faer::col![0.5, -0.25];
        assert_eq!(p.objective(w.as_ref(), 0.1), q.objective(w.as_ref(), 0.1));
        assert!((p.x_mean()[1] - 13.0 / 3.0).abs() < 1e-15);
    }
}
