"""The predictor's message passing on a batch of chains, in training, as one autograd node.

Every hop of :class:`~autobuild.models.predictor.AutoBuildPredictor` (paper Sec. 3.2, supp. 7.1)
is ``h^{m+1} = ReLU(BN(GATv2(h^m))) (+ h^m)``; the loss (Eq. 4) needs the graph norms of every
hop, ``||h_G^m||_1`` (the mean of the node norms, Eq. 2), and the prediction head the mean of the
last hop. Trained module by module, a step on 128 OFA archs (about 1,900 nodes) runs some two
hundred small PyTorch operators and as many autograd nodes, whose fixed costs are most of its
time. On the sequence graphs of the macro spaces (chains with self loops) and the CPU, training
instead runs all hops as one :class:`torch.autograd.Function` whose backward is written out:

* per hop, one matrix product ``[x_l | x_r] = h [W_l | W_r]^T``;
* :func:`autobuild.core.gat_chain_bn_forward`: the chain attention, batch normalisation with the
  batch's statistics, ReLU and the residual in one pass (C++ or Numba), and its VJP
  :func:`~autobuild.core.gat_chain_bn_backward`;
* one pooling of the node norms of all hops and one of the last hop.

It is the same function as the module path (``GATv2Conv`` -> ``BatchNorm1d`` -> ``relu`` -> ``+``,
then :meth:`~.predictor.AutoBuildPredictor.pool`): values, gradients of every parameter and the
running statistics agree to float rounding (``tests/test_chain_encoder.py``). Evaluation,
exports, DAGs and configurations the kernels do not cover take the module path.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from .. import core
from .gatv2 import GATv2Conv

#: Input widths below which a hop's backward products are taken in transposed layouts: MKL runs
#: ``g @ W`` several times slower on a matrix a few columns wide (the first hop reads one scalar
#: per feature category: 190 us against 40 us as ``(W^T g^T)^T`` on 1,900 x 6 nodes).
NARROW = 16


def fusable(conv: GATv2Conv, norm: nn.Module, x: torch.Tensor) -> bool:
    """Whether :func:`encode_chains` covers this hop: training on the CPU in float32, a single-head
    (or concatenated) GATv2 without dropout, biases or residual map, followed by an affine
    ``BatchNorm1d`` that tracks running statistics with a momentum."""
    return (conv.training and x.device.type == "cpu" and x.dtype == torch.float32 and conv.concat
            and not conv.share_weights and conv.dropout == 0.0 and conv.bias is None and conv.res is None
            and conv.lin_l.bias is None and conv.lin_r.bias is None
            and isinstance(norm, nn.BatchNorm1d) and norm.training and norm.affine and norm.track_running_stats
            and norm.momentum is not None and norm.running_mean is not None)


def _numpy(t: torch.Tensor) -> Any:
    return t.detach().contiguous().numpy()


class _ChainEncoder(torch.autograd.Function):
    """``(meta, h0, *hop parameters) -> (graph_norms [M+1, B], pooled last hop [B, H*C])``."""

    @staticmethod
    def forward(ctx, meta: tuple, h0: torch.Tensor, *params: torch.Tensor):  # noqa: ANN001, ANN205
        convs, norms, has_pred, batch, denom, scale = meta
        fwd = core.kernel("gat_chain_bn_forward")
        hp = has_pred.numpy().view("uint8")
        n = h0.shape[0]
        hs, saved = [h0.detach()], []
        h = hs[0]
        with torch.no_grad():
            for m, (conv, norm) in enumerate(zip(convs, norms)):
                heads, ch = conv.heads, conv.out_channels
                w_l, w_r, att, gamma, beta = params[5 * m : 5 * m + 5]
                w = torch.cat([w_l.detach(), w_r.detach()])  # [2HC, K]
                xlr = torch.mm(h, w.t()).numpy().reshape(n, 2, heads, ch)
                args = (_numpy(att).reshape(heads, ch), hp, float(conv.negative_slope), _numpy(gamma), _numpy(beta))
                out, a_prev, a_self, xhat, mean, invstd, var = fwd(xlr, *args, float(norm.eps),
                                                                   h.numpy() if m > 0 else None)
                norm.running_mean.lerp_(torch.from_numpy(mean), norm.momentum)
                norm.running_var.lerp_(torch.from_numpy(var), norm.momentum)
                norm.num_batches_tracked.add_(1)
                saved.append((w, xlr, args, a_prev, a_self, xhat, invstd))
                h = torch.from_numpy(out)
                hs.append(h)
            node_norms = torch.stack([t.sum(1) for t in hs], dim=1)  # embeddings are >= 0: L1 = sum
            b = denom.shape[0]
            graph_norms = node_norms.new_zeros(b, len(hs)).index_add_(0, batch, node_norms) / denom.unsqueeze(1)
            pooled = h.new_zeros(b, h.shape[1]).index_add_(0, batch, h) / denom.unsqueeze(1)
        ctx.meta, ctx.hs, ctx.saved = meta, hs[:-1], saved
        ctx.att_shapes = [params[5 * m + 2].shape for m in range(len(convs))]
        return graph_norms.t(), pooled

    @staticmethod
    @once_differentiable
    def backward(ctx, d_norms: torch.Tensor, d_pooled: torch.Tensor):  # noqa: ANN001, ANN205
        convs, _, has_pred, batch, denom, scale = ctx.meta
        bwd = core.kernel("gat_chain_bn_backward")
        hops = len(ctx.hs)
        # d graph norm / d node: 1 / nodes of its graph, the same for every channel of a hop.
        per_node = (d_norms.t() / denom.unsqueeze(1)).index_select(0, batch)  # [N, M+1]
        dh = (d_pooled / denom.unsqueeze(1)).index_select(0, batch) + per_node[:, hops : hops + 1]
        grads: list[torch.Tensor | None] = [None] * (5 * hops)
        for m in range(hops - 1, -1, -1):
            w, xlr, (att, hp, slope, gamma, beta), a_prev, a_self, xhat, invstd = ctx.saved[m]
            dxlr, datt, dgamma, dbeta = bwd(dh.contiguous().numpy(), xlr, att, hp, slope, a_prev, a_self, xhat,
                                            invstd, gamma, beta)
            g = torch.from_numpy(dxlr).view(xlr.shape[0], -1)  # [N, 2HC]
            h_in = ctx.hs[m]
            d_w = torch.mm(h_in.t(), g).t()  # [2HC, K], in the layout MKL runs fastest
            half = d_w.shape[0] // 2
            grads[5 * m : 5 * m + 5] = [d_w[:half], d_w[half:], torch.from_numpy(datt).view(ctx.att_shapes[m]),
                                        torch.from_numpy(dgamma), torch.from_numpy(dbeta)]
            d_in = torch.mm(g, w) if w.shape[1] >= NARROW else torch.mm(w.t(), g.t()).t()
            if m > 0:  # the residual's gradient, and the node norms' of this hop
                dh = d_in.add_(dh).add_(per_node[:, m : m + 1])
            else:  # h^0 reaches the hops through the FE-MLP gradient scale (predictor.embed)
                dh = d_in.mul_(scale).add_(per_node[:, 0:1])
        return (None, dh, *grads)


def encode_chains(convs: Sequence[GATv2Conv], norms: Sequence[nn.BatchNorm1d], h0: torch.Tensor,
                  has_pred: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor,
                  fe_grad_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Graph norms ``[M+1, B]`` of every hop and the mean of the last hop ``[B, H*C]`` (what
    :meth:`~.predictor.AutoBuildPredictor.forward_train` needs), through the fused kernels; updates
    every norm's running statistics as its forward would. The caller checks :func:`fusable`."""
    params = [t for conv, norm in zip(convs, norms)
              for t in (conv.lin_l.weight, conv.lin_r.weight, conv.att, norm.weight, norm.bias)]
    meta = (list(convs), list(norms), has_pred, batch, counts.clamp(min=1.0), float(fe_grad_scale))
    return _ChainEncoder.apply(meta, h0, *params)
