"""Paper Fig. 5, bottom row: evolutionary search strategies under the same budget.

    python benchmarks/search_strategies.py [--spaces ofa-mbv3,ofa-pn] [--devices gpu,cpu] [--seeds 5]
        [--budget 250] [--k 25] [--auto-p 4] [--epochs 200] [--jobs 2] [--work benchmarks/results/build_frontier]

For every space and device (objectives: surrogate accuracy max, that device's latency min; the
surrogate oracles are the evaluator) it runs, for each seed, the random-mutation Pareto EA with
  stage-full     whole-stage swaps in the full space,
  layer-full     add/remove/edit one layer in the full space,
  layer-insight  layer mutations inside the expert per-device restrictions (Mills et al. 2021),
  autobuild      stage swaps inside the AutoBuild reduced space: top-K modules of each of the hand-made
                 equations of benchmarks/build_frontier.py (K=25, united, Sec. 7.2),
  auto-eq        the same with P equations derived from the data (`search --auto-equations`),
and reports mean +- std hypervolume of each strategy's evaluated archs (reference point: the 3k
data's worst accuracy and 1.1 x its worst latency). Predictors are trained once into --work (shared
with build_frontier.py) and reused. Writes JSON and one PNG per space.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from build_frontier import equations  # noqa: E402

STRATS = ("stage-full", "layer-full", "layer-insight", "autobuild", "auto-eq")


def prepare(task: tuple) -> tuple:
    """Reduced spaces (hand-made and automatic equations) of one (space, device); trains if needed."""
    import warnings

    warnings.simplefilter("ignore")
    space_name, device, k, p, epochs, work = task
    from autobuild.construction import build_from_equations
    from autobuild.data import builtin_data_path, read_labelled
    from autobuild.search.auto_equations import auto_equations
    from autobuild.search.objectives import parse_objectives
    from autobuild.spaces import get_space

    sp = get_space(space_name)
    table = read_labelled(builtin_data_path(space_name), validate=sp.validate)
    out = {}
    hand = equations(space_name, device)
    auto = auto_equations(table.metrics, parse_objectives(f"acc:max,latency_{device}:min"), p)
    for label, eqs in (("autobuild", hand), ("auto-eq", auto)):
        rs, _ = build_from_equations(sp, table, eqs, k, {"epochs": epochs}, work, prefix=f"{space_name}-{device}-")
        out[label] = rs.to_dict()
    return space_name, device, out, auto


def search_one(task: tuple) -> dict:
    import warnings

    warnings.simplefilter("ignore")
    space_name, device, strategy, seed, budget, reduced = task
    sys.path.insert(0, str(HERE))
    from autobuild.construction.reduced import reduced_from_dict
    from autobuild.search import SearchConfig, make_strategy, run_search
    from autobuild.search.executors import InlineExecutor
    from autobuild.spaces import get_space

    sp = get_space(space_name)
    rs = reduced_from_dict(reduced) if reduced is not None else None
    name = "autobuild" if strategy in ("autobuild", "auto-eq") else strategy
    strat = make_strategy(name, sp, reduced=rs, device=device)
    cfg = SearchConfig(sp.to_dict(), name, f"oracle_eval:{space_name.replace('-', '_')}", f"acc:max,latency_{device}:min",
                       50, (budget - 50) // 50, 50, seed, device)
    t0 = time.perf_counter()
    res = run_search(cfg, sp, strat, InlineExecutor(chunk=250))
    return {"space": space_name, "device": device, "strategy": strategy, "seed": seed,
            "acc": res.metrics["acc"].tolist(), "latency": res.metrics[f"latency_{device}"].tolist(),
            "seconds": time.perf_counter() - t0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", default="ofa-mbv3,ofa-pn")
    ap.add_argument("--devices", default="gpu,cpu")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=250)
    ap.add_argument("--k", type=int, default=25)
    ap.add_argument("--auto-p", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", default="benchmarks/results/build_frontier")
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from autobuild.data import builtin_data_path, read_labelled
    from pareto import hypervolume

    Path(args.work).mkdir(parents=True, exist_ok=True)
    pairs = [(s, d) for s in args.spaces.split(",") for d in args.devices.split(",")]
    with ProcessPoolExecutor(args.jobs) as ex:
        prepared = list(ex.map(prepare, [(s, d, args.k, args.auto_p, args.epochs, args.work) for s, d in pairs]))
        reduced = {(s, d): out for s, d, out, _ in prepared}
        tasks = [(s, d, st, seed, args.budget, reduced[(s, d)].get(st)) for s, d in pairs for st in STRATS
                 for seed in range(args.seeds)]
        results = list(ex.map(search_one, tasks))
    summary = []
    ok = True
    for (s, d), (_, _, red, auto) in zip(pairs, prepared):
        data = read_labelled(builtin_data_path(s))
        acc, lat = data.metrics["acc"], data.metrics[f"latency_{d}"]
        ref_acc, ref_lat = float(acc.min()), 1.1 * float(lat.max())
        hv_data = hypervolume(acc, lat, ref_acc, ref_lat)
        sizes = {k: int(np.prod([len(g["modules"]) for g in v["stages"]]) * np.prod([len(x) for x in v["globals"].values()]))
                 for k, v in red.items()}
        print(f"\n{s} / {d}: budget {args.budget}, {args.seeds} seeds; reference (acc {ref_acc:.4f}, {ref_lat:.1f} ms); "
              f"HV of the 3k data {hv_data:.5f}; reduced spaces: autobuild {sizes['autobuild']:.3g}, auto-eq {sizes['auto-eq']:.3g} archs")
        stats = {}
        for st in STRATS:
            hv = [hypervolume(np.array(r["acc"]), np.array(r["latency"]), ref_acc, ref_lat)
                  for r in results if r["space"] == s and r["device"] == d and r["strategy"] == st]
            stats[st] = (float(np.mean(hv)), float(np.std(hv)))
            summary.append({"space": s, "device": d, "strategy": st, "hv_mean": stats[st][0], "hv_std": stats[st][1],
                            "hv_runs": hv, "hv_data": hv_data, "reference": [ref_acc, ref_lat],
                            "reduced_size": sizes.get(st)})
        best_baseline = max(stats[st][0] for st in ("stage-full", "layer-full", "layer-insight"))
        for st in STRATS:
            m, sd = stats[st]
            print(f"  {st:<14} HV {m:.5f} +- {sd:.5f}  ({m / best_baseline:.3f} x best baseline)")
        ok &= max(stats["autobuild"][0], stats["auto-eq"][0]) >= best_baseline
        print("  auto-eq equations: " + "; ".join(auto))
    _plot(results, pairs, Path(args.work).parent)
    with open(Path(args.work).parent / "search_strategies.json", "w") as f:
        json.dump(summary, f, indent=1)
    print("\nAutoBuild-NAS >= every baseline on every space/device" if ok else "\nsome baseline beat AutoBuild-NAS")
    return 0 if ok else 1


def _plot(results: list, pairs: list, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sys.path.insert(0, str(HERE))
    from pareto import non_dominated

    fig, axes = plt.subplots(1, len(pairs), figsize=(5.5 * len(pairs), 4.5), squeeze=False)
    for ax, (s, d) in zip(axes[0], pairs):
        for st in STRATS:
            runs = [r for r in results if r["space"] == s and r["device"] == d and r["strategy"] == st and r["seed"] == 0]
            if not runs:
                continue
            a, l = np.array(runs[0]["acc"]), np.array(runs[0]["latency"])
            f = non_dominated(a, l)
            o = np.argsort(l[f])
            ax.step(l[f][o], a[f][o] * 100, where="post", label=st)
        ax.set_title(f"{s} {d.upper()} (seed 0, budget 250)")
        ax.set_xlabel(f"{d.upper()} latency [ms]")
        ax.set_ylabel("top-1 [%] (surrogate)")
        ax.legend(fontsize=7)
    fig.suptitle("Evolutionary search fronts per strategy (paper Fig. 5, bottom row)")
    fig.tight_layout()
    fig.savefig(out_dir / "search_strategies.png", dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
