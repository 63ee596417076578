"""Writes the small data set the README's "Command line" examples use (tests/data/cli/).

houses.csv: 200 rows, features area, rooms, age, targets price and rent; X.npy, y.npy, w.npy:
the same features, price, and sample weights. Fixed seed, so the committed files are what this
script writes: `python3 scripts/make_cli_data.py` (needs numpy).
"""

from pathlib import Path

import numpy as np

out = Path(__file__).resolve().parent.parent / "tests" / "data" / "cli"
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(13)
n = 200
area = rng.uniform(30, 200, n).round(1)
rooms = np.clip((area / 30 + rng.normal(0, 0.7, n)).round(), 1, None)
age = rng.uniform(0, 80, n).round()
price = (2500 * area + 8000 * rooms - 600 * age + 40000 + rng.normal(0, 15000, n)).round()
rent = (9 * area + 40 * rooms - 2 * age + 200 + rng.normal(0, 60, n)).round()
with open(out / "houses.csv", "w") as f:
    f.write("area,rooms,age,price,rent\n")
    for row in zip(area, rooms, age, price, rent):
        f.write(",".join(f"{v:g}" for v in row) + "\n")
x = np.column_stack([area, rooms, age])
np.save(out / "X.npy", x)
np.save(out / "y.npy", price)
np.save(out / "w.npy", rng.uniform(0.5, 2.0, n).round(2))
