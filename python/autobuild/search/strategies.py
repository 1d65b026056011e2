"""Mutation strategies of the evolutionary search (paper Sec. 5.1, 7.5):

* ``stage-full`` - swap one whole stage subgraph (or a global value) for a random one of the full space;
* ``layer-full`` - add, remove or edit one layer (or a global value) anywhere in the full space;
* ``layer-insight`` - ``layer-full`` inside the expert per-device restrictions of Mills et al. 2021
  (allowed blocks and maximum depth per stage; ``data/baselines/layer_insight.json``);
* ``autobuild`` - AutoBuild-NAS: stage swaps inside a reduced space written by ``autobuild build``.

The mutation itself runs in the core (``autobuild.core.mutate``, C++ or Numba).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from .. import core
from ..errors import AutobuildError
from ..spaces.macro import MacroSpace

STRATEGIES = ("stage-full", "layer-full", "layer-insight", "autobuild")
KIND = {"stage-full": 0, "autobuild": 1, "layer-full": 2, "layer-insight": 2}
DEVICES = ("GPU", "CPU", "NPU", "N10", "MAX_ACC")


def layer_insight_tables() -> dict:
    """The shipped Layer-Insight restrictions (see its ``source`` field for provenance)."""
    text = resources.files("autobuild.data").joinpath("baselines", "layer_insight.json").read_text(encoding="utf-8")
    return json.loads(text)


@dataclass
class Strategy:
    """Everything the core's ``mutate`` needs, plus how to draw the initial pool."""

    name: str
    space: MacroSpace
    allowed: np.ndarray  # uint8[S, C]
    max_depth: np.ndarray  # int32[S]
    global_allowed: np.ndarray  # uint8[G, V]
    table_offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    table_depths: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    table_choices: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), np.int32))
    reduced: Any = None
    info: str = ""

    @property
    def group_of(self) -> np.ndarray:
        g = np.zeros(self.space.n_stages, dtype=np.int32)
        for i, grp in enumerate(self.space.module_groups):
            g[list(grp)] = i
        return g

    def mutate(self, parents: np.ndarray, n: int, seed: int) -> np.ndarray:
        return core.mutate(
            np.ascontiguousarray(parents, dtype=np.int32), int(n), int(seed) & 0x7FFFFFFFFFFFFFFF, KIND[self.name],
            self.space.min_depth, self.max_depth, self.allowed, self.group_of, self.space.n_globals,
            self.global_allowed, self.table_offsets, self.table_depths, self.table_choices,
            slot_width=self.space.max_depth,
        )

    def initial(self, n: int, seed: int) -> np.ndarray:
        """``n`` distinct random archs of the strategy's (possibly restricted) space."""
        if self.reduced is not None:
            rs = self.reduced
            return self.space.canonical_codes(rs.codes(rs.sample_combos(n, seed)))
        if self.name != "layer-insight":
            return self.space.sample_codes(n, seed=seed)
        return self._sample_restricted(n, seed)

    def _sample_restricted(self, n: int, seed: int) -> np.ndarray:
        sp = self.space
        rng = np.random.default_rng(seed)
        S = sp.n_stages
        out: dict[bytes, np.ndarray] = {}
        while len(out) < n:
            c = np.full((n, sp.code_len), -1, dtype=np.int32)
            c[:, :S] = rng.integers(sp.min_depth, self.max_depth + 1, size=(n, S))
            for s in range(S):
                ok = np.flatnonzero(self.allowed[s])
                off = S + int(sp.slot_offset[s])
                c[:, off : off + int(sp.max_depth[s])] = ok[rng.integers(0, len(ok), size=(n, int(sp.max_depth[s])))]
            for g in range(sp.n_globals):
                ok = np.flatnonzero(self.global_allowed[g])
                c[:, S + sp.n_slots + g] = ok[rng.integers(0, len(ok), size=n)]
            for row in sp.canonical_codes(c):
                out.setdefault(row.tobytes(), row)
                if len(out) == n:
                    break
        return np.stack(list(out.values()))

    def cardinality(self) -> int:
        if self.reduced is not None:
            return self.reduced.cardinality()
        total = 1
        for s in range(self.space.n_stages):
            n = int(self.allowed[s].sum())
            total *= sum(n**d for d in range(int(self.space.min_depth[s]), int(self.max_depth[s]) + 1))
        return total * int(np.prod([max(1, int(r.sum())) for r in self.global_allowed]) if len(self.global_allowed) else 1)


def _full(space: MacroSpace) -> tuple[np.ndarray, np.ndarray]:
    C = int(space.n_choices.max())
    allowed = np.zeros((space.n_stages, C), dtype=np.uint8)
    for s in range(space.n_stages):
        allowed[s, : int(space.n_choices[s])] = 1
    V = max([f.size for f in space.global_features], default=1)
    glob = np.zeros((space.n_globals, V), dtype=np.uint8)
    for g, f in enumerate(space.global_features):
        glob[g, : f.size] = 1
    return allowed, glob


def make_strategy(name: str, space: MacroSpace, reduced: Any = None, device: str | None = None) -> Strategy:
    """Build a strategy; ``reduced`` (a ReducedSpace) for ``autobuild``, ``device`` for ``layer-insight``."""
    if name not in STRATEGIES:
        raise AutobuildError(f"unknown strategy {name!r} (choose one of: {', '.join(STRATEGIES)})")
    allowed, glob = _full(space)
    max_depth = space.max_depth.copy()
    if name == "autobuild":
        if reduced is None:
            raise AutobuildError("strategy 'autobuild' needs a reduced space (--reduced FILE from `autobuild build --space-out`)")
        if reduced.space.fingerprint() != space.fingerprint():
            raise AutobuildError(f"the reduced space is of space {reduced.space.name!r}, not {space.name!r}")
        G = len(space.module_groups)
        width = max(space.group_bounds(g)[1] for g in space.module_groups)
        offsets = np.zeros(G + 1, dtype=np.int64)
        depths, choices = [], []
        for g, mods in enumerate(reduced.groups):
            offsets[g + 1] = offsets[g] + len(mods)
            for m in mods:
                row = np.full(width, -1, dtype=np.int32)
                row[: len(m["choices"])] = m["choices"]
                depths.append(m["depth"])
                choices.append(row)
        glob = np.zeros_like(glob)
        for g, f in enumerate(space.global_features):
            for v in reduced.globals[f.name]:
                glob[g, f.values.index(v)] = 1
        return Strategy(name, space, allowed, max_depth, glob, offsets, np.array(depths, np.int32),
                        np.stack(choices), reduced, f"reduced space of {reduced.cardinality():,} archs")
    if name == "layer-insight":
        allowed, max_depth, info = _layer_insight(space, device)
        return Strategy(name, space, allowed, max_depth, glob, info=info)
    return Strategy(name, space, allowed, max_depth, glob)


def _layer_insight(space: MacroSpace, device: str | None) -> tuple[np.ndarray, np.ndarray, str]:
    prefix = {"ofa-mbv3": "MBV3", "ofa-pn": "PN"}.get(space.name)
    if prefix is None:
        raise AutobuildError(f"layer-insight restrictions exist only for ofa-mbv3 and ofa-pn, not {space.name!r}")
    if not device:
        raise AutobuildError(f"strategy 'layer-insight' needs --device ({', '.join(d.lower() for d in DEVICES)})")
    dev = device.upper()
    tables = layer_insight_tables()["tables"]
    cands = tables.get(f"{prefix}_STAGE_WISE_BLOCK_CANDS_{dev}")
    if cands is None:
        have = sorted(k.rsplit("_CANDS_", 1)[1].lower() for k in tables if k.startswith(f"{prefix}_STAGE_WISE_BLOCK_CANDS_"))
        raise AutobuildError(f"no layer-insight restrictions for device {device!r} in {space.name} (have: {', '.join(have)})")
    depth = tables.get(f"OFA_{prefix}_STAGE_N_BLOCKS_{dev}", tables[f"OFA_{prefix}_STAGE_N_BLOCKS"])
    allowed = np.zeros((space.n_stages, int(space.n_choices.max())), dtype=np.uint8)
    for s in range(space.n_stages):
        for block in cands[s]:
            _, e, k = block.split("_")  # mbconv{2,3}_e{e}_k{k}
            tup = (int(k[1:]), int(e[1:]))  # layer features in space order: k, e
            allowed[s, space.stage_choices(s).index(tup)] = 1
    max_depth = np.minimum(np.array(depth, dtype=np.int32), space.max_depth)
    max_depth = np.maximum(max_depth, space.min_depth)
    return allowed, max_depth, f"layer-insight {dev}: max depth {max_depth.tolist()}, {[int(a.sum()) for a in allowed]} blocks per stage"
