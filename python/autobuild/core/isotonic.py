"""Isotonic regression by pool adjacent violators (PAV) and its vector-Jacobian product, plain Python
on NumPy arrays so that they run without Numba and jit with it: the L2 soft rank (Blondel et al.
2020) of :mod:`autobuild.models.softrank` and of the Numba twin of ``soft_rank_pearson``."""

from __future__ import annotations

import numpy as np

#: Isotonic values closer than this belong to one block (as torchsort and the C++ core).
BLOCK_TOL = 1e-9


def isotonic_rows(y: np.ndarray) -> np.ndarray:
    """Row-wise ``argmin_v ||v - y||^2`` s.t. ``v_1 >= v_2 >= ... >= v_n`` (PAV, O(n) per row)."""
    batch, n = y.shape
    sol = np.empty_like(y)
    sums = np.empty(n, dtype=np.float64)  # stack of blocks: sum, size, first index
    sizes = np.empty(n, dtype=np.float64)
    starts = np.empty(n, dtype=np.int64)
    for b in range(batch):
        top = -1
        for i in range(n):
            top += 1
            sums[top] = y[b, i]
            sizes[top] = 1.0
            starts[top] = i
            # Pool while the previous block's mean does not exceed the new one (a violation).
            while top > 0 and sums[top - 1] / sizes[top - 1] <= sums[top] / sizes[top]:
                sums[top - 1] += sums[top]
                sizes[top - 1] += sizes[top]
                top -= 1
        for k in range(top + 1):
            mean = sums[k] / sizes[k]
            end = starts[k + 1] if k < top else n
            for j in range(starts[k], end):
                sol[b, j] = mean
    return sol


def block_mean_rows(sol: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Replace each ``g[b, i]`` by its mean over the block of ``sol[b]`` holding ``i``.

    Blocks are the maximal runs where consecutive values differ by at most :data:`BLOCK_TOL`; this
    is the vector-Jacobian product of the isotonic regression."""
    batch, n = g.shape
    out = np.empty_like(g)
    for b in range(batch):
        start = 0
        for i in range(1, n + 1):
            if i == n or abs(sol[b, i] - sol[b, i - 1]) > BLOCK_TOL:
                total = 0.0
                for j in range(start, i):
                    total += g[b, j]
                val = 1.0 / (i - start)
                for j in range(start, i):
                    out[b, j] = val * total
                start = i
    return out
