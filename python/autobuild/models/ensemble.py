"""Ensembles of AutoBuild predictors (paper Sec. 5.3): ``folds x seeds`` members trained on the
folds of one labelled set, stored as a directory of model directories plus ``ensemble.json``.

Training is resumable: a member whose model directory already loads with the same settings is kept,
so an interrupted ``autobuild train --folds 5 --seeds 4`` loses at most the member in progress.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AutobuildError
from ..io_utils import atomic_write_text
from ..manifest import check_seal, seal
from .artifact import CONFIG, ModelArtifact, load_model

MANIFEST = "ensemble.json"
FORMAT = "autobuild-ensemble"


def member_name(fold: int, seed_index: int) -> str:
    return f"fold{fold}-seed{seed_index}"


def ensemble_settings(space: Any, target: Any, cfg: Any, folds: int, seeds: int, data_info: dict) -> dict:
    base = asdict(cfg)
    for k in ("fold", "folds", "split_seed", "threads"):
        base.pop(k, None)
    return {"space_fingerprint": space.fingerprint(), "target": str(target), "folds": folds, "seeds": seeds,
            "hyperparameters": base, "data": data_info}


def check_members(space: Any, y: np.ndarray, cfg: Any, folds: int, seeds: int) -> list[Any]:
    """The member configs, each checked trainable on ``y`` (split sizes, label spread) before
    anything is written, so an infeasible ensemble leaves no trace."""
    from .fitting import split_and_moments
    from .fitting import split_indices

    if folds < 1 or seeds < 1:
        raise AutobuildError(f"folds and seeds must be >= 1, got {folds} and {seeds}")
    cfgs = [replace(cfg, seed=cfg.seed + j, split_seed=cfg.seed, folds=folds if folds >= 2 else 0, fold=f)
            for f in range(folds) for j in range(seeds)]
    for c in cfgs:
        c.validate()
        split_and_moments(np.asarray(y, dtype=np.float64), c, split_indices)
    return cfgs


def ensemble_files(path: str | Path) -> set[str] | None:
    """What autobuild wrote in an ensemble directory (None: not an ensemble directory)."""
    try:
        m = _read_manifest(Path(path))
    except AutobuildError:
        return None
    return {MANIFEST, *m["members"]}


def _complete(out: Path, names: list[str]) -> list[str]:
    return [n for n in names if (out / n / "manifest.json").is_file()]


def same_settings(stored: dict, settings: dict) -> bool:
    """Whether an ensemble directory's settings are ``settings``; one written before the data
    digest was recorded (autobuild 0.5) is compared without it."""
    if "sha256" not in (stored.get("data") or {}) and "sha256" in (settings.get("data") or {}):
        settings = {**settings, "data": {k: v for k, v in settings["data"].items() if k != "sha256"}}
    return stored == settings


def prepare_ensemble_dir(out: str | Path, settings: dict, overwrite: bool) -> str:
    """Decide what to do with ``out`` before training: ``"new"``, ``"resume"`` (same settings) or
    ``"replace"`` (done here: the old ensemble is removed). Raises unless that is safe."""
    from ..io_utils import check_output_dir
    from .artifact import model_dir_files

    out = Path(out)
    if (out / MANIFEST).is_file():
        old = _read_manifest(out)
        if same_settings(old["settings"], settings):
            return "resume"
        done = _complete(out, old["members"])
        if done and not overwrite:
            raise AutobuildError(f"--out {out}: holds an ensemble trained with other settings ({len(done)} members); "
                                 "pass --overwrite to replace it, or use another --out")
        owned = ensemble_files
    else:
        owned = model_dir_files
    # An ensemble of other settings with no finished member (a failed run) is replaced without --overwrite.
    if not check_output_dir(out, overwrite or (out / MANIFEST).is_file(), owned):
        return "new"
    from ..io_utils import replace_dir_start

    replace_dir_start(out)
    return "replace"


def start_ensemble_dir(out: str | Path, settings: dict, names: list[str], overwrite: bool) -> str:
    """Make ``out`` ready for the members (:func:`prepare_ensemble_dir`, then the sealed manifest);
    returns the state (``new``, ``resume``, ``replace``)."""
    out = Path(out)
    state = prepare_ensemble_dir(out, settings, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / MANIFEST).is_file():
        atomic_write_text(out / MANIFEST, json.dumps(seal({"format": FORMAT, "settings": settings, "members": names}),
                                                     indent=1) + "\n")
    return state


def _read_manifest(path: Path) -> dict:
    from ..safe_input import parse_json, read_text

    mp = path / MANIFEST
    try:
        m = parse_json(read_text(mp, "ensemble manifest", 16 << 20), str(mp))
    except OSError as e:
        raise AutobuildError(f"{mp}: cannot read ensemble manifest: {e}") from None
    if not isinstance(m, dict) or m.get("format") != FORMAT or not isinstance(m.get("members"), list):
        raise AutobuildError(f"{mp}: not an autobuild ensemble manifest")
    check_seal(m, str(mp))
    if not all(isinstance(n, str) and n and "/" not in n and not n.startswith(".") for n in m["members"]) \
            or not isinstance(m.get("settings"), dict):
        raise AutobuildError(f"{mp}: bad member list or settings")
    return m


def ensemble_manifest(path: str | Path) -> tuple[dict, list[str]]:
    """``(settings, member names)`` of an ensemble directory (checked)."""
    m = _read_manifest(Path(path))
    return dict(m["settings"]), list(m["members"])


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
    members = [load_model(path / n, space=space) for n in m["members"]]
    st = m["settings"]
    for n, art in zip(m["members"], members):
        if art.space.fingerprint() != st.get("space_fingerprint") or str(art.target) != st.get("target"):
            raise AutobuildError(f"{path / n}: member of another space or target than its ensemble ({MANIFEST})")
    return members


def load_models(paths: list[str | Path], space: Any = None) -> list[ModelArtifact]:
    """Model directories and ensemble directories, flattened into one list of members."""
    out: list[ModelArtifact] = []
    for p in paths:
        out.extend(load_ensemble(p, space) if is_ensemble(p) else [load_model(p, space=space)])
    return out


def ensemble_report(members: list[ModelArtifact]) -> dict:
    """The members' mean held-out metrics and mean FE-MLP importance (``*_std``: their spread), what
    ``info``, ``plot hops`` and ``plot importance`` show of an ensemble."""
    tests = [m.report["test"] for m in members]
    depth = min(len(t["srcc_hop"]) for t in tests)  # members of other depths: the hops they all have
    hops = np.array([t["srcc_hop"][:depth] for t in tests], dtype=np.float64)
    pred = np.array([t["srcc_pred"] for t in tests], dtype=np.float64)
    test = {"n": int(sum(t["n"] for t in tests)), "srcc_hop": hops.mean(0).tolist(), "srcc_hop_std": hops.std(0).tolist(),
            "srcc_pred": float(pred.mean()), "srcc_pred_std": float(pred.std()),
            "mae": float(np.mean([t["mae"] for t in tests]))}
    imp: dict[str, dict] = {}
    for name, d in (members[0].report.get("fe_importance") or {}).items():
        scores = np.array([m.report["fe_importance"][name]["score"] for m in members], dtype=np.float64)
        imp[name] = {"values": d["values"], "score": scores.mean(0).tolist(), "score_std": scores.std(0).tolist()}
        if all("count" in m.report["fe_importance"][name] for m in members):
            imp[name]["count"] = np.sum([m.report["fe_importance"][name]["count"] for m in members], 0).tolist()
    return {"kind": members[0].kind, "test": test, "fe_importance": imp, "members": len(members)}
