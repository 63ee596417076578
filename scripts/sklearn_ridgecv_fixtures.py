#!/usr/bin/env python3
"""scikit-learn's RidgeCV leave-one-out values for tests/select_loo.rs, and the LOO timing race.

Usage (from the repository root; numpy and scikit-learn as in scripts/requirements.txt):

    python3 scripts/sklearn_ridgecv_fixtures.py            # writes tests/fixtures/sklearn_ridgecv/*.json
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \\
        python3 scripts/sklearn_ridgecv_fixtures.py timing  # LOO over 20 λ on 100 000 × 100

**Fixtures.** Each case is a small dense problem, the data rounded to 10 significant digits first
(so the fixture is exactly the problem scikit-learn saw), fitted with
`RidgeCV(alphas, fit_intercept, store_cv_results=True, alpha_per_target)` and `sample_weight`.
scikit-learn's alpha is our λ·S (S = Σ sᵢ); RidgeCV keeps that alpha fixed in every left-out fit,
which is `LooConvention::SameAlpha`. What RidgeCV stores (scikit-learn 1.9, `_RidgeGCV.fit` with
`scoring=None`): `cv_results_[i, (t,) j]` = sᵢ·eᵢ², the squared LOO residual of sample i *in the
√s-rescaled problem* (it rescales X and y by √sᵢ before the decomposition and never scales back
when there is no scorer), and `alpha_` is the alpha minimising the plain mean over samples of
those values, per target with `alpha_per_target=True`. The intercept is handled exactly: the
design is centred by the weighted mean and the leverage gets the term sᵢ/S of the √s column.

Stored per case: X (row-major), y (one list per target), the weights (or null), fit_intercept,
the alphas and λ = alpha/S, `alpha_` (a list, one per target), `cv_results` as
[target][alpha][sample] (= sᵢ·eᵢ²), and, for the record, the largest relative difference
between those values and (a) RidgeCV with `gcv_mode="svd"`, (b) brute-force left-out refits in
numpy (lstsq of each n − 1 weighted, centred, augmented system at the fixed alpha). The script
prints them; all are below 1e-10.

**Timing** (`timing`): writes nothing into the repository. It runs
`cargo run --release --example loo_timing -- --write DIR` once (DIR = target/loo_timing), which
generates the problem with `tikhonov::data::Synthetic` (100 000 × 100, κ(Xc) = 100, seed 0),
writes X.npy, y.npy, the 20 λ and our squared LOO errors (SameAlpha, sᵢ·eᵢ², n × 20) there; then
alternates, `--rounds` times (each run after waiting up to 10 s for no other runnable task),
our example (`--x --y --lambdas`, RAYON_NUM_THREADS=2; it times
`LeaveOneOut::new` + `curve` inside the process, data loading excluded) with
`RidgeCV(alphas=λ·n, store_cv_results=True).fit(X, y)` under `threadpool_limits(2)` (timed
around `fit`), and prints the times, their medians, the chosen alphas, and how far our squared LOO
errors are from RidgeCV's (default `gcv_mode`, an eigendecomposition of XᵀX for n > d, and
`gcv_mode="svd"`, fitted once more untimed): see `accuracy`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from sklearn.linear_model import RidgeCV

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "sklearn_ridgecv")
SEED = 0


def round_sig(a, digits=10):
    return np.array([float(f"{v:.{digits - 1}e}") for v in np.ravel(a)]).reshape(np.shape(a))


def brute_force(X, Y, sw, alphas, fit_intercept):
    """sᵢ·eᵢ² of every left-out refit at fixed alpha, [target][alpha][sample]."""
    n, d = X.shape
    s = np.ones(n) if sw is None else sw
    out = np.zeros((Y.shape[1], len(alphas), n))
    for i in range(n):
        keep = np.arange(n) != i
        Xk, Yk, sk = X[keep], Y[keep], s[keep]
        if fit_intercept:
            xm = sk @ Xk / sk.sum()
            ym = sk @ Yk / sk.sum()
        else:
            xm, ym = np.zeros(d), np.zeros(Y.shape[1])
        r = np.sqrt(sk)
        for j, alpha in enumerate(alphas):
            A = np.vstack([r[:, None] * (Xk - xm), np.sqrt(alpha) * np.eye(d)])
            B = np.vstack([r[:, None] * (Yk - ym), np.zeros((d, Y.shape[1]))])
            W = np.linalg.lstsq(A, B, rcond=None)[0]
            e = Y[i] - ym - (X[i] - xm) @ W
            out[:, j, i] = s[i] * e**2
    return out


def ridgecv(X, Y, sw, alphas, fit_intercept, per_target, mode=None):
    m = RidgeCV(
        alphas=alphas,
        fit_intercept=fit_intercept,
        store_cv_results=True,
        alpha_per_target=per_target,
        gcv_mode=mode,
    ).fit(X, Y if Y.shape[1] > 1 else Y[:, 0], sample_weight=sw)
    cv = np.asarray(m.cv_results_)
    cv = cv[:, None, :] if cv.ndim == 2 else cv  # n × k × L
    return np.transpose(cv, (1, 2, 0)), np.atleast_1d(m.alpha_).astype(float)


def rel(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def case(name, X, Y, sw, alphas, fit_intercept, per_target=False):
    X = round_sig(X)
    Y = round_sig(Y)
    Y = Y[:, None] if Y.ndim == 1 else Y
    sw = None if sw is None else round_sig(sw)
    S = float(X.shape[0] if sw is None else sw.sum())
    cv, chosen = ridgecv(X, Y, sw, alphas, fit_intercept, per_target)
    cv_svd, _ = ridgecv(X, Y, sw, alphas, fit_intercept, per_target, "svd")
    bf = brute_force(X, Y, sw, alphas, fit_intercept)
    if chosen.size == 1 and Y.shape[1] > 1:
        chosen = np.repeat(chosen, Y.shape[1])
    return {
        "name": name,
        "n_samples": X.shape[0],
        "n_features": X.shape[1],
        "x": X.ravel().tolist(),
        "y": Y.T.tolist(),
        "weights": None if sw is None else sw.tolist(),
        "fit_intercept": fit_intercept,
        "alpha_per_target": per_target,
        "alphas": [float(a) for a in alphas],
        "lambdas": [float(a) / S for a in alphas],
        "alpha_": chosen.tolist(),
        "cv_results": cv.tolist(),
        "rel_diff_svd_mode": rel(cv_svd, cv),
        "rel_diff_brute_force": rel(cv, bf),
    }


def fixtures():
    rng = np.random.RandomState(SEED)
    cases = []
    # Weighted, with intercept: 30 × 5, columns with offsets and different scales, one sample
    # of weight 0, alphas from 1e-12 (the regime of scikit-learn#32459) to 1e3.
    n, d = 30, 5
    X = rng.randn(n, d) * np.array([1.0, 3.0, 0.5, 10.0, 1.0]) + np.array([5.0, -2.0, 0.0, 30.0, 1.0])
    y = X @ rng.randn(d) + 0.5 * rng.randn(n) + 3.0
    sw = rng.uniform(0.2, 3.0, size=n)
    sw[7] = 0.0
    alphas = np.r_[1e-12, np.logspace(-3, 3, 11)]
    cases.append(case("weighted_intercept", X, y, sw, alphas, True))
    # The same without an intercept.
    cases.append(case("weighted_no_intercept", X, y, sw, alphas, False))
    # Several targets, one alpha each (alpha_per_target=True), no weights: 25 × 4, 3 targets
    # whose noise levels make them choose different alphas.
    n, d = 25, 4
    X = rng.randn(n, d)
    W = rng.randn(d, 3) * np.array([3.0, 1.0, 0.3])
    Y = X @ W + rng.randn(n, 3) * np.array([0.3, 1.0, 1.0]) + 1.0
    alphas = np.logspace(-2, 3, 12)
    cases.append(case("multi_target", X, Y, None, alphas, True, per_target=True))
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "ridgecv_loo.json")
    with open(path, "w") as f:
        json.dump(cases, f, separators=(",", ":"))
        f.write("\n")
    print(f"{len(cases)} cases, {os.path.getsize(path) / 1024:.1f} KB in {os.path.relpath(path, ROOT)}")
    for c in cases:
        print(f"{c['name']:24s} {c['n_samples']}×{c['n_features']} alpha_={c['alpha_']} "
              f"svd-mode {c['rel_diff_svd_mode']:.1e} brute-force {c['rel_diff_brute_force']:.1e}")


def accuracy(a, b):
    """How far the squared LOO errors a (n × L) are from b: the largest |a − b| per λ over the
    largest b of that λ (normwise); the largest relative difference over entries above 10⁻⁶ of
    their λ's largest; and elementwise over all entries (dominated by residuals near 0, whose
    squares no f64 method gets to many relative digits)."""
    top = np.max(np.abs(b), axis=0)
    rel = np.abs(a - b) / np.abs(b)
    return {
        "normwise": float(np.max(np.max(np.abs(a - b), axis=0) / top)),
        "relative_above_1e-6_of_max": float(np.max(rel[np.abs(b) >= 1e-6 * top])),
        "elementwise": float(np.max(rel)),
        "mean_curve": float(np.max(np.abs(a.mean(axis=0) - b.mean(axis=0)) / b.mean(axis=0))),
    }


def wait_quiet(budget=10.0):
    """Waits (up to `budget` s) until no other task is runnable (/proc/stat procs_running ≤ 1,
    this script itself); returns whether it got there. The machine is shared."""
    end = time.time() + budget
    while True:
        with open("/proc/stat") as f:
            running = next(int(line.split()[1]) for line in f if line.startswith("procs_running"))
        if running <= 1:
            return True
        if time.time() > end:
            return False
        time.sleep(0.2)


def timing(args):
    from threadpoolctl import threadpool_info, threadpool_limits

    data = os.path.join(ROOT, "target", "loo_timing")
    os.makedirs(data, exist_ok=True)
    env = dict(os.environ, RAYON_NUM_THREADS="2")
    subprocess.run(["cargo", "build", "--release", "--example", "loo_timing"], cwd=ROOT, check=True)
    exe = os.path.join(ROOT, "target", "release", "examples", "loo_timing")
    first = json.loads(subprocess.run([exe, "--write", data], env=env, check=True,
                                      capture_output=True, text=True).stdout)
    X = np.load(os.path.join(data, "X.npy"))
    y = np.load(os.path.join(data, "y.npy"))
    lambdas = np.load(os.path.join(data, "lambdas.npy"))
    ours_sq = np.load(os.path.join(data, "loo_squared_errors.npy"))  # n × L
    alphas = lambdas * X.shape[0]
    print([(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()])
    cmd = [exe, "--x", os.path.join(data, "X.npy"), "--y", os.path.join(data, "y.npy"),
           "--lambdas", os.path.join(data, "lambdas.npy")]
    ours, theirs, quiet = [], [], []
    model = None
    for _ in range(args.rounds):
        quiet.append(wait_quiet())
        out = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True,
                                        text=True).stdout)
        ours.append(out["seconds"])
        quiet[-1] &= wait_quiet()
        with threadpool_limits(2):
            t0 = time.perf_counter()
            model = RidgeCV(alphas=alphas, store_cv_results=True).fit(X, y)
            theirs.append(time.perf_counter() - t0)
    sk_sq = np.asarray(model.cv_results_)
    with threadpool_limits(2):
        svd_sq = np.asarray(RidgeCV(alphas=alphas, store_cv_results=True, gcv_mode="svd")
                            .fit(X, y).cv_results_)
    agreement = {name: accuracy(ours_sq, ref) for name, ref in (("cov", sk_sq), ("svd", svd_sq))}
    agreement["sklearn_cov_vs_svd"] = accuracy(sk_sq, svd_sq)
    ours_alpha = first["lambda_min_same_alpha"] * X.shape[0]
    print(json.dumps({
        "n": X.shape[0], "d": X.shape[1], "lambdas": len(lambdas), "rounds": args.rounds,
        "tikhonov_seconds": ours, "sklearn_seconds": theirs, "quiet_rounds": sum(quiet),
        "tikhonov_median": statistics.median(ours), "sklearn_median": statistics.median(theirs),
        "ratio_of_medians": statistics.median(theirs) / statistics.median(ours),
        "alpha_tikhonov": ours_alpha, "alpha_sklearn": float(model.alpha_),
        "same_alpha": bool(np.isclose(ours_alpha, model.alpha_, rtol=1e-12)),
        "squared_loo_errors_vs_RidgeCV": agreement,
        "lambda_min_same_lambda": first["lambda_min"],
    }, indent=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", nargs="?", default="fixtures", choices=["fixtures", "timing"])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    if args.what == "timing":
        timing(args)
    else:
        fixtures()


if __name__ == "__main__":
    sys.exit(main())
