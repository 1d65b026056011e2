"""k-GNN latency predictor (paper supp. Sec. 7.4): quality on the embedded data and ONNX throughput.

    python benchmarks/latency_predictor.py [--spaces ofa-mbv3,ofa-pn] [--metrics latency_gpu,latency_cpu]
        [--epochs 500] [--seed 0] [--n 40960] [--throughput-only] [--json benchmarks/results/latency_predictor.json]

QUALITY: for every (space, metric) train the k-GNN with Eq. 6 on 90 % of the 3k embedded archs and
print the held-out MAE, MAPE, SRCC and the share of archs predicted within +-10 % (nn-Meter's
headline), with seconds per epoch.

THROUGHPUT (per space, with the latency_gpu model; all metrics share the architecture): random
archs (``space.sample_codes``) predicted from codes, encoding included, by
  * ``OnnxSession.predict`` - one ONNX Runtime run per batch of 1,024 / 4,096, ORT's own threads;
  * ``OnnxEvaluator`` (the search's built-in evaluator) with batch_size 1,024 / 4,096 - 256-arch
    single-threaded runs on one worker thread per core (target >= 20,000 archs/s on 2 cores);
  * PyTorch, the same model batched (4,096), for reference;
  * the baseline: a per-arch PyTorch loop, ``model(*space.graphs(codes[i:i+1]).torch())``
    one arch at a time (one torch thread), timed on 300 archs and extrapolated.
Timings are the best of ``--repeat`` runs (a shared machine's other load only slows runs down); the
load average at the start is recorded, and archs per CPU-second (process CPU time, all threads) are
printed too: on an otherwise idle machine, throughput ~ that x the cores used. ``--throughput-only`` skips training (randomly initialised
weights: the cost does not depend on them) and records no quality.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from autobuild.data import TargetEquation, builtin_data_path, read_labelled
from autobuild.models.artifact import save_result
from autobuild.search.evaluators.onnx import OnnxEvaluator
from autobuild.models.inference import OnnxSession
from autobuild.models.kgnn import KGNNConfig, GraphConvNetwork, train_kgnn
from autobuild.models.fitting import TrainResult
from autobuild.spaces import get_space

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "latency_predictor.json"
BATCHES = (1024, 4096)


def best_of(fn, repeat: int) -> tuple[float, float, float]:
    """(best, median) wall seconds of ``repeat`` calls after one warm-up call, and the least
    process CPU seconds of a call (all threads; less sensitive than wall time to other load)."""
    fn()
    times, cpu = [], []
    for _ in range(repeat):
        c, t = time.process_time(), time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(times), float(np.median(times)), min(cpu)


def throughput(space, model_dir: Path, n: int, repeat: int) -> list[dict]:
    codes = space.sample_codes(n, seed=1)
    rows = []

    def row(method: str, batch: int | None, best: float, median: float, cpu: float, n_archs: int = n, **extra) -> dict:
        r = {"space": space.name, "method": method, "batch": batch, "archs": n_archs,
             "archs_per_s": n_archs / best, "archs_per_s_median": n_archs / median,
             "archs_per_cpu_s": n_archs / cpu, **extra}
        print(f"  {method:<34} batch {str(batch or '-'):>5}: {r['archs_per_s']:>10,.0f} archs/s "
              f"(median {r['archs_per_s_median']:>8,.0f}; {r['archs_per_cpu_s']:>8,.0f} per CPU-second)", flush=True)
        rows.append(r)
        return r

    sess = OnnxSession(model_dir / "model.onnx")
    for b in BATCHES:
        row("onnxruntime, one run per batch", b, *best_of(lambda b=b: sess.predict(space, codes, batch_size=b), repeat),
            ort_threads="default")
    for b in BATCHES:
        with OnnxEvaluator({"latency": model_dir}, batch_size=b) as ev:
            row("OnnxEvaluator", b, *best_of(lambda: ev.encode_and_predict_codes(codes), repeat),
                run_size=ev.run_size, workers=ev.workers)
    from autobuild.models.artifact import load_model

    model = load_model(model_dir).torch_model()
    with torch.no_grad():
        def torch_batched() -> None:
            for i in range(0, n, 4096):
                model(*space.graphs(codes[i : i + 4096]).torch())

        row("pytorch, batched", 4096, *best_of(torch_batched, max(1, repeat // 2)), torch_threads=torch.get_num_threads())
        m = 300

        def loop() -> None:
            for i in range(m):
                model(*space.graphs(codes[i : i + 1]).torch())

        # One thread: one arch's ops are too small to split, and on a shared machine OpenMP's
        # spin-waiting makes a 2-thread loop of tiny ops erratic (measured 3-500 archs/s).
        prev = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            base = row("pytorch, per-arch loop (baseline)", 1, *best_of(loop, max(1, repeat // 2)), n_archs=m,
                       torch_threads=1)
        finally:
            torch.set_num_threads(prev)
    top = max((r for r in rows if r["method"] == "OnnxEvaluator"), key=lambda r: r["archs_per_s"])
    for r in rows:
        r["x_baseline"] = r["archs_per_s"] / base["archs_per_s"]
    print(f"  -> OnnxEvaluator {top['archs_per_s']:,.0f} archs/s = {top['x_baseline']:,.0f}x the per-arch PyTorch loop; "
          f"target >= 20,000 archs/s: {'met' if top['archs_per_s'] >= 20_000 else 'MISSED'}", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", default="ofa-mbv3,ofa-pn")
    ap.add_argument("--metrics", default="latency_gpu,latency_cpu")
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=40960, help="random archs per throughput measurement")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--throughput-only", action="store_true", help="skip training; random weights")
    ap.add_argument("--json", default=str(DEFAULT_JSON), help="where to write the results ('' = nowhere)")
    args = ap.parse_args()
    cfg = KGNNConfig(epochs=args.epochs, seed=args.seed)
    import onnxruntime

    machine = {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count(),
               "load_average_at_start": list(os.getloadavg()), "torch": torch.__version__,
               "onnxruntime": onnxruntime.__version__, "python": platform.python_version()}
    print(f"k-GNN latency predictor (Sec. 7.4); {machine['cpus']} CPUs, load average {machine['load_average_at_start'][0]:.2f}; "
          f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}")
    quality, tput = [], []
    with tempfile.TemporaryDirectory(prefix="latency-bench-") as tmp:
        for name in args.spaces.split(","):
            sp = get_space(name)
            table = read_labelled(builtin_data_path(name), validate=sp.validate)
            codes = sp.encode(table.archs)
            dirs = {}
            for metric in args.metrics.split(","):
                y = TargetEquation(metric).evaluate(table.metrics)
                if args.throughput_only:
                    torch.manual_seed(args.seed)
                    model = GraphConvNetwork(sp.feature_categories, hidden=cfg.hidden, layers=cfg.layers)
                    model.y_mean.fill_(float(y.mean()))
                    model.y_std.fill_(float(y.std()))
                    res = TrainResult(model.eval(), cfg, {"note": "untrained (throughput only)"}, kind="kgnn")
                else:
                    res = train_kgnn(sp, codes, y, cfg)
                    t = res.report["test"]
                    q = {"space": name, "metric": metric, "epochs": args.epochs, "n_train": res.report["n_train"],
                         "n_test": t["n"], "mae": t["mae"], "mape": t["mape"], "srcc": t["srcc"], "within10": t["within10"],
                         "train": res.report["train"], "seconds_per_epoch": res.report["seconds_per_epoch"],
                         "train_seconds": res.report["train_seconds"],
                         "selected_epoch": res.report.get("selected_epoch"),
                         "baseline_linear_macs": (res.report.get("baselines") or {}).get("linear_macs")}
                    quality.append(q)
                    print(f"{name:<9} {metric:<12} MAE {t['mae']:.4g} ms  MAPE {t['mape']:.2f} %  SRCC {t['srcc']:.4f}  "
                          f"within +-10 % {t['within10']:.1f} %  ({res.report['n_train']} train / {t['n']} test; "
                          f"{res.report['seconds_per_epoch']:.3f} s/epoch, {args.epochs} epochs)", flush=True)
                    b = q["baseline_linear_macs"]
                    if b:
                        print(f"{'':<9} {'line on MACs':<12} MAE {b['mae']:.4g} ms  MAPE {b['mape']:.2f} %  "
                              f"SRCC {b['srcc']:.4f}  within +-10 % {b['within10']:.1f} %", flush=True)
                dirs[metric] = save_result(Path(tmp) / f"{name}-{metric}", res, sp, TargetEquation(metric),
                                          {"source": f"builtin:{name}", "n": len(table)})
                if not args.throughput_only:
                    print(f"  ONNX parity: {json.loads((dirs[metric] / 'config.json').read_text())['onnx']}", flush=True)
            print(f"{name}: throughput over {args.n:,} random archs (encoding included)", flush=True)
            tput.extend(throughput(sp, dirs[args.metrics.split(",")[0]], args.n, args.repeat))
    if args.json:
        out = {"benchmark": "latency_predictor", "config": {k: v for k, v in vars(args).items() if k != "json"} | {"kgnn": cfg.__dict__}, "machine": machine,
               "quality": quality if not args.throughput_only else None, "throughput": tput}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
