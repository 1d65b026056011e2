"""Top-K module selection per stage (paper Sec. 5.1, 7.2, 7.9) and the union of several selections."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import AutobuildError
from ..scoring.scorer import ModuleScores
from ..spaces.module import Module
from .reduced import ReducedSpace


def _quota(sizes: Sequence[int], counts: Sequence[int], k: int) -> list[int]:
    """Split ``k`` over module sizes: equal shares, the remainder to the larger sizes (Sec. 7.9: K=5
    over 1-2 hops gives two 1-hop and three 2-hop modules); a size with too few modules passes its
    leftover on to the other sizes, larger first."""
    n = len(sizes)
    q = [k // n + (1 if i >= n - k % n else 0) for i in range(n)]
    q = [min(a, c) for a, c in zip(q, counts)]
    left = k - sum(q)
    for i in reversed(range(n)):
        add = min(left, counts[i] - q[i])
        q[i] += add
        left -= add
    return q


def select_modules(scores: ModuleScores, k: int, constrained: bool = False) -> dict[int, np.ndarray]:
    """Rows of the top-``k`` modules of every stage, best first.

    Unconstrained: all module sizes compete on their Eq. 5 scores. Constrained: ``k`` is split across
    the sizes present (Sec. 7.9) and each size keeps its own best."""
    if k < 1:
        raise AutobuildError(f"k must be >= 1, got {k}")
    out = {}
    for g in range(scores.space.n_groups):
        ranked = scores.ranked(g)
        if len(ranked) == 0:
            raise AutobuildError(f"{scores.model}: no modules scored for stage {scores.stage_label(g)}")
        if not constrained:
            out[g] = ranked[:k]
            continue
        depths = scores.depth[ranked]
        sizes = sorted(set(depths.tolist()))
        counts = [int((depths == d).sum()) for d in sizes]
        q = _quota(sizes, counts, k)
        keep = np.concatenate([ranked[depths == d][:n] for d, n in zip(sizes, q)])
        out[g] = keep[np.lexsort((keep, -scores.score[keep]))]
    return out


def unite(selections: Sequence[tuple[ModuleScores, dict[int, np.ndarray]]], source_names: Sequence[str] | None = None) -> ReducedSpace:
    """The reduced space of several selections (P predictors / equations x K modules per stage).

    A module's ranking score is its Eq. 5 score when there is one source; with several (different
    targets, different units) it is its z-score within its stage's modules in each source, the best
    over the sources that selected it."""
    if not selections:
        raise AutobuildError("nothing to build from")
    space = selections[0][0].space
    names = list(source_names or [s.model for s, _ in selections])
    for (s, _), n in zip(selections, names):
        if s.space.fingerprint() != space.fingerprint():
            raise AutobuildError(f"{n}: scores of space {s.space.name!r}, not {space.name!r}")
    single = len(selections) == 1
    groups: list[list[Module]] = []
    for g in range(space.n_groups):
        best: dict[tuple, float] = {}
        sources: dict[tuple, dict[str, float]] = {}
        for (s, sel), name in zip(selections, names):
            rows = s.group_rows(g)
            mu, sd = float(s.score[rows].mean()), float(s.score[rows].std()) or 1.0
            for r in sel[g]:
                m = s.module(int(r))
                rank_score = m.score if single else (m.score - mu) / sd
                best[m.key] = max(best.get(m.key, -np.inf), rank_score)
                sources.setdefault(m.key, {})[name] = m.score
        mods = [Module(g, key[1], best[key], sources[key]) for key in best]
        groups.append(sorted(mods, key=lambda m: (-m.score, m.depth, m.choices)))
    glob: dict[str, list] = {}
    for f in space.global_features:
        vals = {s.globals[f.name] for s, _ in selections}
        glob[f.name] = [v for v in f.values if v in vals]
    kind = "eq5" if single else "max z-score over sources"
    return ReducedSpace(space, groups, glob, kind, names)
