"""``build``: architectures from the best modules, one call (paper Sec. 5.1 "Architecture
Construction", 7.2, 7.9).

    scores = Predictor.load("runs/eff").score()
    b = build(scores, k=3)                  # the reduced space of the top 3 modules per stage, whole
    b.archs(), b.module_score_sum, b.reduced.save("reduced.json"), b.summary()
    build(scores, k=5, top=4, constrained=True)   # the 4 best valid archs, whatever k is

The top-``k`` modules of every stage (all sizes competing on their Eq. 5 scores, or with
``constrained`` ``k`` split across module sizes, Sec. 7.9) span the reduced space; several scores
(predictors, target equations) unite their selections (Sec. 7.2). Without ``top`` the whole reduced
space is built (at most ``limit`` archs); with ``top=N`` the N best combinations by summed module
score that satisfy the space's constraints, exactly: where the top ``k`` of each stage hold fewer
than N valid combinations (a U-Net's one C_m and twin multipliers), ``k`` is raised to the smallest
value that holds N, and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .. import limits
from ..errors import AutobuildError
from .reduced import ReducedSpace
from .select import select_modules, unite


@dataclass
class BuildResult:
    """What a build made: the ``reduced`` space, the built ``codes`` (best first by their summed
    module score, ``module_score_sum``, which is not a prediction), ``size`` of the reduced space
    (``exact`` False: an upper bound), the ``k`` used and ``notes``."""

    reduced: ReducedSpace
    codes: np.ndarray
    module_score_sum: np.ndarray
    size: int
    exact: bool
    k: int
    notes: list[str] = field(default_factory=list)

    @property
    def space(self) -> Any:
        return self.reduced.space

    def __len__(self) -> int:
        return len(self.codes)

    def archs(self, pad: str = "repeat") -> list[dict]:
        """The built archs as arch dicts (``pad="zero"``: slots past a stage's depth hold 0)."""
        return self.space.decode(self.codes, pad)

    def write(self, path: str | Path, pad: str = "repeat") -> None:
        """The archs as CSV/JSONL with their ``module_score_sum`` (atomic)."""
        from ..data.table import write_labelled

        write_labelled(path, self.archs(pad), {"module_score_sum": self.module_score_sum})

    def summary(self, predictors: Mapping[str, Any] | None = None) -> tuple[list[str], str | None]:
        """What was built, in words (depths and layer choices kept per stage; with ``predictors``,
        name -> :class:`~autobuild.Predictor`, their predicted range of the built archs), and a
        warning when every kept module sits at one extreme of its stage."""
        from .summary import build_summary

        return build_summary(self.reduced, self.codes, predictors or {})


def _as_scores(scores: Any) -> list[Any]:
    from ..scoring.scorer import ModuleScores, read_scores

    items = list(scores) if isinstance(scores, (list, tuple)) else [scores]
    if not items:
        raise AutobuildError("build needs module scores (Predictor.score() or a scores file)")
    out = []
    for s in items:
        if isinstance(s, (str, Path)):
            s = read_scores(s)
        if not isinstance(s, ModuleScores):
            raise AutobuildError(f"build takes module scores (Predictor.score(), read_scores or a scores file), "
                                 f"got {type(s).__name__}")
        out.append(s)
    return out


def _int(name: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
        raise AutobuildError(f"{name} must be an integer in {lo}..{hi:,}, got {v!r}")
    return int(v)


def build(scores: Any, k: int = 3, top: int | None = None, constrained: bool = False, limit: int = 100_000,
          names: Sequence[str] | None = None) -> BuildResult:
    """Build from the top-``k`` modules per stage of ``scores`` (one :class:`~autobuild.scoring.ModuleScores`,
    a scores file, or a list of them: their selections are united); see the module docstring."""
    loaded = _as_scores(scores)
    k = _int("k", k, 1, 100_000)
    limit = _int("limit", limit, 1, limits.MAX_ARCHS)
    if top is not None:
        top = _int("top", top, 1, limits.MAX_ARCHS)
    if names is None:  # how the reduced space names its sources: the scores files, else the models
        names = [f"{Path(s.source).name} ({s.target})" if s.source else s.model for s in loaded]
    names = list(names)

    def reduced(kk: int) -> ReducedSpace:
        return unite([(s, select_modules(s, kk, constrained)) for s in loaded], names)

    rs = reduced(k)
    notes: list[str] = []
    if top is None:
        size, every, exact = rs.count(limits.MAX_ARCHS)  # enumerated once: counted, and built
        bound = "" if exact else "up to "
        if size > limit:
            raise AutobuildError(f"the reduced space holds {bound}{size:,} architectures (> --limit {limit:,}); "
                                 "use --top N for the best N or raise --limit")
        if not len(every):
            raise AutobuildError(f"no combination of the top {k} modules per stage satisfies space {rs.space.name!r}'s "
                                 "constraints (one C_m; each input stage's multiplier equal to its output twin's): "
                                 "use --top N for the best N valid combinations")
        combos = every[np.lexsort((np.arange(len(every)), -rs.combo_scores(every)))]
        used = k
    else:
        combos, used = rs.top_combos(top), k
        most = max(int(np.bincount(s.group, minlength=s.space.n_groups).max()) for s in loaded)
        if len(combos) < top and k < most:  # too few valid combinations: the smallest k that holds `top`
            lo, hi = k, min(2 * k, most)  # doubling, then bisection: small k are cheap to walk
            while hi < most and len(reduced(hi).top_combos(top)) < top:
                lo, hi = hi, min(2 * hi, most)
            while lo + 1 < hi:
                mid = (lo + hi) // 2
                if len(reduced(mid).top_combos(top)) >= top:
                    hi = mid
                else:
                    lo = mid
            found = len(combos)
            rs = reduced(hi)
            combos, used = rs.top_combos(top), hi
            held = ("the smallest that holds them" if len(combos) >= top else
                    "every module of every stage")
            notes.append(f"the top {k} modules per stage hold {found} valid combination(s), fewer than top={top}: "
                         f"k raised to {used}, {held}")
        if len(combos) < top:
            notes.append(f"only {len(combos)} valid combinations exist; all are built")
        size, _, exact = rs.count(0)
    codes = rs.codes(combos)
    for a in rs.space.decode(codes):  # the space's constraints, checked on every built arch
        rs.space.validate(a)
    return BuildResult(rs, codes, rs.combo_scores(combos), size, exact, used, notes)
