//! Running the backends of a suite: a fresh problem per run, the reference optimum, direct
//! backends timed as they are, iterative ones once unrecorded (the pilot) and then with an
//! observer that copies the iterate, every kept step judged after the run (its held-out error
//! on the test split included); and the recording overhead.

use std::path::Path;
use std::sync::{Arc, Mutex};

use faer::Mat;
use faer::linalg::solvers::Solve as _;
use indicatif::ProgressBar;
use tikhonov::iterate::Observation;
use tikhonov::options::ObserverOption;
use tikhonov::solvers::{self, Registry, SolverKind, SolverOptions};
use tikhonov::{Error, Fit, LossKind, Record, RidgeProblem};

use super::laws::median;
use super::metrics::{Optimum, held_out, reference};
use super::problems::{Data, Test, datasets};
use super::suite::{Group, Start, Suite};
use crate::Problem;

/// One recorded step of one run: a row of `results.csv`.
#[derive(Debug, Clone)]
pub struct Row {
    pub solver: String,
    pub dataset: String,
    pub group: String,
    pub rep: usize,
    pub iteration: usize,
    /// Seconds since the solve began, recording excluded.
    pub time: f64,
    pub objective: f64,
    pub loss: LossKind,
    pub n: usize,
    pub d: usize,
    pub kappa: Option<f64>,
    pub lambda: f64,
    pub passes: f64,
    pub suboptimality: f64,
    pub rel_gradient: f64,
    pub rel_distance: f64,
    /// The held-out error on the test split (`metrics::held_out`), NaN without one:
    /// `objective_test_loss`.
    pub test_loss: f64,
    /// Whether this is the run's last step.
    pub last: bool,
    /// Why the run stopped (`solved` for a direct backend).
    pub stop: String,
    pub direct: bool,
}

/// The distinct values of `items`, in the order they first appear (the order of the suite:
/// datasets, groups and backends are listed as the rows met them).
pub fn distinct<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// The recording overhead of one (problem, backend): the pilot's unrecorded time against the
/// median recorded time of the same run.
#[derive(Debug, Clone)]
pub struct Overhead {
    pub dataset: String,
    pub solver: String,
    pub unrecorded: f64,
    pub recorded: f64,
    pub cadence: usize,
    pub steps: usize,
}

/// Everything a bench produced.
pub struct Results {
    pub rows: Vec<Row>,
    pub overhead: Vec<Overhead>,
    pub notes: Vec<String>,
}

/// Runs a suite's groups, one problem at a time, into `results`.
pub(super) struct Runner<'s> {
    pub suite: &'s Suite,
    pub repeats: usize,
    pub bar: ProgressBar,
    pub results: Results,
}

/// One (problem, backend) to run `repeats` times.
struct Job<'j, 'a> {
    info: &'j solvers::SolverInfo,
    options: &'j SolverOptions,
    /// Makes a fresh problem for each run.
    build: &'j dyn Fn() -> Result<Problem<'a>, Error>,
    /// The problem the runs are judged on.
    problem: &'j Problem<'a>,
    optimum: &'j Optimum,
    /// The rows held out, if any.
    test: Option<&'j Test>,
    row: &'j Row,
}

/// What one run of one backend returned, with the steps the observer kept.
type Kept = Arc<Mutex<Vec<(Record, Vec<f64>)>>>;

impl Runner<'_> {
    fn note(&mut self, line: String) {
        self.results.notes.push(line);
    }

    pub(super) fn run_group(&mut self, group: &Group, base: &Path) {
        for make in datasets(group, base) {
            let data = match make() {
                Ok(d) => d,
                Err(e) => {
                    self.note(format!("{}: skipped: {e}", group.name));
                    self.bar.inc(
                        (group.lambda.len() * group.solvers.len() * (self.repeats + 1)) as u64,
                    );
                    continue;
                }
            };
            for &lambda in &group.lambda {
                if let Err(e) = self.run_problem(group, &data, lambda) {
                    self.note(format!("{} at λ = {lambda}: skipped: {e}", data.name));
                }
            }
        }
    }

    fn run_problem(&mut self, group: &Group, data: &Data, lambda: f64) -> Result<(), Error> {
        let labels = data.labels(group.loss)?;
        // A problem caches λ-free work on its design (the Gram moments, L, the sample-major
        // copy: docs/ARCHITECTURE.md), so every run gets a fresh one: no run is timed on what
        // an earlier run (the reference, the pilot, a previous repeat) computed.
        let build = || data.problem(labels.as_ref(), lambda);
        let problem = build()?;
        let dataset = data.dataset_name(group, lambda);
        self.bar.set_message(dataset.clone());
        let reference = reference(&problem)?;
        let optimum = Optimum::new(&problem, &reference);
        let warm_start = match (group.start, &problem) {
            (Start::Equalised, Problem::Ridge(p)) => match equalised_start(p, &optimum) {
                Ok(w) => Some(w),
                Err(e) => {
                    self.note(format!("{dataset}: cold start instead of equalised: {e}"));
                    None
                }
            },
            _ => None,
        };
        let template = Row {
            solver: String::new(),
            dataset: dataset.clone(),
            group: group.name.clone(),
            rep: 0,
            iteration: 0,
            time: 0.0,
            objective: f64::NAN,
            loss: group.loss.kind(),
            n: data.x.nrows(),
            d: data.x.ncols(),
            kappa: data.kappa,
            lambda,
            passes: 0.0,
            suboptimality: f64::NAN,
            rel_gradient: f64::NAN,
            rel_distance: f64::NAN,
            test_loss: f64::NAN,
            last: true,
            stop: String::new(),
            direct: true,
        };
        let registry = Registry::builtin();
        for name in &group.solvers {
            let info = *registry.get(name)?;
            let options = SolverOptions {
                tol: group.tol,
                max_iter: group.max_iter,
                time_limit: group.time_limit.or(self.suite.time_limit),
                warm_start: warm_start.clone(),
                ..SolverOptions::default()
            };
            let row = Row {
                solver: name.clone(),
                direct: info.kind == SolverKind::Direct,
                ..template.clone()
            };
            let job = Job {
                info: &info,
                options: &options,
                build: &build,
                problem: &problem,
                optimum: &optimum,
                test: data.test.as_ref(),
                row: &row,
            };
            let outcome = if info.kind == SolverKind::Direct {
                self.run_direct(&job)
            } else {
                self.run_iterative(&job)
            };
            if let Err(e) = outcome {
                self.note(format!("{dataset}: {name}: {e}"));
            }
        }
        Ok(())
    }

    fn run_direct(&mut self, job: &Job<'_, '_>) -> Result<(), Error> {
        self.bar.inc(1); // no pilot
        let solver = job.info.build_applicable(job.options)?;
        for rep in 0..self.repeats {
            let fit = (job.build)()?.solve(solver.as_ref());
            self.bar.inc(1);
            let fit = fit?;
            let (gap, distance) = job
                .optimum
                .judge(job.problem, fit.coef.as_ref(), fit.intercept);
            self.results.rows.push(Row {
                rep,
                iteration: fit.iterations,
                time: fit.fit_seconds,
                objective: fit.objective,
                passes: fit.passes,
                suboptimality: gap,
                rel_gradient: relative(fit.gradient_norm, job.optimum.cold_gradient),
                rel_distance: distance,
                test_loss: held_out(job.test, job.row.loss, fit.coef.as_ref(), fit.intercept),
                stop: stop_name(&fit),
                ..job.row.clone()
            });
        }
        Ok(())
    }

    fn run_iterative(&mut self, job: &Job<'_, '_>) -> Result<(), Error> {
        // The pilot: unrecorded; its iterations set the cadence, its time is the baseline.
        let pilot = (job.build)()?.solve(job.info.build_applicable(job.options)?.as_ref());
        self.bar.inc(1);
        let pilot = pilot?;
        let cadence = pilot.iterations.div_ceil(self.suite.points).max(1);
        let mut recorded_times = Vec::new();
        let mut steps = 0;
        for rep in 0..self.repeats {
            let kept: Kept = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&kept);
            let observer = ObserverOption(Arc::new(move |o: &Observation<'_>| {
                // A copy of θ and of the record, nothing else: the metrics are computed after
                // the run. A poisoned lock (a panic elsewhere) only loses this step.
                if let Ok(mut v) = sink.lock() {
                    v.push((*o.record, o.theta.iter().copied().collect()));
                }
                std::ops::ControlFlow::Continue(())
            }));
            let recording = SolverOptions {
                record_every: cadence,
                observer: Some(observer),
                ..job.options.clone()
            };
            let fit = (job.build)()?.solve(job.info.build_applicable(&recording)?.as_ref());
            self.bar.inc(1);
            let fit = fit?;
            let kept = std::mem::take(&mut *kept.lock().unwrap_or_else(|e| e.into_inner()));
            // The driver calls the observer again at the last step when it was already due.
            let mut seen = std::collections::BTreeSet::new();
            let kept: Vec<_> = kept
                .into_iter()
                .filter(|(r, _)| seen.insert(r.iteration))
                .collect();
            let last_iteration = kept.last().map(|(r, _)| r.iteration);
            if let Some((r, _)) = kept.last() {
                recorded_times.push(r.seconds);
            }
            steps = kept.len();
            let stop = stop_name(&fit);
            for (record, theta) in kept {
                let (w, b) = Optimum::split(job.problem, &theta);
                let (gap, distance) = job.optimum.judge(job.problem, w.as_ref(), b);
                self.results.rows.push(Row {
                    rep,
                    iteration: record.iteration,
                    time: record.seconds,
                    objective: record.objective,
                    passes: record.passes,
                    suboptimality: gap,
                    rel_gradient: record.residual,
                    rel_distance: distance,
                    test_loss: held_out(job.test, job.row.loss, w.as_ref(), b),
                    last: Some(record.iteration) == last_iteration,
                    stop: stop.clone(),
                    ..job.row.clone()
                });
            }
        }
        self.results.overhead.push(Overhead {
            dataset: job.row.dataset.clone(),
            solver: job.row.solver.clone(),
            unrecorded: pilot.fit_seconds,
            recorded: median(&mut recorded_times),
            cadence,
            steps,
        });
        Ok(())
    }
}

/// w₀ = w* − H⁻¹·c𝟙 with H = XcᵀSXc/S + λI and c = ‖∇J(0)‖/√d (see [`Start::Equalised`]).
fn equalised_start(p: &RidgeProblem<'_>, optimum: &Optimum) -> Result<Vec<f64>, Error> {
    let d = p.n_features();
    let h = p.moments().xx_symmetric() * faer::Scale(1.0 / p.weight_sum())
        + Mat::<f64>::identity(d, d) * faer::Scale(p.lambda());
    let llt = h.llt(faer::Side::Lower).map_err(|_| {
        Error::invalid(
            "start",
            "equalised",
            "a design whose Hessian is positive definite (full column rank, or λ > 0)",
        )
    })?;
    let c = optimum.cold_gradient / (d as f64).sqrt();
    let e = llt.solve(Mat::<f64>::from_fn(d, 1, |_, _| c).as_ref());
    Ok((0..d).map(|j| optimum.coef[j] - e[(j, 0)]).collect())
}

fn relative(x: f64, reference: f64) -> f64 {
    if reference > 0.0 { x / reference } else { x }
}

fn stop_name(fit: &Fit) -> String {
    serde_json::to_value(fit.stop)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Runs shorter than this (unrecorded) are left out of the overhead figure: their times are
/// dominated by timer and scheduling noise on a shared machine.
pub(super) const OVERHEAD_MIN_SECONDS: f64 = 0.05;

/// The recording overhead over the runs long enough to measure it.
pub struct OverheadSummary {
    /// Median of recorded/unrecorded − 1.
    pub median: f64,
    pub runs: usize,
}

pub(super) fn summarise_overhead(overhead: &[Overhead]) -> OverheadSummary {
    let mut ratios: Vec<f64> = overhead
        .iter()
        .filter(|o| o.unrecorded >= OVERHEAD_MIN_SECONDS && o.recorded.is_finite())
        .map(|o| o.recorded / o.unrecorded - 1.0)
        .collect();
    OverheadSummary {
        runs: ratios.len(),
        median: median(&mut ratios),
    }
}
