//! Tall-skinny QR: the triangular factor R of a tall matrix streamed in blocks of rows, without
//! ever holding a copy of the whole matrix.
//!
//! For A = [A₁; A₂] (row blocks), if A₁ = Q₁R₁ then R of [R₁; A₂] is R of A: both matrices have
//! the same Gram matrix, and an orthogonal factor only rotates rows. So R is accumulated one block
//! at a time, each step a Householder QR of the (m + c) × m matrix [R; next c rows]. Appending
//! right-hand sides B as extra columns of A gives, in the same R = [R₁₁ R₁₂; 0 R₂₂], the pieces of
//! the least-squares solution: R₁₁·W = R₁₂ with R₁₂ = Q₁ᵀB, and ‖R₂₂e_t‖ is the residual norm of
//! target t. This is the sequential and the parallel tall-skinny QR of Demmel, Grigori, Hoemmen
//! and Langou ("Communication-optimal parallel and sequential QR and LU factorizations", SIAM J.
//! Sci. Comput. 34, 2012). Each step is Householder QR, so the result has Householder QR's
//! column-wise backward stability (Higham, *Accuracy and Stability of Numerical Algorithms*,
//! 2nd ed., Thm 19.4, which covers any order of applying the reflections).
//!
//! Why: Householder QR of the whole n × m matrix needs its own working copy (for
//! `qr` on 100 000 × 500, three times the size of X at the peak). Here the working memory is one
//! (m + c) × m block per thread, the data are read once, in order, and the source can be anything
//! that writes rows on demand: the centred and weight-scaled X, or a file read in blocks
//! (`crate::triangle` and `crate::stream` merge each block's triangle into a running one with
//! [`factor_stacked`]). The price is re-factoring the m × m triangle with every block: 2(m + c)·m² flops per block
//! instead of 2c·m², about 2m/(3c) more in total once the triangle's zeros are counted, which the
//! choice c ≈ 8m keeps near 8 % (and small blocks run faster in cache, which more than pays for
//! it on the measured sizes; see the README's benchmarks).
//!
//! With several threads, each takes one contiguous range of rows and the ranges' triangles are
//! stacked and factored once more, in a fixed order: the result depends on the number of threads
//! (in the last bits) but not on scheduling.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::qr::no_pivoting::factor::{
    qr_in_place, qr_in_place_scratch, recommended_block_size,
};
use faer::{Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Upper bound on one thread's working block, in f64 entries (64 MiB).
const MAX_BLOCK_ENTRIES: usize = 8 << 20;

/// R (m × m, zeros below the diagonal) of the matrix [A; P] where A (`rows` × m) is produced
/// block by block by `write_rows(first_row, out)`, which fills `out` with rows
/// `first_row .. first_row + out.nrows()` of A, and P is an optional m × m upper-triangular
/// matrix of extra rows (the √(Sλ)·I rows of a ridge system), stacked above the data's triangles
/// in the final factorisation (see the comment there: rows in decreasing size keep a large λ
/// from swamping the data). R is unique up to the signs of its rows when [A; P] has full column
/// rank; otherwise its rows beyond the rank are rounding noise.
pub(crate) fn triangular_factor(
    rows: usize,
    cols: usize,
    appended: Option<MatRef<'_, f64>>,
    write_rows: impl Fn(usize, MatMut<'_, f64>) + Sync,
    par: Par,
) -> Mat<f64> {
    let block = block_rows(cols, rows);
    let threads = match par {
        Par::Rayon(t) => t.get().min(rows / (2 * block).max(1)).max(1),
        Par::Seq => 1,
    };
    let parts: Vec<Mat<f64>> = if threads == 1 {
        vec![accumulate(0..rows, cols, block, &write_rows)]
    } else {
        let chunk = rows.div_ceil(threads);
        (0..threads)
            .into_par_iter()
            .map(|t| {
                accumulate(
                    t * chunk..((t + 1) * chunk).min(rows),
                    cols,
                    block,
                    &write_rows,
                )
            })
            .collect()
    };
    if parts.len() == 1 && appended.is_none() {
        // `parts.len() == 1` was just checked.
        return parts.into_iter().next().expect("one part");
    }
    // Stack P, then the threads' triangles in thread order, and factor once more. P goes first:
    // Householder QR is row-wise backward stable when the rows come in decreasing size (Cox &
    // Higham 1998, "Stability of Householder QR factorization for weighted least squares
    // problems"), and with P below the data a large λ (√(Sλ) ≫ ‖data‖) perturbed the data rows
    // by ε·√(Sλ): ≈ ε·√λ relative error in w, 0.37 at λ = 1e30 and w = 0 from 1e40. Above the
    // data, P perturbs each row only by ε times its own size. (The first *data* block still goes
    // on its own, see `accumulate`: P is full rank, so nothing here leaves noise in a trailing
    // block of R.)
    let blocks: Vec<MatRef<'_, f64>> = appended
        .into_iter()
        .chain(parts.iter().map(|r| r.as_ref()))
        .collect();
    factor_stacked(&blocks, cols)
}

/// R (m × m, m = `cols`) of the rows of `blocks` stacked in the order given: one Householder QR
/// of the stacked matrix, on this thread. The step that merges triangles — the threads' above,
/// the ridge rows of a ridge system, and the running triangle of a stream with the next
/// block's (`crate::triangle`). When the blocks have fewer than m rows in all, R's remaining
/// rows are zero.
pub(crate) fn factor_stacked(blocks: &[MatRef<'_, f64>], cols: usize) -> Mat<f64> {
    let rows: usize = blocks.iter().map(|b| b.nrows()).sum();
    let mut stacked = Mat::zeros(rows, cols);
    let mut at = 0;
    for b in blocks {
        stacked.as_mut().subrows_mut(at, b.nrows()).copy_from(b);
        at += b.nrows();
    }
    let mut qr = BlockQr::new(rows, cols);
    qr.factor(stacked.as_mut());
    let mut r = Mat::zeros(cols, cols);
    let top = rows.min(cols);
    r.as_mut()
        .subrows_mut(0, top)
        .copy_from(upper_triangle(stacked.as_ref().subrows(0, top)));
    r
}

/// Rows per block: about 8·m (so re-factoring the triangle costs ≈ 8 % more flops), at least 64,
/// at most what keeps one block under [`MAX_BLOCK_ENTRIES`] (but never below m, where the
/// overhead would exceed the work), and no more than there are rows.
fn block_rows(cols: usize, rows: usize) -> usize {
    let by_memory = (MAX_BLOCK_ENTRIES / cols.max(1)).saturating_sub(cols);
    (8 * cols).min(by_memory).max(cols).max(64).min(rows.max(1))
}

/// R of rows `range` of A (m = `cols` columns), one block of `block` rows at a time, on this
/// thread.
///
/// The first block is factored on its own rather than below an m × m block of zeros: exact zero
/// rows above the data make faer's Householder QR leave rounding noise up to ≈ 500·ε·σ₁ in the
/// trailing part of R of an exactly rank-deficient matrix (measured on 47 × 7 designs of rank 5;
/// ≈ 10·ε·σ₁ without them), above the rank cut-off of `svd`. The ridge rows P never enter here:
/// they join the data's triangles in the final stack, where they are full rank.
fn accumulate(
    range: std::ops::Range<usize>,
    cols: usize,
    block: usize,
    write_rows: &(impl Fn(usize, MatMut<'_, f64>) + Sync),
) -> Mat<f64> {
    let m = cols;
    let mut work = Mat::zeros(m + block, m);
    // Rows of `work` holding the triangle so far (fewer than m while fewer rows were seen).
    let mut held = 0;
    let mut qr = BlockQr::new(m + block, m);
    let mut row = range.start;
    while row < range.end {
        let len = block.min(range.end - row);
        write_rows(row, work.as_mut().subrows_mut(held, len));
        qr.factor(work.as_mut().subrows_mut(0, held + len));
        held = (held + len).min(m);
        // The strictly lower part now holds Householder vectors; the next step needs zeros.
        for j in 0..m.min(held) {
            work.as_mut()
                .col_mut(j)
                .subrows_mut(j + 1, m - j - 1)
                .fill(0.0);
        }
        row += len;
    }
    upper_triangle(work.as_ref().subrows(0, m))
}

/// Workspace for repeated in-place Householder QR of matrices with at most `rows` rows and
/// exactly `cols` columns, on one thread.
struct BlockQr {
    householder: Mat<f64>,
    mem: MemBuffer,
}

impl BlockQr {
    fn new(rows: usize, cols: usize) -> Self {
        let size = recommended_block_size::<f64>(rows, cols);
        Self {
            householder: Mat::zeros(size, cols),
            mem: MemBuffer::new(qr_in_place_scratch::<f64>(
                rows,
                cols,
                size,
                Par::Seq,
                Default::default(),
            )),
        }
    }

    /// Overwrites `a` with its QR factorisation: R on and above the diagonal, Householder
    /// vectors below.
    fn factor(&mut self, a: MatMut<'_, f64>) {
        let reflections = a.nrows().min(a.ncols());
        qr_in_place(
            a,
            self.householder.as_mut().subcols_mut(0, reflections),
            Par::Seq,
            MemStack::new(&mut self.mem),
            Default::default(),
        );
    }
}

/// The entries on and above the diagonal of a matrix (any shape), zeros below.
fn upper_triangle(a: MatRef<'_, f64>) -> Mat<f64> {
    Mat::from_fn(
        a.nrows(),
        a.ncols(),
        |i, j| if i <= j { a[(i, j)] } else { 0.0 },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R with every row's sign chosen so that the diagonal is non-negative.
    fn canonical(r: MatRef<'_, f64>) -> Mat<f64> {
        Mat::from_fn(r.nrows(), r.ncols(), |i, j| {
            r[(i, j)] * if r[(i, i)] < 0.0 { -1.0 } else { 1.0 }
        })
    }

    fn max_abs_diff(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
        (0..a.nrows())
            .flat_map(|i| (0..a.ncols()).map(move |j| (a[(i, j)] - b[(i, j)]).abs()))
            .fold(0.0, f64::max)
    }

    fn check(rows: usize, cols: usize, par: Par, appended: bool) {
        let a = Mat::from_fn(rows, cols, |i, j| {
            ((i * 7 + j * 13) % 17) as f64 / 17.0 + (1.0 + i as f64 * 0.1 + j as f64).sin()
        });
        let ridge_rows = Mat::from_fn(cols, cols, |i, j| if i == j { 0.5 + j as f64 } else { 0.0 });
        let r = triangular_factor(
            rows,
            cols,
            appended.then_some(ridge_rows.as_ref()),
            |first, mut out| {
                let len = out.nrows();
                out.copy_from(a.as_ref().subrows(first, len));
            },
            par,
        );
        // Reference: faer's Householder QR of the whole stacked matrix.
        let full = if appended {
            let mut m = Mat::zeros(rows + cols, cols);
            m.as_mut().subrows_mut(0, rows).copy_from(&a);
            m.as_mut().subrows_mut(rows, cols).copy_from(&ridge_rows);
            m
        } else {
            a.clone()
        };
        let reference = faer::linalg::solvers::Qr::new(full.as_ref())
            .thin_R()
            .to_owned();
        let scale = reference.norm_max();
        // With fewer rows than columns R has only that many rows; the rest must be zero.
        let k = reference.nrows();
        assert_eq!(r.as_ref().subrows(k, cols - k).norm_max(), 0.0);
        let diff = max_abs_diff(
            canonical(r.as_ref().subrows(0, k)).as_ref(),
            canonical(reference.as_ref()).as_ref(),
        );
        assert!(
            diff <= 1e-12 * scale,
            "{rows}×{cols} {par:?} ridge rows {appended}: |ΔR| = {diff:e}, |R| = {scale:e}"
        );
        assert_eq!(
            max_abs_diff(r.as_ref(), upper_triangle(r.as_ref()).as_ref()),
            0.0
        );
    }

    #[test]
    fn matches_householder_qr_of_the_whole_matrix() {
        // Many blocks (block = 64 rows at 5 columns), a partial last block, one block, threads.
        for (rows, cols) in [(1000, 5), (1001, 7), (64, 8), (3, 3), (2, 5), (5000, 40)] {
            for par in [Par::Seq, Par::rayon(2), Par::rayon(3)] {
                for appended in [false, true] {
                    check(rows, cols, par, appended);
                }
            }
        }
    }

    #[test]
    fn an_exactly_rank_deficient_matrix_leaves_only_rounding_noise() {
        // Rank-5 designs A·B with entries on dyadic grids, exactly rank 5 in f64: the singular
        // values of R beyond the rank must stay at the level of an SVD of the matrix itself
        // (≈ 10·ε·σ₁ at worst over these seeds), far below `svd`'s cut-off max(n, d)·ε·σ₁.
        // Factoring below a block of zero rows left up to 548·ε·σ₁.
        use rand::{Rng, SeedableRng};
        let (n, d, rank) = (47, 7, 5);
        let mut worst: f64 = 0.0;
        for seed in 0..2000 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let mut grid = |step: f64| (rng.random_range(-20.0f64..20.0) / step).round() * step;
            let a = Mat::from_fn(n, rank, |_, _| grid(0.125));
            let b = Mat::from_fn(rank, d, |_, _| grid(0.25));
            let x = &a * &b;
            let r = triangular_factor(
                n,
                d,
                None,
                |first, mut out| {
                    let len = out.nrows();
                    out.copy_from(x.as_ref().subrows(first, len));
                },
                Par::Seq,
            );
            let s = r
                .thin_svd()
                .expect("SVD of a 7 × 7 matrix")
                .S()
                .column_vector()
                .to_owned();
            worst = worst.max(s[rank] / (s[0] * f64::EPSILON));
        }
        assert!(worst < 20.0, "trailing singular value {worst:.1}·ε·σ₁");
    }

    #[test]
    fn the_result_does_not_depend_on_scheduling() {
        let a = Mat::from_fn(3000, 6, |i, j| ((i * 31 + j * 7) % 101) as f64 - 50.0);
        let run = || {
            triangular_factor(
                3000,
                6,
                None,
                |first, mut out| {
                    let len = out.nrows();
                    out.copy_from(a.as_ref().subrows(first, len));
                },
                Par::rayon(2),
            )
        };
        let first = run();
        for _ in 0..5 {
            assert_eq!(max_abs_diff(run().as_ref(), first.as_ref()), 0.0);
        }
    }
}
