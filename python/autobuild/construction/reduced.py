"""Reduced search spaces: per-stage lists of selected modules plus the global feature values
(paper Sec. 5.1, 7.2). Size ``prod_u |S_u|`` (``K^|u|`` for one equation) times the globals.

Saved as JSON (``autobuild build --space-out``) that ``autobuild sample --reduced`` and the search
read back; loading checks the base space's fingerprint and every module against it.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AutobuildError
from ..io_utils import read_format_json
from ..scoring.modules import empty_codes, fill_group, layers_to_module, module_layers, ModuleSet
from ..spaces import space_from_dict
from ..spaces.macro import MacroSpace

FORMAT = "autobuild-reduced-space"
FORMAT_VERSION = 1


@dataclass
class ReducedSpace:
    """``groups[g]`` = selected modules of stage group ``g`` (dicts with ``depth``, ``choices``,
    ``score``, ``sources``), best first; ``globals`` = allowed values per global feature."""

    space: MacroSpace
    groups: list[list[dict]]
    globals: dict[str, list]
    score_kind: str = "eq5"
    sources: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.groups) != len(self.space.module_groups):
            raise AutobuildError(f"reduced space needs {len(self.space.module_groups)} stage lists, got {len(self.groups)}")
        for g, mods in enumerate(self.groups):
            if not mods:
                raise AutobuildError(f"reduced space: stage {self.stage_label(g)} has no module")
        for f in self.space.global_features:
            if not self.globals.get(f.name):
                raise AutobuildError(f"reduced space: no value for global feature {f.name!r}")

    def stage_label(self, g: int) -> str:
        return self.space.group_label(g)

    @property
    def sizes(self) -> list[int]:
        return [len(m) for m in self.groups] + [len(self.globals[f.name]) for f in self.space.global_features]

    def cardinality(self) -> int:
        """Number of distinct architectures (modules per stage x global values)."""
        return math.prod(self.sizes)

    def codes(self, combos: np.ndarray) -> np.ndarray:
        """Arch codes of index combinations ``combos[N, groups + globals]`` (positions in the lists)."""
        combos = np.asarray(combos, dtype=np.int64).reshape(-1, len(self.sizes))
        G = len(self.groups)
        gidx = np.zeros((len(combos), self.space.n_globals), dtype=np.int32)
        for k, f in enumerate(self.space.global_features):  # list position -> the feature's value index
            lut = np.array([f.values.index(v) for v in self.globals[f.name]], dtype=np.int32)
            gidx[:, k] = lut[combos[:, G + k]]
        codes = empty_codes(self.space, len(combos), gidx)
        for g, mods in enumerate(self.groups):
            depths = np.array([m["depth"] for m in mods], dtype=np.int32)
            width = max(len(m["choices"]) for m in mods)
            ch = np.full((len(mods), width), -1, dtype=np.int32)
            for i, m in enumerate(mods):
                ch[i, : len(m["choices"])] = m["choices"]
            sel = combos[:, g]
            fill_group(codes, self.space, self.space.module_groups[g], depths[sel], ch[sel])
        return codes

    def combo_scores(self, combos: np.ndarray) -> np.ndarray:
        combos = np.asarray(combos, dtype=np.int64).reshape(-1, len(self.sizes))
        return sum(np.array([m["score"] for m in mods])[combos[:, g]] for g, mods in enumerate(self.groups))

    def all_combos(self) -> np.ndarray:
        return np.array(list(itertools.product(*(range(n) for n in self.sizes))), dtype=np.int64).reshape(-1, len(self.sizes))

    def top_combos(self, n: int) -> np.ndarray:
        """The ``n`` best combinations by summed module score, by exact k-best enumeration."""
        from .kbest import kbest_product

        lists = [[m["score"] for m in mods] for mods in self.groups]
        lists += [[0.0] * len(self.globals[f.name]) for f in self.space.global_features]
        return np.array([c for c, _ in kbest_product(lists, n)], dtype=np.int64).reshape(-1, len(self.sizes))

    def sample_combos(self, n: int, seed: int | None = 0) -> np.ndarray:
        """``n`` distinct combinations drawn uniformly (all of them when ``n`` >= the size)."""
        total = self.cardinality()
        if n >= total:
            return self.all_combos()
        rng = np.random.default_rng(seed)
        flat = rng.choice(total, size=n, replace=False) if total < 1 << 62 else None
        if flat is None:  # pragma: no cover - astronomically large reduced spaces
            seen: set[tuple] = set()
            while len(seen) < n:
                seen.add(tuple(int(rng.integers(0, s)) for s in self.sizes))
            return np.array(sorted(seen), dtype=np.int64)
        return np.stack(np.unravel_index(flat, self.sizes), axis=1).astype(np.int64)

    def module_layers(self, g: int, i: int) -> list[dict[str, Any]]:
        m = self.groups[g][i]
        ch = np.asarray(m["choices"], dtype=np.int32)[None, :]
        return module_layers(self.space, ModuleSet(g, tuple(self.space.module_groups[g]), np.array([m["depth"]]), ch), 0)

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "space": self.space.to_dict(), "space_fingerprint": self.space.fingerprint(),
            "score": self.score_kind, "sources": self.sources,
            "stages": [
                {"stages": [s + 1 for s in self.space.module_groups[g]],
                 "modules": [{"layers": self.module_layers(g, i), "score": m["score"], "sources": m["sources"]}
                             for i, m in enumerate(mods)]}
                for g, mods in enumerate(self.groups)
            ],
            "globals": self.globals,
            "cardinality": self.cardinality(),
        }

    def save(self, path: str | Path) -> None:
        from ..io_utils import REDUCED_FORMATS, atomic_write_text, output_format

        output_format(path, REDUCED_FORMATS, "reduced space")
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1) + "\n")


def load_reduced(path: str | Path) -> ReducedSpace:
    """Read and validate a reduced space written by :meth:`ReducedSpace.save`."""
    p = Path(path)
    d = read_format_json(p, FORMAT, FORMAT_VERSION, "an autobuild reduced space (written by `autobuild build --space-out`)")
    return reduced_from_dict(d, str(p))


def reduced_from_dict(d: dict, source: str = "reduced space") -> ReducedSpace:
    """Validate the :meth:`ReducedSpace.to_dict` form (errors prefixed with ``source``)."""
    p = source
    try:
        space = space_from_dict(d["space"], f"{p}: space")
        if space.fingerprint() != d["space_fingerprint"]:
            raise AutobuildError("space definition does not match its fingerprint (edited or corrupt)")
        stages = d["stages"]
        if not isinstance(stages, list) or len(stages) != len(space.module_groups):
            raise AutobuildError(f"needs {len(space.module_groups)} stage entries")
        groups = []
        for g, entry in enumerate(stages):
            mods = []
            for i, m in enumerate(entry["modules"]):
                depth, row = layers_to_module(space, g, m["layers"])
                score = float(m.get("score", 0.0))
                mods.append({"depth": depth, "choices": row[:depth] if depth else row[:0], "score": score,
                             "sources": dict(m.get("sources", {}))})
            groups.append(mods)
        glob = {}
        for f in space.global_features:
            vals = d["globals"].get(f.name)
            if not isinstance(vals, list) or not vals:
                raise AutobuildError(f"globals: needs a list of values for {f.name!r}")
            for v in vals:
                f.index(v)
            glob[f.name] = vals
        return ReducedSpace(space, groups, glob, str(d.get("score", "")), list(d.get("sources", [])))
    except AutobuildError as e:
        raise AutobuildError(f"{p}: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise AutobuildError(f"{p}: malformed reduced space ({type(e).__name__}: {e})") from None
