"""Mutation strategies of the evolutionary search (paper Sec. 5.1, 7.5), one file each:

* ``stage-full`` (:mod:`.stage_full`) - swap one whole module (or a global value) for a random one of
  the full space;
* ``layer-full`` (:mod:`.layer_full`) - add, remove or edit one layer (or a global value);
* ``layer-insight`` (:mod:`.layer_insight`) - ``layer-full`` inside the expert per-device restrictions
  of Mills et al. 2021 (allowed blocks and maximum depth per stage);
* ``autobuild`` (:mod:`.reduced`) - AutoBuild-NAS: module swaps inside a reduced space written by
  ``autobuild build``.

Adding a strategy is one file defining ``make(space, reduced=None, device=None) -> Strategy`` and
one :func:`register_strategy` line below. The mutation itself runs in the core
(:func:`autobuild.core.mutate`, C++ or Numba); a strategy only supplies its arguments.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from ...errors import AutobuildError
from .base import Strategy

#: name -> "module:function" of the strategy's factory (imported on first use).
STRATEGY_FACTORIES: dict[str, str] = {}


def register_strategy(name: str, factory: str) -> None:
    """Make ``make_strategy(name, ...)`` call ``factory`` (``"module:function"``, relative to this package)."""
    STRATEGY_FACTORIES[name] = factory


register_strategy("stage-full", ".stage_full:make")
register_strategy("layer-full", ".layer_full:make")
register_strategy("layer-insight", ".layer_insight:make")
register_strategy("autobuild", ".reduced:make")

STRATEGIES = tuple(STRATEGY_FACTORIES)


def make_strategy(name: str, space: Any, reduced: Any = None, device: str | None = None) -> Strategy:
    """Build a strategy; ``reduced`` (a ReducedSpace) for ``autobuild``, ``device`` for ``layer-insight``."""
    if name not in STRATEGY_FACTORIES:
        raise AutobuildError(f"unknown strategy {name!r} (choose one of: {', '.join(STRATEGY_FACTORIES)})")
    from ...spaces.protocol import require

    require(space, "mutate", f"strategy {name!r}")
    mod, _, fn = STRATEGY_FACTORIES[name].partition(":")
    factory: Callable[..., Strategy] = getattr(importlib.import_module(mod, __name__), fn)
    return factory(space, reduced=reduced, device=device)


__all__ = ["STRATEGIES", "Strategy", "make_strategy", "register_strategy"]
