"""torch-geometric's ``GATv2Conv`` with its neighbourhood reductions written as ``index_*`` row ops.

Same parameters (``lin_l``, ``lin_r``, ``att``, ``bias``) and the same function as
``torch_geometric.nn.GATv2Conv`` (Brody et al. 2022) for node-feature tensors without edge
features, bit for bit on the CPU (``tests/test_models.py``):
``e_ji = att . LeakyReLU(W_l x_j + W_r x_i)``, ``alpha_ji = softmax_j(e_ji)`` (shifted by the
per-node maximum, detached, as PyG's ``softmax``), ``x'_i = sum_j alpha_ji W_l x_j + b``.

Why: PyG's ``scatter`` exports to ONNX ``ScatterElements`` over indices expanded to every
channel, which ONNX Runtime runs element by element (most of a scoring run's time). Here the
sums are ``index_add`` and the maximum ``index_reduce``, which the export turns into
``ScatterND`` of whole rows (:mod:`.onnx_export`); under ``torch.export`` (the fallback exporter,
which cannot translate ``index_reduce``) the maximum is a ``scatter_reduce``.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

with warnings.catch_warnings():  # torch-geometric 2.8 scripts a helper with the deprecated torch.jit.script
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
    from torch_geometric.nn import GATv2Conv as _PygGATv2Conv


class GATv2Conv(_PygGATv2Conv):
    """``forward(x [N, F], edge_index [2, E]) -> [N, heads * out]`` (or the heads' mean)."""

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if self.add_self_loops or self.lin_edge is not None:
            raise NotImplementedError("autobuild's GATv2Conv adds no self loops and takes no edge features")
        H, C = self.heads, self.out_channels
        x_l = self.lin_l(x).view(-1, H, C)
        x_r = x_l if self.share_weights else self.lin_r(x).view(-1, H, C)
        src, dst = edge_index[0], edge_index[1]
        x_j = x_l.index_select(0, src)
        logit = (F.leaky_relu(x_j + x_r.index_select(0, dst), self.negative_slope) * self.att).sum(-1)  # [E, H]
        init = torch.full_like(x_l[:, :, 0], float("-inf"))
        if torch.compiler.is_exporting():
            top = init.scatter_reduce(0, dst.unsqueeze(1).expand_as(logit), logit.detach(), "amax")
        else:
            with warnings.catch_warnings():  # "index_reduce() is in beta": its amax is what we need
                warnings.filterwarnings("ignore", message=r"index_reduce\(\) is in beta")
                top = init.index_reduce(0, dst, logit.detach(), "amax")
        w = torch.exp(logit - top.index_select(0, dst))
        total = torch.zeros_like(top).index_add(0, dst, w) + 1e-16
        alpha = F.dropout(w / total.index_select(0, dst), p=self.dropout, training=self.training)
        out = torch.zeros_like(x_l).index_add(0, dst, x_j * alpha.unsqueeze(-1))
        out = out.view(-1, H * C) if self.concat else out.mean(dim=1)
        if self.res is not None:
            out = out + self.res(x)
        if self.bias is not None:
            out = out + self.bias
        return out
