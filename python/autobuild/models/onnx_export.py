"""ONNX export of a trained predictor (outputs: prediction in label units, per-hop node-embedding
norms, per-hop graph-embedding norms), checked against PyTorch before it is kept."""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import AutobuildError
from ..graphs import encode_codes
from ..spaces.macro import MacroSpace
from .predictor import AutoBuildPredictor

INPUTS = ("x", "edge_index", "batch", "counts")
OUTPUTS = ("pred", "node_norms", "graph_norms")
OPSET = 18


def export_onnx(model: AutoBuildPredictor, space: MacroSpace, path: str | Path, atol: float = 1e-4) -> dict:
    """Export with dynamic node / edge / graph counts and verify ONNX Runtime against PyTorch."""
    import onnx

    model.eval()
    example = encode_codes(space, space.sample_codes(4, seed=0))
    dyn = {"x": {0: "nodes"}, "edge_index": {1: "edges"}, "batch": {0: "nodes"}, "counts": {0: "graphs"}}
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, example.torch(), str(path), input_names=list(INPUTS), output_names=list(OUTPUTS),
            dynamic_axes=dyn, opset_version=OPSET, dynamo=True, external_data=False,
        )
    onnx.checker.check_model(str(path))
    diff = parity(model, space, path)
    if diff > atol:
        raise AutobuildError(f"ONNX export differs from PyTorch by {diff:.3g} (> {atol})")
    return {"opset": OPSET, "inputs": list(INPUTS), "outputs": list(OUTPUTS), "parity_max_abs_diff": diff}


def parity(model: AutoBuildPredictor, space: MacroSpace, path: str | Path, n: int = 64, seed: int = 123) -> float:
    """Largest absolute difference of all outputs between ONNX Runtime (CPU) and PyTorch."""
    import onnxruntime as ort

    g = encode_codes(space, space.sample_codes(n, seed=seed))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(list(OUTPUTS), g.onnx_feed())
    with torch.no_grad():
        ref = [t.numpy() for t in model(*g.torch())]
    return float(max(np.max(np.abs(a - b)) for a, b in zip(got, ref)))
