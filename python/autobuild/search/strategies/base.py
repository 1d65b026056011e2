"""The :class:`Strategy` record: everything the core's ``mutate`` needs, and the initial pool."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ... import core


@dataclass
class Strategy:
    """A mutation strategy over ``space``: the core's mutation ``kind`` (a :data:`autobuild.core.MUTATION_KINDS`
    name), the allowed layer choices ``allowed uint8[S, C]`` and depths ``max_depth int32[S]`` per
    stage, the allowed global values ``global_allowed uint8[G, V]``, and for ``stage-table`` the module
    table (``table_*``, from a reduced space)."""

    name: str
    space: Any
    kind: str
    allowed: np.ndarray
    max_depth: np.ndarray
    global_allowed: np.ndarray
    table_offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    table_depths: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    table_choices: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), np.int32))
    reduced: Any = None
    info: str = ""

    @classmethod
    def full(cls, name: str, space: Any, kind: str, **kw: Any) -> "Strategy":
        """A strategy over the whole space (every choice, depth and global value allowed) unless
        ``kw`` restricts it."""
        lay = space.mutation_layout()
        n_choices = lay["n_choices"]
        allowed = np.zeros((len(n_choices), int(n_choices.max())), dtype=np.uint8)
        for s, n in enumerate(n_choices):
            allowed[s, : int(n)] = 1
        V = max([f.size for f in space.global_features], default=1)
        glob = np.zeros((len(space.global_features), V), dtype=np.uint8)
        for g, f in enumerate(space.global_features):
            glob[g, : f.size] = 1
        args = {"allowed": allowed, "max_depth": lay["max_depth"].copy(), "global_allowed": glob}
        args.update(kw)
        return cls(name, space, kind, **args)

    def mutate(self, parents: np.ndarray, n: int, seed: int) -> np.ndarray:
        lay = self.space.mutation_layout()
        return core.mutate(
            np.ascontiguousarray(parents, dtype=np.int32), int(n), int(seed) & 0x7FFFFFFFFFFFFFFF,
            core.MUTATION_KINDS[self.kind], lay["min_depth"], self.max_depth, self.allowed, lay["group_of"],
            lay["n_globals"], self.global_allowed, self.table_offsets, self.table_depths, self.table_choices,
            slot_width=lay["slot_width"],
        )

    def initial(self, n: int, seed: int) -> np.ndarray:
        """``n`` distinct random archs of the strategy's space (the whole space unless overridden)."""
        return self.space.sample_codes(n, seed=seed)

    def cardinality(self) -> int:
        """Archs the strategy can reach (the restricted space's size)."""
        lay = self.space.mutation_layout()
        total = 1
        for s in range(len(self.max_depth)):
            n = int(self.allowed[s].sum())
            total *= sum(n**d for d in range(int(lay["min_depth"][s]), int(self.max_depth[s]) + 1))
        for r in self.global_allowed:
            total *= max(1, int(r.sum()))
        return total
