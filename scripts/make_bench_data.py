#!/usr/bin/env python3
"""Writes the real datasets of `tikhonov bench` (data/README.md) from scikit-learn's copies.

    python3 scripts/make_bench_data.py      # needs scikit-learn (scripts/requirements.txt)

- data/diabetes.csv: scikit-learn's `load_diabetes()` (442 × 10, the features mean-centred and
  scaled to unit Euclidean norm as scikit-learn ships them), target column `target` (disease
  progression after one year).
- data/breast_cancer.csv: `load_breast_cancer()` (569 × 30, raw features), target column
  `target` (0 = malignant, 1 = benign).

Every number is written with repr(), which round-trips float64 exactly, so the CSV is the data
scikit-learn loads, bit for bit.
"""

import csv
import pathlib

from sklearn.datasets import load_breast_cancer, load_diabetes

OUT = pathlib.Path(__file__).resolve().parent.parent / "data"


def write(name, bunch):
    path = OUT / f"{name}.csv"
    names = [str(f).replace(" ", "_") for f in bunch.feature_names]
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names + ["target"])
        for row, t in zip(bunch.data, bunch.target):
            w.writerow([repr(float(v)) for v in row] + [repr(float(t)) if name == "diabetes" else str(int(t))])
    print(f"{path}: {bunch.data.shape[0]} × {bunch.data.shape[1]}")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    write("diabetes", load_diabetes())
    write("breast_cancer", load_breast_cancer())
