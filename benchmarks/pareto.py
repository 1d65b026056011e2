"""2-D Pareto helpers for the benchmarks: maximise accuracy, minimise latency."""

from __future__ import annotations

import numpy as np


def non_dominated(acc: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Mask of points no other point dominates (>= acc and <= latency, one strictly)."""
    order = np.lexsort((-acc, lat))  # by latency, then best accuracy first
    mask = np.zeros(len(acc), dtype=bool)
    best = -np.inf
    for i in order:
        if acc[i] > best:
            mask[i] = True
            best = acc[i]
    return mask


def dominated_by(acc: np.ndarray, lat: np.ndarray, front_acc: np.ndarray, front_lat: np.ndarray) -> np.ndarray:
    """Mask of points (acc, lat) that some front point dominates."""
    out = np.zeros(len(acc), dtype=bool)
    for fa, fl in zip(front_acc, front_lat):
        out |= (fa >= acc) & (fl <= lat) & ((fa > acc) | (fl < lat))
    return out


def hypervolume(acc: np.ndarray, lat: np.ndarray, ref_acc: float, ref_lat: float) -> float:
    """Area dominated by the points and bounded by the reference point (worse acc, worse latency)."""
    m = non_dominated(acc, lat) & (acc > ref_acc) & (lat < ref_lat)
    a, l = acc[m], lat[m]
    order = np.argsort(l)
    a, l = a[order], l[order]
    area, prev_acc = 0.0, ref_acc
    # Sweep by increasing latency; each front point adds the slab above the previous accuracy.
    for i in range(len(l)):
        area += (a[i] - prev_acc) * (ref_lat - l[i])
        prev_acc = a[i]
    return float(area)
