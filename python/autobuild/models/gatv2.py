"""torch-geometric's ``GATv2Conv`` with its neighbourhood reductions written as ``index_*`` row ops.

Same parameters (``lin_l``, ``lin_r``, ``att``, ``bias``; a state dict of one loads into the
other), the same initialisation (Glorot weights and attention, zero bias) and the same function as
``torch_geometric.nn.GATv2Conv`` (Brody et al. 2022) for node-feature tensors without edge
features, bit for bit on the CPU (``tests/models/test_models.py``). It is written out rather than
subclassed so that training does not import torch-geometric (seconds of every run's start):
``e_ji = att . LeakyReLU(W_l x_j + W_r x_i)``, ``alpha_ji = softmax_j(e_ji)`` (shifted by the
per-node maximum, detached, as PyG's ``softmax``), ``x'_i = sum_j alpha_ji W_l x_j + b``.

Why: PyG's ``scatter`` exports to ONNX ``ScatterElements`` over indices expanded to every
channel, which ONNX Runtime runs element by element (most of a scoring run's time). Here the
sums are ``index_add`` and the maximum ``index_reduce``, which the export turns into
``ScatterND`` of whole rows (:mod:`.onnx_export`); under ``torch.export`` (the fallback exporter,
which cannot translate ``index_reduce``) the maximum is a ``scatter_reduce``.

Chains (the sequence graphs of macro spaces, supp. 7.1) take a dense path: with self loops, node
``i`` attends to itself and, unless it starts its graph, to node ``i - 1`` only, so the softmax is
over two logits and every gather is a shift by one row. On the CPU that attention is one fused
kernel of the core each way (:func:`autobuild.core.gat_chain_forward` / ``_backward``, C++ or
Numba); elsewhere the same arithmetic in torch ops. ``tests/models/test_models.py`` checks both against
the edge path, values and gradients.
"""

from __future__ import annotations

import warnings

import numpy as np

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from .. import core


def chain_links(edge_index: torch.Tensor, n: int) -> torch.Tensor | None:
    """``has_pred: bool[n]`` when ``edge_index`` (self loops excluded) is a batch of chains, i.e.
    its edges are exactly ``i - 1 -> i`` for distinct ``i`` (node ``i`` then has its predecessor);
    None for any other graph (DAG paths take the edge path) and while exporting."""
    if torch.jit.is_tracing() or torch.compiler.is_exporting():
        return None
    # On the CPU (the training loop's case) in NumPy: a few times fewer interpreter steps than tensor ops.
    host = edge_index.device.type == "cpu" and not edge_index.requires_grad
    src, dst = edge_index.numpy() if host else (edge_index[0], edge_index[1])
    if len(dst) and not (bool(((dst - src) == 1).all()) and bool((dst[1:] > dst[:-1]).all())):
        return None
    if host:
        has_pred = np.zeros(n, dtype=np.bool_)
        has_pred[dst] = True
        return torch.from_numpy(has_pred)
    has_pred = torch.zeros(n, dtype=torch.bool, device=edge_index.device)
    has_pred[dst] = True
    return has_pred


class _ChainAttention(torch.autograd.Function):
    """The attention of :meth:`GATv2Conv._chain` as the core's fused CPU kernels."""

    @staticmethod
    def forward(ctx, x_l: torch.Tensor, x_r: torch.Tensor, att: torch.Tensor, has_pred: torch.Tensor,  # noqa: ANN001
                slope: float) -> torch.Tensor:
        arrays = [t.detach().contiguous().numpy() for t in (x_l, x_r, att)]
        hp = has_pred.numpy().view(np.uint8)
        out, a_prev, a_self = core.kernel("gat_chain_forward")(*arrays, hp, slope)
        ctx.arrays, ctx.hp, ctx.slope, ctx.alpha = arrays, hp, slope, (a_prev, a_self)
        return torch.from_numpy(out)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):  # noqa: ANN001, ANN205
        dxl, dxr, datt = core.kernel("gat_chain_backward")(grad.contiguous().numpy(), *ctx.arrays, ctx.hp, ctx.slope,
                                                           *ctx.alpha)
        return torch.from_numpy(dxl), torch.from_numpy(dxr), torch.from_numpy(datt), None, None


def _fused(x_l: torch.Tensor, x_r: torch.Tensor) -> bool:
    return x_l.device.type == "cpu" and x_l.dtype == torch.float32 and x_r.dtype == torch.float32


def _glorot(t: torch.Tensor) -> None:
    """torch-geometric's ``glorot``: U(-a, a), ``a = sqrt(6 / (rows + cols))`` of the last two dims."""
    a = (6.0 / (t.size(-2) + t.size(-1))) ** 0.5
    with torch.no_grad():
        t.uniform_(-a, a)


class GATv2Conv(nn.Module):
    """``forward(x [N, F], edge_index [2, E]) -> [N, heads * out]`` (or the heads' mean).

    ``edge_index`` holds the self loops (the model adds them once for all hops); ``chain``, the
    ``has_pred`` mask of :func:`chain_links`, selects the dense path (``edge_index`` unused).
    Arguments as torch-geometric's (``add_self_loops`` must be False; no edge features)."""

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, add_self_loops: bool = False, bias: bool = True,
                 share_weights: bool = False) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.heads, self.concat = in_channels, out_channels, heads, concat
        self.negative_slope, self.dropout = negative_slope, dropout
        self.add_self_loops, self.share_weights = add_self_loops, share_weights
        self.lin_edge = self.res = None
        self.lin_l = nn.Linear(in_channels, heads * out_channels, bias=bias)
        self.lin_r = self.lin_l if share_weights else nn.Linear(in_channels, heads * out_channels, bias=bias)
        self.att = nn.Parameter(torch.empty(1, heads, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels * (heads if concat else 1))) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch-geometric's: Glorot ``lin_l``, ``lin_r`` and ``att``; their biases U(+-1/sqrt(in)); zero bias."""
        for lin in (self.lin_l, self.lin_r):
            _glorot(lin.weight)
            if lin.bias is not None:
                b = 1.0 / self.in_channels ** 0.5
                with torch.no_grad():
                    lin.bias.uniform_(-b, b)
        _glorot(self.att)
        if self.bias is not None:
            with torch.no_grad():
                self.bias.zero_()

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor,  # type: ignore[override]
                chain: torch.Tensor | None = None) -> torch.Tensor:
        if self.add_self_loops or self.lin_edge is not None:
            raise NotImplementedError("autobuild's GATv2Conv adds no self loops and takes no edge features")
        H, C = self.heads, self.out_channels
        x_l = self.lin_l(x).view(-1, H, C)
        x_r = x_l if self.share_weights else self.lin_r(x).view(-1, H, C)
        if chain is not None:
            return self._finish(self._chain(x_l, x_r, chain), x)
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
        return self._finish(out, x)

    def _chain(self, x_l: torch.Tensor, x_r: torch.Tensor, has_pred: torch.Tensor) -> torch.Tensor:
        """The edge path's arithmetic on a chain: predecessor term first, then the self loop (the
        edge order), the predecessor's weight exactly 0 where there is none; the core's fused
        kernels on the CPU in float32 without dropout, torch ops otherwise."""
        if _fused(x_l, x_r) and not (self.dropout > 0.0 and self.training):
            return _ChainAttention.apply(x_l, x_r, self.att.reshape(x_l.shape[1:]), has_pred, float(self.negative_slope))
        prev = torch.cat([torch.zeros_like(x_l[:1]), x_l[:-1]])  # x_l of node i - 1
        e_self = (F.leaky_relu(x_l + x_r, self.negative_slope) * self.att).sum(-1)  # [N, H]
        e_prev = (F.leaky_relu(prev + x_r, self.negative_slope) * self.att).sum(-1)
        e_prev = torch.where(has_pred.unsqueeze(1), e_prev, torch.full_like(e_prev, float("-inf")))
        top = torch.maximum(e_self, e_prev).detach()
        w_self, w_prev = torch.exp(e_self - top), torch.exp(e_prev - top)
        total = (w_prev + w_self) + 1e-16
        a_prev, a_self = w_prev / total, w_self / total
        if self.dropout > 0.0:
            a_prev = F.dropout(a_prev, p=self.dropout, training=self.training)
            a_self = F.dropout(a_self, p=self.dropout, training=self.training)
        return (prev * a_prev.unsqueeze(-1)) + x_l * a_self.unsqueeze(-1)

    def _finish(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        H, C = self.heads, self.out_channels
        out = out.view(-1, H * C) if self.concat else out.mean(dim=1)
        if self.res is not None:
            out = out + self.res(x)
        if self.bias is not None:
            out = out + self.bias
        return out
