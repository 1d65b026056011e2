"""Paper Fig. 5, top row: reduced spaces built by AutoBuild vs the Pareto front of the training data.

    python benchmarks/build_frontier.py [--spaces ofa-mbv3,ofa-pn] [--devices gpu,cpu] [--epochs 200]
                                        [--k 3] [--jobs 2] [--work benchmarks/results/build_frontier]

For every space and device: train one predictor per target equation (each mixes accuracy and that
device's latency) on the 3k embedded archs, score all modules (Eq. 5), build the K=3 reduced space
(3^5 = 243 archs, resolution from the FE-MLP), label the built archs with the surrogate oracles and
compare with the accuracy-latency Pareto front of the 3k archs: how many built archs no 3k arch
dominates, and the hypervolume of (3k + built) relative to the 3k alone. Trained models are kept in
--work, so a rerun resumes. Writes a JSON summary and one PNG per space (Fig. 5 analogue).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from oracle_util import load_oracle  # noqa: E402
from pareto import dominated_by, hypervolume, non_dominated  # noqa: E402

# Median latency of the embedded data (ms), to put latency on the scale of accuracy points.
MEDIAN_LATENCY = {("ofa-mbv3", "gpu"): 8.0, ("ofa-mbv3", "cpu"): 395.0, ("ofa-pn", "gpu"): 4.9, ("ofa-pn", "cpu"): 100.0}


def equations(space: str, device: str) -> list[str]:
    """Target equations from latency-leaning to accuracy-leaning (Sec. 5.1: y = acc/lat, acc - lat, ...)."""
    lat = f"latency_{device}"
    med = MEDIAN_LATENCY[(space, device)]
    return [
        f"acc*100/{lat}",
        f"100**acc/(log10({lat}+1)+1)",
        f"acc*100-2*{lat}/{med:g}",
        f"acc*100-0.5*{lat}/{med:g}",
    ]


def run_one(task: tuple) -> dict:
    """Train (or reuse), score, build K=3, label: one (space, device, equation)."""
    space_name, device, eq_text, epochs, k, work = task
    import warnings

    warnings.simplefilter("ignore")
    from autobuild.construction import train_score_select, unite
    from autobuild.construction.pipeline import model_dir_for
    from autobuild.data import builtin_data_path, read_labelled
    from autobuild.spaces import get_space

    sp = get_space(space_name)
    t0 = time.perf_counter()
    table = read_labelled(builtin_data_path(space_name), validate=sp.validate)
    art, scores, sel = train_score_select(sp, table, eq_text, k, {"epochs": epochs},
                                          model_dir_for(work, eq_text, f"{space_name}-{device}"))
    t_all = time.perf_counter() - t0
    t0 = time.perf_counter()
    rs = unite([(scores, sel)])
    archs = sp.decode(rs.codes(rs.all_combos()))
    t_build = time.perf_counter() - t0
    oracle = load_oracle()
    lat = f"latency_{device}"
    acc_b = oracle.load(space_name, "acc")(archs)
    lat_b = oracle.load(space_name, lat)(archs)
    return {"space": space_name, "device": device, "equation": eq_text, "archs": archs, "acc": acc_b.tolist(),
            "latency": lat_b.tolist(), "globals": scores.globals, "srcc_pred": art.report["test"]["srcc_pred"],
            "seconds_train_score": t_all, "seconds_build": t_build}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", default="ofa-mbv3,ofa-pn")
    ap.add_argument("--devices", default="gpu,cpu")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", default="benchmarks/results/build_frontier")
    args = ap.parse_args()
    from autobuild.data import builtin_data_path, read_labelled

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    tasks = [(s, d, e, args.epochs, args.k, str(work)) for s in args.spaces.split(",") for d in args.devices.split(",")
             for e in equations(s, d)]
    with ProcessPoolExecutor(max_workers=args.jobs) as ex:
        results = list(ex.map(run_one, tasks))
    summary, ok_devices = [], True
    for s in args.spaces.split(","):
        data = read_labelled(builtin_data_path(s))
        fig_rows = []
        for d in args.devices.split(","):
            acc, lat = data.metrics["acc"], data.metrics[f"latency_{d}"]
            front = non_dominated(acc, lat)
            ref_acc, ref_lat = float(acc.min()), float(lat.max())
            hv0 = hypervolume(acc, lat, ref_acc, ref_lat)
            print(f"\n{s} / {d}: 3k data front = {front.sum()} archs, reference point (acc {ref_acc:.4f}, "
                  f"{ref_lat:.2f} ms)")
            any_beyond = False
            rows = [r for r in results if r["space"] == s and r["device"] == d]
            for r in rows:
                a, l = np.array(r["acc"]), np.array(r["latency"])
                beyond = int((~dominated_by(a, l, acc[front], lat[front])).sum())
                hv = hypervolume(np.r_[acc, a], np.r_[lat, l], ref_acc, ref_lat)
                any_beyond |= beyond > 0
                r.update(non_dominated_by_data=beyond, hv_ratio=hv / hv0)
                print(f"  {r['equation']:<34} r={r['globals'].get('r')}  built {len(a)}: acc {a.mean():.4f} "
                      f"[{a.min():.4f}, {a.max():.4f}], lat {l.mean():.2f} ms  | non-dominated by data: {beyond:>3}  "
                      f"HV ratio {hv / hv0:.4f}  (pred SRCC {r['srcc_pred']:.3f})")
                summary.append({k: v for k, v in r.items() if k != "archs"})
            ok_devices &= any_beyond
            print(f"  -> {'at least one' if any_beyond else 'NO'} equation goes beyond the data front")
            fig_rows.append((d, acc, lat, front, rows))
        plot(s, fig_rows, work.parent / f"build_frontier_{s}.png")
    with open(work.parent / "build_frontier.json", "w") as f:
        json.dump(summary, f, indent=1)
    print("\nevery device has an equation beyond the data front" if ok_devices else "\nsome device has none")
    return 0 if ok_devices else 1


def plot(space: str, rows: list, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rows), figsize=(6.5 * len(rows), 5), squeeze=False)
    for ax, (d, acc, lat, front, res) in zip(axes[0], rows):
        ax.scatter(lat, acc * 100, s=4, c="0.8", label="3k training archs")
        o = np.argsort(lat[front])
        ax.step(lat[front][o], acc[front][o] * 100, where="post", c="0.3", lw=1.5, label="data Pareto front")
        for r in res:
            ax.scatter(r["latency"], np.array(r["acc"]) * 100, s=10, label=f"{r['equation']} ({r['non_dominated_by_data']} beyond)")
        ax.set_xlabel(f"{d.upper()} latency [ms]")
        ax.set_ylabel("ImageNet top-1 [%] (surrogate)")
        ax.set_title(f"{space} {d.upper()}: K=3 reduced spaces (243 archs each)")
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle("AutoBuild architecture construction vs the data Pareto front (paper Fig. 5, top row)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
