"""``SpaceBase``: the defaults of the :class:`~autobuild.spaces.protocol.SearchSpace` protocol, so
that a new space implements what it has and inherits the rest (a space needs no base class; it
is the protocol that callers use).

Callers outside :mod:`autobuild.spaces` use only what the protocol declares: no ``isinstance`` on
a concrete space, no probing for members. What a space can do beyond the basics it declares in
``capabilities`` (:data:`~autobuild.spaces.protocol.CAPABILITIES`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import numpy as np

from ..errors import AutobuildError
from .module import ModuleSet


class SpaceBase:
    """Defaults: no globals, no capabilities, 4 message-passing hops, no real network."""

    description: str = ""
    global_features: tuple = ()
    capabilities: frozenset[str] = frozenset()
    #: Hops a predictor of this space trains by default (a module of d nodes is scored at hop d - 1).
    default_layers: int = 4
    #: Which real networks the space's archs are (``"ofa-mbv3"``, ``"ofa-pn"``, ``"sd-unet"``), for
    #: :mod:`autobuild.networks` (capabilities ``counts`` and ``network``); None: none it knows.
    network_family: str | None = None
    n_groups: int = 0
    module_width: int = 0

    # ------------------------------------------------------------------ archs
    def sample(self, n: int, seed: int | None = 0, unique: bool = True, pad: str = "repeat") -> list[dict]:
        """``n`` random archs (distinct with ``unique``) as arch dicts."""
        return self.decode(self.sample_codes(n, seed, unique), pad)  # type: ignore[attr-defined]

    def encode_one(self, arch: Any) -> np.ndarray:
        """One arch's code (validating it)."""
        return self.encode([arch])[0]  # type: ignore[attr-defined]

    def decode_one(self, code: np.ndarray, pad: str = "repeat") -> dict:
        """One code's arch dict."""
        return self.decode(np.asarray(code)[None], pad)[0]  # type: ignore[attr-defined]

    def all_codes(self) -> np.ndarray:
        """Every arch of the space (capability ``enumerable``: small spaces, exhaustive search)."""
        raise AutobuildError(f"space {getattr(self, 'name', '?')!r} is not enumerable (exhaustive search needs "
                             "a space whose every arch can be listed)")

    # ------------------------------------------------------------------ modules
    def group_depth_values(self, g: int) -> list[int]:
        """The depths a module of group ``g`` can have (default: the whole range of ``group_depths``)."""
        lo, hi = self.group_depths(g)  # type: ignore[attr-defined]
        return list(range(lo, hi + 1))

    def compatible(self, modules: Sequence[ModuleSet], combos: np.ndarray) -> np.ndarray:
        """Groups constrain each other in no way: every combination is an arch."""
        return np.ones(len(combos), dtype=bool)

    def compatible_next(self, modules: Sequence[ModuleSet], prefix: Sequence[int], j: int) -> np.ndarray:
        """Which modules of ``modules[j]`` agree with ``prefix`` (row ``prefix[g]`` of ``modules[g]``
        chosen for groups ``0..j-1``, agreeing among themselves): :meth:`compatible` on partial
        combinations (``-1`` for the groups after ``j``). A space may answer faster."""
        G, m = len(modules), len(modules[j])
        combos = np.full((m, G), -1, dtype=np.int64)
        combos[:, :j] = np.asarray(prefix, dtype=np.int64)[None, :]
        combos[:, j] = np.arange(m)
        return self.compatible(modules, combos)

    # ------------------------------------------------------------------ words
    def describe(self) -> list[str]:
        """What ``autobuild space NAME`` prints."""
        from .protocol import module_total

        name = getattr(self, "name", "?")
        out = [f"space: {name}"] + ([f"  {self.description}"] if self.description else [])
        out.append("node features: " + ", ".join(
            f"{c.name} ({c.size} values{', numeric' if c.numeric else ''})"
            for c in self.feature_categories))  # type: ignore[attr-defined]
        if "modules" in self.capabilities:
            groups = ", ".join(f"{self.group_label(g)}: {self.module_count(g):,}"  # type: ignore[attr-defined]
                               for g in range(self.n_groups))
            out.append(f"modules per group (stage: count): {groups}; total {module_total(self):,}")
            card = self.cardinality()  # type: ignore[attr-defined]
            out.append(f"cardinality: {big_int(card)} architectures ({card:,})")
        out.append(f"capabilities: {', '.join(sorted(self.capabilities)) or 'none'}"
                   + ("" if "mutate" in self.capabilities else " (no evolutionary search)"))
        return out

    def describe_codes(self, codes: np.ndarray, what: str) -> list[str]:
        """Per module group the depths of a set of archs (a search front, a sample): a first line
        saying how many archs, then ``  stage 1: depth 2 x3, 4 x5``."""
        codes = np.asarray(codes)
        lines = [f"{what}: {len(codes)} archs; per stage the depths (blocks):"]
        for g in range(self.n_groups):
            depth = self.module_depths(codes, g)  # type: ignore[attr-defined]
            lines.append(f"  stage {self.group_label(g)}: depth "  # type: ignore[attr-defined]
                         + ", ".join(f"{d} x{c}" for d, c in sorted(Counter(depth.tolist()).items())))
        return lines

    #: Features every layer of a module carries (``module_layers`` gives one dict of them per
    #: layer); empty for spaces whose modules are not lists of feature choices.
    layer_features: tuple = ()

    def module_colour(self, color_by: str | None = None) -> tuple[int, list, str]:
        """What module figures colour a module's layers by: ``(position of the feature in a
        layer dict, its values in order, its name)``; default: ``color_by``, else the expansion ratio
        ``e`` where there is one (Fig. 4: "convolving over many channels"), else the first numeric feature."""
        feats = list(self.layer_features)
        names = [f.name for f in feats]
        if not feats:
            raise AutobuildError(f"space {getattr(self, 'name', '?')!r}: its modules' layers have no features to "
                                 "colour by")
        if color_by is not None:
            if color_by not in names:
                raise AutobuildError(f"cannot colour by {color_by!r}: layer features are {names}")
            i = names.index(color_by)
        else:
            numeric = [j for j, f in enumerate(feats) if all(numberish(v) for v in f.values) and f.size > 1]
            i = names.index("e") if "e" in names and names.index("e") in numeric else (numeric[0] if numeric else 0)
        f = feats[i]
        vals = sorted(f.values, key=value_order) if all(numberish(v) for v in f.values) else list(f.values)
        return i, vals, f.name


def numberish(v: Any) -> bool:
    """Whether a feature value reads as a number (``3``, ``0.5``, ``"6"``; not ``True``)."""
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    try:
        float(str(v))
        return True
    except ValueError:
        return False


def value_order(v: Any) -> tuple:
    """Sort key of feature values: numbers by value, then text."""
    return (0, float(v), "") if numberish(v) else (1, 0.0, str(v))


def big_int(n: int) -> str:
    """An exact integer of any size as ``%.3g`` (``float()`` overflows past 1e308)."""
    try:
        return f"{float(n):.3g}"
    except OverflowError:
        import decimal

        return format(decimal.Decimal(int(n)), ".3g")
