"""The AutoBuild GNN predictor (paper Sec. 3.2, 4.1, supp. 7.1).

``h^0 = FE-MLP(x)``; hop ``m = 1..M``: ``h^m = ReLU(BN(GATv2(h^{m-1}))) (+ h^{m-1} for m >= 2)``
(batch normalisation of every node as in the authors' encoder, residual skips between hops). Graph embedding at every hop by mean aggregation (Eq. 2); the
prediction is an MLP of ``h_G^M``. All embeddings are non-negative (``abs`` then ReLU), so the L1
norm of ``h_G^m`` is the mean of the node norms ``||h_v^m||_1`` - the node / subgraph scores.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..spaces.macro import FeatureCategory
from .chain_encoder import chain_loss, chain_loss_grad, encode_chains, fusable, head_fusable
from .fe_mlp import FEMLP
from .gatv2 import GATv2Conv, chain_links

#: Normalisation after each GATv2 layer: ``"batch"`` (default; README, *The predictor*, has the
#: measurements) or ``"none"`` (every model trained before the option existed).
NORMS = ("batch", "none")


class GATv2Network(nn.Module):
    """Forward: ``(x, edge_index, batch, counts) -> (pred, node_norms, graph_norms)``.

    ``x``: int64[N, F] feature value indices; ``edge_index``: int64[2, E]; ``batch``: int64[N] graph id
    of each node; ``counts``: float[B] nodes per graph. ``pred``: float[B] in label units (the
    standardisation moments are buffers); ``node_norms``: float[N, M+1] = ``||h_v^m||_1``;
    ``graph_norms``: float[B, M+1] = ``||h_G^m||_1``.
    """

    def __init__(
        self,
        categories: Sequence[FeatureCategory],
        hidden: int = 32,
        layers: int = 4,
        fe_dim: int = 8,
        heads: int = 1,
        fe_grad_scale: float = 0.03,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        self.fe_grad_scale = float(fe_grad_scale)
        self.fe_mlp = FEMLP(categories, fe_dim)
        dims = [self.fe_mlp.out_dim] + [hidden] * layers
        self.convs = nn.ModuleList(
            # No bias before a batch norm: the norm's shift subsumes it (one op less each way).
            GATv2Conv(dims[i], hidden, heads=heads, concat=heads == 1, add_self_loops=False, bias=norm != "batch")
            for i in range(layers)
        )
        self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) if norm == "batch" else nn.Identity() for _ in range(layers))
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.register_buffer("y_mean", torch.zeros(()))
        self.register_buffer("y_std", torch.ones(()))

    @classmethod
    def from_hyperparameters(cls, categories: Sequence[FeatureCategory], hp: dict) -> "GATv2Network":
        """The model a stored ``config.json["hyperparameters"]`` describes (configs without ``norm``
        predate it and had none)."""
        return cls(categories, hidden=int(hp["hidden"]), layers=int(hp["layers"]), norm=str(hp.get("norm", "none")))

    @property
    def hops(self) -> int:
        """M + 1: number of hop levels with an embedding (0..M)."""
        return len(self.convs) + 1

    def embed(self, x: torch.Tensor, edge_index: torch.Tensor) -> list[torch.Tensor]:
        """Node embeddings ``[h^0, ..., h^M]``."""
        h = self.fe_mlp(x)
        hs = [h]
        chain = chain_links(edge_index, x.shape[0])  # sequence graphs: the dense GATv2 path
        # Self loops once for all hops (GATv2 attends over the node itself and its predecessors).
        loops = torch.arange(x.shape[0], device=x.device, dtype=edge_index.dtype).unsqueeze(0).expand(2, -1)
        edge_index = torch.cat([edge_index, loops], dim=1)
        if self.training and self.fe_grad_scale != 1.0:
            # Same value, gradient from the message-passing hops scaled down: the FE-MLP is then
            # shaped mainly by the hop-0 term of Eq. 4, whose gradient conflicts with the deeper
            # hops' (README, *The predictor*, has the measurements behind the default 0.03).
            a = self.fe_grad_scale
            h = h * a + h.detach() * (1.0 - a)
        for m, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            out = torch.relu(norm(conv(h, edge_index, chain)))
            h = out + h if m > 0 else out
            hs.append(h)
        return hs

    @staticmethod
    def pool(h: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Mean aggregation per graph (Eq. 2); written with index_add so that it exports to ONNX."""
        zeros = (counts.unsqueeze(1) * 0.0).expand(-1, h.shape[1])
        return zeros.index_add(0, batch, h) / counts.clamp(min=1.0).unsqueeze(1)

    def forward_std(
        self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
        """Standardised prediction, node embeddings per hop, graph embeddings per hop."""
        hs = self.embed(x, edge_index)
        gs = [self.pool(h, batch, counts) for h in hs]
        return self.head(gs[-1]).squeeze(1), hs, gs

    def forward_train(
        self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Standardised prediction and graph norms ``[M+1, B]`` for the loss (Eq. 4), in fewer ops
        than :meth:`forward_std`: embeddings are non-negative, so ``||h_G^m||_1`` (the L1 norm of a
        mean) is the mean of the node norms ``||h_v^m||_1``, one pooling of ``[N, M+1]`` norms
        instead of one per hop; only the last hop is pooled whole, for the head. Chains on the
        CPU take :func:`~.chain_encoder.encode_chains` (the same function, fused)."""
        if self.training and torch.is_grad_enabled() and self._fusable()[0]:
            chain = chain_links(edge_index, x.shape[0])
            if chain is not None:
                graph_norms, pooled = encode_chains(self.convs, self.norms, self.fe_mlp(x), chain, batch, counts,
                                                    self.fe_grad_scale)
                return self.head(pooled).squeeze(1), graph_norms
        hs = self.embed(x, edge_index)
        node_norms = torch.stack([h.sum(1) for h in hs], dim=1)
        graph_norms = self.pool(node_norms, batch, counts).t()
        return self.head(self.pool(hs[-1], batch, counts)).squeeze(1), graph_norms

    def _fusable(self) -> tuple[bool, bool]:
        """Whether :func:`~.chain_encoder.fusable` holds for every hop, and
        :func:`~.chain_encoder.head_fusable` for the head, remembered for the state they were checked
        in (the hops' training flags, device, dtype; the layers' configuration is fixed when the
        model is built): the checks' attribute lookups cost a training step a few per cent."""
        emb = self.fe_mlp.emb
        key = (emb.device, emb.dtype, *(c.training for c in self.convs), *(n.training for n in self.norms))
        cached = self.__dict__.get("_fusable_cache")
        if cached is None or cached[0] != key:
            hops = all(fusable(c, n, emb) for c, n in zip(self.convs, self.norms))
            self.__dict__["_fusable_cache"] = cached = (key, (hops, hops and head_fusable(self.head)))
        return cached[1]

    def fused_loss(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor,
                   y: torch.Tensor, rank_weight: float) -> torch.Tensor | None:
        """``MSE(pred, y) + rank_weight * mean over hops (1 - Pearson(soft rank ||h_G^m||_1, y))`` (Eq. 4
        with the authors' hop term, standardised ``y``) as one autograd node
        (:func:`~.chain_encoder.chain_loss`), or None where that path does not apply (evaluation,
        DAGs, configurations :func:`~.chain_encoder.fusable` does not cover): then compose
        :meth:`forward_train` with the loss terms."""
        if not torch.is_grad_enabled():
            return None
        idx, chain = self._fused_inputs(x, edge_index)
        if chain is None:
            return None
        return chain_loss(self, idx, chain, batch, counts, y, rank_weight)

    def fused_loss_grad(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor,
                        y: torch.Tensor, rank_weight: float, params: torch.Tensor, grad: torch.Tensor) -> float | None:
        """:meth:`fused_loss` and its gradient without autograd, for a training loop whose parameters
        all live in one flat buffer ``params`` (:class:`~.flat_adamw.FlatAdamW`): every parameter's
        gradient is written to its place in ``grad``, the loss returned
        (:func:`~.chain_encoder.chain_loss_grad`; no autograd node, no per-parameter accumulation).
        None where :meth:`fused_loss` would be, and where a parameter is not in ``params`` (a frozen
        one): then compose the loss and take autograd's gradient."""
        idx, chain = self._fused_inputs(x, edge_index)
        if chain is None:
            return None
        return chain_loss_grad(self, idx, chain, batch, counts, y, rank_weight, params, grad)

    def _fused_inputs(self, x: torch.Tensor, edge_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Value indices into the FE-MLP's table and ``has_pred`` of a chain batch in training mode,
        on a configuration the fused loss covers; ``has_pred`` None otherwise."""
        if not self.training or not self._fusable()[1]:
            return x, None
        return x + self.fe_mlp.offsets, chain_links(edge_index, x.shape[0])

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pred, hs, gs = self.forward_std(x, edge_index, batch, counts)
        node_norms = torch.stack([h.abs().sum(1) for h in hs], dim=1)
        graph_norms = torch.stack([g.abs().sum(1) for g in gs], dim=1)
        return pred * self.y_std + self.y_mean, node_norms, graph_norms
