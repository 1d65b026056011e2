"""Interpretability figures (PNG) of trained predictors and module scores, after the paper's figures.

* :func:`plot_modules` - best and worst stage subgraphs ("modules") per stage (Fig. 4), with the
  plain-text :func:`modules_table` of the same rows;
* :func:`plot_importance` - FE-MLP 0-hop feature importance ``|f_c(v)|`` (Sec. 4.3, Figs. 9/10);
* :func:`plot_arch` - one architecture's sequence graph (Fig. 1) with the standardised node
  embedding norm of every node at every hop (Sec. 4.2);
* :func:`plot_hops` - test SRCC per hop level and of the prediction (Fig. 2).

matplotlib (Agg backend) is imported inside the functions, so importing this module is cheap. Every
figure is written atomically (:func:`autobuild.io_utils.atomic_file`) and its path returned.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any, Sequence

from ..errors import AutobuildError
from ..spaces.base import numberish as _is_numberish
from ..spaces.base import value_order as _sort_key
from ..spaces.module import layer_text

__all__ = ["layer_text", "modules_table", "plot_arch", "plot_hops", "plot_importance", "plot_modules"]


# ----------------------------------------------------------------------------- helpers
def pyplot():  # noqa: ANN202
    """pyplot on the Agg backend (no display needed), imported on first use."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, out: str | Path) -> Path:
    from ..io_utils import FIGURE_FORMATS, atomic_file, output_format

    out = Path(out)
    try:
        fmt = output_format(out, FIGURE_FORMATS, "figure")
        with atomic_file(out, "wb") as f:
            fig.savefig(f, format=fmt, dpi=110, bbox_inches="tight", facecolor="white")
    finally:
        pyplot().close(fig)
    return out


def _modules_text(layers: Sequence[dict]) -> str:
    return " ".join(layer_text(ly) for ly in layers) or "(empty)"


def _fmt(v: Any) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(x):
        return "n/a"
    return f"{x:.4g}"


def _text_color(rgba: Sequence[float]) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def _globals_text(glob: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in glob.items())


def _pick_rows(scores: Any, g: int, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]], int]:
    """``(best, worst, total)`` of group ``g``: lists of ``(rank, row)``, best first / worst last.

    A group of at most ``2n`` modules is listed once, all of it under ``best``."""
    ranked = scores.ranked(g)
    total = len(ranked)
    if total <= 2 * n:
        return [(i + 1, int(r)) for i, r in enumerate(ranked)], [], total
    best = [(i + 1, int(ranked[i])) for i in range(n)]
    worst = [(total - n + i + 1, int(ranked[total - n + i])) for i in range(n)]
    return best, worst, total


def _check_n(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise AutobuildError(f"n must be a positive integer, got {n!r}")


# ----------------------------------------------------------------------------- Fig. 4: modules
def modules_table(scores: Any, n: int = 3) -> str:
    """Plain-text table of the ``n`` best and ``n`` worst modules of every stage (cf. Fig. 4).

    Columns: stage, rank (of the stage's modules, 1 = best), depth, layers (``k7e6 k5e4``),
    calibrated score, raw last-node norm and calibration (``eq5`` or the ``N(0,1)`` fallback)."""
    _check_n(n)
    head = ("stage", "rank", "depth", "layers", "score", "raw_norm", "calibration")
    body: list[tuple[str, ...]] = []
    for g in range(scores.space.n_groups):
        best, worst, total = _pick_rows(scores, g, n)
        label = scores.stage_label(g)
        for part, rows in (("best", best), ("worst", worst)):
            for rank, r in rows:
                body.append((
                    label, f"{part} {rank}/{total}" if worst else f"{rank}/{total}", str(int(scores.depth[r])),
                    _modules_text(scores.layers(r)), _fmt(scores.score[r]), _fmt(scores.raw_norm[r]),
                    str(scores.calibration[r]),
                ))
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    right = {1, 2, 4, 5}

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [f"# {scores.model}: target {scores.target}, space {scores.space.name}"
           + (f", globals {_globals_text(scores.globals)}" if scores.globals else "")]
    out.append(line(head))
    out.append(line(["-" * w for w in widths]))
    prev = None
    for b in body:
        if prev is not None and b[0] != prev:
            out.append("")
        out.append(line(b))
        prev = b[0]
    notes = list(getattr(scores, "notes", []) or [])
    out.extend(f"# note: {t}" for t in notes)
    for label, tied, margin in scores.tied_stages():
        out.append(f"# stage {label}: {tied:,} modules score within the uncertainty (±{margin:.3g}) "
                   "of the best: indistinguishable from it")
    return "\n".join(out) + "\n"


def plot_modules(scores: Any, out: str | Path, n: int = 3, color_by: str | None = None) -> Path:
    """Figure 4 analogue: per stage (row), the ``n`` best modules (left) and ``n`` worst (right).

    Each module is a chain of rounded boxes, one per layer, labelled ``k7e6``; boxes are coloured by
    ``color_by`` (default: the expansion ratio ``e`` if the space has it, else the first numeric
    layer feature) and the calibrated score is written after the chain."""
    _check_n(n)
    plt = pyplot()
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

    space = scores.space
    groups = list(range(space.n_groups))
    picks = [_pick_rows(scores, g, n) for g in groups]
    ci, cvals, cname = space.module_colour(color_by)
    cmap = plt.get_cmap("YlGnBu")
    k = len(cvals)
    colors = {v: cmap(0.2 + 0.7 * (j / (k - 1) if k > 1 else 0.5)) for j, v in enumerate(cvals)}
    max_len = max([1] + [len(scores.layers(r)) for b, w, _ in picks for _, r in (*b, *w)])
    text_len = max((len(layer_text(ly)) for b, w, _ in picks for _, r in (*b, *w) for ly in scores.layers(r)), default=4)
    bw = max(0.72, 0.12 * text_len + 0.25)  # box width (data units ~ inches)
    gap = 0.32  # room for the arrow between boxes
    chain_w = max_len * bw + (max_len - 1) * gap
    score_w = 1.15
    panel_w = chain_w + score_w
    stage_w = 0.9
    mid = 0.6
    x_best = stage_w
    x_worst = stage_w + panel_w + mid
    total_w = x_worst + panel_w
    row_h, bh = 0.5, 0.34
    lines = [max(len(b), len(w), 1) for b, w, _ in picks]
    block_h = [max(row_h * nl + 0.35, 1.05) for nl in lines]
    total_h = sum(block_h) + 0.45
    fig = plt.figure(figsize=(total_w + 0.3, total_h + 0.6))  # 1 data unit = 1 inch
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.15, total_w + 0.15)
    ax.set_ylim(total_h, -0.05)
    ax.axis("off")
    ax.text(x_best + chain_w / 2, 0.18, f"best {n}", ha="center", va="center", fontsize=12, weight="bold", color="#1a7a1a")
    ax.text(x_worst + chain_w / 2, 0.18, f"worst {n}", ha="center", va="center", fontsize=12, weight="bold", color="#b22222")
    for x0 in (x_best, x_worst):
        ax.text(x0 + chain_w + score_w / 2, 0.18, "score", ha="center", va="center", fontsize=9, color="0.35")
    flagged = False
    y = 0.45
    for g, (best, worst, total), h in zip(groups, picks, block_h):
        ax.add_patch(plt.Rectangle((-0.1, y), total_w + 0.2, h - 0.1, color="0.955", zorder=0, lw=0))
        yc = y + (h - 0.1) / 2 - 0.08
        ax.text(stage_w / 2 - 0.05, yc, f"stage\n{scores.stage_label(g)}", ha="center", va="center", fontsize=10,
                weight="bold")
        ax.text(stage_w / 2 - 0.05, yc + 0.3, f"{total:,} modules", ha="center", va="center", fontsize=6.5, color="0.4")
        tied, margin = scores.ties(g) if hasattr(scores, "ties") else (1, 0.0)
        if tied > 1:  # the "best" shown is one pick among modules the model cannot tell apart
            ax.text(stage_w / 2 - 0.05, yc + 0.48, f"{tied:,} tie the best\n(±{margin:.2g})", ha="center", va="center",
                    fontsize=6, color="#b22222")
        for x0, rows in ((x_best, best), (x_worst, worst)):
            for li, (rank, r) in enumerate(rows):
                yc = y + 0.22 + row_h * li + bh / 2 - 0.02
                layers = scores.layers(r)
                if not layers:
                    ax.text(x0 + bw / 2, yc, "(empty)", ha="center", va="center", fontsize=8.5, color="0.4")
                for j, ly in enumerate(layers):
                    vals = list(ly.values())
                    c = colors.get(vals[ci], (0.8, 0.8, 0.8, 1.0)) if ci < len(vals) else (0.8, 0.8, 0.8, 1.0)
                    xl = x0 + j * (bw + gap)
                    ax.add_patch(FancyBboxPatch((xl + 0.04, yc - bh / 2), bw - 0.08, bh,
                                                boxstyle="round,pad=0,rounding_size=0.09", fc=c, ec="0.25", lw=0.8))
                    ax.text(xl + bw / 2, yc, layer_text(ly), ha="center", va="center", fontsize=8.5,
                            color=_text_color(c), family="monospace")
                    if j:
                        ax.add_patch(FancyArrowPatch((xl - gap + 0.03, yc), (xl + 0.03, yc), arrowstyle="-|>",
                                                     mutation_scale=7, lw=0.8, color="0.3"))
                flag = scores.calibration[r] != "eq5"
                flagged |= flag
                ax.text(x0 + chain_w + 0.12, yc, f"{scores.score[r]:.4g}{'*' if flag else ''}", ha="left", va="center",
                        fontsize=9, family="monospace")
                ax.text(x0 - 0.06, yc, f"#{rank}", ha="right", va="center", fontsize=6.5, color="0.45")
        y += h
    handles = [Patch(fc=colors[v], ec="0.25", label=f"{cname}{v}") for v in cvals]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(total_w / 2, total_h + 0.02), ncol=min(len(handles), 8),
              fontsize=9, frameon=False, title=f"box colour: layer feature {cname}", title_fontsize=9,
              bbox_transform=ax.transData, handlelength=1.6)
    glob = f"  ({_globals_text(scores.globals)})" if scores.globals else ""
    title = (f"Best and worst stage subgraphs by AutoBuild module score (cf. paper Fig. 4)\n"
             f"target {scores.target}  |  model {scores.model}  |  space {space.name}{glob}")
    fig.suptitle(title, fontsize=11, y=1.0, va="bottom")
    if flagged:
        fig.text(0.99, 0.0, "* stage standardised to N(0,1) (too few training archs for Eq. 5)",
                 ha="right", va="top", fontsize=7, color="0.35")
    # Room at the bottom for the legend.
    ax.set_ylim(total_h + 0.55, -0.05)
    return save_figure(fig, out)


# ----------------------------------------------------------------------------- Figs. 9/10: FE-MLP
_CAT_TITLES = {"stage": "stage u", "layer": "layer l"}


def plot_importance(artifact: Any, out: str | Path) -> Path:
    """FE-MLP 0-hop feature importance (Sec. 4.3; paper Figs. 9/10): one panel per feature category
    with more than one value, one bar ``|f_c(v)|`` per value in the category's value order."""
    if getattr(artifact, "kind", "autobuild") != "autobuild":
        artifact.require("ranks_hops", "this figure (FE-MLP / hop norms)")
    plt = pyplot()
    imp = artifact.report.get("fe_importance") or {}
    from ..models.describe import seen_importance

    seen = {name: seen_importance(d) for name, d in imp.items()}
    cats = [(name, d) for name, d in imp.items() if len(seen[name]) > 1]
    if not cats:
        raise AutobuildError(f"{artifact.name}: no feature category with more than one value to plot")
    ncol = len(cats) if len(cats) <= 5 else 4
    nrow = math.ceil(len(cats) / ncol)
    col_w = [max(len(seen[cats[i][0]]) for i in range(c, len(cats), ncol)) + 1.2 for c in range(ncol)]
    fig = plt.figure(figsize=(max(0.5 * sum(col_w) + 0.8, 6.5), 3.2 * nrow + 0.4))
    gs = fig.add_gridspec(nrow, ncol, width_ratios=col_w, wspace=0.3, hspace=0.5)
    cmap = plt.get_cmap("tab10")
    ymax = max(abs(float(s)) + float(e) for _, d in cats
               for s, e in zip(d["score"], d.get("score_std") or [0.0] * len(d["score"]))) or 1.0
    for i, (name, d) in enumerate(cats):
        ax = fig.add_subplot(gs[i // ncol, i % ncol])
        rows = seen[name]  # values the model was trained on
        vals = [r[0] for r in rows]
        pairs = [(r[0], abs(float(r[1])), float(r[2]) if len(r) > 2 else 0.0) for r in rows]  # ensembles: spread
        if all(_is_numberish(v) for v in vals):
            pairs.sort(key=lambda p: _sort_key(p[0]))
        xs = range(len(pairs))
        bars = ax.bar(xs, [p[1] for p in pairs], color=cmap(i % 10), width=0.7, edgecolor="0.2", lw=0.6,
                      yerr=[p[2] for p in pairs] if "score_std" in d else None, capsize=3)
        ax.set_xticks(list(xs), [str(p[0]) for p in pairs], fontsize=9,
                      rotation=30 if max(len(str(p[0])) for p in pairs) > 4 else 0)
        ax.set_title(_CAT_TITLES.get(name, name), fontsize=11)
        ax.set_ylim(0, ymax * 1.18)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        for b, (_, s, e) in zip(bars, pairs):
            label = f"{s:.2f}" if "score_std" not in d else f"{s:.2f}±{e:.2f}"
            ax.text(b.get_x() + b.get_width() / 2, b.get_height() + e + ymax * 0.015, label, ha="center",
                    va="bottom", fontsize=7)
        if i % ncol == 0:
            ax.set_ylabel("importance |f_c(v)|", fontsize=9)
    fig.suptitle(f"FE-MLP 0-hop feature importance (cf. paper Figs. 9/10)\n"
                 f"target {artifact.target}  |  model {artifact.label}  |  space {artifact.space.name}",
                 fontsize=11, y=1.0, va="bottom")
    return save_figure(fig, out)


# ----------------------------------------------------------------------------- Fig. 1: one arch
def arch_norms(artifact: Any, arch: Any, provider: str = "cpu") -> tuple[float, list[dict], Any]:
    """``(prediction, nodes, z)`` of one arch: the sequence-graph node dicts and the node
    embedding L1 norms standardised per hop, ``z[v, m] = (||h_v^m||_1 - mu_m) / sigma_m``."""
    from ..models.inference import OnnxSession

    space = artifact.space
    code = space.encode_one(arch)
    nodes = space.to_graph(arch)["nodes"]
    if not nodes:
        raise AutobuildError("arch has no layers to draw")
    g = space.graphs(code[None, :])
    pred, node_norms, _ = OnnxSession(artifact.onnx_path, provider=provider).run(g.onnx_feed())
    from ..scoring.scorer import hop_z

    return float(pred[0]), nodes, hop_z(artifact.report, node_norms)


def plot_arch(artifact: Any, arch: dict, out: str | Path, provider: str = "cpu") -> Path:
    """One architecture's sequence graph (cf. paper Fig. 1) with its hop-level node scores: rows are
    hops ``m = 0..M``, columns the layers in network order (stage boundaries dashed); a node's colour
    is its embedding norm standardised by the model's hop moments, ``(||h_v^m||_1 - mu_m) / sigma_m``
    (Sec. 4.2), i.e. how the ``m``-hop subgraph ending at that layer compares with the training data."""
    if getattr(artifact, "kind", "autobuild") != "autobuild":
        artifact.require("ranks_hops", "this figure (FE-MLP / hop norms)")
    import numpy as np

    plt = pyplot()
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import FancyBboxPatch

    pred, nodes, z = arch_norms(artifact, arch, provider)
    space = artifact.space
    N, H = z.shape
    feat_names = [f.name for f in space.layer_features]
    texts = ["\n".join(f"{k}{nd[k]}" for k in feat_names) for nd in nodes]
    lim = max(1.0, float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim)
    cmap = plt.get_cmap("coolwarm")
    chars = max(len(t) for txt in texts for t in txt.split("\n"))
    nw = max(0.6, 0.072 * chars + 0.16)  # node width fits its longest text line (7.5 pt monospace)
    nh = max(0.56, 0.14 * len(feat_names) + 0.22)
    cw, rh = nw + 0.18, nh + 0.22  # column width, row height (inches)
    left, top = 0.9, 0.75
    W = left + N * cw + 0.2
    Hh = top + H * rh + 0.05
    fig = plt.figure(figsize=(W + 1.1, Hh + 0.9))
    ax = fig.add_axes((0.0, 0.0, W / (W + 1.1), 1.0))
    ax.set_xlim(0, W)
    ax.set_ylim(Hh, 0)
    ax.axis("off")
    stages = [nd["stage"] for nd in nodes]
    # Stage bands and labels.
    start = 0
    for i in range(1, N + 1):
        if i == N or stages[i] != stages[start]:
            x0, x1 = left + start * cw, left + i * cw
            if stages[start] % 2 == 0:
                ax.add_patch(plt.Rectangle((x0, top - 0.1), x1 - x0, H * rh + 0.05, color="0.95", lw=0, zorder=0))
            ax.text((x0 + x1) / 2, top - 0.3, f"stage {stages[start]}", ha="center", va="center", fontsize=9,
                    weight="bold")
            if i < N:
                ax.plot([x1, x1], [top - 0.45, top + H * rh - 0.05], ls="--", lw=1.0, color="0.45", zorder=1)
            start = i
    for m in range(H):
        yc = top + m * rh + rh / 2 - 0.05
        ax.text(left - 0.15, yc, f"hop {m}", ha="right", va="center", fontsize=9)
        ax.plot([left + cw / 2, left + (N - 0.5) * cw], [yc, yc], color="0.6", lw=1.0, zorder=1)
        for v in range(N):
            xc = left + v * cw + cw / 2
            val = z[v, m]
            c = cmap(norm(val)) if np.isfinite(val) else (0.85, 0.85, 0.85, 1.0)
            ax.add_patch(FancyBboxPatch((xc - nw / 2, yc - nh / 2), nw, nh, boxstyle="round,pad=0,rounding_size=0.1",
                                        fc=c, ec="0.3", lw=0.7, zorder=2))
            ax.text(xc, yc, texts[v], ha="center", va="center", fontsize=7.5, color=_text_color(c), zorder=3,
                    family="monospace", linespacing=1.1)
    cax = fig.add_axes((W / (W + 1.1) + 0.1 / (W + 1.1), 0.12, 0.18 / (W + 1.1), 0.7))
    sm = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(sm, cax=cax)
    cb.set_label(r"$(\Vert h_v^m \Vert_1 - \mu_m) / \sigma_m$", fontsize=9)  # mathtext: no literal ^
    cb.ax.tick_params(labelsize=8)
    glob = ", ".join(f"{f.name}={nodes[0][f.name]}" for f in space.global_features)
    fig.suptitle(
        f"Sequence graph and standardised node-embedding norm per hop (cf. paper Fig. 1, Sec. 4.2)\n"
        f"predicted {artifact.target} = {pred:.4g}  |  model {artifact.label}  |  space {space.name}"
        + (f"  |  {glob}" if glob else ""),
        fontsize=10.5, y=1.0, va="bottom", x=0.5 * W / (W + 1.1),
    )
    note = ("node v at hop m = embedding of the m-hop subgraph ending at layer v (the layers v-m..v along the "
            "directed chain); red: above the training mean of hop m, blue: below")
    fig.text(0.5 * W / (W + 1.1), 0.0, "\n".join(textwrap.wrap(note, max(60, int(W * 15)))), ha="center", va="top",
             fontsize=8, color="0.35")
    return save_figure(fig, out)


# ----------------------------------------------------------------------------- Fig. 2: SRCC per hop
def plot_hops(artifact: Any, out: str | Path) -> Path:
    """Test SRCC of the graph-embedding norm at every hop level and of the prediction y' (Fig. 2)."""
    plt = pyplot()
    t = artifact.report.get("test") or {}
    hops = list(t.get("srcc_hop") or [])
    if not hops:
        raise AutobuildError(f"{artifact.name}: the model report has no per-hop test SRCC")

    def num(v: Any) -> float:
        try:
            x = float(v)
        except (TypeError, ValueError):
            return float("nan")
        return x

    vals = [num(v) for v in hops] + [num(t.get("srcc_pred"))]
    labels = [f"h{m}" for m in range(len(hops))] + ["y'"]
    colors = ["#4c72b0"] * len(hops) + ["#dd8452"]
    fig, ax = plt.subplots(figsize=(max(4.5, 0.75 * len(vals) + 1.8), 3.8))
    shown = [0.0 if math.isnan(v) else v for v in vals]
    bars = ax.bar(range(len(vals)), shown, color=colors, edgecolor="0.2", lw=0.6, width=0.7)
    lo = min(0.0, min(shown))
    ax.set_ylim(lo - (0.12 if lo < 0 else 0.0), 1.08)
    ax.axhline(0, color="0.3", lw=0.8)
    for b, v in zip(bars, vals):
        h = b.get_height()
        txt = "n/a" if math.isnan(v) else f"{v:.3f}"
        ax.text(b.get_x() + b.get_width() / 2, h + (0.015 if h >= 0 else -0.015), txt, ha="center",
                va="bottom" if h >= 0 else "top", fontsize=8)
    ax.set_xticks(range(len(vals)), labels)
    ax.set_xlabel("hop level m  (y' = predictor MLP output)", fontsize=9)
    ax.set_ylabel("test SRCC", fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    n = t.get("n")
    ax.set_title(f"Test SRCC per hop level (cf. paper Fig. 2)\ntarget {artifact.target}  |  model {artifact.label}"
                 + (f"  |  {n} test archs" if n else ""), fontsize=10)
    return save_figure(fig, out)


def data_front(objectives: Sequence[Any], metrics: dict) -> tuple[Any, Any]:
    """``(x, y)`` of the Pareto front of labelled data (second objective on x, first on y, sorted by x)."""
    import numpy as np

    from .. import core
    from ..search.objectives import minimisation_matrix

    o1, o2 = objectives
    m = minimisation_matrix(objectives, metrics)
    ok = np.isfinite(m).all(axis=1)
    idx = np.flatnonzero(ok)[core.non_dominated_rank(m[ok]) == 0]
    x, y = np.asarray(metrics[o2.metric], dtype=float)[idx], np.asarray(metrics[o1.metric], dtype=float)[idx]
    order = np.argsort(x, kind="stable")
    return x[order], y[order]


def plot_front(result: Any, out: str | Path, title: str = "", ref: dict | None = None,
               data: dict | None = None, data_label: str = "labelled data") -> Path:
    """Pareto plot of a search: every evaluated arch by iteration, and the front (paper Fig. 5);
    with ``ref`` (metric -> value) the hypervolume is printed in the figure; with ``data`` (metric ->
    values of labelled archs) the data's own Pareto front is drawn for comparison."""
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()
    o1, o2 = result.objectives
    x, y = result.metrics[o2.metric], result.metrics[o1.metric]
    fig, ax = plt.subplots(figsize=(7, 5))
    its = result.iteration
    sc = ax.scatter(x, y, c=its, cmap="viridis", s=12, alpha=0.7, label="evaluated (colour: iteration)")
    f = result.front
    order = np.argsort(x[f])
    ax.step(x[f][order], y[f][order], where="post" if not o2.maximize else "pre", c="crimson", lw=1.8, label=f"Pareto front ({len(f)})")
    ax.scatter(x[f], y[f], c="crimson", s=22, zorder=3)
    if data is not None:
        dx, dy = data_front(result.objectives, data)
        ax.step(dx, dy, where="post" if not o2.maximize else "pre", c="0.35", lw=1.4, ls="--",
                label=f"front of the {data_label} ({len(dx)})")
        ax.scatter(dx, dy, c="0.35", s=14, marker="s", zorder=3)
    ax.set_xlabel(f"{o2.metric} ({'higher' if o2.maximize else 'lower'} is better)")
    ax.set_ylabel(f"{o1.metric} ({'higher' if o1.maximize else 'lower'} is better)")
    cb = fig.colorbar(sc, ax=ax)
    cb.set_label("iteration")
    cb.locator = MaxNLocator(integer=True)  # iterations are whole numbers
    cb.update_ticks()
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title or "evolutionary search")
    if ref:
        text = f"hypervolume {result.hypervolume(ref):.4g}"
        if data is not None:
            from ..search.objectives import hypervolume

            text += f"\n{data_label}: {hypervolume(result.objectives, data, ref):.4g}"
        ax.text(0.02, 0.98, text + f"\n(reference {', '.join(f'{k}={v:g}' for k, v in ref.items())})",
                transform=ax.transAxes, va="top", ha="left", fontsize=8,
                bbox={"boxstyle": "round", "fc": "white", "ec": "0.7", "alpha": 0.9})
    fig.tight_layout()
    return save_figure(fig, out)
