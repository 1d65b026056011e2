"""Exhaustive Search speed (issue 15 sec. 3): all 786,432 ``sdv14-unet`` archs x 20 predictors,
memoised (``search/exhaustive.py``) against brute force (every full graph through the model),
measured in the same run.

    python benchmarks/exhaustive_speed.py [--members 20] [--brute 20000]

The predictors have random weights (the cost does not depend on them; 6 hops, hidden 32, batch
norm, as ``train`` makes them). Brute force is timed on ``--brute`` archs with PyTorch and with
ONNX Runtime and extrapolated to the whole space.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from autobuild.models.fitting import run_model
from autobuild.models.gatv2_network import GATv2Network
from autobuild.search.exhaustive import Plan
from autobuild.spaces import get_space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=20)
    ap.add_argument("--brute", type=int, default=20000)
    args = ap.parse_args()
    torch.set_num_threads(2)
    sp = get_space("sdv14-unet")
    models = []
    for i in range(args.members):
        torch.manual_seed(i)
        models.append(GATv2Network(sp.feature_categories, layers=6).eval())
    codes = sp.all_codes()
    t0 = time.perf_counter()
    plan = Plan(sp, codes, 6)
    t_plan = time.perf_counter() - t0
    t = time.perf_counter()
    for m in models:
        plan.predict(m)
    t_pred = time.perf_counter() - t
    total = t_plan + t_pred
    sub = codes[np.random.default_rng(0).choice(len(codes), args.brute, replace=False)]
    t = time.perf_counter()
    ref = run_model(models[0], sp, sub)[0]
    t_torch = (time.perf_counter() - t) * len(codes) / len(sub) * args.members
    got = Plan(sp, sub, 6).predict(models[0])
    from autobuild.models.inference import OnnxSession
    from autobuild.models.onnx_export import export_onnx

    with tempfile.TemporaryDirectory() as d:
        export_onnx(models[0], sp, Path(d) / "m.onnx")
        sess = OnnxSession(Path(d) / "m.onnx")
        t = time.perf_counter()
        sess.predict(sp, sub)
        t_ort = (time.perf_counter() - t) * len(codes) / len(sub) * args.members
    print(f"sdv14-unet: {len(codes):,} archs x {args.members} predictors, 2 threads")
    print(f"memoised: {total:.1f} s (plan {t_plan:.1f} s once, {t_pred / args.members:.2f} s per predictor); "
          f"max |memoised - brute force| on {len(sub):,} archs: {np.abs(got - ref).max():.2e}")
    print(f"brute force, PyTorch (extrapolated from {len(sub):,} archs): {t_torch:.0f} s = {t_torch / total:.0f}x slower")
    print(f"brute force, ONNX Runtime (extrapolated): {t_ort:.0f} s = {t_ort / total:.0f}x slower")


if __name__ == "__main__":
    main()
