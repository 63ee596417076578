//! Losses of a linear prediction, one file each.
//!
//! A loss is the function φ(m; y) of a prediction m = xᵀw + b and a target y; the objective of
//! every problem in this crate is
//!
//! ```text
//! J(w, b) = (1/S)·Σᵢ sᵢ·φ(xᵢᵀw + b; yᵢ) + (λ/2)·‖w‖²
//! ```
//!
//! and [`crate::risk::EmpiricalRisk`] turns any [`Loss`] into an
//! [`Objective`](crate::objective::Objective) that every loss-generic backend (gd, agd, lbfgs,
//! sgd, sag, saga, svrg) minimises. Adding a loss is one file here implementing [`Loss`]; no
//! backend changes.

mod logistic;
mod squared;

pub use logistic::{Logistic, log1p_exp_neg, sigmoid};
pub use squared::Squared;

use serde::{Deserialize, Serialize};

/// The loss a model was fitted for, which says how its linear predictor m = xᵀw + b is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// ½(y − m)²: the prediction is m itself.
    #[default]
    Squared,
    /// log(1 + exp(−ỹ·m)), ỹ ∈ {−1, +1}: m is the log-odds of the positive label.
    Logistic,
}

impl LossKind {
    /// The name used on the command line and in JSON: `squared`, `logistic`.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Squared => "squared",
            LossKind::Logistic => "logistic",
        }
    }
}

/// A convex, twice differentiable loss φ(m; y) of a prediction m.
pub trait Loss: Copy + Send + Sync + 'static {
    /// What a fitted model's linear predictor means under this loss.
    fn kind(&self) -> LossKind;
    /// φ(m; y).
    fn value(&self, m: f64, y: f64) -> f64;
    /// φ'(m; y) = ∂φ/∂m.
    fn derivative(&self, m: f64, y: f64) -> f64;
    /// φ''(m; y) = ∂²φ/∂m².
    fn curvature(&self, m: f64, y: f64) -> f64;
    /// sup over m and y of φ'' (1 for the squared loss, ¼ for the logistic loss): with it the
    /// smoothness of the objective follows from the design alone.
    fn max_curvature(&self) -> f64;
    /// inf over m and y of φ'' (1 for the squared loss, 0 for the logistic loss).
    fn min_curvature(&self) -> f64;
    /// Whether the prediction m is strictly on the right side of y in the sense that φ(t·m; y)
    /// decreases to inf φ as t → ∞ (for the logistic loss, ỹ·m > 0). If a point makes this true
    /// for every sample of positive weight, the data are separated: at λ = 0 scaling that point
    /// up lowers the objective forever, so no minimiser exists. Never true for the squared loss.
    fn separates(&self, _m: f64, _y: f64) -> bool {
        false
    }
}
