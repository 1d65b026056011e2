"""Module scoring speed (issue 3): all modules of a space, end to end, vs a one-module-at-a-time loop.

    python benchmarks/score_speed.py [--spaces ofa-mbv3,ofa-pn] [--naive 300]

Trains a small predictor per space (speed does not depend on its quality), then times
(a) the Python API `Predictor.load(...).score()` in a process where torch is loaded (enumeration
in the core, batched encoding, PyTorch forward, Eq. 5), (b) the same on ONNX Runtime, and (c) the
CLI `autobuild score` as a whole process (interpreter start, imports, ONNX Runtime, CSV writing),
against the targets (ofa-mbv3 <= 2 s, ofa-pn <= 5 s), and (d) a naive loop scoring one module per
ONNX Runtime call, timed on --naive modules and extrapolated; prints its ratio to (c).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

TARGET_S = {"ofa-mbv3": 2.0, "ofa-pn": 5.0}


def main() -> int:
    warnings.simplefilter("ignore")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", default="ofa-mbv3,ofa-pn")
    ap.add_argument("--naive", type=int, default=300)
    args = ap.parse_args()
    from autobuild.data import TargetEquation, builtin_data_path, read_labelled
    from autobuild import Predictor
    from autobuild.models.inference import OnnxSession
    from autobuild.scoring.scorer import _last_node_norms, module_count

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.spaces.split(","):
            from autobuild.spaces import get_space

            sp = get_space(name)
            t = read_labelled(builtin_data_path(name), validate=sp.validate)
            eq = TargetEquation("acc")
            path = Path(tmp) / name
            Predictor(sp, eq, epochs=2).fit(t.archs[:500], y=eq.evaluate(t.metrics)[:500], out=path)
            n_mod = module_count(sp)
            times = {}
            for runtime in ("torch", "onnx"):
                best = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    scores = Predictor.load(path, runtime=runtime).score()
                    best.append(time.perf_counter() - t0)
                times[runtime] = min(best)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "autobuild", "score", str(path), "--out", str(Path(tmp) / "s.csv"),
                            "--show", "0", "--quiet"], check=True, capture_output=True)
            t_cli = time.perf_counter() - t0
            # Naive: one module per ONNX Runtime call (encoding included), on a sample of modules.
            sess = OnnxSession(path / "model.onnx")
            last = sp.n_groups - 1
            mods = sp.enumerate_modules(last)
            gidx = [f.values.index(scores.globals[f.name]) for f in sp.global_features]
            rows = np.random.default_rng(0).choice(len(mods), size=min(args.naive, len(mods)), replace=False)
            t0 = time.perf_counter()
            for r in rows:
                codes = sp.empty_codes(1, gidx)
                sp.place_modules(codes, last, mods.depths[[r]], mods.choices[[r]])
                _last_node_norms(sess, sp, codes, mods.depths[[r]])
            t_naive = (time.perf_counter() - t0) / len(rows) * n_mod
            passed = max(times["torch"], t_cli) <= TARGET_S[name]
            ok &= passed
            print(f"{name}: {n_mod:,} modules (target <= {TARGET_S[name]:.0f} s): API load+score torch "
                  f"{times['torch']:.2f} s, onnxruntime {times['onnx']:.2f} s; CLI process (start, imports, "
                  f"ONNX Runtime, CSV) {t_cli:.2f} s -> {'PASS' if passed else 'FAIL'}; naive one-module-per-call "
                  f"loop ~{t_naive:.1f} s (extrapolated from {len(rows)}) = {t_naive / t_cli:,.1f}x the CLI, "
                  f"{t_naive / times['torch']:,.0f}x the API", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
