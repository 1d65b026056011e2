"""ONNX export of a trained predictor (outputs: prediction in label units, per-hop node-embedding
norms, per-hop graph-embedding norms), checked against PyTorch before it is kept."""

from __future__ import annotations

import contextlib
import io
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import AutobuildError
from .inference import OnnxSession

INPUTS = ("x", "edge_index", "batch", "counts")
OUTPUTS = ("pred", "node_norms", "graph_norms")
OPSET = 18


EXPORTERS = ("torchscript", "dynamo")


def _scatter_rows(g: Any, self: Any, index: Any, source: Any, reduction: str) -> Any:
    """``self`` with row ``index[i]`` combined with ``source[i]`` for every ``i``: one ``ScatterND``."""
    idx = g.op("Unsqueeze", index, g.op("Constant", value_t=torch.tensor([1], dtype=torch.long)))
    return g.op("ScatterND", self, idx, source, reduction_s=reduction)


def _index_add_symbolic(g: Any, self: Any, dim: Any, index: Any, source: Any, alpha: Any = None) -> Any:
    """``index_add`` along dim 0 as one ``ScatterND(reduction="add")`` of whole rows. The TorchScript
    exporter's own symbolic scatters without a reduction, so repeated indices (every node of a graph
    pooled into its row) overwrite each other instead of adding up."""
    from torch.onnx import symbolic_helper as sh

    if sh._maybe_get_const(dim, "i") != 0 or (alpha is not None and sh._maybe_get_const(alpha, "f") not in (1, 1.0)):
        return sh._unimplemented("index_add", "only dim 0 and alpha 1 are exported")
    return _scatter_rows(g, self, index, source, "add")


def _index_reduce_symbolic(g: Any, self: Any, dim: Any, index: Any, source: Any, reduce: Any,
                           include_self: Any = None) -> Any:
    """``index_reduce`` along dim 0 (``amax`` / ``amin`` / ``prod``) as one ``ScatterND`` of rows,
    combining with ``self`` (the ``include_self=True`` semantics; :mod:`.gatv2` starts from -inf)."""
    from torch.onnx import symbolic_helper as sh

    how = {"amax": "max", "amin": "min", "prod": "mul"}.get(sh._maybe_get_const(reduce, "s"))
    if sh._maybe_get_const(dim, "i") != 0 or how is None or sh._maybe_get_const(include_self, "b") is False:
        return sh._unimplemented("index_reduce", "only dim 0, include_self and amax / amin / prod are exported")
    return _scatter_rows(g, self, index, source, how)


# ONNX's protobuf field numbers (onnx.proto3): ModelProto.graph and GraphProto.value_info.
_MODEL_GRAPH, _GRAPH_VALUE_INFO = 7, 13


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("truncated or malformed protobuf varint")
        b = buf[i]
        result |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return result, i
        shift += 7


def _put_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _fields(buf: bytes) -> Any:
    """``(field number, start, end, payload)`` of every field of the protobuf message ``buf``:
    ``buf[start:end]`` is the whole field, ``payload`` its bytes when length-delimited, else None."""
    i = 0
    while i < len(buf):
        start = i
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        payload = None
        if wire == 0:
            _, i = _varint(buf, i)
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        elif wire == 2:
            size, i = _varint(buf, i)
            payload, i = buf[i : i + size], i + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if i > len(buf):
            raise ValueError("truncated protobuf message")
        yield field, start, i, payload


def _without_field(buf: bytes, drop: int | None, recurse: dict[int, int] | None = None) -> bytes:
    """The protobuf message ``buf`` without its length-delimited fields numbered ``drop`` (None: no
    field); fields in ``recurse`` (number -> field to drop inside them) are edited the same way one
    level down."""
    out = bytearray()
    for field, start, end, payload in _fields(buf):
        if payload is not None and field == drop:
            continue
        if payload is not None and recurse and field in recurse:
            inner = _without_field(payload, recurse[field])
            out += _put_varint((field << 3) | 2) + _put_varint(len(inner)) + inner
            continue
        out += buf[start:end]
    return bytes(out)


def _length_fields(buf: bytes) -> Any:
    """``(field number, payload)`` of every length-delimited field of the protobuf message ``buf``."""
    return ((field, payload) for field, _, _, payload in _fields(buf) if payload is not None)


# GraphProto.node, NodeProto.attribute and .domain, AttributeProto.g and .graphs.
_GRAPH_NODE, _NODE_ATTRIBUTE, _NODE_DOMAIN, _ATTR_GRAPH, _ATTR_GRAPHS = 1, 5, 7, 6, 11


def _has_domain_nodes(graph: bytes) -> bool:
    """Whether a serialised ONNX ``GraphProto`` (or a graph inside one of its nodes' attributes) has a
    node outside the default operator domain."""
    for field, node in _length_fields(graph):
        if field != _GRAPH_NODE:
            continue
        for f, payload in _length_fields(node):
            if f == _NODE_DOMAIN and payload:
                return True
            if f == _NODE_ATTRIBUTE and any(af in (_ATTR_GRAPH, _ATTR_GRAPHS) and _has_domain_nodes(sub)
                                            for af, sub in _length_fields(payload)):
                return True
    return False


def has_custom_domain(model: bytes) -> bool:
    """Whether a serialised ONNX model has a node outside the default operator domain."""
    return any(f == _MODEL_GRAPH and _has_domain_nodes(g) for f, g in _length_fields(model))


_PATCH_LOCK = threading.Lock()


@contextlib.contextmanager
def _onnxscript_functions_only_where_used() -> Any:
    """The TorchScript exporter ends by inserting the onnxscript functions of custom-domain nodes into
    the model (``onnx_proto_utils._add_onnxscript_fn``), which imports ``onnx`` and parses the model
    whatever it holds: about a second of every training run, most of it ``ml_dtypes`` registering
    its casts. Without custom-domain nodes it returns the bytes unchanged; inside this block it is
    only called where the model has such nodes (checked on the wire format), so the export is the
    same byte for byte (``tests/models/test_models.py``)."""
    try:
        from torch.onnx._internal.torchscript_exporter import onnx_proto_utils as opu
    except ImportError:
        opu = None
    if getattr(opu, "_add_onnxscript_fn", None) is None:  # another torch layout: leave the exporter as it is
        yield
        return

    def add_where_used(model_bytes: bytes, custom_opsets: Any) -> bytes:
        return original(model_bytes, custom_opsets) if has_custom_domain(model_bytes) else model_bytes

    with _PATCH_LOCK:  # one export at a time swaps the module attribute (and puts it back)
        original = opu._add_onnxscript_fn
        opu._add_onnxscript_fn = add_where_used
        try:
            yield
        finally:
            opu._add_onnxscript_fn = original


def drop_value_info(model: bytes) -> bytes:
    """A serialised ONNX model without the shapes of its intermediate values (``graph.value_info``):
    the TorchScript tracer records the example's sizes there where it cannot see that they vary, and
    ONNX Runtime would warn on every run with other sizes; the field is optional. Edited on the wire
    format (the ``onnx`` package takes about a second to import, a fifth of a short training run)."""
    return _without_field(model, None, {_MODEL_GRAPH: _GRAPH_VALUE_INFO})


_registered = False


def _torch_export(model: torch.nn.Module, example: Any, path: str, exporter: str) -> None:
    global _registered
    dyn = {"x": {0: "nodes"}, "edge_index": {1: "edges"}, "batch": {0: "nodes"}, "counts": {0: "graphs"}}
    kw: dict[str, Any] = {"input_names": list(INPUTS), "output_names": list(OUTPUTS), "dynamic_axes": dyn,
                          "opset_version": OPSET}
    if exporter == "torchscript":
        if not _registered:
            torch.onnx.register_custom_op_symbolic("aten::index_add", _index_add_symbolic, OPSET)
            torch.onnx.register_custom_op_symbolic("aten::index_reduce", _index_reduce_symbolic, OPSET)
            _registered = True
        kw["dynamo"] = False
    else:
        kw.update(dynamo=True, external_data=False)
    sink = io.StringIO()
    fast = _onnxscript_functions_only_where_used() if exporter == "torchscript" else contextlib.nullcontext()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), fast:
        warnings.simplefilter("ignore")
        torch.onnx.export(model, example.torch(), path, **kw)


def export_onnx(model: torch.nn.Module, space: Any, path: str | Path, atol: float = 1e-3,
                rtol: float = 1e-4, exporters: tuple[str, ...] = EXPORTERS) -> dict:
    """Export with dynamic node / edge / graph counts and verify ONNX Runtime against PyTorch.

    The prediction must agree within ``atol`` in standardised units (``|d pred| / y_std``) and every
    output within ``rtol`` of its largest magnitude: float32 rounding of sums over deep residual
    hops reaches 1.3e-4 on U-Net ensembles trained 1,000 epochs, while a wrong export differs by
    O(1). Exporters are tried in order: the TorchScript
    tracer (fast) and, should it fail or miss parity (a future torch may drop it), the
    ``torch.export`` based one (many times slower on these graphs; README, *Model directory*).
    ONNX Runtime loading the file and matching PyTorch is the check of the graph."""
    model.eval()
    example = space.graphs(space.sample_codes(4, seed=0))
    failures = []
    for exporter in exporters:
        if exporter not in EXPORTERS:
            raise AutobuildError(f"unknown ONNX exporter {exporter!r} ({', '.join(EXPORTERS)})")
        try:
            _torch_export(model, example, str(path), exporter)
            # Inputs and outputs keep their dynamic axes; intermediates lose their traced shapes.
            Path(path).write_bytes(drop_value_info(Path(path).read_bytes()))
            d = parity_stats(model, space, path)
        except Exception as e:  # noqa: BLE001 - an exporter that cannot trace this model: try the next
            failures.append(f"{exporter}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            continue
        # Float32 rounding scales with the values (labels may be in the thousands, latency in ms):
        # the prediction is compared in standardised units, the norms relative to their magnitude.
        if d["pred_std"] <= atol and d["max_rel"] <= rtol:
            return {"opset": OPSET, "exporter": exporter, "inputs": list(INPUTS), "outputs": list(OUTPUTS),
                    "parity_max_abs_diff": d["max_abs"], "parity_max_rel_diff": d["max_rel"],
                    "parity_pred_std_diff": d["pred_std"]}
        failures.append(f"{exporter}: differs from PyTorch by {d['pred_std']:.3g} standardised prediction units "
                        f"(limit {atol}) and {d['max_rel']:.3g} relative (limit {rtol})")
    raise AutobuildError("ONNX export failed: " + "; ".join(failures))


def parity_stats(model: torch.nn.Module, space: Any, path: str | Path, n: int = 64, seed: int = 123) -> dict:
    """ONNX Runtime (CPU) vs PyTorch on ``n`` random archs: ``max_abs`` (largest absolute difference
    of all outputs), ``max_rel`` (per output, largest difference / largest ``|value|``, max over
    outputs) and ``pred_std`` (largest prediction difference / ``y_std``)."""
    g = space.graphs(space.sample_codes(n, seed=seed))
    got = OnnxSession(path).run(g.onnx_feed())
    with torch.no_grad():
        ref = [t.numpy() for t in model(*g.torch())]
    diffs = [np.abs(a.astype(np.float64) - b) for a, b in zip(got, ref)]
    max_abs = float(max(np.max(d) for d in diffs))
    max_rel = float(max(np.max(d) / max(float(np.max(np.abs(b))), 1e-12) for d, b in zip(diffs, ref)))
    pred_std = float(np.max(diffs[0]) / float(model.y_std))
    return {"max_abs": max_abs, "max_rel": max_rel, "pred_std": pred_std}
