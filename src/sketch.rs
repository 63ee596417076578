//! Sparse sign embeddings, and the sketch-and-precondition factor they give a ridge problem.
//!
//! A *subspace embedding* with distortion ε for the columns of an n × d matrix A is an s × n
//! matrix S with (1 − ε)·‖Av‖ ≤ ‖SAv‖ ≤ (1 + ε)·‖Av‖ for every v. If R is the triangular
//! factor of [SA; √λ·I] (a QR of s + d rows instead of n + d), then the singular values of
//! [A; √λ·I]·R⁻¹ lie in [1/(1 + ε), 1/(1 − ε)]: preconditioned by R, the damped least-squares
//! problem has condition number at most (1 + ε)/(1 − ε) *whatever the conditioning of A*, and
//! conjugate gradients reach any tolerance in a number of iterations that does not grow with
//! κ(A). This is sketch-and-precondition (Rokhlin & Tygert, PNAS 105, 2008; Blendenpik, Avron,
//! Maymounkov & Toledo, SIAM J. Sci. Comput. 32, 2010; LSRN, Meng, Saunders & Mahoney, SIAM J.
//! Sci. Comput. 36, 2014).
//!
//! The embedding here is a *sparse sign* matrix (Clarkson & Woodruff 2013; Meng & Mahoney 2013;
//! OSNAP, Nelson & Nguyen 2013): every column of S, i.e. every sample, gets [`NONZEROS`] entries
//! ±1/√ζ in rows drawn uniformly from s (with replacement). Applying it reads X once and costs
//! ζ·n·d additions; a Gaussian sketch would cost 2·s·n·d flops, 100 times more at s = 4d = 400.
//! With ζ = 8 it behaves like a Gaussian sketch in practice (the choice recommended by
//! Martinsson & Tropp, *Randomized numerical linear algebra*, Acta Numerica 29, 2020), for
//! which s = 4d gives ε ≈ √(d/s) = 1/2 and κ ≤ 3 (the `preconditioned_condition_is_small` test
//! measures it).
//!
//! The rows and signs come from a seeded hash of the sample index (`mix64`), so the sketch is
//! a function of (seed, data) alone: the same on every run, machine and thread count.

use faer::{ColRef, Mat, MatRef, Par};

use crate::problem::RidgeProblem;
use crate::tsqr::factor_stacked;

/// ζ, the nonzeros per sample of the sparse sign embedding.
pub const NONZEROS: usize = 8;

/// s / d, the sketch's rows per feature.
pub const ROWS_PER_FEATURE: usize = 4;

/// Rows of X hashed and scattered together: the (row, sign) table of one chunk, ζ·4 bytes a
/// sample, stays in L1/L2 while every column is swept.
const CHUNK_ROWS: usize = 4096;

/// The SplitMix64 finaliser of seed + (i + 1)·φ (φ = 0x9e3779b97f4a7c15): a stateless hash of
/// an index, uniform in its 64 bits (Steele, Lea & Flood, OOPSLA 2014).
pub(crate) fn mix64(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add((i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A sparse sign sketch S·A under construction (s × d, s = [`ROWS_PER_FEATURE`]·d), the rows
/// of A added block by block in any order: where row i lands depends only on i and the seed, so
/// a stream read in blocks builds the same sketch as the matrix held whole. With n ≤ s no sketch
/// is smaller than A, and A itself is kept (S = I).
pub(crate) struct SparseSign {
    rows: usize,
    seed: u64,
    identity: bool,
    /// S·A, column-major.
    data: Vec<f64>,
}

impl SparseSign {
    /// An empty sketch of an A with n rows and d columns.
    pub(crate) fn new(n: usize, d: usize, seed: u64) -> Self {
        let identity = n <= ROWS_PER_FEATURE * d;
        let rows = if identity { n } else { ROWS_PER_FEATURE * d };
        Self {
            rows,
            seed,
            identity,
            data: vec![0.0; rows * d],
        }
    }

    /// Adds rows `first_row ..` of A, which are those of the block `x` centred by `mean` and
    /// scaled row by row by `scale` (A = diag(scale)·(x − 1·meanᵀ)).
    ///
    /// Row i adds ±Aᵢ/√ζ to [`NONZEROS`] rows of the sketch drawn from `mix64(seed, i)` and the
    /// values it chains to. Columns are swept in parallel under `par`, each in row order, so the
    /// result does not depend on the number of threads.
    pub(crate) fn add(
        &mut self,
        first_row: usize,
        x: MatRef<'_, f64>,
        mean: ColRef<'_, f64>,
        scale: &[f64],
        par: Par,
    ) {
        let (s, identity) = (self.rows, self.identity);
        let inv_root_zeta = if identity {
            1.0
        } else {
            1.0 / (NONZEROS as f64).sqrt()
        };
        // Each row's ζ target rows and signs (±1 as numbers: a branch on a random sign would
        // be mispredicted half the time).
        let rows = if identity { 0 } else { x.nrows() };
        let (mut targets, mut signs) = (vec![0u32; rows * NONZEROS], vec![0.0; rows * NONZEROS]);
        for r in 0..rows {
            let mut h = mix64(self.seed, (first_row + r) as u64);
            for z in r * NONZEROS..(r + 1) * NONZEROS {
                // Lemire's multiply-shift maps the high 32 bits onto 0..s; the low bit is the
                // sign.
                targets[z] = (((h >> 32) * s as u64) >> 32) as u32;
                signs[z] = if h & 1 == 1 { -1.0 } else { 1.0 };
                h = mix64(h, 0);
            }
        }
        let sweep = |j: usize, column: &mut [f64]| {
            let values = x.col(j).iter().zip(scale);
            for (r, (v, c)) in values.enumerate() {
                let a = c * inv_root_zeta * (v - mean[j]);
                if identity {
                    column[first_row + r] = a;
                    continue;
                }
                let z = r * NONZEROS..(r + 1) * NONZEROS;
                for (&t, &sign) in targets[z.clone()].iter().zip(&signs[z]) {
                    column[t as usize] += sign * a;
                }
            }
        };
        if par.degree() > 1 {
            use rayon::prelude::*;
            self.data
                .par_chunks_mut(s)
                .enumerate()
                .for_each(|(j, c)| sweep(j, c));
        } else {
            self.data
                .chunks_mut(s)
                .enumerate()
                .for_each(|(j, c)| sweep(j, c));
        }
    }

    /// The upper-triangular R of [S·A; √λ·I] (d × d): the right preconditioner that makes the
    /// damped least-squares problem well conditioned. The QR costs 2·(s + d)·d² flops on this
    /// thread (s = 4d: 10·d³).
    pub(crate) fn preconditioner(&self, lambda: f64) -> Mat<f64> {
        let d = self.data.len() / self.rows.max(1);
        let sketch = MatRef::from_column_major_slice(&self.data, self.rows, d);
        let ridge = Mat::from_fn(d, d, |i, j| if i == j { lambda.sqrt() } else { 0.0 });
        factor_stacked(&[sketch, ridge.as_ref()], d)
    }

    /// S·A (s × d).
    pub(crate) fn matrix(&self) -> MatRef<'_, f64> {
        let d = self.data.len() / self.rows.max(1);
        MatRef::from_column_major_slice(&self.data, self.rows, d)
    }
}

/// The sketch S·A of the least-squares matrix A = D·Xc (D = diag(√(sᵢ/S)), Xc centred by the
/// problem's weighted means), in one read of X: `SparseSign` fed in chunks of
/// `CHUNK_ROWS` rows.
pub fn sparse_sign(problem: &RidgeProblem<'_>, seed: u64) -> Mat<f64> {
    sketch_of(problem, seed).matrix().to_owned()
}

fn sketch_of(problem: &RidgeProblem<'_>, seed: u64) -> SparseSign {
    let (n, d) = (problem.n_samples(), problem.n_features());
    let inv_s = 1.0 / problem.weight_sum();
    let mut sketch = SparseSign::new(n, d, seed);
    let mut start = 0;
    while start < n {
        let len = CHUNK_ROWS.min(n - start);
        let scale: Vec<f64> = (start..start + len)
            .map(|i| (problem.weight(i) * inv_s).sqrt())
            .collect();
        sketch.add(
            start,
            problem.x().subrows(start, len),
            problem.x_mean(),
            &scale,
            problem.par(),
        );
        start += len;
    }
    sketch
}

/// The upper-triangular R of [S·A; √λ·I] (d × d) for the [`sparse_sign`] sketch S·A of the
/// problem, at its λ (`SparseSign::preconditioner`).
pub fn preconditioner_factor(problem: &RidgeProblem<'_>, seed: u64) -> Mat<f64> {
    sketch_of(problem, seed).preconditioner(problem.lambda())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Synthetic;
    use faer::Par;

    #[test]
    fn mix64_is_the_splitmix_finaliser() {
        // SplitMix64 seeded with 0: its first output is mix64(0, 0).
        assert_eq!(mix64(0, 0), 0xe220_a839_7b1d_cdaf);
    }

    /// κ([A; √λ·I]·R⁻¹) for the problem's A = D·Xc, from the singular values of the product.
    fn preconditioned_condition(p: &RidgeProblem<'_>, r: MatRef<'_, f64>) -> f64 {
        let (n, d) = (p.n_samples(), p.n_features());
        let inv_s = 1.0 / p.weight_sum();
        let mut aug = Mat::from_fn(n + d, d, |i, j| {
            if i < n {
                (p.weight(i) * inv_s).sqrt() * (p.x()[(i, j)] - p.x_mean()[j])
            } else if i - n == j {
                p.lambda().sqrt()
            } else {
                0.0
            }
        });
        // [A; √λI]·R⁻¹ = (R⁻ᵀ·[A; √λI]ᵀ)ᵀ: solve with Rᵀ from the right, row by row.
        let mut t = aug.transpose().to_owned();
        faer::linalg::triangular_solve::solve_lower_triangular_in_place(
            r.transpose(),
            t.as_mut(),
            Par::Seq,
        );
        aug = t.transpose().to_owned();
        let s = aug.singular_values().unwrap();
        s[0] / s[s.len() - 1]
    }

    #[test]
    fn preconditioned_condition_is_small_whatever_the_data() {
        for (condition, offset, weighted) in [(1e2, 0.0, false), (1e6, 1e3, true)] {
            let data = Synthetic {
                n_samples: 4000,
                n_features: 40,
                condition,
                offset,
                ..Default::default()
            }
            .generate()
            .unwrap();
            let w: Vec<f64> = (0..4000).map(|i| 0.5 + (i % 7) as f64).collect();
            let mut b = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref()).lambda(1e-6);
            if weighted {
                b = b.weights_slice(&w);
            }
            let p = b.build().unwrap();
            let r = preconditioner_factor(&p, 3);
            let kappa = preconditioned_condition(&p, r.as_ref());
            // s = 4d: about (1 + ½)/(1 − ½) = 3 for a Gaussian sketch.
            assert!(
                kappa < 6.0,
                "κ(X) = {condition:e}: preconditioned κ = {kappa}"
            );
        }
    }

    #[test]
    fn sketch_is_the_same_on_any_thread_count_and_exact_below_s_rows() {
        let data = Synthetic {
            n_samples: 9000,
            n_features: 12,
            offset: 5.0,
            ..Default::default()
        }
        .generate()
        .unwrap();
        let build = |par| {
            RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
                .par(par)
                .build()
                .unwrap()
        };
        let one = sparse_sign(&build(Par::Seq), 11);
        let two = sparse_sign(&build(Par::rayon(2)), 11);
        assert_eq!(one, two);
        assert_ne!(one, sparse_sign(&build(Par::Seq), 12));
        // n ≤ 4d: S = I, so R is the exact factor and the preconditioned problem is orthogonal.
        let small = RidgeProblem::builder(
            data.x.as_ref().subrows(0, 40),
            data.y.as_ref().subrows(0, 40),
        )
        .lambda(1e-3)
        .build()
        .unwrap();
        let kappa = preconditioned_condition(&small, preconditioner_factor(&small, 0).as_ref());
        assert!((kappa - 1.0).abs() < 1e-10, "{kappa}");
    }
}
