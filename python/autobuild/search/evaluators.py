"""Pluggable evaluators of the search, named by a spec string so that worker processes can rebuild them:

* ``SCHEME:ARGS`` for a registered scheme - ``onnx:METRIC=MODEL_DIR,...`` is the built-in ONNX Runtime
  predictor evaluator (:class:`autobuild.models.evaluators.OnnxEvaluator`), ``count:SPACE`` the exact
  ``macs`` and ``params`` of OFA archs (:mod:`autobuild.networks.evaluator`);
* ``module:function`` or ``path/to/file.py:function`` - the user's function.

An evaluator is a callable taking a list of canonical arch dicts and returning ``{metric: array}``
with one finite value per arch. A new built-in scheme is one file defining
``from_spec(args: str) -> Evaluator`` and one :func:`register_scheme` line below.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..errors import AutobuildError

Evaluator = Callable[[list], dict]
_cache: dict[str, Evaluator] = {}
#: scheme -> "module:function" of its ``from_spec(args)``.
SCHEMES: dict[str, str] = {}


def register_scheme(scheme: str, factory: str) -> None:
    """Make ``SCHEME:ARGS`` specs call ``factory`` (``"module:function"``) with ``ARGS``."""
    SCHEMES[scheme] = factory


register_scheme("onnx", "autobuild.models.evaluators:from_spec")
register_scheme("count", "autobuild.networks.evaluator:from_spec")


def load_evaluator(spec: str) -> Evaluator:
    """Resolve an evaluator spec (cached per process). ``A;B`` combines evaluators: each gives its
    metrics of the same archs (e.g. ``onnx:acc=runs/acc;count:ofa-mbv3``); a metric two of them
    give is an error."""
    if spec in _cache:
        return _cache[spec]
    scheme, colon, args = spec.partition(":")
    if ";" in spec:
        fn: Evaluator = _combined(spec, [p.strip() for p in spec.split(";") if p.strip()])
    elif colon and scheme in SCHEMES:
        mod, _, fn_name = SCHEMES[scheme].partition(":")
        fn = getattr(importlib.import_module(mod), fn_name)(args)
    else:
        mod_name, colon, attr = spec.rpartition(":")
        if not colon or not mod_name or not attr:
            raise AutobuildError(f"evaluator {spec!r}: expected module:function, path/to/file.py:function "
                                 f"or one of {', '.join(f'{s}:...' for s in SCHEMES)}")
        mod = _import_user_module(spec, mod_name)
        fn = getattr(mod, attr, None)
        if not callable(fn):
            raise AutobuildError(f"evaluator {spec!r}: {mod_name}.{attr} is not a function")
    _cache[spec] = fn
    return fn


def _combined(spec: str, parts: list[str]) -> Evaluator:
    if len(parts) < 2:
        raise AutobuildError(f"evaluator {spec!r}: ';' joins two or more evaluator specs")
    fns = [load_evaluator(p) for p in parts]

    def evaluate(archs: list) -> dict:
        out: dict = {}
        for part, fn in zip(parts, fns):
            got = fn(archs)
            if not isinstance(got, dict):
                raise AutobuildError(f"evaluator {part!r} must return a dict of metric arrays, got {type(got).__name__}")
            twice = sorted(set(out) & set(got))
            if twice:
                raise AutobuildError(f"evaluator {spec!r}: metric {twice[0]!r} is given by two of its parts")
            out.update(got)
        return out

    # What the parts are known to give before they run (built-in schemes): their models and metrics.
    arts: dict = {}
    provides: set = set()
    static = True
    for fn in fns:
        a = getattr(fn, "artifacts", None)
        a = a if isinstance(a, Mapping) else None
        arts.update(a or {})
        provides |= set(getattr(fn, "provides", ())) | set(a or ())
        static &= a is not None or hasattr(fn, "provides")
    evaluate.artifacts = arts  # type: ignore[attr-defined]
    if static:
        evaluate.provides = tuple(sorted(provides))  # type: ignore[attr-defined]
    return evaluate


def _import_user_module(spec: str, mod_name: str) -> Any:
    """Import the user's evaluator module without letting it, or its folder, shadow anything else.

    ``path/to/file.py`` is loaded from that file under a private module name. A module name is
    imported normally, with the working directory searched *last* (appended to ``sys.path``, never
    put first), so a ``matplotlib.py`` lying in the working directory is never picked up instead of
    the library."""
    import importlib.util

    try:
        if mod_name.endswith(".py") or os.sep in mod_name or "/" in mod_name:
            path = os.path.abspath(mod_name)
            if not os.path.isfile(path):
                raise AutobuildError(f"evaluator {spec!r}: no such file {mod_name}")
            name = "_autobuild_evaluator_" + "".join(c if c.isalnum() else "_" for c in path)
            if name in sys.modules:
                return sys.modules[name]
            s = importlib.util.spec_from_file_location(name, path)
            if s is None or s.loader is None:
                raise AutobuildError(f"evaluator {spec!r}: cannot load {mod_name}")
            mod = importlib.util.module_from_spec(s)
            sys.modules[name] = mod
            try:
                s.loader.exec_module(mod)
            except BaseException:
                sys.modules.pop(name, None)
                raise
            return mod
        cwd = os.getcwd()
        if cwd not in sys.path and "" not in sys.path:
            sys.path.append(cwd)
        return importlib.import_module(mod_name)
    except AutobuildError:
        raise
    except ImportError as e:
        raise AutobuildError(f"evaluator {spec!r}: cannot import {mod_name!r}: {e}") from None
    except SystemExit as e:
        raise AutobuildError(f"evaluator {spec!r}: importing {mod_name!r} called sys.exit({e.code!r})") from None
    except Exception as e:  # noqa: BLE001 - the user's module failed while importing
        raise AutobuildError(f"evaluator {spec!r}: importing {mod_name!r} failed: {type(e).__name__}: {e}") from None


def evaluate(spec: str, archs: list[dict], metrics: Sequence[str]) -> dict[str, np.ndarray]:
    """Run the evaluator on ``archs`` and check its answer: every metric, one finite value per arch."""
    fn = load_evaluator(spec)
    try:
        out = fn(archs)
    except AutobuildError:
        raise
    except SystemExit as e:  # user code must not end the search without a word
        raise AutobuildError(f"evaluator {spec!r} called sys.exit({e.code!r})") from None
    except Exception as e:  # user code: report it as one line
        msg = str(e).splitlines()[0] if str(e) else ""
        raise AutobuildError(f"evaluator {spec!r} failed: {type(e).__name__}: {msg}") from None
    if not isinstance(out, dict):
        raise AutobuildError(f"evaluator {spec!r} must return a dict of metric arrays, got {type(out).__name__}")
    res = {}
    for m in metrics:
        if m not in out:
            raise AutobuildError(f"evaluator {spec!r} returned no metric {m!r} (got: {', '.join(map(str, out))})")
        try:
            v = np.asarray(out[m], dtype=np.float64).reshape(-1)
        except (TypeError, ValueError, OverflowError):
            raise AutobuildError(f"evaluator {spec!r}: metric {m!r} is not numeric "
                                 f"(got {type(out[m]).__name__}: {str(out[m])[:40]})") from None
        if len(v) != len(archs):
            raise AutobuildError(f"evaluator {spec!r}: metric {m!r} has {len(v)} values for {len(archs)} archs")
        if not np.all(np.isfinite(v)):
            raise AutobuildError(f"evaluator {spec!r}: metric {m!r} is not finite for some archs")
        res[m] = v
    return res


def _worker(spec: str, archs: list[dict], metrics: list[str]) -> dict[str, Any]:
    return evaluate(spec, archs, metrics)
