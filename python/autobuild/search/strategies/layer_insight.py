"""``layer-insight``: ``layer-full`` mutations inside the expert per-device restrictions of Mills et
al. 2021 - allowed blocks and maximum depth per stage - shipped in
``autobuild/data/baselines/layer_insight.json`` (its ``source`` field states the provenance)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import numpy as np

from ...errors import AutobuildError
from .base import Strategy

DEVICES = ("GPU", "CPU", "NPU", "N10", "MAX_ACC")
PREFIX = {"ofa-mbv3": "MBV3", "ofa-pn": "PN"}  # spaces the restrictions were written for


def layer_insight_tables() -> dict:
    """The shipped Layer-Insight restrictions."""
    text = resources.files("autobuild.data").joinpath("baselines", "layer_insight.json").read_text(encoding="utf-8")
    return json.loads(text)


class LayerInsight(Strategy):
    def initial(self, n: int, seed: int) -> np.ndarray:
        """``n`` distinct random archs inside the restrictions (each depth and choice uniform)."""
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


def make(space: Any, reduced: Any = None, device: str | None = None) -> Strategy:
    prefix = PREFIX.get(space.name)
    if prefix is None:
        raise AutobuildError(f"layer-insight restrictions exist only for {' and '.join(PREFIX)}, not {space.name!r}")
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
    info = f"layer-insight {dev}: max depth {max_depth.tolist()}, {[int(a.sum()) for a in allowed]} blocks per stage"
    return LayerInsight.full("layer-insight", space, "layer", allowed=allowed, max_depth=max_depth, info=info)
