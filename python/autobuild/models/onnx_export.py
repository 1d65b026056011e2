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
from ..spaces.macro import MacroSpace
from .inference import OnnxPredictor
from .predictor import AutoBuildPredictor

INPUTS = ("x", "edge_index", "batch", "counts")
OUTPUTS = ("pred", "node_norms", "graph_norms")
OPSET = 18


def export_onnx(model: AutoBuildPredictor, space: MacroSpace, path: str | Path, atol: float = 1e-4,
                rtol: float = 1e-5) -> dict:
    """Export with dynamic node / edge / graph counts and verify ONNX Runtime against PyTorch.

    The prediction must agree within ``atol`` in standardised units (``|d pred| / y_std``) and every
    output within ``rtol`` of its largest magnitude."""
    import onnx

    model.eval()
    example = space.graphs(space.sample_codes(4, seed=0))
    dyn = {"x": {0: "nodes"}, "edge_index": {1: "edges"}, "batch": {0: "nodes"}, "counts": {0: "graphs"}}
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, example.torch(), str(path), input_names=list(INPUTS), output_names=list(OUTPUTS),
            dynamic_axes=dyn, opset_version=OPSET, dynamo=True, external_data=False,
        )
    onnx.checker.check_model(str(path))
    d = parity_stats(model, space, path)
    # Float32 rounding scales with the values (labels may be in the thousands, latency in ms):
    # the prediction is compared in standardised units, the norms relative to their magnitude.
    if d["pred_std"] > atol or d["max_rel"] > rtol:
        raise AutobuildError(
            f"ONNX export differs from PyTorch by {d['pred_std']:.3g} standardised prediction units (limit {atol}) "
            f"and {d['max_rel']:.3g} relative (limit {rtol})"
        )
    return {"opset": OPSET, "inputs": list(INPUTS), "outputs": list(OUTPUTS), "parity_max_abs_diff": d["max_abs"],
            "parity_max_rel_diff": d["max_rel"], "parity_pred_std_diff": d["pred_std"]}


def parity_stats(model: AutoBuildPredictor, space: MacroSpace, path: str | Path, n: int = 64, seed: int = 123) -> dict:
    """ONNX Runtime (CPU) vs PyTorch on ``n`` random archs: ``max_abs`` (largest absolute difference
    of all outputs), ``max_rel`` (per output, largest difference / largest ``|value|``, max over
    outputs) and ``pred_std`` (largest prediction difference / ``y_std``)."""
    g = space.graphs(space.sample_codes(n, seed=seed))
    got = OnnxPredictor(path).run(g.onnx_feed())
    with torch.no_grad():
        ref = [t.numpy() for t in model(*g.torch())]
    diffs = [np.abs(a.astype(np.float64) - b) for a, b in zip(got, ref)]
    max_abs = float(max(np.max(d) for d in diffs))
    max_rel = float(max(np.max(d) / max(float(np.max(np.abs(b))), 1e-12) for d, b in zip(diffs, ref)))
    pred_std = float(np.max(diffs[0]) / float(model.y_std))
    return {"max_abs": max_abs, "max_rel": max_rel, "pred_std": pred_std}
