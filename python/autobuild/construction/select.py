"""Top-K module selection per stage (paper Sec. 5.1, 7.2, 7.9) and the union of several selections."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import AutobuildError
from ..scoring.scorer import ModuleScores
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
    for g in range(len(scores.space.module_groups)):
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
    groups: list[list[dict]] = []
    for g in range(len(space.module_groups)):
        merged: dict[tuple, dict] = {}
        for (s, sel), name in zip(selections, names):
            rows = s.group_rows(g)
            mu, sd = float(s.score[rows].mean()), float(s.score[rows].std()) or 1.0
            for r in sel[g]:
                key = (int(s.depth[r]), tuple(int(c) for c in s.choices[r]))
                rank_score = float(s.score[r]) if single else (float(s.score[r]) - mu) / sd
                m = merged.setdefault(key, {"depth": key[0], "choices": np.array(key[1], dtype=np.int32),
                                            "score": -np.inf, "sources": {}})
                m["score"] = max(m["score"], rank_score)
                m["sources"][name] = float(s.score[r])
        mods = sorted(merged.values(), key=lambda m: (-m["score"], m["depth"], tuple(m["choices"])))
        groups.append(mods)
    glob: dict[str, list] = {}
    for f in space.global_features:
        vals = {s.globals[f.name] for s, _ in selections}
        glob[f.name] = [v for v in f.values if v in vals]
    kind = "eq5" if single else "max z-score over sources"
    return ReducedSpace(space, groups, glob, kind, names)
