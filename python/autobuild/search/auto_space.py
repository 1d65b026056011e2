"""``autobuild search --auto-equations P``: derive P target equations from the labelled data
(:mod:`.auto_equations`), train one predictor each, score all modules, keep the top-K per stage of
each and unite them into the reduced space the ``autobuild`` strategy searches. Trained predictors
are kept in a work directory, so an interrupted preparation resumes where it stopped."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable

from ..errors import AutobuildError

_WORK_ENTRY = re.compile(r"^(auto\d+-[0-9a-f]{8}|reduced\.json|\..*\.ab\d+-\w+\.(tmp|old))$")


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
    """Derive ``p`` equations from the data's Pareto hull, then train / score / select / unite
    (:func:`autobuild.construction.build_from_equations`); the reduced space is saved in ``work``.
    ``space``: a name or space; ``table``: labelled data (a path, ``builtin:NAME`` or a table);
    ``objectives``: ``"acc:max,latency_gpu:min"`` or parsed. Returns ``(reduced space, equations)``."""
    from ..construction import build_from_equations
    from ..data.table import LabelledTable, read_labelled
    from ..spaces import get_space
    from .auto_equations import auto_equations
    from .objectives import parse_objectives

    space = get_space(space)
    if not isinstance(table, LabelledTable):
        table = read_labelled(table, validate=space.validate)
    if isinstance(objectives, str):
        objectives = parse_objectives(objectives)

    eqs = auto_equations(table.metrics, objectives, p)
    work = Path(work)
    check_work_dir(work)
    work.mkdir(parents=True, exist_ok=True)
    rs, _ = build_from_equations(space, table, eqs, k, {"epochs": epochs, "seed": seed}, work, prefix="auto",
                                 log=log)
    rs.save(work / "reduced.json")
    return rs, eqs
