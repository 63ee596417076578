#!/usr/bin/env python3
"""Side-by-side timing of `tikhonov fit --solver cholesky` against scikit-learn's Ridge.

Same data, same machine, same thread count (DESIGN.md §5). Usage, from the crate root:

    pip install -r scripts/requirements.txt
    cargo build --release
    python3 scripts/compare_sklearn.py                      # 100 000 x 500, intercept, lambda 1e-3
    python3 scripts/compare_sklearn.py --n 20000 --d 200 --repeats 7
    python3 scripts/compare_sklearn.py --x X.npy --y y.npy  # your own data

What it does:

1. Writes X (n x d, C order float64) and y as .npy files from a fixed seed into --dir
   (default target/compare_sklearn/), unless they already exist with the right shape, or uses
   --x/--y. The design has column offsets so centring (the intercept) matters.
2. Runs `target/release/tikhonov fit --solver cholesky --x X.npy --y y.npy --lambda L --format json`
   with RAYON_NUM_THREADS=2 and records both the JSON's `fit_seconds` (the solve
   only, file loading excluded) and the wall time of the whole process (loading X included).
3. Fits sklearn.linear_model.Ridge(alpha=L*n, solver="cholesky", fit_intercept=True) under
   threadpoolctl.threadpool_limits(2), timing `.fit` with time.perf_counter (the data are already
   in memory, so this is comparable to fit_seconds). Steps 2 and 3 alternate, --repeats times
   each (default 5), after one untimed warm-up of each.
4. Prints medians, the ratios sklearn/tikhonov, and the maximum relative difference between the
   two coefficient vectors (and intercepts).
5. Measures peak memory of one `tikhonov fit` with `/usr/bin/time -v` ("Maximum resident set
   size") next to the size of X (n*d*8 bytes).

Threads and BLAS: the OpenBLAS variables OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, if set in the
environment, are removed for this Python process (the script re-executes itself without them, so
NumPy's OpenBLAS picks its own kernel for this CPU); threadpoolctl.threadpool_info() is printed so
the BLAS library, its version, its kernel (`architecture`) and thread count are visible. The
equivalent by hand is `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 scripts/compare_sklearn.py`.
RAYON_NUM_THREADS=2 is set for the tikhonov process only.

Conventions: tikhonov minimises 1/(2n)*RSS + (lambda/2)*|w|^2, scikit-learn's Ridge minimises
RSS + alpha*|w|^2, so alpha = lambda*n gives the same w.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

_UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

# Re-exec without the OpenBLAS overrides *before* NumPy is imported (OpenBLAS reads them when it
# is loaded), so they are removed for this Python process only.
if any(v in os.environ for v in _UNSET):
    removed = {v: os.environ[v] for v in _UNSET if v in os.environ}
    env = {k: v for k, v in os.environ.items() if k not in _UNSET}
    env["_COMPARE_SKLEARN_UNSET"] = ",".join(f"{k}={v}" for k, v in removed.items())
    os.execve(sys.executable, [sys.executable, *sys.argv], env)

import numpy as np  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

THREADS = 2
CRATE = Path(__file__).resolve().parent.parent


def make_data(n: int, d: int, seed: int, directory: Path) -> tuple[Path, Path]:
    """X (n x d) and y as .npy, deterministic from `seed`; reused if already there."""
    directory.mkdir(parents=True, exist_ok=True)
    xp = directory / f"X_{n}x{d}_seed{seed}.npy"
    yp = directory / f"y_{n}x{d}_seed{seed}.npy"
    if xp.exists() and yp.exists():
        xs = np.load(xp, mmap_mode="r")
        ys = np.load(yp, mmap_mode="r")
        if xs.shape == (n, d) and ys.shape == (n,) and xs.dtype == np.float64:
            return xp, yp
    rng = np.random.default_rng(seed)
    # Mildly correlated Gaussian features with column offsets (so the intercept matters).
    x = rng.standard_normal((n, d))
    x[:, 1:] += 0.3 * x[:, :-1]
    x += rng.uniform(-5.0, 5.0, size=d)
    w = rng.standard_normal(d)
    y = x @ w + 2.5 + 0.1 * rng.standard_normal(n)
    np.save(xp, np.ascontiguousarray(x))
    np.save(yp, y)
    return xp, yp


def tikhonov_bin() -> Path:
    exe = CRATE / "target" / "release" / "tikhonov"
    if not exe.exists():
        sys.exit(f"{exe} not found: run `cargo build --release` in {CRATE} first")
    return exe


def tikhonov_cmd(exe: Path, xp: Path, yp: Path, lam: float) -> list[str]:
    return [str(exe), "fit", "--solver", "cholesky", "--x", str(xp), "--y", str(yp),
            "--lambda", repr(lam), "--format", "json"]


def tikhonov_env() -> dict[str, str]:
    env = dict(os.environ)
    env["RAYON_NUM_THREADS"] = str(THREADS)
    return env


def run_tikhonov(cmd: list[str], repeats: int) -> tuple[list[float], list[float], dict]:
    fit_s, wall_s, out = [], [], {}
    for _ in range(repeats):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=tikhonov_env(), capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"tikhonov failed ({p.returncode}): {p.stderr}")
        out = json.loads(p.stdout)
        fit_s.append(float(out["fit_seconds"]))
        wall_s.append(wall)
    return fit_s, wall_s, out


def run_sklearn(x: np.ndarray, y: np.ndarray, alpha: float, repeats: int):
    times, model = [], None
    with threadpool_limits(limits=THREADS):
        for _ in range(repeats):
            model = Ridge(alpha=alpha, solver="cholesky", fit_intercept=True)
            t0 = time.perf_counter()
            model.fit(x, y)
            times.append(time.perf_counter() - t0)
    return times, model


def peak_rss(cmd: list[str]) -> int | None:
    """Peak RSS in bytes of one run under GNU time, or None if /usr/bin/time is unavailable."""
    gnu_time = Path("/usr/bin/time")
    if not gnu_time.exists():
        print("note: /usr/bin/time not found (apt-get install time); peak RSS not measured")
        return None
    p = subprocess.run([str(gnu_time), "-v", *cmd], env=tikhonov_env(),
                       capture_output=True, text=True)
    m = re.search(r"Maximum resident set size \(kbytes\):\s*(\d+)", p.stderr)
    if p.returncode != 0 or not m:
        print(f"note: /usr/bin/time -v failed: {p.stderr[-500:]}")
        return None
    return int(m.group(1)) * 1024


def fmt(v: list[float]) -> str:
    return (f"median {statistics.median(v):8.4f} s  (min {min(v):.4f}, max {max(v):.4f}, "
            f"{len(v)} runs)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="samples (default 100000)")
    ap.add_argument("--d", type=int, default=500, help="features (default 500)")
    ap.add_argument("--lambda", dest="lam", type=float, default=1e-3,
                    help="tikhonov's lambda; sklearn alpha = lambda*n (default 1e-3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dir", type=Path, default=CRATE / "target" / "compare_sklearn",
                    help="where generated .npy files go")
    ap.add_argument("--x", type=Path, help="existing X.npy (2-D float64); with --y")
    ap.add_argument("--y", type=Path, help="existing y.npy (1-D float64); with --x")
    ap.add_argument("--no-rss", action="store_true", help="skip the /usr/bin/time -v run")
    args = ap.parse_args()

    if os.environ.get("_COMPARE_SKLEARN_UNSET"):
        print(f"removed for this Python process: {os.environ['_COMPARE_SKLEARN_UNSET']}")
    print(f"OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in this process: "
          f"{[os.environ.get(v) for v in _UNSET]}")

    if (args.x is None) != (args.y is None):
        ap.error("--x and --y go together")
    if args.x is not None:
        xp, yp = args.x, args.y
    else:
        t0 = time.perf_counter()
        xp, yp = make_data(args.n, args.d, args.seed, args.dir)
        print(f"data: {xp} ({time.perf_counter() - t0:.1f} s to make or check)")

    x = np.load(xp)
    y = np.load(yp)
    n, d = x.shape
    alpha = args.lam * n
    print(f"X {n} x {d} float64 = {x.nbytes / 1e6:.1f} MB, C-contiguous {x.flags.c_contiguous}; "
          f"lambda = {args.lam:g}, sklearn alpha = lambda*n = {alpha:g}; {THREADS} threads")

    with threadpool_limits(limits=THREADS):
        print("threadpoolctl.threadpool_info() under threadpool_limits(2):")
        for lib in threadpool_info():
            print("  " + json.dumps(lib))

    exe = tikhonov_bin()
    cmd = tikhonov_cmd(exe, xp, yp, args.lam)
    print("tikhonov command: RAYON_NUM_THREADS=2 " + " ".join(cmd))

    # One untimed warm-up each (page cache for the file, BLAS initialisation), then the two sides
    # alternate run by run, so that load from other processes hits both alike.
    run_tikhonov(cmd, 1)
    run_sklearn(x, y, alpha, 1)
    fit_s, wall_s, sk_s = [], [], []
    for _ in range(args.repeats):
        f, w, out = run_tikhonov(cmd, 1)
        s, model = run_sklearn(x, y, alpha, 1)
        fit_s += f
        wall_s += w
        sk_s += s

    coef_t = np.asarray(out["coef"], dtype=np.float64)
    coef_s = np.asarray(model.coef_, dtype=np.float64)
    rel = np.max(np.abs(coef_t - coef_s)) / np.max(np.abs(coef_s))
    rel_each = np.max(np.abs(coef_t - coef_s) / np.maximum(np.abs(coef_s), 1e-300))
    b_rel = abs(out["intercept"] - model.intercept_) / max(abs(model.intercept_), 1e-300)

    print()
    print(f"tikhonov fit_seconds (solve only)      {fmt(fit_s)}")
    print(f"tikhonov wall time (incl. .npy load)   {fmt(wall_s)}")
    print(f"sklearn Ridge.fit (data in memory)     {fmt(sk_s)}")
    med_fit, med_wall, med_sk = (statistics.median(v) for v in (fit_s, wall_s, sk_s))
    print(f"ratio sklearn / tikhonov fit_seconds   {med_sk / med_fit:6.2f}x")
    print(f"ratio sklearn / tikhonov wall time     {med_sk / med_wall:6.2f}x")
    print(f"Gram rate implied by fit_seconds       "
          f"{n * d * (d + 1) / med_fit / 1e9:6.2f} GFLOP/s (n*d*(d+1) flops, ignores the d^3/3 solve)")
    print(f"coef: max|diff|/max|coef| = {rel:.2e}, max elementwise rel diff = {rel_each:.2e}; "
          f"intercept rel diff = {b_rel:.2e}")

    if not args.no_rss:
        rss = peak_rss(cmd)
        if rss is not None:
            print(f"peak RSS of one `tikhonov fit` (/usr/bin/time -v): {rss / 1e6:.1f} MB "
                  f"= {rss / x.nbytes:.2f} x size of X ({x.nbytes / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
