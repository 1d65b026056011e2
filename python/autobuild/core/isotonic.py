"""Isotonic regression by pool adjacent violators (PAV), plain Python on NumPy arrays so that it runs
without Numba and jits with it: the forward of the L2 soft rank (Blondel et al. 2020), shared by
:mod:`autobuild.models.softrank` and the Numba twin of ``soft_rank_pearson``."""

from __future__ import annotations

import numpy as np


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
