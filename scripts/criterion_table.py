#!/usr/bin/env python3
"""Markdown tables of the criterion results under target/criterion (run the benches first).

    cargo bench --bench solvers          # and/or: cargo bench --bench gram -- gram
    python3 scripts/criterion_table.py   # solvers: median time per (n x d, backend)
                                         # gram: median time and GFLOP/s of Moments::compute

Figures are criterion's median estimates ("new/estimates.json"). A cell is "—" when the case was
not run (skipped by the bench, see its SKIP lines). The oldest and newest measurement times are
printed so that stale results from an earlier run are not mixed in unnoticed. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

CRATE = Path(__file__).resolve().parent.parent


def estimates(root: Path, prefix: str):
    """{(n, d): {id: (median seconds, mtime)}} for criterion groups named prefix_NxD."""
    out: dict[tuple[int, int], dict[str, tuple[float, float]]] = {}
    for group in sorted(root.glob(f"{prefix}_*")):
        m = re.fullmatch(rf"{prefix}_(\d+)x(\d+)", group.name)
        if not m:
            continue
        key = (int(m.group(1)), int(m.group(2)))
        for est in group.glob("*/new/estimates.json"):
            bench = est.parent.parent.name
            median_ns = json.loads(est.read_text())["median"]["point_estimate"]
            out.setdefault(key, {})[bench] = (median_ns * 1e-9, est.stat().st_mtime)
    return out


def fmt_time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def stamp(cells) -> str:
    times = [t for row in cells.values() for (_, t) in row.values()]
    if not times:
        return "no results"
    f = "%Y-%m-%d %H:%M"
    return f"measured {time.strftime(f, time.localtime(min(times)))} – " \
           f"{time.strftime(f, time.localtime(max(times)))}"


def solvers_table(root: Path, order: list[str]) -> None:
    cells = estimates(root, "solvers")
    if not cells:
        print("no solvers results under", root)
        return
    names = sorted({b for row in cells.values() for b in row},
                   key=lambda b: (order.index(b) if b in order else len(order), b))
    print(f"solvers (criterion median, Par::rayon(2); {stamp(cells)})\n")
    print("| n × d | " + " | ".join(f"`{b}`" for b in names) + " |")
    print("|---|" + "---:|" * len(names))
    for (n, d) in sorted(cells):
        row = cells[(n, d)]
        print(f"| {n} × {d} | " + " | ".join(
            fmt_time(row[b][0]) if b in row else "—" for b in names) + " |")
    print()


def gram_table(root: Path) -> None:
    cells = {}
    for group in sorted(root.glob("gram_compute/*/new/estimates.json")):
        m = re.fullmatch(r"(\d+)x(\d+)", group.parent.parent.name)
        if m:
            n, d = int(m.group(1)), int(m.group(2))
            med = json.loads(group.read_text())["median"]["point_estimate"] * 1e-9
            cells[(n, d)] = {"gram": (med, group.stat().st_mtime)}
    if not cells:
        return
    print(f"gram/compute: Moments::compute, n·d·(d+1) flops ({stamp(cells)})\n")
    print("| n × d | median | GFLOP/s |")
    print("|---|---:|---:|")
    for (n, d) in sorted(cells):
        t = cells[(n, d)]["gram"][0]
        print(f"| {n} × {d} | {fmt_time(t)} | {n * d * (d + 1) / t / 1e9:.1f} |")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, default=CRATE / "target" / "criterion")
    ap.add_argument("--order", default="auto,cholesky,cholesky-refined,normal,qr,qr-refined,svd,"
                    "dual,gd,agd,cg,pcg,lbfgs,cd,sgd,sag,saga,svrg",
                    help="column order of backends (others follow alphabetically)")
    args = ap.parse_args()
    solvers_table(args.root, args.order.split(","))
    gram_table(args.root)


if __name__ == "__main__":
    main()
