"""The AutoBuild predictor on ONNX op graphs of OFA-MBv3 and OFA-PN together (issue 14 sec. 4; paper
Sec. 5.1 "Cross-Search Space Comparison", Fig. 3, Fig. 8).

    python benchmarks/ir_predictor.py [--n 1500] [--epochs N] [--work DIR] [--out DIR]

1. ``autobuild opgraphs --space S --data builtin:S --limit N`` for both spaces (each subnet built
   with ``ofa``, exported to ONNX, converted; the labels are the embedded data's ``acc``, made by
   the oracles of ``../shared``); resumable, kept in ``--work``;
2. ``autobuild train --space onnx-ir`` on the two files together (90 / 10 split, defaults);
3. prints the held-out SRCC per hop (all, and per space), the FE-MLP op-type importance (Fig. 3),
   the top-scored 4-hop subgraph over the held-out archs (Fig. 8) and writes the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def ab(*args: object) -> float:
    t = time.perf_counter()
    cmd = [sys.executable, "-m", "autobuild", *(str(a) for a in args)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-2000:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1500, help="archs per space")
    ap.add_argument("--epochs", type=int, default=None, help="default: sized to the data")
    ap.add_argument("--work", default="benchmarks/work/ir", help="op-graph data and the model (large, not committed)")
    ap.add_argument("--out", default="benchmarks/results/ir_predictor")
    args = ap.parse_args()
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    files, seconds = [], {}
    for space in ("ofa-mbv3", "ofa-pn"):
        f = work / f"{space}_{args.n}.jsonl"
        if not f.exists():
            seconds[f"opgraphs_{space}"] = ab("opgraphs", "--space", space, "--data", f"builtin:{space}", "--limit",
                                              args.n, "--out", f, "--quiet")
        files.append(f)
    both = work / f"both_{args.n}.jsonl"
    texts = [f.read_text() for f in files]
    both.write_text("".join(texts))
    n_mbv3 = texts[0].count("\n")
    model = work / f"ir_acc_{args.n}"
    train = ["train", "--space", "onnx-ir", "--data", both, "--target", "acc", "--out", model, "--overwrite", "--quiet"]
    if args.epochs:
        train += ["--epochs", args.epochs]
    seconds["train"] = ab(*train)

    from autobuild.metrics import spearman
    from autobuild import Predictor
    from autobuild.report.subgraph_figure import plot_subgraphs
    from autobuild.opgraphs.subgraphs import top_subgraphs
    from autobuild.report.figures import plot_importance

    p = Predictor.load(model, runtime="torch")
    art = p.members[0]
    rep = art.report
    te = np.array(rep["split"]["test"])
    rows = [json.loads(line) for text in texts for line in text.splitlines()]
    y = np.array([r["acc"] for r in rows])
    space = art.space
    codes = space.encode([rows[i]["arch"] for i in te])
    _, g_te = p.predict_codes(codes)
    per_space = {}
    for name, mask in (("ofa-mbv3", te < n_mbv3), ("ofa-pn", te >= n_mbv3)):
        per_space[name] = {"n": int(mask.sum()),
                           "srcc_hop": [spearman(g_te[mask, m], y[te][mask]) for m in range(g_te.shape[1])]}
    t = rep["test"]
    print(f"op graphs: {n_mbv3} ofa-mbv3 + {len(rows) - n_mbv3} ofa-pn (mean {np.mean([len(r['arch']['ops']) for r in rows]):.0f} "
          f"ops); {rep['n_train']} train / {t['n']} test; {art.config['hyperparameters']['epochs']} epochs, "
          f"{rep['train_seconds']:.0f} s")
    print("| test SRCC | " + " | ".join(f"hop {m}" for m in range(len(t["srcc_hop"]))) + " | prediction |")
    print("|---" * (len(t["srcc_hop"]) + 2) + "|")
    print("| both | " + " | ".join(f"{v:.3f}" for v in t["srcc_hop"]) + f" | {t['srcc_pred']:.3f} |")
    for name, d in per_space.items():
        print(f"| {name} only (n={d['n']}) | " + " | ".join(f"{v:.3f}" for v in d["srcc_hop"]) + " | |")
    imp = rep["fe_importance"]["op"]
    ops = sorted(((v, s, c) for v, s, c in zip(imp["values"], imp["score"], imp["count"]) if c > 0), key=lambda p: -p[1])
    print("FE-MLP op-type importance (Fig. 3): " + ", ".join(f"{v} {s:.3f}" for v, s, _ in ops))
    plot_importance(art, out / "importance.png")
    # Fig. 8: the 4-hop subgraph with the highest score over the held-out archs.
    hop = min(4, len(t["srcc_hop"]) - 1)
    best = None
    for i in te.tolist():
        _, top = top_subgraphs(art, rows[i]["arch"], [hop], top=1)
        if best is None or top[0]["z"] > best[1]["z"]:
            best = (i, top[0])
    i, r = best
    g = rows[i]["arch"]
    which = "ofa-mbv3" if i < n_mbv3 else "ofa-pn"
    convs = [f"{g['ops'][v]} {v} ({g['attrs'][v][0]}/{g['attrs'][v][2]})" for v in r["nodes"] if g["ops"][v] == "Conv"]
    print(f"top {hop}-hop subgraph over the test archs: root {r['op']} {r['root']} of a {which} net "
          f"(acc {y[i]:.4f}), z = {r['z']:+.2f}, {r['size']} ops: {', '.join(g['ops'][v] + ' ' + str(v) for v in r['nodes'])}; "
          f"convs {', '.join(convs) or 'none'}")
    plot_subgraphs(g, [r], out / "top_subgraph.png", title=f"top {hop}-hop op subgraph over the held-out archs ({which}, "
                                                              f"acc {y[i]:.4f})")
    summary = {"n_mbv3": n_mbv3, "n_pn": len(rows) - n_mbv3, "test": t, "per_space": per_space,
               "epochs": art.config["hyperparameters"]["epochs"], "train_seconds": rep["train_seconds"],
               "op_importance": [[v, s, c] for v, s, c in ops], "top_subgraph": {**r, "space": which, "acc": y[i]},
               "seconds": seconds}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {out}/summary.json, importance.png, top_subgraph.png")


if __name__ == "__main__":
    main()
