#!/usr/bin/env python3
"""Write the logistic-regression fixtures: raw breast_cancer, small synthetic problems and a
linearly separable set, each with an answer computed here independently of scikit-learn.

Usage (from the repository root; numpy, scipy and scikit-learn as in scripts/requirements.txt,
mpmath optional):

    python3 scripts/sklearn_logistic_fixtures.py     # writes tests/fixtures/sklearn_logistic/*.json

The objective (README, "The objective"): J(w, b) = (1/S)·Σᵢ sᵢ·log(1 + exp(−ỹᵢ(xᵢᵀw + b)))
+ (λ/2)‖w‖², ỹ ∈ {−1, +1} (the two label values sorted ascending: the smaller is −1, as
scikit-learn's `classes_`), S = Σ sᵢ (= n without weights), b unpenalised (0 without intercept).
scikit-learn's `LogisticRegression(C)` (L2, lbfgs / newton-cg / newton-cholesky / sag / saga) is
the same problem with C = 1/(λ·S).

| fixture file       | cases                                                                 |
| ------------------ | --------------------------------------------------------------------- |
| breast_cancer.json | `load_breast_cancer()` RAW (unscaled: columns from ~1e-3 to ~4e3),    |
|                    | y = target (0/1), intercept; λ = 1e-3 and 1e-5, and λ = 1e-3 with the |
|                    | weights sᵢ = 0.5 + (i mod 4). The data are stored exactly as shipped. |
| synthetic.json     | six problems, n = 200–250, d = 5–12, labels ~ Bernoulli(σ(Xw* + b*)), |
|                    | λ from 1e-6 to 1e-1: with and without intercept, weights with zeros,  |
|                    | labels −1/+1, columns offset by ±100 and +1000, correlated columns.   |
|                    | The data are rounded to 10 significant digits first (`round_sig`), so |
|                    | each fixture is exactly the problem every solver saw.                 |
| separable.json     | 40 × 2, linearly separable: λ = 0 (no minimiser: `expected` null, the |
|                    | project must return an error) and the same data at λ = 1e-2.          |

Raw breast_cancer is itself linearly separable (the LP below finds a hyperplane; scikit-learn
reaches 100 % training accuracy at large C), so it too would have no minimiser at λ = 0; its
cases all have λ > 0.

Each file is {"matrices": [...], "cases": [...]}: the distinct design matrices (row-major lists
of rows), each stored once, and the cases; each case holds name, n, d, x (the index of its design
in "matrices"), y (the
labels as given), weights (or null), fit_intercept, lambda, C (= 1/(λ·S); null at λ = 0),
separable (whether the data are linearly separable, by an LP: then no minimiser exists at λ = 0)
and:

- `expected` {coef, intercept}: the minimiser, computed here without scikit-learn by a damped
  Newton iteration whose direction comes from a float64 Cholesky solve of the Hessian in centred
  coordinates (x − x̄, with x̄ the weighted mean, when fitting an intercept; columns equilibrated),
  but whose GRADIENT is accumulated in np.longdouble on the data as stored (80-bit extended on
  x86-64), with an Armijo backtracking line search on J (also in longdouble) while J's decrease is
  measurable, full steps after that. It iterates until the longdouble gradient norm stops
  decreasing, and keeps the iterate with the smallest one: the direction only needs to be
  approximate, the fixed point is set by the extended-precision gradient. log(1 + exp(−m)) is
  max(−m, 0) + log1p(exp(−|m|)) and σ is evaluated without overflow. If mpmath is installed the
  script also polishes that answer with a 40-digit gradient and prints how far (relative, per
  coefficient) the longdouble answer is from it (columns "mp"): the longdouble answer is what is
  stored either way. (Measured: identical doubles on the synthetic and separable problems; on raw
  breast_cancer up to 23 units in the last place, on a coefficient of ~6e-4 multiplying the
  ~1e3-sized "mean area" column; 6e-17 relative in norm.)
- `expected_gradient_norm`: ‖∇J‖₂ (w and b components) at `expected` as stored (float64), in
  longdouble: the floor a float64 answer can reach.
- `condition_hessian`: the 2-norm condition number of ∇²J at `expected`, in the coordinates
  (w, b) of the problem as stored (no centring); `condition_hessian_centered`: the same in the
  centred coordinates (w, b + x̄ᵀw) (= condition_hessian without intercept).
- `sklearn_newton_cholesky` {coef, intercept}: LogisticRegression(C, solver="newton-cholesky",
  tol=1e-12, max_iter=1000).
- `sklearn_rel_diff` and `sklearn_converged`: for each of newton-cholesky, lbfgs, newton-cg, sag
  and saga at tol = 1e-10, max_iter = 10 000 (random_state 0): ‖w − w_expected‖/‖w_expected‖,
  and false where scikit-learn raised a ConvergenceWarning (sag and saga on unscaled data do not
  converge). All scikit-learn fields are null at λ = 0.

The script prints a summary table (κ, gradient norms, scikit-learn's distances; "!" marks a
ConvergenceWarning) and fails if newton-cholesky lands further than 1e-6 from `expected`.
"""

import json
import os
import sys
import warnings

import numpy as np
from scipy import linalg
from scipy.optimize import linprog
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

try:
    import mpmath
except ImportError:  # optional: only for the printed cross-check
    mpmath = None

SEED = 0
LD = np.longdouble
SOLVERS = ["newton-cholesky", "lbfgs", "newton-cg", "sag", "saga"]
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "sklearn_logistic")


# ---------------------------------------------------------------------------------------------
# The objective, in whatever precision the arrays carry (float64 or longdouble)


def log1pexp_neg(z):
    """log(1 + exp(−z)) without overflow or cancellation."""
    return np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z)))


def sigmoid(t):
    e = np.exp(-np.abs(t))
    return np.where(t >= 0, 1 / (1 + e), e / (1 + e))


def signed_labels(y):
    classes = np.unique(y)
    if len(classes) != 2:
        raise ValueError(f"need two label values, got {classes}")
    return np.where(y == classes[1], 1.0, -1.0)


class Problem:
    def __init__(self, X, y, sw, lam, fit_intercept):
        self.X = np.ascontiguousarray(X, dtype=float)
        self.n, self.d = self.X.shape
        self.yt = signed_labels(np.asarray(y))
        self.s = np.ones(self.n) if sw is None else np.asarray(sw, dtype=float)
        self.S = float(self.s.sum())
        self.lam = float(lam)
        self.fi = bool(fit_intercept)
        # Extended precision copies (exact: every double is a longdouble).
        self.Xl = self.X.astype(LD)
        self.yl = self.yt.astype(LD)
        self.sl = self.s.astype(LD)
        self.Sl = self.sl.sum()
        self.laml = LD(self.lam)
        self.xbar = self.s @ self.X / self.S if self.fi else np.zeros(self.d)

    # longdouble objective and gradient on the data as stored (no centring)
    def objective(self, w, b):
        z = self.yl * (self.Xl @ w + b)
        return (self.sl * log1pexp_neg(z)).sum() / self.Sl + self.laml / 2 * (w @ w)

    def gradient(self, w, b):
        z = self.yl * (self.Xl @ w + b)
        r = -self.yl * self.sl * sigmoid(-z) / self.Sl
        gw = self.Xl.T @ r + self.laml * w
        gb = r.sum() if self.fi else LD(0)
        return gw, gb

    def grad_norm(self, w, b):
        gw, gb = self.gradient(np.asarray(w, dtype=LD), LD(b))
        return np.sqrt(gw @ gw + gb * gb)

    def curvature(self, w, b):
        """sᵢ·σ(mᵢ)(1 − σ(mᵢ))/S in float64, without cancellation."""
        m = self.X @ np.asarray(w, dtype=float) + float(b)
        e = np.exp(-np.abs(m))
        return self.s * e / (1 + e) ** 2 / self.S

    def hessian(self, w, b, centred):
        D = self.curvature(w, b)
        Z = self.X - self.xbar if centred else self.X
        if self.fi:
            Z = np.hstack([Z, np.ones((self.n, 1))])
        H = Z.T @ (D[:, None] * Z)
        H[np.arange(self.d), np.arange(self.d)] += self.lam
        return H

    def direction(self, w, b, gw, gb):
        """Newton direction from a float64 solve in centred, equilibrated coordinates."""
        H = self.hessian(w, b, centred=True)
        g = np.asarray(gw, dtype=float)
        if self.fi:
            g = np.r_[g - self.xbar * float(gb), float(gb)]  # the gradient in (w, c = b + x̄ᵀw)
        dg = np.sqrt(np.diag(H))
        dg[dg == 0] = 1.0
        Hs = H / dg[:, None] / dg[None, :]
        try:
            p = -linalg.cho_solve(linalg.cho_factor(Hs), g / dg) / dg
        except linalg.LinAlgError:
            p = -np.linalg.lstsq(Hs, g / dg, rcond=None)[0] / dg
        if self.fi:
            pw, pc = p[: self.d], p[self.d]
            return pw.astype(LD), LD(pc) - LD(self.xbar @ pw)
        return p.astype(LD), LD(0)


def newton(P, max_iter=500, patience=5):
    """Damped Newton with a longdouble gradient; returns the iterate of smallest ‖∇J‖."""
    w = np.zeros(P.d, dtype=LD)
    b = LD(0)
    gw, gb = P.gradient(w, b)
    gn = np.sqrt(gw @ gw + gb * gb)
    best = (w.copy(), b, gn)
    stall = 0
    for it in range(1, max_iter + 1):
        pw, pb = P.direction(w, b, gw, gb)
        slope = gw @ pw + gb * pb
        J0 = P.objective(w, b)
        t = LD(1)
        if -slope > 64 * np.finfo(LD).eps * abs(J0):  # the decrease is measurable: Armijo
            while P.objective(w + t * pw, b + t * pb) > J0 + LD(1e-4) * t * slope and t > 1e-12:
                t /= 2
        w, b = w + t * pw, b + t * pb
        gw, gb = P.gradient(w, b)
        gn = np.sqrt(gw @ gw + gb * gb)
        if gn < best[2]:
            best, stall = (w.copy(), b, gn), 0
        else:
            stall += 1
            if stall >= patience:
                break
    return best[0], best[1], it


def mp_polish(P, w, b, steps=4, dps=40):
    """The longdouble answer polished with a `dps`-digit gradient (mpmath), as floats of LD."""
    mpmath.mp.dps = dps
    mpf = mpmath.mpf
    X = [[mpf(float(v)) for v in row] for row in P.X]
    ys = [mpf(float(v)) for v in P.yt]
    ss = [mpf(float(v)) for v in P.s]
    S = mpmath.fsum(ss)
    lam = mpf(P.lam)
    wm = [mpf(repr_ld(v)) for v in w]
    bm = mpf(repr_ld(b))

    def grad(wm, bm):
        r = []
        for i in range(P.n):
            z = ys[i] * (mpmath.fdot(X[i], wm) + bm)
            r.append(-ys[i] * ss[i] / (1 + mpmath.exp(z)) / S)
        gw = [mpmath.fdot(r, (X[i][j] for i in range(P.n))) + lam * wm[j] for j in range(P.d)]
        return gw, (mpmath.fsum(r) if P.fi else mpf(0))

    for _ in range(steps):
        gw, gb = grad(wm, bm)
        pw, pb = P.direction(np.array([float(v) for v in wm]), float(bm),
                             np.array([float(v) for v in gw]), float(gb))
        wm = [wj + mpf(repr_ld(pj)) for wj, pj in zip(wm, pw)]
        if P.fi:
            bm = bm + mpf(repr_ld(pb))
    return wm, bm


def repr_ld(v):
    return np.format_float_scientific(LD(v), precision=25, unique=False)


# ---------------------------------------------------------------------------------------------
# scikit-learn and the case record


def sklearn_fit(P, y, solver, tol, max_iter):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = LogisticRegression(
            C=1.0 / (P.lam * P.S), solver=solver, tol=tol, max_iter=max_iter,
            fit_intercept=P.fi, random_state=SEED,
        ).fit(P.X, y, sample_weight=None if np.all(P.s == 1) else P.s)
    converged = not any(issubclass(c.category, ConvergenceWarning) for c in caught)
    return m.coef_.ravel().copy(), float(m.intercept_[0]) if P.fi else 0.0, converged


def separable(P):
    """Whether some (w, b) gives ỹᵢ(xᵢᵀw + b) ≥ 1 on every sample of positive weight (LP)."""
    keep = P.s > 0
    Z = P.yt[keep, None] * (np.hstack([P.X, np.ones((P.n, 1))]) if P.fi else P.X)[keep]
    res = linprog(np.zeros(Z.shape[1]), A_ub=-Z, b_ub=-np.ones(len(Z)),
                  bounds=[(None, None)] * Z.shape[1], method="highs")
    return res.status == 0


def rel(a, b):
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def round_sig(a, digits=10):
    """The data rounded to `digits` significant digits; everything is computed from the rounded
    data, so a fixture is exactly the problem every solver saw."""
    return np.array([float(f"{v:.{digits - 1}e}") for v in np.ravel(a)]).reshape(np.shape(a))


ROWS = []  # the printed table


def make_case(name, X, y, sw, lam, fit_intercept):
    X = np.ascontiguousarray(X, dtype=float)
    y = np.asarray(y)
    P = Problem(X, y, sw, lam, fit_intercept)
    sep = separable(P)
    case = {
        "name": name,
        "n": P.n,
        "d": P.d,
        "x": X.tolist(),
        "y": [float(v) for v in y],
        "weights": None if sw is None else [float(v) for v in sw],
        "fit_intercept": P.fi,
        "lambda": P.lam,
        "C": None if lam == 0 else 1.0 / (P.lam * P.S),
        "separable": bool(sep),
    }
    row = {"name": name, "shape": f"{P.n}×{P.d}", "lam": lam, "sep": sep, "fi": P.fi,
           "w": sw is not None}
    if lam == 0:
        case.update(expected=None, expected_gradient_norm=None, sklearn_newton_cholesky=None,
                    sklearn_rel_diff=None, sklearn_converged=None, condition_hessian=None,
                    condition_hessian_centered=None)
        ROWS.append(row)
        return case
    wl, bl, iters = newton(P)
    w = wl.astype(float)
    b = float(bl)
    gnorm = float(P.grad_norm(w, b))
    kappa = float(np.linalg.cond(P.hessian(w, b, centred=False)))
    kappa_c = float(np.linalg.cond(P.hessian(w, b, centred=True)))
    row.update(iters=iters, gnorm=gnorm, gnorm_ld=float(P.grad_norm(wl, bl)), kappa=kappa,
               kappa_c=kappa_c, wnorm=float(np.linalg.norm(w)), b=b)
    if mpmath is not None:
        wm, bm = mp_polish(P, wl, bl)
        wm64 = np.array([float(v) for v in wm])
        bm64 = float(bm)
        ulps = np.abs(np.r_[w, b] - np.r_[wm64, bm64]) / np.spacing(np.abs(np.r_[wm64, bm64]))
        row["mp_ulps"] = float(np.max(ulps))
        row["mp_rel"] = rel(w, wm64)
    nc_w, nc_b, _ = sklearn_fit(P, y, "newton-cholesky", 1e-12, 1000)
    diffs, conv = {}, {}
    for solver in SOLVERS:
        cw, cb, ok = sklearn_fit(P, y, solver, 1e-10, 10_000)
        diffs[solver] = rel(cw, w)
        conv[solver] = ok
    row.update(diffs=diffs, conv=conv, nc_b=abs(nc_b - b), nc12=rel(nc_w, w))
    case.update(
        expected={"coef": w.tolist(), "intercept": b},
        expected_gradient_norm=gnorm,
        sklearn_newton_cholesky={"coef": nc_w.tolist(), "intercept": nc_b},
        sklearn_rel_diff=diffs,
        sklearn_converged=conv,
        condition_hessian=kappa,
        condition_hessian_centered=kappa_c,
    )
    ROWS.append(row)
    return case


# ---------------------------------------------------------------------------------------------
# The problems


def breast_cancer_cases():
    data = load_breast_cancer()
    X, y = data.data, data.target.astype(float)
    sw = 0.5 + (np.arange(len(y)) % 4)
    return [
        make_case("breast_cancer_raw_lambda1e-3", X, y, None, 1e-3, True),
        make_case("breast_cancer_raw_lambda1e-5", X, y, None, 1e-5, True),
        make_case("breast_cancer_raw_lambda1e-3_weights", X, y, sw, 1e-3, True),
    ]


def synthetic(rng, n, d, b_star, w_scale=1.0, offsets=None, corr=0.0):
    """Rows ~ N(0, Σ) (Σᵢⱼ = corr^|i−j|) plus `offsets`; labels ~ Bernoulli(σ(x̃ᵀw* + b*)) on the
    offset-free features, so offsets do not push every label to one class."""
    Z = rng.standard_normal((n, d))
    if corr:
        Sigma = corr ** np.abs(np.subtract.outer(np.arange(d), np.arange(d)))
        Z = Z @ np.linalg.cholesky(Sigma).T
    w_star = rng.standard_normal(d) * w_scale
    p = sigmoid(Z @ w_star + b_star)
    y = (rng.random(n) < p).astype(float)
    X = Z if offsets is None else Z + offsets
    return round_sig(X), y


def synthetic_cases():
    rng = np.random.default_rng(SEED)
    cases = []
    X, y = synthetic(rng, 200, 5, 0.3)
    cases.append(make_case("intercept_lambda1e-6", X, y, None, 1e-6, True))
    X, y = synthetic(rng, 250, 8, 0.5)
    cases.append(make_case("no_intercept_lambda1e-3", X, y, None, 1e-3, False))
    X, y = synthetic(rng, 200, 6, -0.4)
    sw = round_sig(rng.uniform(0.2, 3.0, 200))
    sw[rng.permutation(200)[:40]] = 0.0
    cases.append(make_case("weights_with_zeros_lambda1e-2", X, y, sw, 1e-2, True))
    X, y = synthetic(rng, 200, 5, 0.2, w_scale=2.0)
    cases.append(make_case("labels_pm1_lambda1e-1", X, 2 * y - 1, None, 1e-1, True))
    offsets = np.array([100.0, 0.0, 100.0, -100.0, 0.0, 1000.0])
    X, y = synthetic(rng, 200, 6, 0.0, offsets=offsets)
    cases.append(make_case("column_offsets_lambda1e-4", X, y, None, 1e-4, True))
    X, y = synthetic(rng, 200, 12, -0.2, w_scale=0.7, corr=0.9)
    cases.append(make_case("correlated_d12_lambda1e-5", X, y, None, 1e-5, True))
    return cases


def separable_cases():
    rng = np.random.default_rng(SEED + 1)
    n = 40
    y = np.r_[np.zeros(n // 2), np.ones(n // 2)]
    centres = np.where(y[:, None] == 1, [1.5, 1.0], [-1.5, -1.0])
    X = round_sig(centres + 0.6 * rng.standard_normal((n, 2)))
    # Keep the classes apart along (1.5, 1): a margin of at least 0.5 from the separating line.
    u = np.array([1.5, 1.0]) / np.hypot(1.5, 1.0)
    proj = X @ u
    bad = (y == 1) & (proj < 0.5) | (y == 0) & (proj > -0.5)
    X[bad] += np.outer(np.where(y[bad] == 1, 1.0, -1.0) * 1.0, u)
    X = round_sig(X)
    return [
        make_case("separable_lambda0", X, y, None, 0.0, True),
        make_case("separable_lambda1e-2", X, y, None, 1e-2, True),
    ]


def share_matrices(cases):
    """{"matrices": [...], "cases": [...]} with each distinct x stored once and every case's "x"
    replaced by its index in "matrices" (raw breast_cancer's three cases share one 569 × 30 x)."""
    matrices, index = [], {}
    out = []
    for case in cases:
        key = json.dumps(case["x"])
        if key not in index:
            index[key] = len(matrices)
            matrices.append(case["x"])
        out.append({**case, "x": index[key]})
    return {"matrices": matrices, "cases": out}


def main():
    groups = {
        "breast_cancer.json": breast_cancer_cases(),
        "synthetic.json": synthetic_cases(),
        "separable.json": separable_cases(),
    }
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for fname, cases in groups.items():
        path = os.path.join(OUT, fname)
        with open(path, "w") as f:
            json.dump(share_matrices(cases), f, separators=(",", ":"), allow_nan=False)
            f.write("\n")
        size = os.path.getsize(path)
        total += size
        print(f"{fname:20s} {len(cases)} cases {size / 1024:7.1f} KB")
    print(f"total {total / 1024:.1f} KB in {os.path.normpath(OUT)}\n")

    head = (f"{'case':38s} {'n×d':>6s} {'λ':>6s} sep  {'κ(H)':>7s} {'κ(Hc)':>7s} {'it':>3s} "
            f"{'‖∇J‖ld':>7s} {'‖∇J‖64':>7s} {'mp rel':>7s} {'ulps':>4s} " + " ".join(f"{s[:9]:>10s}" for s in SOLVERS)
            + f" {'|Δb| nc':>8s}")
    print(head)
    worst = 0.0
    for r in ROWS:
        line = f"{r['name']:38s} {r['shape']:>6s} {r['lam']:6.0e} {'yes' if r['sep'] else 'no ':3s} "
        if "kappa" not in r:
            print(line + "expected: none (separable, λ = 0)")
            continue
        mp = (f"{r['mp_rel']:7.1e} {r['mp_ulps']:4.0f}" if "mp_rel" in r
              else f"{'-':>7s} {'-':>4s}")
        diffs = " ".join(
            f"{r['diffs'][s]:9.1e}{' ' if r['conv'][s] else '!'}" for s in SOLVERS
        )
        print(line + f"{r['kappa']:7.1e} {r['kappa_c']:7.1e} {r['iters']:3d} {r['gnorm_ld']:7.1e} "
              f"{r['gnorm']:7.1e} {mp} {diffs} {r['nc_b']:8.1e}")
        worst = max(worst, r["nc12"], r["diffs"]["newton-cholesky"])
    print("\n! = ConvergenceWarning. κ(H), κ(Hc): the Hessian's condition number as stored / "
          "centred. ‖∇J‖ld: at the longdouble answer; ‖∇J‖64: at `expected` (float64).\n"
          "mp rel, ulps: the longdouble answer against its 40-digit polish (‖Δw‖/‖w‖; largest "
          "difference in units in the last place over coef and intercept).\nSolver columns: "
          "‖w − w_expected‖/‖w_expected‖ at tol 1e-10; |Δb| nc: newton-cholesky's intercept error.")
    if worst > 1e-6:
        print(f"newton-cholesky disagrees with expected: {worst:.1e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
