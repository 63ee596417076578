#!/usr/bin/env python3
"""R's cv.glmnet on small problems with fixed fold ids, for tests/glmnet_cv.rs.

Usage (from the repository root; needs numpy and Rscript with glmnet, Debian's r-cran-glmnet):

    python3 scripts/glmnet_cv_fixtures.py     # writes tests/fixtures/glmnet_cv/cv_glmnet.json

Each case is a small dense problem (data rounded to 10 significant digits, so the fixture is
exactly the problem glmnet saw) run through

    cv.glmnet(x, y, weights, alpha = 0, lambda = <grid>, foldid = <fixed>, standardize = FALSE,
              intercept = <case>, thresh = 1e-20, maxit = 1e7, keep = TRUE, grouped = TRUE)

thresh = 1e-20 runs glmnet's coordinate descent to its rounding floor, so what is compared is
the model glmnet defines, not where its default stopping rule (thresh = 1e-7) happens to stop.
Stored per case: X (row-major), y, weights (or null), intercept, the fold ids (1-based), glmnet's
λ grid (descending), and cv.glmnet's `cvm`, `cvsd`, `lambda.min`, `lambda.1se` and `fit.preval`
([λ][sample]: the prediction of each sample by the fit on the other folds).

glmnet normalises each fold's fit by the training weight and scales λ by the training targets'
standard deviation (its gaussian `elnet` divides λ by sd(y_train)); in our convention fold k's
refit has λ_k = λ_glmnet / sd_k(y), sd as in the README's table (weighted, population; without
an intercept √(Σsᵢyᵢ²/S)). The test refits every fold at that λ and compares.
"""

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "glmnet_cv"

R_SCRIPT = r"""
suppressMessages(library(glmnet))
args <- commandArgs(trailingOnly = TRUE)
dir <- args[1]
meta <- scan(file.path(dir, "meta.txt"), quiet = TRUE)
n <- meta[1]; d <- meta[2]; nl <- meta[3]; intercept <- meta[4] == 1; weighted <- meta[5] == 1
rd <- function(name, len) readBin(file.path(dir, name), "double", n = len, endian = "little")
x <- matrix(rd("x.bin", n * d), n, d)
y <- rd("y.bin", n)
w <- if (weighted) rd("w.bin", n) else rep(1, n)
foldid <- as.integer(rd("foldid.bin", n))
lambda <- rd("lambda.bin", nl)
cv <- cv.glmnet(x, y, weights = w, alpha = 0, lambda = lambda, foldid = foldid,
                standardize = FALSE, intercept = intercept, thresh = 1e-20, maxit = 1e7,
                keep = TRUE, grouped = TRUE)
writeBin(as.double(cv$lambda), file.path(dir, "out_lambda.bin"))
writeBin(as.double(cv$cvm), file.path(dir, "out_cvm.bin"))
writeBin(as.double(cv$cvsd), file.path(dir, "out_cvsd.bin"))
writeBin(as.double(c(cv$lambda.min, cv$lambda.1se)), file.path(dir, "out_chosen.bin"))
writeBin(as.double(cv$fit.preval), file.path(dir, "out_preval.bin"))
"""


def round10(a):
    return np.array([float(f"{v:.10g}") for v in np.ravel(a)]).reshape(np.shape(a))


def case(name, n, d, k, intercept, weighted, seed):
    rng = np.random.default_rng(seed)
    x = round10(rng.standard_normal((n, d)) @ np.diag(1.0 + np.arange(d)) + 5.0)
    w_true = rng.standard_normal(d)
    y = round10(x @ w_true + (2.0 if intercept else 0.0) + 0.7 * rng.standard_normal(n))
    weights = round10(rng.uniform(0.3, 2.0, n)) if weighted else None
    # Uneven folds: a fixed pattern, not a shuffle, so the fixture does not depend on R's RNG.
    foldid = np.array([1 + (i * 7 + i // 11) % k for i in range(n)])
    # A grid from strong to weak penalty on glmnet's scale, descending as glmnet wants.
    lambdas = np.geomspace(5.0, 5e-4, 9)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "meta.txt").write_text(f"{n} {d} {lambdas.size} {int(intercept)} {int(weighted)}\n")
        x.T.astype("<f8").tofile(t / "x.bin")  # column-major for R's matrix()
        y.astype("<f8").tofile(t / "y.bin")
        if weighted:
            weights.astype("<f8").tofile(t / "w.bin")
        foldid.astype("<f8").tofile(t / "foldid.bin")
        lambdas.astype("<f8").tofile(t / "lambda.bin")
        script = t / "cv.R"
        script.write_text(R_SCRIPT)
        subprocess.run(["Rscript", str(script), str(t)], check=True)
        rd = lambda name: np.fromfile(t / name, dtype="<f8")
        out_lambda = rd("out_lambda.bin")
        assert np.allclose(out_lambda, lambdas, rtol=0, atol=0), "glmnet changed the grid"
        preval = rd("out_preval.bin").reshape(lambdas.size, n)  # R's n x L, column-major
        lmin, l1se = rd("out_chosen.bin")
        return {
            "name": name,
            "n_samples": n,
            "n_features": d,
            "x": x.tolist(),
            "y": y.tolist(),
            "weights": None if weights is None else weights.tolist(),
            "intercept": intercept,
            "foldid": foldid.tolist(),
            "lambda_glmnet": lambdas.tolist(),
            "cvm": rd("out_cvm.bin").tolist(),
            "cvsd": rd("out_cvsd.bin").tolist(),
            "lambda_min": lmin,
            "lambda_1se": l1se,
            "fit_preval": preval.tolist(),
        }


def main():
    version = subprocess.run(
        ["Rscript", "-e", 'cat(as.character(packageVersion("glmnet")))'],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    cases = [
        case("intercept", 120, 4, 5, True, False, 1),
        case("weighted_intercept", 150, 5, 4, True, True, 2),
        case("weighted_no_intercept", 100, 3, 5, False, True, 3),
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    doc = {"glmnet_version": version, "cases": cases}
    (OUT / "cv_glmnet.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT / 'cv_glmnet.json'} (glmnet {version}, {len(cases)} cases)")


if __name__ == "__main__":
    main()
