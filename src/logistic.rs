//! L2-regularised logistic regression: the labels of a binary problem and the problem itself.
//!
//! ```text
//! J(w, b) = (1/S)·Σᵢ sᵢ·log(1 + exp(−ỹᵢ·(xᵢᵀw + b))) + (λ/2)·‖w‖²,      ỹᵢ ∈ {−1, +1}
//! ```
//!
//! with the intercept unpenalised, as for ridge. scikit-learn's `LogisticRegression(C)` (solvers
//! lbfgs, newton-cg, newton-cholesky, sag, saga) is this problem with C = 1/(λ·S); summed-loss
//! libraries (linfa, smartcore) use α = λ·n.
//!
//! Labels come as any two distinct values — 0/1, −1/+1, two strings — and [`BinaryLabels`] maps
//! them to ỹ ∈ {−1, +1} in ascending order (numbers by value, strings by bytes), which is
//! scikit-learn's `classes_` order: the larger value is the positive class, whose probability a
//! model's [`Model::predict_proba`](crate::Model::predict_proba) gives. The mapping travels with
//! the fitted model ([`Model::labels`](crate::Model::labels)).
//!
//! ```
//! use tikhonov::logistic::{BinaryLabels, LogisticProblem};
//! use tikhonov::solvers::{Newton, Solver};
//!
//! // One feature; the label flips around x = 1.5, with one sample on the wrong side.
//! let x = [0.0, 1.0, 1.2, 2.0, 3.0, 1.4];
//! let labels = BinaryLabels::from_strings(&["ham", "ham", "spam", "spam", "spam", "ham"])?;
//! assert_eq!(labels.classes(), &["ham".to_owned(), "spam".to_owned()]);
//! let problem = LogisticProblem::from_row_major(&x, 6, 1, &labels)?.lambda(1e-3).build()?;
//! let fit = Newton::default().solve_logistic(&problem)?;
//! assert!(fit.converged && fit.coef[0] > 0.0);
//! let p = fit.predict_proba(tikhonov::faer::mat![[3.0]].as_ref())?;
//! assert!(p[0] > 0.9); // P(spam | x = 3)
//! # Ok::<(), tikhonov::Error>(())
//! ```

use faer::{Col, ColRef, MatRef, Par};

use crate::error::{Error, Result};
use crate::fit::{Judge, Model};
use crate::loss::Logistic;
use crate::problem::{RidgeProblem, RidgeProblemBuilder};
use crate::risk::EmpiricalRisk;

/// Two-class labels mapped to ỹ ∈ {−1, +1}, and the names of the two classes.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryLabels {
    signs: Col<f64>,
    classes: [String; 2],
}

impl BinaryLabels {
    /// Labels given as numbers (0/1, −1/+1, 1/2, …): exactly two distinct finite values, the
    /// smaller becoming ỹ = −1. A class is named by its value printed as Rust prints an f64
    /// (`0`, `1`, `-1`, `2.5`).
    pub fn from_values(y: ColRef<'_, f64>) -> Result<Self> {
        if let Some((i, v)) = y.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(Error::NonFinite {
                what: "labels",
                position: format!("row {i}"),
                value: *v,
            });
        }
        let classes = two_classes(y.iter().copied(), |a, b| a.total_cmp(b), |v| format!("{v}"))?;
        let negative = classes.0;
        let signs = Col::from_fn(y.nrows(), |i| if y[i] == negative { -1.0 } else { 1.0 });
        Ok(Self {
            signs,
            classes: classes.1,
        })
    }

    /// Labels given as strings (e.g. a CSV column): exactly two distinct values, the one that
    /// sorts first (by bytes) becoming ỹ = −1.
    pub fn from_strings<S: AsRef<str>>(labels: &[S]) -> Result<Self> {
        let classes = two_classes(
            labels.iter().map(|s| s.as_ref()),
            |a, b| a.cmp(b),
            |s| s.to_owned(),
        )?;
        let negative = classes.0;
        let signs = Col::from_fn(labels.len(), |i| {
            if labels[i].as_ref() == negative {
                -1.0
            } else {
                1.0
            }
        });
        Ok(Self {
            signs,
            classes: classes.1,
        })
    }

    /// Labels read as text (a CSV column): numbers when every label is one, else strings.
    ///
    /// When every label parses as a decimal number (`0`/`1`, `-1`/`1`, `9`/`10`) they are
    /// [`BinaryLabels::from_values`], so the classes are ordered by value (`10` after `9`, and
    /// `1` and `1.0` are one class); NaN and ±∞ among such numbers are refused as missing values,
    /// as the readers refuse them in features. Otherwise (`yes`/`no`, or numbers mixed with words)
    /// they are [`BinaryLabels::from_strings`], ordered by bytes.
    pub fn from_text<S: AsRef<str>>(labels: &[S]) -> Result<Self> {
        let numbers: Option<Vec<f64>> = labels
            .iter()
            .map(|s| s.as_ref().trim().parse::<f64>().ok())
            .collect();
        match numbers {
            Some(v) => Self::from_values(Col::from_fn(v.len(), |i| v[i]).as_ref()),
            None => Self::from_strings(labels),
        }
    }

    /// ỹ ∈ {−1, +1} for every sample.
    pub fn signs(&self) -> ColRef<'_, f64> {
        self.signs.as_ref()
    }

    /// The original labels of ỹ = −1 and ỹ = +1, in that order.
    pub fn classes(&self) -> &[String; 2] {
        &self.classes
    }

    /// n, the number of labels.
    pub fn len(&self) -> usize {
        self.signs.nrows()
    }

    /// Whether there are no labels (never true for labels that were built successfully).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The two distinct values of `values` in ascending order (and their names), or an error that
/// says what was found instead.
fn two_classes<T: Copy + PartialEq>(
    values: impl Iterator<Item = T>,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
    name: impl Fn(T) -> String,
) -> Result<(T, [String; 2])> {
    let mut seen: Vec<T> = Vec::with_capacity(3);
    let mut count = 0usize;
    for v in values {
        count += 1;
        if !seen.contains(&v) {
            seen.push(v);
            if seen.len() > 2 {
                let found: Vec<String> = seen.iter().map(|&v| quoted(&name(v))).collect();
                return Err(Error::InvalidLabels {
                    reason: format!(
                        "found more than two distinct labels ({}, …); logistic regression here \
                         is binary: merge the classes into two, or fit one class against the \
                         rest",
                        found.join(", ")
                    ),
                });
            }
        }
    }
    match seen.as_mut_slice() {
        [] => Err(Error::Empty {
            what: "there are no labels".into(),
        }),
        [only] => Err(Error::InvalidLabels {
            reason: format!(
                "all {count} labels are {}; a classifier needs samples of both classes",
                quoted(&name(*only))
            ),
        }),
        pair => {
            pair.sort_by(&cmp);
            Ok((pair[0], [name(pair[0]), name(pair[1])]))
        }
    }
}

fn quoted(text: &str) -> String {
    format!("`{}`", crate::error::quote_text(text, 40))
}

/// A validated L2-regularised logistic regression problem that borrows its data.
///
/// It is a [`RidgeProblem`] whose targets are the signs ỹ (so it shares the design, the
/// validation and the λ-free cache with ridge) plus the class names, and it is solved by any
/// backend whose [`Solver::solve_logistic`](crate::solvers::Solver::solve_logistic) is
/// implemented: `newton` (the reference), `auto`, and the loss-generic iterative backends.
#[derive(Debug, Clone)]
pub struct LogisticProblem<'a> {
    data: RidgeProblem<'a>,
    classes: [String; 2],
}

/// Builder for [`LogisticProblem`]: λ, the intercept, weights, parallelism, then `build`.
#[derive(Debug, Clone)]
#[must_use = "call .build() to validate the problem"]
pub struct LogisticProblemBuilder<'a> {
    data: RidgeProblemBuilder<'a>,
    labels: &'a BinaryLabels,
}

impl<'a> LogisticProblem<'a> {
    /// Starts a problem from a faer view of X (n × d) and the labels. Defaults as for
    /// [`RidgeProblem::builder`]: intercept on, no weights, all cores, λ = 1 until you set it.
    pub fn builder(x: MatRef<'a, f64>, labels: &'a BinaryLabels) -> LogisticProblemBuilder<'a> {
        LogisticProblemBuilder {
            data: RidgeProblem::builder(x, labels.signs()),
            labels,
        }
    }

    /// Starts a problem from a row-major slice of `n_samples × n_features` values.
    pub fn from_row_major(
        x: &'a [f64],
        n_samples: usize,
        n_features: usize,
        labels: &'a BinaryLabels,
    ) -> Result<LogisticProblemBuilder<'a>> {
        let x = crate::problem::row_major(x, n_samples, n_features)?;
        Ok(Self::builder(x, labels))
    }

    /// Starts a problem from nalgebra's column-major `DMatrix`, without copying.
    pub fn from_nalgebra(
        x: &'a nalgebra::DMatrix<f64>,
        labels: &'a BinaryLabels,
    ) -> LogisticProblemBuilder<'a> {
        let x = MatRef::from_column_major_slice(x.as_slice(), x.nrows(), x.ncols());
        Self::builder(x, labels)
    }

    /// The data as a problem whose targets are the signs ỹ ∈ {−1, +1}: X, the weights, the
    /// intercept, λ and the λ-free cache.
    pub fn data(&self) -> &RidgeProblem<'a> {
        &self.data
    }

    /// The original labels of ỹ = −1 and ỹ = +1.
    pub fn classes(&self) -> &[String; 2] {
        &self.classes
    }

    /// The penalty λ.
    pub fn lambda(&self) -> f64 {
        self.data.lambda()
    }

    /// n.
    pub fn n_samples(&self) -> usize {
        self.data.n_samples()
    }

    /// d.
    pub fn n_features(&self) -> usize {
        self.data.n_features()
    }

    /// The same data with another λ, sharing every λ-free computation.
    pub fn with_lambda(&self, lambda: f64) -> Result<Self> {
        Ok(Self {
            data: self.data.with_lambda(lambda)?,
            classes: self.classes.clone(),
        })
    }

    /// The objective as iterative methods see it, θ = (w, b̃) on centred rows.
    pub fn risk(&self) -> EmpiricalRisk<'_, Logistic> {
        EmpiricalRisk::new(&self.data, Logistic)
    }

    /// J(w, b).
    pub fn objective(&self, w: ColRef<'_, f64>, b: f64) -> f64 {
        self.risk().objective_and_gradient_norm(w, b).0
    }

    /// ‖∇J(w, b)‖₂ over w and, when fitted, b.
    pub fn gradient_norm(&self, w: ColRef<'_, f64>, b: f64) -> f64 {
        self.risk().objective_and_gradient_norm(w, b).1
    }

    /// ∇J(w, b) = ((1/S)·Σ sᵢ·(pᵢ − yᵢ)·xᵢ + λw, (1/S)·Σ sᵢ·(pᵢ − yᵢ)) with yᵢ ∈ {0, 1} and
    /// pᵢ = σ(xᵢᵀw + b); ∂_b J = 0 without an intercept. Computed on centred rows
    /// (θ = (w, b + x̄ᵀw)) and mapped back: ∇_w J = ∇_w f + x̄·∂_b f.
    pub fn gradient(&self, w: ColRef<'_, f64>, b: f64) -> (Col<f64>, f64) {
        use crate::objective::Objective;
        let risk = self.risk();
        let theta = risk.join(w, b);
        let mut g = Col::zeros(theta.nrows());
        risk.value_gradient(theta.as_ref(), g.as_mut());
        let d = self.n_features();
        if !self.data.fit_intercept() {
            return (g, 0.0);
        }
        let gb = g[d];
        let mean = self.data.x_mean();
        (Col::from_fn(d, |j| g[j] + mean[j] * gb), gb)
    }
}

impl Judge for LogisticProblem<'_> {
    fn model(&self, coef: Col<f64>, intercept: f64) -> Model {
        Model {
            labels: Some(self.classes.clone()),
            ..self.risk().model(coef, intercept)
        }
    }
    fn objective_and_gradient_norm(&self, coef: ColRef<'_, f64>, intercept: f64) -> (f64, f64) {
        self.risk().objective_and_gradient_norm(coef, intercept)
    }
    fn n_features(&self) -> usize {
        self.data.n_features()
    }
}

impl<'a> LogisticProblemBuilder<'a> {
    /// Sets the penalty λ ≥ 0 (scikit-learn's `LogisticRegression(C)` is C = 1/(λ·S)). At λ = 0
    /// separable classes have no minimiser, which the backends report as an error.
    pub fn lambda(mut self, lambda: f64) -> Self {
        self.data = self.data.lambda(lambda);
        self
    }
    /// Fits an unpenalised intercept (default) or forces the decision boundary through the
    /// origin.
    pub fn intercept(mut self, intercept: bool) -> Self {
        self.data = self.data.intercept(intercept);
        self
    }
    /// Sample weights sᵢ ≥ 0; weight 2 is the same as a duplicated row.
    pub fn weights(mut self, weights: ColRef<'a, f64>) -> Self {
        self.data = self.data.weights(weights);
        self
    }
    /// Parallelism for the dense kernels (default: all cores).
    pub fn par(mut self, par: Par) -> Self {
        self.data = self.data.par(par);
        self
    }

    /// Validates as [`RidgeProblemBuilder::build`] does, and that both classes carry weight.
    pub fn build(self) -> Result<LogisticProblem<'a>> {
        let data = self.data.build()?;
        LogisticProblem::from_data(data, self.labels.classes().clone())
    }
}

impl<'a> LogisticProblem<'a> {
    /// The problem on validated data whose targets are the signs, once both classes are found to
    /// carry weight.
    fn from_data(data: RidgeProblem<'a>, classes: [String; 2]) -> Result<Self> {
        let mut weight = [0.0f64; 2];
        for (i, &y) in data.y().iter().enumerate() {
            weight[usize::from(y > 0.0)] += data.weight(i);
        }
        if let Some(empty) = weight.iter().position(|&w| w <= 0.0) {
            return Err(Error::InvalidLabels {
                reason: format!(
                    "every sample of class {} has weight zero, so only one class is left; give \
                     both classes positive weight",
                    quoted(&classes[empty])
                ),
            });
        }
        Ok(LogisticProblem { data, classes })
    }

    /// The same X, labels, intercept setting, λ and parallelism with other sample weights,
    /// validated as by the builder: the training problem of a cross-validation fold is the
    /// problem with the held-out rows' weights set to zero (weight 0 ≡ the row dropped), without
    /// a copy of X. Used by `select::kfold`.
    pub(crate) fn reweighted<'b>(&self, weights: ColRef<'b, f64>) -> Result<LogisticProblem<'b>>
    where
        'a: 'b,
    {
        let d = &self.data;
        let data = RidgeProblem::builder(d.x(), d.y())
            .weights(weights)
            .intercept(d.fit_intercept())
            .par(d.par())
            .lambda(d.lambda())
            .build()?;
        LogisticProblem::from_data(data, self.classes.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_map_in_ascending_order_and_name_their_classes() {
        let y = Col::from_fn(5, |i| [1.0, 0.0, 0.0, 1.0, 1.0][i]);
        let l = BinaryLabels::from_values(y.as_ref()).unwrap();
        assert_eq!(l.classes(), &["0".to_owned(), "1".to_owned()]);
        assert_eq!(l.signs()[0], 1.0);
        assert_eq!(l.signs()[1], -1.0);
        let y = Col::from_fn(3, |i| [1.0, -1.0, 1.0][i]);
        let l = BinaryLabels::from_values(y.as_ref()).unwrap();
        assert_eq!(l.classes(), &["-1".to_owned(), "1".to_owned()]);
        let l = BinaryLabels::from_strings(&["yes", "no", "yes"]).unwrap();
        assert_eq!(l.classes(), &["no".to_owned(), "yes".to_owned()]);
        assert_eq!(l.signs()[1], -1.0);
        assert_eq!(l.len(), 3);
    }

    #[test]
    fn text_labels_are_numbers_when_every_one_is_a_number() {
        // Numeric order, not byte order: `9` is the negative class.
        let l = BinaryLabels::from_text(&["10", "9", "10", " 9"]).unwrap();
        assert_eq!(l.classes(), &["9".to_owned(), "10".to_owned()]);
        assert_eq!(
            l.signs().iter().copied().collect::<Vec<_>>(),
            [1.0, -1.0, 1.0, -1.0]
        );
        // `1` and `1.0` are the same number, hence one class.
        let l = BinaryLabels::from_text(&["0", "1.0", "1"]).unwrap();
        assert_eq!(l.classes(), &["0".to_owned(), "1".to_owned()]);
        // One word makes them all strings, ordered by bytes.
        let l = BinaryLabels::from_text(&["10", "9", "x9"]);
        assert!(l.unwrap_err().to_string().contains("more than two"));
        let l = BinaryLabels::from_text(&["yes", "no", "yes"]).unwrap();
        assert_eq!(l.classes(), &["no".to_owned(), "yes".to_owned()]);
        let l = BinaryLabels::from_text(&["10", "9", "10", "9a"]);
        assert!(l.is_err());
        let l = BinaryLabels::from_text(&["b10", "a9"]).unwrap();
        assert_eq!(l.classes(), &["a9".to_owned(), "b10".to_owned()]);
        // A missing value among numbers is refused, not made a class.
        assert!(matches!(
            BinaryLabels::from_text(&["0", "NaN", "1"]),
            Err(Error::NonFinite { .. })
        ));
        assert!(BinaryLabels::from_text::<&str>(&[]).is_err());
    }

    #[test]
    fn bad_labels_are_errors_that_say_what_was_found() {
        let y = Col::from_fn(4, |i| i as f64);
        let e = BinaryLabels::from_values(y.as_ref())
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than two") && e.contains("`2`"), "{e}");
        let e = BinaryLabels::from_strings(&["a", "a"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("all 2 labels are `a`"), "{e}");
        let y = Col::from_fn(2, |i| [0.0, f64::NAN][i]);
        assert!(matches!(
            BinaryLabels::from_values(y.as_ref()),
            Err(Error::NonFinite { .. })
        ));
        assert!(BinaryLabels::from_strings::<&str>(&[]).is_err());
        // Both classes present, but one weighted out.
        let l = BinaryLabels::from_strings(&["a", "b", "a"]).unwrap();
        let x = [1.0, 2.0, 3.0];
        let s = Col::from_fn(3, |i| [1.0, 0.0, 1.0][i]);
        let e = LogisticProblem::from_row_major(&x, 3, 1, &l)
            .unwrap()
            .weights(s.as_ref())
            .build()
            .unwrap_err()
            .to_string();
        assert!(e.contains("class `b` has weight zero"), "{e}");
    }
}
