"""Numba twin of ``cpp/calibrate.cpp``: Eq. 5, hop norms calibrated to the label moments of their cell."""

from __future__ import annotations

import numpy as np
from numba import njit

@njit(cache=True)
def _calibrate(norms, hops, cells, hop_mean, hop_std, cell_mean, cell_std, out):  # noqa: ANN001, ANN202
    for i in range(norms.shape[0]):
        h, c = hops[i], cells[i]
        if c < 0 or c >= cell_mean.shape[0]:
            return 1
        if h >= hop_mean.shape[0]:
            return 2
        if h < 0:
            out[i] = cell_mean[c]
        else:
            out[i] = (norms[i] - hop_mean[h]) * cell_std[c] / hop_std[h] + cell_mean[c]
    return 0


def calibrate_scores(
    norms: np.ndarray, hops: np.ndarray, cells: np.ndarray, hop_mean: np.ndarray, hop_std: np.ndarray,
    cell_mean: np.ndarray, cell_std: np.ndarray,
) -> np.ndarray:
    """Eq. 5: ``(norm - hop_mean[h]) * cell_std[c] / hop_std[h] + cell_mean[c]`` (hop < 0: ``cell_mean[c]``)."""
    norms = np.ascontiguousarray(norms, dtype=np.float64)
    hops = np.ascontiguousarray(hops, dtype=np.int32)
    cells = np.ascontiguousarray(cells, dtype=np.int32)
    hop_mean, hop_std, cell_mean, cell_std = (
        np.ascontiguousarray(a, dtype=np.float64) for a in (hop_mean, hop_std, cell_mean, cell_std)
    )
    n = norms.shape[0]
    if norms.ndim != 1 or hops.ndim != 1 or cells.ndim != 1 or hops.shape[0] != n or cells.shape[0] != n:
        raise ValueError("calibrate_scores: norms, hops and cells must be 1-D of equal length")
    if hop_mean.ndim != 1 or hop_std.ndim != 1 or hop_mean.shape != hop_std.shape:
        raise ValueError("calibrate_scores: hop_mean and hop_std must be 1-D of equal length")
    if cell_mean.ndim != 1 or cell_std.ndim != 1 or cell_mean.shape != cell_std.shape:
        raise ValueError("calibrate_scores: cell_mean and cell_std must be 1-D of equal length")
    if not np.all(hop_std > 0):
        raise ValueError("calibrate_scores: hop std must be > 0")
    out = np.empty(n, dtype=np.float64)
    err = _calibrate(norms, hops, cells, hop_mean, hop_std, cell_mean, cell_std, out)
    if err == 1:
        raise ValueError("calibrate_scores: cell index out of range")
    if err == 2:
        raise ValueError("calibrate_scores: hop index out of range")
    return out
