"""The public benchmark's simulated dataset: X and X_test standard normal, y = X beta with a
standard-normal beta and no noise (seeded)."""

from benchopt import BaseDataset, safe_import_context

with safe_import_context() as import_ctx:
    import numpy as np


class Dataset(BaseDataset):
    name = "Simulated"

    parameters = {"n_samples, n_features": [(100, 50), (1000, 2000), (20000, 200)]}
    random_state = 27

    def get_data(self):
        rng = np.random.RandomState(self.random_state)
        beta = rng.randn(self.n_features)
        X = rng.randn(self.n_samples, self.n_features)
        X_test = rng.randn(self.n_samples, self.n_features)
        return dict(X=X, y=X @ beta, X_test=X_test, y_test=X_test @ beta)
