"""scikit-learn's Ridge. Its objective ||y - X beta - c||^2 + alpha ||beta||^2 is twice the
benchmark's with alpha = lmbd. (The public benchmark's sklearn solver passes alpha = 2 * lmbd,
which solves a different problem; this one does not.) Sampled by max_iter for the iterative
solvers, as benchopt samples solvers that cannot report progress; direct solvers ignore it."""

import warnings

from benchopt import BaseSolver, safe_import_context

with safe_import_context() as import_ctx:
    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Ridge


class Solver(BaseSolver):
    name = "sklearn"
    requirements = ["pip:scikit-learn"]
    parameters = {"solver": ["cholesky", "svd", "sparse_cg", "lsqr", "sag"]}

    def set_objective(self, X, y, lmbd, fit_intercept):
        self.X, self.y, self.fit_intercept = X, y, fit_intercept
        self.ridge = Ridge(alpha=lmbd, fit_intercept=fit_intercept, tol=1e-15, solver=self.solver)
        warnings.filterwarnings("ignore", category=ConvergenceWarning)

    def run(self, n_iter):
        if n_iter == 0:
            self.beta = np.zeros(self.X.shape[1] + int(self.fit_intercept))
            return
        self.ridge.max_iter = n_iter
        self.ridge.fit(self.X, self.y)
        beta = self.ridge.coef_.ravel()
        if self.fit_intercept:
            beta = np.r_[beta, self.ridge.intercept_]
        self.beta = beta

    def get_result(self):
        return dict(beta=self.beta)
