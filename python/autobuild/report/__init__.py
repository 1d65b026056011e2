"""``autobuild report``: one self-contained HTML page for models, ensembles, scores files and search
journals (:func:`write_report`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..errors import AutobuildError
from .page import Page

__all__ = ["Page", "classify", "write_report"]


def classify(path: str) -> tuple[str, Any]:
    """``("model", Predictor)``, ``("scores", ModuleScores)`` or ``("search", (config, result))``."""
    from ..search.replay import is_journal, read_search

    p = Path(path)
    if p.is_dir():
        from ..predictor import Predictor

        return "model", Predictor.load(p)
    if not p.exists():
        raise AutobuildError(f"{p}: no such file or directory")
    if not p.is_file():
        raise AutobuildError(f"{p}: not a regular file (a pipe or a device?)")
    if is_journal(p):
        return "search", read_search(p)
    if p.name.lower().endswith((".csv", ".csv.gz")):
        from ..scoring import read_scores

        return "scores", read_scores(p)
    raise AutobuildError(f"{p}: not a model directory, a scores CSV (`autobuild score`) or a search journal "
                         "(`autobuild search --journal`)")


def write_report(inputs: Sequence[str], out: str | Path, k: int = 3, constrained: bool = False,
                 ref: Mapping[str, float] | None = None, data_front: str | None = None, title: str | None = None,
                 status: Callable[[str], None] | None = None) -> Path:
    """Write one HTML page reporting on every input (model or ensemble directories, scores CSVs,
    search journals) to ``out`` (atomically); returns its path. ``k`` / ``constrained`` pick the
    build summarised for each scores file; ``ref`` is the hypervolume reference point (default: the
    worst evaluated value per objective); ``data_front`` labelled data whose front the search plots
    draw for comparison."""
    from .. import __version__
    from ..io_utils import atomic_write_text
    from .sections import model_section, renderer, scores_section, search_section, temporary_dir

    say = status or (lambda _m: None)
    if not inputs:
        raise AutobuildError("give at least one model directory, scores CSV or search journal")
    loaded = []
    for p in inputs:
        say(f"reading {p}")
        loaded.append((p, *classify(p)))
    if data_front:
        searches = [obj[1] for _, kind, obj in loaded if kind == "search"]
        if not searches or any(len(r.objectives) != 2 for r in searches):
            raise AutobuildError("--data-front draws beside a 2-objective search journal's front; give one "
                                 "(and only 2-objective ones)")
    models = {}
    for p, kind, obj in loaded:
        if kind == "model":
            models[str(p).rstrip("/")] = obj  # as given: two runs/*/model directories stay two
    page = Page(title or "autobuild report",
                f"autobuild {__version__}, {time.strftime('%Y-%m-%d %H:%M')}; inputs: " + ", ".join(str(p) for p in inputs))
    with temporary_dir() as tmp:
        render = renderer(tmp)
        order = {"model": 0, "scores": 1, "search": 2}
        for p, kind, obj in sorted(loaded, key=lambda t: order[t[1]]):
            say(f"reporting on {p}")
            if kind == "model":
                model_section(page, obj, render)
            elif kind == "scores":
                scores_section(page, p, obj, render, k, constrained, models)
            else:
                cfg, result = obj
                data = None
                if data_front:
                    from ..search.objectives import objective_columns

                    data = objective_columns(data_front, result.objectives)
                search_section(page, p, cfg, result, render, ref, data, data_front)
    atomic_write_text(out, page.render())
    return Path(out)
