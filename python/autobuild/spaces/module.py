"""Modules: the stage subgraphs AutoBuild scores and assembles (paper Sec. 3.1, 4.2, 7.2).

A module of group ``g`` (a stage, stages enumerated together such as ProxylessNAS 5+6, or a U-Net's
input or output stage) is identified by its depth - the number of nodes of its subgraph, so that its
last node's hop-``(depth - 1)`` embedding covers it - and a row of integer choice indices whose
meaning belongs to the space (for :class:`~autobuild.spaces.macro.MacroSpace`: one layer-choice
index per layer, in stage order).

* :class:`Module` - one module as a record (what a reduced space holds, with its score);
* :class:`ModuleSet` - many modules of one group as arrays (what the core enumerates and scoring
  batches).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class Module:
    """One module: ``group``, ``choices`` (``len == depth``), and, once selected, its ranking
    ``score`` and the score each source (predictor or equation) gave it. Equality and hashing
    compare the subgraph only (``key``), not the scores."""

    group: int
    choices: tuple[int, ...]
    score: float = field(default=0.0, compare=False)
    sources: Mapping[str, float] = field(default_factory=dict, compare=False, hash=False)

    @property
    def depth(self) -> int:
        return len(self.choices)

    @property
    def key(self) -> tuple[int, tuple[int, ...]]:
        """What identifies the module (equal keys = the same subgraph)."""
        return (self.group, self.choices)


@dataclass
class ModuleSet:
    """Modules of one group as arrays: ``depths[N]`` and ``choices[N, W]`` (-1 beyond each depth)."""

    group: int
    depths: np.ndarray
    choices: np.ndarray

    def __len__(self) -> int:
        return len(self.depths)

    def __getitem__(self, i: int) -> Module:
        d = int(self.depths[i])
        return Module(self.group, tuple(int(c) for c in self.choices[i, :d]))

    @classmethod
    def of(cls, group: int, modules: "list[Module] | tuple[Module, ...]", width: int | None = None) -> "ModuleSet":
        """The arrays of a list of :class:`Module` records of one group."""
        w = max([m.depth for m in modules] + [width or 0, 1])
        ch = np.full((len(modules), w), -1, dtype=np.int32)
        for i, m in enumerate(modules):
            ch[i, : m.depth] = m.choices
        return cls(group, np.array([m.depth for m in modules], dtype=np.int32), ch)


def layer_text(layer: Mapping[str, object]) -> str:
    """How summaries and figures name one layer of a module: ``{"k": 7, "e": 6}`` -> ``"k7e6"``
    (feature name and value, any macro space); a U-Net block ``{"op": "res", "cm": 256, "mult": 2}``
    -> ``"res@256x2"``."""
    if set(layer) == {"op", "cm", "mult"}:
        return f"{layer['op']}@{layer['cm']}x{layer['mult']}"
    return "".join(f"{name}{value}" for name, value in layer.items())
