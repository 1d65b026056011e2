"""The random-mutation Pareto evolutionary algorithm of the paper's NAS experiments (Sec. 7.5).

An initial pool of random archs of the strategy's space is evaluated; then every iteration mutates
archs of the current Pareto front into a set number of new, never-evaluated archs, evaluates them and
merges them into the archive (budget = initial + iterations x per-iteration; paper: 50 + 4 x 50).

Every proposal is a pure function of the seed and of the metrics already seen, and each evaluation
is journaled the moment it returns. Resuming therefore replays the run, answering proposals from the
journal and evaluating only what is missing: nothing is lost, nothing is evaluated twice, and the
final front equals an uninterrupted run's.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from .. import core
from ..errors import AutobuildError
from ..spaces.protocol import SearchSpace
from .journal import Journal, metrics_row
from .objectives import Objective, hypervolume, minimisation_matrix, parse_objectives


@dataclass
class SearchConfig:
    """Settings that define a run (stored in its journal; a resume must match them)."""

    space: dict
    strategy: str
    evaluator: str
    objectives: str
    initial: int = 50
    iterations: int = 4
    per_iteration: int = 50
    seed: int = 0
    device: str | None = None
    reduced: dict | None = None

    @property
    def budget(self) -> int:
        return self.initial + self.iterations * self.per_iteration

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "SearchConfig":
        """Rebuild stored settings, checking every field (one error line naming it)."""
        from dataclasses import fields

        if not isinstance(d, dict):
            raise AutobuildError(f"{where}: not a mapping")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise AutobuildError(f"{where}: unknown field {unknown[0]!r}")
        types = {"space": dict, "strategy": str, "evaluator": str, "objectives": str, "initial": int,
                 "iterations": int, "per_iteration": int, "seed": int, "device": (str, type(None)),
                 "reduced": (dict, type(None))}
        for name in ("space", "strategy", "evaluator", "objectives"):
            if name not in d:
                raise AutobuildError(f"{where}: missing field {name!r}")
        for name, v in d.items():
            if isinstance(v, bool) or not isinstance(v, types[name]):
                raise AutobuildError(f"{where}: field {name!r} has the wrong type ({type(v).__name__})")
        cfg = cls(**d)
        if cfg.initial < 1 or cfg.per_iteration < 1 or cfg.iterations < 0 or cfg.seed < 0:
            raise AutobuildError(f"{where}: sizes must be positive (initial, per_iteration >= 1, iterations >= 0, seed >= 0)")
        return cfg


@dataclass
class SearchResult:
    space: SearchSpace
    objectives: list[Objective]
    codes: np.ndarray
    metrics: dict[str, np.ndarray]
    iteration: np.ndarray
    evaluated_now: int = 0
    reused: int = 0
    notes: list[str] = field(default_factory=list)
    config: SearchConfig | None = None

    def __len__(self) -> int:
        return len(self.codes)

    def archs(self, idx: np.ndarray | None = None, pad: str = "repeat") -> list[dict]:
        """The evaluated archs (``idx``: some of them, e.g. ``front``) as arch dicts."""
        return self.space.decode(self.codes if idx is None else self.codes[idx], pad)

    def write_front(self, path: str, pad: str = "repeat") -> None:
        """The front as a CSV/JSONL of arch + objectives, best first by the first objective (atomic)."""
        from ..data.table import write_labelled

        front = self.front
        write_labelled(path, self.archs(front, pad), {k: v[front] for k, v in self.metrics.items()})

    def summary(self) -> list[str]:
        """What was found, in words: evaluation counts, the front's size, its depths and layer choices."""
        from ..construction.summary import codes_composition

        lines = [f"evaluated {self.evaluated_now} archs now, {self.reused} from the journal; front of {len(self.front)}"]
        if len(self.front):
            lines += codes_composition(self.space, self.codes[self.front], "front")
        return lines

    @property
    def rank(self) -> np.ndarray:
        return core.non_dominated_rank(minimisation_matrix(self.objectives, self.metrics))

    @property
    def front(self) -> np.ndarray:
        """Indices of the Pareto front, sorted by the first objective (best first)."""
        idx = np.flatnonzero(self.rank == 0)
        first = self.objectives[0]
        key = -self.metrics[first.metric][idx] if first.maximize else self.metrics[first.metric][idx]
        return idx[np.argsort(key, kind="stable")]

    def hypervolume(self, ref: dict[str, float], idx: np.ndarray | None = None) -> float:
        """2-D hypervolume of the archs ``idx`` (default: all) w.r.t. ``ref`` (metric -> value)."""
        idx = np.arange(len(self.codes)) if idx is None else idx
        return hypervolume(self.objectives, {k: v[idx] for k, v in self.metrics.items()}, ref)


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1, np.uint64)[0] >> 1)


def run_search(
    cfg: SearchConfig, space: SearchSpace, strategy: Any, executor: Any, journal: Journal | None = None,
    evaluator: Any = None, progress: Callable[[int, dict], None] | None = None,
) -> SearchResult:
    """Run (or resume, when ``journal`` holds evaluations of this config) the evolutionary search.
    ``evaluator``: what the executor evaluates with (default: ``cfg.evaluator``, a spec string)."""
    evaluator = cfg.evaluator if evaluator is None else evaluator
    objectives = parse_objectives(cfg.objectives)
    names = [o.metric for o in objectives]
    if cfg.initial < 1 or cfg.per_iteration < 1 or cfg.iterations < 0:
        raise AutobuildError("initial and per-iteration sizes must be >= 1, iterations >= 0")
    known = journal.load() if journal is not None else {}
    codes: list[np.ndarray] = []
    rows: list[dict[str, float]] = []
    its: list[int] = []
    seen: set[int] = set()
    stats = {"evaluated": 0, "reused": 0}
    notes: list[str] = []

    def evaluate(batch: np.ndarray, it: int) -> None:
        h = core.hash_codes(batch)
        archs = space.decode(batch)
        got: dict[int, dict[str, float]] = {}
        todo = []
        for i in range(len(batch)):
            if int(h[i]) in known and all(n in known[int(h[i])] for n in names):
                got[i] = known[int(h[i])]
            else:
                todo.append(i)
        if got:
            stats["reused"] += len(got)
            if progress:
                progress(len(got), {})
        if todo:
            todo_arr = np.array(todo)
            t0 = time.perf_counter()

            def on_result(local: np.ndarray, mets: dict) -> None:
                dt = (time.perf_counter() - t0) / max(1, len(local))
                recs = []
                for j, i in enumerate(todo_arr[local]):
                    m = metrics_row(mets, j)
                    got[int(i)] = m
                    known[int(h[i])] = m
                    recs.append((int(h[i]), archs[i], m, it, dt))
                if journal is not None:
                    journal.record(recs)
                stats["evaluated"] += len(local)
                if progress:
                    progress(len(local), {})

            executor.run(evaluator, [archs[i] for i in todo], names, on_result)
        for i in range(len(batch)):  # archive order = proposal order, whatever the completion order
            codes.append(batch[i])
            rows.append(got[i])
            its.append(it)
            seen.add(int(h[i]))

    init = space.canonical_codes(strategy.initial(cfg.initial, _seed(cfg.seed, 0)))
    evaluate(init, 0)
    for it in range(1, cfg.iterations + 1):
        metrics = {n: np.array([r[n] for r in rows]) for n in names}
        rank = core.non_dominated_rank(minimisation_matrix(objectives, metrics))
        parents = np.stack(codes)[rank == 0]
        children: list[np.ndarray] = []
        fresh: set[int] = set()
        for attempt in range(32):
            need = cfg.per_iteration - len(children)
            if need <= 0:
                break
            cand = space.canonical_codes(strategy.mutate(parents, 2 * need, _seed(cfg.seed, it, attempt)))
            for c, h in zip(cand, core.hash_codes(cand)):
                if int(h) not in seen and int(h) not in fresh:
                    fresh.add(int(h))
                    children.append(c)
                    if len(children) == cfg.per_iteration:
                        break
        if len(children) < cfg.per_iteration:
            notes.append(f"iteration {it}: only {len(children)} new archs could be found around the front")
        if children:
            evaluate(np.stack(children), it)
    metrics = {n: np.array([r[n] for r in rows]) for n in names}
    return SearchResult(space, objectives, np.stack(codes), metrics, np.array(its), stats["evaluated"], stats["reused"], notes)
