"""``autobuild search --auto-equations P``: derive P target equations from the labelled data
(:mod:`.auto_equations`), train one predictor each, score all modules, keep the top-K per stage of
each and unite them into the reduced space the ``autobuild`` strategy searches. Trained predictors
are kept in a work directory, so an interrupted preparation resumes where it stopped."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Callable

from ..errors import AutobuildError

_WORK_ENTRY = re.compile(r"^(eq\d+-[0-9a-f]{8}|reduced\.json|\..*\.ab\d+-\w+\.(tmp|old))$")


def check_work_dir(work: str | Path) -> None:
    """A work directory is new, empty or one that ``--auto-equations`` wrote (nothing else in it)."""
    w = Path(work)
    if not w.exists():
        return
    if not w.is_dir():
        raise AutobuildError(f"--work {w}: exists and is not a directory")
    foreign = sorted(e for e in (p.name for p in w.iterdir()) if not _WORK_ENTRY.match(e))
    if foreign:
        raise AutobuildError(f"--work {w}: holds {foreign[0]!r}, which --auto-equations did not write; "
                             "choose another --work directory")


def build_auto_reduced(space: Any, table: Any, objectives: Any, p: int, k: int, epochs: int, work: str | Path,
                       seed: int = 0, log: Callable[[str], None] = print) -> tuple[Any, list[str]]:
    from ..build import select_modules, unite
    from ..data import TargetEquation
    from ..models.reuse import load_or_train, reusable
    from ..models.trainer import TrainConfig
    from ..scoring import score_modules
    from .auto_equations import auto_equations

    eqs = auto_equations(table.metrics, objectives, p)
    work = Path(work)
    check_work_dir(work)
    work.mkdir(parents=True, exist_ok=True)
    codes = space.encode(table.archs)
    selections, names = [], []
    for i, text in enumerate(eqs):
        eq = TargetEquation(text)
        path = work / f"eq{i}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
        cfg = TrainConfig(epochs=epochs, seed=seed)
        if reusable(path, space, eq, cfg) is None:
            log(f"equation {i + 1}/{len(eqs)}: training on {len(table)} archs: {text}")
        else:
            log(f"equation {i + 1}/{len(eqs)}: reusing {path}")
        art, _ = load_or_train(path, space, codes, eq.evaluate(table.metrics), eq, cfg,
                               {"source": table.source, "n": len(table)})
        scores = score_modules([art], runtime="torch")  # torch is loaded for training anyway
        selections.append((scores, select_modules(scores, k)))
        names.append(f"auto{i}: {text}")
    rs = unite(selections, names)
    rs.save(work / "reduced.json")
    return rs, eqs
