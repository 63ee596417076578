"""The public benchopt ridge benchmark's objective (github.com/benchopt/benchmark_ridge),
written for benchopt's current API (`get_objective` / `evaluate_result`):

    f(beta, c) = 0.5 * ||y - X beta - c||^2 + (lmbd / 2) * ||beta||^2

with the same parameter names (`lmbd`, `fit_intercept`), so a solver written here receives the
same `set_objective(X, y, lmbd, fit_intercept)` arguments as there. tikhonov's objective is this
one divided by S = n (no weights): its lambda is lmbd / n (see solvers/tikhonov.py).
"""

from benchopt import BaseObjective, safe_import_context

with safe_import_context() as import_ctx:
    import numpy as np


class Objective(BaseObjective):
    name = "Ridge Regression"
    url = "https://github.com/benchopt/benchmark_ridge"
    min_benchopt_version = "1.5"

    parameters = {"fit_intercept": [True, False], "lmbd": [0.1]}

    # Iterative solvers are sampled by growing iteration counts.
    sampling_strategy = "iteration"

    def set_data(self, X, y, X_test=None, y_test=None):
        self.X, self.y = X, y
        self.X_test, self.y_test = X_test, y_test
        self.n_features = X.shape[1]

    def get_objective(self):
        return dict(X=self.X, y=self.y, lmbd=self.lmbd, fit_intercept=self.fit_intercept)

    def get_one_result(self):
        return dict(beta=np.zeros(self.n_features + int(self.fit_intercept)))

    def evaluate_result(self, beta):
        train = self._loss(self.X, self.y, beta)
        test = None
        if self.X_test is not None:
            test = self._loss(self.X_test, self.y_test, beta)
        return dict(value=train, test_loss=test)

    def _loss(self, X, y, beta):
        coef = beta[: self.n_features]
        diff = y - X @ coef
        if self.fit_intercept:
            diff = diff - beta[self.n_features]
        return 0.5 * diff @ diff + 0.5 * self.lmbd * coef @ coef
