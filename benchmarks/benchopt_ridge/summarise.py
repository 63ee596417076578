#!/usr/bin/env python3
"""Summarises a benchopt run of this benchmark as the markdown table in RESULTS.md.

    python3 benchmarks/benchopt_ridge/summarise.py OUTPUT.parquet

For each problem (dataset x objective) and solver: the smallest suboptimality reached,
(f - f*)/f* with f* the smallest objective any run reached (benchopt's own reference), and the
median over repetitions of the time to first reach (f - f*)/f* <= 1e-10 (blank when never).
"""

import sys

import numpy as np
import pandas as pd

TARGET = 1e-10


def main(path):
    df = pd.read_parquet(path)
    rows = []
    for (data, obj), g in df.groupby(["dataset_name", "objective_name"], sort=False):
        best = g["objective_value"].min()
        for solver, s in g.groupby("solver_name", sort=False):
            sub = (s["objective_value"] - best) / abs(best)
            times = []
            for _, r in s.groupby("idx_rep"):
                hit = r[(r["objective_value"] - best) / abs(best) <= TARGET]
                if len(hit):
                    times.append(hit["time"].min())
            t = f"{np.median(times):.4f}" if len(times) == s["idx_rep"].nunique() else ""
            rows.append((data, obj, solver, sub.min(), t))
    print(f"| dataset | objective | solver | best (f - f*)/f* | time to 1e-10 (s, median) |")
    print("| --- | --- | --- | --: | --: |")
    for data, obj, solver, sub, t in rows:
        print(f"| {data} | {obj} | {solver} | {sub:.1e} | {t} |")


if __name__ == "__main__":
    main(sys.argv[1])
