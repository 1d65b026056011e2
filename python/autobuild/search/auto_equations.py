"""Target equations derived from the data (beyond the paper, whose Sec. 5.1 names hand-made
equations as a limitation): P equations whose best architectures lie spread along the whole
accuracy-latency front of the labelled set.

Method. Standardise both objectives on the data (``a = (acc - mu_a) / sd_a``, ``l = (lat - mu_l) /
sd_l``, signs flipped so both are maximised) and use linear scalarisations ``y = a + w * l``, w >= 0.
The maximiser of such an equation over the data is a vertex of the upper convex hull of the data
front, and the vertex reached by ``w`` is the one whose two hull edges have slopes bracketing it.
So: take the hull of the front, pick P vertices evenly spaced along it by arc length (both ends
included when P >= 2; fewer when the hull has fewer vertices), and give each the weight halfway (geometric mean) between its edges'
slopes. Each equation then ranks highest the archs of its own front region, and the union of their
reduced spaces covers the front from the fast end to the accurate end.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..errors import AutobuildError
from .objectives import Objective


def _upper_hull(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the upper-right convex hull of points maximising both x and y, by increasing x."""
    order = np.lexsort((-y, x))
    hull: list[int] = []
    for i in order:
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            cross = (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a])
            if cross >= 0:
                hull.pop()
            else:
                break
        hull.append(int(i))
    # Keep the Pareto-optimal part: from the highest-y vertex (the largest x among ties) onwards,
    # where the concave upper hull descends.
    hull_arr = np.array(hull)
    top = np.flatnonzero(y[hull_arr] == y[hull_arr].max())[-1]
    return hull_arr[top:]


def auto_equations(metrics: Mapping[str, np.ndarray], objectives: Sequence[Objective], p: int) -> list[str]:
    """``p`` target equations over the two objectives' metrics (see the module docstring)."""
    if len(objectives) != 2:
        raise AutobuildError("--auto-equations needs exactly two objectives (e.g. acc:max,latency_gpu:min)")
    if p < 1:
        raise AutobuildError(f"--auto-equations needs P >= 1, got {p}")
    cols = []
    parts = []
    for o in objectives:
        if o.metric not in metrics:
            raise AutobuildError(f"the data has no metric {o.metric!r} (has: {', '.join(metrics)})")
        v = np.asarray(metrics[o.metric], dtype=np.float64)
        mu, sd = float(v.mean()), float(v.std())
        if not sd > 0:
            raise AutobuildError(f"metric {o.metric!r} is constant in the data")
        sign = 1.0 if o.maximize else -1.0
        cols.append(sign * (v - mu) / sd)
        parts.append((o.metric, mu, sd, sign))
    y, x = cols  # y: first objective (e.g. accuracy), x: second (e.g. -latency), both maximised
    hull = _upper_hull(x, y)
    if len(hull) == 1:
        w = [1.0] * p
    else:
        dx, dy = np.diff(x[hull]), np.diff(y[hull])
        slopes = -dy / np.maximum(dx, 1e-12)  # positive, increasing along the hull (x increasing)
        arc = np.r_[0.0, np.cumsum(np.hypot(dx, dy))]
        targets = np.linspace(0, arc[-1], p) if p > 1 else np.array([arc[-1] / 2])
        free = list(range(len(hull)))
        chosen = []
        for t in targets:  # the nearest hull vertex not taken yet (distinct regions of the front)
            if not free:
                break
            v = min(free, key=lambda j: abs(arc[j] - t))
            free.remove(v)
            chosen.append(v)
        w = []
        for v in sorted(chosen):
            lo = slopes[v - 1] if v > 0 else slopes[0] / 4
            hi = slopes[v] if v < len(slopes) else slopes[-1] * 4
            w.append(float(np.sqrt(max(lo, 1e-9) * max(hi, 1e-9))))
    (m1, mu1, sd1, s1), (m2, mu2, sd2, s2) = parts
    out = []
    for wi in w:
        # y = s1 * (m1 - mu1) / sd1 + wi * s2 * (m2 - mu2) / sd2
        out.append(f"{s1:+g}*({m1}-{mu1:.6g})/{sd1:.6g}{wi * s2:+.6g}*({m2}-{mu2:.6g})/{sd2:.6g}".lstrip("+"))
    return list(dict.fromkeys(out))
