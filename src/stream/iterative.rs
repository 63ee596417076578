//! Iterative backends on a stream: `cg`, `pcg`, `sketch-cg` and `gd` with every product read
//! from the files,
//! for designs whose d × d Gram matrix is itself too large to hold. Memory is O(d) vectors and
//! the block buffers: never a d × d matrix, never X.
//!
//! **Design: one objective that streams, the in-memory steps unchanged.** [`StreamedLeastSquares`]
//! is an [`Objective`] (src/objective.rs) whose every value, gradient and Hessian product is one
//! pass over the files, so the crate's driver (src/iterate.rs: the relative stopping rule
//! ‖∇f(wₖ)‖ ≤ tol·‖∇f(0)‖, `max_iter`, `time_limit`, history, observers) runs on it as on data
//! in memory. `gd` is the in-memory method itself ([`GradientDescent`] as a [`Minimiser`]): step
//! 1/L, L = σ_max(S^½Xc)²/S + λ from the same Lanczos iteration as in memory
//! (`objective::largest_eigenvalue`: one pass per product, until the residual bound is ≤ 1e-6
//! relative, at most 100; typically 15 to 30 passes). `cg` and `pcg` cannot be the in-memory
//! CGLS, which carries the residual r = b − A·w, an n-vector; they are CG on the normal
//! equations (`solvers::cg::QuadraticCg`, the same file, the same breakdown error and the same
//! honest stopping: the gradient that decides "converged" is recomputed from w by a pass of its
//! own, never only the recursively updated one):
//!
//! ```text
//! (XcᵀSXc + S·λ·I)·w = XcᵀS·yc,      i.e.  H·w = −∇f(0),   H = XcᵀSXc/S + λ·I
//! ```
//!
//! with f the profile objective of the README, f(w) = (1/(2S))·‖S^½(yc − Xc·w)‖² + (λ/2)‖w‖²
//! (as `LeastSquares`, so `tol` means what it means in memory). CG on H sees κ(H) = κ(A)² in its
//! rounding where CGLS sees κ(A): on an ill-conditioned design the attainable accuracy of the
//! streamed `cg` is about κ(H)·ε relative, and the direct streamed backends are the better choice
//! whenever d × d fits.
//!
//! **Passes.** Pass 0 reads the files once for S, the two-part means x̄, ȳ and the column
//! variances (the diagonal of XcᵀSXc, which the Jacobi preconditioner of `pcg` needs): each
//! block's [`Moments`] of the columns [X, Y] taken as targets, so the means and their merges are
//! those of src/moments.rs, O(d + k) numbers (no co-moments between columns). Then for each
//! target, every product is one pass: for each block B (rows scaled by √sᵢ and centred by the
//! two-part means, `linalg::write_centred_scaled`), t = S_B^½(B − 1x̄ᵀ)·v and the block's
//! (B − 1x̄ᵀ)ᵀS_B^½·t are formed while the block is in memory, and the blocks' sums are added in
//! file order (deterministic; the faer products split only over their outputs). A gradient is
//! the same pass with t replaced by the scaled residual S_B^½(yc_B − (B − 1x̄ᵀ)·w). So one
//! iteration of `cg`, `pcg`, `sketch-cg` or `gd` is one read of the file; `cg` adds the gradient at 0 (the
//! right-hand side, −∇f(0) = XcᵀS·yc/S) and a recomputed gradient every 50 iterations and at
//! the end; `gd` adds its Lanczos iteration. Each target is its own CG or gradient descent (its own
//! λ), sharing pass 0; [`StreamStats::passes`](super::StreamStats) counts every read and each
//! fit's `passes` the reads it needed (pass 0 included).
//!
//! **Errors.** [`Objective`]'s methods cannot return errors, so a read error (a truncated file, a
//! bad CSV cell) is kept by the objective, which from then on reads nothing and returns NaN; the
//! driver stops on the non-finite value, and the fit returns the read error (naming the row or
//! line), never a partial fit. The per-sample methods of [`Objective`] are never called: only
//! `gd`, `cg`, `pcg` and `sketch-cg` stream ([`super::check_backend`]).
//!
//! **`sketch-cg`** adds one pass after pass 0: each block's rows, centred by pass 0's means and
//! scaled by √(sᵢ/S), go into the sparse sign sketch at the places their row index and the seed
//! give (`crate::sketch::SparseSign`, as in memory), and R of [S·A; √λ·I] preconditions CG
//! (M = (RᵀR)⁻¹): the preconditioned H has condition number ≈ 3 whatever κ(Xc), so the
//! iterations, each a read of the file, no longer grow with the conditioning (22 passes to
//! 1e-8 on 100 000 × 100 at κ = 100, where `cg` reads the file 120 times). It holds the s × d
//! sketch (s = 4d) and R, so it is for d whose d × d fits.

use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::reborrow::ReborrowMut;
use faer::{Accum, Col, ColMut, ColRef, Mat, Par};

use super::{BlockReader, Streamed, check_lambdas, each_block};
use crate::error::{Error, Result};
use crate::fit::{Fit, Judge, Model, Solution};
use crate::iterate::{IterationControl, Outcome, run_from};
use crate::linalg::{dot, norm2, write_centred_scaled};
use crate::moments::Moments;
use crate::objective::{Objective, PassCounter, largest_eigenvalue};
use crate::sketch::SparseSign;
use crate::solvers::cg::{Metric, QuadraticCg, jacobi};
use crate::solvers::{GradientDescent, IterativeSettings, Minimiser, SolverOptions};

/// The streaming iterative backends.
pub(super) const ITERATIVE: [&str; 4] = ["cg", "pcg", "sketch-cg", "gd"];

/// Pass 0: S, the two-part means and the centred sums of squares of every column of [X, Y]
/// (the statistics of the columns taken as targets of a design with no features), each block's
/// merged in file order.
fn column_moments(reader: &mut BlockReader, centred: bool) -> Result<Moments> {
    let (d, k) = (reader.d, reader.k);
    let mut total = Moments::zeros(0, d + k, centred);
    let mut joined = Mat::<f64>::zeros(0, d + k);
    each_block(reader, |b| {
        let rows = b.x.nrows();
        if joined.nrows() < rows {
            joined = Mat::zeros(rows, d + k);
        }
        let mut view = joined.as_mut().subrows_mut(0, rows);
        view.rb_mut().subcols_mut(0, d).copy_from(b.x);
        view.rb_mut().subcols_mut(d, k).copy_from(b.y);
        let none = Mat::<f64>::zeros(rows, 0);
        total.merge(&Moments::compute(
            none.as_ref(),
            joined.as_ref().subrows(0, rows),
            b.weights,
            centred,
            Par::rayon(0),
        ));
        Ok(())
    })?;
    Ok(total)
}

/// What one pass sums over the rows.
struct PassSums {
    /// Σ sᵢrᵢ² (a gradient pass; 0 for a Hessian product).
    squares: f64,
    /// Σ sᵢrᵢ (a gradient pass).
    sum: f64,
    /// XcᵀS·r (a gradient pass, r = yc − Xc·w) or XcᵀS·Xc·v (a Hessian product).
    xt: Col<f64>,
}

/// The reader and the first read error, behind the objective's shared reference.
struct Stream<'r> {
    reader: &'r mut BlockReader,
    error: Option<Error>,
}

impl Stream<'_> {
    /// `Some(())` for a pass that read the files through, `None` after keeping its error.
    fn keep_error(&mut self, read: Result<()>) -> Option<()> {
        read.map_err(|e| self.error = Some(e)).ok()
    }
}

/// The point last evaluated by a gradient pass: (w, f(w), ∇f(w), ∂J/∂b at the optimal b).
type Evaluation = (Col<f64>, f64, Col<f64>, f64);

/// The ridge profile objective of one target of a stream, f(w) = (1/(2S))·‖S^½(yc − Xc·w)‖² +
/// (λ/2)‖w‖², every value, gradient and Hessian product one pass over the files: see the
/// [module docs](self).
pub(super) struct StreamedLeastSquares<'r, 'm> {
    stream: Mutex<Stream<'r>>,
    columns: &'m Moments,
    /// d and n (the rows of pass 0).
    d: usize,
    n: usize,
    target: usize,
    lambda: f64,
    deadline: Option<Instant>,
    smoothness: OnceLock<f64>,
    last: Mutex<Option<Evaluation>>,
    passes: PassCounter,
}

impl<'r, 'm> StreamedLeastSquares<'r, 'm> {
    /// Target `target` at λ, over `reader`, with pass 0's column statistics `columns`. The pass
    /// counter starts at 1: pass 0.
    fn new(
        reader: &'r mut BlockReader,
        columns: &'m Moments,
        target: usize,
        lambda: f64,
        deadline: Option<Instant>,
    ) -> Self {
        let passes = PassCounter::default();
        passes.add(1.0);
        let (d, n) = (reader.d, reader.stats.rows);
        Self {
            d,
            n,
            stream: Mutex::new(Stream {
                reader,
                error: None,
            }),
            columns,
            target,
            lambda,
            deadline,
            smoothness: OnceLock::new(),
            last: Mutex::new(None),
            passes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stream<'r>> {
        // A poisoned lock means a pass panicked; its state is a reader and an error, still usable.
        self.stream.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The stream for one more pass over the files (counted), or `None` once a pass has failed
    /// (nothing is read after a read error).
    fn open_pass(&self) -> Option<std::sync::MutexGuard<'_, Stream<'r>>> {
        let guard = self.lock();
        if guard.error.is_some() {
            return None;
        }
        self.passes.add(1.0);
        Some(guard)
    }

    /// The read error, if a pass failed.
    fn take_error(&self) -> Option<Error> {
        self.lock().error.take()
    }

    /// The diagonal of XcᵀSXc/S (for the Jacobi preconditioner).
    fn gram_diagonal(&self) -> impl Iterator<Item = f64> + '_ {
        let s = self.columns.weight_sum();
        (0..self.d).map(move |j| self.columns.yy()[j] / s)
    }

    /// One pass over the files: the residual sums at w (`residual`) or XcᵀS·Xc·v; `None` after a
    /// read error (kept for [`StreamedLeastSquares::take_error`]; nothing is read any more).
    fn pass(&self, v: ColRef<'_, f64>, residual: bool) -> Option<PassSums> {
        let mut guard = self.open_pass()?;
        let stream = &mut *guard;
        let d = self.d;
        let (xh, xl) = self.columns.y_mean_parts();
        let (xh, xl) = (xh.subrows(0, d), xl.subrows(0, d));
        let (yh, yl) = self.columns.y_mean_parts();
        let t = d + self.target;
        let (yh, yl) = (yh.subrows(t, 1), yl.subrows(t, 1));
        let mut sums = PassSums {
            squares: 0.0,
            sum: 0.0,
            xt: Col::zeros(d),
        };
        let (mut xc, mut r, mut yc, mut root) = (
            Mat::<f64>::zeros(0, d),
            Col::<f64>::zeros(0),
            Mat::<f64>::zeros(0, 1),
            Vec::new(),
        );
        let target = self.target;
        // Pass 0 has read the files to their end: every pass opens them anew.
        let reader = &mut *stream.reader;
        let read = reader.rewind().and_then(|()| {
            each_block(reader, |b| {
                let rows = b.x.nrows();
                if xc.nrows() < rows {
                    (xc, r, yc) = (Mat::zeros(rows, d), Col::zeros(rows), Mat::zeros(rows, 1));
                }
                let root = b.weights.map(|w| {
                    root.clear();
                    root.extend(w.iter().map(|s| s.sqrt()));
                    root.as_slice()
                });
                let mut xb = xc.as_mut().subrows_mut(0, rows);
                write_centred_scaled(b.x, (xh, xl), root, xb.rb_mut());
                let mut rb = r.as_mut().subrows_mut(0, rows);
                matmul(
                    rb.rb_mut().as_mat_mut(),
                    Accum::Replace,
                    xb.as_ref(),
                    v.as_mat(),
                    if residual { -1.0 } else { 1.0 },
                    Par::rayon(0),
                );
                if residual {
                    let mut ycb = yc.as_mut().subrows_mut(0, rows);
                    write_centred_scaled(b.y.subcols(target, 1), (yh, yl), root, ycb.rb_mut());
                    rb.rb_mut()
                        .iter_mut()
                        .zip(ycb.as_ref().col(0).iter())
                        .for_each(|(r, y)| *r += y);
                    sums.squares += rb.as_ref().squared_norm_l2();
                    sums.sum += match root {
                        Some(root) => rb
                            .as_ref()
                            .iter()
                            .zip(root)
                            .map(|(r, s)| r * s)
                            .sum::<f64>(),
                        None => rb.as_ref().iter().sum::<f64>(),
                    };
                }
                matmul(
                    sums.xt.as_mat_mut(),
                    Accum::Add,
                    xb.as_ref().transpose(),
                    rb.as_ref().as_mat(),
                    1.0,
                    Par::rayon(0),
                );
                Ok(())
            })
        });
        stream.keep_error(read)?;
        Some(sums)
    }

    /// R of [S·A; √λ·I] for the sparse sign sketch (`crate::sketch`) of the least-squares
    /// matrix A = diag(√(sᵢ/S))·(X − 1·x̄ᵀ), one pass (counted); `None` after a read error. The
    /// rows land where they would in memory (by their index and the seed), centred by the f64
    /// part of pass 0's means, which is all a preconditioner needs.
    fn sketch_factor(&self, seed: u64) -> Option<Mat<f64>> {
        let mut guard = self.open_pass()?;
        let stream = &mut *guard;
        let d = self.d;
        let (means, _) = self.columns.y_mean_parts();
        let mean = means.subrows(0, d);
        let inv_s = 1.0 / self.columns.weight_sum();
        let mut sketch = SparseSign::new(self.n, d, seed);
        let mut scale = Vec::new();
        let reader = &mut *stream.reader;
        let read = reader.rewind().and_then(|()| {
            each_block(reader, |b| {
                scale.clear();
                match b.weights {
                    Some(w) => scale.extend(w.iter().map(|s| (s * inv_s).sqrt())),
                    None => scale.resize(b.x.nrows(), inv_s.sqrt()),
                }
                sketch.add(b.first_row, b.x, mean, &scale, Par::rayon(0));
                Ok(())
            })
        });
        stream.keep_error(read)?;
        Some(sketch.preconditioner(self.lambda))
    }

    /// f(w), ∇f(w) into `grad` and ∂J/∂b at b = ȳ − x̄ᵀw (0 without an intercept) from one
    /// pass; NaN after a read error.
    fn evaluate(&self, w: ColRef<'_, f64>, mut grad: ColMut<'_, f64>) -> (f64, f64) {
        let Some(sums) = self.pass(w, true) else {
            grad.fill(f64::NAN);
            return (f64::NAN, f64::NAN);
        };
        let s = self.columns.weight_sum();
        for j in 0..w.nrows() {
            grad[j] = self.lambda * w[j] - sums.xt[j] / s;
        }
        let value = 0.5 * sums.squares / s + 0.5 * self.lambda * w.squared_norm_l2();
        let gb = if self.columns.centred() {
            -sums.sum / s
        } else {
            0.0
        };
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((w.to_owned(), value, grad.to_owned(), gb));
        (value, gb)
    }

    /// J(w, b) and ‖∇J(w, b)‖ at b = ȳ − x̄ᵀw: those of the last gradient pass when it was at w
    /// (every converged run ends on one), otherwise one more pass.
    fn diagnostics(&self, w: ColRef<'_, f64>) -> Option<(f64, f64)> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner()).take();
        let (value, grad, gb) = match last {
            Some((at, value, grad, gb)) if at.iter().eq(w.iter()) => (value, grad, gb),
            _ => {
                let mut grad = Col::zeros(w.nrows());
                let (value, gb) = self.evaluate(w, grad.as_mut());
                (value, grad, gb)
            }
        };
        value
            .is_finite()
            .then(|| (value, norm2(grad.as_ref()).hypot(gb)))
    }
}

impl Objective for StreamedLeastSquares<'_, '_> {
    fn dim(&self) -> usize {
        self.d
    }

    fn n_samples(&self) -> usize {
        self.n
    }

    fn value_gradient(&self, w: ColRef<'_, f64>, grad: ColMut<'_, f64>) -> f64 {
        self.evaluate(w, grad).0
    }

    /// H·v = XcᵀSXc·v/S + λv, one pass.
    fn hessian_vector(&self, _w: ColRef<'_, f64>, v: ColRef<'_, f64>, mut out: ColMut<'_, f64>) {
        match self.pass(v, false) {
            Some(sums) => {
                let s = self.columns.weight_sum();
                for j in 0..v.nrows() {
                    out[j] = sums.xt[j] / s + self.lambda * v[j];
                }
            }
            None => out.fill(f64::NAN),
        }
    }

    /// σ_max(S^½Xc)²/S + λ by the Lanczos method, one pass per product (stopped at the deadline).
    fn smoothness(&self) -> f64 {
        *self.smoothness.get_or_init(|| {
            let lambda = self.lambda;
            let top = largest_eigenvalue(self.d, self.deadline, |v| {
                let mut hv = Col::zeros(v.nrows());
                self.hessian_vector(v, v, hv.as_mut());
                hv - faer::Scale(lambda) * v
            });
            top.0 + lambda
        })
    }

    fn strong_convexity(&self) -> f64 {
        self.lambda
    }

    fn penalty(&self) -> f64 {
        self.lambda
    }

    fn pass_counter(&self) -> &PassCounter {
        &self.passes
    }

    // The per-sample interface is never used: no stochastic method streams
    // (`stream::check_backend`). The values below make any use visibly wrong (NaN), not a
    // silently plausible result.

    fn sample_row(&self, _i: usize) -> &[f64] {
        &[]
    }

    fn sample_slope(&self, _i: usize, _theta: &[f64]) -> f64 {
        f64::NAN
    }

    fn value_gradient_slopes(
        &self,
        theta: ColRef<'_, f64>,
        grad: ColMut<'_, f64>,
        mut slopes: ColMut<'_, f64>,
    ) -> f64 {
        slopes.fill(f64::NAN);
        self.value_gradient(theta, grad)
    }

    fn max_sample_smoothness(&self) -> f64 {
        f64::NAN
    }
}

/// A streamed fit judged by its own last gradient pass: J and ‖∇J‖ over (w, b) at the optimal
/// b (the statistics of a direct streamed fit are not there to judge it).
struct Evaluated {
    value: f64,
    gradient_norm: f64,
    lambda: f64,
    d: usize,
}

impl Judge for Evaluated {
    fn model(&self, coef: Col<f64>, intercept: f64) -> Model {
        Model::ridge(coef, intercept, self.lambda)
    }
    fn objective_and_gradient_norm(&self, _coef: ColRef<'_, f64>, _intercept: f64) -> (f64, f64) {
        (self.value, self.gradient_norm)
    }
    fn n_features(&self) -> usize {
        self.d
    }
}

/// `cg`, `pcg`, `sketch-cg` or `gd` on every target of the stream: pass 0, then each target's
/// iterations,
/// one pass per product. Called by [`super::fit_with`] after it has checked the backend, its
/// options and λ.
pub(super) fn fit(
    reader: &mut BlockReader,
    solver: &str,
    options: &SolverOptions,
    lambdas: &[f64],
    intercept: bool,
) -> Result<Streamed> {
    check_lambdas(lambdas, reader.k)?;
    let settings = IterativeSettings::from_options(options)?;
    let gd = GradientDescent::from_options(options)?;
    let seed = options.seed.unwrap_or(0);
    let lambda_of = |t: usize| lambdas[if lambdas.len() == 1 { 0 } else { t }];
    let k = reader.k;
    if matches!(solver, "pcg" | "sketch-cg") && (0..k).any(|t| lambda_of(t) == 0.0) {
        return Err(Error::invalid(
            "lambda",
            0.0,
            format!(
                "λ > 0 for the streamed `{solver}`: at λ = 0 its preconditioner would make it \
                 converge to a least-squares solution that need not be the minimum-norm one, \
                 and the stream has no Gram matrix to check the rank with; use `cg` \
                 (minimum-norm from w = 0) or λ > 0"
            ),
        ));
    }
    let start = Instant::now();
    let columns = column_moments(reader, intercept)?;
    let read_seconds = start.elapsed().as_secs_f64();
    if reader.weighted() && columns.weight_sum() == 0.0 {
        return Err(Error::InvalidWeights {
            reason: "all weights are zero".into(),
        });
    }
    let name = format!("stream:{solver}");
    let d = reader.d;
    let mut fits = Vec::with_capacity(k);
    for t in 0..k {
        // The first target's time budget includes pass 0.
        let solving = Instant::now();
        let begun = if t == 0 { start } else { solving };
        let lambda = lambda_of(t);
        let control: &IterationControl = if solver == "gd" {
            gd.control()
        } else {
            settings.control()
        };
        let objective =
            StreamedLeastSquares::new(reader, &columns, t, lambda, control.deadline(begun));
        let outcome = run(solver, seed, &gd, &objective, control, begun);
        if let Some(e) = objective.take_error() {
            return Err(e);
        }
        let outcome = outcome.map_err(|e| e.in_context(lambda))?;
        let coef = outcome.state.theta;
        let diagnostics = objective.diagnostics(coef.as_ref());
        if let Some(e) = objective.take_error() {
            return Err(e);
        }
        let (value, gradient_norm) = diagnostics.ok_or_else(|| Error::Numerical {
            solver: name.clone(),
            detail: "the objective at the solution is not finite (internal error)".into(),
        })?;
        let intercept = if columns.centred() {
            let (means, _) = columns.y_mean_parts();
            means[d + t] - dot(means.subrows(0, d), coef.as_ref())
        } else {
            0.0
        };
        let solution = Solution {
            coef,
            intercept,
            iterations: outcome.state.iteration,
            passes: objective.passes(),
            stop: outcome.stop,
            condition_estimate: None,
            history: outcome.history,
        };
        // As the direct streamed fits: pass 0 shared out among the targets.
        let seconds = solving.elapsed().as_secs_f64() + read_seconds / k as f64;
        let judge = Evaluated {
            value,
            gradient_norm,
            lambda,
            d,
        };
        fits.push(Fit::judged(&judge, &name, solution, seconds)?);
    }
    Ok(Streamed {
        fits,
        stats: reader.stats(),
        read_seconds,
    })
}

/// The driver on one target: `gd` through its [`Minimiser`], `cg`, `pcg` and `sketch-cg` as
/// [`QuadraticCg`] (`pcg` with M = diag(1/((XcᵀSXc)ⱼⱼ/S + λ)) from pass 0).
fn run(
    solver: &str,
    seed: u64,
    gd: &GradientDescent,
    objective: &StreamedLeastSquares<'_, '_>,
    control: &IterationControl,
    start: Instant,
) -> Result<Outcome> {
    match solver {
        "gd" => crate::solvers::minimise(gd, objective, start),
        "sketch-cg" => {
            let Some(r) = objective.sketch_factor(seed) else {
                // The objective holds the read error, which the caller returns.
                return Err(Error::Numerical {
                    solver: "stream:sketch-cg".into(),
                    detail: "the sketch pass failed".into(),
                });
            };
            run_from(
                start,
                solver,
                &mut QuadraticCg::new("sketch-cg", Metric::InverseGram(r)),
                objective,
                control,
            )
        }
        "pcg" => {
            let m = jacobi(objective.gram_diagonal(), objective.lambda);
            run_from(
                start,
                solver,
                &mut QuadraticCg::new("pcg", Metric::diagonal(m)),
                objective,
                control,
            )
        }
        _ => run_from(
            start,
            solver,
            &mut QuadraticCg::new("cg", Metric::Identity),
            objective,
            control,
        ),
    }
}
