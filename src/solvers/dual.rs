//! `dual`: the kernel (dual) form of ridge for wide data, d > n.
//!
//! With Xs = S^½·Xc and ys = S^½·yc, the optimum can be written
//!
//! ```text
//! w = Xsᵀ·α,     (Xs·Xsᵀ + S·λ·I)·α = ys
//! ```
//!
//! (push-through identity: (XsᵀXs + SλI)⁻¹Xsᵀ = Xsᵀ(XsXsᵀ + SλI)⁻¹), so the factored matrix is
//! the n × n kernel instead of the d × d Gram matrix: O(n²·d + n³/3) instead of O(n·d² + d³/3).
//! The kernel is formed from blocks of columns, each centred and weight-scaled in a buffer of
//! 32 MiB, and the matrix-vector products centre on the fly: no n × d copy. At tiny λ the product
//! w = Xsᵀα cancels large terms, so the solution is then refined in the primal through the same
//! factor (see `refine` below). The centred kernel is singular at λ = 0 (its rows sum to zero),
//! so this backend needs λ > 0; `svd` gives the minimum-norm solution at λ = 0.

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Col, ColRef, Mat, Par};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fit::{Fit, Solution};
use crate::multi::{MultiRidgeProblem, per_group};
use crate::problem::RidgeProblem;
use crate::solvers::cholesky::{Factor, factor};
use crate::solvers::{Solver, timed};

/// Entries of the n × c buffer that holds one block of centred columns (32 MiB).
///
/// Wide blocks matter: every block adds its product into the whole n × n kernel, so with c = 256
/// on 2 000 × 20 000 the kernel (32 MB) was read and written 79 times, now 10.
const BLOCK_ENTRIES: usize = 4 << 20;

/// Rows per parallel task in [`times`]: 32 KiB of accumulators, which stay in the L1/L2 cache
/// while every column streams past them.
const ROW_CHUNK: usize = 4096;

/// Cholesky of the n × n kernel matrix.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dual;

impl Solver for Dual {
    fn name(&self) -> &'static str {
        "dual"
    }

    fn solve(&self, problem: &RidgeProblem<'_>) -> Result<Fit> {
        timed(problem, self.name(), || {
            // A group of one problem yields exactly one solution.
            Ok(self.solve_group(std::slice::from_ref(problem))?.remove(0))
        })
    }

    fn solve_targets(&self, problem: &MultiRidgeProblem<'_>) -> Result<Vec<Fit>> {
        per_group(problem, self.name(), |_, targets| {
            let group: Vec<_> = targets.iter().map(|&t| problem.target(t)).collect();
            self.solve_group(&group)
        })
    }
}

impl Dual {
    /// Solves problems that differ only in y (same X, weights, intercept and λ): one kernel,
    /// one factorisation, then per target a solve and the primal refinement.
    fn solve_group(&self, group: &[RidgeProblem<'_>]) -> Result<Vec<Solution>> {
        let Some(problem) = group.first() else {
            return Ok(Vec::new());
        };
        if problem.lambda() == 0.0 {
            return Err(Error::Singular {
                solver: self.name().into(),
                detail: "the centred kernel matrix is singular at λ = 0".into(),
            });
        }
        let n = problem.n_samples();
        let par = problem.par();
        let mut kernel = kernel_lower(problem);
        let shift = problem.weight_sum() * problem.lambda();
        for i in 0..n {
            kernel[(i, i)] += shift;
        }
        let f = factor(self.name(), kernel.as_ref(), par)?;
        Ok(group
            .iter()
            .map(|p| {
                let ys = p.scaled_centred_y();
                let mut w = transpose_times(p, f.solve(ys.as_mat()).col(0));
                refine(p, &f, ys.as_ref(), &mut w);
                let b = p.optimal_intercept(w.as_ref());
                Solution::direct(w, b, Some(f.condition))
            })
            .collect())
    }
}

/// Refines w in the primal, where the cancellation that limits the dual form does not occur.
///
/// At tiny λ with ys outside the range of Xs, α = K⁻¹ys is huge (‖ys⊥‖/(Sλ)) and w = Xsᵀα is
/// the cancellation of large terms: a few digits are lost even though K was factored stably.
/// Each step computes the primal residual g = Xsᵀ(ys − Xs·w) − Sλ·w, which is small near the
/// optimum, and the correction δ = (XsᵀXs + SλI)⁻¹g through the same kernel factor by the
/// push-through identity
///
/// ```text
/// δ = (g − Xsᵀ·K⁻¹·Xs·g) / (Sλ),     K = XsXsᵀ + SλI,
/// ```
///
/// at O(n·d + n²) per step against the O(n²·d) factorisation. The error of each correction is
/// proportional to ‖g‖, so the iteration contracts while ε·κ(K) ≪ 1 (the factor's own
/// acceptance test). It stops once a correction is at the rounding level of computing g (below
/// 64·ε·‖w‖; on 2 000 × 20 000 at λ = 10⁻³ every correction is ≈ 4·10⁻¹⁵·‖w‖), or no longer
/// halves the previous one.
fn refine(problem: &RidgeProblem<'_>, f: &Factor, ys: ColRef<'_, f64>, w: &mut Col<f64>) {
    const MAX_STEPS: usize = 3;
    // A correction below 64·ε·‖w‖ leaves w within the rounding noise of the residual it was
    // computed from (a sum of d products): another step would cost four passes over X to move
    // w by as little again.
    const CONVERGED: f64 = 64.0;
    let shift = problem.weight_sum() * problem.lambda();
    let mut previous = f64::INFINITY;
    for _ in 0..MAX_STEPS {
        let r = ys.to_owned() - times(problem, w.as_ref());
        let g = transpose_times(problem, r.as_ref()) - shift * &*w;
        let back = transpose_times(problem, f.solve(times(problem, g.as_ref()).as_mat()).col(0));
        let delta = (g - back) * (1.0 / shift);
        *w += &delta;
        let size = delta.norm_l2();
        if size <= CONVERGED * f64::EPSILON * w.norm_l2() || size > 0.5 * previous {
            break;
        }
        previous = size;
    }
}

/// Xs·v (n entries): (Xs·v)ᵢ = √sᵢ·Σⱼ vⱼ·(xᵢⱼ − x̄ⱼ), centring each entry before it is
/// multiplied (as accurate as a product with the centred matrix) but without writing it
/// anywhere: one read of X, in parallel over chunks of rows.
///
/// x̄ is taken in two parts, x̄ₕ + x̄ₗ, like the kernel's columns (`write_scaled_centred_columns`
/// in src/problem.rs): the refinement's push-through step divides by S·λ, so a product with
/// columns centred differently from the factored kernel's (by ulp(x̄)/2, 0.06 at an offset of
/// 1e15) was amplified into a wrong answer.
fn times(problem: &RidgeProblem<'_>, v: ColRef<'_, f64>) -> Col<f64> {
    let n = problem.n_samples();
    let (x, mean) = (problem.x(), problem.x_mean());
    let low = crate::linalg::dot(problem.x_mean_low(), v);
    let mut out = Col::<f64>::zeros(n);
    let threads = match problem.par() {
        Par::Rayon(t) => t.get(),
        Par::Seq => 1,
    };
    let rows = ROW_CHUNK.min(n.div_ceil(threads)).max(1);
    let chunk = |(c, acc): (usize, &mut [f64])| {
        let first = c * rows;
        for (j, &vj) in v.iter().enumerate() {
            let (m, column) = (mean[j], x.col(j).subrows(first, acc.len()));
            match column.try_as_col_major() {
                Some(c) => acc
                    .iter_mut()
                    .zip(c.as_slice())
                    .for_each(|(a, xij)| *a += vj * (xij - m)),
                None => acc
                    .iter_mut()
                    .zip(column.iter())
                    .for_each(|(a, xij)| *a += vj * (xij - m)),
            }
        }
        for (k, a) in acc.iter_mut().enumerate() {
            *a = (*a - low) * problem.weight(first + k).sqrt();
        }
    };
    // `out` was just allocated with unit stride.
    let slice = out
        .as_mut()
        .try_as_col_major_mut()
        .expect("a fresh column is contiguous");
    match problem.par() {
        Par::Rayon(_) => slice
            .as_slice_mut()
            .par_chunks_mut(rows)
            .enumerate()
            .for_each(chunk),
        Par::Seq => slice
            .as_slice_mut()
            .chunks_mut(rows)
            .enumerate()
            .for_each(chunk),
    }
    out
}

/// Xsᵀ·u (d entries): (Xsᵀ·u)ⱼ = Σᵢ (√sᵢ·uᵢ)·(xᵢⱼ − x̄ⱼ), one read of X, in parallel over
/// columns; x̄ in two parts as in [`times`].
fn transpose_times(problem: &RidgeProblem<'_>, u: ColRef<'_, f64>) -> Col<f64> {
    let (x, mean, low) = (problem.x(), problem.x_mean(), problem.x_mean_low());
    let su: Vec<f64> = (0..u.nrows())
        .map(|i| problem.weight(i).sqrt() * u[i])
        .collect();
    let su_sum: f64 = su.iter().sum();
    let column = |j: usize| -> f64 {
        let m = mean[j];
        let centred = match x.col(j).try_as_col_major() {
            Some(c) => centred_dot(c.as_slice(), &su, m),
            None => x.col(j).iter().zip(&su).map(|(xij, s)| s * (xij - m)).sum(),
        };
        centred - low[j] * su_sum
    };
    let values: Vec<f64> = match problem.par() {
        Par::Rayon(_) => (0..problem.n_features())
            .into_par_iter()
            .map(column)
            .collect(),
        Par::Seq => (0..problem.n_features()).map(column).collect(),
    };
    Col::from_fn(values.len(), |j| values[j])
}

/// Σᵢ sᵢ·(xᵢ − m) in eight interleaved partial sums: a single running sum is a chain of
/// dependent additions that runs at one add per few cycles, far below the speed X is read at.
fn centred_dot(x: &[f64], s: &[f64], m: f64) -> f64 {
    const LANES: usize = 8;
    let mut partial = [0.0; LANES];
    let (xs, ss) = (x.chunks_exact(LANES), s.chunks_exact(LANES));
    let tail: f64 = xs
        .remainder()
        .iter()
        .zip(ss.remainder())
        .map(|(xi, si)| si * (xi - m))
        .sum();
    for (xc, sc) in xs.zip(ss) {
        for k in 0..LANES {
            partial[k] += sc[k] * (xc[k] - m);
        }
    }
    partial.iter().sum::<f64>() + tail
}

/// The lower triangle of XsXsᵀ (n × n), one parallel triangular product per block of columns.
/// On 2 000 × 20 000 it runs at faer's GEMM rate for that shape (≈ 90 of 99 GFLOP/s measured
/// for one 2 000 × 2 048 block on 2 threads, counting n²·c per block); splitting the columns
/// between threads instead, each with its own kernel, was no faster and doubled the memory.
fn kernel_lower(problem: &RidgeProblem<'_>) -> Mat<f64> {
    let n = problem.n_samples();
    let mut kernel = Mat::<f64>::zeros(n, n);
    for_each_column_block(problem, 0..problem.n_features(), |_, b| {
        triangular::matmul(
            kernel.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Add,
            b,
            BlockStructure::Rectangular,
            b.transpose(),
            BlockStructure::Rectangular,
            1.0,
            problem.par(),
        );
    });
    kernel
}

/// Calls `each(first, block)` on consecutive blocks of columns of S^½·Xc, built in one buffer of
/// about [`BLOCK_ENTRIES`] (at least 256 columns) so that no n × d copy exists.
fn for_each_column_block(
    problem: &RidgeProblem<'_>,
    columns: std::ops::Range<usize>,
    mut each: impl FnMut(usize, faer::MatRef<'_, f64>),
) {
    let n = problem.n_samples();
    let cols = (BLOCK_ENTRIES / n.max(1))
        .max(256)
        .min(columns.len().max(1));
    let mut buf = Mat::<f64>::zeros(n, cols);
    let mut start = columns.start;
    while start < columns.end {
        let len = cols.min(columns.end - start);
        problem.write_scaled_centred_columns(start, buf.as_mut().subcols_mut(0, len));
        each(start, buf.as_ref().subcols(0, len));
        start += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Synthetic;
    use crate::solvers::Qr;

    #[test]
    fn agrees_with_the_primal_reference_on_wide_weighted_data() {
        let data = Synthetic {
            n_samples: 30,
            n_features: 600,
            condition: 50.0,
            offset: 2.0,
            seed: 5,
            ..Default::default()
        }
        .generate()
        .unwrap();
        let s = Col::from_fn(30, |i| 0.5 + (i % 4) as f64);
        for intercept in [true, false] {
            let p = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
                .weights(s.as_ref())
                .intercept(intercept)
                .lambda(1e-2)
                .build()
                .unwrap();
            let reference = Qr.solve(&p).unwrap();
            let fit = Dual.solve(&p).unwrap();
            assert!(
                fit.relative_error(reference.coef.as_ref()) < 1e-10,
                "{}",
                fit.relative_error(reference.coef.as_ref())
            );
            assert!(
                (fit.intercept - reference.intercept).abs()
                    < 1e-9 * reference.intercept.abs().max(1.0)
            );
        }
        let p = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
            .lambda(0.0)
            .build()
            .unwrap();
        assert!(matches!(Dual.solve(&p), Err(Error::Singular { .. })));
    }
}
