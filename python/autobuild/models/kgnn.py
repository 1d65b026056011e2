"""The efficiency (latency) predictor of paper supp. Sec. 7.4: a k-GNN regressor.

Distinct from the AutoBuild predictor (:mod:`.predictor`), "but similar in design": the same
sequence graphs and node features, but

* k-GNN message passing (``GraphConv``, Morris et al. 2019, "Weisfeiler and Leman Go Neural") with
  hidden size 128 and LeakyReLU activations instead of GATv2 / ReLU;
* a graph embedding by **sum** aggregation instead of the mean of Eq. 2 (latency is close to a sum
  of per-layer costs, so a sum read-out fits it);
* trained for 500 epochs with batch size 32 on ``L_Lat = MAE(y, y') + (1 - SRCC(y, y'))`` (Eq. 6),
  with the differentiable SRCC of :mod:`.softrank`.

Node embedding: every value of every node-feature category owns a learned ``hidden``-vector and a
node's 0-hop embedding is ``h^0 = LeakyReLU(sum_c E_c[x_c] + b)``. That is exactly "one embedding
per category, concatenated, then a Linear layer" (the Linear of a concatenation is the sum of
per-block maps, and a free per-value table represents any such map) without the ``F*d x hidden``
matmul per node. Numeric categories (resolution) take finitely many values too, so they get a row
per value; the FE-MLP of :mod:`.fe_mlp` (one scalar per category) is not used - it is an
interpretability bottleneck the latency regressor does not need.

Inference cost (the evolutionary search evaluates 10^4-10^5 archs per second with it): ``h^0``
depends only on the node's feature tuple, of which a space has few (540 for OFA-MBv3, 648 for
OFA-PN). When there are at most :data:`MAX_TYPE_TABLE`, the model computes ``h^0`` and the two
products of the first ``GraphConv`` with it once per *type* and gathers them per node, so the
first layer costs no per-node matmul (2 of the 8); the result is the same function (float
rounding aside; ``tests/models/test_kgnn.py`` checks it against the plain path and against PyG's own
``GraphConv.forward``).

The forward signature and outputs equal :class:`~.predictor.GATv2Network`'s, so the model
directory, the ONNX export and :class:`~.inference.OnnxSession` serve both kinds unchanged:
``node_norms[:, m] = ||h_v^m||_1`` and ``graph_norms[:, m] = sum_v ||h_v^m||_1`` (the L1 norm of the
graph's layer-``m`` node embeddings) for ``m = 0..layers``. These are diagnostics (``srcc_hop`` in
the report): LeakyReLU embeddings are signed and not trained to rank, so they are not the hop
scores that AutoBuild's module scoring (Eq. 5) needs.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

with warnings.catch_warnings():  # torch-geometric 2.8 scripts a helper with the deprecated torch.jit.script
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
    from torch_geometric.nn import GraphConv

from ..errors import AutobuildError
from ..metrics import regression_report
from ..spaces.macro import FeatureCategory
from ..spaces.protocol import SearchSpace
from .softrank import spearman as soft_spearman
from .fitting import (
    TrainResult,
    ValidationMonitor,
    adamw,
    fit,
    lr_schedule,
    label_moments,
    run_model,
    split_and_moments,
    split_indices,
    steps_per_epoch,
    torch_threads,
    validate_common,
)

KIND = "kgnn"
#: What the k-GNN's prediction starts from: ``"macs"`` (OFA spaces: a line on the exact MACs,
#: computed inside the model from the node types, that the GNN corrects) or ``"none"``; the config's
#: ``"auto"`` is ``"macs"`` where the space has MAC counts.
PRIORS = ("macs", "none")
#: Largest number of node-feature tuples for which the first layer runs on per-type tables.
MAX_TYPE_TABLE = 4096


class _GraphConv(GraphConv):
    """torch_geometric's ``GraphConv`` (k-GNN, ``aggr="add"``, no edge weights) with the neighbour
    sum written as one ``index_add``: the same parameters (``lin_rel`` with the bias, ``lin_root``)
    and the same function, ``x'_i = W_1 x_i + W_2 sum_{j -> i} x_j + b``. PyG's ``scatter_add``
    exports to an ONNX ``ScatterElements`` over an index expanded to ``[E, hidden]``, which ONNX
    Runtime runs element by element; ``index_add`` becomes a ``ScatterND`` of whole rows, many
    times faster (``benchmarks/latency_predictor.py``)."""

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        agg = torch.zeros_like(x).index_add(0, edge_index[1], x.index_select(0, edge_index[0]))
        return torch.addmm(self.lin_rel(agg), x, self.lin_root.weight.t())


def _l1(h: torch.Tensor) -> torch.Tensor:
    """Row-wise L1 norm (one ONNX ReduceL1 instead of Abs + ReduceSum)."""
    return torch.linalg.vector_norm(h, 1, dim=-1)


class GraphConvNetwork(nn.Module):
    """Forward: ``(x, edge_index, batch, counts) -> (pred, node_norms, graph_norms)``.

    Inputs as :class:`~.predictor.GATv2Network` (``x``: int64[N, F] feature value indices,
    ``edge_index``: int64[2, E], ``batch``: int64[N], ``counts``: float[B] nodes per graph).
    ``pred``: float[B] in label units (the standardisation moments ``y_mean`` / ``y_std`` are
    buffers); ``node_norms``: float[N, layers+1] = ``||h_v^m||_1``; ``graph_norms``:
    float[B, layers+1] = ``sum_v ||h_v^m||_1``. The prediction is an MLP of the sum-pooled last
    layer ``sum_v h_v^layers``.
    """

    kind = KIND

    @classmethod
    def from_hyperparameters(cls, categories: Sequence[FeatureCategory], hp: dict) -> "GraphConvNetwork":
        """The model a stored ``config.json["hyperparameters"]`` describes."""
        return cls(categories, hidden=int(hp["hidden"]), layers=int(hp["layers"]), prior=str(hp.get("prior", "none")))

    def __init__(self, categories: Sequence[FeatureCategory], hidden: int = 128, layers: int = 4,
                 negative_slope: float = 0.01, max_type_table: int = MAX_TYPE_TABLE, prior: str = "none") -> None:
        super().__init__()
        if layers < 1 or hidden < 1:
            raise AutobuildError("k-GNN: hidden and layers must be >= 1")
        sizes = [int(c.size) for c in categories]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        n_values = int(sum(sizes))
        self.register_buffer("offsets", torch.from_numpy(offsets), persistent=False)
        self.register_buffer("value_ids", torch.arange(n_values, dtype=torch.long), persistent=False)
        n_types = math.prod(sizes)
        self.use_type_table = n_types <= max_type_table
        if self.use_type_table:
            # Node type = mixed-radix number of the feature tuple; multi-hot rows of every type.
            strides = [math.prod(sizes[i + 1 :]) for i in range(len(sizes))]
            self.register_buffer("type_strides", torch.tensor(strides, dtype=torch.long), persistent=False)
            tuples = np.indices(sizes).reshape(len(sizes), -1).T + offsets  # [T, F] value ids
            mh = np.zeros((n_types, n_values), dtype=np.float32)
            np.put_along_axis(mh, tuples, 1.0, axis=1)
            self.register_buffer("type_multi_hot", torch.from_numpy(mh), persistent=False)
        # Per-value rows of all categories in one [V, hidden] parameter; N(0, 1/F) so that the
        # summed 0-hop embedding starts at unit scale.
        self.emb = nn.Parameter(torch.randn(n_values, hidden) / math.sqrt(max(len(sizes), 1)))
        self.emb_bias = nn.Parameter(torch.zeros(hidden))
        self.convs = nn.ModuleList(_GraphConv(hidden, hidden, aggr="add") for _ in range(layers))
        self.act = nn.LeakyReLU(negative_slope)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.LeakyReLU(negative_slope), nn.Linear(hidden, 1))
        self.register_buffer("y_mean", torch.zeros(()))
        self.register_buffer("y_std", torch.ones(()))
        if prior not in PRIORS:
            raise AutobuildError(f"k-GNN: prior must be one of {', '.join(PRIORS)}, got {prior!r}")
        self.prior = prior
        if prior == "macs":
            if not self.use_type_table:
                raise AutobuildError("k-GNN: the MACs prior needs a space with at most "
                                     f"{MAX_TYPE_TABLE} node types")
            # Layer MACs of every node type, the arch's fixed MACs (they depend on r, a feature of
            # every node), their standardisation, and the line a + b * macs the GNN corrects.
            self.register_buffer("type_macs", torch.zeros(n_types))
            self.register_buffer("type_fixed", torch.zeros(n_types))
            self.register_buffer("macs_moments", torch.tensor([0.0, 1.0]))
            self.prior_coef = nn.Parameter(torch.zeros(2))
            with torch.no_grad():  # the correction starts at 0: the model starts as the line
                self.head[-1].weight.zero_()
                self.head[-1].bias.zero_()

    def set_macs_prior(self, type_macs: np.ndarray, type_fixed: np.ndarray, mean: float, std: float,
                       coef: Sequence[float]) -> None:
        """Install the MACs tables (:func:`autobuild.networks.ofa_counts.node_type_macs`, in GMACs),
        the moments of the training archs' MACs and the least-squares line on them."""
        with torch.no_grad():
            self.type_macs.copy_(torch.as_tensor(type_macs, dtype=torch.float32))
            self.type_fixed.copy_(torch.as_tensor(type_fixed, dtype=torch.float32))
            self.macs_moments.copy_(torch.tensor([mean, std], dtype=torch.float32))
            self.prior_coef.copy_(torch.as_tensor(list(coef), dtype=torch.float32))

    def graph_macs(self, x: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Each graph's exact MACs (GMACs) from its nodes' types: the sum of the layers' plus the
        fixed part (the mean over the graph's nodes, which all carry the same ``r``)."""
        t = (x * self.type_strides).sum(1)
        col = torch.stack([self.type_macs.index_select(0, t), self.type_fixed.index_select(0, t)], dim=1)
        s = self.pool(col, batch, counts)
        return s[:, 0] + s[:, 1] / counts.clamp(min=1.0)

    def _prior(self, x: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor) -> torch.Tensor | float:
        if self.prior != "macs":
            return 0.0
        z = (self.graph_macs(x, batch, counts) - self.macs_moments[0]) / self.macs_moments[1]
        return self.prior_coef[0] + self.prior_coef[1] * z

    @property
    def hops(self) -> int:
        """layers + 1: number of embedding levels (0..layers)."""
        return len(self.convs) + 1

    def embed0(self, x: torch.Tensor) -> torch.Tensor:
        """``h^0`` per node (the plain path: multi-hot of the feature values times the table)."""
        multi_hot = ((x + self.offsets).unsqueeze(-1) == self.value_ids).to(self.emb.dtype).sum(1)
        return self.act(torch.addmm(self.emb_bias, multi_hot, self.emb))

    def layers_out(self, x: torch.Tensor, edge_index: torch.Tensor, use_table: bool | None = None
                   ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(||h^0||_1 [N], [h^1, ..., h^layers])``.

        ``use_table``: ``None`` picks the per-type tables when exporting (ONNX) or when the batch has
        at least as many nodes as there are types (else computing every type costs more than
        every node, e.g. one arch at a time); ``True`` / ``False`` force a path."""
        conv = self.convs[0]
        if use_table is None:
            use_table = self.use_type_table and (
                torch.compiler.is_exporting() or torch.jit.is_tracing() or x.shape[0] >= self.type_multi_hot.shape[0]
            )
        if use_table and self.use_type_table:
            t = (x * self.type_strides).sum(1)  # node type ids [N]
            h0 = self.act(torch.addmm(self.emb_bias, self.type_multi_hot, self.emb))  # [T, hidden]
            root = torch.addmm(conv.lin_rel.bias, h0, conv.lin_root.weight.t())  # W_1 h^0 + b per type
            rel = h0 @ conv.lin_rel.weight.t()  # W_2 h^0 per type
            n0 = _l1(h0).index_select(0, t)
            src_t = t.index_select(0, edge_index[0])
            h = self.act(root.index_select(0, t).index_add(0, edge_index[1], rel.index_select(0, src_t)))
        else:
            h0 = self.embed0(x)
            n0 = _l1(h0)
            h = self.act(conv(h0, edge_index))
        hs = [h]
        for conv in self.convs[1:]:
            h = self.act(conv(h, edge_index))
            hs.append(h)
        return n0, hs

    @staticmethod
    def pool(h: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Sum aggregation per graph; index_add (not torch_geometric's global_add_pool) so that the
        number of graphs comes from ``counts`` and the ONNX export keeps it dynamic."""
        zeros = (counts.unsqueeze(1) * 0.0).expand(-1, h.shape[1])
        return zeros.index_add(0, batch, h)

    def forward_std(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor
                    ) -> torch.Tensor:
        """Standardised prediction (what the loss sees)."""
        _, hs = self.layers_out(x, edge_index)
        return self.head(self.pool(hs[-1], batch, counts)).squeeze(1) + self._prior(x, batch, counts)

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n0, hs = self.layers_out(x, edge_index)
        pred = self.head(self.pool(hs[-1], batch, counts)).squeeze(1) + self._prior(x, batch, counts)
        node_norms = torch.stack([n0] + [_l1(h) for h in hs], dim=1)
        graph_norms = self.pool(node_norms, batch, counts)
        return pred * self.y_std + self.y_mean, node_norms, graph_norms


@dataclass
class KGNNConfig:
    """Hyper-parameters; epochs, batch size, hidden size and loss follow supp. Sec. 7.4.

    The paper gives no optimiser settings. AdamW at ``lr = 1e-3`` (Adam's usual rate for GNN
    regressors of this width, 10x the AutoBuild predictor's 1e-4, which serves a 32-wide model whose
    FE-MLP must stay interpretable) with a light ``weight_decay = 1e-4``, and a cosine decay of the
    rate to 0 over the run: the MAE term's gradient does not shrink near the optimum, so at a
    constant rate the weights keep jittering at the rate's scale, and the decay lets the last epochs
    settle, which is what the +-10 % accuracy measures (README, *Efficiency predictors*)."""

    epochs: int = 500
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"  # "cosine" (decay to 0 over all steps) or "constant"
    hidden: int = 128
    layers: int = 4
    test_fraction: float = 0.1
    seed: int = 0
    rank_weight: float = 1.0  # weight of the (1 - SRCC) term of Eq. 6
    rank_eps: float = 0.1  # soft-rank regularisation, applied to batch-standardised predictions
    threads: int = 1  # torch CPU threads while training (0 = torch default)
    split_seed: int | None = None  # seed of the split permutation (default: ``seed``)
    # > 0: hold this share of the training archs out and keep the best epoch; None: 0.1 with the MACs
    # prior (the model starts at the line, so the best epoch is never worse than it), else 0.
    val_fraction: float | None = None
    prior: str = "auto"  # PRIORS, or "auto": "macs" where the space has exact MAC counts

    def validate(self) -> None:
        validate_common(self)
        if self.prior not in PRIORS + ("auto",):
            raise AutobuildError(f"prior must be one of auto, {', '.join(PRIORS)}, got {self.prior!r}")
        if self.val_fraction is not None and not 0.0 <= self.val_fraction < 0.5:
            raise AutobuildError(f"val_fraction must be in [0, 0.5), got {self.val_fraction}")
        if not self.rank_weight >= 0 or not self.rank_eps > 0:
            raise AutobuildError("rank_weight must be >= 0 and rank_eps > 0")


def latency_loss(pred: torch.Tensor, y: torch.Tensor, rank_weight: float = 1.0, eps: float = 0.1) -> torch.Tensor:
    """Eq. 6 on standardised targets: ``MAE(y, y') + rank_weight * (1 - SRCC(y, y'))``.

    The soft ranks see the batch-standardised predictions, so ``eps`` is scale-free (as the
    AutoBuild hop loss in :func:`.trainer.hop_loss`)."""
    mae = (pred - y).abs().mean()
    if rank_weight == 0:
        return mae
    z = (pred - pred.mean()) / (pred.std() + 1e-8)
    return mae + rank_weight * (1.0 - soft_spearman(z, y, regularization_strength=eps))


def _check_inputs(space: SearchSpace, codes: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != space.code_len:
        raise AutobuildError(f"codes must be an int array [n, {space.code_len}] of space {space.name!r}, "
                             f"got shape {codes.shape}")
    if not np.issubdtype(codes.dtype, np.integer):
        raise AutobuildError(f"codes must be integers, got {codes.dtype}")
    try:
        y = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise AutobuildError("labels must be numbers") from None
    if y.ndim != 1:
        raise AutobuildError(f"labels must be 1-D, got shape {y.shape}")
    if len(y) != len(codes):
        raise AutobuildError(f"{len(codes)} archs but {len(y)} labels")
    if not np.all(np.isfinite(y)):
        raise AutobuildError("labels contain NaN or infinite values")
    try:
        space.graphs(codes[:1])  # layout / range check of one code before minutes of training
        if len(codes) > 1:
            space.graphs(codes)
    except ValueError as e:
        raise AutobuildError(f"invalid arch codes for space {space.name!r}: {e}") from None
    return codes.astype(np.int32, copy=False), y


def train_kgnn(
    space: SearchSpace,
    codes: np.ndarray,
    y: np.ndarray,
    config: KGNNConfig | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train a k-GNN latency predictor (supp. Sec. 7.4) on labelled arch codes.

    Seeded random train / test split (``test_fraction``), targets standardised on the train split,
    deterministic for a given seed and thread count. ``progress(epoch, loss)`` after every epoch.
    ``report["test"]`` holds :func:`autobuild.metrics.regression_report` of the held-out archs (MAE,
    MAPE, SRCC, within10 = % predicted within +-10 %) and the fields ``autobuild info`` reads."""
    cfg = config or KGNNConfig()
    cfg.validate()
    codes, y = _check_inputs(space, codes, y)
    from ..networks.ofa_counts import NETS

    if cfg.prior == "auto":
        cfg = replace(cfg, prior="macs" if space.name in NETS else "none")
    if cfg.val_fraction is None:
        cfg = replace(cfg, val_fraction=0.1 if cfg.prior == "macs" else 0.0)
    if cfg.prior == "macs" and space.name not in NETS:
        raise AutobuildError(f"prior 'macs' needs exact MAC counts, which space {space.name!r} has not "
                             f"(spaces with counts: {', '.join(NETS)})")
    tr, te, mu, sd = split_and_moments(y, cfg, split_indices)
    with torch_threads(cfg.threads):
        return _train(space, codes, y, cfg, tr, te, mu, sd, progress)


def _train(space: SearchSpace, codes: np.ndarray, y: np.ndarray, cfg: KGNNConfig, tr: np.ndarray, te: np.ndarray,
           mu: float, sd: float, progress: Callable[[int, float], None] | None) -> TrainResult:
    torch.manual_seed(cfg.seed)
    model = GraphConvNetwork(space.feature_categories, hidden=cfg.hidden, layers=cfg.layers, prior=cfg.prior)
    model.y_mean.fill_(mu)
    model.y_std.fill_(sd)
    if cfg.prior == "macs":
        _fit_macs_prior(model, space, codes[tr], (y[tr] - mu) / sd)
    opt = adamw(model, cfg.lr, cfg.weight_decay)
    sched = lr_schedule(opt, cfg.schedule, steps_per_epoch(len(tr), cfg.batch_size) * cfg.epochs)
    ys = torch.from_numpy(((y - mu) / sd).astype(np.float32))

    def loss_fn(m: GraphConvNetwork, g: tuple, yb: torch.Tensor) -> torch.Tensor:
        return latency_loss(m.forward_std(*g), yb, cfg.rank_weight, cfg.rank_eps)

    fit_idx, val = tr, None
    if cfg.val_fraction > 0:  # early stopping: the best epoch on archs the optimiser never sees
        perm = np.random.default_rng(cfg.seed + 7).permutation(tr)
        n_val = max(2, int(round(len(tr) * cfg.val_fraction)))
        val, fit_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    monitor = (ValidationMonitor(model, space, codes, y, val, cfg.epochs, points=50, keep_best=True)
               if val is not None else ValidationMonitor(model, space, codes, y, te, cfg.epochs))
    history, train_seconds = fit(model, space, codes, ys, fit_idx, cfg.epochs, cfg.batch_size, cfg.seed, loss_fn, opt,
                                 sched, progress, monitor)
    if val is not None:
        monitor.restore()
    report = evaluate_kgnn(model, space, codes, y, tr, te)
    report.update(train_seconds=train_seconds, seconds_per_epoch=train_seconds / cfg.epochs, loss_history=history,
                  val_history=monitor.history)
    if val is not None:
        report.update(selected_epoch=monitor.best_epoch, n_val=int(len(val)))
    return TrainResult(model, cfg, report, kind=KIND)


def _fit_macs_prior(model: GraphConvNetwork, space: SearchSpace, codes: np.ndarray, ys: np.ndarray) -> None:
    """The least-squares line of the standardised labels on the standardised MACs of the training
    archs, installed as the model's starting point (its GNN learns the correction)."""
    from ..networks.ofa_counts import count_codes, node_type_macs

    macs = count_codes(space, codes)[0] / 1e9
    mu, sd = float(macs.mean()), float(macs.std()) or 1.0
    a = np.stack([np.ones(len(macs)), (macs - mu) / sd], axis=1)
    coef, *_ = np.linalg.lstsq(a, ys, rcond=None)
    layer, fixed = node_type_macs(space)
    model.set_macs_prior(layer / 1e9, fixed / 1e9, mu, sd, coef)


def evaluate_kgnn(model: GraphConvNetwork, space: SearchSpace, codes: np.ndarray, y: np.ndarray, tr: np.ndarray,
                  te: np.ndarray) -> dict:
    """Regression metrics of the test (and train) split plus the fields ``autobuild info`` reads.

    ``test`` = :func:`~autobuild.metrics.regression_report` (``mae``, ``mape`` %, ``srcc``,
    ``within10`` %) + ``n``, ``srcc_pred`` (= ``srcc``) and ``srcc_hop`` (test SRCC of the
    graph-embedding L1 norm per layer, as :func:`.trainer.evaluate`). ``hop_moments`` (node-norm
    moments over the training nodes) and ``label_moments`` are computed as for an AutoBuild model;
    ``fe_importance`` is empty (no FE-MLP)."""
    from ..metrics import spearman

    p_te, g_te, _, _ = run_model(model, space, codes[te])
    p_tr, _, n_tr, _ = run_model(model, space, codes[tr])
    test = regression_report(y[te], p_te)
    test.update(n=int(len(te)), srcc_pred=test["srcc"],
                srcc_hop=[spearman(g_te[:, m], y[te]) for m in range(model.hops)])
    hop_moments = [{"hop": m, "mean": float(n_tr[:, m].mean()), "std": float(n_tr[:, m].std())}
                   for m in range(model.hops)]
    return {
        "kind": KIND,
        "baselines": baselines(space, codes, y, tr, te),
        "n_train": int(len(tr)),
        "label_mean": float(y[tr].mean()),
        "label_std": float(y[tr].std()),
        "label_range": [float(y[tr].min()), float(y[tr].max())],
        "test": test,
        "train": regression_report(y[tr], p_tr),
        "hop_moments": hop_moments,
        "label_moments": label_moments(space, codes[tr], y[tr]),
        "fe_importance": {},
        "split": {"train": tr.tolist(), "test": te.tolist()},
    }


def baselines(space: SearchSpace, codes: np.ndarray, y: np.ndarray, tr: np.ndarray, te: np.ndarray) -> dict:
    """The obvious baseline a latency predictor must beat: a least-squares line on the exact MACs
    (``linear_macs``, OFA spaces; :mod:`autobuild.networks.ofa_counts`), fitted on the training
    split, with the test metrics of :func:`~autobuild.metrics.regression_report`."""
    from ..networks.ofa_counts import NETS, count_codes

    if space.name not in NETS:
        return {}
    macs = count_codes(space, codes)[0].astype(np.float64)
    a = np.stack([np.ones(len(tr)), macs[tr] / 1e9], axis=1)
    coef, *_ = np.linalg.lstsq(a, y[tr], rcond=None)
    pred = coef[0] + coef[1] * macs[te] / 1e9
    return {"linear_macs": {**regression_report(y[te], pred), "intercept": float(coef[0]),
                            "per_gmac": float(coef[1])}}


def summary(report: dict) -> str:
    """What ``autobuild train`` prints of a trained k-GNN."""
    t = report["test"]
    line = (f"test MAE {t['mae']:.4g}, MAPE {t['mape']:.2f} %, SRCC {t['srcc']:.3f}, within +-10 % {t['within10']:.1f} %; "
            f"{report['seconds_per_epoch']:.3f} s/epoch")
    b = report.get("baselines", {}).get("linear_macs")
    if b:
        verdict = "beats" if t["srcc"] > b["srcc"] and t["mape"] < b["mape"] else "does NOT beat"
        line += (f"\nlinear fit on MACs: SRCC {b['srcc']:.3f}, MAPE {b['mape']:.2f} %, within +-10 % "
                 f"{b['within10']:.1f} % (the predictor {verdict} it on SRCC and MAPE)")
    nc = report.get("noise_ceiling")
    if nc:
        line += f"\nnoise ceiling (repeat-pass SRCC of {nc['statistic']}, {nc['n']} archs): {nc['srcc']:.3f}"
    return line
