"""Acceptance of the AutoBuild predictor (issue 2, paper Fig. 2 and Sec. 7.1) on the embedded data.

    python benchmarks/train_quality.py [--spaces ofa-mbv3,ofa-pn] [--targets acc,latency_gpu]
                                       [--epochs 200] [--seed 0] [--json OUT.json]

For every (space, target) it trains with Eq. 4 on 90 % of the 3k embedded archs (2.7k) and prints
the test SRCC of the graph-embedding L1 norm at every hop, the prediction SRCC, MAE and training
seconds per epoch, against the targets: SRCC >= 0.8 at every hop, prediction SRCC >= 0.9, 200 epochs
in <= 60 s. Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

import torch

from autobuild.data import builtin_data_path, read_labelled
from autobuild import Predictor
from autobuild.spaces import get_space


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", default="ofa-mbv3,ofa-pn")
    ap.add_argument("--targets", default="acc,latency_gpu")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the results as JSON")
    args = ap.parse_args()
    hyper = {"epochs": args.epochs, "seed": args.seed}
    cfg = Predictor(args.spaces.split(",")[0], **hyper)._make_config()
    print(f"torch {torch.__version__}, {cfg.threads} training thread(s), {platform.machine()}, "
          f"FE-MLP gradient scale {cfg.fe_grad_scale}")
    rows, ok = [], True
    for name in args.spaces.split(","):
        sp = get_space(name)
        table = read_labelled(builtin_data_path(name), validate=sp.validate)
        for target in args.targets.split(","):
            p = Predictor(sp, target, **hyper).fit(table)
            res = p.members[0]
            t = res.report["test"]
            scale = 200 / args.epochs
            row = {
                "space": name, "target": target, "n_train": res.report["n_train"], "n_test": t["n"],
                "srcc_hop": t["srcc_hop"], "srcc_pred": t["srcc_pred"], "mae": t["mae"],
                "seconds_per_epoch": res.report["seconds_per_epoch"],
                "seconds_200_epochs": res.report["seconds_per_epoch"] * 200,
            }
            passed = min(t["srcc_hop"]) >= 0.8 and t["srcc_pred"] >= 0.9 and row["seconds_200_epochs"] <= 60
            ok &= passed
            rows.append(row)
            hops = " ".join(f"{v:.3f}" for v in t["srcc_hop"])
            print(
                f"{name:<9} {target:<12} hops [{hops}]  pred {t['srcc_pred']:.3f}  MAE {t['mae']:.4g}  "
                f"{row['seconds_per_epoch']:.3f} s/epoch ({row['seconds_200_epochs']:.1f} s / 200 epochs)  "
                f"{'PASS' if passed else 'FAIL'}" + ("" if scale == 1 else f"  [{args.epochs} epochs run]"),
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    print("all targets met" if ok else "some targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
