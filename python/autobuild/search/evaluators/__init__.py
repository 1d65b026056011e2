"""Pluggable evaluators of the search, named by a spec string so that worker processes can rebuild them
(one file per scheme):

* ``SCHEME:ARGS`` for a registered scheme - ``onnx:METRIC=MODEL_DIR,...`` is the built-in predictor
  evaluator (:mod:`.onnx`), ``count:SPACE`` the exact ``macs`` and ``params`` of OFA archs (:mod:`.count`);
* ``module:function`` or ``path/to/file.py:function`` - the user's function (:mod:`.python`).

In a process of its own (``executor="inline"``) the search also takes Python objects: a
:class:`~autobuild.Predictor`, a ``{metric: Predictor}`` mapping or any callable (:func:`as_evaluator`).

An evaluator is a callable taking a list of canonical arch dicts and returning ``{metric: array}``
with one finite value per arch. A new built-in scheme is one file defining
``from_spec(args: str) -> Evaluator`` and one :func:`register_scheme` line below.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ...errors import AutobuildError

Evaluator = Callable[[list], dict]
_cache: dict[str, Evaluator] = {}
#: scheme -> "module:function" of its ``from_spec(args)``.
SCHEMES: dict[str, str] = {}


def register_scheme(scheme: str, factory: str) -> None:
    """Make ``SCHEME:ARGS`` specs call ``factory`` (``"module:function"``) with ``ARGS``."""
    SCHEMES[scheme] = factory


register_scheme("onnx", "autobuild.search.evaluators.onnx:from_spec")
register_scheme("count", "autobuild.search.evaluators.count:from_spec")


def load_evaluator(spec: Any, cache: bool = True) -> Evaluator:
    """Resolve an evaluator spec (cached per process). ``A;B`` combines evaluators: each gives its
    metrics of the same archs (e.g. ``onnx:acc=runs/acc;count:ofa-mbv3``); a metric two of them
    give is an error."""
    if not isinstance(spec, str):
        return as_evaluator(spec)
    if cache and spec in _cache:  # a worker process rebuilds it once; the search's own check never caches
        return _cache[spec]
    scheme, colon, args = spec.partition(":")
    if ";" in spec:
        fn: Evaluator = _combined(spec, [p.strip() for p in spec.split(";") if p.strip()], cache)
    elif colon and scheme in SCHEMES:
        mod, _, fn_name = SCHEMES[scheme].partition(":")
        fn = getattr(importlib.import_module(mod), fn_name)(args)
    else:
        mod_name, colon, attr = spec.rpartition(":")
        if not colon or not mod_name or not attr:
            raise AutobuildError(f"evaluator {spec!r}: expected module:function, path/to/file.py:function "
                                 f"or one of {', '.join(f'{s}:...' for s in SCHEMES)}")
        from .python import import_user_module

        mod = import_user_module(spec, mod_name)
        fn = getattr(mod, attr, None)
        if not callable(fn):
            raise AutobuildError(f"evaluator {spec!r}: {mod_name}.{attr} is not a function")
    try:  # messages about it name the spec the user wrote
        fn.autobuild_spec = spec  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        pass
    if cache:
        _cache[spec] = fn
    return fn


def as_evaluator(obj: Any) -> Evaluator:
    """A Python evaluator object as the search calls it: a :class:`~autobuild.Predictor` gives
    ``{its target: predictions}``, a mapping ``{metric: Predictor or model directory}`` is an
    :class:`~.onnx.OnnxEvaluator`, any other callable is called as it is."""
    from ...predictor import Predictor

    if isinstance(obj, Predictor):
        from .onnx import OnnxEvaluator

        return OnnxEvaluator({str(obj.target): obj})
    if isinstance(obj, Mapping):
        from .onnx import OnnxEvaluator

        return OnnxEvaluator(dict(obj))
    if callable(obj):
        return obj
    raise AutobuildError(f"evaluator must be a spec string, a Predictor, a {{metric: Predictor}} mapping or a "
                         f"callable, got {type(obj).__name__}")


def spec_of(obj: Any) -> str | None:
    """The spec string that rebuilds ``obj`` in another process, where there is one: saved
    predictors become ``onnx:METRIC=DIR,...``; None for anything else (a function, an unsaved model)."""
    from ...predictor import Predictor

    if isinstance(obj, str):
        return obj
    if isinstance(getattr(obj, "autobuild_spec", None), str):
        return obj.autobuild_spec
    if isinstance(obj, Predictor):
        obj = {str(obj.target): obj}
    if isinstance(obj, Mapping) and obj:
        parts = []
        for metric, m in obj.items():
            path = m.path if isinstance(m, Predictor) else (m if isinstance(m, (str, Path)) else None)
            path = Path(path).resolve() if path is not None else None  # a journal resumed from elsewhere finds it
            if path is None or not isinstance(metric, str) or any(c in f"{metric}{path}" for c in ",;="):
                return None
            parts.append(f"{metric}={path}")
        return "onnx:" + ",".join(parts)
    return None


def describe(obj: Any) -> str:
    """How the journal and messages name an evaluator: its spec, or ``python:NAME`` for an object."""
    spec = spec_of(obj)
    if spec is not None:
        return spec
    from ...predictor import Predictor

    if isinstance(obj, Mapping):
        return "python:" + ",".join(f"{k}={type(v).__name__}" for k, v in obj.items())
    if isinstance(obj, Predictor):  # not saved: no spec to rebuild it from
        return f"python:Predictor({obj.target})"
    name = getattr(obj, "__qualname__", None) or type(obj).__name__
    return f"python:{getattr(obj, '__module__', '') or ''}.{name}".replace(":.", ":")


def _combined(spec: str, parts: list[str], cache: bool = True) -> Evaluator:
    if len(parts) < 2:
        raise AutobuildError(f"evaluator {spec!r}: ';' joins two or more evaluator specs")
    fns = [load_evaluator(p, cache) for p in parts]

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


def evaluate(spec: Any, archs: list[dict], metrics: Sequence[str]) -> dict[str, np.ndarray]:
    """Run the evaluator on ``archs`` and check its answer: every metric, one finite value per arch."""
    fn = load_evaluator(spec)
    spec = spec if isinstance(spec, str) else describe(spec)
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
