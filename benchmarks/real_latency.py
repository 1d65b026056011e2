"""Real latency on this machine (issue 14 sec. 3): profile OFA subnets, then train k-GNN latency
predictors on the measurements and compare them with the linear fit on MACs and the noise ceiling.

    python benchmarks/real_latency.py [--space ofa-mbv3] [--n 1000] [--repeat 100] [--provider cpu]
                                      [--threads 1] [--runs 30] [--warmup 5] [--out DIR]

1. ``autobuild sample`` N archs (seed 2026) and ``autobuild profile`` them (batch 1), measuring
   ``--repeat`` of them twice (resumable: rerun the command and the measured archs are kept);
2. for the labels ``label`` (the statistic the repeat pass chose) and ``median_ms``: ``train --kind
   kgnn`` (800 / 200 split of 1,000 archs, defaults: the MACs prior) with ``--val-fraction 0`` and
   ``0.1`` (the default);
3. print test SRCC, MAPE and the +-10 % share of each predictor, of the linear fit on MACs, and the
   repeat-pass SRCC of the statistic (the noise ceiling).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path


def ab(*args: object) -> None:
    cmd = [sys.executable, "-m", "autobuild", *(str(a) for a in args)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-2000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="ofa-mbv3")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=100)
    ap.add_argument("--provider", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--out", default="benchmarks/results/real_latency")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    archs, lat = out / f"{args.space}_archs.csv", out / f"{args.space}_{args.provider}_lat.csv"
    if not archs.exists():
        ab("sample", "--space", args.space, "--n", args.n, "--seed", 2026, "--out", archs)
    ab("profile", "--space", args.space, "--archs", archs, "--provider", args.provider, "--threads", args.threads,
       "--batch", 1, "--runs", args.runs, "--warmup", args.warmup, "--repeat-pass", args.repeat, "--out", lat, "--quiet")
    meta = json.loads(Path(str(lat) + ".json").read_text())
    env, rec = meta["environment"], meta["recommendation"]
    print(f"{args.space} on {env['cpu']} ({env['provider']}, {env['threads']} thread(s), batch 1, {env['runs']} runs "
          f"after {env['warmup']}); {meta['archs']} archs, {len(meta['repeat'])} measured twice, "
          f"{len(meta['failures'])} failed; label = {rec['label']}")
    print("| label | predictor | test SRCC | MAPE | within +-10 % | noise ceiling (repeat SRCC) |\n|---|---|---|---|---|---|")
    from autobuild import Predictor

    for target in ("label", "median_ms"):
        stat = rec["label"] if target == "label" else target
        ceiling = rec["repeat_srcc"].get(stat)
        base = None
        for vf in (0.0, 0.1):
            model = out / f"{args.space}_{args.provider}_{target}_val{vf}"
            ab("train", "--kind", "kgnn", "--space", args.space, "--data", lat, "--target", target, "--test-fraction",
               0.2, "--val-fraction", vf, "--out", model, "--overwrite", "--quiet")
            rep = Predictor.load(model).report
            t, base = rep["test"], rep["baselines"]["linear_macs"]
            name = "k-GNN (MACs prior), " + ("--val-fraction 0.1 (default)" if vf else "--val-fraction 0")
            print(f"| {target} ({stat}) | {name} | {t['srcc']:.3f} | {t['mape']:.2f} % | {t['within10']:.1f} % | "
                  f"{ceiling:.3f} |", flush=True)
        print(f"| {target} ({stat}) | linear fit on MACs | {base['srcc']:.3f} | {base['mape']:.2f} % | "
              f"{base['within10']:.1f} % | {ceiling:.3f} |", flush=True)


if __name__ == "__main__":
    main()
