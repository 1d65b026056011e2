"""``build --top N`` on a constrained space (sdv14-unet: one C_m for every module, twin multipliers
equal): the best-first walk the constraints prune, against the k-best enumeration of the whole
product filtered afterwards (what ``build --top`` did before, with ``--k 48`` as the workaround when
the top 5 per stage held no valid combination), measured in the same run.

    python benchmarks/build_top.py [--budget 20]

The scores come from a predictor trained for 3 epochs on 200 random sdv14-unet archs with a label
that rewards a large C_m (any scores do: the cost is in the constraints, not in what the scores are).
The baseline stops after ``--budget`` seconds and is then reported as "> budget".
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def baseline_top(rs, n: int, budget: float) -> tuple[int, float]:
    """The enumeration ``ReducedSpace.top_combos`` used before: k-best of the unconstrained product,
    ``want`` growing 4x, filtered by the constraints; ``(found, seconds)``, seconds = inf past ``budget``."""
    from autobuild.construction.kbest import kbest_product

    t0 = time.perf_counter()
    lists = [[m.score for m in mods] for mods in rs.groups]
    want = n
    while True:
        found = []
        for c, _ in kbest_product(lists, want):
            found.append(c)
            if time.perf_counter() - t0 > budget:
                return -1, float("inf")
        c = np.array(found, dtype=np.int64).reshape(-1, len(lists))
        ok = c[rs.space.compatible(rs._sets, c)]
        if len(ok) >= n or len(c) < want:
            return min(n, len(ok)), time.perf_counter() - t0
        want *= 4


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=20.0, help="seconds the baseline may take per case")
    args = ap.parse_args()
    import autobuild
    from autobuild import Predictor, build
    from autobuild.construction.select import select_modules, unite

    sp = autobuild.get_space("sdv14-unet")
    archs = sp.sample(200, seed=0)
    y = np.random.default_rng(1).normal(size=200) + np.array([a["cm"] for a in archs]) / 100.0
    scores = Predictor(sp, target="q", epochs=3, seed=0).fit(archs, y=y).score()
    print(f"sdv14-unet, {len(scores):,} modules; build --top N (best-first walk, constraints pruning) against the "
          f"k-best enumeration filtered afterwards (baseline, stopped after {args.budget:g} s)")
    print("| k | constrained | top | k used | build | baseline at the k used | ratio |\n|---|---|---|---|---|---|---|")
    for k, constrained, top in ((5, True, 4), (5, False, 4), (48, True, 4), (1, False, 1000), (3, True, 1000)):
        t0 = time.perf_counter()
        b = build(scores, k=k, top=top, constrained=constrained)
        t_new = time.perf_counter() - t0
        rs = unite([(scores, select_modules(scores, b.k, constrained))])
        found, t_old = baseline_top(rs, top, args.budget)
        old = f"> {args.budget:g} s" if t_old == float("inf") else f"{t_old:.3f} s"
        ratio = f"> {args.budget / t_new:.0f}x" if t_old == float("inf") else f"{t_old / t_new:.1f}x"
        print(f"| {k} | {constrained} | {top} | {b.k} | {t_new:.3f} s ({len(b)} archs) | {old} | {ratio} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
