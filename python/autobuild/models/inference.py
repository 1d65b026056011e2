"""Serving a predictor's ONNX export with ONNX Runtime on a chosen execution provider."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..errors import AutobuildError
from ..spaces.protocol import SearchSpace

#: What runs a model: ONNX Runtime (on a provider) or PyTorch (CPU); always an explicit choice.
RUNTIMES = ("onnx", "torch")

#: Short names accepted by ``--provider`` -> ONNX Runtime execution providers.
PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "qnn": "QNNExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "dml": "DmlExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
    "cann": "CANNExecutionProvider",
    "xnnpack": "XnnpackExecutionProvider",
    "acl": "ACLExecutionProvider",
}


def available_providers() -> list[str]:
    """Short names of the execution providers this ONNX Runtime build offers."""
    import onnxruntime as ort

    inv = {v: k for k, v in PROVIDERS.items()}
    return [inv.get(p, p) for p in ort.get_available_providers()]


def resolve_provider(name: str, warn: bool = True) -> list[str]:
    """ORT provider list for a short name; falls back to CPU with a message when unavailable."""
    import onnxruntime as ort

    key = name.lower()
    if key not in PROVIDERS and name not in PROVIDERS.values():
        raise AutobuildError(f"unknown provider {name!r} (known: {', '.join(PROVIDERS)})")
    full = PROVIDERS.get(key, name)
    if full == "CPUExecutionProvider":
        return [full]
    if full not in ort.get_available_providers():
        if warn:
            print(
                f"autobuild: provider {name!r} is not available in this onnxruntime build "
                f"(available: {', '.join(available_providers())}); falling back to cpu",
                file=sys.stderr,
            )
        return ["CPUExecutionProvider"]
    return [full, "CPUExecutionProvider"]


class OnnxSession:
    """ONNX Runtime session over a predictor export: ``predict(codes)`` in large batches.

    The session runs single-threaded: ONNX Runtime's multi-threaded CPU kernels for the exported
    scatter reductions race (the same input can give different outputs with 2 intra-op threads,
    never with 1). Parallelism comes from running independent chunks
    on several sessions instead (:class:`~autobuild.search.evaluators.onnx.OnnxEvaluator`)."""

    def __init__(self, path: str | Path, provider: str = "cpu") -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), sess_options=opts, providers=resolve_provider(provider))
        except Exception as e:  # ORT raises its own exception types
            raise AutobuildError(f"{path}: cannot load ONNX model: {str(e).splitlines()[0]}") from None
        self.providers = self.session.get_providers()

    def run(self, feed: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pred, node_norms, graph_norms = self.session.run(["pred", "node_norms", "graph_norms"], feed)
        return pred, node_norms, graph_norms

    def predict(self, space: SearchSpace, codes: np.ndarray, batch_size: int = 4096) -> tuple[np.ndarray, np.ndarray]:
        """Predictions (label units) and graph-embedding L1 norms per hop for arch codes."""
        preds, norms = [], []
        for i in range(0, len(codes), batch_size):
            g = space.graphs(codes[i : i + batch_size])
            p, _, gn = self.run(g.onnx_feed())
            preds.append(p)
            norms.append(gn)
        if not preds:
            return np.zeros(0, np.float32), np.zeros((0, 0), np.float32)
        return np.concatenate(preds), np.concatenate(norms)
