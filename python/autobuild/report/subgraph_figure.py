"""Drawing of top-scored op subgraphs (cf. paper Fig. 8): one panel per subgraph, the root on the
right, its ancestors in columns by distance (hops upstream), arrows along the dataflow. Nodes show
op type and topological index, convolutions ``C_in/C_out`` (and ``k``, ``s``, ``dw``); colour
marks where in the network an op sits (topological position), as Fig. 8 colours network areas."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..errors import AutobuildError
from ..opgraphs.subgraphs import rooted_subgraph
from .figures import pyplot, save_figure


def node_label(graph: dict, v: int) -> str:
    op = graph["ops"][v]
    c_in, _, c_out, _, k, s, _, g, _ = graph["attrs"][v]
    text = f"{op} {v}"
    if op in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
        text += f"\n{c_in}/{c_out}"
        if k:
            text += f" k{k}" + (f" s{s}" if s and s != 1 else "") + (" dw" if g > 1 and g == c_in else "")
    return text


def plot_subgraphs(graph: dict, rows: Sequence[dict], out: str | Path, title: str = "") -> Path:
    """Draw the subgraphs of ``rows`` (from :func:`~.subgraphs.top_subgraphs`) into one figure."""
    if not rows:
        raise AutobuildError("no subgraph to draw")
    plt = pyplot()
    n = len(graph["ops"])
    cmap = plt.get_cmap("viridis")
    layouts = []
    for r in rows:
        dist = rooted_subgraph(graph["edges"], n, r["root"], r["hop"])
        cols: dict[int, list[int]] = {}
        for v, d in dist.items():
            cols.setdefault(d, []).append(v)
        pos = {}
        for d, vs in cols.items():
            vs.sort()
            for j, v in enumerate(vs):
                pos[v] = (r["hop"] - d, j - (len(vs) - 1) / 2)
        layouts.append((r, dist, pos, max(len(vs) for vs in cols.values())))
    hop_rows = sorted({r["hop"] for r in rows})
    ncol = max(sum(1 for r in rows if r["hop"] == m) for m in hop_rows)
    span = max(r["hop"] for r in rows) + 1
    height = max(h for *_, h in layouts)
    fig, axes = plt.subplots(len(hop_rows), ncol, figsize=(ncol * (1.8 * span + 0.5) + 0.8,
                                                           len(hop_rows) * (0.75 * height + 1.3)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    slot = {m: 0 for m in hop_rows}
    placed = []
    for item in layouts:
        m = item[0]["hop"]
        placed.append((axes[hop_rows.index(m), slot[m]], item))
        slot[m] += 1
    for ax, (r, dist, pos, h) in placed:
        boxes = {}
        for v, (x, y) in pos.items():
            c = cmap(v / max(1, n - 1))
            face = tuple(0.6 + 0.4 * ch for ch in c[:3])  # the colour, lightened: labels stay legible
            t = ax.text(x, y, node_label(graph, v), ha="center", va="center", fontsize=7.5, zorder=3,
                        bbox=dict(boxstyle="round,pad=0.35", fc=face, ec="black" if v == r["root"] else "0.4",
                                  lw=2.0 if v == r["root"] else 0.7))
            boxes[v] = t
        fig.canvas.draw()  # the label boxes exist once drawn: arrows then run box edge to box edge
        for u, v in graph["edges"]:
            if u in boxes and v in boxes:  # every edge between two ops of the subgraph
                ax.annotate("", xy=pos[v], xytext=pos[u], zorder=4,
                            arrowprops=dict(arrowstyle="-|>", color="0.35", lw=0.9, shrinkA=1, shrinkB=1, mutation_scale=14,
                                            patchA=boxes[u].get_bbox_patch(), patchB=boxes[v].get_bbox_patch()))
        ax.set_xlim(r["hop"] - span + 0.4, r["hop"] + 0.6)  # every panel on one scale, roots aligned right
        ax.set_ylim(-(height - 1) / 2 - 0.7, (height - 1) / 2 + 0.7)
        ax.axis("off")
        ax.set_title(f"#{r['rank']} at hop {r['hop']}: root {r['op']} {r['root']}\nz = {r['z']:+.2f}, {r['size']} ops",
                     fontsize=9)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, n - 1))
    cb = fig.colorbar(sm, ax=axes.ravel().tolist(), fraction=0.015, pad=0.01)
    cb.set_label("position in the network (topological index)", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10, y=1.0 + 0.3 / fig.get_figheight(), va="bottom")
    return save_figure(fig, out)

