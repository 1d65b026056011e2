"""Numba twin of ``cpp/soft_rank.cpp``: the Eq. 4 hop term in the authors' form (Pearson of L2 soft ranks) and its gradient."""

from __future__ import annotations

import numpy as np
from numba import njit

from ..isotonic import block_mean_rows, isotonic_rows

isotonic_rows_jit = njit(cache=True)(isotonic_rows)
block_mean_rows_jit = njit(cache=True)(block_mean_rows)


@njit(cache=True)
def _soft_rank_pearson(values, target, strength, corr, grad):  # noqa: ANN001, ANN202
    rows, n = values.shape
    lo, hi, ty = target[0], target[0], 0.0
    for i in range(n):
        ty += target[i]
        lo = min(lo, target[i])
        hi = max(hi, target[i])
    my = ty / n
    uy = np.empty(n)
    ny = 0.0
    for i in range(n):
        uy[i] = target[i] - my
        ny += uy[i] * uy[i]
    ny = np.sqrt(ny)
    for i in range(n):
        uy[i] = 0.0 if hi - lo <= 0.0 else uy[i] / ny
    scale = 1.0 / strength
    theta = np.empty(n)
    z = np.empty(n)
    r = np.empty(n)
    g = np.empty(n)
    g_sorted = np.empty(n)
    for b in range(rows):
        for i in range(n):
            theta[i] = values[b, i] * scale
        order = np.argsort(-theta, kind="mergesort")  # descending, ties in input order, NaN last
        for k in range(n):
            z[k] = theta[order[k]] - (n - k)
        dual = isotonic_rows_jit(z.reshape(1, n))[0]  # pool adjacent violators (decreasing)
        for k in range(n):
            r[order[k]] = theta[order[k]] - dual[k]
        tr, rlo, rhi = 0.0, r[0], r[0]
        for i in range(n):
            tr += r[i]
            rlo = min(rlo, r[i])
            rhi = max(rhi, r[i])
        spread = rhi - rlo
        if not spread > 0.0 and not np.isnan(spread):
            corr[b] = 0.0
            for i in range(n):
                grad[b, i] = 0.0
            continue
        mr = tr / n
        nr = 0.0
        for i in range(n):
            r[i] -= mr
            nr += r[i] * r[i]
        nr = np.sqrt(nr)
        c = 0.0
        for i in range(n):
            c += (r[i] / nr) * uy[i]
        corr[b] = c
        mg = 0.0
        for i in range(n):
            g[i] = (uy[i] - c * (r[i] / nr)) / nr
            mg += g[i]
        mg /= n
        for i in range(n):
            g[i] -= mg
        for k in range(n):
            g_sorted[k] = g[order[k]]
        pooled = block_mean_rows_jit(dual.reshape(1, n), g_sorted.reshape(1, n))[0]  # the isotonic VJP
        for k in range(n):
            grad[b, order[k]] = (g[order[k]] - pooled[k]) * scale


def soft_rank_pearson(values: np.ndarray, target: np.ndarray, strength: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    values = np.ascontiguousarray(values, dtype=np.float64)
    target = np.ascontiguousarray(target, dtype=np.float64)
    if values.ndim != 2 or target.ndim != 1 or values.shape[1] != target.shape[0]:
        raise ValueError("soft_rank_pearson: values must be float64[H, B] and target float64[B]")
    if target.shape[0] < 1:
        raise ValueError("soft_rank_pearson: empty inputs")
    if not strength > 0.0:
        raise ValueError("soft_rank_pearson: strength must be > 0")
    corr = np.empty(values.shape[0])
    grad = np.empty(values.shape)
    _soft_rank_pearson(values, target, float(strength), corr, grad)
    return corr, grad
