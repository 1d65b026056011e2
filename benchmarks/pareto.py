"""2-D Pareto helpers for the benchmarks (maximise accuracy, minimise latency), on the core's
non-dominated sort and hypervolume (:mod:`autobuild.core`), so the benchmarks measure with the
same code the search uses."""

from __future__ import annotations

import numpy as np

from autobuild import core


def _points(acc: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return np.column_stack([-np.asarray(acc, dtype=np.float64), np.asarray(lat, dtype=np.float64)])


def non_dominated(acc: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Mask of points no other point dominates (>= acc and <= latency, one strictly)."""
    if len(acc) == 0:
        return np.zeros(0, dtype=bool)
    return core.non_dominated_rank(_points(acc, lat)) == 0


def dominated_by(acc: np.ndarray, lat: np.ndarray, front_acc: np.ndarray, front_lat: np.ndarray) -> np.ndarray:
    """Mask of points (acc, lat) that some front point dominates."""
    acc, lat = np.asarray(acc, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    fa, fl = np.asarray(front_acc, dtype=np.float64)[:, None], np.asarray(front_lat, dtype=np.float64)[:, None]
    return ((fa >= acc) & (fl <= lat) & ((fa > acc) | (fl < lat))).any(axis=0) if len(fa) else np.zeros(len(acc), bool)


def hypervolume(acc: np.ndarray, lat: np.ndarray, ref_acc: float, ref_lat: float) -> float:
    """Area dominated by the points and bounded by the reference point (worse acc, worse latency)."""
    if len(acc) == 0:
        return 0.0
    return float(core.hypervolume_2d(_points(acc, lat), np.array([-float(ref_acc), float(ref_lat)])))
