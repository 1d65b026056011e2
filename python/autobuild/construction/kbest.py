"""Exact k-best enumeration over a product of scored lists (not sampling).

Given per-factor score lists, yield index tuples in non-increasing order of the summed score: a
best-first search over the lattice of sorted positions, where each popped tuple pushes its
successors (one position advanced in one factor). Every tuple is generated once (a successor is only
pushed from the predecessor that advances the first factor that differs), so memory stays
``O(k * factors)``.
"""

from __future__ import annotations

import heapq
from typing import Iterator, Sequence

import numpy as np


def kbest_product(scores: Sequence[Sequence[float]], k: int | None = None) -> Iterator[tuple[tuple[int, ...], float]]:
    """Yield ``(indices, total)`` for the ``k`` best combinations (all when ``k`` is None).

    Ties are broken by the sorted positions (lexicographically), so the order is deterministic."""
    lists = [np.asarray(s, dtype=np.float64) for s in scores]
    if any(len(s) == 0 for s in lists) or not lists:
        return
    order = [np.lexsort((np.arange(len(s)), -s)) for s in lists]  # best first, stable
    sorted_scores = [s[o] for s, o in zip(lists, order)]
    start = (0,) * len(lists)
    heap = [(-sum(float(s[0]) for s in sorted_scores), start)]
    emitted = 0
    while heap and (k is None or emitted < k):
        neg, pos = heapq.heappop(heap)
        yield tuple(int(o[p]) for o, p in zip(order, pos)), -neg
        emitted += 1
        # Successors: advance factor j, for j up to the last factor that is non-zero (unique parent rule).
        last = max((j for j, p in enumerate(pos) if p > 0), default=0)
        for j in range(last, len(pos)):
            if pos[j] + 1 < len(sorted_scores[j]):
                nxt = pos[:j] + (pos[j] + 1,) + pos[j + 1 :]
                total = -neg - float(sorted_scores[j][pos[j]]) + float(sorted_scores[j][pos[j] + 1])
                heapq.heappush(heap, (-total, nxt))
