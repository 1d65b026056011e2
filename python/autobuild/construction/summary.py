"""What a build built, in words a practitioner can check: per predictor the predicted range of the
built archs beside the training data's range, the depths and layer choices kept per stage, and a
warning when every kept module sits at one extreme of its stage (the build is then simply the
largest or the smallest net, usually a sign that the target equation rewards size alone)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..spaces.module import layer_text


def _fmt(v: float) -> str:
    return f"{v:.4g}"


#: Most built archs a summary predicts (a larger build is summarised on an even sample of them).
SUMMARY_SAMPLE = 100_000


def predicted_ranges(space: Any, codes: np.ndarray, predictors: Mapping[str, Any]) -> list[str]:
    """``name: built [lo, hi] (median m) vs training data [lo, hi]`` for every predictor given
    (name -> :class:`~autobuild.Predictor`)."""
    lines = []
    if len(codes) > SUMMARY_SAMPLE:
        codes = np.asarray(codes)[np.linspace(0, len(codes) - 1, SUMMARY_SAMPLE).astype(np.int64)]
        lines.append(f"  (on an even sample of {SUMMARY_SAMPLE:,} of the built archs)")
    for name, art in predictors.items():
        pred = art.predict_codes(codes)[0]
        rep = art.members[0].report
        rng = rep.get("label_range")
        data = (f"[{_fmt(rng[0])}, {_fmt(rng[1])}]" if rng else
                f"mean {_fmt(rep['label_mean'])} +- {_fmt(rep['label_std'])}")
        lines.append(f"  {name} ({art.target}): built [{_fmt(float(pred.min()))}, {_fmt(float(pred.max()))}] "
                     f"(median {_fmt(float(np.median(pred)))}) vs training data {data}")
    return lines


def composition(reduced: Any) -> tuple[list[str], str | None]:
    """Depths and layer choices of the kept modules per stage, and a warning when every stage keeps
    only modules of its largest (or smallest) depth."""
    sp = reduced.space
    lines, at_max, at_min = [], [], []
    for g, group in enumerate(reduced.groups):
        lo, hi = sp.group_depths(g)
        mods = [sp.module_layers(g, m) for m in group]
        depths = Counter(m.depth for m in group)
        choices = Counter(layer_text(layer) for m in mods for layer in m)
        n_layers = sum(choices.values()) or 1
        top = ", ".join(f"{c} {100 * n / n_layers:.0f}%" for c, n in choices.most_common(3))
        lines.append(f"  stage {sp.group_label(g)}: depths {dict(sorted(depths.items()))} of {lo}..{hi}; "
                     f"layers {top or '(empty)'}")
        if lo < hi:
            at_max.append(set(depths) == {hi})
            at_min.append(set(depths) == {lo})
    warning = None
    if at_max and all(at_max):
        warning = "largest"
    elif at_min and all(at_min):
        warning = "smallest"
    if warning:
        lean = ("charges for the cost of size (for accuracy and latency, e.g. the paper's "
                "'100**acc/(log10(latency+1)+1)')" if warning == "largest" else
                "rewards quality more against cost (a ratio such as 'acc*100/latency' is ruled by whichever of "
                "the two varies more in the data)")
        warning = (f"every kept module has the {warning} depth of its stage: this build is simply the {warning} nets "
                   f"of the space. If that is not what you want, use a target that {lean} and compare the "
                   "builds with --evaluate, --constrained (splits K across module sizes), or "
                   "`autobuild search --auto-equations`")
    return lines, warning


def build_summary(reduced: Any, codes: np.ndarray, predictors: Mapping[str, Any] | None = None) -> tuple[list[str], str | None]:
    lines = ["what was built:"]
    comp, warning = composition(reduced)
    lines += comp
    if predictors:
        lines.append("predicted by:")
        lines += predicted_ranges(reduced.space, codes, predictors)
    return lines, warning


def parse_evaluate(spec: str | None, space: Any, warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """``--evaluate acc=runs/acc,latency_gpu=runs/lat`` -> name -> :class:`~autobuild.Predictor` (a
    model or an ensemble of ``space``); ``warn`` is told when a model's target is not the name it is given."""
    from ..errors import AutobuildError
    from ..predictor import Predictor

    out: dict[str, Any] = {}
    if not spec:
        return out
    for part in spec.split(","):
        name, eq, path = part.partition("=")
        if not eq or not name.strip() or not path.strip():
            raise AutobuildError(f"--evaluate {spec!r}: expected NAME=MODEL_DIR[,NAME=MODEL_DIR...]")
        art = out[name.strip()] = Predictor.load(path.strip(), space=space)
        if warn and str(art.target) != name.strip():
            warn(f"--evaluate: model {path.strip()} was trained on target {art.target}, not {name.strip()!r}: "
                 f"its range is in the units of {art.target}")
    return out


def own_models(paths: Sequence[str], scores: Sequence[Any]) -> dict[str, Any]:
    """The models the scores files were scored with, where their ``model`` column names a model
    directory that still exists (as given to ``score``, relative to the working directory or to the
    scores file) of the same space and target: the default predictors of a build summary."""
    from pathlib import Path

    from ..errors import AutobuildError
    from ..predictor import Predictor

    out: dict[str, Any] = {}
    for p, s in zip(paths, scores):
        for name in str(s.model).split("+"):
            for cand in (Path(name), Path(p).parent / name):
                if not cand.is_dir():
                    continue
                try:
                    art = Predictor.load(cand, space=s.space)
                except AutobuildError:
                    continue
                if str(art.target) == str(s.target):
                    out.setdefault(f"{name} (scored with)", art)
                    break
    return out


__all__: Sequence[str] = ("build_summary", "composition", "own_models", "parse_evaluate", "predicted_ranges")


def codes_composition(space: Any, codes: np.ndarray, what: str) -> list[str]:
    """Depths and layer choices of a set of archs per module group (a search front, a sample of a
    reduced space): the space's own words (``describe_codes`` of the protocol)."""
    return space.describe_codes(codes, what)
