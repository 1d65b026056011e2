"""k-GNN latency predictors on noisy labels (issue 14 sec. 3): against the linear fit on MACs, with
and without early stopping.

    python benchmarks/noisy_latency.py [--space ofa-mbv3] [--metric latency_cpu] [--noise 0.03,0.1,0.2]
                                       [--epochs 200]

Labels: the first 1,000 embedded archs' surrogate latency times log-normal noise (seeded), split
800 train / 200 test (the test labels are noisy too, as real measurements are). Prints test SRCC
and MAPE of the k-GNN (``val_fraction`` 0 and 0.1) and of the least-squares line on exact MACs.
"""

from __future__ import annotations

import argparse

import numpy as np

from autobuild.data import builtin_data_path, read_labelled
from autobuild import Predictor
from autobuild.spaces import get_space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="ofa-mbv3")
    ap.add_argument("--metric", default="latency_cpu")
    ap.add_argument("--noise", default="0.03,0.1,0.2")
    ap.add_argument("--epochs", type=int, default=200)
    args = ap.parse_args()
    sp = get_space(args.space)
    t = read_labelled(builtin_data_path(args.space), validate=sp.validate)
    clean = t.metrics[args.metric][:1000]
    print(f"{args.space} {args.metric}, 800 train / 200 test, {args.epochs} epochs; test SRCC / MAPE")
    print("| label noise (sigma of log) | k-GNN, MACs prior, --val-fraction 0 | k-GNN, MACs prior, --val-fraction 0.1 "
          "(default) | linear fit on MACs |\n|---|---|---|---|")
    for sigma in (float(v) for v in args.noise.split(",")):
        y = clean * np.exp(np.random.default_rng(0).normal(0, sigma, len(clean)))
        cells, base = [], None
        for vf in (0.0, 0.1):
            rep = Predictor(sp, args.metric, kind="kgnn", test_fraction=0.2, val_fraction=vf,
                            epochs=args.epochs).fit(t.archs[:1000], y=y).report
            cells.append(f"{rep['test']['srcc']:.3f} / {rep['test']['mape']:.2f} %")
            base = rep["baselines"]["linear_macs"]
        print(f"| {sigma} | {cells[0]} | {cells[1]} | {base['srcc']:.3f} / {base['mape']:.2f} % |", flush=True)


if __name__ == "__main__":
    main()
