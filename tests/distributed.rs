//! Many partitions, one fit: the statistics of each partition are computed apart, serialised
//! (`Moments::to_bytes`, src/state.rs), shipped, read back and merged in random orders and
//! random tree shapes, as workers and a coordinator would (docs/DISTRIBUTED.md). Every merge
//! gives the in-memory fit to 1e-12.

use faer::{Col, Mat, Par};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tikhonov::RidgeProblem;
use tikhonov::data::Synthetic;
use tikhonov::moments::Moments;
use tikhonov::solvers::{Refined, Solver};
use tikhonov::sufficient::MomentsProblem;

/// Cuts 0..n into `parts` non-empty ranges of random lengths.
fn partitions(n: usize, parts: usize, rng: &mut ChaCha8Rng) -> Vec<(usize, usize)> {
    let mut cuts: Vec<usize> = (1..n).collect();
    cuts.shuffle(rng);
    let mut cuts: Vec<usize> = cuts.into_iter().take(parts - 1).collect();
    cuts.push(0);
    cuts.push(n);
    cuts.sort_unstable();
    cuts.windows(2).map(|w| (w[0], w[1] - w[0])).collect()
}

/// Merges the states pairwise in a random tree: repeatedly two random states become one.
fn random_tree(mut states: Vec<Vec<u8>>, rng: &mut ChaCha8Rng) -> Moments {
    while states.len() > 1 {
        let a = states.swap_remove(rng.random_range(0..states.len()));
        let b = states.swap_remove(rng.random_range(0..states.len()));
        let mut m = Moments::from_bytes(&a).unwrap();
        m.merge(&Moments::from_bytes(&b).unwrap());
        states.push(m.to_bytes());
    }
    Moments::from_bytes(&states[0]).unwrap()
}

#[test]
fn partition_states_merged_in_any_order_or_tree_give_the_in_memory_fit() {
    let g = Synthetic {
        n_samples: 6000,
        n_features: 12,
        condition: 30.0,
        noise: 0.5,
        offset: 1e4,
        intercept: 2.0,
        seed: 4,
    }
    .generate()
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let s = Col::from_fn(6000, |_| rng.random_range(0.1..3.0));
    let lambda = 1e-4;
    let reference = Refined::qr()
        .solve(
            &RidgeProblem::builder(g.x.as_ref(), g.y.as_ref())
                .weights(s.as_ref())
                .lambda(lambda)
                .build()
                .unwrap(),
        )
        .unwrap();
    let y = Mat::from_fn(6000, 1, |i, _| g.y[i]);
    for trial in 0..6 {
        // 64 partitions of random sizes, each summarised by a "worker" and serialised.
        let parts = partitions(6000, 64, &mut rng);
        let states: Vec<Vec<u8>> = parts
            .iter()
            .map(|&(first, len)| {
                Moments::compute(
                    g.x.as_ref().subrows(first, len),
                    y.as_ref().subrows(first, len),
                    Some(s.as_ref().subrows(first, len)),
                    true,
                    Par::Seq,
                )
                .to_bytes()
            })
            .collect();
        // Even trials: a random sequential order; odd trials: a random tree.
        let merged = if trial % 2 == 0 {
            let mut order = states.clone();
            order.shuffle(&mut rng);
            let mut acc = Moments::from_bytes(&order[0]).unwrap();
            for b in &order[1..] {
                acc.merge(&Moments::from_bytes(b).unwrap());
            }
            acc
        } else {
            random_tree(states, &mut rng)
        };
        let fit = MomentsProblem::new(merged, lambda)
            .unwrap()
            .solve()
            .unwrap();
        let err = (&fit.coef - &reference.coef).norm_l2() / reference.coef.norm_l2();
        assert!(err < 1e-12, "trial {trial}: relative error {err:e}");
        assert!(
            (fit.intercept - reference.intercept).abs()
                < 1e-12 * reference.intercept.abs().max(1.0),
            "trial {trial}: intercept {} vs {}",
            fit.intercept,
            reference.intercept
        );
    }
}
