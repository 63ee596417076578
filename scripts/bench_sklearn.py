#!/usr/bin/env python3
"""scikit-learn on a `tikhonov bench` suite: the same problems, the same optimum, the same table.

    cargo run --release -- bench --suite S.toml --write-data DIR      # the problems and J*
    python3 scripts/bench_sklearn.py --suite S.toml --data DIR --out sklearn.csv
    cargo run --release -- bench --suite S.toml --out OUT --compare sklearn.csv

The suite is read with tomllib for its groups (in order), repeats and time limits; each problem
comes from DIR/<dataset>/ as `tikhonov bench --write-data` wrote it (src/bin/cli/bench/export.rs):
X.npy, y.npy (labels as -1/+1 for the logistic loss), w_star.npy and problem.json (lambda, the
intercept flag, J* and b*), and X_test.npy, y_test.npy where the group holds out a test split
(`test_fraction`). Problems are the crate's,

    J(w, b) = (1/S) sum_i l(x_i^T w + b, y_i) + (lambda/2)|w|^2,   S = n (unit weights),

so scikit-learn's Ridge, which minimises |y - Xw - b|^2 + alpha |w|^2, gets alpha = lambda*S, and
LogisticRegression, which minimises C sum_i log(1 + exp(-y_i z_i)) + |w|^2/2, gets
C = 1/(lambda*S) (C = inf at lambda = 0); both leave the intercept unpenalised, as the crate does.

Solvers: Ridge's cholesky and svd (direct: one fit a repeat, `stop` = solved) and sparse_cg,
lsqr, sag, saga; LogisticRegression's lbfgs, newton-cg, newton-cholesky, sag and saga. An
iterative solver's curve is sampled the way benchopt samples solvers that cannot report progress:
one fit per budget max_iter = 1, 2, 4, ... at tol = 1e-14, each timed whole, until the solver
stops before its budget (or, for sparse_cg, which reports no count, J stops moving), a fit takes
longer than the group's time limit, or max_iter reaches 2^17. Each fit is a row.

Measured against the exact optimum without cancellation, as the crate measures its own runs
(src/bin/cli/bench/metrics.rs): ridge, J - J* = (1/2S) sum_i (x_i^T dw + db)^2 + (lambda/2)|dw|^2;
logistic, (1/S) sum_i D(m_i, m_i*) + (lambda/2)|dw|^2 + grad J(theta*)^T dtheta with D the
Bregman divergence of phi(m) = log(1 + e^-m) at the margins m_i = y_i (x_i^T w + b), by 8-point
Gauss-Legendre quadrature for |m - m*| <= 1. rel_gradient is |grad J(w, b)| / |grad J| at the
cold start (w = 0, b = mean y for ridge, 0 for logistic); passes are not counted (left empty).
objective_test_loss is the held-out error on the test split, as the crate computes it
(src/bin/cli/bench/metrics.rs, held_out): the mean of (y - Xw - b)^2 for ridge, of
log(1 + exp(-y (Xw + b))) for logistic; empty without a test split.

Timing: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from this process (it re-executes
itself before NumPy loads OpenBLAS, as scripts/compare_sklearn.py does; by hand,
`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 ...`) and every fit runs under
threadpoolctl.threadpool_limits(2), the cores of the machine the README's figures come from.
"""

from __future__ import annotations

import os
import sys

_BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
if set(_BLAS_OVERRIDES) & set(os.environ):  # OpenBLAS reads them when NumPy loads it
    os.execve(sys.executable, [sys.executable, *sys.argv],
              {k: v for k, v in os.environ.items() if k not in _BLAS_OVERRIDES})

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import tomllib  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

THREADS = 2
TOL = 1e-14
MAX_BUDGET = 2**17
DIRECT = {"cholesky", "svd"}
SOLVERS = {
    "squared": ["cholesky", "svd", "sparse_cg", "lsqr", "sag", "saga"],
    "logistic": ["lbfgs", "newton-cg", "newton-cholesky", "sag", "saga"],
}
# The columns of the crate's results.csv (src/bin/cli/bench/report.rs, COLUMNS).
COLUMNS = ["solver_name", "dataset_name", "objective_value", "objective_test_loss", "time",
           "stop_val", "idx_rep", "p_loss", "p_n", "p_d", "p_kappa", "p_lambda", "group",
           "passes", "suboptimality", "rel_gradient", "rel_distance", "last", "stop"]
# 8-point Gauss-Legendre on [-1, 1], positive half (nodes, weights).
GL_NODES = np.array([0.1834346424956498, 0.525532409916329, 0.7966664774136267,
                     0.9602898564975363])
GL_WEIGHTS = np.array([0.362683783378362, 0.3137066458778873, 0.2223810344533745,
                       0.1012285362903763])


class Problem:
    """One problem as `tikhonov bench --write-data` wrote it, with what judging a point needs."""

    def __init__(self, folder: Path):
        self.meta = json.loads((folder / "problem.json").read_text())
        self.x = np.load(folder / "X.npy")
        self.y = np.load(folder / "y.npy")
        self.w_star = np.load(folder / "w_star.npy")
        split = (folder / "X_test.npy").is_file() and (folder / "y_test.npy").is_file()
        self.x_test = np.load(folder / "X_test.npy") if split else None
        self.y_test = np.load(folder / "y_test.npy") if split else None
        self.b_star = float(self.meta["intercept_star"])
        self.lam = float(self.meta["lambda"])
        self.s = float(self.meta["weight_sum"])
        self.logistic = self.meta["loss"] == "logistic"
        self.intercept = bool(self.meta["intercept"])
        if self.logistic:
            self.m_star = self.y * (self.x @ self.w_star + self.b_star)
            self.grad_star = self.gradient(self.w_star, self.b_star)
        cold_b = float(self.y.mean()) if self.intercept and not self.logistic else 0.0
        self.cold = np.linalg.norm(self.gradient(np.zeros_like(self.w_star), cold_b))

    def objective(self, w, b) -> float:
        z = self.x @ w + b
        if self.logistic:
            data = np.logaddexp(0.0, -self.y * z).sum() / self.s
        else:
            data = 0.5 * ((self.y - z) ** 2).sum() / self.s
        return float(data + 0.5 * self.lam * (w @ w))

    def test_loss(self, w, b) -> str:
        """The held-out error as a CSV cell: mean squared error or mean log-loss on the test
        split, empty without one."""
        if self.x_test is None:
            return ""
        z = self.x_test @ w + b
        if self.logistic:
            return repr(float(np.logaddexp(0.0, -self.y_test * z).mean()))
        return repr(float(((self.y_test - z) ** 2).mean()))

    def gradient(self, w, b) -> np.ndarray:
        """(dJ/dw, dJ/db); the b part is 0 without an intercept."""
        z = self.x @ w + b
        # dl/dz: z - y (squared), -y sigma(-y z) (logistic).
        if self.logistic:
            u = -self.y / (1.0 + np.exp(np.clip(self.y * z, -700, 700)))
        else:
            u = z - self.y
        gw = self.x.T @ u / self.s + self.lam * w
        gb = u.sum() / self.s if self.intercept else 0.0
        return np.append(gw, gb)

    def gap(self, w, b) -> float:
        dw, db = w - self.w_star, b - self.b_star
        if not self.logistic:
            r = self.x @ dw + db
            return float(0.5 * (r @ r) / self.s + 0.5 * self.lam * (dw @ dw))
        m = self.y * (self.x @ w + b)
        d = bregman(m, self.m_star).sum() / self.s
        linear = self.grad_star[:-1] @ dw + self.grad_star[-1] * db
        return max(float(d + 0.5 * self.lam * (dw @ dw) + linear), 0.0)

    def row(self, solver, w, b, seconds, budget, rep, last, stop) -> dict:
        scale = np.linalg.norm(self.w_star)
        distance = np.linalg.norm(w - self.w_star)
        return {
            "solver_name": f"sklearn-{solver}",
            "dataset_name": self.meta["dataset_name"],
            "objective_value": repr(self.objective(w, b)),
            "objective_test_loss": self.test_loss(w, b),
            "time": repr(seconds),
            "stop_val": budget,
            "idx_rep": rep,
            "p_loss": self.meta["loss"],
            "p_n": self.meta["n"],
            "p_d": self.meta["d"],
            "p_kappa": "" if self.meta["kappa"] is None else repr(self.meta["kappa"]),
            "p_lambda": repr(self.lam),
            "group": self.meta["group"],
            "passes": "",
            "suboptimality": repr(self.gap(w, b)),
            "rel_gradient": repr(float(np.linalg.norm(self.gradient(w, b)) / (self.cold or 1.0))),
            "rel_distance": repr(float(distance / scale if scale > 0 else distance)),
            "last": "true" if last else "false",
            "stop": stop,
        }


def bregman(m, m_star):
    """D(m, m*) = phi(m) - phi(m*) - phi'(m*)(m - m*), phi(m) = log(1 + e^-m), elementwise:
    delta^2 * int_0^1 (1 - s) phi''(m* + s delta) ds by Gauss-Legendre where |delta| <= 1 (the
    difference cancels there), the difference itself elsewhere."""
    delta = m - m_star
    s = 0.5 * (1.0 + np.concatenate([GL_NODES, -GL_NODES]))
    weights = np.concatenate([GL_WEIGHTS, GL_WEIGHTS])
    e = np.exp(-np.abs(m_star[:, None] + s[None, :] * delta[:, None]))
    curvature = e / (1.0 + e) ** 2
    quadrature = delta**2 * (0.5 * weights * (1.0 - s) * curvature).sum(axis=1)
    sigma = 1.0 / (1.0 + np.exp(np.clip(m_star, -700, 700)))  # sigma(-m*) = -phi'(m*)
    direct = np.logaddexp(0.0, -m) - np.logaddexp(0.0, -m_star) + sigma * delta
    return np.where(np.abs(delta) <= 1.0, quadrature, np.maximum(direct, 0.0))


def estimator(p: Problem, solver: str, budget: int):
    if p.logistic:
        c = np.inf if p.lam == 0 else 1.0 / (p.lam * p.s)
        return LogisticRegression(C=c, solver=solver, max_iter=budget, tol=TOL,
                                  fit_intercept=p.intercept)
    return Ridge(alpha=p.lam * p.s, solver=solver, max_iter=budget, tol=TOL,
                 fit_intercept=p.intercept)


def fit(p: Problem, solver: str, budget: int):
    """(w, b, seconds, iterations or None) of one fit, timed whole."""
    model = estimator(p, solver, budget)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(p.x, p.y)
        seconds = time.perf_counter() - start
    n_iter = getattr(model, "n_iter_", None)
    iterations = None if n_iter is None else int(np.max(n_iter))
    return np.ravel(model.coef_), float(np.ravel(model.intercept_)[0]) if p.intercept else 0.0, \
        seconds, iterations


def curve(p: Problem, solver: str, rep: int, time_limit: float) -> list[dict]:
    if solver in DIRECT:
        w, b, seconds, _ = fit(p, solver, 1)
        return [p.row(solver, w, b, seconds, 0, rep, True, "solved")]
    rows, budget, previous = [], 1, None
    while True:
        w, b, seconds, iterations = fit(p, solver, budget)
        j = p.objective(w, b)
        if iterations is not None and iterations < budget:
            stop = "converged"
        elif iterations is None and previous is not None and abs(j - previous) <= 1e-15 * abs(j):
            stop = "converged"
        elif seconds > time_limit:
            stop = "time_limit"
        elif budget >= MAX_BUDGET:
            stop = "max_iter"
        else:
            stop = ""
        rows.append(p.row(solver, w, b, seconds, budget, rep, stop != "", stop or "max_iter"))
        if stop:
            return rows
        budget, previous = 2 * budget, j


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--suite", type=Path, required=True, help="the suite file (TOML)")
    ap.add_argument("--data", type=Path, required=True,
                    help="the folder `tikhonov bench --suite SUITE --write-data DIR` wrote")
    ap.add_argument("--out", type=Path, required=True, help="the CSV to write")
    ap.add_argument("--repeats", type=int, help="instead of the suite's repeats")
    args = ap.parse_args()
    suite = tomllib.loads(args.suite.read_text())
    repeats = args.repeats or suite.get("repeats", 3)
    folders = sorted(f for f in args.data.iterdir() if (f / "problem.json").is_file())
    if not folders:
        sys.exit(f"error: no problem.json under {args.data}; write the problems first with "
                 f"`tikhonov bench --suite {args.suite} --write-data {args.data}`")
    problems = [Problem(f) for f in folders]
    rows = []
    with threadpool_limits(limits=THREADS):
        for group in suite["group"]:
            loss = group.get("loss", "squared")
            limit = group.get("time_limit", suite.get("time_limit", 10.0))
            for p in (p for p in problems if p.meta["group"] == group["name"]):
                for solver in SOLVERS[loss]:
                    for rep in range(repeats):
                        rows += curve(p, solver, rep, limit)
                print(f"{p.meta['dataset_name']}: {len(SOLVERS[loss])} solvers", file=sys.stderr)
    with args.out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {args.out} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
