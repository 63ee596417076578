//! k-fold cross-validation (see the parent module).
//!
//! **Folds.** [`Folds`] assigns every sample to one of k folds: a seeded shuffle of balanced
//! labels (glmnet's `sample(rep(1:k, length = n))`), contiguous blocks (scikit-learn's
//! `KFold()`), or ids given by the user (glmnet's `foldid`).
//!
//! **Ridge, exact and in one pass over X** ([`ridge`], [`ridge_targets`]). The statistics of
//! each fold — S_k, x̄_k, ȳ_k and the centred co-moments C_xx, C_xy, C_yy ([`Moments`]) — are
//! accumulated in one pass over X ([`fold_moments`]). The training statistics of fold k are the
//! *merge* of the other folds' statistics (Chan–Golub–LeVeque, exact in exact arithmetic),
//! never the total minus the fold, which would cancel; prefix merges P_j = M_0 ⊕ … ⊕ M_j and
//! suffix merges Q_j = M_j ⊕ … ⊕ M_{k−1} give training set k as P_{k−1} ⊕ Q_{k+1} with 3k merges
//! in all, not k². For each λ the training system is
//!
//! ```text
//! (C_xx^train + S_train·λ·I)·w = C_xy^train,      b = ȳ_train − x̄_trainᵀw
//! ```
//!
//! (each refit normalised by its own weight S_train, the README's convention for λ), solved
//! from one eigendecomposition C_xx^train = V·diag(e)·Vᵀ per fold in O(d²) per λ when the
//! columns have similar scales and the shifted system is well conditioned, and otherwise by the
//! `cholesky` backend's equilibrated solve D·(C + S·λ·I)·D·v = D·C_xy, w = D·v (`Spectral`
//! says when each is used and why they are equally accurate there). The held-out error of fold k,
//! Σ_{i∈k} sᵢ(yᵢ − xᵢᵀw − b)² / S_k, comes from the fold's own statistics in O(d²):
//!
//! ```text
//! err_k = [C_yy − 2·wᵀC_xy + wᵀC_xx·w] / S_k + (ȳ_k − b − x̄_kᵀw)²
//! ```
//!
//! (the residuals split into their fold mean and the centred part, whose cross term is zero).
//!
//! **Accuracy of the held-out error.** The bracket is the weighted sum of squared centred
//! residuals computed by subtracting numbers of size C_yy: when the fit is nearly perfect
//! (err ≪ C_yy/S_k) it cancels, with a relative error of about ε·C_yy/(S_k·err). More precisely,
//! each co-moment carries a rounding error |δC_ab| ≲ γ·√(C_aa·C_bb) (Cauchy–Schwarz on a sum of
//! products), so the bracket is off by at most γ·(√C_yy + Σⱼ|wⱼ|·√C_jj)², and the mean term by
//! 2·|m|·γ·(|ȳ_k| + |b| + Σⱼ|x̄ⱼwⱼ|). We take γ = ε·(√n_k + d) — the usual √m growth of a
//! rounded sum of m terms, plus a worst-case d for the d-term dot products — as the estimate.
//! When the estimated relative error exceeds [`HELD_OUT_RTOL`] the error is recomputed from the
//! fold's rows (one read of them for all such λ together); [`KFold::recomputed`] counts how often.
//!
//! **Logistic** ([`logistic`]). No closed form: for each fold, a warm-started path
//! ([`super::path`]) with any logistic backend on the same X with the held-out rows' weights set
//! to zero (weight 0 ≡ a dropped row; no copy of X), then the held-out rows' mean log-loss and
//! misclassification rate, both weighted.
//!
//! **The curve** follows cv.glmnet (glmnet's R sources, `cvcompute` and `cv.elnet`/`cvstats`,
//! `grouped = TRUE`): with e_{k,λ} the held-out error of fold k and W_k = Σ_{i∈k} sᵢ its weight,
//!
//! ```text
//! mean(λ) = Σ_k W_k·e_{k,λ} / Σ_k W_k
//! se(λ)   = sqrt( [Σ_k W_k·(e_{k,λ} − mean(λ))² / Σ_k W_k] / (K − 1) )
//! ```
//!
//! and `lambda_1se` is the largest λ with mean ≤ min + se at the minimum ([`CvCurve`]).
//! cv.glmnet's logistic `deviance` is twice our mean log-loss and clamps p to [10⁻⁵, 1 − 10⁻⁵];
//! we do not clamp.

use faer::{Col, ColRef, Mat, MatRef, Par};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::linalg::dot;
use crate::logistic::LogisticProblem;
use crate::loss::log1p_exp_neg;
use crate::moments::{GramSystem, Moments};
use crate::multi::MultiRidgeProblem;
use crate::problem::RidgeProblem;
use crate::select::CvCurve;
use crate::select::path::{check_grid, logistic_fits};
use crate::solvers::cholesky::factor;
use crate::solvers::{SolverInfo, SolverOptions};

/// The held-out error from a fold's statistics is used when its estimated relative rounding
/// error is at most this; otherwise it is recomputed from the fold's rows (module docs).
pub const HELD_OUT_RTOL: f64 = 1e-6;

/// The name the k-fold refits report in errors (the `cholesky` backend's solve).
const NAME: &str = "kfold:cholesky";

/// Rows of X sorted by fold at a time when the folds are not contiguous: enough that each of
/// 10 folds gets ~800 rows per block (the moment routine's products run near full speed), few
/// enough that the buffer (6.5 MB at d = 100) stays small next to X.
const SWEEP_ROWS: usize = 8192;
/// Rows gathered at a time to evaluate held-out rows from X.
const GATHER_ROWS: usize = 2048;

/// An assignment of n samples to k ≥ 2 non-empty folds 0 … k−1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Folds {
    ids: Vec<usize>,
    k: usize,
}

impl Folds {
    /// k folds of sizes ⌊n/k⌋ or ⌈n/k⌉, assigned by a shuffle seeded with `seed` (ChaCha8): the
    /// labels 0, 1, …, k−1, 0, 1, … permuted at random, as glmnet's
    /// `sample(rep(seq(nfolds), length = N))`. The same (n, k, seed) gives the same folds on
    /// every machine.
    pub fn shuffled(n_samples: usize, k: usize, seed: u64) -> Result<Self> {
        check_k(n_samples, k)?;
        let mut ids: Vec<usize> = (0..n_samples).map(|i| i % k).collect();
        ids.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
        Ok(Self { ids, k })
    }

    /// k contiguous folds in sample order, the first n mod k of them one sample larger
    /// (scikit-learn's `KFold(k)` without shuffling). Their statistics are computed on views of
    /// X, without gathering rows.
    pub fn contiguous(n_samples: usize, k: usize) -> Result<Self> {
        check_k(n_samples, k)?;
        let (q, r) = (n_samples / k, n_samples % k);
        let ids = (0..k)
            .flat_map(|f| std::iter::repeat_n(f, q + usize::from(f < r)))
            .collect();
        Ok(Self { ids, k })
    }

    /// Folds given as one id per sample (glmnet's `foldid`). The distinct ids, in increasing
    /// order, become folds 0 … k−1 — so 0-based ids are kept and glmnet's 1-based ones are
    /// shifted, and no fold is empty. Fails with fewer than two distinct ids.
    pub fn from_ids(ids: &[usize]) -> Result<Self> {
        let mut distinct = ids.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < 2 {
            return Err(Error::invalid(
                "fold ids",
                format!(
                    "{} distinct id{}",
                    distinct.len(),
                    if distinct.len() == 1 { "" } else { "s" }
                ),
                "at least two distinct fold ids (k ≥ 2 folds), one id per sample",
            ));
        }
        let k = distinct.len();
        let ids = if distinct[k - 1] == k - 1 {
            ids.to_vec()
        } else {
            ids.iter()
                // Every id is in `distinct`, which is sorted: the search cannot miss.
                .map(|id| distinct.binary_search(id).unwrap_or(0))
                .collect()
        };
        Ok(Self { ids, k })
    }

    /// k, the number of folds.
    pub fn k(&self) -> usize {
        self.k
    }
    /// n, the number of samples.
    pub fn n_samples(&self) -> usize {
        self.ids.len()
    }
    /// The fold of each sample (0 … k−1).
    pub fn ids(&self) -> &[usize] {
        &self.ids
    }
    /// The samples of fold `f`, in increasing order.
    pub fn members(&self, f: usize) -> Vec<usize> {
        (0..self.ids.len()).filter(|&i| self.ids[i] == f).collect()
    }

    /// (first row, length) of each fold when every fold is one contiguous range of rows.
    fn ranges(&self) -> Option<Vec<(usize, usize)>> {
        let mut ranges = vec![(usize::MAX, 0usize); self.k];
        for (i, &f) in self.ids.iter().enumerate() {
            let (first, len) = &mut ranges[f];
            if *len == 0 {
                *first = i;
            } else if *first + *len != i {
                return None;
            }
            *len += 1;
        }
        Some(ranges)
    }
}

fn check_k(n: usize, k: usize) -> Result<()> {
    if k < 2 || k > n {
        return Err(Error::invalid(
            "k",
            k,
            format!("a number of folds from 2 to the number of samples ({n}), e.g. 5 or 10"),
        ));
    }
    Ok(())
}

/// One measure of held-out error along the grid: the curve and the per-fold values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    /// Mean and standard error over folds, and the λ they select.
    pub curve: CvCurve,
    /// `fold_errors[k][j]`: the held-out error of fold k at the j-th λ.
    pub fold_errors: Vec<Vec<f64>>,
}

/// The result of k-fold cross-validation over a grid of λ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KFold {
    /// Method `"kfold"`: the weight-averaged mean over folds of the held-out errors (ridge: the
    /// weighted mean squared error; logistic: the weighted mean log-loss), cv.glmnet's standard
    /// error, `lambda_min` and `lambda_1se` (module docs).
    pub curve: CvCurve,
    /// `fold_errors[k][j]`: the held-out error of fold k at the j-th λ.
    pub fold_errors: Vec<Vec<f64>>,
    /// W_k = Σ_{i∈k} sᵢ, the weight of each fold in the mean.
    pub fold_weights: Vec<f64>,
    /// Logistic: the weighted misclassification rate of the held-out rows (a sample is
    /// predicted positive when xᵀw + b > 0), averaged as the main curve.
    pub misclassification: Option<Measure>,
    /// Ridge: how many (fold, λ, target) held-out errors were recomputed from the fold's rows
    /// because the statistics' estimate was not accurate enough ([`HELD_OUT_RTOL`]).
    pub recomputed: usize,
    /// Ridge from statistics alone ([`ridge_from_fold_moments`], no rows to recompute from):
    /// how many held-out errors kept their statistics' estimate although its estimated
    /// relative error exceeds [`HELD_OUT_RTOL`] (a nearly perfect fit); 0 otherwise.
    #[serde(default)]
    pub inexact: usize,
    /// The refits' iterations summed over folds and λ (0 for ridge's direct solves).
    pub iterations: usize,
}

/// The statistics ([`Moments`]) of (X, y) on each fold's rows, centred when the problem fits an
/// intercept, in one pass over X (module docs).
///
/// Contiguous folds are computed on views of X. Otherwise X is swept once in blocks of 8192
/// rows, each block copied into a buffer sorted by fold (one such buffer per thread, 8192 × d),
/// each fold's slice accumulated, and the blocks' statistics merged along a fixed tree. The
/// result depends only on the data and the fold ids — not on the thread count.
pub fn fold_moments(problem: &RidgeProblem<'_>, folds: &Folds) -> Result<Vec<Moments>> {
    let data = Data::of(problem, problem.y().as_mat());
    check_folds(&data, folds)?;
    Ok(data.fold_moments(folds))
}

/// Exact k-fold cross-validation of ridge over `lambdas` from one pass over X (module docs).
///
/// Fails on an invalid grid, folds for another n, a fold of zero total weight, and a training
/// system the `cholesky` backend refuses (λ = 0 with dependent columns, or too ill-conditioned
/// for its minimum digits: use a larger λ).
pub fn ridge(problem: &RidgeProblem<'_>, lambdas: &[f64], folds: &Folds) -> Result<KFold> {
    let data = Data::of(problem, problem.y().as_mat());
    let mut out = ridge_cv(&data, lambdas, folds)?;
    // One target: the vector has exactly one entry.
    Ok(out.swap_remove(0))
}

/// [`ridge`] for every target of a multi-target problem at once: the fold statistics carry the
/// k targets, each λ is one factorisation per fold for all of them, and each target gets its
/// own curve and so its own `lambda_min` and `lambda_1se`. The problem's own λ are not used.
pub fn ridge_targets(
    problem: &MultiRidgeProblem<'_>,
    lambdas: &[f64],
    folds: &Folds,
) -> Result<Vec<KFold>> {
    let y = problem.y_matrix();
    let base = problem.target(0);
    let data = Data::of(&base, y.as_ref());
    ridge_cv(&data, lambdas, folds)
}

/// [`ridge_targets`] from per-fold statistics accumulated elsewhere — a file streamed once
/// (`tikhonov::stream::fold_moments`), other machines — with `fold_rows[k]` the number of rows
/// of fold k (for the rounding estimate of the held-out errors). Every target of the moments
/// gets its curve. Without the rows, a held-out error whose estimate from the statistics is not
/// accurate to [`HELD_OUT_RTOL`] cannot be recomputed: it is kept and counted in
/// [`KFold::inexact`].
///
/// Fails on an invalid grid, fewer than two folds, statistics of different shapes, a fold of
/// zero weight, and a training system the `cholesky` backend refuses.
pub fn ridge_from_fold_moments(
    fold_stats: &[Moments],
    fold_rows: &[usize],
    lambdas: &[f64],
) -> Result<Vec<KFold>> {
    check_grid(lambdas)?;
    let k = fold_stats.len();
    if k < 2 || fold_rows.len() != k {
        return Err(Error::invalid(
            "folds",
            format!("{k} fold statistics and {} row counts", fold_rows.len()),
            "at least two folds, each with its statistics and its number of rows",
        ));
    }
    let first = &fold_stats[0];
    if fold_stats.iter().any(|m| {
        (m.n_features(), m.n_targets(), m.centred())
            != (first.n_features(), first.n_targets(), first.centred())
    }) {
        return Err(Error::ShapeMismatch {
            what: "the folds' statistics differ in features, targets or centring".into(),
        });
    }
    cv_from_fold_moments(fold_stats, fold_rows, None, lambdas, Par::rayon(0))
}

/// k-fold cross-validation of logistic regression over `lambdas` with the backend `info`
/// (built from `options`): for each fold a warm-started path on the training rows (the held-out
/// rows weighted zero), then the held-out weighted mean log-loss (the curve) and
/// misclassification rate. Fails as [`super::path::logistic_path`] does, on folds for another n,
/// on a fold of zero weight, and when a training set holds only one class.
pub fn logistic(
    info: &SolverInfo,
    options: &SolverOptions,
    problem: &LogisticProblem<'_>,
    lambdas: &[f64],
    folds: &Folds,
) -> Result<KFold> {
    check_grid(lambdas)?;
    let p = problem.data();
    let data = Data::of(p, p.y().as_mat());
    check_folds(&data, folds)?;
    let (n, k, nl) = (p.n_samples(), folds.k(), lambdas.len());
    let mut loss = vec![vec![0.0; nl]; k];
    let mut wrong = vec![vec![0.0; nl]; k];
    let mut fold_weights = vec![0.0; k];
    let mut iterations = 0;
    for f in 0..k {
        let rows = folds.members(f);
        fold_weights[f] = rows.iter().map(|&i| p.weight(i)).sum();
        if fold_weights[f] <= 0.0 {
            return Err(zero_weight_fold(f));
        }
        let train_weights: Vec<f64> = (0..n)
            .map(|i| if folds.ids[i] == f { 0.0 } else { p.weight(i) })
            .collect();
        let train = problem.reweighted(ColRef::from_slice(&train_weights))?;
        let fits = logistic_fits(info, options, &train, lambdas)?;
        iterations += fits.iter().map(|f| f.iterations).sum::<usize>();
        let coef = Mat::from_fn(p.n_features(), nl, |j, l| fits[l].coef[j]);
        let intercepts = Col::from_fn(nl, |l| fits[l].intercept);
        let y = p.y();
        margins_of_rows(
            p.x(),
            &rows,
            coef.as_ref(),
            intercepts.as_ref(),
            p.par(),
            |chunk, m| {
                for (r, &i) in chunk.iter().enumerate() {
                    let s = p.weight(i);
                    for l in 0..nl {
                        let margin = m[(r, l)];
                        loss[f][l] += s * log1p_exp_neg(y[i] * margin);
                        if (margin > 0.0) != (y[i] > 0.0) {
                            wrong[f][l] += s;
                        }
                    }
                }
            },
        );
        for l in 0..nl {
            loss[f][l] /= fold_weights[f];
            wrong[f][l] /= fold_weights[f];
        }
    }
    Ok(KFold {
        curve: glmnet_curve(lambdas, &loss, &fold_weights),
        misclassification: Some(Measure {
            curve: glmnet_curve(lambdas, &wrong, &fold_weights),
            fold_errors: wrong,
        }),
        fold_errors: loss,
        fold_weights,
        recomputed: 0,
        inexact: 0,
        iterations,
    })
}

/// The curve of per-fold errors `errors[k][j]` with fold weights W_k, by cv.glmnet's formulas
/// (module docs): mean = Σ W_k·e_k / Σ W_k, se = sqrt(Σ W_k·(e_k − mean)²/Σ W_k / (K − 1)).
pub fn glmnet_curve(lambdas: &[f64], errors: &[Vec<f64>], fold_weights: &[f64]) -> CvCurve {
    let total: f64 = fold_weights.iter().sum();
    let k = errors.len() as f64;
    let mut mean = Vec::with_capacity(lambdas.len());
    let mut se = Vec::with_capacity(lambdas.len());
    for j in 0..lambdas.len() {
        let m = errors
            .iter()
            .zip(fold_weights)
            .map(|(e, w)| w * e[j])
            .sum::<f64>()
            / total;
        let var = errors
            .iter()
            .zip(fold_weights)
            .map(|(e, w)| w * (e[j] - m) * (e[j] - m))
            .sum::<f64>()
            / total;
        mean.push(m);
        se.push((var / (k - 1.0)).sqrt());
    }
    CvCurve::new("kfold", lambdas.to_vec(), mean, Some(se))
}

/// The data cross-validation reads: X, the targets (n × t), the weights, centring, threads.
struct Data<'a> {
    x: MatRef<'a, f64>,
    y: MatRef<'a, f64>,
    s: Option<ColRef<'a, f64>>,
    centred: bool,
    par: Par,
}

impl<'a> Data<'a> {
    fn of(problem: &RidgeProblem<'a>, y: MatRef<'a, f64>) -> Self {
        Self {
            x: problem.x(),
            y,
            s: problem.weights(),
            centred: problem.fit_intercept(),
            par: problem.par(),
        }
    }

    fn weight(&self, i: usize) -> f64 {
        self.s.map_or(1.0, |s| s[i])
    }

    /// See [`fold_moments`].
    fn fold_moments(&self, folds: &Folds) -> Vec<Moments> {
        match folds.ranges() {
            Some(ranges) => ranges
                .iter()
                .map(|&(first, len)| {
                    Moments::compute(
                        self.x.subrows(first, len),
                        self.y.subrows(first, len),
                        self.s.map(|s| s.subrows(first, len)),
                        self.centred,
                        self.par,
                    )
                })
                .collect(),
            None => self.gathered_moments(folds),
        }
    }

    /// One sweep over X in blocks of [`SWEEP_ROWS`] rows from row 0; each block's rows are
    /// copied into a buffer sorted by fold, and every fold's share accumulated from its slice.
    /// The blocks' per-fold statistics are merged along a fixed balanced binary tree, as
    /// `Moments::compute` merges its own blocks: threads only decide which subtrees run at the
    /// same time, so the result is the same for every thread count.
    fn gathered_moments(&self, folds: &Folds) -> Vec<Moments> {
        let blocks = self.x.nrows().div_ceil(SWEEP_ROWS);
        let threads = self.par.degree().min(blocks);
        let spawn_depth = threads.next_power_of_two().trailing_zeros();
        self.sweep(folds, 0, blocks, spawn_depth, &mut None)
    }

    /// The per-fold statistics of blocks `lo .. hi`: see [`Data::gathered_moments`]. The left
    /// half reuses the caller's buffer; a right half run as a separate task makes its own.
    fn sweep(
        &self,
        folds: &Folds,
        lo: usize,
        hi: usize,
        spawn_depth: u32,
        buf: &mut Option<SortedRows>,
    ) -> Vec<Moments> {
        if hi - lo <= 1 {
            let n = self.x.nrows();
            let start = lo * SWEEP_ROWS;
            let len = SWEEP_ROWS.min(n - start);
            let buf = buf.get_or_insert_with(|| SortedRows::new(SWEEP_ROWS.min(n), self));
            return buf.fold_moments(self, folds, start, len);
        }
        let mid = lo + (hi - lo) / 2;
        let (mut left, right) = if spawn_depth > 0 {
            rayon::join(
                || self.sweep(folds, lo, mid, spawn_depth - 1, buf),
                || self.sweep(folds, mid, hi, spawn_depth - 1, &mut None),
            )
        } else {
            let left = self.sweep(folds, lo, mid, 0, buf);
            (left, self.sweep(folds, mid, hi, 0, buf))
        };
        left.iter_mut().zip(&right).for_each(|(l, r)| l.merge(r));
        left
    }
}

/// Copies src[r] to dst[pos[r]] for each row r of a block.
fn scatter(src: ColRef<'_, f64>, pos: &[usize], dst: &mut [f64]) {
    match src.try_as_col_major() {
        Some(src) => {
            for (&v, &p) in src.as_slice().iter().zip(pos) {
                dst[p] = v;
            }
        }
        None => {
            for (v, &p) in src.iter().zip(pos) {
                dst[p] = *v;
            }
        }
    }
}

/// A block of rows of (X, Y, s) reordered so that each fold's rows are contiguous.
struct SortedRows {
    x: Mat<f64>,
    y: Mat<f64>,
    s: Vec<f64>,
    /// Where row r of the block goes.
    pos: Vec<usize>,
}

impl SortedRows {
    fn new(cap: usize, data: &Data<'_>) -> Self {
        Self {
            x: Mat::zeros(cap, data.x.ncols()),
            y: Mat::zeros(cap, data.y.ncols()),
            s: if data.s.is_some() {
                vec![0.0; cap]
            } else {
                Vec::new()
            },
            pos: vec![0; cap],
        }
    }

    /// The statistics of each fold's rows among rows `start .. start + len` of `data`.
    fn fold_moments(
        &mut self,
        data: &Data<'_>,
        folds: &Folds,
        start: usize,
        len: usize,
    ) -> Vec<Moments> {
        let ids = &folds.ids[start..start + len];
        let mut first = vec![0usize; folds.k() + 1];
        ids.iter().for_each(|&f| first[f + 1] += 1);
        for f in 0..folds.k() {
            first[f + 1] += first[f];
        }
        let mut next = first.clone();
        for (p, &f) in self.pos.iter_mut().zip(ids) {
            *p = next[f];
            next[f] += 1;
        }
        let pos = &self.pos[..len];
        for j in 0..data.x.ncols() {
            scatter(
                data.x.col(j).subrows(start, len),
                pos,
                self.x.col_as_slice_mut(j),
            );
        }
        for c in 0..data.y.ncols() {
            scatter(
                data.y.col(c).subrows(start, len),
                pos,
                self.y.col_as_slice_mut(c),
            );
        }
        if let Some(s) = data.s {
            scatter(s.subrows(start, len), pos, &mut self.s);
        }
        (0..folds.k())
            .map(|f| {
                let (a, m) = (first[f], first[f + 1] - first[f]);
                Moments::compute(
                    self.x.as_ref().subrows(a, m),
                    self.y.as_ref().subrows(a, m),
                    data.s.map(|_| ColRef::from_slice(&self.s[a..a + m])),
                    data.centred,
                    Par::Seq,
                )
            })
            .collect()
    }
}

fn check_folds(data: &Data<'_>, folds: &Folds) -> Result<()> {
    if folds.n_samples() != data.x.nrows() {
        return Err(Error::ShapeMismatch {
            what: format!(
                "the folds assign {} samples but X has {} rows",
                folds.n_samples(),
                data.x.nrows()
            ),
        });
    }
    Ok(())
}

fn zero_weight_fold(f: usize) -> Error {
    Error::InvalidWeights {
        reason: format!(
            "fold {f} has total weight 0, so its held-out error Σsᵢrᵢ²/Σsᵢ is undefined; give \
             every fold a sample of positive weight (other fold ids or another seed)"
        ),
    }
}

/// The training statistics of every fold: fold k's is the merge of all the others', from
/// prefix merges P_j = M_0 ⊕ … ⊕ M_j and suffix merges Q_j = M_j ⊕ … ⊕ M_{k−1} (3k merges).
fn training_moments(folds: &[Moments]) -> Vec<Moments> {
    let k = folds.len();
    let mut prefix: Vec<Moments> = Vec::with_capacity(k);
    for m in folds {
        let mut p = prefix
            .last()
            .cloned()
            .unwrap_or_else(|| Moments::zeros(m.n_features(), m.n_targets(), m.centred()));
        p.merge(m);
        prefix.push(p);
    }
    let mut suffix: Vec<Moments> = Vec::with_capacity(k);
    for m in folds.iter().rev() {
        let mut q = suffix
            .last()
            .cloned()
            .unwrap_or_else(|| Moments::zeros(m.n_features(), m.n_targets(), m.centred()));
        q.merge(m);
        suffix.push(q);
    }
    suffix.reverse();
    (0..k)
        .map(|f| {
            let mut t = match f {
                0 => Moments::zeros(
                    folds[0].n_features(),
                    folds[0].n_targets(),
                    folds[0].centred(),
                ),
                _ => prefix[f - 1].clone(),
            };
            if f + 1 < k {
                t.merge(&suffix[f + 1]);
            }
            t
        })
        .collect()
}

/// A fold's held-out errors `[target][λ]`, how many of each target's were recomputed, and how
/// many were kept inexact (no rows to recompute them from).
type FoldOutcome = (Vec<Vec<f64>>, Vec<usize>, Vec<usize>);

/// k-fold CV of every target of `data` (one [`KFold`] per target).
fn ridge_cv(data: &Data<'_>, lambdas: &[f64], folds: &Folds) -> Result<Vec<KFold>> {
    check_grid(lambdas)?;
    check_folds(data, folds)?;
    let fold_stats = data.fold_moments(folds);
    let sizes: Vec<usize> = (0..folds.k())
        .map(|f| folds.ids.iter().filter(|&&g| g == f).count())
        .collect();
    cv_from_fold_moments(&fold_stats, &sizes, Some((data, folds)), lambdas, data.par)
}

/// The CV of [`ridge_cv`] from the folds' statistics; `rows`, when present, recomputes the
/// held-out errors the statistics cannot give accurately.
fn cv_from_fold_moments(
    fold_stats: &[Moments],
    sizes: &[usize],
    rows: Option<(&Data<'_>, &Folds)>,
    lambdas: &[f64],
    par: Par,
) -> Result<Vec<KFold>> {
    if let Some(f) = fold_stats.iter().position(|m| m.weight_sum() <= 0.0) {
        return Err(zero_weight_fold(f));
    }
    let train = training_moments(fold_stats);
    let k = fold_stats.len();
    let one_fold = |f: usize| fold_errors(rows, f, &fold_stats[f], &train[f], sizes[f], lambdas);
    // Folds are independent and each is computed sequentially, so the results do not depend
    // on how they are spread over threads.
    let per_fold: Vec<Result<FoldOutcome>> = if par.degree() > 1 {
        (0..k).into_par_iter().map(one_fold).collect()
    } else {
        (0..k).map(one_fold).collect()
    };
    let per_fold = per_fold.into_iter().collect::<Result<Vec<_>>>()?;
    let fold_weights: Vec<f64> = fold_stats.iter().map(|m| m.weight_sum()).collect();
    Ok((0..fold_stats[0].n_targets())
        .map(|t| {
            let errors: Vec<Vec<f64>> = per_fold.iter().map(|(e, _, _)| e[t].clone()).collect();
            KFold {
                curve: glmnet_curve(lambdas, &errors, &fold_weights),
                fold_errors: errors,
                fold_weights: fold_weights.clone(),
                misclassification: None,
                recomputed: per_fold.iter().map(|(_, r, _)| r[t]).sum(),
                inexact: per_fold.iter().map(|(_, _, x)| x[t]).sum(),
                iterations: 0,
            }
        })
        .collect())
}

/// Fold f's held-out errors `[target][λ]` of the refits on the other folds, from the fold's
/// statistics, recomputed from its rows (`source`, when given) where those are not accurate
/// enough (module docs), with how many of each target's were recomputed and kept inexact.
fn fold_errors(
    source: Option<(&Data<'_>, &Folds)>,
    f: usize,
    fold: &Moments,
    train: &Moments,
    rows: usize,
    lambdas: &[f64],
) -> Result<FoldOutcome> {
    let (d, t) = (fold.n_features(), fold.n_targets());
    let xx = fold.xx_symmetric();
    let root_diag: Vec<f64> = (0..d).map(|j| xx[(j, j)].max(0.0).sqrt()).collect();
    let gamma = f64::EPSILON * ((rows as f64).sqrt() + d as f64);
    let mut errors = vec![vec![0.0; lambdas.len()]; t];
    // (λ index, target, w, b) of the errors to recompute from the rows.
    let mut pending: Vec<(usize, usize, Col<f64>, f64)> = Vec::new();
    let spectral = Spectral::of(train);
    for (l, &lambda) in lambdas.iter().enumerate() {
        let shift = train.weight_sum() * lambda;
        let (w, b) = match spectral.as_ref().and_then(|sp| sp.solve(shift)) {
            Some(w) => {
                let b = train.intercepts(w.as_ref());
                (w, b)
            }
            None => {
                let system = GramSystem::with_shift(train.clone(), shift);
                let factor =
                    factor(NAME, system.a.as_ref(), Par::Seq).map_err(|e| e.in_context(lambda))?;
                system.unscale(factor.solve(system.rhs.as_ref()).as_ref())
            }
        };
        for c in 0..t {
            let (err, rel) =
                held_out_from_moments(fold, xx.as_ref(), &root_diag, c, w.col(c), b[c], gamma);
            // Without rows the estimate is all there is (counted as inexact below).
            errors[c][l] = err;
            if rel > HELD_OUT_RTOL {
                pending.push((l, c, w.col(c).to_owned(), b[c]));
            }
        }
    }
    let mut recomputed = vec![0; t];
    let mut inexact = vec![0; t];
    let Some((data, folds)) = source else {
        pending.iter().for_each(|p| inexact[p.1] += 1);
        return Ok((errors, recomputed, inexact));
    };
    if !pending.is_empty() {
        let members = folds.members(f);
        let coef = Mat::from_fn(d, pending.len(), |j, p| pending[p].2[j]);
        let intercepts = Col::from_fn(pending.len(), |p| pending[p].3);
        let mut sums = vec![0.0; pending.len()];
        margins_of_rows(
            data.x,
            &members,
            coef.as_ref(),
            intercepts.as_ref(),
            Par::Seq,
            |chunk, m| {
                for (r, &i) in chunk.iter().enumerate() {
                    let s = data.weight(i);
                    for (p, sum) in sums.iter_mut().enumerate() {
                        let resid = data.y[(i, pending[p].1)] - m[(r, p)];
                        *sum += s * resid * resid;
                    }
                }
            },
        );
        for (p, (l, c, _, _)) in pending.iter().enumerate() {
            errors[*c][*l] = sums[p] / fold.weight_sum();
        }
    }
    pending.iter().for_each(|p| recomputed[p.1] += 1);
    Ok((errors, recomputed, inexact))
}

/// A training Gram matrix diagonalised once, C = V·diag(e)·Vᵀ, so that the system
/// (C + μ·I)·w = C_xy of every λ (μ = S·λ) costs O(d²): w = V·diag(1/(e + μ))·VᵀC_xy.
///
/// The eigendecomposition's backward error is ε‖C‖ in norm, so its solution is as accurate as
/// the equilibrated Cholesky's only when the columns have similar scales: with
/// r = max Cⱼⱼ / min Cⱼⱼ, κ(C + μI) ≤ r·κ(D(C + μI)D) for the equilibrating D. It is used when
/// r ≤ [`Spectral::MAX_SCALE_RATIO`] and, per λ, when r·κ(C + μI) ≤ [`Spectral::MAX_CONDITION`]
/// (8 digits promised either way); any other λ goes to the `cholesky` solve, which also makes
/// every refusal (λ = 0 with dependent columns, too ill-conditioned) exactly as before.
struct Spectral {
    /// Eigenvalues, ascending.
    e: Vec<f64>,
    v: Mat<f64>,
    /// VᵀC_xy (d × t).
    z: Mat<f64>,
    scale_ratio: f64,
}

impl Spectral {
    /// Columns whose squared norms differ by more than this go to Cholesky (at most 16× the
    /// equilibrated solve's error bound).
    const MAX_SCALE_RATIO: f64 = 16.0;
    /// The largest r·κ(C + μI) solved from the eigendecomposition: κ·ε ≈ 2e-8.
    const MAX_CONDITION: f64 = 1e8;

    fn of(train: &Moments) -> Option<Self> {
        let c = train.xx_symmetric();
        let diag = (0..c.nrows()).map(|j| c[(j, j)]);
        let (lo, hi) = diag.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let scale_ratio = hi / lo;
        if !(lo > 0.0 && scale_ratio <= Self::MAX_SCALE_RATIO) {
            return None;
        }
        let evd = c.self_adjoint_eigen(faer::Side::Lower).ok()?;
        let v = evd.U().to_owned();
        let e: Vec<f64> = evd.S().column_vector().iter().copied().collect();
        let z = v.transpose() * train.xy();
        Some(Self {
            e,
            v,
            z,
            scale_ratio,
        })
    }

    /// w for the shift μ, or `None` when this λ must go to the Cholesky solve.
    fn solve(&self, shift: f64) -> Option<Mat<f64>> {
        // faer returns the eigenvalues in nondecreasing order.
        let (low, high) = (self.e[0] + shift, self.e[self.e.len() - 1] + shift);
        if !(low > 0.0 && self.scale_ratio * high <= Self::MAX_CONDITION * low) {
            return None;
        }
        let scaled = Mat::from_fn(self.z.nrows(), self.z.ncols(), |j, t| {
            self.z[(j, t)] / (self.e[j] + shift)
        });
        Some(&self.v * scaled)
    }
}

/// The held-out error of target `t` for (w, b) from a fold's statistics, and the estimated
/// relative rounding error of that value (module docs); `xx` is C_xx with both triangles,
/// `root_diag` its √C_jj, `gamma` the rounding unit γ.
fn held_out_from_moments(
    fold: &Moments,
    xx: MatRef<'_, f64>,
    root_diag: &[f64],
    t: usize,
    w: ColRef<'_, f64>,
    b: f64,
    gamma: f64,
) -> (f64, f64) {
    let s = fold.weight_sum();
    let cw = xx * w;
    let cyy = fold.yy()[t];
    let bracket = cyy - 2.0 * dot(w, fold.xy().col(t)) + dot(w, cw.as_ref());
    // Zero without an intercept: the statistics are then raw sums and b = 0.
    let x_mean_w = dot(fold.x_mean(), w);
    let mean = fold.y_mean()[t] - b - x_mean_w;
    let err = bracket.max(0.0) / s + mean * mean;
    let spread = cyy.max(0.0).sqrt()
        + w.iter()
            .zip(root_diag)
            .map(|(w, r)| w.abs() * r)
            .sum::<f64>();
    let offset = fold.y_mean()[t].abs()
        + b.abs()
        + w.iter()
            .zip(fold.x_mean().iter())
            .map(|(w, m)| (w * m).abs())
            .sum::<f64>();
    let bound = gamma * (spread * spread / s + 2.0 * mean.abs() * offset);
    let rel = if err > 0.0 {
        bound / err
    } else if bound > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    (err, rel)
}

/// The margins m = Xw + b of the rows `rows` of X (in that order) for each column of `coef`
/// (d × L, intercepts `intercepts`), gathered [`GATHER_ROWS`] rows at a time (the copy is at
/// most that many rows of X) and handed to `each` as (the block's row indices, their margins).
fn margins_of_rows(
    x: MatRef<'_, f64>,
    rows: &[usize],
    coef: MatRef<'_, f64>,
    intercepts: ColRef<'_, f64>,
    par: Par,
    mut each: impl FnMut(&[usize], MatRef<'_, f64>),
) {
    let (d, l) = (x.ncols(), coef.ncols());
    let block = GATHER_ROWS.min(rows.len());
    let mut buf = Mat::<f64>::zeros(block, d);
    let mut m = Mat::<f64>::zeros(block, l);
    for chunk in rows.chunks(GATHER_ROWS) {
        let len = chunk.len();
        gather_rows(x, chunk, buf.as_mut().subrows_mut(0, len));
        let mut out = m.as_mut().subrows_mut(0, len);
        for c in 0..l {
            out.as_mut()
                .col_mut(c)
                .iter_mut()
                .for_each(|v| *v = intercepts[c]);
        }
        faer::linalg::matmul::matmul(
            out.as_mut(),
            faer::Accum::Add,
            buf.as_ref().subrows(0, len),
            coef,
            1.0,
            par,
        );
        each(chunk, m.as_ref().subrows(0, len));
    }
}

/// Copies the rows `rows` of X into `out` (rows.len() × d), column by column.
fn gather_rows(x: MatRef<'_, f64>, rows: &[usize], mut out: faer::MatMut<'_, f64>) {
    for j in 0..x.ncols() {
        let src = x.col(j);
        let dst = out.as_mut().col_mut(j);
        match src.try_as_col_major() {
            Some(s) => {
                let s = s.as_slice();
                dst.iter_mut().zip(rows).for_each(|(o, &i)| *o = s[i]);
            }
            None => dst.iter_mut().zip(rows).for_each(|(o, &i)| *o = src[i]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_balanced_validated_and_remapped() {
        let f = Folds::shuffled(103, 10, 7).unwrap();
        assert_eq!((f.k(), f.n_samples()), (10, 103));
        let sizes: Vec<usize> = (0..10).map(|k| f.members(k).len()).collect();
        assert!(sizes.iter().all(|&s| s == 10 || s == 11), "{sizes:?}");
        assert_eq!(f, Folds::shuffled(103, 10, 7).unwrap());
        assert_ne!(f, Folds::shuffled(103, 10, 8).unwrap());
        assert!(f.ranges().is_none());
        let c = Folds::contiguous(10, 3).unwrap();
        assert_eq!(c.ids(), &[0, 0, 0, 0, 1, 1, 1, 2, 2, 2]);
        assert_eq!(c.ranges(), Some(vec![(0, 4), (4, 3), (7, 3)]));
        // glmnet's 1-based ids and gaps are remapped in order.
        let g = Folds::from_ids(&[3, 1, 1, 7, 3]).unwrap();
        assert_eq!((g.k(), g.ids()), (3, &[1, 0, 0, 2, 1][..]));
        assert_eq!(Folds::from_ids(&[1, 0, 1]).unwrap().ids(), &[1, 0, 1]);
        assert!(Folds::from_ids(&[2, 2, 2]).is_err());
        assert!(Folds::from_ids(&[]).is_err());
        assert!(Folds::shuffled(10, 1, 0).is_err());
        assert!(Folds::contiguous(3, 4).is_err());
    }

    #[test]
    fn training_statistics_are_the_merge_of_the_other_folds() {
        let (n, d) = (90, 3);
        let x = Mat::from_fn(n, d, |i, j| 50.0 + ((i * (j + 2)) % 17) as f64 * 0.3);
        let y = Mat::from_fn(n, 1, |i, _| ((i * 7) % 11) as f64);
        let folds = Folds::shuffled(n, 4, 1).unwrap();
        let data = Data {
            x: x.as_ref(),
            y: y.as_ref(),
            s: None,
            centred: true,
            par: Par::Seq,
        };
        let per_fold = data.fold_moments(&folds);
        let train = training_moments(&per_fold);
        for (f, t) in train.iter().enumerate() {
            let rows: Vec<usize> = (0..n).filter(|&i| folds.ids()[i] != f).collect();
            let xs = Mat::from_fn(rows.len(), d, |r, j| x[(rows[r], j)]);
            let ys = Mat::from_fn(rows.len(), 1, |r, _| y[(rows[r], 0)]);
            let direct = Moments::compute(xs.as_ref(), ys.as_ref(), None, true, Par::Seq);
            assert_eq!(t.weight_sum(), direct.weight_sum());
            let scale = direct.xx().norm_l2();
            assert!((t.xx() - direct.xx()).norm_l2() < 1e-12 * scale, "fold {f}");
            assert!((t.xy() - direct.xy()).norm_l2() < 1e-12 * direct.xy().norm_l2());
            assert!((t.x_mean() - direct.x_mean()).norm_l2() < 1e-13 * 50.0);
        }
    }

    #[test]
    fn the_spectral_solve_matches_cholesky_where_it_is_used_and_defers_elsewhere() {
        let (n, d) = (400, 5);
        let mut x = Mat::from_fn(n, d, |i, j| (((i * (2 * j + 3)) % 29) as f64 - 14.0) / 7.0);
        let y = Mat::from_fn(n, 1, |i, _| ((i * 13) % 23) as f64);
        let m = Moments::compute(x.as_ref(), y.as_ref(), None, true, Par::Seq);
        let spectral = Spectral::of(&m).expect("columns of similar scale");
        let top = m.xx().norm_l2();
        for shift in [1e-3 * top, 1e-6 * top, 0.0] {
            let w = spectral.solve(shift).expect("well conditioned");
            let system = GramSystem::with_shift(m.clone(), shift);
            let chol = factor(NAME, system.a.as_ref(), Par::Seq).unwrap();
            let (wc, _) = system.unscale(chol.solve(system.rhs.as_ref()).as_ref());
            assert!(
                (&w - &wc).norm_l2() < 1e-12 * wc.norm_l2(),
                "shift {shift:e}"
            );
        }
        // A nearly dependent pair of columns at μ = 0: deferred to Cholesky (which refuses it).
        let mut dependent = x.clone();
        for i in 0..n {
            dependent[(i, 1)] = dependent[(i, 0)] * (1.0 + 1e-12 * (i % 2) as f64);
        }
        let md = Moments::compute(dependent.as_ref(), y.as_ref(), None, true, Par::Seq);
        assert!(Spectral::of(&md).unwrap().solve(0.0).is_none());
        // A column 100× larger than the others: squared norms 10⁴ apart, Cholesky only.
        x.col_mut(2).iter_mut().for_each(|v| *v *= 100.0);
        let ms = Moments::compute(x.as_ref(), y.as_ref(), None, true, Par::Seq);
        assert!(Spectral::of(&ms).is_none());
    }

    #[test]
    fn the_rounding_estimate_covers_the_error_of_the_statistics() {
        use crate::refine::Dd;
        let (n, d) = (2000, 6);
        // (noise, whether the statistics resolve the held-out error to HELD_OUT_RTOL)
        for (noise, resolved) in [(1.0, true), (1e-3, true), (1e-5, false), (1e-8, false)] {
            let g = crate::data::Synthetic {
                n_samples: n,
                n_features: d,
                condition: 10.0,
                noise,
                offset: 10.0,
                intercept: 3.0,
                seed: 4,
            }
            .generate()
            .unwrap();
            let data = Data {
                x: g.x.as_ref(),
                y: g.y.as_mat(),
                s: None,
                centred: true,
                par: Par::Seq,
            };
            let folds = Folds::shuffled(n, 4, 0).unwrap();
            let stats = data.fold_moments(&folds);
            let train = training_moments(&stats);
            let system = GramSystem::from_moments(train[0].clone(), 1e-12);
            let v = factor(NAME, system.a.as_ref(), Par::Seq)
                .unwrap()
                .solve(system.rhs.as_ref());
            let (w, b) = system.unscale(v.as_ref());
            let xx = stats[0].xx_symmetric();
            let root: Vec<f64> = (0..d).map(|j| xx[(j, j)].sqrt()).collect();
            let rows = folds.members(0);
            let gamma = f64::EPSILON * ((rows.len() as f64).sqrt() + d as f64);
            let (err, rel) =
                held_out_from_moments(&stats[0], xx.as_ref(), &root, 0, w.col(0), b[0], gamma);
            // The reference: residuals and their squares summed in double-double.
            let mut sum = Dd::new(0.0);
            for &i in &rows {
                let mut r = Dd::new(g.y[i]) + Dd::new(-b[0]);
                for j in 0..d {
                    r = r.add_prod(-g.x[(i, j)], w[(j, 0)]);
                }
                let r = r.to_f64();
                sum = sum.add_prod(r, r);
            }
            let reference = sum.to_f64() / rows.len() as f64;
            let actual = (err - reference).abs() / reference;
            assert!(
                actual <= rel,
                "noise {noise}: error {actual:.1e} > estimate {rel:.1e}"
            );
            assert_eq!(rel <= HELD_OUT_RTOL, resolved, "noise {noise}: {rel:.1e}");
        }
    }
}
