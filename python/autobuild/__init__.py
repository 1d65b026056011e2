"""autobuild: build neural architectures from interpretable knowledge (Mills et al., CVPR 2024).

The public API (imported lazily, so ``import autobuild`` is instant and needs no torch):

* :class:`Predictor` - train / predict / save / load a predictor (``kind="autobuild"`` or ``"kgnn"``);
* :func:`get_space` - a built-in search space by name, or a YAML/JSON space file;
  :class:`SearchSpace` (the protocol every space implements) and :class:`Module` (one module);
* :class:`TargetEquation`, :func:`read_labelled` - target equations and labelled data;
* :func:`score_modules`, :func:`read_scores`, :func:`write_scores` - module scores (Eq. 5);
* :func:`select_modules`, :func:`unite`, :func:`load_reduced` - building reduced spaces;
* :class:`SearchConfig`, :func:`run_search` - the evolutionary search;
* :class:`AutobuildError` - every error about bad input or a bad artifact.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import AutobuildError

__version__ = "0.5.0"

_EXPORTS = {
    "Predictor": "estimator",
    "get_space": "spaces",
    "SearchSpace": "spaces",
    "Module": "spaces",
    "TargetEquation": "data.equation",
    "read_labelled": "data.table",
    "score_modules": "scoring",
    "read_scores": "scoring",
    "write_scores": "scoring",
    "select_modules": "construction",
    "unite": "construction",
    "load_reduced": "construction",
    "SearchConfig": "search",
    "run_search": "search",
}
__all__ = ["AutobuildError", "__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'autobuild' has no attribute {name!r}")
