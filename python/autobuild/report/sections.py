"""The sections of an ``autobuild report`` page, one per input: a model or an ensemble (metrics per
hop, FE-MLP importance), a scores file (best modules per stage with their uncertainty, the build
summary of its top-K), a search journal (the Pareto front, its hypervolume). Every figure comes
with a sentence saying how to read it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .. import limits
from ..errors import AutobuildError
from .page import Page

HOPS_HOW = ("Each bar is the Spearman rank correlation (SRCC), on architectures held out from training, between "
            "the target and the L1 norm of the graph embedding after m message-passing hops (m = 0: the feature "
            "embedding alone); y' is the predictor's own output. A module of d layers is scored at hop d - 1, so "
            "the bar of that hop says how far its score can be trusted: near 1 it ranks well, below 0.5 it is "
            "close to random.")
IMPORTANCE_HOW = ("One panel per node feature (kernel size, expansion ratio, stage, ...), one bar per value the "
                  "model saw in training: the FE-MLP's score |f_c(v)| of that value. A taller bar means nodes "
                  "with that value push the target up more. Error bars (ensembles) are the spread across members: "
                  "values whose bars overlap cannot be told apart.")
MODULES_HOW = ("One row per stage: the best modules on the left, the worst on the right, one box per layer with "
               "its choices (k = kernel size, e = expansion ratio). A module's score is its embedding norm "
               "calibrated across hop levels and stages (Eq. 5): higher means the module pushes the target up. "
               "Where a stage says how many modules tie the best, the first one drawn is only one pick among "
               "modules the model cannot tell apart.")
FRONT_HOW = ("Every evaluated architecture, coloured by the search iteration that proposed it; the red staircase "
             "is the Pareto front (no other evaluated architecture is better in both objectives). The "
             "hypervolume in the corner is the area the front dominates up to the reference point: larger is "
             "better, and it compares runs only at the same reference point. A dashed grey staircase, where "
             "shown, is the front of the labelled data: where the red one lies beyond it, the search found "
             "what the data did not hold (by the evaluator's reckoning).")

Render = Callable[..., "bytes | None"]


def renderer(tmp: str | Path) -> Render:
    """``render(plot_fn, *args)`` -> the PNG bytes a :mod:`autobuild.report.figures` function writes, or
    ``None`` when the input has nothing to draw (the function's one-line error)."""
    count = [0]

    def render(fn: Callable[..., Any], *args: Any, **kw: Any) -> bytes | None:
        count[0] += 1
        out = Path(tmp) / f"fig{count[0]}.png"
        try:
            fn(*args, out=out, **kw)
        except AutobuildError:
            return None
        return out.read_bytes()

    return render


def _f(v: Any, digits: int = 3) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "n/a" if not np.isfinite(x) else f"{x:.{digits}f}"


# ----------------------------------------------------------------------------- models
def model_section(page: Page, art: Any, render: Render) -> None:
    from ..models.kinds import get_kind
    from ..models.quality import poor_model_warning
    from .figures import plot_hops, plot_importance

    ens = art.is_ensemble
    rep = art.report
    t = rep.get("test") or {}
    what = f"ensemble of {len(art.members)} predictors" if ens else f"{art.kind} predictor"
    page.section(f"Model {art.label}", f"{what} of {art.target} on space {art.space.name} ({art.name}).")
    w = poor_model_warning(f"{art.label}", rep, "anything built or searched")
    if w:
        page.warning(w)
    if "mape" in t:  # an efficiency predictor: its own metrics beside the baselines it must beat
        rows = [["this model", f"{t['mae']:.4g}", f"{t['mape']:.2f} %", _f(t["srcc"]), f"{t['within10']:.1f} %"]]
        for name, b in (rep.get("baselines") or {}).items():
            rows.append([name.replace("_", " ").replace("linear macs", "line on exact MACs"), f"{b['mae']:.4g}",
                         f"{b['mape']:.2f} %", _f(b["srcc"]), f"{b['within10']:.1f} %"])
        page.table(["held-out", "MAE", "MAPE", "SRCC", "within ±10 %"], rows, numeric=(1, 2, 3, 4))
        nc = rep.get("noise_ceiling")
        if nc:
            page.paragraph(f"Noise ceiling: the profile's two passes agree with SRCC {_f(nc['srcc'])} on "
                           f"{nc['statistic']} ({nc['n']} archs): no predictor of these labels can rank better.")
    hops = list(t.get("srcc_hop") or []) if "mape" not in t else []
    if hops:
        std = t.get("srcc_hop_std")
        cell = (lambda i: f"{_f(hops[i])} ± {_f(std[i])}") if std else (lambda i: _f(hops[i]))
        pred = _f(t.get("srcc_pred")) + (f" ± {_f(t.get('srcc_pred_std'))}" if "srcc_pred_std" in t else "")
        page.table(["held-out", *[f"hop {m}" for m in range(len(hops))], "prediction y'", "MAE"],
                   [["SRCC", *[cell(i) for i in range(len(hops))], pred, f"{t.get('mae', float('nan')):.4g}"]],
                   numeric=range(1, len(hops) + 3))
        page.paragraph(f"Measured on {t.get('n', '?')} held-out archs" + (" (each member its own fold)." if ens else "."))
    if ens:
        rows = []
        for m in art.members:
            mt = m.report["test"]
            rows.append([m.label, _f(mt["srcc_pred"]), " ".join(_f(v) for v in mt["srcc_hop"]), f"{mt['mae']:.4g}", mt["n"]])
        page.table(["member", "SRCC y'", "SRCC per hop", "MAE", "test archs"], rows, numeric=(1, 3, 4))
    if getattr(get_kind(art.kind), "ranks_hops", False):
        png = render(plot_hops, art)
        if png:
            page.figure(png, f"held-out SRCC per hop level of {art.label}", HOPS_HOW)
        png = render(plot_importance, art)
        if png:
            page.figure(png, f"FE-MLP feature importance of {art.label}", IMPORTANCE_HOW)
    if not ens:
        page.details("everything `autobuild info` says of this model", art.describe())


# ----------------------------------------------------------------------------- scores and build
def scores_section(page: Page, path: str, scores: Any, render: Render, k: int, constrained: bool,
                   predictors: Mapping[str, Any], show: int = 5) -> None:
    from .figures import plot_modules
    from ..spaces.module import layer_text

    glob = ", ".join(f"{a}={b}" for a, b in scores.globals.items()) or "none"
    page.section(f"Module scores {Path(path).name}",
                 f"{len(scores):,} modules of space {scores.space.name} scored for {scores.target} by {scores.model} "
                 f"(global features: {glob}).")
    for n in scores.notes:
        page.note(n)
    for g in range(scores.space.n_groups):
        rows = scores.ranked(g)[:show]
        tied, margin = scores.ties(g)
        page.heading(f"stage {scores.stage_label(g)}: best {len(rows)} of {len(scores.group_rows(g)):,}")
        body = []
        for rank, r in enumerate(rows, 1):
            spread = "" if scores.spread is None else f"± {scores.spread[r]:.3g}"
            body.append([rank, int(scores.depth[r]), " ".join(layer_text(x) for x in scores.layers(r)) or "(empty)",
                         f"{scores.score[r]:.4g}", spread,
                         "" if scores.srcc is None else _f(scores.srcc[r])])
        page.table(["rank", "depth", "layers", "score (Eq. 5)", "uncertainty", "SRCC at its hop"], body, numeric=(0, 1, 3, 5))
        if tied > 1:
            page.note(f"{tied:,} modules of this stage score within the uncertainty (± {margin:.3g}) of the best: "
                      "the model cannot tell them apart, so any of them is as good a pick.")
    png = render(plot_modules, scores, n=3)
    if png:
        page.figure(png, f"best and worst modules per stage ({Path(path).name})", MODULES_HOW)
    build_section(page, path, scores, k, constrained, predictors)


def build_section(page: Page, path: str, scores: Any, k: int, constrained: bool, predictors: Mapping[str, Any]) -> None:
    """What ``autobuild build SCORES --k K`` builds from these scores, summarised."""
    from ..construction import select_modules, unite
    from ..construction.summary import build_summary

    page.heading(f"what `autobuild build --k {k}{' --constrained' if constrained else ''}` builds from these scores")
    rs = unite([(scores, select_modules(scores, k, constrained))], [scores.model])
    size, every, exact = rs.count(limits.MAX_ARCHS)
    combos = every if every is not None and len(every) <= 100_000 else rs.top_combos(1000)
    if not len(combos):
        page.warning(f"no combination of the top {k} modules per stage satisfies the space's constraints: raise --k")
        return
    shown = "all of them" if every is not None and len(combos) == len(every) else f"the best {len(combos):,} by summed score"
    page.paragraph(f"reduced space {' x '.join(str(n) for n in rs.sizes)} = {'' if exact else 'up to '}{size:,} "
                   f"architectures; summarised: {shown}.")
    from ..construction.summary import own_models

    usable, seen = {}, set()
    for n, a in [*own_models([path], [scores]).items(), *predictors.items()]:
        if a.space.fingerprint() == scores.space.fingerprint() and Path(a.path).resolve() not in seen:
            seen.add(Path(a.path).resolve())
            usable[n] = a
    lines, extreme = build_summary(rs, rs.codes(combos), usable)
    if extreme:
        page.warning(extreme)
    for label, tied, margin in scores.tied_stages(more_than=k):
        page.note(f"stage {label}: the top {k} is a pick among {tied:,} modules indistinguishable from the best "
                  f"(within ± {margin:.3g})")
    page.pre(lines)
    if not usable:
        page.paragraph("Give models of this space to the report as well (e.g. an accuracy and a latency predictor) "
                       "to see the predicted range of what is built beside the training data's range.")


# ----------------------------------------------------------------------------- search journals
def search_section(page: Page, path: str, cfg: Any, result: Any, render: Render, ref: Mapping[str, float] | None,
                   data: Mapping[str, np.ndarray] | None, data_name: str | None) -> None:
    from ..construction.summary import codes_composition
    from .figures import plot_front

    objs = result.objectives
    n = len(result.codes)
    page.section(f"Search {Path(path).name}",
                 f"{cfg.strategy} search of space {result.space.name} for {cfg.objectives}; evaluator {cfg.evaluator}; "
                 f"{n:,} of a budget of {cfg.budget:,} archs evaluated ({cfg.initial} initial + {cfg.iterations} "
                 f"iterations x {cfg.per_iteration}), seed {cfg.seed}.")
    if n == 0:
        page.warning("the journal holds no evaluation yet")
        return
    if n < cfg.budget:
        page.note(f"the run is unfinished ({n:,} of {cfg.budget:,}): `autobuild search --resume {path}` continues it")
    front = result.front
    if len(objs) == 2:
        if ref is None:  # the worst evaluated value of each objective: every evaluated arch counts
            ref = {o.metric: float(result.metrics[o.metric].min() if o.maximize else result.metrics[o.metric].max())
                   for o in objs}
            ref_text = "the worst evaluated value of each objective (give --ref to compare runs)"
        else:
            missing = [o.metric for o in objs if o.metric not in ref]
            if missing:
                raise AutobuildError(f"--ref gives no value for objective {missing[0]!r} of {path}")
            ref_text = "as given"
        hv = result.hypervolume(ref)
        page.paragraph(f"Pareto front of {len(front)} archs; hypervolume {hv:.6g} at the reference point "
                       f"{', '.join(f'{a}={b:g}' for a, b in ref.items())} ({ref_text}).")
        if data is not None:
            from .figures import data_front
            from ..search.objectives import hypervolume

            page.paragraph(f"For comparison, the front of the data {data_name} ({len(data_front(objs, data)[0])} of "
                           f"{len(next(iter(data.values()))):,} labelled archs) has hypervolume "
                           f"{hypervolume(objs, data, ref):.6g} at the same reference point.")
        png = render(plot_front, result, title=f"{result.space.name} {cfg.strategy} (seed {cfg.seed})", ref=ref,
                     data=data, data_label=f"data {data_name}" if data_name else "labelled data")
        if png:
            page.figure(png, f"evaluated archs and Pareto front of {Path(path).name}", FRONT_HOW)
    else:
        page.paragraph(f"Pareto front of {len(front)} archs ({len(objs)} objectives: no 2-D plot).")
    archs = result.space.decode(result.codes[front[:20]])
    page.table(["#", *[str(o) for o in objs], "iteration", "arch"],
               [[i + 1, *[f"{result.metrics[o.metric][j]:.5g}" for o in objs], int(result.iteration[j]),
                 _arch_text(a)] for i, (j, a) in enumerate(zip(front[:20], archs))],
               numeric=range(0, len(objs) + 2))
    if len(front) > 20:
        page.paragraph(f"(the first 20 of {len(front)}; `autobuild search --resume {path} --out front.csv` writes all)")
    page.pre(codes_composition(result.space, result.codes[front], "front"))


def _arch_text(a: Any) -> str:
    import json

    s = json.dumps(a, separators=(",", ":"))
    return s if len(s) <= 160 else s[:157] + "..."


def temporary_dir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="autobuild-report-")
