"""``autobuild search --auto-equations P``: derive P target equations from the labelled data
(:mod:`.auto_equations`), train one predictor each, score all modules, keep the top-K per stage of
each and unite them into the reduced space the ``autobuild`` strategy searches. Trained predictors
are kept in a work directory, so an interrupted preparation resumes where it stopped."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

from ..errors import AutobuildError


def build_auto_reduced(space: Any, table: Any, objectives: Any, p: int, k: int, epochs: int, work: str | Path,
                       seed: int = 0, log: Callable[[str], None] = print) -> tuple[Any, list[str]]:
    from ..build import select_modules, unite
    from ..data import TargetEquation
    from ..models.artifact import load_model, save_model
    from ..models.trainer import TrainConfig, train_predictor
    from ..scoring import score_modules
    from .auto_equations import auto_equations

    eqs = auto_equations(table.metrics, objectives, p)
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    codes = space.encode(table.archs)
    selections, names = [], []
    for i, text in enumerate(eqs):
        eq = TargetEquation(text)
        path = work / f"eq{i}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
        art = None
        if path.is_dir():
            try:
                art = load_model(path, space=space)
                if str(art.target) != text or art.config["hyperparameters"]["epochs"] != epochs:
                    art = None
            except AutobuildError:
                art = None
        if art is None:
            log(f"equation {i + 1}/{len(eqs)}: training on {len(table)} archs: {text}")
            res = train_predictor(space, codes, eq.evaluate(table.metrics), TrainConfig(epochs=epochs, seed=seed))
            art = load_model(save_model(path, res, space, eq, {"source": table.source, "n": len(table)}), space=space)
        else:
            log(f"equation {i + 1}/{len(eqs)}: reusing {path}")
        scores = score_modules([art])
        selections.append((scores, select_modules(scores, k)))
        names.append(f"auto{i}: {text}")
    rs = unite(selections, names)
    rs.save(work / "reduced.json")
    return rs, eqs
