//! Choosing λ: regularisation paths, k-fold cross-validation, exact leave-one-out and GCV.
//!
//! Conventions (README, "Choosing λ"): every refit — a fold's training set, a left-out sample's
//! complement — minimises the crate's objective on its own samples with the same λ, normalised by
//! their own weight (S_train = S − S_fold, or S − sᵢ). This is glmnet's convention; scikit-learn's
//! `RidgeCV` keeps α = λ·S fixed instead (an O(1/n) difference), which [`loo`] offers as an option.
//!
//! - [`grid`]: the default λ grid, from the effective degrees of freedom
//!   df(λ) = Σⱼ σⱼ²/(σⱼ² + S·λ).
//! - [`path`]: fits along a grid of λ with any backend, sharing the λ-free work and warm-starting
//!   the iterative backends.
//! - [`kfold`]: k-fold cross-validation; for ridge exact and in one pass over X (per-fold moments
//!   merged), for logistic with warm-started paths per fold.
//! - [`loo`]: exact leave-one-out and GCV for ridge from one decomposition.
//!
//! Every method reports a [`CvCurve`]: per λ the mean held-out error and its standard error, and
//! the λ chosen by the minimum and by glmnet's one-standard-error rule.

pub mod grid;
pub mod kfold;
pub mod loo;
pub mod path;

use serde::{Deserialize, Serialize};

/// A cross-validation curve over a grid of λ and the λ it selects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvCurve {
    /// How the errors were estimated: `"kfold"`, `"loo"` or `"gcv"`.
    pub method: String,
    /// The grid, in the order given (the default grid is decreasing, as glmnet's).
    pub lambdas: Vec<f64>,
    /// The estimated prediction error at each λ: the weight-averaged mean over folds of the
    /// held-out error (k-fold), the weighted mean of the squared LOO residuals (LOO), or GCV(λ).
    pub mean: Vec<f64>,
    /// Its standard error (k-fold and LOO; `None` for GCV, which has none).
    pub se: Option<Vec<f64>>,
    /// The λ of the smallest mean error.
    pub lambda_min: f64,
    /// glmnet's rule: the largest λ whose mean error ≤ min + its standard error (= `lambda_min`
    /// without standard errors).
    pub lambda_1se: f64,
}

impl CvCurve {
    /// Builds the curve and selects λ: `lambda_min` minimises `mean` (the first such λ in grid
    /// order on ties), `lambda_1se` is the largest λ with mean ≤ mean_min + se_min.
    pub fn new(method: &str, lambdas: Vec<f64>, mean: Vec<f64>, se: Option<Vec<f64>>) -> Self {
        debug_assert_eq!(lambdas.len(), mean.len());
        let best = (0..mean.len())
            .min_by(|&a, &b| mean[a].total_cmp(&mean[b]))
            .unwrap_or(0);
        let lambda_min = lambdas.get(best).copied().unwrap_or(f64::NAN);
        let lambda_1se = match &se {
            Some(se) => {
                let limit = mean[best] + se[best];
                (0..mean.len())
                    .filter(|&i| mean[i] <= limit)
                    .map(|i| lambdas[i])
                    .fold(lambda_min, f64::max)
            }
            None => lambda_min,
        };
        Self {
            method: method.to_owned(),
            lambdas,
            mean,
            se,
            lambda_min,
            lambda_1se,
        }
    }

    /// Whether `lambda_min` is the largest or the smallest λ of the grid: the minimum may lie
    /// outside it, and the grid should be extended.
    pub fn at_edge(&self) -> bool {
        let (lo, hi) = self
            .lambdas
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &l| {
                (lo.min(l), hi.max(l))
            });
        self.lambdas.len() > 1 && (self.lambda_min == lo || self.lambda_min == hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_one_standard_error_rule_picks_the_largest_lambda_within_one_se_of_the_minimum() {
        let lambdas = vec![10.0, 1.0, 0.1, 0.01];
        let mean = vec![5.0, 2.05, 2.0, 2.2];
        let se = vec![0.1, 0.1, 0.1, 0.1];
        let c = CvCurve::new("kfold", lambdas.clone(), mean.clone(), Some(se));
        assert_eq!(c.lambda_min, 0.1);
        assert_eq!(c.lambda_1se, 1.0);
        assert!(!c.at_edge());
        let g = CvCurve::new("gcv", lambdas, vec![1.0, 2.0, 3.0, 4.0], None);
        assert_eq!((g.lambda_min, g.lambda_1se), (10.0, 10.0));
        assert!(g.at_edge());
    }
}
