"""Reusing trained predictors: a model directory is kept when it loads and was trained for the same
target with the same hyper-parameters, so long runs (ensembles, ``--auto-equations``, benchmarks)
resume without retraining what they already have."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import AutobuildError
from .artifact import CONFIG, ModelArtifact, load_model


def same_hyperparameters(a: dict, b: dict) -> bool:
    """Equal hyper-parameters, ignoring those that do not change the result (threads)."""
    return {k: v for k, v in a.items() if k != "threads"} == {k: v for k, v in b.items() if k != "threads"}


def reusable(path: str | Path, space: Any, target: Any, cfg: Any) -> ModelArtifact | None:
    """The model at ``path`` if it loads for ``space`` and was trained for ``target`` with ``cfg``."""
    path = Path(path)
    if not (path / CONFIG).is_file():
        return None
    try:
        art = load_model(path, space=space)
    except AutobuildError:
        return None  # damaged or of another space: train it again
    if str(art.target) == str(target) and same_hyperparameters(art.config["hyperparameters"], asdict(cfg)):
        return art
    return None


def load_or_train(path: str | Path, space: Any, codes: np.ndarray, y: np.ndarray, target: Any, cfg: Any,
                  data_info: dict, progress: Callable[[int, float], None] | None = None) -> tuple[ModelArtifact, bool]:
    """A reusable model at ``path``, or an AutoBuild predictor trained with ``cfg`` and saved there;
    the flag says whether it was trained now."""
    from .artifact import save_model
    from .trainer import train_predictor

    art = reusable(path, space, target, cfg)
    if art is not None:
        return art, False
    result = train_predictor(space, codes, y, cfg, progress=progress)
    return load_model(save_model(path, result, space, target, data_info, overwrite=True), space=space), True
