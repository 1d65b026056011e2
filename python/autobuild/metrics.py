"""Evaluation metrics on numpy arrays (exact, non-differentiable)."""

from __future__ import annotations

import numpy as np


def rankdata(a: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties share their mean rank (as ``scipy.stats.rankdata``)."""
    a = np.asarray(a, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(len(a), dtype=np.float64)
    sorted_a = a[order]
    # Boundaries of runs of equal values.
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_a)) + 1]
    ends = np.r_[starts[1:], len(a)]
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (SRCC); 0.0 when either input is constant."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) != len(y):
        raise ValueError("spearman: inputs differ in length")
    if len(x) < 2:
        return 0.0
    rx, ry = rankdata(x), rankdata(y)
    rx -= rx.mean()
    ry -= ry.mean()
    den = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / den) if den > 0 else 0.0


def regression_report(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """MAE, MAPE (%), SRCC and the share of predictions within +-10 % (nn-Meter's headline)."""
    y, pred = np.asarray(y, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    err = np.abs(pred - y)
    nz = np.abs(y) > 1e-12
    mape = float(np.mean(err[nz] / np.abs(y[nz])) * 100) if nz.any() else float("nan")
    within = float(np.mean(err[nz] <= 0.1 * np.abs(y[nz])) * 100) if nz.any() else float("nan")
    return {"mae": float(err.mean()), "mape": mape, "srcc": spearman(pred, y), "within10": within}
