"""Where evaluations run: in-process, a local process pool (default) or a Ray cluster.

``run(spec, archs, metrics, on_result)`` splits the archs into chunks, evaluates them and calls
``on_result(indices, metrics)`` as each chunk returns, so the journal can store it at once."""

from __future__ import annotations

import concurrent.futures as cf
import os
import signal
import sys
import threading
import time
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import AutobuildError
from .evaluators import _worker, evaluate

OnResult = Callable[[np.ndarray, dict], None]


def _chunks(n: int, size: int) -> list[np.ndarray]:
    return [np.arange(i, min(i + size, n)) for i in range(0, n, size)]


class InlineExecutor:
    name = "inline"

    def __init__(self, chunk: int = 8) -> None:
        self.chunk = chunk

    def run(self, spec: str, archs: list[dict], metrics: Sequence[str], on_result: OnResult) -> None:
        for idx in _chunks(len(archs), self.chunk):
            on_result(idx, evaluate(spec, [archs[i] for i in idx], list(metrics)))

    def close(self) -> None:
        pass


def _die_with_parent(parent: int) -> None:
    """Worker initialiser: end this process when the search process ends, however it ends.

    Linux: the kernel's parent-death signal (SIGKILL). Everywhere: a watchdog thread that exits
    when the parent pid changes. Ctrl-C is left to the parent, which shuts the pool down."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        try:
            import ctypes

            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - exotic libc
            pass

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(0.2)

    threading.Thread(target=watch, name="autobuild-parent-watchdog", daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


class ProcessExecutor:
    """A local process pool; each worker rebuilds the evaluator from its spec once and dies with
    the search process (no orphans after ``kill -9``)."""

    name = "process"

    def __init__(self, workers: int = 2, chunk: int = 16) -> None:
        self.workers, self.chunk = workers, chunk
        self.pool: cf.ProcessPoolExecutor | None = None

    def run(self, spec: str, archs: list[dict], metrics: Sequence[str], on_result: OnResult) -> None:
        if self.pool is None:
            import multiprocessing as mp

            self.pool = cf.ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                               initializer=_die_with_parent, initargs=(os.getpid(),))
        size = max(1, min(self.chunk, -(-len(archs) // self.workers)))
        futs = {self.pool.submit(_worker, spec, [archs[i] for i in idx], list(metrics)): idx for idx in _chunks(len(archs), size)}
        try:
            for fut in cf.as_completed(futs):
                try:
                    res = fut.result()
                except cf.process.BrokenProcessPool:
                    raise AutobuildError("an evaluation worker process died (killed, out of memory, or the evaluator "
                                         "ended its process); every finished evaluation is in the journal") from None
                on_result(futs[fut], res)
        except BaseException:
            for f in futs:
                f.cancel()
            raise

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None


class RayExecutor:
    """Evaluations as Ray tasks (``address=None`` starts a local Ray)."""

    name = "ray"

    def __init__(self, address: str | None = None, chunk: int = 16) -> None:
        try:
            import ray
        except ImportError:
            raise AutobuildError("--executor ray needs Ray: pip install 'autobuild[ray]'") from None
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
        self.task = ray.remote(_worker)
        self.chunk = chunk

    def run(self, spec: str, archs: list[dict], metrics: Sequence[str], on_result: OnResult) -> None:
        refs = {self.task.remote(spec, [archs[i] for i in idx], list(metrics)): idx for idx in _chunks(len(archs), self.chunk)}
        pending = list(refs)
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1)
            for r in done:
                try:
                    res = self.ray.get(r)
                except Exception as e:  # noqa: BLE001 - a RayTaskError wraps the worker's exception
                    cause = getattr(e, "cause", None)
                    if isinstance(cause, AutobuildError):
                        raise cause from None
                    raise AutobuildError(f"ray task failed: {str(e).splitlines()[0]}") from None
                on_result(refs[r], res)

    def close(self) -> None:
        pass


def make_executor(name: str, workers: int = 2, address: str | None = None) -> Any:
    if name == "inline" or (name == "process" and workers <= 1):
        return InlineExecutor()
    if name == "process":
        return ProcessExecutor(workers)
    if name == "ray":
        return RayExecutor(address)
    raise AutobuildError(f"unknown executor {name!r} (choose: process, inline, ray)")
