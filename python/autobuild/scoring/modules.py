"""Stage subgraphs ("modules") of a macro space (paper Sec. 3.1, 7.2).

A module of group ``g`` (a stage, or stages enumerated together such as ProxylessNAS 5+6) is a
sequence of ``l`` layer choices. It is stored as its depth and a row of choice indices (padded with
-1), enumerated by the core (``autobuild.core.enumerate_modules``), and turned into an arch code in
which only the group's stages hold layers, so that the GNN sees it "placed at its stage": the
positional features stage ``u`` and layer ``l`` are those it has inside a full architecture, and
with directed chain edges its last node's hop-``(l-1)`` embedding covers exactly the module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .. import core
from ..errors import AutobuildError
from ..spaces.macro import MacroSpace


@dataclass
class ModuleSet:
    """All modules of one group: ``depths[N]`` and ``choices[N, max_depth]`` (-1 padding)."""

    group: int
    stages: tuple[int, ...]
    depths: np.ndarray
    choices: np.ndarray

    def __len__(self) -> int:
        return len(self.depths)

    @property
    def label(self) -> str:
        """1-based stage numbers joined by ``+`` (``"3"``, ``"5+6"``), as :meth:`MacroSpace.group_label`."""
        return "+".join(str(s + 1) for s in self.stages)  # a ModuleSet holds no space; same rule


def enumerate_group(space: MacroSpace, g: int) -> ModuleSet:
    """Every module of group ``g`` (Sec. 7.2: ``sum_l |B_u|^l``)."""
    group = space.module_groups[g]
    lo, hi, n = space.group_bounds(group)
    depths, choices = core.enumerate_modules(lo, hi, n)
    return ModuleSet(g, tuple(group), depths, choices)


def _stage_depths(space: MacroSpace, group: Sequence[int], depth: int) -> list[int]:
    """How a group's ``depth`` layers split over its stages (one variable stage at most)."""
    fixed = {s: space.stages[s].min_depth for s in group if space.stages[s].min_depth == space.stages[s].max_depth}
    variable = [s for s in group if s not in fixed]
    rest = depth - sum(fixed.values())
    if variable:
        return [rest if s == variable[0] else fixed[s] for s in group]
    if rest != 0:
        raise AutobuildError(f"group {[s + 1 for s in group]} cannot hold {depth} layers")
    return [fixed[s] for s in group]


def fill_group(codes: np.ndarray, space: MacroSpace, stages: Sequence[int], depths: np.ndarray, choices: np.ndarray) -> None:
    """Write modules (``depths[N]``, ``choices[N, w]``) of the group ``stages`` into arch ``codes[N]``."""
    S = space.n_stages
    for depth in np.unique(depths):
        sel = np.flatnonzero(depths == depth)
        pos = 0
        for s, d in zip(stages, _stage_depths(space, stages, int(depth))):
            codes[sel, s] = d
            off = S + int(space.slot_offset[s])
            codes[np.ix_(sel, np.arange(off, off + d))] = choices[np.ix_(sel, np.arange(pos, pos + d))]
            pos += d


def empty_codes(space: MacroSpace, n: int, global_idx: Sequence[int] | np.ndarray = ()) -> np.ndarray:
    """``n`` codes with every stage empty and the globals set (one row of indices, or one per code)."""
    S = space.n_stages
    codes = np.full((n, space.code_len), -1, dtype=np.int32)
    codes[:, :S] = 0
    g = np.asarray(global_idx, dtype=np.int32)
    if g.shape[-1:] != (space.n_globals,) and not (space.n_globals == 0 and g.size == 0):
        raise AutobuildError(f"need {space.n_globals} global value(s), got {g.shape[-1] if g.ndim else 0}")
    if space.n_globals:
        codes[:, S + space.n_slots :] = g
    return codes


def module_codes(space: MacroSpace, mods: ModuleSet, global_idx: Sequence[int] = (), rows: np.ndarray | None = None) -> np.ndarray:
    """Arch codes holding only the modules (all other stages empty), globals set to ``global_idx``."""
    idx = np.arange(len(mods)) if rows is None else np.asarray(rows)
    codes = empty_codes(space, len(idx), global_idx)
    fill_group(codes, space, mods.stages, mods.depths[idx], mods.choices[idx])
    return codes


def module_layers(space: MacroSpace, mods: ModuleSet, i: int) -> list[dict[str, Any]]:
    """Module ``i`` as a list of layer dicts in feature-name terms, e.g. ``[{"k": 3, "e": 6}, ...]``."""
    d = int(mods.depths[i])
    out = []
    pos = 0
    for s, ds in zip(mods.stages, _stage_depths(space, mods.stages, d)):
        for _ in range(ds):
            tup = space.stage_choices(s)[int(mods.choices[i, pos])]
            out.append({f.name: v for f, v in zip(space.layer_features, tup)})
            pos += 1
    return out


def layers_to_module(space: MacroSpace, g: int, layers: Any) -> tuple[int, np.ndarray]:
    """Inverse of :func:`module_layers`: ``(depth, choice row)``; clear errors for invalid modules."""
    group = space.module_groups[g]
    lo, hi, _ = space.group_bounds(group)
    label = space.group_label(g)
    if not isinstance(layers, list) or not lo <= len(layers) <= hi:
        raise AutobuildError(f"stage {label}: a module is a list of {lo}..{hi} layers, got {str(layers)[:60]}")
    row = np.full(hi, -1, dtype=np.int32)
    pos = 0
    names = [f.name for f in space.layer_features]
    for s, ds in zip(group, _stage_depths(space, group, len(layers))):
        index = {tup: c for c, tup in enumerate(space.stage_choices(s))}
        for _ in range(ds):
            layer = layers[pos]
            if not isinstance(layer, dict) or sorted(layer) != sorted(names):
                raise AutobuildError(f"stage {label}: layer {pos + 1} must be an object with keys {names}, got {layer!r}")
            c = index.get(tuple(layer[n] for n in names))
            if c is None:
                raise AutobuildError(f"stage {label}: layer {pos + 1} {layer} is not a layer choice of stage {s + 1}")
            row[pos] = c
            pos += 1
    return len(layers), row
