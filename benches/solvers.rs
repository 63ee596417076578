//! Every registered backend ([`tikhonov::solvers::names`]) on synthetic problems (README, "Benchmarks").
//!
//! Problems: `Synthetic { n_samples: n, n_features: d, condition: 10, ..Default::default() }`
//! (noise 0.1, seed 0) for (n, d) ∈ {1 000, 10 000, 100 000} × {10, 100, 500}, λ = 1e-3, intercept
//! on, `Par::rayon(2)`. Iterative backends use their default options (no time limit).
//!
//! Run: `cargo bench --bench solvers` (≈ 5–10 minutes on 2 shared cores), or restrict with a
//! criterion filter, e.g. `cargo bench --bench solvers -- 'solvers/100000x500'` or
//! `cargo bench --bench solvers -- /cholesky`.
//!
//! # Skipped cases
//!
//! - `dual` (Cholesky of the n × n kernel, meant for d > n) is never run when the kernel would
//!   exceed 1 GiB (n ≥ 11 586): at n = 100 000 it would need 80 GB.
//! - Every case is first probed once with its default options plus a wall-time limit of
//!   `PROBE_SECONDS` (2.5 s; direct backends ignore the limit). An *iterative* case whose probe
//!   stops on that limit without converging is **skipped**, with a `SKIP` line that says so: 10
//!   samples of it would dominate the whole bench (typically `gd` and `sgd` at the largest sizes,
//!   where reaching the default tol takes over a thousand passes over X). Direct backends are
//!   always benchmarked. A case whose probe returns an error is skipped with the error printed.
//!   Set `SOLVERS_NO_SKIP=1` to benchmark every iterative case regardless.
//!
//! # Memory bandwidth mode
//!
//! `cargo bench --bench solvers -- bandwidth` runs only [`bandwidth`]: STREAM-like read and triad
//! kernels (2 threads) and the read rate one `gd` and one `cg` iteration achieve on
//! 1 000 000 × 100, each iteration timed from the driver's timestamps inside one run.
//!
//! The probe also prints, per case, iterations/epochs, whether the run converged and, for the
//! iterative backends, the bytes of X streamed per pass and the bandwidth that implies
//! (gradient descent is dominated by streaming X).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode};
use faer::Par;
use tikhonov::RidgeProblem;
use tikhonov::data::{Synthetic, SyntheticData};
use tikhonov::solvers::{self, REGISTRY, SolverKind, SolverOptions};

mod common;

const NS: [usize; 3] = [1_000, 10_000, 100_000];
const DS: [usize; 3] = [10, 100, 500];
const LAMBDA: f64 = 1e-3;
const PROBE_SECONDS: f64 = 2.5;

fn bench_solvers(c: &mut Criterion, filters: &[String]) {
    let no_skip = std::env::var_os("SOLVERS_NO_SKIP").is_some();
    let par = Par::rayon(2);
    for &n in &NS {
        for &d in &DS {
            let group_name = format!("solvers/{n}x{d}");
            // Generating 100 000 × 500 takes seconds: skip sizes no filter can match.
            let wanted = |name: &str| {
                let id = format!("{group_name}/{name}");
                filters.is_empty() || filters.iter().any(|f| id.contains(f.as_str()))
            };
            if !solvers::names().any(wanted) {
                continue;
            }
            let data = synthetic(n, d);
            let problem = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
                .lambda(LAMBDA)
                .par(par)
                .build()
                .expect("valid problem");

            let mut group = c.benchmark_group(&group_name);
            group.sample_size(10);
            group.sampling_mode(SamplingMode::Flat);
            let work = n * d * d;
            let (warm, meas) = if work >= 1_000_000_000 {
                (Duration::from_millis(500), Duration::from_secs(5))
            } else if work >= 100_000_000 {
                (Duration::from_millis(500), Duration::from_secs(3))
            } else {
                (Duration::from_millis(300), Duration::from_secs(2))
            };
            group.warm_up_time(warm);
            group.measurement_time(meas);

            for info in REGISTRY {
                if !wanted(info.name) {
                    continue;
                }
                if let Some(why) = infeasible(info.name, n, d) {
                    println!("SKIP  {group_name}/{}: {why}", info.name);
                    continue;
                }
                // Probe: one run with a time limit, to report iterations and to skip slow cases.
                let probe_opts = SolverOptions {
                    time_limit: Some(PROBE_SECONDS),
                    ..Default::default()
                };
                let probe = (info.build)(&probe_opts)
                    .expect("solver builds")
                    .solve(&problem);
                let mut skip = false;
                match &probe {
                    Ok(fit) => {
                        let mut line = format!(
                            "PROBE {group_name}/{}: {:.4} s, iterations {}, passes {}, converged {}",
                            info.name, fit.fit_seconds, fit.iterations, fit.passes, fit.converged
                        );
                        if info.kind == SolverKind::Iterative && fit.passes > 0.0 {
                            let bytes = (n * d * 8) as f64;
                            let per_pass = fit.fit_seconds / fit.passes;
                            line += &format!(
                                ", X = {:.1} MB per pass, {:.2} ms/pass → {:.1} GB/s of X",
                                bytes / 1e6,
                                per_pass * 1e3,
                                bytes / per_pass / 1e9
                            );
                        }
                        println!("{line}");
                        // Iterative: stopped by the probe's time limit. Direct backends are
                        // always benchmarked (one run is bounded by n·d² + d³ flops).
                        if info.kind == SolverKind::Iterative
                            && !fit.converged
                            && fit.fit_seconds >= 0.9 * PROBE_SECONDS
                        {
                            skip = !no_skip;
                        }
                    }
                    Err(e) => {
                        println!("SKIP  {group_name}/{}: the probe failed: {e}", info.name);
                        continue;
                    }
                }
                if skip {
                    println!(
                        "SKIP  {group_name}/{}: did not finish within {PROBE_SECONDS} s with default \
                         options (set SOLVERS_NO_SKIP=1 to run it anyway)",
                        info.name
                    );
                    continue;
                }
                let solver = (info.build)(&SolverOptions::default()).expect("solver builds");
                common::wait_quiet();
                group.bench_function(BenchmarkId::from_parameter(info.name), |b| {
                    b.iter(|| black_box(solver.solve(black_box(&problem))))
                });
            }
            group.finish();
        }
    }
}

/// The benchmark problem of size n × d: κ(Xc) = 10, noise 0.1, seed 0.
fn synthetic(n: usize, d: usize) -> SyntheticData {
    Synthetic {
        n_samples: n,
        n_features: d,
        condition: 10.0,
        ..Default::default()
    }
    .generate()
    .expect("valid synthetic problem")
}

/// Cases that cannot run here at all, whatever the time: the `dual` backend factors the n × n
/// kernel, 8·n² bytes (80 GB at n = 100 000) and n³/3 flops; it is meant for d > n.
fn infeasible(name: &str, n: usize, _d: usize) -> Option<String> {
    let kernel_bytes = 8.0 * (n as f64) * (n as f64);
    if name == "dual" && kernel_bytes > (1u64 << 30) as f64 {
        return Some(format!(
            "the n × n kernel needs {:.0} GB (limit 1 GiB here); `dual` is for d > n",
            kernel_bytes / 1e9
        ));
    }
    None
}

/// Memory bandwidth of the machine (STREAM-like read and triad) and the read bandwidth one
/// iteration of `gd` and of `cg` achieves on 1 000 000 × 100.
///
/// **Per-iteration time from inside one run.** Each backend runs once per round for
/// `ITERATIONS` iterations (tol 1e-300, which never stops it) with every iteration recorded; the
/// driver's timestamps exclude the recording, and the per-iteration time is the median of the
/// differences after the first `SKIP` (the first iterations pay for first-touch allocations).
/// An earlier version took the difference of two whole runs with 3 and 13 iterations: their
/// shared set-up (the power iteration for L, ~100 passes, over 5 s) made its noise larger than
/// the quantity measured, and it reported a gd iteration at 262 % of the read bandwidth.
///
/// **Reads per iteration.** A `gd` iteration evaluates one gradient in one read of X: over the
/// design's sample-major copy, which `gd` builds once (`objective::fused_rows_pass`: each row's
/// x·w and u·x while the row is in L1). A `cg` iteration makes one product with X and one with
/// Xᵀ: two reads of the column-major X. The figure printed is the bytes those reads move divided
/// by the time, against the STREAM-like read rate of the same rounds, whose arrays are backed by
/// huge pages like the copy (`common::stream::huge_zeros`).
///
/// Everything is timed in interleaved rounds (`BANDWIDTH_REPS` clean rounds wanted, default 7;
/// see [`common::Rounds`]); medians are printed.
fn bandwidth() {
    const ITERATIONS: usize = 30;
    const SKIP: usize = 5;
    let reps = std::env::var("BANDWIDTH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let (n, d) = (1_000_000, 100);
    let t = std::time::Instant::now();
    let data = synthetic(n, d);
    println!(
        "bandwidth: generated {n} × {d} (κ = 10) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let problem = RidgeProblem::builder(data.x.as_ref(), data.y.as_ref())
        .lambda(LAMBDA)
        .par(Par::rayon(2))
        .build()
        .expect("valid problem");
    // The median time between consecutive recorded iterations of one run, after the first SKIP.
    let per_iteration = |name: &str| -> f64 {
        let opts = SolverOptions {
            tol: Some(1e-300),
            max_iter: Some(ITERATIONS),
            record_every: 1,
            ..Default::default()
        };
        let fit = solvers::by_name(name, &opts)
            .and_then(|s| s.solve(&problem))
            .expect("the backend runs");
        assert_eq!(fit.iterations, ITERATIONS, "{name} stopped early");
        let mut steps: Vec<f64> = fit
            .history
            .windows(2)
            .skip(SKIP)
            .map(|w| (w[1].seconds - w[0].seconds) / (w[1].iteration - w[0].iteration) as f64)
            .collect();
        common::median(&mut steps)
    };

    // Read: one array the size of X. Triad: three arrays of 256 MB (8× the L3 cache).
    let mut big = common::stream::huge_zeros(n * d);
    big.fill(1.0);
    let m = 1 << 25;
    let mut ta = common::stream::huge_zeros(m);
    let (mut tb, mut tc) = (common::stream::huge_zeros(m), common::stream::huge_zeros(m));
    tb.fill(1.0);
    tc.fill(2.0);
    // Per-iteration seconds per round; index 0 is the warm-up call of common::Rounds.
    let (mut gd, mut cg) = (Vec::new(), Vec::new());
    let rounds = {
        let mut read2 = || {
            black_box(common::stream::read(&big, 2));
        };
        let mut read1 = || {
            black_box(common::stream::read(&big, 1));
        };
        let mut triad2 = || {
            common::stream::triad(&mut ta, &tb, &tc, 3.0, 2);
            black_box(&ta);
        };
        let mut run_gd = || gd.push(per_iteration("gd"));
        let mut run_cg = || cg.push(per_iteration("cg"));
        common::Rounds::run(
            reps,
            &mut [
                &mut read2,
                &mut read1,
                &mut triad2,
                &mut run_gd,
                &mut run_cg,
            ],
        )
    };
    let (used, note) = rounds.used();
    let x_bytes = (8 * n * d) as f64;
    let gbs = |bytes: f64, c: usize| bytes / common::median(&mut rounds.of(c)) / 1e9;
    let read_bw = gbs(x_bytes, 0);
    println!("bandwidth: {note}");
    println!(
        "  STREAM-like read  Σa, a = {:.0} MB, 2 threads: {read_bw:6.1} GB/s (median)",
        x_bytes / 1e6
    );
    println!(
        "  STREAM-like read  Σa, a = {:.0} MB, 1 thread:  {:6.1} GB/s",
        x_bytes / 1e6,
        gbs(x_bytes, 1)
    );
    println!(
        "  STREAM triad a = b + q·c, 3 × {:.0} MB, 2 threads: {:6.1} GB/s (24 bytes/element)",
        (8 * m) as f64 / 1e6,
        gbs(24.0 * m as f64, 2)
    );
    for (name, times, reads) in [("gd", &gd, 1.0), ("cg", &cg, 2.0)] {
        let mut per_round: Vec<f64> = used.iter().map(|&r| times[r + 1]).collect();
        let seconds = common::median(&mut per_round);
        let bw = reads * x_bytes / seconds / 1e9;
        println!(
            "  {name} on {n} × {d}, Par::rayon(2): {:.2} ms per iteration (median over the \
             iterations of one run, then over rounds); {reads} read(s) of X = {:.0} MB → \
             {bw:.1} GB/s = {:.0}% of the 2-thread read rate",
            seconds * 1e3,
            reads * x_bytes / 1e6,
            100.0 * bw / read_bw
        );
    }
}

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if filters.iter().any(|f| f == "bandwidth") {
        bandwidth();
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench_solvers(&mut c, &filters);
    c.final_summary();
}
