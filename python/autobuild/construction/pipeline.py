"""The train -> score -> select pipeline of AutoBuild as one function (paper Sec. 4-5): used by
``search --auto-equations`` and the benchmarks, so the steps are written once. Trained predictors
are kept in (and reused from) model directories, so an interrupted pipeline resumes."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .reduced import ReducedSpace
from .select import select_modules, unite


def model_dir_for(work: str | Path, equation: str, prefix: str = "eq") -> Path:
    """Where the predictor of ``equation`` lives under ``work`` (stable across runs)."""
    return Path(work) / f"{prefix}-{hashlib.sha1(equation.encode()).hexdigest()[:8]}"


def train_score_select(space: Any, table: Any, equation: str, k: int, hyper: Mapping[str, Any], model_dir: str | Path,
                       constrained: bool = False, runtime: str = "onnx",
                       log: Callable[[str], None] | None = None) -> tuple[Any, Any, dict]:
    """Train (or reuse) the predictor of one target equation, score every module (Eq. 5) and keep the
    top-``k`` per stage. Returns ``(Predictor, ModuleScores, selection)``."""
    from ..predictor import Predictor

    def said(i: int, n: int, name: str, status: str) -> None:  # what fit decided: kept or trained now
        if log and status in ("kept", "train"):
            log(f"reusing {model_dir}" if status == "kept" else f"training on {len(table)} archs: {equation}")

    p = Predictor(space, equation, runtime=runtime, **hyper)
    p.fit(table, out=model_dir, reuse=True, overwrite=True, on_member=said)
    scores = p.score()
    return p, scores, select_modules(scores, k, constrained)


def build_from_equations(space: Any, table: Any, equations: Sequence[str], k: int, hyper: Mapping[str, Any],
                         work: str | Path, constrained: bool = False, runtime: str = "onnx", prefix: str = "eq",
                         log: Callable[[str], None] | None = None) -> tuple[ReducedSpace, list[Any]]:
    """The reduced space united from the top-``k`` modules of one predictor per equation (Sec. 7.2)."""
    selections, names, models = [], [], []
    for i, text in enumerate(equations):
        step = (lambda m, i=i: log(f"equation {i + 1}/{len(equations)}: {m}")) if log else None
        p, scores, sel = train_score_select(space, table, text, k, hyper, model_dir_for(work, text, f"{prefix}{i}"),
                                            constrained, runtime, step)
        selections.append((scores, sel))
        names.append(f"{prefix}{i}: {text}")
        models.append(p)
    return unite(selections, names), models
