#!/usr/bin/env python3
"""Side-by-side timings of tikhonov against scikit-learn, same data, same machine, 2 threads.

Run from anywhere (paths are relative to the crate root), after `cargo build --release` and
`pip install -r scripts/requirements.txt`:

    python3 scripts/compare_sklearn.py ridge     # cholesky vs Ridge(solver="cholesky"), 100 000 x 500
                                                 # (--solver svd: svd vs Ridge(solver="svd"))
                                                 # (--also auto: more backends in the same rounds;
                                                 # --before BIN: the same run with an older build)
    python3 scripts/compare_sklearn.py rss       # peak RSS of `tikhonov fit` (cholesky, qr, svd)
    python3 scripts/compare_sklearn.py dual      # dual vs cholesky crossover at n = 2 000, and sklearn
    python3 scripts/compare_sklearn.py iterative # fastest iterative backend vs sag/saga/lsqr/sparse_cg
    python3 scripts/compare_sklearn.py sgd       # one sgd epoch vs one SGDRegressor epoch
    python3 scripts/compare_sklearn.py gradient  # one gd iteration vs NumPy's X.T @ (X @ w - y)
    python3 scripts/compare_sklearn.py logistic  # --loss logistic: newton vs newton-cholesky,
                                                 # first-order to a relative gradient, breast_cancer
    python3 scripts/compare_sklearn.py ridge --help   # options of one subcommand

How it is timed (README, "Benchmarks": medians and ratios, never a single absolute time):

- tikhonov runs as `target/release/tikhonov fit --solver NAME --x X.npy --y y.npy --lambda L
  --format json` with RAYON_NUM_THREADS=2. The JSON's `fit_seconds` is the solve alone (loading
  the .npy excluded), the figure compared with scikit-learn; the wall time of the process (loading
  included) is printed too.
- scikit-learn runs in this process on the same arrays under threadpoolctl.threadpool_limits(2);
  `estimator.fit` is timed with time.perf_counter (the data are already in memory, as for
  fit_seconds).
- After one untimed warm-up of each, the candidates alternate run by run, so load from other
  processes hits all of them alike; medians, min and max are printed. The machine may be shared:
  each round first waits (up to BENCH_QUIET_WAIT seconds, default 10; 0 disables) until no other
  task is runnable, and measures the share of CPU capacity other processes used during the round
  (from /proc/stat). Rounds repeat until --repeats *clean* rounds (share < BENCH_NOISE, default
  0.05) or 4 x --repeats rounds; statistics use the clean rounds when there are at least 3, and
  the output says which.

Conventions (README, "The objective"): tikhonov minimises 1/(2n)*RSS + (lambda/2)*|w|^2 (intercept never
penalised); scikit-learn's Ridge minimises RSS + alpha*|w|^2, so alpha = lambda*n gives the same w;
SGDRegressor(penalty="l2", alpha) minimises mean(loss)/... with alpha = lambda. The relative
residual of a solution w is our stopping quantity |grad J(w)| / |grad J(0)| with
grad J(w) = -(1/n) Xc^T (yc - Xc w) + lambda*w (Xc, yc centred), computed here in NumPy for
scikit-learn's solutions.

BLAS: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, if set, are removed for this Python process only
(the script re-executes itself without them before NumPy loads OpenBLAS, so OpenBLAS picks its own
kernel for this CPU); threadpoolctl.threadpool_info() is printed, so the BLAS library, version,
kernel ("architecture") and thread count are on record. By hand:
`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 scripts/compare_sklearn.py ...`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

_UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

# Re-exec without the OpenBLAS overrides *before* NumPy is imported (OpenBLAS reads them when it
# is loaded), so they are removed for this Python process only.
if any(v in os.environ for v in _UNSET):
    _removed = {v: os.environ[v] for v in _UNSET if v in os.environ}
    _env = {k: v for k, v in os.environ.items() if k not in _UNSET}
    _env["_COMPARE_SKLEARN_UNSET"] = ",".join(f"{k}={v}" for k, v in _removed.items())
    os.execve(sys.executable, [sys.executable, *sys.argv], _env)

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

THREADS = 2
CRATE = Path(__file__).resolve().parent.parent
DATA_DIR = CRATE / "target" / "compare_sklearn"


# ------------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------------


def make_data(n: int, d: int, seed: int, kind: str = "offset") -> tuple[Path, Path]:
    """X (n x d, C order) and y as .npy under DATA_DIR, deterministic from (kind, n, d, seed);
    reused when already there.

    kind "offset": mildly correlated Gaussian columns with offsets in [-5, 5] (so the intercept
    matters), y = X w + 2.5 + 0.1 noise.
    kind "kappaK" (e.g. "kappa100"): X = U diag(s) V^T + 3 with U (n x d) orthonormal columns
    orthogonal to the ones vector, s from sqrt(n) down to sqrt(n)/K geometrically, so the centred
    design has condition number exactly K; y = X w + 1 + 0.1 noise.
    """
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    xp = DATA_DIR / f"X_{kind}_{n}x{d}_seed{seed}.npy"
    yp = DATA_DIR / f"y_{kind}_{n}x{d}_seed{seed}.npy"
    if xp.exists() and yp.exists():
        xs = np.load(xp, mmap_mode="r")
        ys = np.load(yp, mmap_mode="r")
        if xs.shape == (n, d) and ys.shape == (n,) and xs.dtype == np.float64:
            return xp, yp
    rng = np.random.default_rng(seed)
    if kind == "offset":
        x = rng.standard_normal((n, d))
        x[:, 1:] += 0.3 * x[:, :-1]
        x += rng.uniform(-5.0, 5.0, size=d)
        w = rng.standard_normal(d)
        y = x @ w + 2.5 + 0.1 * rng.standard_normal(n)
    elif kind.startswith("kappa"):
        kappa = float(kind[len("kappa"):])
        g = rng.standard_normal((n, d))
        g -= g.mean(axis=0)
        u, _ = np.linalg.qr(g)
        u -= u.mean(axis=0)  # re-project out the ones vector against rounding
        s = np.sqrt(n) * kappa ** (-np.arange(d) / max(d - 1, 1))
        v, _ = np.linalg.qr(rng.standard_normal((d, d)))
        x = (u * s) @ v.T + 3.0
        w = rng.standard_normal(d)
        y = x @ w + 1.0 + 0.1 * rng.standard_normal(n)
    else:
        raise ValueError(f"unknown data kind {kind!r}")
    np.save(xp, np.ascontiguousarray(x))
    np.save(yp, y)
    return xp, yp


def load(xp: Path, yp: Path) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.load(xp), np.load(yp)
    if x.ndim != 2 or y.ndim != 1 or x.shape[0] != y.shape[0]:
        sys.exit(f"{xp}, {yp}: need X 2-D (n x d) and y 1-D (n), got {x.shape}, {y.shape}")
    return x, y


def relative_residual(x: np.ndarray, y: np.ndarray, lam: float, coef: np.ndarray) -> float:
    """|grad J(w)| / |grad J(0)| with intercept, grad J(w) = -(1/n) Xc^T (yc - Xc w) + lam w.

    Xc w is formed as X w - mean(X) w, so no centred copy of X is made."""
    n = x.shape[0]
    xm, yc = x.mean(axis=0), y - y.mean()
    r = yc - (x @ coef - xm @ coef)
    g = -(x.T @ r - xm * r.sum()) / n + lam * coef
    g0 = -(x.T @ yc - xm * yc.sum()) / n
    return float(np.linalg.norm(g) / np.linalg.norm(g0))


def coef_agreement(a: np.ndarray, b: np.ndarray, na: str = "tikhonov", nb: str = "sklearn") -> str:
    rel = np.linalg.norm(a - b) / np.linalg.norm(b)
    return f"|w_{na} - w_{nb}| / |w_{nb}| = {rel:.2e}"


# ------------------------------------------------------------------------------------------------
# Running and timing
# ------------------------------------------------------------------------------------------------


def tikhonov_exe() -> Path:
    exe = CRATE / "target" / "release" / "tikhonov"
    if not exe.exists():
        sys.exit(f"{exe} not found: run `cargo build --release` in {CRATE} first")
    return exe


def tikhonov_cmd(solver: str, xp: Path, yp: Path, lam: float, *extra: str) -> list[str]:
    return [str(tikhonov_exe()), "fit", "--solver", solver, "--x", str(xp), "--y", str(yp),
            "--lambda", repr(lam), "--format", "json", *extra]


def tikhonov_env() -> dict[str, str]:
    env = dict(os.environ)
    env["RAYON_NUM_THREADS"] = str(THREADS)
    return env


def run_tikhonov(cmd: list[str]) -> tuple[float, float, dict]:
    """One run: (fit_seconds from the JSON, wall seconds of the process, the JSON)."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=tikhonov_env(), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"tikhonov failed (exit {p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    out = json.loads(p.stdout)
    return float(out["fit_seconds"]), wall, out


def time_sklearn(make_estimator, x: np.ndarray, y: np.ndarray):
    """One fit of a fresh estimator under 2 BLAS threads: (seconds, fitted estimator)."""
    est = make_estimator()
    with threadpool_limits(limits=THREADS):
        t0 = time.perf_counter()
        est.fit(x, y)
        return time.perf_counter() - t0, est


def procs_running() -> int | None:
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("procs_running "):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def wait_quiet(budget: float) -> bool:
    """Waits until no other task is runnable (5 readings 20 ms apart of procs_running in
    /proc/stat, which counts this process) or `budget` seconds pass. The machine may be shared:
    other jobs' load distorts two-thread timings, and `nice` does not protect against it when the
    kernel groups tasks by session (autogroup). Returns whether it was quiet."""
    end = time.monotonic() + budget
    calm = 0
    while time.monotonic() < end:
        r = procs_running()
        if r is None:
            return False
        calm = calm + 1 if r <= 1 else 0
        if calm >= 5:
            return True
        time.sleep(0.02)
    return False


QUIET_WAIT = float(os.environ.get("BENCH_QUIET_WAIT", "10"))
NOISE = float(os.environ.get("BENCH_NOISE", "0.05"))


def cpu_snapshot() -> tuple[float, float, float] | None:
    """(machine busy ticks, machine total ticks, own ticks incl. waited-for children)."""
    try:
        with open("/proc/stat") as f:
            v = [int(t) for t in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    total = sum(v)
    busy = total - v[3] - v[4]  # minus idle and iowait
    t = os.times()
    own = (t.user + t.system + t.children_user + t.children_system) * os.sysconf("SC_CLK_TCK")
    return busy, total, own


def others_share(start) -> float:
    """Share of the machine's CPU capacity used by *other* processes since `start`."""
    now = cpu_snapshot()
    if start is None or now is None or now[1] <= start[1]:
        return float("nan")
    others = max(0.0, (now[0] - start[0]) - (now[2] - start[2]))
    return others / (now[1] - start[1])


class Race:
    """Candidates timed in alternation; each is a callable returning (seconds, payload).

    Each round waits for a quiet machine (wait_quiet), runs every candidate once, and measures
    the share of CPU capacity other processes used meanwhile; a round is clean when that share is
    below BENCH_NOISE (default 0.05). Rounds repeat until `repeats` clean rounds or 4*repeats
    rounds in all; the statistics use the clean rounds if there are at least 3, otherwise all
    rounds (and say so)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.calls = []
        self.all_times: dict[str, list[float]] = {}
        self.noise: list[float] = []
        self.last: dict[str, object] = {}

    def add(self, name: str, call) -> None:
        self.names.append(name)
        self.calls.append(call)
        self.all_times[name] = []

    def run(self, repeats: int, warmup: bool = True) -> None:
        if warmup:
            for name, call in zip(self.names, self.calls):
                self.last[name] = call()[1]
        load_before = os.getloadavg()
        clean = 0
        while clean < repeats and len(self.noise) < 4 * max(repeats, 1):
            if QUIET_WAIT > 0:
                wait_quiet(QUIET_WAIT)
            snap = cpu_snapshot()
            for name, call in zip(self.names, self.calls):
                t, payload = call()
                self.all_times[name].append(t)
                self.last[name] = payload
            share = others_share(snap)
            self.noise.append(share)
            clean += share < NOISE
        self.used = [r for r, v in enumerate(self.noise) if v < NOISE]
        note = (f"{len(self.noise)} alternating rounds, {len(self.used)} clean (other processes "
                f"used < {100 * NOISE:.0f}% of the CPU; median share in all rounds "
                f"{100 * statistics.median(self.noise):.0f}%); load average before "
                f"{tuple(round(v, 2) for v in load_before)}, after "
                f"{tuple(round(v, 2) for v in os.getloadavg())}")
        if len(self.used) < 3:
            self.used = list(range(len(self.noise)))
            note += "; too few clean rounds: statistics over ALL rounds (noisy)"
        else:
            note += "; statistics over the clean rounds"
        print("  " + note)

    @property
    def times(self) -> dict[str, list[float]]:
        return {k: [v[r] for r in self.used] for k, v in self.all_times.items()}

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def report(self, width: int = 44, every_round: bool = False) -> None:
        print(f"  {'candidate':<{width}} {'median s':>10} {'min s':>10} {'max s':>10}  runs")
        for name in self.names:
            t = self.times[name]
            print(f"  {name:<{width}} {statistics.median(t):>10.4f} {min(t):>10.4f} "
                  f"{max(t):>10.4f}  {len(t)}")
        if every_round:
            print("  seconds in each round used, in round order:")
            for name in self.names:
                print(f"  {name:<{width}} " + " ".join(f"{v:.3f}" for v in self.times[name]))


def tikhonov_candidate(race: Race, label: str, cmd: list[str], walls: dict | None = None):
    """Adds a tikhonov run to the race, timed by fit_seconds; wall times go to walls[label]."""
    if walls is not None:
        walls[label] = []

    def call():
        fit_s, wall, out = run_tikhonov(cmd)
        if walls is not None:
            walls[label].append(wall)
        return fit_s, out

    race.add(label, call)


def header(title: str) -> None:
    print(f"== {title}")
    if os.environ.get("_COMPARE_SKLEARN_UNSET"):
        print(f"removed for this Python process: {os.environ['_COMPARE_SKLEARN_UNSET']}")
    print("OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE in this process: "
          f"{[os.environ.get(v) for v in _UNSET]}")
    print(f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, python "
          f"{sys.version.split()[0]}; tikhonov {tikhonov_exe()}")
    with threadpool_limits(limits=THREADS):
        print("threadpoolctl.threadpool_info() under threadpool_limits(2):")
        for lib in threadpool_info():
            keep = {k: lib.get(k) for k in ("internal_api", "version", "architecture",
                                            "num_threads", "threading_layer", "filepath")}
            print("  " + json.dumps(keep))
    try:
        print(f"load average: {os.getloadavg()}")
    except OSError:
        pass


def describe(x: np.ndarray, lam: float) -> None:
    n, d = x.shape
    print(f"X {n} x {d} float64 = {x.nbytes / 1e6:.1f} MB; lambda = {lam:g} "
          f"(Ridge alpha = lambda*n = {lam * n:g}); {THREADS} threads each")


def data_args(ap: argparse.ArgumentParser, n: int, d: int, lam: float) -> None:
    ap.add_argument("--n", type=int, default=n, help=f"samples (default {n})")
    ap.add_argument("--d", type=int, default=d, help=f"features (default {d})")
    ap.add_argument("--lambda", dest="lam", type=float, default=lam,
                    help=f"tikhonov's lambda (default {lam:g})")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    ap.add_argument("--x", type=Path, help="your own X.npy (2-D float64), with --y")
    ap.add_argument("--y", type=Path, help="your own y.npy (1-D float64), with --x")


def data_paths(args, kind: str = "offset") -> tuple[Path, Path]:
    if (args.x is None) != (args.y is None):
        sys.exit("--x and --y go together")
    if args.x is not None:
        return args.x, args.y
    t0 = time.perf_counter()
    xp, yp = make_data(args.n, args.d, args.seed, kind)
    print(f"data: {xp} ({time.perf_counter() - t0:.1f} s to make or check)")
    return xp, yp


# ------------------------------------------------------------------------------------------------
# Peak memory
# ------------------------------------------------------------------------------------------------


def peak_rss(cmd: list[str]) -> int | None:
    """Peak RSS in bytes of one run under GNU time, or None if /usr/bin/time is unavailable."""
    gnu_time = Path("/usr/bin/time")
    if not gnu_time.exists():
        print("note: /usr/bin/time not found (Debian: apt-get install time); RSS not measured")
        return None
    p = subprocess.run([str(gnu_time), "-v", *cmd], env=tikhonov_env(),
                       capture_output=True, text=True)
    m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", p.stderr)
    if p.returncode != 0 or not m:
        print(f"note: /usr/bin/time -v failed: {p.stderr[-500:]}")
        return None
    return int(m.group(1)) * 1024


def rss_table(solvers: list[str], xp: Path, yp: Path, lam: float, x_bytes: int) -> None:
    print(f"peak RSS of `tikhonov fit` (/usr/bin/time -v, Maximum resident set size); "
          f"X = {x_bytes / 1e6:.1f} MB")
    for s in solvers:
        cmd = tikhonov_cmd(s, xp, yp, lam)
        rss = peak_rss(cmd)
        if rss is not None:
            print(f"  {s:<10} {rss / 1e6:8.1f} MB = {rss / x_bytes:5.2f} x X      "
                  f"(/usr/bin/time -v {' '.join(cmd)})")


# ------------------------------------------------------------------------------------------------
# Subcommands
# ------------------------------------------------------------------------------------------------


def cmd_ridge(args) -> None:
    from sklearn.linear_model import Ridge

    sv = args.solver
    header(f"tikhonov fit --solver {sv}  vs  sklearn Ridge(solver='{sv}')")
    xp, yp = data_paths(args)
    x, y = load(xp, yp)
    n, _ = x.shape
    describe(x, args.lam)
    cmd = tikhonov_cmd(sv, xp, yp, args.lam)
    print("tikhonov: RAYON_NUM_THREADS=2 " + " ".join(cmd))
    race, walls = Race(), {}
    main_label = f"tikhonov {sv} (fit_seconds)"
    tikhonov_candidate(race, main_label, cmd, walls)
    # More backends, and the same backends built from another commit, in the same rounds.
    extra = {}
    for other in [s for s in args.also.split(",") if s]:
        extra[f"tikhonov {other} (fit_seconds)"] = tikhonov_cmd(other, xp, yp, args.lam)
    if args.before is not None:
        for solver in [sv, *[s for s in args.also.split(",") if s]]:
            before = tikhonov_cmd(solver, xp, yp, args.lam)
            before[0] = str(args.before.resolve())
            extra[f"before: {solver} (fit_seconds)"] = before
        print(f"before: {args.before.resolve()}")
    for label, c in extra.items():
        tikhonov_candidate(race, label, c)
    race.add(f"sklearn Ridge({sv}).fit",
             lambda: time_sklearn(lambda: Ridge(alpha=args.lam * n, solver=sv), x, y))
    race.run(args.repeats)
    race.report(every_round=args.every_round)
    if args.sklearn_back_to_back > 0:
        # scikit-learn alone, fit after fit in this process: no tikhonov process in between.
        wait_quiet(QUIET_WAIT)
        alone = [time_sklearn(lambda: Ridge(alpha=args.lam * n, solver=sv), x, y)[0]
                 for _ in range(args.sklearn_back_to_back)]
        print(f"  sklearn Ridge({sv}).fit {len(alone)} times back to back (no round filter): "
              f"median {statistics.median(alone):.4f}, min {min(alone):.4f}, max "
              f"{max(alone):.4f}; " + " ".join(f"{v:.3f}" for v in alone))
    wall_all = walls[main_label][1:]  # without the warm-up
    wall = [wall_all[r] for r in race.used]
    print(f"  {'tikhonov process wall time (loads the .npy)':<44} {statistics.median(wall):>10.4f}"
          f" {min(wall):>10.4f} {max(wall):>10.4f}  {len(wall)}")
    t_fit, t_sk = race.median(main_label), race.median(f"sklearn Ridge({sv}).fit")
    print(f"ratio of medians sklearn / tikhonov fit_seconds: {t_sk / t_fit:.2f}x "
          f"(> 1: tikhonov faster)")
    for label in extra:
        ran = race.last[label]["solver"]
        print(f"ratio of medians sklearn / {label} [ran {ran}]: "
              f"{t_sk / race.median(label):.2f}x")
    print(f"ratio of medians sklearn fit / tikhonov process wall time: "
          f"{t_sk / statistics.median(wall):.2f}x")
    d = x.shape[1]
    if sv == "cholesky":
        print(f"tikhonov rate: n*d*(d+1) / fit_seconds = {n * d * (d + 1) / t_fit / 1e9:.1f} "
              f"GFLOP/s (Gram triangle only)")
    out, est = race.last[main_label], race.last[f"sklearn Ridge({sv}).fit"]
    coef = np.asarray(out["coef"])
    print(f"agreement: {coef_agreement(coef, est.coef_)}; intercept {out['intercept']:.12g} vs "
          f"{est.intercept_:.12g}; relative residual tikhonov "
          f"{relative_residual(x, y, args.lam, coef):.1e}, sklearn "
          f"{relative_residual(x, y, args.lam, est.coef_):.1e}")
    for label in extra:
        other = np.asarray(race.last[label]["coef"])
        names = (label.split(" (")[0], main_label.split(" (")[0])
        print(f"agreement: {coef_agreement(other, coef, *names)}")
    if not args.no_rss:
        rss_table([sv], xp, yp, args.lam, x.nbytes)


def cmd_rss(args) -> None:
    header("peak memory of tikhonov fit")
    xp, yp = data_paths(args)
    x = np.load(xp, mmap_mode="r")
    rss_table(args.solvers.split(","), xp, yp, args.lam, x.size * 8)


def cmd_dual(args) -> None:
    from sklearn.linear_model import Ridge

    header(f"dual vs primal ({args.primal}) at n = {args.n}; sklearn Ridge(cholesky)")
    primal = args.primal.split(",")
    rows = []
    for d in [int(v) for v in args.ds.split(",")]:
        xp, yp = make_data(args.n, d, args.seed)
        x, y = load(xp, yp)
        n = x.shape[0]
        print(f"\n-- n = {n}, d = {d} (d/n = {d / n:g}); {xp.name}, lambda = {args.lam:g}")
        race = Race()
        tikhonov_candidate(race, "dual", tikhonov_cmd("dual", xp, yp, args.lam))
        for p in primal:
            if d <= args.max_primal_d:
                tikhonov_candidate(race, p, tikhonov_cmd(p, xp, yp, args.lam))
        sk = args.sklearn_ds == "all" or str(d) in args.sklearn_ds.split(",")
        if sk:
            race.add("sklearn Ridge(cholesky)", lambda x=x, y=y, n=n: time_sklearn(
                lambda: Ridge(alpha=args.lam * n, solver="cholesky"), x, y))
        reps = args.repeats if d <= args.max_primal_d else max(3, args.repeats // 2)
        race.run(reps)
        race.report(28)
        row = {"d": d, "dual": race.median("dual")}
        for p in primal:
            if p in race.times:
                row[p] = race.median(p)
        if sk:
            row["sklearn"] = race.median("sklearn Ridge(cholesky)")
            coef = np.asarray(race.last["dual"]["coef"])
            print("  agreement: "
                  f"{coef_agreement(coef, race.last['sklearn Ridge(cholesky)'].coef_, 'dual')}")
        for p in primal:
            if p in race.times:
                c = np.asarray(race.last[p]["coef"])
                dual = np.asarray(race.last["dual"]["coef"])
                print(f"  agreement: {coef_agreement(dual, c, 'dual', p)}")
        rows.append(row)
    print(f"\nsummary, n = {args.n}, medians of fit_seconds (sklearn: Ridge.fit), seconds:")
    cols = ["dual", *primal, "sklearn"]
    print("| d | d/n | " + " | ".join(cols) + f" | best primal / dual | sklearn / dual |")
    print("|" + "---|" * (len(cols) + 4))
    for r in rows:
        cells = [f"{r[c]:.4f}" if c in r else "—" for c in cols]
        best = min((r[p] for p in primal if p in r), default=None)
        ratio = f"{best / r['dual']:.2f}x" if best else "—"
        skr = f"{r['sklearn'] / r['dual']:.2f}x" if "sklearn" in r else "—"
        print(f"| {r['d']} | {r['d'] / args.n:g} | " + " | ".join(cells) + f" | {ratio} | {skr} |")


def objective(x: np.ndarray, y: np.ndarray, lam: float, coef: np.ndarray, b: float) -> float:
    """J(w, b) = 1/(2n)*|y - Xw - b|^2 + (lam/2)*|w|^2 (README, section "The objective")."""
    r = y - x @ coef - b
    return float(r @ r / (2 * x.shape[0]) + 0.5 * lam * coef @ coef)


def optimum(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    """The exact ridge solution with intercept, by lstsq of the augmented centred system."""
    n, d = x.shape
    xm, ym = x.mean(axis=0), y.mean()
    a = np.vstack([x - xm, np.sqrt(n * lam) * np.eye(d)])
    w = np.linalg.lstsq(a, np.concatenate([y - ym, np.zeros(d)]), rcond=None)[0]
    return w, float(ym - xm @ w)


def try_tikhonov(cmd: list[str]) -> tuple[float, float, dict] | str:
    """Like run_tikhonov, but an unknown solver or a failure is returned as a message."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=tikhonov_env(), capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        return p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"
    out = json.loads(p.stdout)
    return float(out["fit_seconds"]), wall, out


def cmd_iterative(args) -> None:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Ridge

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    header(f"iterative backends to relative residual {args.target:g} vs sklearn Ridge "
           f"({args.sklearn})")
    xp, yp = data_paths(args, f"kappa{args.kappa:g}")
    x, y = load(xp, yp)
    n, d = x.shape
    describe(x, args.lam)
    s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    print(f"kappa(Xc) = {s[0] / s[-1]:.4g}; kappa of the objective's Hessian "
          f"(s_max^2/n + lambda)/(s_min^2/n + lambda) = "
          f"{(s[0] ** 2 / n + args.lam) / (s[-1] ** 2 / n + args.lam):.4g}")
    print("relative residual = |grad J(w)| / |grad J(0)|, computed here for every candidate "
          "(tikhonov's tol means exactly this)")

    # 1. One calibration run of every tikhonov backend at tol = target.
    print(f"\n1. tikhonov backends, one run each at --tol {args.target:g} "
          f"(--time-limit {args.time_limit:g}):")
    tik = {}
    for name in args.solvers.split(","):
        cmd = tikhonov_cmd(name, xp, yp, args.lam, "--tol", repr(args.target), "--max-iter",
                           str(args.max_iter), "--time-limit", repr(args.time_limit))
        r = try_tikhonov(cmd)
        if isinstance(r, str):
            print(f"  {name:<10} not run: {r}")
            continue
        fit_s, _, out = r
        res = relative_residual(x, y, args.lam, np.asarray(out["coef"]))
        ok = out["converged"] and res <= args.slack * args.target
        print(f"  {name:<10} {fit_s:9.4f} s  iterations {out['iterations']:>6}  passes "
              f"{out.get('passes', float('nan')):>8.1f}  converged {out['converged']!s:<5}  "
              f"relative residual {res:.2e}{'' if ok else '  (not reached)'}")
        if ok:
            tik[name] = (fit_s, cmd)

    # 2. scikit-learn: for each solver, the loosest tol whose answer reaches the target.
    print(f"\n2. sklearn Ridge solvers: loosest tol in {args.tols} reaching relative residual "
          f"<= {args.target:g} (one run per tol; stops when a fit exceeds {args.time_limit:g} s):")
    sk = {}
    for solver in args.sklearn.split(","):
        for tol in [float(t) for t in args.tols.split(",")]:
            def make(solver=solver, tol=tol):
                return Ridge(alpha=args.lam * n, solver=solver, tol=tol, max_iter=args.max_iter,
                             random_state=0)
            t, est = time_sklearn(make, x, y)
            res = relative_residual(x, y, args.lam, est.coef_)
            print(f"  {solver:<10} tol {tol:<8g} {t:9.4f} s  n_iter_ {est.n_iter_}  "
                  f"relative residual {res:.2e}")
            if res <= args.slack * args.target:
                sk[solver] = (t, tol, make)
                break
            if t > args.time_limit:
                print(f"  {solver:<10} gave up: the last fit took over {args.time_limit:g} s")
                break
    if not tik or not sk:
        print("nothing to race: no candidate reached the target on one side")
        return

    # 3. Race the fastest candidates of each side.
    best_t = sorted(tik, key=lambda k: tik[k][0])[: args.race]
    best_s = sorted(sk, key=lambda k: sk[k][0])[: args.race]
    print(f"\n3. race, {args.repeats} alternating rounds: tikhonov {best_t} vs sklearn "
          f"{[f'{k} (tol {sk[k][1]:g})' for k in best_s]}")
    race = Race()
    for k in best_t:
        tikhonov_candidate(race, f"tikhonov {k}", tik[k][1])
    for k in best_s:
        race.add(f"sklearn {k} (tol {sk[k][1]:g})",
                 lambda make=sk[k][2]: time_sklearn(make, x, y))
    race.run(args.repeats)
    race.report()
    t_best = min(race.median(f"tikhonov {k}") for k in best_t)
    s_best = min(race.median(f"sklearn {k} (tol {sk[k][1]:g})") for k in best_s)
    print(f"ratio of medians, fastest sklearn / fastest tikhonov: {s_best / t_best:.2f}x "
          f"(> 1: tikhonov faster)")


def cmd_sgd(args) -> None:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import SGDRegressor

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    header("one sgd epoch vs one SGDRegressor epoch (max_iter=1, tol=None)")
    xp, yp = data_paths(args, f"kappa{args.kappa:g}")
    x, y = load(xp, yp)
    n, _ = x.shape
    describe(x, args.lam)
    w_opt, b_opt = optimum(x, y, args.lam)
    j_opt = objective(x, y, args.lam, w_opt, b_opt)

    # SGDRegressor's default eta0 = 0.01 diverges on uncentred rows with |x|^2 ~ 1000 (after one
    # epoch J is ~1e19 here); a step below 1/max|x_i|^2 is what its own theory needs.
    eta0 = args.eta0 if args.eta0 > 0 else 0.5 / float(np.max(np.einsum("ij,ij->i", x, x)))
    print(f"SGDRegressor(penalty='l2', alpha={args.lam:g}, max_iter=1, tol=None, "
          f"learning_rate='invscaling', eta0={eta0:.3g}, random_state=0)")

    def make():
        return SGDRegressor(penalty="l2", alpha=args.lam, max_iter=1, tol=None, shuffle=True,
                            eta0=eta0, random_state=0)

    race = Race()
    epochs = [1, 1 + args.more_epochs]
    for e in epochs:
        tikhonov_candidate(race, f"tikhonov sgd, {e} epoch(s)", tikhonov_cmd(
            "sgd", xp, yp, args.lam, "--max-iter", str(e), "--tol", "1e-300"))
    race.add("sklearn SGDRegressor, 1 epoch", lambda: time_sklearn(make, x, y))
    race.run(args.repeats)
    race.report()
    t1 = race.median(f"tikhonov sgd, {epochs[0]} epoch(s)")
    tk = race.median(f"tikhonov sgd, {epochs[1]} epoch(s)")
    marginal = (tk - t1) / args.more_epochs
    t_sk = race.median("sklearn SGDRegressor, 1 epoch")
    print(f"tikhonov fit_seconds with 1 epoch includes the set-up (batch smoothness) and the "
          f"stopping-rule gradients; marginal cost of one more epoch (its check included) = "
          f"({tk:.4f} - {t1:.4f}) / {args.more_epochs} = {marginal:.4f} s")
    print(f"ratio sklearn 1 epoch / tikhonov 1 epoch (whole fit): {t_sk / t1:.2f}x; "
          f"/ tikhonov marginal epoch: {t_sk / marginal:.2f}x (> 1: tikhonov faster)")
    out = race.last[f"tikhonov sgd, {epochs[0]} epoch(s)"]
    est = race.last["sklearn SGDRegressor, 1 epoch"]
    gap_t = objective(x, y, args.lam, np.asarray(out["coef"]), out["intercept"]) - j_opt
    gap_s = objective(x, y, args.lam, est.coef_, float(est.intercept_[0])) - j_opt
    print(f"after one epoch, relative objective gap (J - J*)/J*: tikhonov {gap_t / j_opt:.2e}, "
          f"sklearn {gap_s / j_opt:.2e}")


def cmd_gradient(args) -> None:
    import csv
    import tempfile

    from threadpoolctl import threadpool_limits

    header("one full gradient: a gd iteration vs NumPy's X.T @ (X @ w - y)")
    xp, yp = data_paths(args, f"kappa{args.kappa:g}")
    x, y = load(xp, yp)
    describe(x, args.lam)
    w = np.random.default_rng(1).standard_normal(x.shape[1])
    print(f"NumPy: median of {args.evals} evaluations of X.T @ (X @ w - y) per round, X in C "
          f"order as loaded; tikhonov: `fit --solver gd --max-iter {args.iterations} --tol "
          f"1e-300 --history`, median of the differences of consecutive iteration timestamps "
          f"after the first {args.skip} (one gradient each; the set-up, L by power iteration "
          f"and the sample-major copy, is before them)")

    def numpy_call():
        times = []
        with threadpool_limits(2):
            for _ in range(args.evals):
                t = time.perf_counter()
                g = x.T @ (x @ w - y)
                times.append(time.perf_counter() - t)
        return statistics.median(times), g

    def gd_call():
        with tempfile.TemporaryDirectory() as tmp:
            hist = Path(tmp) / "h.csv"
            run_tikhonov(tikhonov_cmd("gd", xp, yp, args.lam, "--max-iter", str(args.iterations),
                                      "--tol", "1e-300", "--history", str(hist)))
            with hist.open() as f:
                seconds = [float(r["seconds"]) for r in csv.DictReader(f)]
        steps = [b - a for a, b in zip(seconds, seconds[1:])][args.skip:]
        return statistics.median(steps), None

    race = Race()
    race.add("tikhonov gd, one iteration", gd_call)
    race.add("NumPy X.T @ (X @ w - y)", numpy_call)
    race.run(args.repeats)
    race.report()
    t_gd, t_np = race.median("tikhonov gd, one iteration"), race.median("NumPy X.T @ (X @ w - y)")
    print(f"ratio NumPy / tikhonov: {t_np / t_gd:.2f}x (> 1: tikhonov faster); X = "
          f"{x.nbytes / 1e6:.0f} MB: tikhonov {x.nbytes / t_gd / 1e9:.1f} GB/s (one read), NumPy "
          f"{2 * x.nbytes / t_np / 1e9:.1f} GB/s (two reads)")


# ------------------------------------------------------------------------------------------------
# Logistic regression (issue 10)
# ------------------------------------------------------------------------------------------------

LD = np.longdouble


def make_logistic_data(n: int, d: int, seed: int, kappa: float, noise: float = 1.0,
                       b0: float = 0.3) -> tuple[Path, Path]:
    """X: the `iterative` subcommand's design (make_data kind "kappaK": kappa(Xc) = K, every
    column offset by +3; the same file). y (0/1, float64): label 1 with probability
    sigma(X w* + b* + noise*N(0, 1)), w* ~ N(0, I) and b* = b0 - xbar^T w*, from the seed's own
    stream. b* absorbs the offset: with column means 3, xbar^T w* ~ N(0, 900) would put nearly
    every label in one class (seed 0: xbar^T w* = -106, P(1) ~ 1e-43), so the log-odds are
    Xc w* + b0 + noise (standard deviation about 3.4 here)."""
    xp, _ = make_data(n, d, seed, f"kappa{kappa:g}")
    yp = DATA_DIR / f"y_logistic_kappa{kappa:g}_{n}x{d}_seed{seed}.npy"
    if yp.exists() and np.load(yp, mmap_mode="r").shape == (n,):
        return xp, yp
    x = np.load(xp)
    rng = np.random.default_rng([seed, 10])
    w = rng.standard_normal(d)
    logit = x @ w + (b0 - x.mean(axis=0) @ w) + noise * rng.standard_normal(n)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float64)
    np.save(yp, y)
    return xp, yp


class LogisticCheck:
    """J(w, b) = (1/n)*sum log(1 + exp(-t_i (x_i^T w + b))) + (lambda/2)*|w|^2, t = +-1 (the larger
    label +1), and its gradient over (w, b) on the data as stored (no centring), accumulated in
    np.longdouble (80-bit on x86-64): rel(w, b) = |grad J(w, b)| / |grad J(0, 0)|, the relative
    gradient as `fit` reports it (gradient_norm is in (w, b)); rel_centred is the same ratio in
    the variables (w, b + xbar^T w) in which tikhonov's driver tests --tol. The two differ by up
    to a factor ~|xbar| (30 on the synthetic data, ~900 on raw breast_cancer).
    scikit-learn's LogisticRegression(C) minimises the same J with C = 1/(lambda*n)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, lam: float) -> None:
        classes = np.unique(y)
        if len(classes) != 2:
            sys.exit(f"logistic: need two label values, got {classes[:5]}")
        self.x = x.astype(LD)
        self.xbar = self.x.mean(axis=0)
        self.t = np.where(y == classes[1], 1.0, -1.0).astype(LD)
        self.n, self.d = x.shape
        self.lam = LD(lam)
        self.g0 = self.grad_norm(np.zeros(self.d), 0.0)
        self.g0c = self.grad_norm(np.zeros(self.d), 0.0, centred=True)

    def grad_norm(self, w, b, centred: bool = False) -> LD:
        """|grad J(w, b)|; centred: the gradient in (w, b + xbar^T w), the driver's variables."""
        w, b = np.asarray(w, dtype=float).astype(LD), LD(float(b))
        m = self.t * (self.x @ w + b)
        e = np.exp(-np.abs(m))
        s = np.where(m >= 0, e / (1 + e), 1 / (1 + e))  # sigma(-m) without overflow
        r = -self.t * s / self.n
        gb = r.sum()
        gw = self.x.T @ r + self.lam * w - (self.xbar * gb if centred else 0)
        return np.sqrt(gw @ gw + gb * gb)

    def rel(self, w, b) -> float:
        return float(self.grad_norm(w, b) / self.g0)

    def rel_centred(self, w, b) -> float:
        return float(self.grad_norm(w, b, centred=True) / self.g0c)


def sklearn_logreg(lam: float, n: int, solver: str, tol: float, max_iter: int):
    from sklearn.linear_model import LogisticRegression

    return lambda: LogisticRegression(C=1.0 / (lam * n), solver=solver, tol=tol,
                                      max_iter=max_iter, random_state=0)


def time_sklearn_warned(make_estimator, x: np.ndarray, y: np.ndarray):
    """time_sklearn, recording whether the fit raised a ConvergenceWarning:
    (seconds, (estimator, warned))."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        t, est = time_sklearn(make_estimator, x, y)
    return t, (est, any(issubclass(w.category, ConvergenceWarning) for w in caught))


def rel_diff(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def loosest_tol(label: str, tols: list[float], run_one, check: LogisticCheck, target: float,
                slack: float, time_limit: float):
    """One run per tol, loosest first, until the answer's relative gradient (check.rel) is at
    most slack*target. run_one(tol) -> (seconds, (w, b), note, payload, last), last meaning
    that no tighter tol can help (the run hit its iteration or time budget), or a message when
    the run failed. The sweep also stops after a run over time_limit seconds, or when an answer
    repeats the previous one exactly (the solver stalls whatever its tol). Returns
    (reached, tol, seconds, rel, payload): the first run reaching the target, else the run with
    the smallest relative gradient (the earliest of equals); None when nothing ran."""
    best, prev = None, None
    for tol in tols:
        r = run_one(tol)
        if isinstance(r, str):
            print(f"  {label:<24} tol {tol:<8g} not run: {r}")
            break
        t, (w, b), note, payload, last = r
        rel = check.rel(w, b)
        print(f"  {label:<24} tol {tol:<8g} {t:9.4f} s  {note}  relative gradient {rel:.2e} "
              f"(centred {check.rel_centred(w, b):.1e})")
        if rel <= slack * target:
            return True, tol, t, rel, payload
        if best is None or rel < best[3]:
            best = (False, tol, t, rel, payload)
        if last:
            print(f"  {label:<24} stops: the run hit its iteration or time budget")
            break
        if t > time_limit:
            print(f"  {label:<24} stops: the last fit took over {time_limit:g} s")
            break
        if prev is not None and np.array_equal(w, prev[0]) and b == prev[1]:
            print(f"  {label:<24} stops: the same answer as at the previous tol (stalled)")
            break
        prev = (np.array(w), b)
    if best is not None:
        print(f"  {label:<24} never reached {target:g}: best {best[3]:.2e}, at tol {best[1]:g} "
              f"in {best[2]:.3f} s")
    return best


def logistic_cmd(solver: str, xp: Path, yp: Path, lam: float, tol: float, *extra: str):
    return tikhonov_cmd(solver, xp, yp, lam, "--loss", "logistic", "--tol", repr(tol), *extra)


def tik_wb(out: dict) -> tuple[np.ndarray, float]:
    return np.asarray(out["coef"]), float(out["intercept"])


def sk_wb(est) -> tuple[np.ndarray, float]:
    return est.coef_.ravel(), float(est.intercept_[0])


def logistic_newton(args, xp, yp, x, y, check, rows) -> None:
    n = x.shape[0]
    tol = args.newton_tol
    cmd = logistic_cmd("newton", xp, yp, args.lam, tol)
    label_t = "tikhonov newton"
    label_s = "sklearn newton-cholesky"
    print(f"\n1. {label_t} vs LogisticRegression(solver='newton-cholesky', tol={tol:g}, "
          f"max_iter={args.newton_max_iter}), {args.repeats} clean alternating rounds wanted")
    print("  tikhonov: RAYON_NUM_THREADS=2 " + " ".join(cmd))
    race = Race()
    tikhonov_candidate(race, label_t, cmd)
    make = sklearn_logreg(args.lam, n, "newton-cholesky", tol, args.newton_max_iter)
    race.add(label_s, lambda: time_sklearn_warned(make, x, y))
    race.run(args.repeats)
    race.report()
    out, (est, warned) = race.last[label_t], race.last[label_s]
    (wt, bt), (ws, bs) = tik_wb(out), sk_wb(est)
    rt, rs = check.rel(wt, bt), check.rel(ws, bs)
    agree = rel_diff(ws, wt)
    tt, ts = race.median(label_t), race.median(label_s)
    print(f"  ratio of medians sklearn / tikhonov: {ts / tt:.2f}x (> 1: tikhonov faster)")
    print(f"  |w_tik - w_sk| / |w_tik| = {agree:.2e}; intercepts {bt:.15g} vs {bs:.15g}; "
          f"relative gradient (longdouble) tikhonov {rt:.2e} (its own gradient_norm "
          f"{out['gradient_norm'] / float(check.g0):.2e}), sklearn {rs:.2e}; iterations "
          f"tikhonov {out['iterations']} (converged {out['converged']}), sklearn "
          f"{int(est.n_iter_[0])}{' (ConvergenceWarning)' if warned else ''}")
    rows.append((f"synthetic, newton vs newton-cholesky (tol {tol:g})", "newton", tt,
                 "newton-cholesky", ts, len(race.used),
                 f"‖w_tik − w_sk‖/‖w_tik‖ = {agree:.1e}; rel. gradient {rt:.1e} vs {rs:.1e}",
                 ""))


def logistic_first_order(args, xp, yp, x, y, check, rows) -> None:
    import math

    n = x.shape[0]
    target, slack = args.target, args.slack
    print(f"\n2. first-order backends to relative gradient {target:g} (accepted up to "
          f"{slack:g}x; computed here in longdouble for every answer, both sides)")
    print(f"  tikhonov: loosest --tol in {args.tik_tols} (the driver tests the gradient in "
          f"centred coordinates (w, b + xbar^T w), so --tol {target:g} can land above {target:g} "
          f"in (w, b)); --max-iter {args.max_iter}, --time-limit {args.time_limit:g}")
    tik = {}
    for name in args.solvers.split(","):
        def run_one(tol, name=name):
            cmd = logistic_cmd(name, xp, yp, args.lam, tol, "--max-iter", str(args.max_iter),
                               "--time-limit", repr(args.time_limit))
            r = try_tikhonov(cmd)
            if isinstance(r, str):
                return r
            fit_s, _, out = r
            note = (f"iterations {out['iterations']:>6}  passes "
                    f"{out.get('passes', float('nan')):>8.1f}  stop {out['stop']}")
            return fit_s, tik_wb(out), note, cmd, not out["converged"]
        r = loosest_tol(f"tikhonov {name}", [float(t) for t in args.tik_tols.split(",")],
                        run_one, check, target, slack, args.time_limit)
        if r:
            tik[name] = r
    print(f"  sklearn: loosest tol in {args.tols}; max_iter {args.sk_max_iter}, capped after the "
          f"first run at the iterations that fit in --time-limit {args.time_limit:g} s (a capped "
          f"run ends the sweep)")
    sk = {}
    for solver in args.sklearn.split(","):
        cap = [args.sk_max_iter]

        def run_one(tol, solver=solver, cap=cap):
            make = sklearn_logreg(args.lam, n, solver, tol, cap[0])
            t, (est, warned) = time_sklearn_warned(make, x, y)
            it = int(est.n_iter_[0])
            note = (f"n_iter_ {it:>6} (max_iter {cap[0]})"
                    f"{'  ConvergenceWarning' if warned else ''}")
            last = it >= cap[0]
            cap[0] = min(cap[0], max(it, math.ceil(args.time_limit * it / t)))
            return t, sk_wb(est), note, make, last
        r = loosest_tol(f"sklearn {solver}", [float(t) for t in args.tols.split(",")], run_one,
                        check, target, slack, args.time_limit)
        if r:
            sk[solver] = r
    reached_t = {k: v for k, v in tik.items() if v[0]}
    reached_s = {k: v for k, v in sk.items() if v[0]}
    if not reached_t or not sk:
        print("  nothing to race: no tikhonov backend reached the target, or no sklearn fit ran")
        return
    best_t = sorted(reached_t, key=lambda k: reached_t[k][2])[: args.race]
    if reached_s:
        best_s = sorted(reached_s, key=lambda k: reached_s[k][2])[: args.race]
    else:  # a lower bound: the most accurate answer scikit-learn found, at the time it took
        best_s = [min(sk, key=lambda k: (sk[k][3], sk[k][2]))]
        print(f"  no sklearn solver reached {target:g}: racing the most accurate answer "
              f"({best_s[0]}, relative gradient {sk[best_s[0]][3]:.2e}), so the ratio is a "
              f"lower bound")
    label_t = {k: f"tikhonov {k} (--tol {tik[k][1]:g})" for k in best_t}
    label_s = {k: f"sklearn {k} (tol {sk[k][1]:g})" for k in best_s}
    print(f"  race: {list(label_t.values())} vs {list(label_s.values())}")
    race = Race()
    for k in best_t:
        tikhonov_candidate(race, label_t[k], tik[k][4])
    for k in best_s:
        race.add(label_s[k], lambda make=sk[k][4]: time_sklearn_warned(make, x, y))
    # Every candidate has just run in the calibration: that was its warm-up.
    race.run(args.repeats if reached_s else min(args.repeats, 3), warmup=False)
    race.report()
    kt = min(best_t, key=lambda k: race.median(label_t[k]))
    ks = min(best_s, key=lambda k: race.median(label_s[k]))
    tt, ts = race.median(label_t[kt]), race.median(label_s[ks])
    rt = check.rel(*tik_wb(race.last[label_t[kt]]))
    rs = check.rel(*sk_wb(race.last[label_s[ks]][0]))
    bound = "" if reached_s else "≥ "
    print(f"  ratio of medians, fastest sklearn ({ks}) / fastest tikhonov ({kt}): "
          f"{bound}{ts / tt:.2f}x (> 1: tikhonov faster)")
    rows.append((f"synthetic, fastest first-order to rel. gradient {target:g}",
                 f"{kt} (--tol {tik[kt][1]:g})", tt,
                 f"{ks} (tol {sk[ks][1]:g}){'' if reached_s else ', best it reaches'}", ts,
                 len(race.used), f"rel. gradient {rt:.1e} vs {rs:.1e}", bound))


def logistic_breast_cancer(args) -> None:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    x, y = np.ascontiguousarray(data.data, dtype=np.float64), data.target.astype(np.float64)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    xp, yp = DATA_DIR / "X_breast_cancer.npy", DATA_DIR / "y_breast_cancer.npy"
    np.save(xp, x)
    np.save(yp, y)
    n = x.shape[0]
    tol, lam = args.bc_tol, args.bc_lambda
    check = LogisticCheck(x, y, lam)
    print(f"\n3. raw breast_cancer ({n} x {x.shape[1]}, unscaled: column scales "
          f"{np.abs(x).max(axis=0).min():.3g} … {np.abs(x).max(axis=0).max():.3g}), lambda = "
          f"{lam:g} (C = {1 / (lam * n):.6g}), tol {tol:g}; rel. error = |w - w_newton| / "
          f"|w_newton| against tikhonov newton; {xp}")
    race = Race()
    tik = {s: f"tikhonov {s}" for s in args.bc_solvers.split(",")}
    sk = {s: f"sklearn {s}" for s in args.bc_sklearn.split(",")}
    for s, label in tik.items():
        cmd = logistic_cmd(s, xp, yp, lam, tol, "--max-iter", str(args.bc_max_iter))
        print(f"  {label}: RAYON_NUM_THREADS=2 " + " ".join(cmd))
        tikhonov_candidate(race, label, cmd)
    for s, label in sk.items():
        race.add(label, lambda make=sklearn_logreg(lam, n, s, tol, args.bc_max_iter):
                 time_sklearn_warned(make, x, y))
    race.run(args.bc_repeats)
    race.report()
    rows = []
    w_ref = tik_wb(race.last["tikhonov newton"])[0] if "newton" in tik else None
    print(f"  {'candidate':<28} {'converged':>10} {'iterations':>10} {'rel. error':>10} "
          f"{'rel. gradient':>13} {'(centred)':>9}")
    for s, label in [*tik.items(), *sk.items()]:
        p = race.last[label]
        if isinstance(p, dict):
            (w, b), conv, iters = tik_wb(p), bool(p["converged"]), int(p["iterations"])
            conv_s = str(conv)
        else:
            est, warned = p
            (w, b), iters = sk_wb(est), int(est.n_iter_[0])
            conv_s = "warning" if warned else "no warning"
        err = rel_diff(w, w_ref) if w_ref is not None else float("nan")
        rel, relc = check.rel(w, b), check.rel_centred(w, b)
        print(f"  {label:<28} {conv_s:>10} {iters:>10} {err:>10.1e} {rel:>13.1e} {relc:>9.1e}")
        rows.append((label, race.median(label), conv_s, iters, err, rel, relc))
    t_ref = race.median("tikhonov newton") if "newton" in tik else float("nan")
    print(f"\nbreast_cancer raw, λ = {lam:g}, tol {tol:g}: medians of {len(race.used)} clean "
          f"rounds; × = median / tikhonov newton's; rel. error against tikhonov newton")
    print("| candidate | median s | × newton | converged (tikhonov) / ConvergenceWarning "
          "(sklearn) | iterations | rel. error | rel. gradient (w, b) | centred |")
    print("|---|---|---|---|---|---|---|---|")
    for label, t, conv_s, iters, err, rel, relc in rows:
        print(f"| {label} | {t:.4f} | {t / t_ref:.1f} | {conv_s} | {iters} | {err:.1e} | "
              f"{rel:.1e} | {relc:.1e} |")


def cmd_logistic(args) -> None:
    header("logistic regression: tikhonov --loss logistic vs sklearn LogisticRegression")
    rows: list[tuple] = []
    parts = args.parts.split(",")
    if "newton" in parts or "first-order" in parts:
        xp, yp = (args.x, args.y) if args.x is not None else make_logistic_data(
            args.n, args.d, args.seed, args.kappa)
        x, y = load(xp, yp)
        n = x.shape[0]
        print(f"X {n} x {x.shape[1]} float64 = {x.nbytes / 1e6:.1f} MB; lambda = {args.lam:g} "
              f"(LogisticRegression C = 1/(lambda*n) = {1 / (args.lam * n):.6g}); {THREADS} "
              f"threads each")
        print(f"data: {xp}, {yp}; labels: {int((y == y.max()).sum())} of {n} are {y.max():g}")
        s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
        print(f"kappa(Xc) = {s[0] / s[-1]:.4g}; column means {x.mean(axis=0).min():.3g} … "
              f"{x.mean(axis=0).max():.3g}")
        check = LogisticCheck(x, y, args.lam)
        if "newton" in parts:
            logistic_newton(args, xp, yp, x, y, check, rows)
        if "first-order" in parts:
            logistic_first_order(args, xp, yp, x, y, check, rows)
    if rows:
        print("\nsummary (medians of clean rounds; tikhonov: fit_seconds; ratio = sklearn / "
              "tikhonov, > 1: tikhonov faster):")
        print("| problem | tikhonov | median s | scikit-learn | median s | ratio | clean rounds "
              "| accuracy |")
        print("|---|---|---|---|---|---|---|---|")
        for prob, nt, tt, ns, ts, clean, acc, bound in rows:
            print(f"| {prob} | {nt} | {tt:.4f} | {ns} | {ts:.4f} | {bound}{ts / tt:.2f}× | "
                  f"{clean} | {acc} |")
    if "breast-cancer" in parts:
        logistic_breast_cancer(args)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ridge", help="cholesky (or svd) vs Ridge(solver='cholesky' or 'svd')")
    data_args(p, 100_000, 500, 1e-3)
    p.add_argument("--solver", choices=["cholesky", "svd"], default="cholesky",
                   help="the backend, and scikit-learn's Ridge solver of the same name")
    p.add_argument("--no-rss", action="store_true", help="skip the /usr/bin/time -v run")
    p.add_argument("--also", default="", metavar="SOLVERS",
                   help="more tikhonov backends (comma list, e.g. auto) raced in the same rounds")
    p.add_argument("--before", type=Path, metavar="BIN",
                   help="another tikhonov binary (e.g. built from an earlier commit): --solver "
                        "and --also run with it too, in the same rounds")
    p.add_argument("--every-round", action="store_true",
                   help="also print every candidate's time in each round used")
    p.add_argument("--sklearn-back-to-back", type=int, default=0, metavar="K",
                   help="after the race, fit scikit-learn K more times back to back, alone")
    p.set_defaults(func=cmd_ridge)

    p = sub.add_parser("rss", help="peak RSS of `tikhonov fit` per solver")
    data_args(p, 100_000, 500, 1e-3)
    p.add_argument("--solvers", default="cholesky,qr,svd")
    p.set_defaults(func=cmd_rss)

    p = sub.add_parser("dual", help="dual vs primal crossover, and sklearn Ridge(cholesky)")
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--ds", default="500,1000,2000,4000,8000,20000")
    p.add_argument("--lambda", dest="lam", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--primal", default="cholesky", help="primal backends to time (comma list)")
    p.add_argument("--max-primal-d", type=int, default=8000,
                   help="skip primal backends above this d (at d = 20 000 the d x d Gram system "
                        "and its factor need several GB; default 8000)")
    p.add_argument("--sklearn-ds", default="all",
                   help="d values at which to time sklearn too (comma list or 'all')")
    p.set_defaults(func=cmd_dual)

    p = sub.add_parser("iterative", help="fastest iterative backend vs sklearn's iterative Ridge")
    data_args(p, 100_000, 100, 1e-3)
    p.add_argument("--kappa", type=float, default=100.0, help="condition number of Xc")
    p.add_argument("--target", type=float, default=1e-8, help="relative residual to reach")
    p.add_argument("--slack", type=float, default=1.5,
                   help="accept a relative residual up to slack*target (default 1.5)")
    p.add_argument("--solvers", default="gd,agd,cg,pcg,sketch-cg,lbfgs,cd,sag,saga,svrg",
                   help="tikhonov backends (those not registered are reported and skipped)")
    p.add_argument("--sklearn", default="sag,saga,lsqr,sparse_cg")
    p.add_argument("--tols", default="1e-2,1e-3,1e-4,1e-5,1e-6,1e-7,1e-8,1e-9,1e-10,1e-11,1e-12,"
                   "1e-13,1e-14", help="sklearn tol values tried, loosest first")
    p.add_argument("--max-iter", type=int, default=100_000)
    p.add_argument("--time-limit", type=float, default=60.0,
                   help="per-run budget in seconds for calibration runs")
    p.add_argument("--race", type=int, default=2, help="fastest candidates per side to race")
    p.set_defaults(func=cmd_iterative)

    p = sub.add_parser("gradient", help="one gd iteration vs NumPy's X.T @ (X @ w - y)")
    data_args(p, 1_000_000, 100, 1e-3)
    p.add_argument("--kappa", type=float, default=10.0, help="condition number of Xc")
    p.add_argument("--iterations", type=int, default=30, help="gd iterations per run")
    p.add_argument("--skip", type=int, default=5, help="first iteration steps not counted")
    p.add_argument("--evals", type=int, default=12, help="NumPy evaluations per round")
    p.set_defaults(func=cmd_gradient)

    p = sub.add_parser("sgd", help="one sgd epoch vs one SGDRegressor epoch")
    data_args(p, 100_000, 100, 1e-3)
    p.add_argument("--kappa", type=float, default=100.0, help="condition number of Xc")
    p.add_argument("--more-epochs", type=int, default=4,
                   help="also time 1 + this many epochs, for the marginal cost of an epoch")
    p.add_argument("--eta0", type=float, default=0.0,
                   help="SGDRegressor eta0 (default 0: 0.5 / max_i |x_i|^2)")
    p.set_defaults(func=cmd_sgd)

    p = sub.add_parser("logistic", help="logistic regression: newton vs newton-cholesky, "
                       "first-order to a relative gradient, raw breast_cancer")
    data_args(p, 100_000, 100, 1e-3)
    p.add_argument("--kappa", type=float, default=100.0, help="condition number of Xc")
    p.add_argument("--parts", default="newton,first-order,breast-cancer",
                   help="comma list of: newton, first-order, breast-cancer")
    p.add_argument("--newton-tol", type=float, default=1e-10,
                   help="tikhonov newton --tol and newton-cholesky's tol (default 1e-10)")
    p.add_argument("--newton-max-iter", type=int, default=100,
                   help="newton-cholesky max_iter (default 100)")
    p.add_argument("--target", type=float, default=1e-8, help="relative gradient to reach")
    p.add_argument("--slack", type=float, default=1.5,
                   help="accept a relative gradient up to slack*target (default 1.5)")
    p.add_argument("--solvers", default="lbfgs,agd,sag,saga,svrg",
                   help="tikhonov first-order backends")
    p.add_argument("--tik-tols", default="1e-8,3e-9,1e-9,3e-10,1e-10",
                   help="tikhonov --tol values tried, loosest first")
    p.add_argument("--sklearn", default="lbfgs,sag,saga",
                   help="LogisticRegression solvers to bring to the target")
    p.add_argument("--tols", default="1e-4,1e-5,1e-6,1e-7,1e-8,1e-9,1e-10,1e-11,1e-12",
                   help="sklearn tol values tried, loosest first")
    p.add_argument("--max-iter", type=int, default=100_000, help="tikhonov --max-iter")
    p.add_argument("--sk-max-iter", type=int, default=10_000, help="sklearn max_iter")
    p.add_argument("--time-limit", type=float, default=60.0,
                   help="per-run budget in seconds for calibration runs")
    p.add_argument("--race", type=int, default=2, help="fastest candidates per side to race")
    p.add_argument("--bc-lambda", type=float, default=1e-3, help="breast_cancer lambda")
    p.add_argument("--bc-tol", type=float, default=1e-10, help="breast_cancer tol, both sides")
    p.add_argument("--bc-max-iter", type=int, default=10_000,
                   help="breast_cancer max_iter, both sides")
    p.add_argument("--bc-solvers", default="newton,lbfgs", help="tikhonov backends")
    p.add_argument("--bc-sklearn", default="lbfgs,sag,saga,newton-cholesky",
                   help="LogisticRegression solvers")
    p.add_argument("--bc-repeats", type=int, default=5, help="breast_cancer timed rounds")
    p.set_defaults(func=cmd_logistic)

    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
