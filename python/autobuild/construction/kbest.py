"""Exact k-best enumeration over a product of scored lists (not sampling).

Given per-factor score lists, yield index tuples in non-increasing order of the summed score: a
best-first search over the lattice of sorted positions, where each popped tuple pushes its
successors (one position advanced in one factor). Every tuple is generated once (a successor is only
pushed from the predecessor that advances the first factor that differs), so memory stays
``O(k * factors)``.
"""

from __future__ import annotations

import heapq
from typing import Callable, Iterator, Sequence

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


def kbest_valid(scores: Sequence[Sequence[float]], n: int,
                options: Callable[[tuple[int, ...]], np.ndarray]) -> list[tuple[tuple[int, ...], float]]:
    """The ``n`` best combinations (positions into each list, each list sorted best first) that the
    constraints allow, in non-increasing order of their summed score: a best-first (A*) walk over
    partial combinations. ``options(prefix)`` gives the positions of list ``len(prefix)`` that agree
    with the chosen ``prefix`` (ascending), so disallowed branches are never entered; the bound of a
    partial combination is its sum plus the best score of every list still to choose, which never
    underestimates, so complete combinations leave the heap in exact order. Each popped node pushes
    at most two (its next sibling, its first child): memory ``O(pops)``."""
    lists = [np.asarray(s, dtype=np.float64) for s in scores]
    if n < 1 or not lists or any(len(s) == 0 for s in lists):
        return []
    L = len(lists)
    rest = np.concatenate([np.cumsum([float(s[0]) for s in lists][::-1])[::-1], [0.0]])
    cache: dict[tuple[int, ...], np.ndarray] = {}

    def opts(prefix: tuple[int, ...]) -> np.ndarray:
        got = cache.get(prefix)
        if got is None:
            got = cache[prefix] = np.asarray(options(prefix), dtype=np.int64)
        return got

    heap: list = []

    def push(prefix: tuple[int, ...], g: float, i: int) -> None:
        o = opts(prefix)
        if i < len(o):
            pos = prefix + (int(o[i]),)
            total = g + float(lists[len(prefix)][o[i]])
            heapq.heappush(heap, (-(total + rest[len(pos)]), pos, g, i, total))

    push((), 0.0, 0)
    out: list[tuple[tuple[int, ...], float]] = []
    while heap and len(out) < n:
        _, pos, g_parent, i, total = heapq.heappop(heap)
        push(pos[:-1], g_parent, i + 1)  # the next sibling: same prefix, the next allowed position
        if len(pos) == L:
            out.append((pos, total))
        else:
            push(pos, total, 0)  # the first child: the best allowed position of the next list
    return out
