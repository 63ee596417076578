//! Every registered backend ([`tikhonov::solvers::names`]) on synthetic problems (DESIGN.md §5).
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
//! - Every other case is first probed once with its default options plus a wall-time limit of
//!   `PROBE_SECONDS` (2.5 s; direct backends ignore the limit). If the probe stops on the time
//!   limit (iterative) or a single run takes ≥ 2.5 s (direct), the case is **skipped** and a `SKIP`
//!   line says so: 10 samples of it would dominate the whole bench. The probe's own time is still
//!   printed on its `PROBE` line. On the 2-core reference machine this skips `dual` at n = 10 000
//!   (≈ 6 s per solve) and `gd` at the largest sizes (~1 200 iterations of two passes over X to
//!   reach its default tol 1e-8); the `PROBE`/`SKIP` lines of a run give the actual list.
//!   Set `SOLVERS_NO_SKIP=1` to benchmark every probed case regardless.
//!
//! The probe also prints, per case, iterations/epochs, whether the run converged and, for the
//! iterative backends, the bytes of X streamed per pass and the bandwidth that implies
//! (DESIGN.md §5: gradient descent is dominated by streaming X).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode};
use faer::Par;
use tikhonov::RidgeProblem;
use tikhonov::data::Synthetic;
use tikhonov::solvers::{self, REGISTRY, SolverKind, SolverOptions};

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
            let data = Synthetic {
                n_samples: n,
                n_features: d,
                condition: 10.0,
                ..Default::default()
            }
            .generate()
            .expect("valid synthetic problem");
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
                        // Iterative: stopped by the probe's time limit. Direct: one run
                        // already took longer than the limit (direct solvers ignore it).
                        if fit.fit_seconds >= PROBE_SECONDS
                            || (info.kind == SolverKind::Iterative
                                && !fit.converged
                                && fit.fit_seconds >= 0.9 * PROBE_SECONDS)
                        {
                            skip = !no_skip;
                        }
                    }
                    Err(e) => println!("PROBE {group_name}/{}: error: {e}", info.name),
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
                group.bench_function(BenchmarkId::from_parameter(info.name), |b| {
                    b.iter(|| black_box(solver.solve(black_box(&problem))))
                });
            }
            group.finish();
        }
    }
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

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut c = Criterion::default().configure_from_args();
    bench_solvers(&mut c, &filters);
    c.final_summary();
}
