"""``Search``: one evolutionary multi-objective search (paper Sec. 5.1, 7.5) as an object, modelled on
Optuna's ``Study``: made from a space (or a reduced space), objectives, an evaluator, a strategy and
an optional journal; ``run(budget)`` returns a :class:`~.ea.SearchResult`; ``Search.resume(journal)``
continues an interrupted run with nothing lost and nothing evaluated twice.

    with Search("ofa-mbv3", "acc:max,latency_gpu:min", {"acc": p_acc, "latency_gpu": p_lat},
                journal="run.db") as s:
        res = s.run(250, executor="inline")
    res.front, res.hypervolume({"acc": 0.74, "latency_gpu": 10.6})

Everything is checked before the journal is created: the objectives, the space, the strategy and
the evaluator (loaded here, asked for nothing it cannot give). The context manager (or ``close``)
releases the journal's lock (one writer at a time) and the executor's workers.

Evaluators: a spec string (``onnx:METRIC=MODEL_DIR,...``, ``count:SPACE``, ``module:function``,
``A;B``) works everywhere. Python objects (a :class:`~autobuild.Predictor`, a ``{metric: Predictor}``
mapping, a callable) are run where the executor runs in this process (``inline``); the ``process``
and ``ray`` executors rebuild the evaluator in other processes from a spec, so there a Python object
must be a saved predictor (it becomes ``onnx:METRIC=DIR``), else the run stops with one line saying so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..errors import AutobuildError
from ..io_utils import Closing
from .ea import SearchConfig, SearchResult, run_search
from .setup import budget_iterations

DEFAULT_BUDGET = 250


def _warn_stderr(msg: str) -> None:
    import warnings

    warnings.warn(msg, stacklevel=3)


class Search(Closing):
    """An evolutionary search of ``space`` (a name, space file or space object) or of ``reduced`` (a
    reduced space from :func:`autobuild.build`, or its file) for the Pareto front of ``objectives``
    (``"acc:max,latency_gpu:min"``), evaluated by ``evaluator``. ``strategy`` defaults to
    ``autobuild`` with a reduced space, else ``stage-full``; ``device`` picks the Layer-Insight
    restrictions; ``journal`` (a SQLite file) records every evaluation as it returns."""

    def __init__(self, space: Any = None, objectives: str | None = None, evaluator: Any = None, *,
                 reduced: Any = None, strategy: str | None = None, device: str | None = None,
                 initial: int = 50, per_iteration: int = 50, seed: int = 0, journal: str | Path | None = None,
                 warn: Callable[[str], None] | None = None) -> None:
        from ..construction.reduced import ReducedSpace, load_reduced
        from ..spaces import get_space

        if isinstance(space, ReducedSpace) and reduced is None:  # Search(build(...).reduced, ...)
            space, reduced = None, space
        from .evaluators import describe
        from .objectives import parse_objectives
        from .setup import check_evaluator
        from .strategies import make_strategy

        self._warn = warn or _warn_stderr
        self._journal: Any = None
        self._executor: Any = None
        if journal is not None and not isinstance(journal, (str, Path)):
            raise AutobuildError(f"journal must be a file path, got {type(journal).__name__}")
        if reduced is not None and not isinstance(reduced, (str, Path, ReducedSpace)):
            raise AutobuildError(f"reduced must be a reduced space (build(...).reduced) or its file, got "
                                 f"{type(reduced).__name__}")
        if device is not None and not isinstance(device, str):
            raise AutobuildError(f"device must be a name such as 'gpu', got {type(device).__name__}")
        if strategy is not None and not isinstance(strategy, str):
            raise AutobuildError(f"strategy must be a name, got {type(strategy).__name__}")
        if objectives is None or evaluator is None:
            raise AutobuildError("give objectives (e.g. 'acc:max,latency_gpu:min') and an evaluator")
        for name, v in (("initial", initial), ("per_iteration", per_iteration)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise AutobuildError(f"{name} must be a positive integer, got {v!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise AutobuildError(f"seed must be an integer >= 0, got {seed!r}")
        objs = parse_objectives(objectives)
        rs = None
        if reduced is not None:
            rs = reduced if isinstance(reduced, ReducedSpace) else load_reduced(reduced)
            sp = rs.space
            if space is not None and get_space(space).fingerprint() != sp.fingerprint():
                shown = f" {reduced}" if isinstance(reduced, (str, Path)) else ""
                raise AutobuildError(f"--reduced{shown} is a reduced space of {sp.name!r}, not "
                                     f"{getattr(space, 'name', space)!r}")
        elif space is not None:
            sp = get_space(space)
        else:
            raise AutobuildError("give a space or a reduced space to search")
        self.evaluator = check_evaluator(evaluator, sp, [o.metric for o in objs], self._warn)
        strategy = strategy or ("autobuild" if rs is not None else "stage-full")
        self.strategy = make_strategy(strategy, sp, reduced=rs, device=device)  # a bad one fails before the journal
        self.space, self.reduced, self.objectives = sp, rs, objs
        self.config = SearchConfig(sp.to_dict(), strategy, describe(evaluator), objectives, initial, 0,
                                   per_iteration, seed, device, rs.to_dict() if rs is not None else None)
        self._evaluator_arg = evaluator
        self.journal_path = Path(journal) if journal is not None else None
        self._resumed = False

    # ------------------------------------------------------------------ resume
    @classmethod
    def resume(cls, journal: str | Path, evaluator: Any = None, warn: Callable[[str], None] | None = None,
               **asked: Any) -> "Search":
        """The interrupted run stored in ``journal`` (its lock taken: one writer at a time). ``asked``
        (``objectives=``, ``strategy=``, ``seed=``, ... in the stored form) are checked against the
        journal, a conflict being an error naming it; ``evaluator`` is needed only where the
        journal's evaluator was a Python object (``python:...``)."""
        from ..construction.reduced import reduced_from_dict
        from ..spaces import space_from_dict
        from .evaluators import describe
        from .journal import Journal
        from .objectives import parse_objectives
        from .setup import check_evaluator, resumed_config
        from .strategies import make_strategy

        if not isinstance(journal, (str, Path)):
            raise AutobuildError(f"journal must be a file path, got {type(journal).__name__}")
        path = Path(journal)
        if not path.is_file():
            raise AutobuildError(f"{path}: no such journal to resume")
        self = cls.__new__(cls)
        self._warn = warn or _warn_stderr
        self._executor = None
        self._journal = jr = Journal(str(path))
        try:
            stored = jr.get_config()
            if stored is None:
                raise AutobuildError(f"{path}: journal holds no search configuration")
            cfg = resumed_config(SearchConfig.from_dict(stored, f"{path}: stored search configuration"), asked, None)
            if evaluator is not None and describe(evaluator) != cfg.evaluator and \
                    not cfg.evaluator.startswith("python:"):
                raise AutobuildError(f"evaluator {describe(evaluator)} conflicts with the journal's {cfg.evaluator}")
            if evaluator is None:
                if cfg.evaluator.startswith("python:"):
                    raise AutobuildError(f"{path}: the run's evaluator was a Python object ({cfg.evaluator}); "
                                         "resume it from Python: Search.resume(journal, evaluator=...)")
                evaluator = cfg.evaluator
            sp = space_from_dict(cfg.space, "search space")
            rs = reduced_from_dict(cfg.reduced, f"{path}: reduced space") if cfg.reduced is not None else None
            objs = parse_objectives(cfg.objectives)
            self.evaluator = check_evaluator(evaluator, sp, [o.metric for o in objs], self._warn)
            self.strategy = make_strategy(cfg.strategy, sp, reduced=rs, device=cfg.device)
        except BaseException:
            jr.close()
            raise
        self.space, self.reduced, self.objectives, self.config = sp, rs, objs, cfg
        self._evaluator_arg = evaluator
        self.journal_path = path
        self._resumed = True
        return self

    # ------------------------------------------------------------------ running
    @property
    def evaluated(self) -> int:
        """Evaluations in the journal so far (0 without one)."""
        return self._journal.count() if self._journal is not None else 0

    def _open_journal(self, cfg: SearchConfig) -> None:
        from .setup import open_journal

        if self.journal_path is not None and self._journal is None:
            self._journal = open_journal(str(self.journal_path), cfg)

    def _executor_for(self, executor: Any, workers: int, ray_address: str | None) -> tuple[Any, Any]:
        """The executor and what it is handed as the evaluator (a spec string outside this process)."""
        from .evaluators import spec_of
        from .executors import make_executor

        ex = make_executor(executor, workers, ray_address) if isinstance(executor, str) else executor
        if not hasattr(ex, "run"):
            raise AutobuildError(f"executor must be 'inline', 'process', 'ray' or an executor object, got {executor!r}")
        if getattr(ex, "in_process", False):
            return ex, self.evaluator
        spec = spec_of(self._evaluator_arg)
        if spec is None:
            ex.close()
            raise AutobuildError(f"executor {ex.name!r} rebuilds the evaluator in other processes from a spec string "
                                 f"('onnx:METRIC=MODEL_DIR', 'count:SPACE', 'module:function'); "
                                 f"{self.config.evaluator} is a Python object: save the predictors, name the "
                                 "function as module:function, or use executor='inline'")
        return ex, spec

    def planned(self, budget: int | None = None) -> SearchConfig:
        """The settings ``run(budget)`` would use, checked: a new run's iterations; for a resumed run
        (or one run before) the journal's, or a larger budget's (a smaller one is an error)."""
        from dataclasses import replace

        from .setup import resumed_config

        if self._resumed:
            return resumed_config(self.config, {}, budget)
        iterations = budget_iterations(DEFAULT_BUDGET if budget is None else budget, self.config.initial,
                                       self.config.per_iteration)
        return replace(self.config, iterations=iterations)

    def run(self, budget: int | None = None, executor: Any = "process", workers: int = 2,
            ray_address: str | None = None, progress: Callable[[int], None] | None = None,
            on_start: Callable[[str], None] | None = None) -> SearchResult:
        """Evaluate up to ``budget`` archs in all (= initial + iterations x per-iteration; default
        250, or the journal's when resuming; a larger one extends a resumed run) and return the
        result: the archive, its Pareto ``front``, ``hypervolume(ref)``, ``summary()``.

        ``executor``: ``"process"`` (a local pool of ``workers``), ``"inline"`` (this process) or
        ``"ray"`` (``ray_address``, or a local Ray). ``progress(n)`` is told of every ``n`` archs done;
        ``on_start(line)`` gets a line describing the run once everything is set up."""
        if progress is not None and not callable(progress) or on_start is not None and not callable(on_start):
            raise AutobuildError("progress and on_start must be functions (or None)")
        cfg = self.planned(budget)
        if self._resumed and cfg != self.config and self._journal is not None:
            self._journal.set_config(cfg.to_dict())  # the extended run, journalled
        self.config = cfg
        ex, handed = self._executor_for(executor, workers, ray_address)
        self._executor = ex
        try:
            self._open_journal(cfg)
            info = self.strategy.info or f"{self.strategy.cardinality():.3g} archs"
            if on_start:
                on_start(describe_config(cfg, info, ex.name))
            res = run_search(cfg, self.space, self.strategy, ex, self._journal, handed,
                             progress=(lambda n, _: progress(n)) if progress else None)
        finally:
            ex.close()
            self._executor = None
        res.config = cfg
        self._resumed = True
        return res

    def close(self) -> None:
        """Release the journal (its lock) and any workers."""
        if self._executor is not None:
            self._executor.close()
            self._executor = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    def __repr__(self) -> str:
        return (f"Search({self.space.name!r}, {self.config.objectives!r}, strategy={self.config.strategy!r}, "
                f"evaluator={self.config.evaluator!r})")


def describe_config(cfg: SearchConfig, strategy_info: str, executor: str) -> str:
    """The line ``autobuild search`` starts with."""
    return (f"search {cfg.space.get('name', '?')} with {cfg.strategy} ({strategy_info}); objectives {cfg.objectives}; "
            f"budget {cfg.budget} = {cfg.initial} + {cfg.iterations} x {cfg.per_iteration}; "
            f"evaluator {cfg.evaluator}; executor {executor}")


__all__ = ["Search", "budget_iterations", "describe_config"]
