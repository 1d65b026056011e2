"""``onnx-ir``: op graphs of ONNX models as a space (the paper's "IR" format, Sec. 3.1, 5.1).

Not a space to search or build in: an arch is the op graph of a whole model
(:func:`autobuild.opgraphs.convert.op_graph`: ``{"ops", "attrs", "edges"[, "names", "source"]}``),
and any ONNX model has one, so the space has no modules and no mutation (capabilities: none). What
it gives the algorithms is what training, prediction and op-subgraph scoring need: validation,
node features and batched DAGs.

Node features (one FE-MLP scalar each, Sec. 4.3), fixed so that one model reads any ONNX model:

* ``op``: the op type, one of the ``ai.onnx`` operators of :data:`OPS` or ``other`` (custom
  domains, operators newer than this list);
* ``c_in``, ``hw_in``, ``c_out``, ``hw_out``: channels and spatial size of the op's first data
  input and first output, numeric, in quarter-octave bins (``1 + round(4 log2 v)``, 0 = unknown or
  none; bins of +-9 %, so that MBConv expansions 3, 4, 6 stay apart);
* ``kernel`` (0 = none, 8 = 8 or more), ``stride``, ``dilation`` (0 = none, 3 = 3 or more);
* ``groups``: ``n/a``, ``dense``, ``depthwise`` (groups = input channels), ``grouped``;
* ``bias``: ``n/a``, ``none``, ``bias``.

Codes are row numbers of the graphs this space instance has encoded (``encode`` interns each graph
and returns its row; ``graphs`` batches rows): op graphs have no fixed-width code. Edges must go
from an earlier node to a later one (topological order, as the converter writes them).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

import numpy as np

from .. import limits
from ..errors import AutobuildError
from .base import SpaceBase
from .macro import FeatureCategory

#: The ``ai.onnx`` operators (onnx 1.23, deprecated ones and ``Constant`` / ``Identity`` removed:
#: the converter bypasses those). Fixed: the ``op`` feature, hence every model's input layout,
#: must not change with the installed onnx version.
OPS = (
    "Abs", "Acos", "Acosh", "Add", "AffineGrid", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh",
    "Attention", "AveragePool", "BatchNormalization", "Bernoulli", "BitCast", "BitShift", "BitwiseAnd",
    "BitwiseNot", "BitwiseOr", "BitwiseXor", "BlackmanWindow", "Cast", "CastLike", "CausalConvWithState", "Ceil",
    "Celu", "CenterCropPad", "Clip", "Col2Im", "Compress", "Concat", "ConcatFromSequence", "ConstantOfShape",
    "Conv", "ConvInteger", "ConvTranspose", "Cos", "Cosh", "CumProd", "CumSum", "DFT", "DeformConv",
    "DepthToSpace", "DequantizeLinear", "Det", "Div", "Dropout", "DynamicQuantizeLinear", "Einsum", "Elu",
    "Equal", "Erf", "Exp", "Expand", "EyeLike", "Flatten", "Floor", "GRU", "Gather", "GatherElements",
    "GatherND", "Gelu", "Gemm", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "Greater",
    "GreaterOrEqual", "GridSample", "GroupNormalization", "HammingWindow", "HannWindow", "HardSigmoid",
    "HardSwish", "Hardmax", "If", "ImageDecoder", "InstanceNormalization", "IsInf", "IsNaN", "LRN", "LSTM",
    "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual", "LinearAttention", "Log", "LogSoftmax", "Loop",
    "LpNormalization", "LpPool", "MatMul", "MatMulInteger", "Max", "MaxPool", "MaxRoiPool", "MaxUnpool", "Mean",
    "MeanVarianceNormalization", "MelWeightMatrix", "Min", "Mish", "Mod", "Mul", "Multinomial", "Neg",
    "NegativeLogLikelihoodLoss", "NonMaxSuppression", "NonZero", "Not", "OneHot", "Optional",
    "OptionalGetElement", "OptionalHasElement", "Or", "PRelu", "Pad", "Pow", "QLinearConv", "QLinearMatMul",
    "QuantizeLinear", "RMSNormalization", "RNN", "RandomNormal", "RandomNormalLike", "RandomUniform",
    "RandomUniformLike", "Range", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp",
    "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare", "RegexFullMatch",
    "Relu", "Reshape", "Resize", "ReverseSequence", "RoiAlign", "RotaryEmbedding", "Round", "STFT", "Scan",
    "ScatterElements", "ScatterND", "Selu", "SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase",
    "SequenceInsert", "SequenceLength", "SequenceMap", "Shape", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh",
    "Size", "Slice", "Softmax", "SoftmaxCrossEntropyLoss", "Softplus", "Softsign", "SpaceToDepth", "Split",
    "SplitToSequence", "Sqrt", "Squeeze", "StringConcat", "StringNormalizer", "StringSplit", "Sub", "Sum",
    "SwiGLU", "Swish", "Tan", "Tanh", "TensorScatter", "TfIdfVectorizer", "ThresholdedRelu", "Tile", "TopK",
    "Transpose", "Trilu", "Unique", "Unsqueeze", "Where", "Xor",
)
OTHER = "other"
N_BINS = 82  # size bins 0..81: 1 + round(4 log2 v) covers v up to 2^20
KERNELS = tuple(range(9))
SMALL = tuple(range(4))  # stride, dilation
GROUPS = ("n/a", "dense", "depthwise", "grouped")
BIAS = ("n/a", "none", "bias")
N_FIELDS = 9  # converter fields: c_in hw_in c_out hw_out kernel stride dilation groups bias
_OP_INDEX = {op: i for i, op in enumerate(OPS)}


def size_bins(v: np.ndarray) -> np.ndarray:
    """Quarter-octave bin of sizes ``v`` (0 for 0 = unknown)."""
    v = np.asarray(v, dtype=np.float64)
    out = np.zeros(v.shape, dtype=np.int64)
    pos = v > 0
    out[pos] = np.clip(1 + np.rint(4.0 * np.log2(v[pos])), 1, N_BINS - 1)
    return out


def _bin_scale() -> tuple[float, float]:
    vals = np.arange(N_BINS, dtype=np.float64)
    return float(vals.mean()), float(vals.std())


class OpGraphSpace(SpaceBase):
    """The ``onnx-ir`` space; see the module docstring."""

    name = "onnx-ir"
    description = ("op graphs of ONNX models (paper's IR format): one node per primitive op, features op type, "
                   "tensor channels / sizes, kernel, stride, dilation, groups, bias")
    code_len = 1
    global_features: tuple = ()
    capabilities: frozenset[str] = frozenset()
    n_groups = 0
    module_width = 0

    def __init__(self) -> None:
        self._store: list[tuple[np.ndarray, np.ndarray]] = []

    # ------------------------------------------------------------------ identity
    def to_dict(self) -> dict:
        return {"type": "onnx-ir", "name": self.name, "version": 1, "ops": list(OPS), "size_bins": N_BINS}

    def fingerprint(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"OpGraphSpace({len(OPS)} op types, {len(self._store)} graphs held)"

    def cardinality(self, include_globals: bool = False) -> int:
        raise AutobuildError("the onnx-ir space has no finite size: any ONNX model has an op graph")

    # ------------------------------------------------------------------ features
    @property
    def feature_categories(self) -> tuple:
        mu, sd = _bin_scale()
        labels = (0,) + tuple(int(round(2 ** ((b - 1) / 4))) for b in range(1, N_BINS))  # a size per bin
        size = lambda n: FeatureCategory(n, N_BINS, tuple(range(N_BINS)), True, (mu, sd), labels)  # noqa: E731
        return (
            FeatureCategory("op", len(OPS) + 1, OPS + (OTHER,)),
            size("c_in"), size("hw_in"), size("c_out"), size("hw_out"),
            FeatureCategory("kernel", len(KERNELS), KERNELS),
            FeatureCategory("stride", len(SMALL), SMALL),
            FeatureCategory("dilation", len(SMALL), SMALL),
            FeatureCategory("groups", len(GROUPS), GROUPS),
            FeatureCategory("bias", len(BIAS), BIAS),
        )

    def node_features(self, graph: dict) -> np.ndarray:
        """``int64[n, 10]`` feature value indices of a validated op graph's nodes."""
        a = np.asarray(graph["attrs"], dtype=np.int64).reshape(-1, N_FIELDS)
        x = np.empty((len(a), 10), dtype=np.int64)
        x[:, 0] = [_OP_INDEX.get(op, len(OPS)) for op in graph["ops"]]
        x[:, 1:5] = size_bins(a[:, 0:4])
        x[:, 5] = np.minimum(a[:, 4], KERNELS[-1])
        x[:, 6] = np.minimum(a[:, 5], SMALL[-1])
        x[:, 7] = np.minimum(a[:, 6], SMALL[-1])
        g, c_in = a[:, 7], a[:, 0]
        x[:, 8] = np.where(g == 0, 0, np.where(g == 1, 1, np.where(g == c_in, 2, 3)))
        x[:, 9] = np.minimum(a[:, 8], 2)
        return x

    def encode_graph(self, graph: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(x int64[n, 10], edge_index int64[2, e])`` of one op graph (validated here)."""
        g = self.validate(graph)
        ei = np.asarray(g["edges"], dtype=np.int64).reshape(-1, 2).T.copy()
        return self.node_features(g), ei

    # ------------------------------------------------------------------ archs and codes
    def validate(self, arch: Any, pad: str = "repeat") -> dict:
        """The op graph ``arch`` checked (types, lengths, bounds, topological edges); one-line errors."""
        if not isinstance(arch, dict):
            raise AutobuildError(f"an onnx-ir arch is an op graph object (autobuild opgraphs writes them), "
                                 f"got {type(arch).__name__}")
        for k in ("ops", "attrs", "edges"):
            if k not in arch:
                raise AutobuildError(f"op graph: missing key {k!r} (an op graph has ops, attrs, edges)")
        extra = [k for k in arch if k not in ("ops", "attrs", "edges", "names", "source")]
        if extra:
            raise AutobuildError(f"op graph: unexpected key {extra[0]!r}")
        ops, attrs, edges = arch["ops"], arch["attrs"], arch["edges"]
        if not isinstance(ops, list) or not ops or not all(isinstance(o, str) and 0 < len(o) <= 128 for o in ops):
            raise AutobuildError("op graph: 'ops' must be a non-empty list of op type names")
        n = len(ops)
        if n > limits.MAX_OP_NODES:
            raise AutobuildError(f"op graph: {n:,} nodes, more than {limits.MAX_OP_NODES:,} (AUTOBUILD_MAX_OP_NODES)")
        if not isinstance(attrs, list) or len(attrs) != n:
            raise AutobuildError(f"op graph: 'attrs' must have one row per op ({n}), got "
                                 f"{len(attrs) if isinstance(attrs, list) else type(attrs).__name__}")
        for i, row in enumerate(attrs):
            if (not isinstance(row, list) or len(row) != N_FIELDS
                    or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**40 for v in row)):
                raise AutobuildError(f"op graph: attrs row {i} must be {N_FIELDS} non-negative integers "
                                     f"(c_in hw_in c_out hw_out kernel stride dilation groups bias)")
        if not isinstance(edges, list):
            raise AutobuildError("op graph: 'edges' must be a list of [from, to] pairs")
        for j, e in enumerate(edges):
            if (not isinstance(e, list) or len(e) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in e)
                    or not 0 <= e[0] < e[1] < n):
                raise AutobuildError(f"op graph: edge {j} must be [from, to] with 0 <= from < to < {n} "
                                     f"(topological order), got {str(e)[:40]}")
        if len(edges) > 64 * n:
            raise AutobuildError(f"op graph: {len(edges):,} edges for {n} nodes")
        names = arch.get("names")
        if names is not None and (not isinstance(names, list) or len(names) != n
                                  or not all(isinstance(s, str) and len(s) <= 256 for s in names)):
            raise AutobuildError(f"op graph: 'names' must be {n} strings")
        src = arch.get("source")
        if src is not None and (not isinstance(src, str) or len(src) > 4096):
            raise AutobuildError("op graph: 'source' must be a string of at most 4096 characters")
        return arch

    def encode(self, archs: Iterable[Any]) -> np.ndarray:
        """Intern each op graph; codes ``int32[N, 1]`` are their rows in this instance."""
        rows = []
        for i, a in enumerate(archs):
            try:
                x, ei = self.encode_graph(a)
            except AutobuildError as e:
                raise AutobuildError(f"arch {i}: {e}") from None
            rows.append(len(self._store))
            self._store.append((x.astype(np.int16), ei.astype(np.int32)))
        return np.asarray(rows, dtype=np.int32).reshape(-1, 1)

    def _rows(self, codes: np.ndarray) -> np.ndarray:
        rows = np.asarray(codes).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self._store)):
            raise AutobuildError("onnx-ir codes are rows of graphs this space instance encoded")
        return rows

    def graphs(self, codes: np.ndarray) -> Any:
        from .graph_batch import GraphBatch

        return GraphBatch.from_graphs([(self._store[r][0], self._store[r][1]) for r in self._rows(codes)])

    def to_graph(self, arch: Any) -> dict:
        x, ei = self.encode_graph(arch)
        return {"x": x.tolist(), "edge_index": ei.tolist()}

    def decode(self, codes: np.ndarray, pad: str = "repeat") -> list[dict]:
        raise AutobuildError("onnx-ir codes do not decode: op graphs are read from files, not generated")

    def canonical_codes(self, codes: np.ndarray) -> np.ndarray:
        return np.asarray(codes, dtype=np.int32)

    def sample(self, n: int, seed: int | None = 0, pad: str = "repeat") -> list[dict]:
        raise AutobuildError("the onnx-ir space cannot generate archs: op graphs come from ONNX models "
                             "(autobuild opgraphs)")

    def sample_codes(self, n: int, seed: int | None = 0, unique: bool = True) -> np.ndarray:
        """Rows of graphs already encoded (the ONNX export's example inputs); nothing is generated."""
        if not self._store:
            raise AutobuildError("the onnx-ir space cannot generate archs: encode op graphs first")
        rng = np.random.default_rng(seed)
        k = min(n, len(self._store)) if unique else n
        return rng.choice(len(self._store), size=k, replace=not unique).astype(np.int32).reshape(-1, 1)

    # ------------------------------------------------------------------ no modules
    def _no_modules(self, *_: Any) -> Any:
        raise AutobuildError("the onnx-ir space has no module groups: score op subgraphs with `autobuild subgraphs`")

    group_label = group_depths = module_count = enumerate_modules = _no_modules

    def module_depths(self, codes: np.ndarray, g: int) -> np.ndarray:
        return self._no_modules()

    empty_codes = place_modules = module_layers = parse_module = module_texts = compatible = mutation_layout = _no_modules


def onnx_ir() -> OpGraphSpace:
    return OpGraphSpace()


def from_dict(d: dict, source: str = "space") -> OpGraphSpace:
    sp = OpGraphSpace()
    if d.get("version") != 1 or list(d.get("ops", ())) != list(OPS) or d.get("size_bins") != N_BINS:
        raise AutobuildError(f"{source}: an onnx-ir space of another autobuild version (op list or bins differ)")
    return sp
