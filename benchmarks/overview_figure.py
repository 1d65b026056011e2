"""The README's picture: what AutoBuild builds on the embedded ofa-mbv3 data for three target equations.

Trains an accuracy and a GPU-latency predictor (to place the built archs) and one predictor per
target equation, scores every module, builds the K=3 reduced space of each, and draws the built
archs (predicted) over the labelled data. Finished models in --work are reused (the run resumes).

    python benchmarks/overview_figure.py --work benchmarks/work/overview --out docs/img/overview.png

Prints, per equation, the predicted accuracy and latency ranges of the 243 built archs.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

EQUATIONS = {  # name -> (target, colour, label)
    "acc": ("acc", "tab:blue", "target acc"),
    "paper": ("100**acc/(log10(latency_gpu+1)+1)", "tab:green", "target 100**acc/(log10(latency_gpu+1)+1)"),
    "ratio": ("acc*100/latency_gpu", "tab:red", "target acc*100/latency_gpu"),
}


def ab(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "autobuild", *args], check=True)


def model(work: Path, name: str, target: str) -> Path:
    d = work / name
    if not (d / "manifest.json").is_file():
        ab("train", "--space", "ofa-mbv3", "--data", "builtin:ofa-mbv3", "--target", target, "--out", str(d),
           "--quiet", "--overwrite")
    return d


def predict(model_dir: Path, archs: Path, out: Path) -> np.ndarray:
    ab("predict", str(model_dir), "--data", str(archs), "--out", str(out), "--quiet")
    with open(out) as f:
        return np.array([float(r["pred"]) for r in csv.DictReader(f)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="benchmarks/work/overview")
    ap.add_argument("--out", default="docs/img/overview.png")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    acc_m, lat_m = model(work, "m-acc", "acc"), model(work, "m-latency_gpu", "latency_gpu")
    built = {}
    for name, (target, _, _) in EQUATIONS.items():
        m = acc_m if target == "acc" else model(work, f"m-{name}", target)
        scores, archs = work / f"{name}-scores.csv", work / f"{name}-built.csv"
        ab("score", str(m), "--out", str(scores), "--quiet", "--show", "0")
        ab("build", str(scores), "--k", "3", "--out", str(archs), "--quiet")
        built[name] = (predict(lat_m, archs, work / f"{name}-lat.csv"), predict(acc_m, archs, work / f"{name}-acc.csv"))
        lat, acc = built[name]
        print(f"{target:<36} {len(acc)} archs: acc {acc.min():.4f}..{acc.max():.4f}, "
              f"latency_gpu {lat.min():.2f}..{lat.max():.2f} ms (predicted)")

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
    from autobuild.data.builtin import builtin_data_path
    from autobuild.report.figures import data_front, pyplot, save_figure
    from autobuild.search.objectives import parse_objectives

    with gzip.open(builtin_data_path("ofa-mbv3"), "rt") as f:
        rows = list(csv.DictReader(f))
    dacc = np.array([float(r["acc"]) for r in rows])
    dlat = np.array([float(r["latency_gpu"]) for r in rows])
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    ax.scatter(dlat, dacc, s=5, c="0.75", label=f"labelled data ({len(rows):,} random archs)")
    fx, fy = data_front(parse_objectives("acc:max,latency_gpu:min"), {"acc": dacc, "latency_gpu": dlat})
    ax.step(fx, fy, where="post", c="0.3", lw=1.2, ls="--", label="front of the data")
    for name, (_, colour, label) in EQUATIONS.items():
        lat, acc = built[name]
        ax.scatter(lat, acc, s=16, c=colour, edgecolors="k", linewidths=0.3,
                   label=f"built from the top-3 modules, {label}")
    ax.set_xlabel("GPU latency, ms (lower is better)")
    ax.set_ylabel("ImageNet top-1 (higher is better)")
    ax.set_title("What AutoBuild builds on OFA-MobileNetV3 for three target equations\n"
                 "(243 archs each; built archs placed by an accuracy and a latency predictor)", fontsize=10)
    ax.legend(fontsize=7.5, loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, a.out)
    print(json.dumps({"figure": a.out}))


if __name__ == "__main__":
    main()
