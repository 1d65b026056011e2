"""Numba twin of ``cpp/enumerate.cpp``: every stage subgraph (module) of a stage (paper Sec. 7.2)."""

from __future__ import annotations

import numpy as np
from numba import njit

def count_modules(min_depth: int, max_depth: int, n_choices: int) -> int:
    if min_depth < 0 or max_depth < min_depth:
        raise ValueError("enumerate_modules: need 0 <= min_depth <= max_depth")
    if n_choices < 1:
        raise ValueError("enumerate_modules: need n_choices >= 1")
    total = 0
    for depth in range(min_depth, max_depth + 1):
        p = n_choices**depth
        if p > 1 << 40:
            raise ValueError("enumerate_modules: more than 2^40 modules")
        total += p
    return total


@njit(cache=True)
def _fill_modules(min_depth, max_depth, n_choices, depths, choices):  # noqa: ANN001, ANN202
    row = 0
    for depth in range(min_depth, max_depth + 1):
        digits = np.zeros(depth, dtype=np.int32)
        while True:
            depths[row] = depth
            for j in range(depth):
                choices[row, j] = digits[j]
            row += 1
            j = depth - 1
            while j >= 0:
                digits[j] += 1
                if digits[j] == n_choices:
                    digits[j] = 0
                    j -= 1
                else:
                    break
            if j < 0:
                break


def enumerate_modules(min_depth: int, max_depth: int, n_choices: int) -> tuple[np.ndarray, np.ndarray]:
    """Every stage subgraph of ``min_depth..max_depth`` layers over ``n_choices`` choices (Sec. 7.2)."""
    rows = count_modules(int(min_depth), int(max_depth), int(n_choices))
    depths = np.zeros(rows, dtype=np.int32)
    choices = np.full((rows, int(max_depth)), -1, dtype=np.int32)
    _fill_modules(int(min_depth), int(max_depth), int(n_choices), depths, choices)
    return depths, choices
