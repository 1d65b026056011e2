"""Few-sample AutoBuild vs Exhaustive Search on the SD U-Net space (issue 15 sec. 3; paper Sec. 5.3,
Table 1), on labels known exactly for every arch.

    python benchmarks/unet_few_sample.py [--space sdv14-unet] [--draws 10] [--n 68] [--epochs 1000]
                                         [--out benchmarks/results/unet_few_sample.json]

The paper's label (FID after GPU-days of fine-tuning) cannot be made here, so the quality is
synthetic and known for all archs: a saturating gain in each stage's width and depth, attention
that helps at low resolution, interactions between twin stages and between neighbours, minus a
cost ``0.6 log(FLOPs)`` (exact FLOPs at 64 x 64); the predictors see it with N(0, 0.1 std) noise.
Per draw: ``--n`` random archs labelled; AutoBuild = ``train --folds 5 --seeds 4`` (20 predictors,
full batch, ``--epochs``), ``score``, ``build --k 5 --top 4`` unconstrained and ``--constrained``;
Exhaustive Search = ``train --loss mse --folds 5 --seeds 4``, ``exhaustive --top 4``. Each top-4 is
judged by the true quality: the best of the 4's rank percentile among all archs (100 = the best
arch) and its regret (true optimum minus the best of the 4, in units of the quality's std over the
space). Prints mean +- std over the draws finished (the JSON is rewritten after each; a rerun with
the same settings resumes after the draws it holds).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from autobuild.networks.unet_counts import count_unet_codes
from autobuild.spaces import get_space
from autobuild.spaces.unet import _AIN, _AOUT, _MULT, _RIN, _ROUT


def quality(space, codes: np.ndarray) -> np.ndarray:
    """The synthetic true quality of arch codes (higher is better)."""
    c = np.asarray(codes, dtype=np.int64)
    cm = np.asarray(space.cm, dtype=np.float64)[c[:, 0]]
    mult = np.stack([np.asarray(space.mult[s], dtype=np.float64)[c[:, _MULT + s]] for s in range(4)], 1)
    width = np.log2(cm[:, None] * mult / 64.0)
    rin, rout = c[:, _RIN:_RIN + 4].astype(float), c[:, _ROUT:_ROUT + 4].astype(float)
    ain, aout = c[:, _AIN:_AIN + 4].astype(float), c[:, _AOUT:_AOUT + 4].astype(float)
    gain = np.array([1.0, 1.3, 1.1, 0.8])
    q = (gain * np.log1p(width * (rin + rout))).sum(1)
    q += 0.35 * aout[:, 3] + 0.25 * ain[:, 2] - 0.15 * aout[:, 2] * ain[:, 3]
    q += 0.2 * ((rin - 1.5) * (rout - 2.5)).sum(1)  # twins: deep input likes deep output
    q -= 0.15 * np.abs(np.diff(np.log2(mult), axis=1)).sum(1)  # neighbours: smooth widths
    flops = count_unet_codes(space, c)[1].astype(np.float64)
    return q - 0.6 * np.log(flops / 1e9)


def ab(*args: object, allow_fail: bool = False) -> bool:
    res = subprocess.run([sys.executable, "-m", "autobuild", *(str(a) for a in args)], capture_output=True, text=True)
    if res.returncode != 0 and not allow_fail:
        raise SystemExit(f"failed: autobuild {' '.join(str(a) for a in args)}\n{res.stderr[-2000:]}")
    return res.returncode == 0


def build_top4(scores: Path, out: Path, *flags: object) -> int:
    """``build --k 5 --top 4`` (the paper's top-5 per stage): the 4 best valid combinations, ``k``
    raised to the smallest that holds 4 where the top 5 hold fewer. Returns the K used."""
    from autobuild import build, read_scores

    b = build(read_scores(scores), k=5, top=4, constrained="--constrained" in flags)
    b.write(out)
    return b.k


def read_archs(path: Path) -> list[dict]:
    """The archs of a CSV that autobuild wrote (column ``arch``)."""
    with open(path) as f:
        return [json.loads(r["arch"]) for r in csv.DictReader(f)]


def top_codes(space, path: Path) -> np.ndarray:
    return space.encode(read_archs(path))


def write_labels(path: Path, space, codes: np.ndarray, y: np.ndarray) -> None:
    """A labelled CSV (``arch``, ``q``) for ``train``."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "q"])
        for a, v in zip(space.decode(codes), y):
            w.writerow([json.dumps(a), repr(float(v))])


def ensemble_args(space_name: str, data: Path, epochs: int) -> list:
    """The ``train`` arguments of the 20-member ensembles both methods use (Sec. 5.3)."""
    return ["--space", space_name, "--data", data, "--target", "q", "--folds", 5, "--seeds", 4, "--epochs", epochs,
            "--quiet"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="sdv14-unet")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--n", type=int, default=68)
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--noise", type=float, default=0.1)
    ap.add_argument("--out", default="benchmarks/results/unet_few_sample.json")
    args = ap.parse_args()
    sp = get_space(args.space)
    allc = sp.all_codes()
    q_all = quality(sp, allc)
    order = np.sort(q_all)
    q_best, q_std = float(order[-1]), float(q_all.std())
    index = {row.tobytes(): i for i, row in enumerate(allc)}

    def judge(codes: np.ndarray) -> dict:
        q = max(float(q_all[index[c.astype(np.int32).tobytes()]]) for c in codes)
        return {"percentile": 100.0 * float(np.searchsorted(order, q, side="right")) / len(order),
                "regret": (q_best - q) / q_std}

    results: list[dict] = []
    if Path(args.out).is_file():  # resume: draws finished with the same settings are kept
        done = json.loads(Path(args.out).read_text())
        same = {k: v for k, v in done.get("settings", {}).items() if k != "draws"} == \
            {k: v for k, v in vars(args).items() if k != "draws"}
        if same:
            results = done["results"][: args.draws]
            print(f"resuming: {len(results)} draws already in {args.out}", flush=True)
    for draw in range(len(results), args.draws):
        rng = np.random.default_rng(1000 + draw)
        pick = rng.choice(len(allc), args.n, replace=False)
        y = q_all[pick] + rng.normal(0, args.noise * q_std, args.n)
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            write_labels(d / "data.csv", sp, allc[pick], y)
            common = ensemble_args(args.space, d / "data.csv", args.epochs)
            ab("train", *common, "--out", d / "ab")
            ab("score", d / "ab", "--out", d / "s.csv", "--quiet")
            k_ab = build_top4(d / "s.csv", d / "ab_top.csv")
            k_abc = build_top4(d / "s.csv", d / "abc_top.csv", "--constrained")
            ab("train", *common, "--loss", "mse", "--out", d / "es")
            ab("exhaustive", d / "es", "--top", 4, "--out", d / "es_top.csv", "--quiet")
            row = {"draw": draw, "train_best": judge(allc[pick[[int(np.argmax(y))]]]),
                   "autobuild": judge(top_codes(sp, d / "ab_top.csv")),
                   "autobuild_constrained": judge(top_codes(sp, d / "abc_top.csv")),
                   "exhaustive": judge(top_codes(sp, d / "es_top.csv")), "k_used": [k_ab, k_abc]}
        results.append(row)
        Path(args.out).write_text(json.dumps({"settings": vars(args), "results": results}, indent=1) + "\n")
        print(f"draw {draw}: " + ", ".join(f"{k} {v['percentile']:.2f} / {v['regret']:.2f}" for k, v in row.items()
                                           if isinstance(v, dict)) + f"; K used {row['k_used']}", flush=True)
    print(f"{args.space}, {args.n} labelled archs, {len(results)} draws; best of the top 4 (best of the labelled "
          "archs for 'train_best'): true rank percentile / regret in std units, mean +- std")
    print("| method | percentile | regret |\n|---|---|---|")
    for k in ("train_best", "autobuild", "autobuild_constrained", "exhaustive"):
        p = np.array([r[k]["percentile"] for r in results])
        g = np.array([r[k]["regret"] for r in results])
        print(f"| {k} | {p.mean():.2f} +- {p.std():.2f} | {g.mean():.2f} +- {g.std():.2f} |")


if __name__ == "__main__":
    main()
