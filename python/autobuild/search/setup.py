"""Checking a search before anything is written: the evaluator is loaded and asked for nothing it
cannot give, a resumed run is compared with what the user asked for (a conflicting option is an
error naming it; a larger budget extends the run), and only then is a journal created or changed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Mapping

from ..errors import AutobuildError
from .ea import SearchConfig


def check_evaluator(spec: Any, space: Any, metrics: list[str], warn: Callable[[str], None]) -> Any:
    """Load the evaluator in this process (a bad spec fails here, not in a worker after the journal
    exists) and return it; for built-in predictor evaluators check the space, the metric names and
    the models' quality. ``spec``: a spec string or a Python evaluator object (:mod:`.evaluators`)."""
    from .evaluators import describe, load_evaluator

    fn = load_evaluator(spec, cache=False)  # models replaced since an earlier search are read afresh
    if not isinstance(spec, str):
        spec = describe(spec)
    arts = getattr(fn, "artifacts", None)
    provides = getattr(fn, "provides", None)
    if not isinstance(arts, Mapping) and provides is None:
        return fn  # a user's function: its metrics are known when it runs

    arts = arts if isinstance(arts, Mapping) else {}
    known = list(dict.fromkeys([*arts, *(provides or ())]))
    missing = [m for m in metrics if m not in known]
    if missing:
        raise AutobuildError(f"--evaluator {spec}: gives no model for objective {missing[0]!r} "
                             f"(it has: {', '.join(known)})")
    for name, art in arts.items():
        if art.space.fingerprint() != space.fingerprint():
            raise AutobuildError(f"--evaluator: model {name!r} ({art.name}) was trained on space {art.space.name!r}, "
                                 f"not the searched {space.name!r}")
        if name in metrics and str(art.target) != name:
            warn(f"--evaluator: model {art.name} was trained on target {art.target}, but serves objective "
                 f"{name!r}: its predictions are in the units of {art.target}")
        w = art.quality_warning("a search guided", name=f"evaluator model {name!r}")
        for line in (w.splitlines() if w else ()):
            warn(line)
    return fn


def budget_iterations(budget: int, initial: int, per_iteration: int) -> int:
    """Iterations of a run of ``budget`` evaluations (budget = initial + iterations x per-iteration)."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
        raise AutobuildError(f"budget must be a positive integer, got {budget!r}")
    if budget < initial:
        raise AutobuildError(f"--budget {budget} is smaller than the initial pool ({initial})")
    if (budget - initial) % per_iteration:
        raise AutobuildError(f"--budget {budget} must be initial ({initial}) + a multiple of --per-iteration "
                             f"({per_iteration})")
    return (budget - initial) // per_iteration


def resumed_config(stored: SearchConfig, given: Mapping[str, Any], budget: int | None) -> SearchConfig:
    """The configuration a ``--resume`` continues with.

    ``given`` holds the run-defining options the user passed (option name -> value in the stored
    form); any that differs from the journal is an error naming the option. ``budget`` (if given)
    may extend the run, never shorten it."""
    from dataclasses import fields

    known = {f.name for f in fields(SearchConfig)}
    for option, value in given.items():
        field = option.lstrip("-").replace("-", "_")
        if field == "budget" or field == "iterations":
            raise AutobuildError(f"{option}: the budget is given to run(budget) (a larger one extends the run)")
        if field not in known:
            raise AutobuildError(f"{option}: not a setting of a search (they are: {', '.join(sorted(known))})")
        if getattr(stored, field) != value:
            shown = getattr(stored, field)
            if isinstance(shown, dict):
                shown = shown.get("name", "another one")
            raise AutobuildError(f"{option} conflicts with the journal (which holds {shown!r}); drop {option} to "
                                 "resume as journaled, or use another --journal for a new search")
    if budget is None or budget == stored.budget:
        return stored
    if budget < stored.budget:
        raise AutobuildError(f"--budget {budget} is smaller than the journaled run's {stored.budget}; a resume can "
                             "extend a search, not shorten it")
    return replace(stored, iterations=budget_iterations(budget, stored.initial, stored.per_iteration))


def open_journal(path: str, cfg: SearchConfig) -> Any:
    """Open (or create) the journal of a new run: one holding another run's settings is refused."""
    from .journal import Journal

    jr = Journal(path)
    try:
        stored = jr.get_config()
        if stored is not None and stored != cfg.to_dict():
            raise AutobuildError(f"{path}: holds a search with other settings; use --resume {path} or another journal")
        if stored is None:
            jr.set_config(cfg.to_dict())
        return jr
    except BaseException:
        jr.close()
        raise
