//! Synthetic regression problems whose centred design has an exactly chosen condition number;
//! see [`Synthetic`].

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder::{
    apply_block_householder_sequence_on_the_left_in_place_scratch,
    apply_block_householder_sequence_on_the_left_in_place_with_conj,
};
use faer::linalg::qr::no_pivoting::factor::{
    qr_in_place, qr_in_place_scratch, recommended_block_size,
};
use faer::{Col, Conj, Mat, Par};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::error::{Error, Result};

/// Independent random streams of one seed, so that, for example, the true coefficients do not
/// change when only `n_samples` does.
const STREAM_BASIS: u64 = 0;
const STREAM_ROTATION: u64 = 1;
const STREAM_COEF: u64 = 2;
const STREAM_NOISE: u64 = 3;
const STREAM_LABELS: u64 = 4;

/// Recipe for a synthetic regression problem with a chosen condition number of the centred design.
///
/// [`generate`](Self::generate) is deterministic: the same fields give the same data, bit for
/// bit, whatever the thread count (the factorisations run sequentially for this reason), on a
/// given platform and faer version.
///
/// # Construction
///
/// With r = min(d, n − 1) (the largest rank a centred n × d matrix can have), the design is
///
/// ```text
/// X = U · diag(σ₁ … σᵣ) · V_rᵀ + offset            σₖ = √n · κ^(−(k−1)/(r−1))
/// ```
///
/// where U (n × r) has orthonormal columns that are all orthogonal to the all-ones vector, and V_r
/// is the first r columns of a random d × d orthogonal matrix. Because every column of U sums to
/// zero, centring X removes exactly the offset, so the centred design is Xc = U·diag(σ)·V_rᵀ, whose
/// nonzero singular values are exactly σ₁ = √n ≥ … ≥ σᵣ = √n/κ. Hence ‖Xc‖₂ = √n (features of
/// roughly unit scale) and κ(Xc) = σ₁/σᵣ = `condition`.
///
/// U is built as H·[0; Q̃], where Q̃ ((n−1) × r) is the thin Q factor of an (n−1) × r Gaussian
/// matrix and H is the Householder reflection that swaps e₁ and 𝟙/√n. This spans a uniformly
/// random r-dimensional subspace of 𝟙⊥ — the same distribution as the Q factor of a centred
/// Gaussian — but its orthogonality to 𝟙 holds to machine precision however ill-conditioned the
/// Gaussian draw is, and it needs no centring pass. Q̃ is never formed: the Householder vectors of
/// the QR are applied directly to diag(σ)·V_rᵀ, so the peak memory is two n × d matrices and the
/// cost is two QR-sized passes (≈ 4·n·d² flops; n = 10⁶, d = 100 takes about 5 s).
///
/// # When the rank is limited
///
/// If d ≥ n, the centred design has rank at most n − 1, so only r = n − 1 singular values are
/// nonzero and `condition` is the ratio of the largest to the smallest *nonzero* one; the other
/// d − r are zero. With r = 1 (one feature, or two samples) there is a single nonzero singular
/// value √n and `condition` has no effect; with n = 1 the centred design is zero.
///
/// # Accuracy
///
/// Computed in floating point, the singular values of the centred X match the requested ones to
/// about ε·√n·(small factor) in absolute terms, i.e. σᵣ to a relative ε·κ. So κ up to ~10¹² is
/// realised to several digits; beyond ~10¹⁵ the smallest singular values drown in rounding and
/// the realised condition number is lower than requested. A large `offset` adds rounding of
/// relative size ε·|offset|/σ to what a user recovers by centring.
///
/// # Example
///
/// ```
/// use tikhonov::data::Synthetic;
///
/// let data = Synthetic { n_samples: 200, n_features: 5, condition: 1e3, seed: 7, ..Default::default() }
///     .generate()?;
/// assert_eq!((data.x.nrows(), data.x.ncols()), (200, 5));
/// # Ok::<(), tikhonov::error::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Synthetic {
    /// Number of samples n (rows of X), ≥ 1.
    pub n_samples: usize,
    /// Number of features d (columns of X), ≥ 1.
    pub n_features: usize,
    /// Condition number κ(Xc) ≥ 1 of the centred design: the ratio of its largest to its smallest
    /// nonzero singular value.
    pub condition: f64,
    /// Standard deviation of the Gaussian noise added to y, ≥ 0.
    pub noise: f64,
    /// Added to every entry of X, so that every column mean equals it (to test centring).
    pub offset: f64,
    /// Added to every entry of y: the true intercept.
    pub intercept: f64,
    /// Seed of the ChaCha8 generator.
    pub seed: u64,
}

impl Default for Synthetic {
    /// n = 1000, d = 20, κ = 10, noise 0.1, no offset, no intercept, seed 0.
    fn default() -> Self {
        Synthetic {
            n_samples: 1000,
            n_features: 20,
            condition: 10.0,
            noise: 0.1,
            offset: 0.0,
            intercept: 0.0,
            seed: 0,
        }
    }
}

/// A generated problem: the design, the targets and the coefficients that produced them.
#[derive(Debug, Clone)]
pub struct SyntheticData {
    /// Design matrix, n × d.
    pub x: Mat<f64>,
    /// Targets, y = X·true_coef + intercept + noise·N(0, 1).
    pub y: Col<f64>,
    /// The coefficients used to make y, with independent N(0, 1) entries.
    pub true_coef: Col<f64>,
}

impl Synthetic {
    /// Number of nonzero singular values of the centred design: min(d, n − 1).
    pub fn rank(&self) -> usize {
        self.n_features.min(self.n_samples.saturating_sub(1))
    }

    /// The nonzero singular values the centred design will have, largest first:
    /// σₖ = √n · κ^(−(k−1)/(r−1)) for k = 1 … r, with r = [`rank`](Self::rank).
    ///
    /// Does not validate the fields; [`generate`](Self::generate) does.
    pub fn singular_values(&self) -> Vec<f64> {
        let r = self.rank();
        let top = (self.n_samples as f64).sqrt();
        let log_kappa = self.condition.ln();
        (0..r)
            .map(|k| {
                if k == 0 {
                    top
                } else if k + 1 == r {
                    // Exactly √n/κ at the end, rather than whatever exp(−ln κ) rounds to.
                    top / self.condition
                } else {
                    top * (-log_kappa * k as f64 / (r - 1) as f64).exp()
                }
            })
            .collect()
    }

    /// Checks the fields and builds the problem (see [`Synthetic`] for the construction).
    ///
    /// # Errors
    ///
    /// [`Error::OutOfMemory`] if the data would not fit in the machine's available memory (n·d
    /// overflowing included), before anything is allocated.
    /// [`Error::InvalidParameter`] if `n_samples` or `n_features` is 0, `condition`
    /// is not a finite number ≥ 1, `noise` is negative or not finite, or `offset` or `intercept`
    /// is not finite.
    pub fn generate(&self) -> Result<SyntheticData> {
        self.validate()?;
        let d = self.n_features;
        let x = self.design();

        let mut coef_rng = stream(self.seed, STREAM_COEF);
        let true_coef = Col::from_fn(d, |_| coef_rng.sample::<f64, _>(StandardNormal));

        // y = Σⱼ wⱼ·xⱼ column by column, rather than faer's matrix–vector product, whose parallel
        // split (and so its rounding) depends on the thread count; this keeps y reproducible.
        let mut y = Col::<f64>::zeros(x.nrows());
        for (j, &w) in true_coef.iter().enumerate() {
            for (yi, &xij) in y.iter_mut().zip(x.col_as_slice(j)) {
                *yi += w * xij;
            }
        }
        for yi in y.iter_mut() {
            *yi += self.intercept;
        }
        if self.noise > 0.0 {
            let mut noise_rng = stream(self.seed, STREAM_NOISE);
            for yi in y.iter_mut() {
                *yi += self.noise * noise_rng.sample::<f64, _>(StandardNormal);
            }
        }
        Ok(SyntheticData { x, y, true_coef })
    }

    /// Labels for logistic regression drawn from generated data: label 1 with probability
    /// σ(yᵢ), reading each target yᵢ = xᵢᵀw + b + noise as log-odds, else 0 (from the seed's own
    /// random stream, so the labels are reproducible and independent of the noise).
    pub fn logistic_labels(&self, data: &SyntheticData) -> Col<f64> {
        let mut rng = stream(self.seed, STREAM_LABELS);
        Col::from_fn(data.y.nrows(), |i| {
            let u: f64 = rng.random();
            if u < crate::loss::sigmoid(data.y[i]) {
                1.0
            } else {
                0.0
            }
        })
    }

    fn validate(&self) -> Result<()> {
        if self.n_samples == 0 {
            return Err(Error::invalid(
                "n_samples",
                0,
                "at least 1 sample is needed (2 or more for a non-zero centred design)",
            ));
        }
        if self.n_features == 0 {
            return Err(Error::invalid(
                "n_features",
                0,
                "at least 1 feature is needed",
            ));
        }
        // Peak memory of `generate`: X, the (n − 1) × r Gaussian basis, V and its QR (d × d
        // each), y and the true coefficients; checked before anything is allocated.
        let (n, d, r) = (
            self.n_samples as u128,
            self.n_features as u128,
            self.rank() as u128,
        );
        // Each product of two u64 values fits in a u128; sums and scalings are checked.
        let bytes = (n * d)
            .checked_add(n.saturating_sub(1) * r)
            .and_then(|e| e.checked_add((d * d).checked_mul(2)?))
            .and_then(|e| e.checked_add(n + d))
            .and_then(|e| e.checked_mul(8));
        super::check_memory(
            || {
                format!(
                    "the synthetic problem with n = {}, d = {}",
                    self.n_samples, self.n_features
                )
            },
            bytes.and_then(|b| u64::try_from(b).ok()),
            "choose a smaller n or d",
        )?;
        if !(self.condition.is_finite() && self.condition >= 1.0) {
            return Err(Error::invalid(
                "condition",
                self.condition,
                "a finite number ≥ 1 (the ratio of the largest to the smallest singular value)",
            ));
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return Err(Error::invalid(
                "noise",
                self.noise,
                "a finite standard deviation ≥ 0 (0 for noise-free targets)",
            ));
        }
        if !self.offset.is_finite() {
            return Err(Error::invalid("offset", self.offset, "a finite number"));
        }
        if !self.intercept.is_finite() {
            return Err(Error::invalid(
                "intercept",
                self.intercept,
                "a finite number",
            ));
        }
        Ok(())
    }

    /// X = H·[0; Q̃]·diag(σ)·V_rᵀ + offset (see [`Synthetic`]).
    fn design(&self) -> Mat<f64> {
        let n = self.n_samples;
        let d = self.n_features;
        let r = self.rank();
        let sigma = self.singular_values();
        let mut x = Mat::<f64>::zeros(n, d);

        if r > 0 {
            // V: the Q factor of a d × d Gaussian matrix is orthogonal.
            let v = {
                let mut g = gaussian_from(d, d, &mut stream(self.seed, STREAM_ROTATION));
                let coeff = qr_in_place_seq(&mut g);
                let mut v = Mat::<f64>::identity(d, d);
                apply_q_seq(&g, &coeff, v.as_mut());
                v
            };

            // Rows 1..n of X start as [diag(σ)·V_rᵀ; 0] ((n−1) × d) …
            for j in 0..d {
                let col = x.col_as_slice_mut(j);
                for (k, &s) in sigma.iter().enumerate() {
                    col[1 + k] = s * v[(j, k)];
                }
            }
            drop(v);

            // … and become Q̃·diag(σ)·V_rᵀ by applying the Householder reflectors of the QR of an
            // (n−1) × r Gaussian matrix: Q_full·[B; 0] = Q_thin·B, without forming Q.
            let mut basis = gaussian_from(n - 1, r, &mut stream(self.seed, STREAM_BASIS));
            let coeff = qr_in_place_seq(&mut basis);
            apply_q_seq(&basis, &coeff, x.as_mut().get_mut(1.., ..));
            drop(basis);

            // Apply H = I − 2uuᵀ/uᵀu with u = e₁ − 𝟙/√n, which maps e₁ to 𝟙/√n and so maps
            // vectors with a zero first entry into 𝟙⊥. For such a column z with S = Σᵢ₌₂ⁿ zᵢ,
            // (Hz)₁ = S/√n and (Hz)ᵢ = zᵢ − S/(n − √n) for i ≥ 2 (then Σᵢ (Hz)ᵢ = 0).
            let nf = n as f64;
            let root = nf.sqrt();
            let shift_den = nf - root;
            for j in 0..d {
                let col = x.col_as_slice_mut(j);
                let s: f64 = col[1..].iter().sum();
                col[0] = s / root;
                let shift = s / shift_den;
                for z in &mut col[1..] {
                    *z -= shift;
                }
            }
        }

        if self.offset != 0.0 {
            for j in 0..d {
                for z in x.col_as_slice_mut(j) {
                    *z += self.offset;
                }
            }
        }
        x
    }
}

/// Householder QR of `a` in place (R above the diagonal, the reflectors below); returns the block
/// reflector coefficients.
///
/// Sequential on purpose: faer's parallel kernels split reductions according to the thread count,
/// so the generated data would change in the last bits with the number of threads. Sequentially, a
/// seed gives the same problem whatever the thread setting, at about 1.5× the time.
fn qr_in_place_seq(a: &mut Mat<f64>) -> Mat<f64> {
    let (m, r) = a.shape();
    let block = recommended_block_size::<f64>(m, r);
    let mut coeff = Mat::<f64>::zeros(block, m.min(r));
    qr_in_place(
        a.as_mut(),
        coeff.as_mut(),
        Par::Seq,
        MemStack::new(&mut MemBuffer::new(qr_in_place_scratch::<f64>(
            m,
            r,
            block,
            Par::Seq,
            Default::default(),
        ))),
        Default::default(),
    );
    coeff
}

/// `target ← Q·target`, with Q the full orthogonal factor of a QR made by [`qr_in_place_seq`].
fn apply_q_seq(qr: &Mat<f64>, coeff: &Mat<f64>, target: faer::MatMut<'_, f64>) {
    let ncols = target.ncols();
    apply_block_householder_sequence_on_the_left_in_place_with_conj(
        qr.as_ref(),
        coeff.as_ref(),
        Conj::No,
        target,
        Par::Seq,
        MemStack::new(&mut MemBuffer::new(
            apply_block_householder_sequence_on_the_left_in_place_scratch::<f64>(
                qr.nrows(),
                coeff.nrows(),
                ncols,
            ),
        )),
    );
}

/// An n × d matrix of independent N(0, 1) entries from a ChaCha8 generator seeded with `seed`,
/// drawn column by column.
pub fn gaussian(n: usize, d: usize, seed: u64) -> Mat<f64> {
    gaussian_from(n, d, &mut ChaCha8Rng::seed_from_u64(seed))
}

fn gaussian_from(n: usize, d: usize, rng: &mut ChaCha8Rng) -> Mat<f64> {
    let mut g = Mat::<f64>::zeros(n, d);
    // Fill in memory order, explicitly, so the values do not depend on how `Mat::from_fn`
    // happens to visit entries.
    for j in 0..d {
        for z in g.col_as_slice_mut(j) {
            *z = rng.sample(StandardNormal);
        }
    }
    g
}

fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;

    /// X with each column's mean subtracted, and the means.
    fn centred(x: &Mat<f64>) -> (Mat<f64>, Vec<f64>) {
        let n = x.nrows() as f64;
        let means: Vec<f64> = (0..x.ncols())
            .map(|j| x.col(j).iter().sum::<f64>() / n)
            .collect();
        (
            Mat::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)] - means[j]),
            means,
        )
    }

    fn check_spectrum(spec: &Synthetic, rel_tol: f64) {
        let data = spec.generate().unwrap();
        let (xc, means) = centred(&data.x);
        for m in &means {
            assert!(
                (m - spec.offset).abs() <= 1e-12 * (1.0 + spec.offset.abs()),
                "mean {m} vs offset {}",
                spec.offset
            );
        }
        let got = xc.singular_values().unwrap();
        let want = spec.singular_values();
        assert_eq!(want.len(), spec.rank());
        for (k, w) in want.iter().enumerate() {
            let rel = (got[k] - w).abs() / w;
            assert!(
                rel <= rel_tol,
                "σ_{k}: got {} want {w} (rel {rel:e})",
                got[k]
            );
        }
        // The remaining singular values (rank-limited case) are zero up to rounding.
        for g in &got[want.len()..] {
            assert!(
                *g <= 1e-12 * want[0],
                "expected a zero singular value, got {g}"
            );
        }
        let kappa = got[0] / got[want.len() - 1];
        if spec.rank() > 1 {
            assert!((kappa / spec.condition - 1.0).abs() <= rel_tol);
        }
    }

    #[test]
    fn singular_values_are_exact() {
        check_spectrum(
            &Synthetic {
                n_samples: 300,
                n_features: 12,
                condition: 1e4,
                offset: 3.0,
                seed: 1,
                ..Default::default()
            },
            1e-10,
        );
        check_spectrum(
            &Synthetic {
                n_samples: 50,
                n_features: 49,
                condition: 1e6,
                offset: -2.0,
                seed: 2,
                ..Default::default()
            },
            1e-10,
        );
    }

    #[test]
    fn more_features_than_samples_use_rank_n_minus_1() {
        let spec = Synthetic {
            n_samples: 10,
            n_features: 30,
            condition: 100.0,
            offset: 1.0,
            seed: 3,
            ..Default::default()
        };
        assert_eq!(spec.rank(), 9);
        check_spectrum(&spec, 1e-10);
        // d = n: still rank n − 1 after centring.
        check_spectrum(
            &Synthetic {
                n_samples: 8,
                n_features: 8,
                condition: 50.0,
                ..Default::default()
            },
            1e-10,
        );
    }

    #[test]
    fn tiny_problems() {
        // One feature: a single nonzero singular value √n.
        check_spectrum(
            &Synthetic {
                n_samples: 5,
                n_features: 1,
                condition: 1e3,
                ..Default::default()
            },
            1e-12,
        );
        // One sample: the centred design is zero; X is the offset row.
        let data = Synthetic {
            n_samples: 1,
            n_features: 3,
            offset: 2.0,
            ..Default::default()
        }
        .generate()
        .unwrap();
        assert!(data.x.col_iter().all(|c| c[0] == 2.0));
    }

    #[test]
    fn targets_follow_the_model() {
        let spec = Synthetic {
            n_samples: 100,
            n_features: 4,
            noise: 0.0,
            intercept: -7.5,
            offset: 2.0,
            seed: 11,
            ..Default::default()
        };
        let data = spec.generate().unwrap();
        let fitted = &data.x * &data.true_coef;
        for i in 0..100 {
            assert!((data.y[i] - fitted[i] - spec.intercept).abs() < 1e-12);
        }
        // With noise, the residual has about the requested standard deviation.
        let noisy = Synthetic {
            n_samples: 20_000,
            noise: 0.5,
            ..spec
        }
        .generate()
        .unwrap();
        let fitted = &noisy.x * &noisy.true_coef;
        let res: Vec<f64> = (0..20_000)
            .map(|i| noisy.y[i] - fitted[i] - spec.intercept)
            .collect();
        let sd = (res.iter().map(|r| r * r).sum::<f64>() / res.len() as f64).sqrt();
        assert!((sd - 0.5).abs() < 0.02, "noise sd {sd}");
    }

    #[test]
    fn deterministic_for_a_seed_and_seeds_differ() {
        let spec = Synthetic {
            n_samples: 64,
            n_features: 6,
            seed: 42,
            ..Default::default()
        };
        let a = spec.generate().unwrap();
        let b = spec.generate().unwrap();
        assert_eq!(a.x, b.x);
        assert_eq!(a.y, b.y);
        assert_eq!(a.true_coef, b.true_coef);

        let c = Synthetic {
            seed: 43,
            ..spec.clone()
        }
        .generate()
        .unwrap();
        assert_ne!(a.x, c.x);
        assert_ne!(a.y, c.y);
        assert_ne!(a.true_coef, c.true_coef);

        // The coefficients come from their own stream: they do not depend on n.
        let d = Synthetic {
            n_samples: 100,
            ..spec
        }
        .generate()
        .unwrap();
        assert_eq!(a.true_coef, d.true_coef);

        assert_eq!(gaussian(5, 3, 9), gaussian(5, 3, 9));
        assert_ne!(gaussian(5, 3, 9), gaussian(5, 3, 10));
    }

    #[test]
    fn invalid_fields_are_rejected() {
        let base = Synthetic::default();
        let cases = [
            Synthetic {
                n_samples: 0,
                ..base.clone()
            },
            Synthetic {
                n_features: 0,
                ..base.clone()
            },
            Synthetic {
                condition: 0.5,
                ..base.clone()
            },
            Synthetic {
                condition: f64::NAN,
                ..base.clone()
            },
            Synthetic {
                condition: f64::INFINITY,
                ..base.clone()
            },
            Synthetic {
                noise: -1.0,
                ..base.clone()
            },
            Synthetic {
                offset: f64::NAN,
                ..base.clone()
            },
            Synthetic {
                intercept: f64::INFINITY,
                ..base.clone()
            },
        ];
        for s in cases {
            assert!(
                matches!(s.generate(), Err(Error::InvalidParameter { .. })),
                "{s:?} should be rejected"
            );
        }
        // Sizes beyond memory (n·d overflowing included) are refused before allocating, with
        // the memory they need.
        for (n, d) in [(usize::MAX, 2), (1 << 40, 1 << 10)] {
            let s = Synthetic {
                n_samples: n,
                n_features: d,
                ..base.clone()
            };
            let e = s.generate().unwrap_err();
            assert!(matches!(e, Error::OutOfMemory { .. }), "{e}");
            assert!(e.to_string().contains("needs"), "{e}");
        }
    }
}
