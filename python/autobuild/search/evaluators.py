"""Pluggable evaluators of the search: ``module:function`` (a list of canonical archs in, a dict of
metric arrays out), or ``onnx:METRIC=MODEL_DIR,...`` (the built-in ONNX Runtime predictor
evaluator). Evaluators are named by a spec string so that worker processes can rebuild them."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import AutobuildError

Evaluator = Callable[[list], dict]
_cache: dict[str, Evaluator] = {}


def load_evaluator(spec: str) -> Evaluator:
    """Resolve an evaluator spec (cached per process)."""
    if spec in _cache:
        return _cache[spec]
    if spec.startswith("onnx:"):
        from ..models.evaluators import OnnxEvaluator

        dirs = {}
        for part in spec[5:].split(","):
            metric, eq, path = part.partition("=")
            if not eq or not metric.strip() or not path.strip():
                raise AutobuildError(f"evaluator {spec!r}: expected onnx:METRIC=MODEL_DIR[,METRIC=MODEL_DIR...]")
            dirs[metric.strip()] = path.strip()
        fn: Evaluator = OnnxEvaluator(dirs)
    else:
        mod_name, colon, attr = spec.partition(":")
        if not colon or not mod_name or not attr:
            raise AutobuildError(f"evaluator {spec!r}: expected module:function or onnx:METRIC=MODEL_DIR,...")
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            mod = importlib.import_module(mod_name)
        except ImportError as e:
            raise AutobuildError(f"evaluator {spec!r}: cannot import {mod_name!r}: {e}") from None
        fn = getattr(mod, attr, None)
        if not callable(fn):
            raise AutobuildError(f"evaluator {spec!r}: {mod_name}.{attr} is not a function")
    _cache[spec] = fn
    return fn


def evaluate(spec: str, archs: list[dict], metrics: Sequence[str]) -> dict[str, np.ndarray]:
    """Run the evaluator on ``archs`` and check its answer: every metric, one finite value per arch."""
    fn = load_evaluator(spec)
    try:
        out = fn(archs)
    except AutobuildError:
        raise
    except Exception as e:  # user code: report it as one line
        raise AutobuildError(f"evaluator {spec!r} failed: {type(e).__name__}: {e}") from None
    if not isinstance(out, dict):
        raise AutobuildError(f"evaluator {spec!r} must return a dict of metric arrays, got {type(out).__name__}")
    res = {}
    for m in metrics:
        if m not in out:
            raise AutobuildError(f"evaluator {spec!r} returned no metric {m!r} (got: {', '.join(map(str, out))})")
        v = np.asarray(out[m], dtype=np.float64).reshape(-1)
        if len(v) != len(archs):
            raise AutobuildError(f"evaluator {spec!r}: metric {m!r} has {len(v)} values for {len(archs)} archs")
        if not np.all(np.isfinite(v)):
            raise AutobuildError(f"evaluator {spec!r}: metric {m!r} is not finite for some archs")
        res[m] = v
    return res


def _worker(spec: str, archs: list[dict], metrics: list[str]) -> dict[str, Any]:
    return evaluate(spec, archs, metrics)
