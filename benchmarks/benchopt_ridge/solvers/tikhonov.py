"""tikhonov through its command line (benchopt's CommandLineSolver pattern): the data are
written once as .npy files, each run calls

    tikhonov fit --x X.npy --y y.npy --lambda <lmbd / n> --solver <backend>
                 [--no-intercept] [--max-iter <n_iter> --tol 1e-15] --format json

and reads the coefficients back. tikhonov minimises 1/(2n)·||y - X w - b||^2 + (lambda/2)||w||^2,
the benchmark's objective divided by n, so lambda = lmbd / n gives the same minimiser.

The binary is `$TIKHONOV_BIN`, else `tikhonov` on the PATH (`cargo install --path .` from the
repository root). Timings include starting the process and reading the files (≈ 1 ms plus the
read of X), as for every command-line solver in benchopt.
"""

import json
import os
import shutil
import subprocess
import tempfile

from benchopt import safe_import_context
from benchopt.base import CommandLineSolver

with safe_import_context() as import_ctx:
    import numpy as np

DIRECT = {"auto", "cholesky", "qr", "qr-refined", "svd", "dual", "normal", "cholesky-refined"}


def binary():
    return os.environ.get("TIKHONOV_BIN") or shutil.which("tikhonov")


class Solver(CommandLineSolver):
    name = "tikhonov"
    parameters = {"backend": ["auto", "cholesky", "cg", "lbfgs"]}

    def skip(self, X, y, lmbd, fit_intercept):
        if binary() is None:
            return True, "no tikhonov binary: set TIKHONOV_BIN or `cargo install --path .`"
        if self.backend == "cholesky" and X.shape[1] > X.shape[0]:
            return True, "cholesky factors the d x d Gram matrix; auto picks the dual here"
        return False, None

    def set_objective(self, X, y, lmbd, fit_intercept):
        self.dir = tempfile.mkdtemp(prefix="tikhonov_benchopt_")
        self.x_path = os.path.join(self.dir, "X.npy")
        self.y_path = os.path.join(self.dir, "y.npy")
        np.save(self.x_path, np.asarray(X, dtype=np.float64))
        np.save(self.y_path, np.asarray(y, dtype=np.float64))
        self.n_features, self.fit_intercept = X.shape[1], fit_intercept
        self.lam = lmbd / X.shape[0]

    def run(self, n_iter):
        if self.backend not in DIRECT and n_iter == 0:
            self.beta = np.zeros(self.n_features + int(self.fit_intercept))
            return
        cmd = [binary(), "fit", "--x", self.x_path, "--y", self.y_path,
               "--lambda", repr(self.lam), "--solver", self.backend, "--format", "json"]
        if not self.fit_intercept:
            cmd.append("--no-intercept")
        if self.backend not in DIRECT:
            cmd += ["--max-iter", str(n_iter), "--tol", "1e-15"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        fit = json.loads(out)
        beta = np.array(fit["coef"])
        if self.fit_intercept:
            beta = np.r_[beta, fit["intercept"]]
        self.beta = beta

    def get_result(self):
        return dict(beta=self.beta)
