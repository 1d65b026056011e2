"""Generic "stage -> layers" macro search space (paper Sec. 3.1, 7.2).

An architecture has a fixed number of stages; stage ``u`` holds ``l_u`` layers with
``l_u in [min_depth, max_depth]``, each layer drawn (with replacement) from the stage's set of layer
choices ``B_u``. A layer choice is a tuple of layer-feature values (for MBConv: kernel ``k`` and
expansion ``e``). Global features (the input resolution of OFA) hold one value per architecture.

Three representations are used throughout the package:

* **arch dict** - the user-facing canonical format, the ``ofa`` package's ``set_active_subnet``
  convention: one flat list of slots per layer feature (``ks``, ``e``: stage ``s`` owns slots
  ``[offset_s, offset_s + max_depth_s)``), the per-stage depth list ``d`` and one key per global
  feature (``r``). Unused slots are padding: on input 0 or any valid value; on output (``pad``)
  the stage's last active layer repeated (``"repeat"``, the default: every slot holds a valid value,
  so a later depth-only ``set_active_subnet`` of the ``ofa`` package still works) or 0 (``"zero"``).
* **code** - a compact ``int32`` row ``[d_0..d_{S-1}, slot choice indices..., global indices...]``
  (padding slots = -1) that the C++ core encodes into graphs and the search mutates.
* **sequence graph** - one node per active layer in network order, features
  ``(stage u, layer l, constants, layer features, globals)``, edges ``i -> i+1`` (Fig. 1).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import AutobuildError
from .base import SpaceBase, big_int
from .feature import Feature
from .module import Module, ModuleSet

PADS = ("repeat", "zero")  # how unused slots of an output arch dict are filled


@dataclass(frozen=True)
class Stage:
    """A stage: depth range and the layer choices it allows (``None`` = every combination)."""

    min_depth: int
    max_depth: int
    choices: tuple | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not (isinstance(self.min_depth, int) and isinstance(self.max_depth, int)):
            raise AutobuildError(f"stage {self.name or '?'}: depths must be integers")
        if not 0 <= self.min_depth <= self.max_depth:
            raise AutobuildError(
                f"stage {self.name or '?'}: need 0 <= min_depth <= max_depth, "
                f"got {self.min_depth}..{self.max_depth}"
            )


@dataclass(frozen=True)
class FeatureCategory:
    """A node-feature category as the GNN sees it: name, number of values, numeric scale."""

    name: str
    size: int
    values: tuple
    numeric: bool = False
    scale: tuple[float, float] = (0.0, 1.0)
    labels: tuple = ()  # how reports show the values (default: the values)


class MacroSpace(SpaceBase):
    """A macro search space of stages and layers; see the module docstring. Implements the
    :class:`~autobuild.spaces.protocol.SearchSpace` protocol with every capability.

    Parameters
    ----------
    name: registry name, e.g. ``ofa-mbv3``.
    stages: the stages in network order.
    layer_features: features that vary per layer (each stored as a flat slot list under its key).
    global_features: features with one value per architecture (e.g. resolution ``r``).
    constants: layer features with a single value in this space (e.g. MBConv block type), kept as
        node features so that predictors of several spaces share one feature layout.
    depth_key: arch-dict key of the per-stage depth list.
    module_groups: stages enumerated together as one module (paper Sec. 7.2 merges ProxylessNAS
        stages 5 and 6); default: every stage alone.
    """

    #: The spaces of the ``ofa`` package's supernets, whose archs :mod:`autobuild.networks` counts and builds.
    OFA_FAMILIES = ("ofa-mbv3", "ofa-pn")

    @property
    def network_family(self) -> str | None:  # type: ignore[override]
        return self.name if self.name in self.OFA_FAMILIES else None

    @property
    def capabilities(self) -> frozenset[str]:  # type: ignore[override]
        base = {"modules", "mutate", "independent_groups"}
        return frozenset(base | ({"counts", "network"} if self.network_family else set()))

    def __init__(
        self,
        name: str,
        stages: Sequence[Stage],
        layer_features: Sequence[Feature],
        global_features: Sequence[Feature] = (),
        constants: Sequence[Feature] = (),
        depth_key: str = "d",
        module_groups: Sequence[Sequence[int]] | None = None,
        description: str = "",
        key_aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.description = description
        # Other spellings of arch keys that are read as the key (e.g. ofa's ``image_size`` for
        # ``r``); a convenience of the reader, not part of the definition (nor of its fingerprint).
        self.key_aliases = dict(key_aliases or {})
        self.stages = tuple(stages)
        self.layer_features = tuple(layer_features)
        self.global_features = tuple(global_features)
        self.constants = tuple(constants)
        self.depth_key = depth_key
        from .. import limits

        if not self.stages:
            raise AutobuildError(f"space {name!r}: no stages")
        if len(self.stages) > limits.MAX_STAGES:
            raise AutobuildError(f"space {name!r}: {len(self.stages):,} stages (at most {limits.MAX_STAGES:,})")
        for i, st in enumerate(self.stages):
            if st.max_depth > limits.MAX_STAGE_DEPTH:
                raise AutobuildError(f"space {name!r}: stage {i + 1}: max_depth {st.max_depth:,} is larger than "
                                     f"{limits.MAX_STAGE_DEPTH}")
        if sum(st.max_depth for st in self.stages) > limits.MAX_SLOTS:
            raise AutobuildError(f"space {name!r}: more than {limits.MAX_SLOTS:,} layer slots in all")
        if not self.layer_features:
            raise AutobuildError(f"space {name!r}: no layer features")
        for c in self.constants:
            if c.size != 1:
                raise AutobuildError(f"space {name!r}: constant {c.name!r} must have exactly one value")
        keys = [depth_key] + [f.key for f in self.layer_features] + [f.key for f in self.global_features]
        if len(set(keys)) != len(keys):
            raise AutobuildError(f"space {name!r}: duplicate arch keys {keys}")
        names = ["stage", "layer"] + [f.name for f in (*self.constants, *self.layer_features, *self.global_features)]
        if len(set(names)) != len(names):
            raise AutobuildError(f"space {name!r}: duplicate feature names {names}")
        self._stage_choices = tuple(self._resolve_choices(i, s) for i, s in enumerate(self.stages))
        self.module_groups = self._check_groups(module_groups)
        # Code layout.
        self.n_stages = len(self.stages)
        self.max_depth = np.array([s.max_depth for s in self.stages], dtype=np.int32)
        self.min_depth = np.array([s.min_depth for s in self.stages], dtype=np.int32)
        self.slot_offset = np.concatenate([[0], np.cumsum(self.max_depth)[:-1]]).astype(np.int64)
        self.n_slots = int(self.max_depth.sum())
        self.n_globals = len(self.global_features)
        self.code_len = self.n_stages + self.n_slots + self.n_globals
        self.n_choices = np.array([len(c) for c in self._stage_choices], dtype=np.int32)
        # choice_features[s, c, :] = value index of every constant / layer feature of choice c.
        cmax = int(self.n_choices.max())
        nf = len(self.constants) + len(self.layer_features)
        cf = np.zeros((self.n_stages, cmax, nf), dtype=np.int32)
        for s, choices in enumerate(self._stage_choices):
            for c, tup in enumerate(choices):
                cf[s, c, len(self.constants):] = [f.index(v) for f, v in zip(self.layer_features, tup)]
        self.choice_features = cf
        self._choice_index = [{tup: i for i, tup in enumerate(ch)} for ch in self._stage_choices]

    # ------------------------------------------------------------------ construction helpers
    def _resolve_choices(self, i: int, stage: Stage) -> tuple:
        from .. import limits

        if stage.choices is None:
            n = math.prod(f.size for f in self.layer_features)
            if n > limits.MAX_CHOICES:
                raise AutobuildError(f"space {self.name!r}: stage {i + 1}: {n:,} layer choices (the product of the "
                                     f"layer features' values) is more than {limits.MAX_CHOICES:,}; list 'choices'")
            return tuple(itertools.product(*(f.values for f in self.layer_features)))
        if len(stage.choices) > limits.MAX_CHOICES:
            raise AutobuildError(f"space {self.name!r}: stage {i + 1}: more than {limits.MAX_CHOICES:,} choices")
        out = []
        for ch in stage.choices:
            tup = tuple(ch) if isinstance(ch, (list, tuple)) else (ch,)
            if len(tup) != len(self.layer_features):
                raise AutobuildError(
                    f"space {self.name!r}: stage {i + 1}: choice {list(tup)} needs one value per layer "
                    f"feature ({', '.join(f.name for f in self.layer_features)})"
                )
            for f, v in zip(self.layer_features, tup):
                f.index(v)
            out.append(tup)
        if not out:
            raise AutobuildError(f"space {self.name!r}: stage {i + 1} allows no layer choice")
        if len(set(out)) != len(out):
            raise AutobuildError(f"space {self.name!r}: stage {i + 1} lists a choice twice")
        return tuple(out)

    def _check_groups(self, groups: Sequence[Sequence[int]] | None) -> tuple[tuple[int, ...], ...]:
        if groups is None:
            return tuple((i,) for i in range(len(self.stages)))
        flat = [i for g in groups for i in g]
        if sorted(flat) != list(range(len(self.stages))) or flat != sorted(flat):
            raise AutobuildError(
                f"space {self.name!r}: module_groups must cover every stage once, in order; got {groups}"
            )
        out = []
        for g in groups:
            g = tuple(int(i) for i in g)
            if len(g) > 1:
                variable = [i for i in g if self.stages[i].min_depth != self.stages[i].max_depth]
                if len(variable) > 1 or len({self._stage_choices[i] for i in g}) != 1:
                    raise AutobuildError(
                        f"space {self.name!r}: merged module group {[i + 1 for i in g]} needs identical "
                        "layer choices and at most one stage of variable depth"
                    )
            out.append(g)
        return tuple(out)

    # ------------------------------------------------------------------ description
    @property
    def feature_categories(self) -> tuple[FeatureCategory, ...]:
        """Node-feature categories in column order of the encoded node-feature matrix."""
        lmax = int(self.max_depth.max())
        cats = [
            FeatureCategory("stage", self.n_stages, tuple(range(1, self.n_stages + 1))),
            FeatureCategory("layer", lmax, tuple(range(1, lmax + 1))),
        ]
        for f in (*self.constants, *self.layer_features, *self.global_features):
            cats.append(FeatureCategory(f.name, f.size, f.values, f.numeric, f.numeric_scale() if f.numeric else (0.0, 1.0)))
        return tuple(cats)

    def stage_choices(self, s: int) -> tuple:
        return self._stage_choices[s]

    def stage_module_count(self, s: int) -> int:
        st = self.stages[s]
        n = len(self._stage_choices[s])
        return sum(n**d for d in range(st.min_depth, st.max_depth + 1))

    def cardinality(self, include_globals: bool = False) -> int:
        """Number of distinct architectures, prod_u |S_u| (paper Sec. 7.2), exact."""
        total = math.prod(self.stage_module_count(s) for s in range(self.n_stages))
        if include_globals:
            total *= math.prod(f.size for f in self.global_features)
        return total

    # ------------------------------------------------------------------ module groups (SearchSpace)
    @property
    def n_groups(self) -> int:
        return len(self.module_groups)

    @property
    def module_width(self) -> int:
        """The widest module choice row: the largest group's maximum depth."""
        return max(self.group_depths(g)[1] for g in range(self.n_groups))

    def group_depths(self, g: int) -> tuple[int, int]:
        """(min, max) layers of a module of group ``g`` (sums over its stages)."""
        grp = self.module_groups[g]
        return sum(self.stages[i].min_depth for i in grp), sum(self.stages[i].max_depth for i in grp)

    def group_label(self, g: int) -> str:
        """The label of module group ``g`` in every output: its 1-based stages joined by ``+``
        (``"3"``, or ``"5+6"`` for ProxylessNAS's merged stages)."""
        return "+".join(str(s + 1) for s in self.module_groups[g])

    def module_count(self, g: int) -> int:
        """Modules of group ``g``: ``sum_l |B_u|^l`` over its depth range (Sec. 7.2)."""
        lo, hi = self.group_depths(g)
        n = len(self._stage_choices[self.module_groups[g][0]])
        return sum(n**d for d in range(lo, hi + 1))

    def module_depths(self, codes: np.ndarray, g: int) -> np.ndarray:
        """The depth of every arch's group-``g`` module (``codes[N]``)."""
        return np.asarray(codes)[:, list(self.module_groups[g])].sum(1)

    def stage_depths(self, g: int, depth: int) -> list[int]:
        """How ``depth`` layers of a group-``g`` module split over the group's stages - the one rule
        for merged groups (the core's ``mutate`` implements the same): stages of fixed depth take it,
        the group's one stage of variable depth takes the rest."""
        grp = self.module_groups[g]
        fixed = {s: self.stages[s].min_depth for s in grp if self.stages[s].min_depth == self.stages[s].max_depth}
        variable = [s for s in grp if s not in fixed]
        rest = depth - sum(fixed.values())
        if variable:
            return [rest if s == variable[0] else fixed[s] for s in grp]
        if rest != 0:
            raise AutobuildError(f"stage {self.group_label(g)} cannot hold {depth} layers")
        return [fixed[s] for s in grp]

    def enumerate_modules(self, g: int) -> ModuleSet:
        """Every module of group ``g``, by the core (ordered by depth, then lexicographically)."""
        from .. import core

        lo, hi = self.group_depths(g)
        depths, choices = core.enumerate_modules(lo, hi, len(self._stage_choices[self.module_groups[g][0]]))
        return ModuleSet(g, depths, choices)

    def empty_codes(self, n: int, global_idx: Sequence[int] | np.ndarray = ()) -> np.ndarray:
        """``n`` codes with every stage empty and the globals set (one row of value indices, or one per code)."""
        S = self.n_stages
        codes = np.full((n, self.code_len), -1, dtype=np.int32)
        codes[:, :S] = 0
        gi = np.asarray(global_idx, dtype=np.int32)
        if gi.shape[-1:] != (self.n_globals,) and not (self.n_globals == 0 and gi.size == 0):
            raise AutobuildError(f"need {self.n_globals} global value(s), got {gi.shape[-1] if gi.ndim else 0}")
        if self.n_globals:
            codes[:, S + self.n_slots :] = gi
        return codes

    def place_modules(self, codes: np.ndarray, g: int, depths: np.ndarray, choices: np.ndarray) -> None:
        """Write modules (``depths[N]``, ``choices[N, W]``) into group ``g`` of the codes ``codes[N]``,
        at the positions they have in a full architecture (the GNN sees them "placed at their stage")."""
        S = self.n_stages
        depths = np.asarray(depths)
        for depth in np.unique(depths):
            sel = np.flatnonzero(depths == depth)
            pos = 0
            for s, d in zip(self.module_groups[g], self.stage_depths(g, int(depth))):
                codes[sel, s] = d
                off = S + int(self.slot_offset[s])
                codes[np.ix_(sel, np.arange(off, off + d))] = choices[np.ix_(sel, np.arange(pos, pos + d))]
                pos += d

    def module_stages(self, g: int, depth: int) -> list[int]:
        """The stage of each layer of a group-``g`` module of ``depth`` layers."""
        return [s for s, n in zip(self.module_groups[g], self.stage_depths(g, depth)) for _ in range(n)]

    def module_layers(self, g: int, module: Module) -> list[dict[str, Any]]:
        """A module as layer dicts in feature-name terms, e.g. ``[{"k": 3, "e": 6}, ...]``."""
        names = [f.name for f in self.layer_features]
        return [dict(zip(names, self._stage_choices[s][c]))
                for s, c in zip(self.module_stages(g, module.depth), module.choices)]

    def module_texts(self, g: int, depths: np.ndarray, choices: np.ndarray) -> list[str]:
        """Compact JSON of :meth:`module_layers` for many modules of group ``g`` (scores files hold
        every module: built from one fragment per (stage, layer choice))."""
        frag = [[json.dumps(dict(zip((f.name for f in self.layer_features), tup)), separators=(",", ":"))
                 for tup in self._stage_choices[s]] for s in range(self.n_stages)]
        seqs: dict[int, list[int]] = {}
        out = []
        for d, row in zip(np.asarray(depths).tolist(), np.asarray(choices).tolist()):
            seq = seqs.get(d)
            if seq is None:
                seq = seqs[d] = self.module_stages(g, d)
            out.append("[" + ",".join(frag[s][c] for s, c in zip(seq, row)) + "]")
        return out

    def parse_module(self, g: int, layers: Any) -> Module:
        """Inverse of :meth:`module_layers`, with clear errors for an invalid module."""
        lo, hi = self.group_depths(g)
        label = self.group_label(g)
        if not isinstance(layers, list) or not lo <= len(layers) <= hi:
            raise AutobuildError(f"stage {label}: a module is a list of {lo}..{hi} layers, got {str(layers)[:60]}")
        names = [f.name for f in self.layer_features]
        keys = set(names)
        row = []
        for pos, (s, layer) in enumerate(zip(self.module_stages(g, len(layers)), layers)):
            if not isinstance(layer, dict) or len(layer) != len(keys) or layer.keys() != keys:
                raise AutobuildError(f"stage {label}: layer {pos + 1} must be an object with keys {names}, got {layer!r}")
            try:
                c = self._choice_index[s].get(tuple(layer[n] for n in names))
            except TypeError:  # unhashable values
                c = None
            if c is None:
                raise AutobuildError(f"stage {label}: layer {pos + 1} {layer} is not a layer choice of stage {s + 1}")
            row.append(c)
        return Module(g, tuple(row))

    def compatible(self, modules: Sequence[ModuleSet], combos: np.ndarray) -> np.ndarray:
        """Stages of a chain constrain each other in no way: every combination is an arch."""
        return np.ones(len(combos), dtype=bool)

    def mutation_layout(self) -> dict[str, Any]:
        """The arrays :func:`autobuild.core.mutate` takes about the space (capability ``"mutate"``)."""
        group_of = np.zeros(self.n_stages, dtype=np.int32)
        for i, grp in enumerate(self.module_groups):
            group_of[list(grp)] = i
        return {"min_depth": self.min_depth, "max_depth": self.max_depth, "group_of": group_of,
                "n_globals": self.n_globals, "slot_width": self.max_depth, "n_choices": self.n_choices}

    def graphs(self, codes: np.ndarray) -> Any:
        """The sequence graphs of codes as one :class:`~autobuild.spaces.graph_batch.GraphBatch`
        (the core's ``encode_batch``, C++ or Numba)."""
        from .. import core
        from .graph_batch import GraphBatch

        x, ei, b, ptr = core.encode_batch(np.ascontiguousarray(codes, dtype=np.int32), self.max_depth, self.n_choices,
                                          self.choice_features, self.n_globals)
        return GraphBatch(x, ei, b, ptr)

    @property
    def arch_keys(self) -> tuple[str, ...]:
        return (*(f.key for f in self.layer_features), self.depth_key, *(f.key for f in self.global_features))

    def to_dict(self) -> dict:
        """JSON/YAML definition that :func:`autobuild.spaces.space_from_dict` reads back."""
        d: dict[str, Any] = {"name": self.name}
        if self.description:
            d["description"] = self.description
        d["depth_key"] = self.depth_key
        d["layer_features"] = [f.to_dict() for f in self.layer_features]
        if self.global_features:
            d["global_features"] = [f.to_dict() for f in self.global_features]
        if self.constants:
            d["constants"] = [{"name": c.name, "value": c.values[0]} for c in self.constants]
        stages = []
        for st in self.stages:
            sd: dict[str, Any] = {"min_depth": st.min_depth, "max_depth": st.max_depth}
            if st.name:
                sd["name"] = st.name
            if st.choices is not None:
                sd["choices"] = [list(c) for c in st.choices]
            stages.append(sd)
        d["stages"] = stages
        if any(len(g) > 1 for g in self.module_groups):
            d["module_groups"] = [[i + 1 for i in g] for g in self.module_groups]
        return d

    def fingerprint(self) -> str:
        """Stable hash of the definition: a model trained on one space refuses another."""
        import hashlib

        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"MacroSpace({self.name!r}, stages={self.n_stages}, cardinality={self.cardinality():.3g})"

    # ------------------------------------------------------------------ validation and codes
    def _int(self, v: Any, where: str) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise AutobuildError(f"{where}: {v!r} must be an integer")
        return v

    def encode_one(self, arch: Any) -> np.ndarray:
        """Validate one arch dict and return its code; errors name the offending field, and say so
        when the arch is one of another built-in space (an ofa-pn arch given to an ofa-mbv3 model)."""
        try:
            return self._encode_one(arch)
        except AutobuildError as e:
            other = self._other_space(arch)
            if other:
                raise AutobuildError(f"{e} (this looks like an {other} arch, not an {self.name} one)") from None
            raise

    def _other_space(self, arch: Any) -> str | None:
        from .registry import SPACES, builtin_space

        for name in SPACES:
            if name == self.name:
                continue
            other = builtin_space(name)
            try:
                if not hasattr(other, "_encode_one"):
                    continue
                other._encode_one(arch)
            except AutobuildError:
                continue
            return name
        return None

    def _encode_one(self, arch: Any) -> np.ndarray:
        if not isinstance(arch, Mapping):
            raise AutobuildError(f"arch must be a JSON object, got {type(arch).__name__}")
        for alias, key in self.key_aliases.items():
            if alias in arch and key not in arch:
                arch = {(key if k == alias else k): v for k, v in arch.items()}
        expected = self.arch_keys
        missing = [k for k in expected if k not in arch]
        extra = [k for k in arch if k not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing key(s) " + ", ".join(repr(k) for k in missing))
            if extra:
                parts.append("unknown key(s) " + ", ".join(repr(k) for k in extra))
            raise AutobuildError(f"{'; '.join(parts)} (a {self.name} arch has exactly: {', '.join(expected)})")
        code = np.full(self.code_len, -1, dtype=np.int32)
        depths = arch[self.depth_key]
        if not isinstance(depths, list) or len(depths) != self.n_stages:
            raise AutobuildError(f"{self.depth_key} must be a list of {self.n_stages} integers, got {depths!r}")
        for s, (st, dv) in enumerate(zip(self.stages, depths)):
            dv = self._int(dv, f"{self.depth_key}[{s}]")
            if not st.min_depth <= dv <= st.max_depth:
                rng = f"{st.min_depth}" if st.min_depth == st.max_depth else f"{st.min_depth}..{st.max_depth}"
                raise AutobuildError(f"{self.depth_key}[{s}] = {dv} is outside the stage's depth range {rng}")
            code[s] = dv
        lists = []
        for f in self.layer_features:
            lst = arch[f.key]
            if not isinstance(lst, list) or len(lst) != self.n_slots:
                raise AutobuildError(f"{f.key} must be a list of {self.n_slots} values, got {_short(lst)}")
            lists.append(lst)
        for s in range(self.n_stages):
            off = int(self.slot_offset[s])
            index, choices = self._choice_index[s], self._stage_choices[s]
            for j in range(int(self.max_depth[s])):
                slot = off + j
                if j < code[s]:  # the common case first: an allowed choice, every value of its exact type
                    key = tuple(lst[slot] for lst in lists)
                    try:
                        idx = index.get(key)
                    except TypeError:  # an unhashable value (a list, a dict): the checks below name it
                        idx = None
                    if idx is not None and all(type(a) is type(b) for a, b in zip(key, choices[idx])):
                        code[self.n_stages + slot] = idx
                        continue
                elif all(type(lst[slot]) is int and lst[slot] == 0 for lst in lists):
                    continue
                vals = []
                for f, lst in zip(self.layer_features, lists):
                    v = lst[slot]
                    if j >= code[s]:  # padding slot: 0 or any valid value (ofa convention)
                        if not (v == 0 and not isinstance(v, bool) and isinstance(v, int)):
                            try:
                                f.index(v)
                            except AutobuildError:
                                raise AutobuildError(
                                    f"{f.key}[{slot}] (padding of stage {s + 1}) = {v!r} must be 0 or one of "
                                    f"{list(f.values)}"
                                ) from None
                        continue
                    try:
                        f.index(v)
                    except AutobuildError:
                        raise AutobuildError(
                            f"{f.key}[{slot}] (stage {s + 1}, layer {j + 1}) = {v!r} is not one of {list(f.values)}"
                        ) from None
                    vals.append(v)
                if j < code[s]:
                    idx = self._choice_index[s].get(tuple(vals))
                    if idx is None:
                        raise AutobuildError(
                            f"stage {s + 1}, layer {j + 1}: layer choice "
                            f"{dict(zip((f.name for f in self.layer_features), vals))} is not allowed in this stage"
                        )
                    code[self.n_stages + slot] = idx
        for g, f in enumerate(self.global_features):
            v = arch[f.key]
            try:
                code[self.n_stages + self.n_slots + g] = f.index(v)
            except AutobuildError:
                raise AutobuildError(f"{f.key} = {v!r} is not one of {list(f.values)}") from None
        return code

    def encode(self, archs: Iterable[Any]) -> np.ndarray:
        """Validate arch dicts and return their codes ``int32[n, code_len]``.

        Errors are prefixed with ``arch i:`` (0-based position in ``archs``)."""
        rows = []
        for i, a in enumerate(archs):
            try:
                rows.append(self.encode_one(a))
            except AutobuildError as e:
                raise AutobuildError(f"arch {i}: {e}") from None
        if not rows:
            return np.zeros((0, self.code_len), dtype=np.int32)
        return np.stack(rows)

    def validate(self, arch: Any, pad: str = "repeat") -> dict:
        """Check an arch dict and return its canonical form (padding per ``pad``, keys in order)."""
        return self.decode_one(self.encode_one(arch), pad)

    def decode_one(self, code: np.ndarray, pad: str = "repeat") -> dict:
        """The arch dict of a code; unused slots padded with the stage's last active layer
        (``pad="repeat"``; its first choice when the stage is empty) or with 0 (``pad="zero"``)."""
        if pad not in PADS:
            raise AutobuildError(f"pad must be one of {', '.join(PADS)}, got {pad!r}")
        code = np.asarray(code)
        S, ns = self.n_stages, self.n_slots
        lists: list[list] = [[0] * ns for _ in self.layer_features]
        for s in range(S):
            off = int(self.slot_offset[s])
            d = int(code[s])
            for j in range(d):
                tup = self._stage_choices[s][int(code[S + off + j])]
                for lst, v in zip(lists, tup):
                    lst[off + j] = v
            if pad == "repeat":
                tup = self._stage_choices[s][int(code[S + off + d - 1])] if d else self._stage_choices[s][0]
                for j in range(d, int(self.max_depth[s])):
                    for lst, v in zip(lists, tup):
                        lst[off + j] = v
        out: dict[str, Any] = {}
        for f, lst in zip(self.layer_features, lists):
            out[f.key] = lst
        out[self.depth_key] = [int(v) for v in code[:S]]
        for g, f in enumerate(self.global_features):
            out[f.key] = f.values[int(code[S + ns + g])]
        return out

    def decode(self, codes: np.ndarray, pad: str = "repeat") -> list[dict]:
        return [self.decode_one(c, pad) for c in np.asarray(codes)]

    def canonical_codes(self, codes: np.ndarray) -> np.ndarray:
        """Set padding slots to -1 so that equal architectures have equal codes."""
        codes = np.array(codes, dtype=np.int32, copy=True)
        S = self.n_stages
        for s in range(S):
            off = S + int(self.slot_offset[s])
            j = np.arange(int(self.max_depth[s]))
            pad = j[None, :] >= codes[:, s : s + 1]
            block = codes[:, off : off + int(self.max_depth[s])]
            block[pad] = -1
        return codes

    # ------------------------------------------------------------------ sampling
    def sample_codes(self, n: int, seed: int | None = 0, unique: bool = True) -> np.ndarray:
        """Uniform random codes: each depth, layer choice and global value uniform (as OFA)."""
        if n < 0:
            raise AutobuildError(f"n must be >= 0, got {n}")
        if unique and n > self.cardinality(include_globals=True):
            raise AutobuildError(f"cannot draw {n} distinct archs from a space of {self.cardinality(True)}")
        rng = np.random.default_rng(seed)
        out = np.zeros((0, self.code_len), dtype=np.int32)
        seen: set[bytes] = set()
        while len(out) < n:
            m = n - len(out)
            c = np.empty((m, self.code_len), dtype=np.int32)
            S = self.n_stages
            c[:, :S] = rng.integers(self.min_depth, self.max_depth + 1, size=(m, S))
            for s in range(S):
                off = S + int(self.slot_offset[s])
                c[:, off : off + int(self.max_depth[s])] = rng.integers(0, int(self.n_choices[s]), size=(m, int(self.max_depth[s])))
            for g, f in enumerate(self.global_features):
                c[:, S + self.n_slots + g] = rng.integers(0, f.size, size=m)
            c = self.canonical_codes(c)
            if unique:
                keep = []
                for i, row in enumerate(c):
                    b = row.tobytes()
                    if b not in seen:
                        seen.add(b)
                        keep.append(i)
                c = c[keep]
            out = np.concatenate([out, c])
        return out

    def sample(self, n: int, seed: int | None = 0, unique: bool = True, pad: str = "repeat") -> list[dict]:
        return self.decode(self.sample_codes(n, seed, unique), pad)

    # ------------------------------------------------------------------ graphs
    def describe(self) -> list[str]:
        """What ``autobuild space NAME`` prints: stages, choices, node features, modules, size."""
        from .protocol import module_total

        out = [f"space: {self.name}"] + ([f"  {self.description}"] if self.description else [])
        out.append(f"arch keys: {', '.join(self.arch_keys)}  (code length {self.code_len})")
        out.append("stages:")
        for i, st in enumerate(self.stages):
            out.append(f"  {i + 1}: depth {st.min_depth}-{st.max_depth}, {len(self.stage_choices(i))} layer choices, "
                       f"{self.stage_module_count(i):,} stage subgraphs")
        out.append("node features: " + ", ".join(f"{c.name}{list(c.values)}" for c in self.feature_categories))
        groups = ", ".join(f"{self.group_label(g)}: {self.module_count(g):,}" for g in range(self.n_groups))
        out.append(f"modules per group (stage: count): {groups}; total {module_total(self):,}")
        out.append(f"cardinality: {big_int(self.cardinality())} architectures ({self.cardinality():,})")
        glob = " x ".join(f"{f.size} {f.name}" for f in self.global_features)
        if glob:
            out.append(f"  x {glob} = {big_int(self.cardinality(include_globals=True))} with global features")
        return out

    def describe_codes(self, codes: np.ndarray, what: str) -> list[str]:
        """Per stage the depths and the share of each layer choice of a set of archs:
        ``  stage 1: depth 2 x3, 4 x5; k 3:40% 5:35% 7:25%; e ...`` after a line saying how many."""
        from collections import Counter

        codes = np.asarray(codes)
        rows = self.decode(codes, "zero")
        lines = [f"{what}: {len(codes)} archs; per stage the depths and the share of each layer choice:"]
        keys = [f.name for f in self.layer_features]
        for g in range(self.n_groups):
            depth = self.module_depths(codes, g)
            dh = ", ".join(f"{d} x{c}" for d, c in sorted(Counter(depth.tolist()).items()))
            counts: list[Counter] = [Counter() for _ in keys]
            for row in rows:
                for s in self.module_groups[g]:
                    off, d = int(self.slot_offset[s]), int(row[self.depth_key][s])
                    for f, c in zip(self.layer_features, counts):
                        c.update(row[f.key][off:off + d])
            parts = []
            for name, c in zip(keys, counts):
                total = sum(c.values())
                if total:
                    parts.append(f"{name} " + " ".join(f"{v}:{100 * k / total:.0f}%" for v, k in sorted(c.items())))
            lines.append(f"  stage {self.group_label(g)}: depth {dh}" + (f"; {'; '.join(parts)}" if parts else ""))
        return lines

    def to_graph(self, arch: Any) -> dict:
        """The paper's sequence graph of one arch: node feature dicts and chain edges (Fig. 1)."""
        code = self.encode_one(arch)
        a = self.decode_one(code)
        nodes = []
        S = self.n_stages
        for s in range(S):
            off = int(self.slot_offset[s])
            for j in range(int(code[s])):
                tup = self._stage_choices[s][int(code[S + off + j])]
                node: dict[str, Any] = {"stage": s + 1, "layer": j + 1}
                node.update({c.name: c.values[0] for c in self.constants})
                node.update({f.name: v for f, v in zip(self.layer_features, tup)})
                node.update({f.name: a[f.key] for f in self.global_features})
                nodes.append(node)
        edges = [(i, i + 1) for i in range(len(nodes) - 1)]
        return {"nodes": nodes, "edges": edges}


def _short(v: Any) -> str:
    t = repr(v)
    return t if len(t) < 80 else t[:77] + "..."
