"""What a build built, in words a practitioner can check: per predictor the predicted range of the
built archs beside the training data's range, the depths and layer choices kept per stage, and a
warning when every kept module sits at one extreme of its stage (the build is then simply the
largest or the smallest net, usually a sign that the target equation rewards size alone)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

import numpy as np

from ..spaces.module import layer_text


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def predicted_ranges(space: Any, codes: np.ndarray, predictors: Mapping[str, Any]) -> list[str]:
    """``name: built [lo, hi] (median m) vs training data [lo, hi]`` for every predictor given."""
    from ..models.inference import OnnxPredictor

    lines = []
    for name, art in predictors.items():
        pred, _ = OnnxPredictor(art.onnx_path).predict(space, codes)
        rep = art.report
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
        warning = (f"every kept module has the {warning} depth of its stage: this build is simply the {warning} nets "
                   "of the space. If that is not what you want, use a target that trades accuracy against cost "
                   "(e.g. 'acc*100/latency_gpu'), --constrained (splits K across module sizes), or "
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


def parse_evaluate(spec: str | None, space: Any) -> dict[str, Any]:
    """``--evaluate acc=runs/acc,latency_gpu=runs/lat`` -> name -> loaded model (of ``space``)."""
    from ..errors import AutobuildError
    from ..models.artifact import load_model

    out: dict[str, Any] = {}
    if not spec:
        return out
    for part in spec.split(","):
        name, eq, path = part.partition("=")
        if not eq or not name.strip() or not path.strip():
            raise AutobuildError(f"--evaluate {spec!r}: expected NAME=MODEL_DIR[,NAME=MODEL_DIR...]")
        out[name.strip()] = load_model(path.strip(), space=space)
    return out


__all__: Sequence[str] = ("build_summary", "composition", "parse_evaluate", "predicted_ranges")


def codes_composition(space: Any, codes: np.ndarray, what: str) -> list[str]:
    """Depths and layer choices of a set of archs per module group (a search front, a sample of a
    reduced space): ``  stage 1: depth 2 x3, 4 x5; k 3:40% 5:35% 7:25%; e ...`` after a first line
    saying how many archs."""
    codes = np.asarray(codes)
    n = len(codes)
    rows = space.decode(codes, "zero")
    if not hasattr(space, "layer_features"):  # spaces of blocks, not layer choices (U-Nets): depths only
        lines = [f"{what}: {n} archs; per stage the depths (blocks):"]
        for g in range(space.n_groups):
            depth = space.module_depths(codes, g)
            lines.append(f"  stage {space.group_label(g)}: depth "
                         + ", ".join(f"{d} x{c}" for d, c in sorted(Counter(depth.tolist()).items())))
        return lines
    lines = [f"{what}: {n} archs; per stage the depths and the share of each layer choice:"]
    keys = [f.name for f in space.layer_features]
    for g in range(space.n_groups):
        depth = space.module_depths(codes, g)
        dh = ", ".join(f"{d} x{c}" for d, c in sorted(Counter(depth.tolist()).items()))
        counts: list[Counter] = [Counter() for _ in keys]
        for row in rows:
            for s in space.module_groups[g]:
                off, d = int(space.slot_offset[s]), int(row[space.depth_key][s])
                for f, c in zip(space.layer_features, counts):
                    c.update(row[f.key][off:off + d])
        parts = []
        for name, c in zip(keys, counts):
            total = sum(c.values())
            if total:
                parts.append(f"{name} " + " ".join(f"{v}:{100 * k / total:.0f}%" for v, k in sorted(c.items())))
        lines.append(f"  stage {space.group_label(g)}: depth {dh}" + (f"; {'; '.join(parts)}" if parts else ""))
    return lines
