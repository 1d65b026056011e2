"""The ``onnx:METRIC=MODEL_DIR,...`` evaluator of the search: several predictors behind one call.

``OnnxEvaluator({"latency_gpu": "models/lat-gpu", "acc": "models/acc"})(archs)`` returns
``{"latency_gpu": float64[n], "acc": float64[n]}`` in label units. Each value is a model or
ensemble directory or a :class:`~autobuild.Predictor`; any mix of kinds works ("autobuild"
predictors and "kgnn" latency predictors, supp. Sec. 7.4) as long as all share one space.

Throughput (CPU): the archs are encoded and run in chunks of ``run_size`` (256) archs, each ORT run
single-threaded, spread over ``workers`` Python threads (ONNX Runtime releases the GIL and a session
may be run concurrently): the small chunks keep the activations (nodes x hidden floats) in cache,
and whole ops run in parallel instead of ORT splitting each op (ScatterND, the reductions) into tiny
tasks (``benchmarks/latency_predictor.py`` measures it). On other execution providers (GPUs) the
whole ``batch_size`` goes to one run.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ...errors import AutobuildError
from ...io_utils import Closing
from ...models.inference import resolve_provider
from ...predictor import Predictor


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class OnnxEvaluator(Closing):
    """Callable ``evaluator(archs) -> {metric name: float64[n] predictions in label units}``.

    ``model_dirs``: metric name -> model directory or :class:`~autobuild.Predictor` (all of one space). ``provider``: ONNX Runtime
    execution provider short name (falls back to CPU with a message when unavailable).
    ``batch_size``: archs per outer step (bounds memory); ``run_size``: archs per ONNX Runtime run
    (default 256 on CPU, ``batch_size`` elsewhere); ``workers``: concurrent runs on CPU (default:
    the usable cores; each run single-threaded).
    """

    def __init__(
        self,
        model_dirs: Mapping[str, str | Path | Predictor],
        provider: str = "cpu",
        batch_size: int = 4096,
        run_size: int | None = None,
        workers: int | None = None,
    ) -> None:
        if not isinstance(model_dirs, Mapping) or not model_dirs:
            raise AutobuildError("evaluator: give at least one metric name -> model directory")
        for name in model_dirs:
            if not isinstance(name, str) or not name:
                raise AutobuildError(f"evaluator: metric names must be non-empty strings, got {name!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise AutobuildError(f"evaluator: batch_size must be a positive integer, got {batch_size!r}")
        if run_size is not None and (isinstance(run_size, bool) or not isinstance(run_size, int) or run_size < 1):
            raise AutobuildError(f"evaluator: run_size must be a positive integer, got {run_size!r}")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise AutobuildError(f"evaluator: workers must be a positive integer, got {workers!r}")
        on_cpu = resolve_provider(provider)[0] == "CPUExecutionProvider"  # prints the fallback message once
        run_on = "cpu" if on_cpu else provider
        self.artifacts: dict[str, Predictor] = {}
        for name, m in model_dirs.items():
            if isinstance(m, Predictor):
                # As given, unless its ONNX Runtime sessions must run on another provider.
                moved = m.runtime == "onnx" and m.provider != run_on and m.path is not None
                p = Predictor.load(m.path, provider=run_on) if moved else m
            elif isinstance(m, (str, Path)):
                p = Predictor.load(m, provider=run_on)
            else:
                raise AutobuildError(f"evaluator: metric {name!r}: expected a model directory or a Predictor, "
                                     f"got {type(m).__name__}")
            self.artifacts[name] = p
        first_name, first = next(iter(self.artifacts.items()))
        for name, p in self.artifacts.items():
            if p.space.fingerprint() != first.space.fingerprint():
                raise AutobuildError(
                    f"evaluator: model {name!r} ({p.name}) was trained on space {p.space.name!r}, "
                    f"model {first_name!r} ({first.name}) on {first.space.name!r}: all models must share one space"
                )
        self.space = first.space
        self.batch_size = batch_size
        self.run_size = min(batch_size, run_size or (256 if on_cpu else batch_size))
        self.workers = (workers or _cpu_count()) if on_cpu else 1
        for p in self.artifacts.values():  # sessions made here, not raced for by the worker threads
            if p.runtime == "onnx":
                for i in range(len(p.members)):
                    p._session(i)
        self.providers = first.providers if first.runtime == "onnx" else ["torch"]
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="autobuild-eval") if self.workers > 1 else None

    @property
    def names(self) -> list[str]:
        return list(self.artifacts)

    @property
    def targets(self) -> dict[str, str]:
        """Metric name -> the target equation its model predicts."""
        return {name: str(p.target) for name, p in self.artifacts.items()}

    def __call__(self, archs: Sequence[Any]) -> dict[str, np.ndarray]:
        """Validate and encode arch dicts (errors name the arch), then predict every metric."""
        if isinstance(archs, Mapping):
            raise AutobuildError("evaluator: expected a list of arch dicts, got one dict (wrap it in a list)")
        return self.encode_and_predict_codes(self.space.encode(archs))

    def encode_and_predict_codes(self, codes: np.ndarray) -> dict[str, np.ndarray]:
        """Fast path: arch codes (``space.encode`` / ``space.sample_codes``) -> predictions."""
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != self.space.code_len:
            raise AutobuildError(
                f"evaluator: codes must be an int array [n, {self.space.code_len}] of space {self.space.name!r}, "
                f"got shape {codes.shape}"
            )
        if codes.size and not np.issubdtype(codes.dtype, np.integer):
            raise AutobuildError(f"evaluator: codes must be integers, got {codes.dtype}")
        codes = np.ascontiguousarray(codes, dtype=np.int32)
        n = len(codes)
        out = {name: np.empty(n, dtype=np.float64) for name in self.artifacts}
        for lo in range(0, n, self.batch_size):
            hi = min(n, lo + self.batch_size)
            starts = range(lo, hi, self.run_size)
            if self._pool is not None and len(starts) > 1:
                list(self._pool.map(lambda s: self._run_chunk(codes, s, min(hi, s + self.run_size), out), starts))
            else:
                for s in starts:
                    self._run_chunk(codes, s, min(hi, s + self.run_size), out)
        return out

    def _run_chunk(self, codes: np.ndarray, lo: int, hi: int, out: dict[str, np.ndarray]) -> None:
        try:
            feed = self.space.graphs(codes[lo:hi]).onnx_feed()
        except ValueError as e:  # the encoder's own range checks
            raise AutobuildError(f"evaluator: invalid arch codes for space {self.space.name!r} "
                                 f"(rows {lo}..{hi - 1}, 'arch' counts from row {lo}): {e}") from None
        for name, p in self.artifacts.items():
            out[name][lo:hi] = p.run_feed(feed)[0]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __repr__(self) -> str:
        models = ", ".join(f"{k}={p.kind}:{p.name}" for k, p in self.artifacts.items())
        return (f"OnnxEvaluator(space={self.space.name!r}, {models}, providers={self.providers}, "
                f"run_size={self.run_size}, workers={self.workers})")


def from_spec(args: str) -> OnnxEvaluator:
    """The ``onnx:`` evaluator scheme: ``METRIC=MODEL_DIR[,METRIC=MODEL_DIR...]``."""
    dirs = {}
    for part in args.split(","):
        metric, eq, path = part.partition("=")
        if not eq or not metric.strip() or not path.strip():
            raise AutobuildError(f"evaluator 'onnx:{args}': expected onnx:METRIC=MODEL_DIR[,METRIC=MODEL_DIR...]")
        dirs[metric.strip()] = path.strip()
    return OnnxEvaluator(dirs)
