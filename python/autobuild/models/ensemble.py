"""Ensembles of AutoBuild predictors (paper Sec. 5.3): ``folds x seeds`` members trained on the
folds of one labelled set, stored as a directory of model directories plus ``ensemble.json``.

Training is resumable: a member whose model directory already loads with the same settings is kept,
so an interrupted ``autobuild train --folds 5 --seeds 4`` loses at most the member in progress.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import AutobuildError
from ..io_utils import atomic_write_text
from .artifact import CONFIG, ModelArtifact, load_model
from .reuse import reusable

MANIFEST = "ensemble.json"
FORMAT = "autobuild-ensemble"


def member_name(fold: int, seed_index: int) -> str:
    return f"fold{fold}-seed{seed_index}"


def _settings(space: Any, target: Any, cfg: Any, folds: int, seeds: int, data_info: dict) -> dict:
    base = asdict(cfg)
    for k in ("fold", "folds", "split_seed", "threads"):
        base.pop(k, None)
    return {"space_fingerprint": space.fingerprint(), "target": str(target), "folds": folds, "seeds": seeds,
            "hyperparameters": base, "data": data_info}


def train_ensemble(
    space: Any, codes: np.ndarray, y: np.ndarray, target: Any, cfg: Any, folds: int, seeds: int, out: str | Path,
    data_info: dict, progress: Callable[[int, float], None] | None = None,
    on_member: Callable[[int, int, str, str], None] | None = None,
) -> list[Path]:
    """Train (or resume) ``folds x seeds`` members into ``out``; returns the member directories.

    Member (fold f, seed j) holds out fold f of a k-fold partition drawn with ``cfg.seed`` (or the
    usual random split when ``folds == 1``) and initialises with ``cfg.seed + j``.
    ``on_member(i, n, name, status)`` reports ``train`` / ``kept`` per member."""
    from .artifact import save_model
    from .trainer import train_predictor

    if folds < 1 or seeds < 1:
        raise AutobuildError(f"folds and seeds must be >= 1, got {folds} and {seeds}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise AutobuildError(f"{out}: exists and is not a directory")
    settings = _settings(space, target, cfg, folds, seeds, data_info)
    manifest_path = out / MANIFEST
    if manifest_path.is_file():
        old = _read_manifest(out)
        if old["settings"] != settings:
            raise AutobuildError(f"{out}: holds an ensemble trained with other settings; use another --out or delete it")
    elif out.is_dir() and any(out.iterdir()):
        raise AutobuildError(f"{out}: exists and is not an ensemble directory")
    names = [member_name(f, j) for f in range(folds) for j in range(seeds)]
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(manifest_path, json.dumps({"format": FORMAT, "settings": settings, "members": names}, indent=1) + "\n")
    paths = []
    for i, (f, j) in enumerate((f, j) for f in range(folds) for j in range(seeds)):
        name = member_name(f, j)
        path = out / name
        member_cfg = replace(cfg, seed=cfg.seed + j, split_seed=cfg.seed, folds=folds if folds >= 2 else 0, fold=f)
        if reusable(path, space, target, member_cfg) is not None:
            paths.append(path)
            if on_member:
                on_member(i, len(names), name, "kept")
            continue
        if on_member:
            on_member(i, len(names), name, "train")
        result = train_predictor(space, codes, y, member_cfg, progress=progress)
        save_model(path, result, space, target, data_info)
        paths.append(path)
    return paths


def _read_manifest(path: Path) -> dict:
    mp = path / MANIFEST
    try:
        m = json.loads(mp.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AutobuildError(f"{mp}: cannot read ensemble manifest: {e}") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT or not isinstance(m.get("members"), list):
        raise AutobuildError(f"{mp}: not an autobuild ensemble manifest")
    return m


def is_ensemble(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def load_ensemble(path: str | Path, space: Any = None) -> list[ModelArtifact]:
    """All members of an ensemble directory; an incomplete ensemble is an error that says how to resume."""
    path = Path(path)
    m = _read_manifest(path)
    missing = [n for n in m["members"] if not (path / n / CONFIG).is_file()]
    if missing:
        raise AutobuildError(
            f"{path}: ensemble incomplete ({len(missing)} of {len(m['members'])} members missing, e.g. {missing[0]}); "
            "rerun the same `autobuild train` command to resume"
        )
    return [load_model(path / n, space=space) for n in m["members"]]


def load_models(paths: list[str | Path], space: Any = None) -> list[ModelArtifact]:
    """Model directories and ensemble directories, flattened into one list of members."""
    out: list[ModelArtifact] = []
    for p in paths:
        out.extend(load_ensemble(p, space) if is_ensemble(p) else [load_model(p, space=space)])
    return out
