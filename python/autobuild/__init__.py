"""autobuild: build neural architectures from interpretable knowledge (Mills et al., CVPR 2024).

The public API (imported lazily, so ``import autobuild`` is instant and needs no torch):

* :class:`Predictor` - one trained predictor or ensemble: ``fit`` / ``predict`` / ``score`` (Eq. 5) /
  ``save`` / ``load`` (``kind="autobuild"`` or ``"kgnn"``);
* :func:`build` -> :class:`BuildResult` - architectures and the reduced space from the best modules;
* :class:`Search` -> :class:`SearchResult` - the evolutionary search (``run``, ``Search.resume``);
* :func:`get_space` - a built-in search space by name, or a YAML/JSON space file;
  :class:`SearchSpace` (the protocol every space implements) and :class:`Module` (one module);
* :func:`count` - exact MACs / FLOPs and parameters of archs;
* :class:`TargetEquation`, :func:`read_labelled` - target equations and labelled data;
* :func:`read_scores`, :func:`write_scores`, :func:`load_reduced` - the files between the steps;
* :class:`AutobuildError` - every error about bad input or a bad artifact.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import AutobuildError

__version__ = "0.6.0"

_EXPORTS = {
    "Predictor": "predictor",
    "build": "construction.build",
    "BuildResult": "construction.build",
    "Search": "search.study",
    "SearchResult": "search.ea",
    "get_space": "spaces",
    "SearchSpace": "spaces",
    "Module": "spaces",
    "count": "networks.counts",
    "TargetEquation": "data.equation",
    "read_labelled": "data.table",
    "read_scores": "scoring",
    "write_scores": "scoring",
    "load_reduced": "construction.reduced",
}
__all__ = ["AutobuildError", "__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'autobuild' has no attribute {name!r}")
