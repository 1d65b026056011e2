"""Batch graph encoding throughput: C++ core vs its Numba twin vs a per-arch Python loop.

    python benchmarks/encode_speed.py [--n 20000]

Prints archs/s of each and the ratios to the Python baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from autobuild import core
from autobuild.spaces import get_space


def python_loop(space, codes: np.ndarray) -> list:
    """Baseline: the sequence graph built arch by arch in Python (what a naive predictor does)."""
    out = []
    cats = space.feature_categories
    index = [{v: i for i, v in enumerate(c.values)} for c in cats]
    for arch in space.decode(codes):
        g = space.to_graph(arch)
        x = np.array([[idx[n[c.name]] for c, idx in zip(cats, index)] for n in g["nodes"]], dtype=np.int64)
        ei = np.array(g["edges"], dtype=np.int64).T
        out.append((x, ei))
    return out


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    for name in ("ofa-mbv3", "ofa-pn"):
        sp = get_space(name)
        codes = sp.sample_codes(args.n, seed=0)
        base_n = min(args.n, 2000)
        t_py = best_of(lambda: python_loop(sp, codes[:base_n]), 1) / base_n * args.n
        print(f"{name}: {args.n} archs; python per-arch loop {args.n / t_py:,.0f} archs/s (baseline)")
        for b in core.available_backends():
            m = core.get_backend(b)
            m.encode_batch(codes[:10], sp.max_depth, sp.n_choices, sp.choice_features, sp.n_globals)  # JIT warm-up
            t = best_of(lambda: m.encode_batch(codes, sp.max_depth, sp.n_choices, sp.choice_features, sp.n_globals))
            print(f"  {b:>5}: {args.n / t:,.0f} archs/s  ({t_py / t:,.0f}x the python loop)")


if __name__ == "__main__":
    main()
