"""Training, written once: one model or an ensemble of ``folds x seeds`` members (paper Sec. 5.3) of
any registered kind, in memory or into a directory, resumable.

:class:`autobuild.Predictor.fit` is the only caller; the CLI, ``search --auto-equations`` and the
benchmarks all go through it. A model directory (or ensemble member) that already holds a model of
the same space, target and hyper-parameters is kept rather than trained again where the caller asks
for reuse (ensembles always: an interrupted ``train --folds 5 --seeds 4`` loses at most the member
in progress).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import AutobuildError
from .artifact import CONFIG, ModelArtifact, fitted_model, load_model, model_or_ensemble_files, save_model
from .kinds import get_kind

#: ``on_member(i, n, name, status)``: member ``i`` of ``n`` is trained now (``"train"``), kept
#: (``"kept"``), or trained and about to be saved (``"save"``).
OnMember = Callable[[int, int, str, str], None]


def same_hyperparameters(a: dict, b: dict) -> bool:
    """Equal hyper-parameters, ignoring those that do not change the result (threads)."""
    return {k: v for k, v in a.items() if k != "threads"} == {k: v for k, v in b.items() if k != "threads"}


def reusable(path: str | Path, space: Any, target: Any, cfg: Any, kind: str,
             data_info: dict | None = None) -> ModelArtifact | None:
    """The model at ``path`` if it loads for ``space`` and is a ``kind`` model trained for ``target``
    with ``cfg`` on the same data (``data_info["sha256"]``, where both record one); None otherwise
    (absent, damaged, of another space, settings or data: train it again)."""
    path = Path(path)
    if not (path / CONFIG).is_file():
        return None
    try:
        art = load_model(path, space=space)
    except AutobuildError:
        return None
    digest, stored = (data_info or {}).get("sha256"), (art.config.get("data") or {}).get("sha256")
    if digest and stored and digest != stored:
        return None
    if art.kind == kind and str(art.target) == str(target) and \
            same_hyperparameters(art.config["hyperparameters"], asdict(cfg)):
        return art
    return None


def check_output(out: str | Path | None, folds: int, seeds: int, overwrite: bool) -> None:
    """Refuse an unusable ``out`` before any data is read or anything trained (a single model;
    an ensemble directory is checked against its settings when they are known)."""
    if out is not None and folds * seeds == 1:
        from ..io_utils import check_output_dir

        check_output_dir(out, overwrite, model_or_ensemble_files)


def train_models(space: Any, codes: np.ndarray, y: np.ndarray, target: Any, kind: str, cfg: Any, data_info: dict,
                 folds: int = 1, seeds: int = 1, out: str | Path | None = None, overwrite: bool = False,
                 reuse: bool = False, progress: Callable[..., None] | None = None,
                 on_member: OnMember | None = None, on_start: Callable[[str], None] | None = None,
                 annotate: Callable[[dict], None] | None = None) -> list[ModelArtifact]:
    """Train ``folds x seeds`` models of ``kind`` (one when both are 1); returns the members.

    Member (fold f, seed j) holds out fold f of a k-fold partition drawn with ``cfg.seed`` (the
    usual random split when ``folds == 1``) and initialises with ``cfg.seed + j``. With ``out`` the
    members are saved as they finish: one model directory, or an ensemble directory of member
    directories plus ``ensemble.json`` (``on_start(state)`` says whether it is ``new``, resumed
    or replaced). ``annotate(report)`` may add to each fresh member's report before it is saved."""
    from .ensemble import check_members, ensemble_settings, member_name, start_ensemble_dir

    train = get_kind(kind).load("train")  # Predictor.fit has checked that the kind makes ensembles

    def fresh(i: int, name: str, member_cfg: Any, path: Path | None, replace: bool) -> ModelArtifact:
        result = train(space, codes, y, member_cfg, progress=progress)
        if annotate:
            annotate(result.report)
        art = fitted_model(result, space, target, data_info)
        if path is None:
            return art
        if on_member:
            on_member(i, n, name, "save")
        return save_model(path, art, overwrite=replace)

    n = folds * seeds
    if n == 1:
        name = Path(out).name if out is not None else "model"
        if out is not None:
            kept = reusable(out, space, target, cfg, kind, data_info) if reuse else None
            if kept is not None:
                if on_member:
                    on_member(0, 1, name, "kept")
                return [kept]
            check_output(out, 1, 1, overwrite)
        if on_member:
            on_member(0, 1, name, "train")
        return [fresh(0, name, cfg, Path(out) if out is not None else None, overwrite)]

    member_cfgs = check_members(space, y, cfg, folds, seeds)  # every member trainable, before anything is written
    names = [member_name(f, j) for f in range(folds) for j in range(seeds)]
    if out is not None:
        state = start_ensemble_dir(out, ensemble_settings(space, target, cfg, folds, seeds, data_info), names, overwrite)
        if on_start:
            on_start(state)
    members = []
    for i, (name, member_cfg) in enumerate(zip(names, member_cfgs)):
        path = Path(out) / name if out is not None else None
        kept = reusable(path, space, target, member_cfg, kind, data_info) if path is not None else None
        if on_member:
            on_member(i, len(names), name, "kept" if kept is not None else "train")
        members.append(kept if kept is not None else fresh(i, name, member_cfg, path, True))
    return members
