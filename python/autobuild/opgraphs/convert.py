"""Any ONNX model -> an op graph, the paper's "IR" format (Sec. 3.1, 5.1; AIO-P / AutoGO style).

One node per primitive op (Conv, Add, Mul, Relu, HardSigmoid, GlobalAveragePool, Gemm, ...), in
topological order; an edge ``u -> v`` for every tensor op ``u`` produces and op ``v`` reads (a DAG
along the dataflow, so the ``m``-hop embedding of ``v`` sees ``v`` and its ancestors up to ``m``
tensors upstream). Built on the ONNX ecosystem, not on a hand-written graph class:

1. ``onnx.load(..., load_external_data=False)``: the graph without external weight files;
2. ``onnx.shape_inference.infer_shapes(data_prop=True)`` for every tensor's shape;
3. ``onnx_ir`` for the graph (``sort`` gives the topological order), local functions inlined and
   constants folded by ``onnxscript.optimizer`` (shape arithmetic such as ``Shape -> Gather ->
   Concat -> Reshape`` of a static model disappears); ``Constant`` and ``Identity`` nodes are
   bypassed (they compute nothing).

Per node the raw fields :data:`FIELDS` (integers; 0 means "unknown" or "does not apply"):
``c_in`` / ``hw_in`` the channels and spatial size of the op's first data input (the first input
that is not a weight), ``c_out`` / ``hw_out`` those of its first output, and ``kernel``,
``stride``, ``dilation``, ``groups`` (the first entry of the attribute lists), ``bias`` (1: none,
2: present; Conv, ConvTranspose, Gemm). The layout rule of :func:`channels_spatial` reads
``[N, C, H, W]`` (and ``[N, C, L]`` for conv-like ops), ``[N, T, C]`` for other rank-3 tensors
(sequence models), ``[N, C]`` and ``[C]``.

The result is a plain dict, the ``arch`` of an op-graph data row (:mod:`.space` validates it)::

    {"ops": ["Conv", "Relu", ...], "attrs": [[c_in, hw_in, c_out, hw_out, kernel, stride,
     dilation, groups, bias], ...], "edges": [[u, v], ...], "names": ["/features/0/Conv", ...]}
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from .. import limits
from ..errors import AutobuildError

#: Raw integer fields of every node, in ``attrs`` column order.
FIELDS = ("c_in", "hw_in", "c_out", "hw_out", "kernel", "stride", "dilation", "groups", "bias")
#: Ops that compute nothing: their output is their input.
PASS_THROUGH = frozenset({"Identity"})
#: Ops with a bias input (the third).
BIAS_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "QLinearConv", "ConvInteger"})
#: Ops whose rank-3 tensors are ``[N, C, L]``.
CONV_LIKE = frozenset({"Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "BatchNormalization",
                       "InstanceNormalization", "GlobalAveragePool", "GlobalMaxPool"})


def _dims(value: Any) -> list[int] | None:
    shape = getattr(value, "shape", None) if value is not None else None
    if shape is None:
        return None
    out = []
    for d in shape:
        out.append(d if isinstance(d, int) and d >= 0 else 0)  # symbolic / unknown: 0
    return out


def channels_spatial(dims: list[int] | None, conv_like: bool) -> tuple[int, int]:
    """``(channels, spatial size)`` of a tensor shape by the layout rule of the module docstring."""
    if not dims:
        return 0, 0
    r = len(dims)
    if r >= 4 or (r == 3 and conv_like):
        return dims[1], dims[2]
    if r == 3:
        return dims[2], dims[1]
    if r == 2:
        return dims[1], 0
    return dims[0], 0


def _first_int(node: Any, name: str, default: int = 0) -> int:
    attr = node.attributes.get(name)
    if attr is None:
        return default
    v = attr.value
    if isinstance(v, (list, tuple)):
        v = v[0] if len(v) else default
    return int(v) if isinstance(v, int) else default


def _is_weight(v: Any) -> bool:
    return v is not None and (v.const_value is not None or v.is_initializer())


def _load(model: str | Path | bytes | Any) -> Any:
    import onnx

    if isinstance(model, (str, Path)):
        from ..safe_input import check_regular_file

        path = check_regular_file(model, "ONNX model", limits.MAX_ONNX_BYTES)
        try:
            return onnx.load(str(path), load_external_data=False)
        except Exception as e:  # noqa: BLE001 - any unreadable file: one line
            raise AutobuildError(f"{model}: not an ONNX model ({_first_line(e)})") from None
    if isinstance(model, (bytes, bytearray)):
        if len(model) > limits.MAX_ONNX_BYTES:
            raise AutobuildError(f"ONNX model of {len(model):,} bytes is larger than the limit "
                                 f"{limits.MAX_ONNX_BYTES:,} (AUTOBUILD_MAX_ONNX_BYTES)")
        try:
            return onnx.load_from_string(bytes(model))
        except Exception as e:  # noqa: BLE001
            raise AutobuildError(f"not an ONNX model ({_first_line(e)})") from None
    if isinstance(model, onnx.ModelProto):
        return model
    raise AutobuildError(f"expected an ONNX file, bytes or ModelProto, got {type(model).__name__}")


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


def _ir_model(proto: Any, fold: bool, where: str) -> Any:
    import onnx
    import onnx_ir as ir

    try:
        proto = onnx.shape_inference.infer_shapes(proto, data_prop=True)
    except Exception:  # noqa: BLE001 - shapes are best effort: unknown dims read as 0
        pass
    try:
        model = ir.serde.deserialize_model(proto)
    except Exception as e:  # noqa: BLE001
        raise AutobuildError(f"{where}: cannot read the ONNX graph ({_first_line(e)})") from None
    if fold:
        try:
            import onnxscript.optimizer as opt

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if model.functions:
                    opt.inline(model)
                opt.fold_constants(model)
        except Exception:  # noqa: BLE001 - folding is an optimisation: the unfolded graph is still right
            pass
    model.graph.sort()
    return model


def op_graph(model: str | Path | bytes | Any, fold: bool = True, names: bool = True) -> dict:
    """The op graph of an ONNX model (a path, serialised bytes or a ``ModelProto``) as the dict of
    the module docstring; ``fold=False`` keeps the graph's constant sub-expressions as ops."""
    where = str(model) if isinstance(model, (str, Path)) else "ONNX model"
    graph = _ir_model(_load(model), fold, where).graph
    index: dict[int, int] = {}  # id(node) -> op-graph index
    alias: dict[int, Any] = {}  # id(value) -> the value it passes through (Identity outputs)
    ops, attrs, edges, node_names = [], [], [], []

    def source(v: Any) -> Any:
        while v is not None and id(v) in alias:
            v = alias[id(v)]
        return v

    for node in graph:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            continue
        ins = [source(v) for v in node.inputs]
        if node.op_type in PASS_THROUGH and node.domain in ("", "ai.onnx") and len(ins) == 1 and len(node.outputs) == 1:
            alias[id(node.outputs[0])] = ins[0]
            continue
        if len(ops) >= limits.MAX_OP_NODES:
            raise AutobuildError(f"{where}: more than {limits.MAX_OP_NODES:,} op nodes (AUTOBUILD_MAX_OP_NODES)")
        me = len(ops)
        index[id(node)] = me
        preds = set()
        for v in ins:
            p = v.producer() if v is not None else None
            if p is not None and id(p) in index and index[id(p)] not in preds:
                preds.add(index[id(p)])
                edges.append([index[id(p)], me])
        data = next((v for v in ins if v is not None and not _is_weight(v)), next((v for v in ins if v is not None), None))
        conv_like = node.op_type in CONV_LIKE
        c_in, hw_in = channels_spatial(_dims(data), conv_like)
        c_out, hw_out = channels_spatial(_dims(node.outputs[0] if node.outputs else None), conv_like)
        kernel = _first_int(node, "kernel_shape")
        if not kernel and node.op_type in ("Conv", "ConvTranspose") and len(ins) > 1:
            w = _dims(ins[1])
            kernel = w[2] if w and len(w) > 2 else 0
        has_window = bool(kernel) or node.op_type in ("Conv", "ConvTranspose")
        stride = _first_int(node, "strides", 1 if has_window else 0)
        dilation = _first_int(node, "dilations", 1 if node.op_type in ("Conv", "ConvTranspose") else 0)
        groups = _first_int(node, "group", 1 if node.op_type in ("Conv", "ConvTranspose") else 0)
        bias = (2 if len(ins) > 2 and ins[2] is not None else 1) if node.op_type in BIAS_OPS else 0
        op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        ops.append(op[:128])
        attrs.append([c_in, hw_in, c_out, hw_out, kernel, stride, dilation, groups, bias])
        node_names.append((node.name or f"{op}_{me}")[:256])
    if not ops:
        raise AutobuildError(f"{where}: the graph has no ops")
    out = {"ops": ops, "attrs": attrs, "edges": edges}
    if names:
        out["names"] = node_names
    return out
