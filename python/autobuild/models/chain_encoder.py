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

The training loss goes one step further (:func:`chain_loss`): the FE-MLP's table, the hops, the
pooling, the head, the MSE and the hop term as one node, whose forward also takes the gradients
the scalar loss makes known there.

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


def _hops_forward(convs: Sequence[GATv2Conv], norms: Sequence[nn.BatchNorm1d], h0: torch.Tensor,
                  has_pred: torch.Tensor, batch: torch.Tensor, denom: torch.Tensor,
                  params: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, list, list]:
    """All hops from ``h0`` (no autograd): graph norms ``[B, M+1]``, the pooled last hop ``[B, H*C]``,
    the hop inputs and what the backward needs of every hop; updates the running statistics."""
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
    return graph_norms, pooled, hs[:-1], saved


def _hops_backward(hs: list, saved: list, batch: torch.Tensor, denom: torch.Tensor, scale: float,
                   d_norms: torch.Tensor, d_pooled: torch.Tensor) -> tuple[torch.Tensor, list]:
    """VJP of :func:`_hops_forward` for ``d_norms`` ``[M+1, B]`` and ``d_pooled``: the gradient of
    ``h0`` (the hops' share scaled by ``scale``) and of every hop's five parameters."""
    bwd = core.kernel("gat_chain_bn_backward")
    hops = len(hs)
    # d graph norm / d node: 1 / nodes of its graph, the same for every channel of a hop.
    per_node = (d_norms.t() / denom.unsqueeze(1)).index_select(0, batch)  # [N, M+1]
    dh = (d_pooled / denom.unsqueeze(1)).index_select(0, batch) + per_node[:, hops : hops + 1]
    grads: list[torch.Tensor] = []
    for m in range(hops - 1, -1, -1):
        w, xlr, (att, hp, slope, gamma, beta), a_prev, a_self, xhat, invstd = saved[m]
        dxlr, datt, dgamma, dbeta = bwd(dh.contiguous().numpy(), xlr, att, hp, slope, a_prev, a_self, xhat,
                                        invstd, gamma, beta)
        g = torch.from_numpy(dxlr).view(xlr.shape[0], -1)  # [N, 2HC]
        d_w = torch.mm(hs[m].t(), g).t()  # [2HC, K], in the layout MKL runs fastest
        half = d_w.shape[0] // 2
        grads[0:0] = [d_w[:half], d_w[half:], torch.from_numpy(datt), torch.from_numpy(dgamma),
                      torch.from_numpy(dbeta)]
        d_in = torch.mm(g, w) if w.shape[1] >= NARROW else torch.mm(w.t(), g.t()).t()
        if m > 0:  # the residual's gradient, and the node norms' of this hop
            dh = d_in.add_(dh).add_(per_node[:, m : m + 1])
        else:  # h^0 reaches the hops through the FE-MLP gradient scale (predictor.embed)
            dh = d_in.mul_(scale).add_(per_node[:, 0:1])
    return dh, grads


def _hop_params(convs: Sequence[GATv2Conv], norms: Sequence[nn.BatchNorm1d]) -> list[torch.Tensor]:
    return [t for conv, norm in zip(convs, norms)
            for t in (conv.lin_l.weight, conv.lin_r.weight, conv.att, norm.weight, norm.bias)]


def _shaped(grads: list, params: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    return [g.view(p.shape) for g, p in zip(grads, params)]


class _ChainEncoder(torch.autograd.Function):
    """``(meta, h0, *hop parameters) -> (graph_norms [M+1, B], pooled last hop [B, H*C])``."""

    @staticmethod
    def forward(ctx, meta: tuple, h0: torch.Tensor, *params: torch.Tensor):  # noqa: ANN001, ANN205
        convs, norms, has_pred, batch, denom, scale = meta
        graph_norms, pooled, ctx.hs, ctx.saved = _hops_forward(convs, norms, h0, has_pred, batch, denom, params)
        ctx.meta, ctx.params = meta, params
        return graph_norms.t(), pooled

    @staticmethod
    @once_differentiable
    def backward(ctx, d_norms: torch.Tensor, d_pooled: torch.Tensor):  # noqa: ANN001, ANN205
        _, _, _, batch, denom, scale = ctx.meta
        dh, grads = _hops_backward(ctx.hs, ctx.saved, batch, denom, scale, d_norms, d_pooled)
        return (None, dh, *_shaped(grads, ctx.params))


class _ChainLoss(torch.autograd.Function):
    """``(meta, *FE-MLP parameters, *hop parameters, *head parameters) -> loss``: Eq. 4 on a chain
    batch in one node, from the FE-MLP's table of scalars (``h0 = |table[idx]|``,
    :meth:`~.fe_mlp.FEMLP.table_and_vjp`, its gradient by hand too) through the hops, the mean
    pooling and the head ``Linear -> ReLU -> Linear`` to ``MSE(pred, y) + w * mean over hops
    (1 - Pearson(soft rank ||h_G^m||_1, y))`` (:func:`autobuild.core.soft_rank_pearson`). The loss
    is a scalar, so the head's and the ranking term's gradients are taken in the forward and the
    backward only runs the hops' and the table's."""

    @staticmethod
    def forward(ctx, meta: tuple, *params: torch.Tensor):  # noqa: ANN001, ANN205
        fe, n_fe, convs, norms, idx, has_pred, batch, denom, scale, y, rank_weight = meta
        hop_params, (w1, b1, w2, b2) = params[n_fe:-4], [p.detach() for p in params[-4:]]
        table, ctx.fe_vjp = fe.table_and_vjp()
        with torch.no_grad():
            signed = table[idx]
            h0 = signed.abs()
        graph_norms, pooled, ctx.hs, ctx.saved = _hops_forward(convs, norms, h0, has_pred, batch, denom, hop_params)
        with torch.no_grad():
            z = torch.addmm(b1, pooled, w1.t())
            a = torch.relu(z)
            r = torch.addmm(b2, a, w2.t()).squeeze(1) - y
            bsz = r.shape[0]
            loss = r.square().mean()
            d_pred = (r * (2.0 / bsz)).unsqueeze(1)  # [B, 1]
            d_z = (d_pred * w2).mul_(z > 0)  # [B, HC]
            head = [d_pred.t().mm(a), d_pred.sum(0), d_z.t().mm(pooled), d_z.sum(0)]
            ctx.d_pooled = d_z.mm(w1)
            ctx.d_norms = torch.zeros_like(graph_norms.t())
            if rank_weight:
                kernel = core.kernel("soft_rank_pearson")
                corr, d_corr = kernel(graph_norms.t().double().numpy(), y.double().numpy(), 1.0)
                hops = corr.shape[0]
                loss = loss + rank_weight * float((1.0 - corr).mean())
                ctx.d_norms = torch.from_numpy(d_corr * (-rank_weight / hops)).to(pooled.dtype)
        ctx.head = [g.view(p.shape) for g, p in zip((head[2], head[3], head[0], head[1]), (w1, b1, w2, b2))]
        ctx.meta, ctx.hop_params, ctx.sign, ctx.n_table = meta, hop_params, torch.sgn(signed), table.shape[0]
        return loss.reshape(())

    @staticmethod
    @once_differentiable
    def backward(ctx, d_loss: torch.Tensor):  # noqa: ANN001, ANN205
        _, _, _, _, idx, _, batch, denom, scale, _, _ = ctx.meta
        dh, grads = _hops_backward(ctx.hs, ctx.saved, batch, denom, scale, ctx.d_norms * d_loss, ctx.d_pooled * d_loss)
        d_table = dh.new_zeros(ctx.n_table).index_add_(0, idx.reshape(-1), dh.mul_(ctx.sign).reshape(-1))
        return (None, *ctx.fe_vjp(d_table), *_shaped(grads, ctx.hop_params), *(g * d_loss for g in ctx.head))


def encode_chains(convs: Sequence[GATv2Conv], norms: Sequence[nn.BatchNorm1d], h0: torch.Tensor,
                  has_pred: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor,
                  fe_grad_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Graph norms ``[M+1, B]`` of every hop and the mean of the last hop ``[B, H*C]`` (what
    :meth:`~.predictor.AutoBuildPredictor.forward_train` needs), through the fused kernels; updates
    every norm's running statistics as its forward would. The caller checks :func:`fusable`."""
    meta = (list(convs), list(norms), has_pred, batch, counts.clamp(min=1.0), float(fe_grad_scale))
    return _ChainEncoder.apply(meta, h0, *_hop_params(convs, norms))


def chain_loss(fe: Any, convs: Sequence[GATv2Conv], norms: Sequence[nn.BatchNorm1d], head: nn.Sequential,
               idx: torch.Tensor, has_pred: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor,
               fe_grad_scale: float, y: torch.Tensor, rank_weight: float) -> torch.Tensor:
    """The Eq. 4 loss (authors' hop term, ``hop_loss="pearson"``) of a chain batch with standardised
    labels ``y``, from the FE-MLP ``fe`` (:class:`~.fe_mlp.FEMLP`) and value indices ``idx`` ``[N, F]``
    (``h0 = |fe.table()[idx]|``) through :func:`_ChainLoss`; the caller checks :func:`fusable` and
    :func:`head_fusable`."""
    fe_params = list(fe.parameters())  # the order of table_and_vjp's gradients
    meta = (fe, len(fe_params), list(convs), list(norms), idx, has_pred, batch, counts.clamp(min=1.0),
            float(fe_grad_scale), y.detach().to(fe_params[0].dtype), float(rank_weight))
    lin1, lin2 = head[0], head[2]
    return _ChainLoss.apply(meta, *fe_params, *_hop_params(convs, norms), lin1.weight, lin1.bias, lin2.weight,
                            lin2.bias)


def head_fusable(head: nn.Module) -> bool:
    """Whether :func:`chain_loss` covers this prediction head: ``Linear -> ReLU -> Linear(., 1)``
    with biases."""
    return (isinstance(head, nn.Sequential) and len(head) == 3 and isinstance(head[0], nn.Linear)
            and type(head[1]) is nn.ReLU and isinstance(head[2], nn.Linear) and head[2].out_features == 1
            and head[0].bias is not None and head[2].bias is not None)
