"""On-device latency of OFA subnets: build, export, warm up, time (``autobuild profile``).

Each arch's subnet (:mod:`.ofa_build`) runs either on ONNX Runtime with an execution provider
(``cpu``, ``cuda``, ``tensorrt``, ``openvino``, ``qnn``, ... or a full ``...ExecutionProvider``
name) or in PyTorch (``torch-cpu``, ``torch-cuda``). After ``warmup`` untimed runs, ``runs`` timed
runs give the median, minimum, p10 and p90 in milliseconds.

Which statistic to learn from is decided by measurement noise: a repeat pass times some archs
again, and the statistic whose two passes rank the archs most alike (Spearman) is the label
(:func:`recommend`). Minimums usually win: interference only ever adds time, so the minimum of
many runs is the most repeatable estimate of the network's own cost (on an H100 the batch-1
medians of two passes over 50 archs agreed with SRCC 0.82, the minimums with 0.96).
"""

from __future__ import annotations

import os
import platform
import time
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np

from ..errors import AutobuildError

STATS = ("median_ms", "min_ms", "p10_ms", "p90_ms")
TORCH_PROVIDERS = ("torch-cpu", "torch-cuda")


def ort_provider(name: str) -> str:
    """``cpu`` -> ``CPUExecutionProvider``, ``tensorrt`` -> ``TensorrtExecutionProvider``, ...;
    a full provider name is kept. Refused when this ONNX Runtime build lacks it."""
    import onnxruntime as ort

    short = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider",
             "openvino": "OpenVINOExecutionProvider", "qnn": "QNNExecutionProvider", "dml": "DmlExecutionProvider",
             "coreml": "CoreMLExecutionProvider", "rocm": "ROCMExecutionProvider", "cann": "CANNExecutionProvider",
             "xnnpack": "XnnpackExecutionProvider", "nnapi": "NnapiExecutionProvider"}
    full = short.get(name.lower(), name)
    avail = ort.get_available_providers()
    if full not in avail:
        raise AutobuildError(f"--provider {name}: {full} is not available in this ONNX Runtime "
                             f"(available: {', '.join(avail)}; or torch-cpu / torch-cuda)")
    return full


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(provider: str, batch: int, threads: int, runs: int, warmup: int) -> dict:
    """What a latency label depends on besides the arch (written beside the CSV)."""
    from importlib.metadata import PackageNotFoundError, version

    libs = {}
    for lib in ("autobuild", "onnxruntime", "onnx", "torch", "ofa"):
        try:
            libs[lib] = version(lib)
        except PackageNotFoundError:
            pass
    env = {"cpu": cpu_model(), "cores": os.cpu_count(), "machine": platform.machine(), "system": platform.system(),
           "python": platform.python_version(), "provider": provider, "batch": batch, "threads": threads,
           "runs": runs, "warmup": warmup, "libraries": libs,
           "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if provider == "torch-cuda" or provider.lower() in ("cuda", "tensorrt", "cudaexecutionprovider"):
        try:
            import torch

            if torch.cuda.is_available():
                env["gpu"] = torch.cuda.get_device_name(0)
        except ImportError:
            pass
    return env


def _network(space: Any, arch: dict, batch: int, seed: int, latent: int) -> tuple[Any, dict]:
    """The arch's network (eval mode) and its named inputs: an OFA subnet's ``image`` at the
    arch's resolution, or a U-Net's ``sample`` (``latent x latent``, 7 channels) and ``timestep``."""
    import torch

    g = torch.Generator().manual_seed(seed)
    if space.network_family == "sd-unet":
        from .unet_build import build_unet

        return build_unet(space, arch, seed), {"sample": torch.randn(batch, 7, latent, latent, generator=g),
                                               "timestep": torch.full((batch,), 10.0)}
    from .ofa_build import build_subnet

    r = int(space.validate(arch)["r"])
    return build_subnet(space, arch, seed=seed), {"image": torch.randn(batch, 3, r, r, generator=g)}


def _timer(space: Any, arch: dict, provider: str, batch: int, threads: int, seed: int,
           latent: int = 64) -> Callable[[], float]:
    """A function running the arch's network once and returning the seconds it took."""
    import torch

    net, inputs = _network(space, arch, batch, seed, latent)
    if provider in TORCH_PROVIDERS:
        dev = "cuda" if provider == "torch-cuda" else "cpu"
        if dev == "cuda" and not torch.cuda.is_available():
            raise AutobuildError("--provider torch-cuda: torch sees no CUDA device")
        net = net.to(dev)
        args = tuple(v.to(dev) for v in inputs.values())
        if threads:
            torch.set_num_threads(threads)

        def run_torch() -> float:
            with torch.inference_mode():
                if dev == "cuda":
                    torch.cuda.synchronize()
                t = time.perf_counter()
                net(*args)
                if dev == "cuda":
                    torch.cuda.synchronize()
                return time.perf_counter() - t

        return run_torch
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    from .ofa_build import onnx_bytes

    sess = ort.InferenceSession(onnx_bytes(net, inputs), opts, providers=[provider])
    feed = {k: v.numpy() for k, v in inputs.items()}

    def run_ort() -> float:
        t = time.perf_counter()
        sess.run(None, feed)
        return time.perf_counter() - t

    return run_ort


def measure(space: Any, arch: dict, provider: str, batch: int = 1, threads: int = 1, runs: int = 50,
            warmup: int = 10, seed: int = 0, latent: int = 64) -> dict[str, float]:
    """Median, minimum, p10 and p90 latency (ms) of ``runs`` timed runs after ``warmup`` (``latent``:
    the side of a U-Net's latent)."""
    run = _timer(space, arch, provider, batch, threads, seed, latent)
    for _ in range(warmup):
        run()
    t = np.array([run() for _ in range(runs)]) * 1e3
    return {"median_ms": float(np.median(t)), "min_ms": float(t.min()), "p10_ms": float(np.percentile(t, 10)),
            "p90_ms": float(np.percentile(t, 90))}


def recommend(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> dict:
    """The label statistic: the one whose two passes over the same archs agree best (Spearman),
    with every statistic's agreement (the noise ceiling a predictor of it can reach)."""
    from ..metrics import spearman

    agree = {s: spearman(first[s], second[s]) for s in STATS if len(first[s]) >= 3}
    if not agree:
        return {"label": "min_ms", "repeat_srcc": {}, "reason": "too few repeated archs (< 3) to measure the noise; "
                "the minimum is the usual choice (interference only adds time)"}
    best = max(agree, key=lambda s: (agree[s], s == "min_ms"))
    return {"label": best, "repeat_srcc": agree,
            "reason": f"{best} agreed best between the two passes (SRCC {agree[best]:.3f} over {len(first[best])} archs)"}


def noise_ceiling(data_path: Any, target: Any) -> dict | None:
    """The repeat-pass SRCC of the statistic a target is (``min_ms``, ``label``, ...) when the data
    file is an ``autobuild profile`` output with its sidecar and a repeat pass; else None."""
    import json
    from pathlib import Path

    side = Path(str(data_path) + ".json")
    names = list(getattr(target, "metrics", ()))
    if len(names) != 1 or str(target) != names[0] or not side.is_file():
        return None
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
        rec = meta["recommendation"]
        stat = rec["label"] if names[0] == "label" else names[0]
        srcc = rec["repeat_srcc"].get(stat)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if srcc is None or meta.get("format") != "autobuild-profile":
        return None
    return {"statistic": stat, "srcc": float(srcc), "n": len(meta.get("repeat", [])), "source": side.name}


def attach_noise_ceiling(report: dict, data_path: Any, target: Any) -> None:
    """Put :func:`noise_ceiling` into a training report (``report["noise_ceiling"]``) when the
    labels came from a profile with a repeat pass (``train`` and ``Predictor.fit`` both call it)."""
    ceiling = noise_ceiling(data_path, target)
    if ceiling:
        report["noise_ceiling"] = ceiling
