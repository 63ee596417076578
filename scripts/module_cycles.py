#!/usr/bin/env python3
"""Lists import cycles among the crate's modules (docs/ARCHITECTURE.md: dependencies run one way).

A module's dependencies are the `crate::<module>` paths in its non-test code (comments and
`#[cfg(test)]` items excluded); `solvers::x` counts as `solvers`. Exits 1 if there is a cycle.
Usage: python3 scripts/module_cycles.py [src]
"""
import pathlib, re, sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")
deps = {}
submodules = {str(f.relative_to(root)) for f in root.rglob("*.rs")}
for f in root.rglob("*.rs"):
    rel = f.relative_to(root).with_suffix("")
    parts = rel.parts
    if parts[0] == "bin" or parts[-1] in ("lib",):
        continue
    # Each backend file is a module of its own: `solvers::qr`; `solvers/mod.rs` is `solvers`.
    module = parts[0] if len(parts) == 1 or parts[-1] == "mod" else "::".join(parts)
    text = f.read_text()
    cut = text.find("#[cfg(test)]")
    if cut >= 0:
        text = text[:cut]
    code = "\n".join(l for l in text.splitlines() if not l.strip().startswith("//"))
    targets = {
        f"{a}::{b}" if f"{a}/{b}.rs" in submodules else a
        for a, b in re.findall(r"crate::(\w+)(?:::(\w+))?", code)
    }
    if module.startswith("solvers"):
        # Sibling backends named from inside the folder: `super::x` or `solvers::x`.
        targets |= {f"solvers::{b}" for b in re.findall(r"super::(\w+)", code) if f"solvers/{b}.rs" in submodules}
    # `use crate::{a, b::c}` groups
    for group in re.findall(r"crate::\{([^}]*)\}", code):
        targets |= {t.strip().split("::")[0] for t in group.split(",") if t.strip()}
    targets.discard(module)
    targets -= {"Error", "Result"}
    deps.setdefault(module, set()).update(targets)

index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
    for w in deps.get(v, ()):
        if w not in deps:
            continue
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        scc = []
        while True:
            w = stack.pop(); on.discard(w); scc.append(w)
            if w == v: break
        if len(scc) > 1: sccs.append(sorted(scc))
for v in sorted(deps):
    if v not in index: visit(v)
for m in sorted(deps):
    print(f"{m:12} -> {', '.join(sorted(d for d in deps[m] if d in deps))}")
if sccs:
    print("cycles:", sccs); sys.exit(1)
print("no cycles")
