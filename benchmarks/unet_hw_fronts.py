"""The Sec. 7.10 experiment in checkable form (issue 15 sec. 3): 90 labelled ``sdv14-unet-hw`` archs,
AutoBuild vs Exhaustive Search vs the training archs on fronts of quality against exact FLOPs,
parameters and measured CPU latency (a figure like the paper's Fig. 18), and what the predictors
learnt (FE-MLP importance, best module per stage; cf. Table 3, Fig. 17).

    python benchmarks/unet_hw_fronts.py [--n 90] [--epochs 1000] [--latent 16] [--profiled 30]
                                        [--out benchmarks/results/unet_hw_fronts]

Quality: the synthetic function of ``unet_few_sample.py`` (known for every arch; the predictors see
it with noise). Latency: ``autobuild profile`` on this CPU (ONNX Runtime, 1 thread, batch 1) at a
``--latent`` x ``--latent`` latent (the paper's 64 is slow on a CPU), for the built archs and the
first ``--profiled`` training archs.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from unet_few_sample import ab, ensemble_args, quality, read_archs, write_labels  # noqa: E402 - shared

from autobuild.networks.unet_counts import count_unet_codes  # noqa: E402
from autobuild.spaces import get_space  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=90)
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--latent", type=int, default=16)
    ap.add_argument("--profiled", type=int, default=30)
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("--out", default="benchmarks/results/unet_hw_fronts")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sp = get_space("sdv14-unet-hw")
    allc = sp.all_codes()
    q_all = quality(sp, allc)
    params_all, flops_all = count_unet_codes(sp, allc)
    rng = np.random.default_rng(7)
    pick = rng.choice(len(allc), args.n, replace=False)
    y = q_all[pick] + rng.normal(0, 0.1 * q_all.std(), args.n)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        write_labels(d / "data.csv", sp, allc[pick], y)
        common = ensemble_args(sp.name, d / "data.csv", args.epochs)
        ab("train", *common, "--out", d / "ab")
        ab("score", d / "ab", "--out", out / "scores.csv", "--quiet")
        ab("build", out / "scores.csv", "--k", 16, "--top", args.top, "--out", d / "ab_top.csv", "--quiet")
        ab("train", *common, "--loss", "mse", "--out", d / "es")
        ab("exhaustive", d / "es", "--top", args.top, "--out", d / "es_top.csv", "--quiet")
        info = json.loads(subprocess.run([sys.executable, "-m", "autobuild", "info", d / "ab", "--json"],
                                         capture_output=True, text=True, check=True).stdout)
        sets = {"training archs": sp.decode(allc[pick[: args.profiled]]), "AutoBuild": read_archs(d / "ab_top.csv"),
                "Exhaustive Search": read_archs(d / "es_top.csv")}
        lat: dict[str, list[float]] = {}
        for name, archs in sets.items():
            f = d / f"{name[:2]}.jsonl"
            f.write_text("".join(json.dumps({"arch": a}) + "\n" for a in archs))
            ab("profile", "--space", sp.name, "--archs", f, "--latent", args.latent, "--runs", 10, "--warmup", 2,
               "--out", d / f"{name[:2]}_lat.csv", "--quiet")
            with open(d / f"{name[:2]}_lat.csv") as fh:
                by = {json.dumps(json.loads(r["arch"]), sort_keys=True): float(r["label"]) for r in csv.DictReader(fh)}
            lat[name] = [by[json.dumps(a, sort_keys=True)] for a in archs]
    index = {row.tobytes(): i for i, row in enumerate(allc)}
    summary = {}
    for name, archs in sets.items():
        idx = [index[c.astype(np.int32).tobytes()] for c in sp.encode(archs)]
        summary[name] = {"quality": q_all[idx].tolist(), "gflops": (flops_all[idx] / 1e9).tolist(),
                         "mparams": (params_all[idx] / 1e6).tolist(), "latency_ms": lat[name]}
        print(f"{name}: best true quality {q_all[idx].max():.3f} (rank percentile "
              f"{100 * np.mean(q_all <= q_all[idx].max()):.2f}), median {np.median(q_all[idx]):.3f}; GFLOPs "
              f"{np.median(flops_all[idx]) / 1e9:.0f}, params {np.median(params_all[idx]) / 1e6:.0f} M, "
              f"latency {np.median(lat[name]):.1f} ms (medians)")
    imp = info["fe_importance"] if "fe_importance" in info else info.get("report", {}).get("fe_importance", {})
    summary["fe_importance"] = imp
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    style = {"training archs": dict(c="0.6", marker="o", s=18), "AutoBuild": dict(c="tab:blue", marker="*", s=90),
             "Exhaustive Search": dict(c="tab:orange", marker="D", s=40)}
    for ax, key, label in zip(axes, ("gflops", "mparams", "latency_ms"),
                              ("GFLOPs (64 x 64 latent)", "parameters (M)", f"CPU latency (ms, {args.latent} x {args.latent} latent)")):
        if key != "latency_ms":  # the true front of the whole space, for reference
            x_all = (flops_all / 1e9) if key == "gflops" else (params_all / 1e6)
            order = np.argsort(x_all)
            front = np.maximum.accumulate(q_all[order])
            ax.plot(x_all[order], front, color="0.2", lw=1, label="true front of all 98,304 archs")
        for name in sets:
            ax.scatter(summary[name][key], summary[name]["quality"], label=name, **style[name])
        ax.set_xlabel(label)
        ax.set_ylabel("true quality (higher is better)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"sdv14-unet-hw: {args.n} labelled archs; top {args.top} of AutoBuild and of Exhaustive Search "
                 "(cf. paper Fig. 18)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "fronts.png", dpi=110)
    print(f"wrote {out}/fronts.png, summary.json, scores.csv")


if __name__ == "__main__":
    main()
