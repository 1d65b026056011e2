"""Search objectives: ``acc:max,latency_gpu:min`` -> metric names and senses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..errors import AutobuildError


@dataclass(frozen=True)
class Objective:
    metric: str
    maximize: bool

    def __str__(self) -> str:
        return f"{self.metric}:{'max' if self.maximize else 'min'}"


def parse_objectives(text: str) -> list[Objective]:
    """Parse ``NAME:max|min`` pairs separated by commas (at least one, names unique)."""
    out = []
    for part in (p.strip() for p in str(text).split(",")):
        if not part:
            continue
        name, _, sense = part.partition(":")
        sense = sense.strip().lower() or "max"
        if not name.strip().isidentifier() or sense not in ("max", "min"):
            raise AutobuildError(f"objective {part!r}: expected NAME:max or NAME:min")
        out.append(Objective(name.strip(), sense == "max"))
    if not out:
        raise AutobuildError("no objective given (e.g. acc:max,latency_gpu:min)")
    if len({o.metric for o in out}) != len(out):
        raise AutobuildError(f"objectives {text!r} name a metric twice")
    return out


def minimisation_matrix(objectives: Sequence[Objective], metrics: Mapping[str, np.ndarray]) -> np.ndarray:
    """``[N, M]`` matrix where every column is to be minimised (maximised metrics negated)."""
    cols = [(-1.0 if o.maximize else 1.0) * np.asarray(metrics[o.metric], dtype=np.float64) for o in objectives]
    return np.stack(cols, axis=1) if cols else np.zeros((0, 0))


def objective_columns(spec: str, objectives: Sequence[Objective]) -> dict[str, np.ndarray]:
    """The objectives' metric columns of labelled data (CSV/JSONL or ``builtin:NAME``), e.g. to draw
    the data's own Pareto front beside a search's; a missing column is an error naming the file."""
    from ..data.builtin import resolve_data
    from ..data.table import read_labelled

    table = read_labelled(resolve_data(spec), require_metrics=[o.metric for o in objectives])
    return {o.metric: table.metrics[o.metric] for o in objectives}


def hypervolume(objectives: Sequence[Objective], metrics: Mapping[str, np.ndarray], ref: Mapping[str, float]) -> float:
    """2-D hypervolume of the points ``metrics`` (metric -> values) w.r.t. ``ref`` (metric -> value)."""
    from .. import core

    if len(objectives) != 2:
        raise AutobuildError("hypervolume needs exactly two objectives")
    pts = minimisation_matrix(objectives, metrics)
    r = np.array([(-1 if o.maximize else 1) * float(ref[o.metric]) for o in objectives])
    return float(core.hypervolume_2d(pts, r))
