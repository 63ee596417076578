#!/usr/bin/env python3
"""k-fold cross-validation side by side: tikhonov's `select::kfold` against R's cv.glmnet (ridge)
and scikit-learn's LogisticRegressionCV (logistic), on the data of `examples/kfold_timing.rs`
(100 000 x 100, kappa(Xc) = 100).

    apt-get install -y r-cran-glmnet            # Debian; R and glmnet
    python3 scripts/compare_glmnet.py [--dir target/kfold_bench] [--reps 3] [--parts ridge,logistic]

Steps:
1. Runs the example with RAYON_NUM_THREADS=2 (its timing table is printed as is) and `--write DIR`:
   X, y, the fold ids, our lambda grid, glmnet's lambda_g = lambda * sd(y), and our exact refit of
   every fold at the lambda glmnet actually uses on it (lambda_g / sd(y_train), see the example's
   docs) with its held-out error.
2. ridge: `cv.glmnet(x, y, alpha = 0, lambda = lambda_g, foldid = <same>, standardize = FALSE)`,
   default thresh (1e-7), timed with system.time (median of --reps; glmnet is single-threaded
   Fortran); then the same per-fold fits glmnet makes inside cv.glmnet
   (`glmnet(x[foldid != k, ], ...)`), whose coefficients are compared with our exact refits:
   ||w_glmnet - w_exact|| / ||w_exact|| per fold and lambda (median, max), and cv.glmnet's cvm
   against the exact per-fold held-out errors averaged as cv.glmnet does.
3. logistic: `LogisticRegressionCV(Cs = 1 / (lambda * S_train), cv = <our 5 folds>,
   scoring = "neg_log_loss", refit = False)` (lbfgs, default tol 1e-4) under threadpoolctl's
   2-thread limit, timed (median of --reps); its mean held-out log-loss per C against
   tikhonov's (the example's `newton` run, re-read from the written data is not needed: the
   exact curve is recomputed here by scikit-learn with tol 1e-10 for reference).

Only the standard library, NumPy, scikit-learn and threadpoolctl; R via Rscript.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
N, D = 100_000, 100

R_SCRIPT = r"""
suppressMessages(library(glmnet))
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]; reps <- as.integer(args[2])
rd <- function(name, n) readBin(file.path(dir, name), "double", n = n, endian = "little")
n <- 100000; d <- 100
x <- matrix(rd("x.bin", n * d), n, d)
y <- rd("y.bin", n)
foldid <- as.integer(rd("foldid.bin", n))
lg <- rd("lambdas_glmnet.bin", 1000)
times <- numeric(reps)
for (r in seq_len(reps)) {
  times[r] <- system.time(cv <- cv.glmnet(x, y, alpha = 0, lambda = lg, foldid = foldid,
                                           standardize = FALSE))[["elapsed"]]
}
cat(sprintf("cv.glmnet seconds: %s\n", paste(sprintf("%.3f", times), collapse = " ")))
writeBin(c(median(times), cv$lambda.min, cv$lambda.1se), file.path(dir, "glmnet_summary.bin"))
writeBin(cv$cvm, file.path(dir, "glmnet_cvm.bin"))
writeBin(cv$cvsd, file.path(dir, "glmnet_cvsd.bin"))
coefs <- c()
for (k in sort(unique(foldid))) {
  tr <- foldid != k
  fit <- glmnet(x[tr, ], y[tr], alpha = 0, lambda = lg, standardize = FALSE)
  b <- as.matrix(coef(fit))          # (d + 1) x L, intercept first
  coefs <- c(coefs, as.vector(rbind(b[-1, , drop = FALSE], b[1, ])))
}
writeBin(coefs, file.path(dir, "glmnet_coef.bin"))
"""


def read(dirpath, name):
    return np.fromfile(dirpath / name, dtype="<f8")


def glmnet_stats(errors, weights):
    """cv.glmnet's cvm and cvsd (cvcompute + cv.elnet, grouped) of errors[fold, lambda]."""
    w = weights / weights.sum()
    mean = w @ errors
    var = w @ (errors - mean) ** 2
    return mean, np.sqrt(var / (errors.shape[0] - 1))


def ridge(dirpath, reps):
    lambdas = read(dirpath, "lambdas.bin")
    nl = lambdas.size
    foldid = read(dirpath, "foldid.bin").astype(int)
    k = foldid.max()
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as f:
        f.write(R_SCRIPT)
        script = f.name
    try:
        subprocess.run(["Rscript", script, str(dirpath), str(reps)], check=True)
    finally:
        os.unlink(script)
    t_glmnet, lmin_g, l1se_g = read(dirpath, "glmnet_summary.bin")
    cvm = read(dirpath, "glmnet_cvm.bin")
    lg = read(dirpath, "lambdas_glmnet.bin")
    ours = read(dirpath, "ref_coef.bin").reshape(k, nl, D + 1)
    theirs = read(dirpath, "glmnet_coef.bin").reshape(k, nl, D + 1)
    rel = np.linalg.norm(theirs - ours, axis=2) / np.linalg.norm(ours, axis=2)
    held = read(dirpath, "ref_heldout.bin").reshape(k, nl)
    sizes = np.bincount(foldid)[1:].astype(float)
    exact_cvm, _ = glmnet_stats(held, sizes)
    cvm_rel = np.abs(cvm - exact_cvm) / exact_cvm
    i_min = int(np.argmin(exact_cvm))
    print("\nridge, cv.glmnet (alpha = 0, standardize = FALSE, thresh 1e-7), 1 thread:")
    print(f"| cv.glmnet median s | {t_glmnet:.3f} |")
    print(
        "| per-fold coefficients, ||w_glmnet - w_exact|| / ||w_exact|| | "
        f"median {np.median(rel):.2e}, max {rel.max():.2e} (at lambda_g = "
        f"{lg[np.unravel_index(rel.argmax(), rel.shape)[1]]:.2e}) |"
    )
    print(
        "| cv.glmnet cvm vs exact per-fold errors | "
        f"median {np.median(cvm_rel):.2e}, max {cvm_rel.max():.2e} |"
    )
    print(
        f"| lambda.min (glmnet scale) | glmnet {lmin_g:.4e}, exact {lg[i_min]:.4e} |"
        f"\n| lambda.1se (glmnet scale) | glmnet {l1se_g:.4e} |"
    )


def logistic(dirpath, reps):
    from sklearn.linear_model import LogisticRegressionCV
    from threadpoolctl import threadpool_limits

    x = read(dirpath, "x.bin").reshape(D, N).T
    x = np.ascontiguousarray(x)
    labels = read(dirpath, "labels.bin")
    foldid = read(dirpath, "foldid5.bin").astype(int)
    lambdas = read(dirpath, "lambdas_logistic.bin")
    folds = [
        (np.flatnonzero(foldid != f), np.flatnonzero(foldid == f))
        for f in range(1, foldid.max() + 1)
    ]
    s_train = np.array([tr.size for tr, _ in folds], dtype=float)
    assert np.all(s_train == s_train[0]), "C = 1/(lambda * S_train) needs equal training sizes"
    cs = 1.0 / (lambdas * s_train[0])

    def run(tol):
        est = LogisticRegressionCV(
            Cs=cs, cv=folds, scoring="neg_log_loss", refit=False, tol=tol, max_iter=10_000
        )
        t = time.perf_counter()
        with threadpool_limits(2):
            est.fit(x, labels)
        return time.perf_counter() - t, est

    times = []
    for _ in range(reps):
        t, est = run(1e-4)
        times.append(t)
    _, exact = run(1e-10)
    scores = -np.mean(list(est.scores_.values())[0], axis=0)
    reference = -np.mean(list(exact.scores_.values())[0], axis=0)
    rel = np.abs(scores - reference) / reference
    print("\nlogistic, LogisticRegressionCV(lbfgs, tol 1e-4), 2 threads:")
    print(f"| LogisticRegressionCV median s | {np.median(times):.3f} |")
    print(
        "| its mean held-out log-loss vs tol 1e-10 | "
        f"median {np.median(rel):.2e}, max {rel.max():.2e} |"
    )
    print(f"| mean log-loss per lambda (tol 1e-10) | {np.array2string(reference, precision=6)} |")
    print(f"| C chosen | {est.C_[0]:.4e} (lambda = {1 / (est.C_[0] * s_train[0]):.1e}) |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default=str(ROOT / "target" / "kfold_bench"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--parts", default="ridge,logistic")
    args = ap.parse_args()
    dirpath = Path(args.dir)
    parts = args.parts.split(",")
    subprocess.run(
        ["cargo", "build", "--release", "--example", "kfold_timing"], cwd=ROOT, check=True
    )
    cmd = [str(ROOT / "target/release/examples/kfold_timing"), "--write", str(dirpath)]
    cmd += ["--reps", str(args.reps)]
    if "logistic" not in parts:
        cmd.append("--skip-logistic")
    subprocess.run(cmd, env={**os.environ, "RAYON_NUM_THREADS": "2"}, check=True)
    if "ridge" in parts:
        ridge(dirpath, args.reps)
    if "logistic" in parts:
        logistic(dirpath, args.reps)


if __name__ == "__main__":
    sys.exit(main())
