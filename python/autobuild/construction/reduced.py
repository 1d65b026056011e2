"""Reduced search spaces: per-stage lists of selected modules plus the global feature values
(paper Sec. 5.1, 7.2). Size ``prod_u |S_u|`` (``K^|u|`` for one equation) times the globals.

Saved as JSON (``autobuild build --reduced-out``) that ``autobuild sample --reduced`` and the search
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
from ..spaces import space_from_dict
from ..spaces.module import Module, ModuleSet
from ..spaces.protocol import SearchSpace, require

FORMAT = "autobuild-reduced-space"
FORMAT_VERSION = 1


@dataclass
class ReducedSpace:
    """``groups[g]`` = the selected :class:`Module` records of module group ``g``, best first (each
    with its ranking ``score`` and ``sources``); ``globals`` = allowed values per global feature.
    Built (:func:`~autobuild.construction.select.unite`) and loaded (:func:`load_reduced`) alike."""

    space: SearchSpace
    groups: tuple[tuple[Module, ...], ...]
    globals: dict[str, list]
    score_kind: str = "eq5"
    sources: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        require(self.space, "modules", "a reduced space")
        self.groups = tuple(tuple(mods) for mods in self.groups)
        if len(self.groups) != self.space.n_groups:
            raise AutobuildError(f"reduced space needs {self.space.n_groups} stage lists, got {len(self.groups)}")
        for g, mods in enumerate(self.groups):
            if not mods:
                raise AutobuildError(f"reduced space: stage {self.stage_label(g)} has no module")
            if any(m.group != g for m in mods):
                raise AutobuildError(f"reduced space: stage {self.stage_label(g)} holds a module of another stage")
        for f in self.space.global_features:
            if not self.globals.get(f.name):
                raise AutobuildError(f"reduced space: no value for global feature {f.name!r}")
        self._sets = [ModuleSet.of(g, mods, self.space.module_width) for g, mods in enumerate(self.groups)]

    def stage_label(self, g: int) -> str:
        return self.space.group_label(g)

    @property
    def sizes(self) -> list[int]:
        return [len(m) for m in self.groups] + [len(self.globals[f.name]) for f in self.space.global_features]

    def module_set(self, g: int) -> ModuleSet:
        """The modules of group ``g`` as arrays (what the core's mutation tables take)."""
        return self._sets[g]

    def cardinality(self) -> int:
        """Number of architectures: modules per stage x global values (when the space's groups do
        not constrain each other; else an upper bound)."""
        return math.prod(self.sizes)

    def count(self, enumerate_up_to: int) -> tuple[int, np.ndarray | None, bool]:
        """``(architectures, every valid combination or None, exact)``: the combinations are
        enumerated (and the constraints applied) when the product holds at most ``enumerate_up_to``;
        beyond, the product is exact only where the space's groups are independent."""
        size = self.cardinality()
        if size <= enumerate_up_to:
            every = self.all_combos()
            return len(every), every, True
        return size, None, "independent_groups" in getattr(self.space, "capabilities", ())

    def _valid(self, combos: np.ndarray) -> np.ndarray:
        return self.space.compatible(self._sets, combos[:, : len(self.groups)])

    def codes(self, combos: np.ndarray) -> np.ndarray:
        """Arch codes of index combinations ``combos[N, groups + globals]`` (positions in the lists)."""
        combos = np.asarray(combos, dtype=np.int64).reshape(-1, len(self.sizes))
        G = len(self.groups)
        gidx = np.zeros((len(combos), len(self.space.global_features)), dtype=np.int32)
        for k, f in enumerate(self.space.global_features):  # list position -> the feature's value index
            lut = np.array([f.values.index(v) for v in self.globals[f.name]], dtype=np.int32)
            gidx[:, k] = lut[combos[:, G + k]]
        codes = self.space.empty_codes(len(combos), gidx)
        for g, ms in enumerate(self._sets):
            sel = combos[:, g]
            self.space.place_modules(codes, g, ms.depths[sel], ms.choices[sel])
        return codes

    def combo_scores(self, combos: np.ndarray) -> np.ndarray:
        combos = np.asarray(combos, dtype=np.int64).reshape(-1, len(self.sizes))
        return sum(np.array([m.score for m in mods])[combos[:, g]] for g, mods in enumerate(self.groups))

    def all_combos(self) -> np.ndarray:
        c = np.array(list(itertools.product(*(range(n) for n in self.sizes))), dtype=np.int64).reshape(-1, len(self.sizes))
        return c[self._valid(c)]

    def top_combos(self, n: int) -> np.ndarray:
        """The ``n`` best combinations by summed module score that satisfy the space's constraints
        (fewer when fewer exist), exactly: k-best enumeration of the product where the groups are
        independent, else a best-first walk that the constraints prune (:func:`.kbest.kbest_valid`)."""
        from .kbest import kbest_product, kbest_valid

        lists = [[m.score for m in mods] for mods in self.groups]
        lists += [[0.0] * len(self.globals[f.name]) for f in self.space.global_features]
        if "independent_groups" in getattr(self.space, "capabilities", ()):
            c = [c for c, _ in kbest_product(lists, n)]  # sorts its lists itself
            return np.array(c, dtype=np.int64).reshape(-1, len(self.sizes))
        # The best-first walk needs every list best first: walk sorted copies, map positions back.
        order = [np.lexsort((np.arange(len(s)), -np.asarray(s, dtype=np.float64))) for s in lists]
        ranked = [np.asarray(s, dtype=np.float64)[o] for s, o in zip(lists, order)]
        G = len(self.groups)

        def options(prefix: tuple[int, ...]) -> np.ndarray:
            j = len(prefix)
            if j >= G:
                return np.arange(self.sizes[j])
            chosen = [int(order[g][p]) for g, p in enumerate(prefix)]
            return np.flatnonzero(self.space.compatible_next(self._sets, chosen, j)[order[j]])

        c = [[int(order[g][p]) for g, p in enumerate(pos)] for pos, _ in kbest_valid(ranked, n, options)]
        return np.array(c, dtype=np.int64).reshape(-1, len(self.sizes))

    def sample_combos(self, n: int, seed: int | None = 0) -> np.ndarray:
        """``n`` distinct valid combinations drawn uniformly (all of them when ``n`` >= their number)."""
        total = self.cardinality()
        if n >= total:
            return self.all_combos()
        rng = np.random.default_rng(seed)
        seen: dict[tuple, None] = {}
        for attempt in range(64):
            if len(seen) >= n:
                break
            m = (n - len(seen)) * (1 if attempt == 0 else 4)
            flat = rng.choice(total, size=min(m, total), replace=False) if total < 1 << 62 else None
            if flat is None:  # pragma: no cover - astronomically large reduced spaces
                c = np.stack([rng.integers(0, s, size=m) for s in self.sizes], axis=1).astype(np.int64)
            else:
                c = np.stack(np.unravel_index(flat, self.sizes), axis=1).astype(np.int64)
            for row in c[self._valid(c)]:
                seen.setdefault(tuple(int(v) for v in row), None)
        return np.array(list(seen)[:n], dtype=np.int64).reshape(-1, len(self.sizes))

    def module_layers(self, g: int, i: int) -> list[Any]:
        return self.space.module_layers(g, self.groups[g][i])

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict:
        return {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "space": self.space.to_dict(), "space_fingerprint": self.space.fingerprint(),
            "score": self.score_kind, "sources": self.sources,
            "stages": [
                {"stage": self.stage_label(g),
                 "modules": [{"layers": self.space.module_layers(g, m), "score": m.score, "sources": dict(m.sources)}
                             for m in mods]}
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
    d = read_format_json(p, FORMAT, FORMAT_VERSION, "an autobuild reduced space (written by `autobuild build --reduced-out`)")
    return reduced_from_dict(d, str(p))


def reduced_from_dict(d: dict, source: str = "reduced space") -> ReducedSpace:
    """Validate the :meth:`ReducedSpace.to_dict` form (errors prefixed with ``source``)."""
    p = source
    try:
        space = space_from_dict(d["space"], f"{p}: space")
        if space.fingerprint() != d["space_fingerprint"]:
            raise AutobuildError("space definition does not match its fingerprint (edited or corrupt)")
        stages = d["stages"]
        if not isinstance(stages, list) or len(stages) != space.n_groups:
            raise AutobuildError(f"needs {space.n_groups} stage entries")
        groups = []
        for g, entry in enumerate(stages):
            mods = []
            for i, m in enumerate(entry["modules"]):
                mod = space.parse_module(g, m["layers"])
                score = float(m.get("score", 0.0))
                sources = {str(k): float(v) for k, v in dict(m.get("sources", {})).items()}
                if not math.isfinite(score):
                    raise AutobuildError(f"stage {space.group_label(g)}, module {i + 1}: score is not finite")
                mods.append(Module(g, mod.choices, score, sources))
            if len({m.key for m in mods}) != len(mods):
                raise AutobuildError(f"stage {space.group_label(g)} lists a module twice")
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
