#!/usr/bin/env python3
"""Side-by-side timings of tikhonov against scikit-learn, same data, same machine, 2 threads.

Run from anywhere (paths are relative to the crate root), after `cargo build --release` and
`pip install -r scripts/requirements.txt`:

    python3 scripts/compare_sklearn.py ridge     # cholesky vs Ridge(solver="cholesky"), 100 000 x 500
                                                 # (--solver svd: svd vs Ridge(solver="svd"))
    python3 scripts/compare_sklearn.py rss       # peak RSS of `tikhonov fit` (cholesky, qr, svd)
    python3 scripts/compare_sklearn.py dual      # dual vs cholesky crossover at n = 2 000, and sklearn
    python3 scripts/compare_sklearn.py iterative # fastest iterative backend vs sag/saga/lsqr/sparse_cg
    python3 scripts/compare_sklearn.py sgd       # one sgd epoch vs one SGDRegressor epoch
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

    def report(self, width: int = 44) -> None:
        print(f"  {'candidate':<{width}} {'median s':>10} {'min s':>10} {'max s':>10}  runs")
        for name in self.names:
            t = self.times[name]
            print(f"  {name:<{width}} {statistics.median(t):>10.4f} {min(t):>10.4f} "
                  f"{max(t):>10.4f}  {len(t)}")


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
    tikhonov_candidate(race, f"tikhonov {sv} (fit_seconds)", cmd, walls)
    race.add(f"sklearn Ridge({sv}).fit",
             lambda: time_sklearn(lambda: Ridge(alpha=args.lam * n, solver=sv), x, y))
    race.run(args.repeats)
    race.report()
    wall_all = walls[f"tikhonov {sv} (fit_seconds)"][1:]  # without the warm-up
    wall = [wall_all[r] for r in race.used]
    print(f"  {'tikhonov process wall time (loads the .npy)':<44} {statistics.median(wall):>10.4f}"
          f" {min(wall):>10.4f} {max(wall):>10.4f}  {len(wall)}")
    t_fit, t_sk = race.median(f"tikhonov {sv} (fit_seconds)"), race.median(
        f"sklearn Ridge({sv}).fit")
    print(f"ratio of medians sklearn / tikhonov fit_seconds: {t_sk / t_fit:.2f}x "
          f"(> 1: tikhonov faster)")
    print(f"ratio of medians sklearn fit / tikhonov process wall time: "
          f"{t_sk / statistics.median(wall):.2f}x")
    d = x.shape[1]
    if sv == "cholesky":
        print(f"tikhonov rate: n*d*(d+1) / fit_seconds = {n * d * (d + 1) / t_fit / 1e9:.1f} "
              f"GFLOP/s (Gram triangle only)")
    out, est = race.last[f"tikhonov {sv} (fit_seconds)"], race.last[
        f"sklearn Ridge({sv}).fit"]
    coef = np.asarray(out["coef"])
    print(f"agreement: {coef_agreement(coef, est.coef_)}; intercept {out['intercept']:.12g} vs "
          f"{est.intercept_:.12g}; relative residual tikhonov "
          f"{relative_residual(x, y, args.lam, coef):.1e}, sklearn "
          f"{relative_residual(x, y, args.lam, est.coef_):.1e}")
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
    p.add_argument("--solvers", default="gd,agd,cg,pcg,lbfgs,cd,sag,saga,svrg",
                   help="tikhonov backends (those not registered are reported and skipped)")
    p.add_argument("--sklearn", default="sag,saga,lsqr,sparse_cg")
    p.add_argument("--tols", default="1e-2,1e-3,1e-4,1e-5,1e-6,1e-7,1e-8,1e-9,1e-10,1e-11,1e-12,"
                   "1e-13,1e-14", help="sklearn tol values tried, loosest first")
    p.add_argument("--max-iter", type=int, default=100_000)
    p.add_argument("--time-limit", type=float, default=60.0,
                   help="per-run budget in seconds for calibration runs")
    p.add_argument("--race", type=int, default=2, help="fastest candidates per side to race")
    p.set_defaults(func=cmd_iterative)

    p = sub.add_parser("sgd", help="one sgd epoch vs one SGDRegressor epoch")
    data_args(p, 100_000, 100, 1e-3)
    p.add_argument("--kappa", type=float, default=100.0, help="condition number of Xc")
    p.add_argument("--more-epochs", type=int, default=4,
                   help="also time 1 + this many epochs, for the marginal cost of an epoch")
    p.add_argument("--eta0", type=float, default=0.0,
                   help="SGDRegressor eta0 (default 0: 0.5 / max_i |x_i|^2)")
    p.set_defaults(func=cmd_sgd)

    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
