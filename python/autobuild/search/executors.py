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
    """Evaluations in this process, in chunks: the executor that takes Python evaluator objects."""

    name = "inline"
    in_process = True

    def __init__(self, chunk: int = 8) -> None:
        self.chunk = chunk

    def run(self, spec: str, archs: list[dict], metrics: Sequence[str], on_result: OnResult) -> None:
        for idx in _chunks(len(archs), self.chunk):
            on_result(idx, evaluate(spec, [archs[i] for i in idx], list(metrics)))

    def close(self) -> None:
        pass


def _pool_worker_start(parent: int, started: Any) -> None:
    """Pool initialiser: the worker reached its initialiser (the parent's script was imported
    without starting a search of its own), then it ties itself to the parent."""
    started.set()
    _die_with_parent(parent)


def _main_is_script() -> bool:
    main = sys.modules.get("__main__")
    return getattr(main, "__spec__", None) is None and bool(getattr(main, "__file__", None))


def _die_with_parent(parent: int, ignore_sigint: bool = True) -> None:
    """Worker initialiser: end this process when the search process ends, however it ends.

    Linux: the kernel's parent-death signal (SIGKILL). Everywhere: a watchdog thread that exits
    when the parent pid changes. Ctrl-C is left to the parent, which shuts the pool down."""
    if ignore_sigint:
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
    in_process = False

    def __init__(self, workers: int = 2, chunk: int = 16) -> None:
        self.workers, self.chunk = workers, chunk
        self.pool: cf.ProcessPoolExecutor | None = None
        self._started: Any = None

    def _broken(self) -> AutobuildError:
        if self._started is not None and not self._started.is_set() and _main_is_script():
            main = getattr(sys.modules.get("__main__"), "__file__", "the script")
            if not os.path.isfile(main):
                return AutobuildError(
                    f"no evaluation worker process could start: they import the main program again and {main} is "
                    "not a file they can read; run the search from a script file or a module, or with "
                    "executor='inline'")
            return AutobuildError(
                f"no evaluation worker process could start: each one imports {main} again, which must not start "
                "a search itself. Put the script's code under `if __name__ == \"__main__\":`, or run the search "
                "with executor='inline'")
        return AutobuildError("an evaluation worker process died (killed, out of memory, or the evaluator "
                              "ended its process); every finished evaluation is in the journal")

    def run(self, spec: str, archs: list[dict], metrics: Sequence[str], on_result: OnResult) -> None:
        if not isinstance(spec, str):
            raise AutobuildError("the process executor takes evaluator spec strings (worker processes rebuild the "
                                 "evaluator from it), not Python objects")
        if self.pool is None:
            import multiprocessing as mp

            ctx = mp.get_context("spawn")
            self._started = ctx.Event()
            self.pool = cf.ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_pool_worker_start,
                                               initargs=(os.getpid(), self._started))
        size = max(1, min(self.chunk, -(-len(archs) // self.workers)))
        futs = {self.pool.submit(_worker, spec, [archs[i] for i in idx], list(metrics)): idx for idx in _chunks(len(archs), size)}
        try:
            for fut in cf.as_completed(futs):
                try:
                    res = fut.result()
                except cf.process.BrokenProcessPool:
                    raise self._broken() from None
                on_result(futs[fut], res)
        except BaseException:
            for f in futs:
                f.cancel()
            raise

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None


_REAPER = r"""
import os, signal, sys, time
token = sys.argv[1].encode()
sys.stdin.buffer.read()  # returns when the search process ends, however it ends

def owned():
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid():
            try:
                with open(f"/proc/{d}/environ", "rb") as f:
                    if b"AUTOBUILD_RAY_OWNER=" + token in f.read():
                        out.append(int(d))
            except OSError:
                pass
    return out

seen = {}  # pid -> when first signalled; processes started late (agents of a dying raylet) too
deadline, quiet = time.monotonic() + 120, 0
while time.monotonic() < deadline and quiet < 20:  # 5 s without any: Ray has nothing left to start
    pids = owned()
    quiet = 0 if pids else quiet + 1
    now = time.monotonic()
    for pid in pids:
        sig = signal.SIGKILL if now - seen.setdefault(pid, now) > 1.5 else signal.SIGTERM
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    time.sleep(0.25)
"""


def _start_reaper() -> Any:
    """A small watcher process that ends every process of the local Ray this search starts (they
    inherit a token in their environment) once the search process is gone, even after ``kill -9``:
    Ray's own agents can otherwise outlive their driver. Linux only (reads /proc)."""
    if sys.platform != "linux":
        return None
    import secrets
    import subprocess

    token = f"{os.getpid()}-{secrets.token_hex(8)}"
    env = {k: v for k, v in os.environ.items() if k != "AUTOBUILD_RAY_OWNER"}
    reaper = subprocess.Popen([sys.executable, "-c", _REAPER, token], stdin=subprocess.PIPE, env=env,
                              start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ["AUTOBUILD_RAY_OWNER"] = token  # inherited by the Ray processes started next
    return reaper


_ray_armed = False


def _ray_worker(spec: str, archs: list[dict], metrics: list[str]) -> dict[str, Any]:
    """A Ray task: the first one in a worker process ties the worker to its raylet, so that a busy
    worker ends with the local Ray (which shares the search process's fate) instead of finishing
    its evaluations as an orphan."""
    global _ray_armed
    if not _ray_armed:
        _ray_armed = True
        _die_with_parent(os.getppid(), ignore_sigint=False)
    return _worker(spec, archs, metrics)


class RayExecutor:
    """Evaluations as Ray tasks (``address=None`` starts a local Ray)."""

    name = "ray"
    in_process = False

    def __init__(self, address: str | None = None, chunk: int = 16) -> None:
        try:
            import ray
        except ImportError:
            raise AutobuildError("--executor ray needs Ray: pip install 'autobuild[ray]'") from None
        self.ray = ray
        self.reaper: Any = None
        if not ray.is_initialized():
            if address is None:  # a local Ray of our own: it must end with this process
                self.reaper = _start_reaper()
            ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
        self.task = ray.remote(_ray_worker)
        self.chunk = chunk

    def run(self, spec: str, archs: list[dict], metrics: Sequence[str], on_result: OnResult) -> None:
        if not isinstance(spec, str):
            raise AutobuildError("the ray executor takes evaluator spec strings (workers rebuild the evaluator "
                                 "from it), not Python objects")
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
        if self.reaper is not None:
            self.ray.shutdown()
            self.reaper.stdin.close()  # the reaper ends what shutdown left, then itself (not waited for)
            self.reaper = None


def make_executor(name: str, workers: int = 2, address: str | None = None) -> Any:
    """``inline``, ``process`` (a pool of ``workers``; one worker runs inline) or ``ray`` (``address``)."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise AutobuildError(f"workers must be a positive integer, got {workers!r}")
    if name == "inline" or (name == "process" and workers <= 1):
        return InlineExecutor()
    if name == "process":
        return ProcessExecutor(workers)
    if name == "ray":
        return RayExecutor(address)
    raise AutobuildError(f"unknown executor {name!r} (choose: process, inline, ray)")
