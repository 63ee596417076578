//! # tikhonov
//!
//! L2-regularised (ridge) regression with many solvers behind one trait, built to *compare*
//! them: every backend solves the same objective, is judged by the same diagnostics, and is tested
//! to agree with an orthogonal-factorisation reference.
//!
//! ## The objective
//!
//! ```text
//! J(w, b) = 1/(2S) · Σᵢ sᵢ (yᵢ − xᵢᵀw − b)²  +  (λ/2) · ‖w‖²          S = Σᵢ sᵢ  (= n without weights)
//! ```
//!
//! The intercept b is never penalised. With weighted means x̄, ȳ and centred Xc, yc the optimum
//! solves (XcᵀSXc + S·λ·I)·w = XcᵀS·yc and b = ȳ − x̄ᵀw.
//!
//! | other convention | its parameter | equals |
//! |---|---|---|
//! | scikit-learn `Ridge(alpha)` | α | λ·S |
//! | scikit-learn `SGDRegressor(penalty="l2", alpha)` | α | λ |
//! | scikit-learn `LogisticRegression(C)` | C | 1/(λ·S) |
//! | glmnet (gaussian, alpha = 0, standardize = FALSE) | lambda | λ·sd(y) (population, weighted) |
//! | 1/(2m)·RSS + λ'/(2m)·‖θ‖² | λ' | λ·n |
//!
//! ## Quick start
//!
//! ```
//! use tikhonov::{RidgeProblem, solvers::{self, Solver, SolverOptions}};
//!
//! // y = 1 + 2·x₁ − x₂, four samples, row-major.
//! let x = [0.0, 1.0,  1.0, 0.0,  2.0, 1.0,  3.0, 3.0];
//! let y = [0.0, 3.0,  4.0, 4.0];
//! let problem = RidgeProblem::from_row_major(&x, 4, 2, &y)?.lambda(1e-3).build()?;
//!
//! let fit = solvers::Cholesky.solve(&problem)?;
//! assert!((fit.coef[0] - 2.0).abs() < 1e-2 && (fit.intercept - 1.0).abs() < 1e-2);
//!
//! // Any registered backend, by name:
//! let gd = solvers::by_name("gd", &SolverOptions::default())?.solve(&problem)?;
//! assert!(gd.converged && gd.relative_error(fit.coef.as_ref()) < 1e-6);
//! # Ok::<(), tikhonov::Error>(())
//! ```
//!
//! ## Where things are
//!
//! docs/ARCHITECTURE.md in the repository has the layers, the data path, and how to add a loss
//! or a backend.
//!
//! - [`problem`]: [`RidgeProblem`] (a [`design::Design`] + y + λ), the objective, its gradient
//!   and the objective gap, written once; [`design`]: the λ-free work shared across λ and targets.
//! - [`fit`]: [`Model`] (what prediction needs) and [`Fit`] (a model and its diagnostics), both
//!   serde types; [`Fit::from_parts`] judges any backend's [`Solution`].
//! - [`moments`]: the one routine that forms the (centred, weighted) Gram system, blockwise and
//!   mergeable; [`sufficient`]: ridge from merged moments alone.
//! - [`solvers`]: the [`Solver`](solvers::Solver) and [`Minimiser`](solvers::Minimiser) traits,
//!   the registry, one file per backend; [`options`]: the options a user sets by name.
//! - [`loss`], [`objective`], [`risk`] and [`iterate`]: losses, what iterative methods see, the
//!   empirical risk of any loss, and the one driver that runs them.
//! - [`stochastic`]: seeded sampling and per-sample gradient memory shared by the stochastic
//!   backends.
//! - [`compare`]: run several solvers on one problem against a reference.
//! - [`data`]: CSV and `.npy` readers (features `csv` and `npy`), synthetic problems with a
//!   chosen condition number.
//! - `stream` (features `npy`, `csv`): ridge fits over files read in row blocks into merged
//!   moments, never holding X (data beyond memory).
//!
//! ## Cargo features
//!
//! | feature | default | brings | dependencies |
//! |---|---|---|---|
//! | `cli` | yes | the `tikhonov` binary (src/bin/tikhonov.rs); implies `csv` and `npy` | clap, serde_json |
//! | `csv` | yes | `data::read_csv`, `data::Dataset` | csv |
//! | `npy` | yes | `data::read_npy_matrix`, `read_npy_vector`, `write_npy_matrix`, `write_npy_vector` | npyz |
//!
//! A library dependent needs none of them: `tikhonov = { version = "0.1", default-features =
//! false }` keeps every solver, [`RidgeProblem`], [`compare`] and the synthetic data, and a
//! dependent then compiles 86 crates instead of 123 with the defaults (126 before these features
//! existed; README, "Using tikhonov as a library").
//!
//! ## Versions and conversion points
//!
//! faer is the crate's working linear algebra and nalgebra one accepted input, so their types
//! appear in public signatures. Both are re-exported: name them as [`tikhonov::faer`](faer) and
//! [`tikhonov::nalgebra`](nalgebra), and they are always the versions tikhonov was built with,
//! whatever your own `Cargo.toml` asks for (a different major version of either would otherwise
//! be a different crate, and passing its types fails with "multiple different versions of crate").
//!
//! - **faer** (`tikhonov::faer`): [`RidgeProblem::builder`]`(MatRef, ColRef)` and the builders'
//!   `weights(ColRef)` and `par(Par)`, [`MultiRidgeProblem::builder`]`(MatRef, MatRef)`, a fit's
//!   coefficients `fit.coef` (`Col<f64>`), `predict(MatRef)` and `relative_error(ColRef)`, the
//!   problem's accessors, objective and gradient, and the matrices [`data`] returns.
//! - **nalgebra** (`tikhonov::nalgebra`): only [`RidgeProblem::from_nalgebra`]`(&DMatrix<f64>,
//!   &DVector<f64>)`.
//! - **neither**: [`RidgeProblem::from_row_major`] takes plain slices, and a fit's coefficients
//!   can be read by index (`fit.coef[j]`) or copied out (`fit.coef.iter().copied().collect::<Vec<f64>>()`),
//!   so code that only passes slices never names either crate.
//!
//! ```
//! use tikhonov::faer::{Col, Mat};
//! use tikhonov::{RidgeProblem, solvers::{Qr, Solver}};
//!
//! let x = Mat::from_fn(4, 2, |i, j| [[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 3.0]][i][j]);
//! let y = Col::from_fn(4, |i| [0.0, 3.0, 4.0, 4.0][i]);
//! let problem = RidgeProblem::builder(x.as_ref(), y.as_ref()).lambda(1e-9).build()?;
//! let fit = Qr.solve(&problem)?;
//! let coef: Vec<f64> = fit.coef.iter().copied().collect();
//! assert!((coef[0] - 2.0).abs() < 1e-6 && (coef[1] + 1.0).abs() < 1e-6);
//! # Ok::<(), tikhonov::Error>(())
//! ```

#![warn(missing_docs)]

pub mod compare;
mod condition;
pub mod data;
#[cfg(feature = "datafusion")]
pub mod datafusion;
pub mod design;
pub mod error;
pub mod fit;
pub mod iterate;
mod linalg;
pub mod logistic;
pub mod loss;
pub mod moments;
pub mod multi;
pub mod objective;
pub mod options;
pub mod problem;
mod refine;
pub mod risk;
pub mod select;
pub mod sketch;
pub mod solvers;
pub mod state;
pub mod stochastic;
#[cfg(any(feature = "npy", feature = "csv"))]
pub mod stream;
pub mod sufficient;
#[cfg(any(feature = "npy", feature = "csv"))]
mod triangle;
mod tsqr;

pub use error::{Error, Result};
pub use fit::{Fit, LossKind, Model, Record, Solution};
pub use multi::{MultiRidgeProblem, MultiRidgeProblemBuilder};
pub use problem::{RidgeProblem, RidgeProblemBuilder};

// Re-exported because their types are in public signatures ("Versions and conversion points").
pub use faer;
pub use nalgebra;

/// The README's code blocks, compiled and run as doctests so the quick start cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
