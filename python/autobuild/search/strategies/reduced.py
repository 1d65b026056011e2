"""``autobuild`` (AutoBuild-NAS, paper Sec. 5.1): each child swaps one module of its parent for
another module of the reduced space ``autobuild build --reduced-out`` wrote (the core's ``stage-table``
mutation over the reduced space's module tables), or one global value for another allowed one."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import AutobuildError
from .base import Strategy


class ReducedStrategy(Strategy):
    def initial(self, n: int, seed: int) -> np.ndarray:
        """``n`` distinct archs drawn uniformly from the reduced space."""
        rs = self.reduced
        return self.space.canonical_codes(rs.codes(rs.sample_combos(n, seed)))

    def cardinality(self) -> int:
        return self.reduced.cardinality()


def make(space: Any, reduced: Any = None, device: str | None = None) -> Strategy:
    if reduced is None:
        raise AutobuildError("strategy 'autobuild' needs a reduced space (--reduced FILE from `autobuild build --reduced-out`)")
    if reduced.space.fingerprint() != space.fingerprint():
        raise AutobuildError(f"the reduced space is of space {reduced.space.name!r}, not {space.name!r}")
    sets = [reduced.module_set(g) for g in range(space.n_groups)]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])]).astype(np.int64)
    glob = np.zeros((len(space.global_features), max([f.size for f in space.global_features], default=1)), np.uint8)
    for g, f in enumerate(space.global_features):
        for v in reduced.globals[f.name]:
            glob[g, f.values.index(v)] = 1
    return ReducedStrategy.full(
        "autobuild", space, "stage-table", global_allowed=glob, table_offsets=offsets,
        table_depths=np.concatenate([s.depths for s in sets]).astype(np.int32),
        table_choices=np.concatenate([s.choices for s in sets]).astype(np.int32), reduced=reduced,
        info=f"reduced space of {reduced.cardinality():,} archs",
    )
