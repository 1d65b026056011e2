"""The hot loops of AutoBuild, with two interchangeable backends of identical signatures:

* ``cpp`` - the compiled extension :mod:`autobuild._core` (``cpp/`` in the source tree);
* ``numba`` - :mod:`autobuild.core.numba_backend`, JIT-compiled Python, used when the extension is
  missing (e.g. a source checkout that was not built) or when forced.

``AUTOBUILD_BACKEND=cpp|numba`` forces one; unset, the C++ core is used when importable. Tests run
both and compare their outputs.

Functions (same signature in both backends):

``enumerate_modules(min_depth, max_depth, n_choices) -> (depths int32[N], choices int32[N, max_depth])``
    every stage subgraph (paper Sec. 7.2), ordered by depth then lexicographically, padded with -1.
``encode_batch(codes, max_depth, n_choices, choice_features, n_globals) -> (x, edge_index, batch, ptr)``
    arch codes (see :mod:`autobuild.spaces.macro`) to one batched sequence graph (int64 arrays).
``calibrate_scores(norms, hops, cells, hop_mean, hop_std, cell_mean, cell_std) -> float64[N]``
    Eq. 5 (Sec. 4.2): hop-``m`` norms shifted to the label distribution of their (stage, depth) cell.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

from ..errors import AutobuildError

BACKENDS = ("cpp", "numba")
FUNCTIONS = ("enumerate_modules", "encode_batch", "calibrate_scores")
_cache: dict[str, ModuleType] = {}


def get_backend(name: str) -> ModuleType:
    """The backend module ``cpp`` or ``numba`` (raises :class:`AutobuildError` if unavailable)."""
    if name not in BACKENDS:
        raise AutobuildError(f"unknown core backend {name!r} (choose one of: {', '.join(BACKENDS)})")
    if name not in _cache:
        mod_name = "autobuild._core" if name == "cpp" else "autobuild.core.numba_backend"
        try:
            _cache[name] = importlib.import_module(mod_name)
        except ImportError as e:
            hint = " (build it with `pip install .`)" if name == "cpp" else ""
            raise AutobuildError(f"core backend {name!r} is not available: {e}{hint}") from None
    return _cache[name]


def available_backends() -> list[str]:
    out = []
    for b in BACKENDS:
        try:
            get_backend(b)
            out.append(b)
        except AutobuildError:
            pass
    return out


def backend_name() -> str:
    """The backend in use: ``AUTOBUILD_BACKEND`` if set, else ``cpp`` when built, else ``numba``."""
    forced = os.environ.get("AUTOBUILD_BACKEND", "").strip().lower()
    if forced:
        get_backend(forced)
        return forced
    try:
        get_backend("cpp")
        return "cpp"
    except AutobuildError:
        return "numba"


def _dispatch(fn: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(get_backend(backend_name()), fn)(*args, **kwargs)

    call.__name__ = fn
    call.__doc__ = f"``{fn}`` of the active backend (see :mod:`autobuild.core`)."
    return call


enumerate_modules = _dispatch("enumerate_modules")
encode_batch = _dispatch("encode_batch")
calibrate_scores = _dispatch("calibrate_scores")

__all__ = ["BACKENDS", "available_backends", "backend_name", "calibrate_scores", "encode_batch", "enumerate_modules", "get_backend"]
