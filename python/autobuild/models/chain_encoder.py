"""The predictor's message passing on a batch of chains, in training, as one autograd node.

Every hop of :class:`~autobuild.models.gatv2_network.GATv2Network` (paper Sec. 3.2, supp. 7.1)
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

The training loss goes further (:func:`chain_loss_grad`): the FE-MLP's gather, the hops, the
pooling, the head, the MSE and the hop term, and the whole gradient, in one call of the core
(:func:`autobuild.core.chain_loss_grad`), on the optimiser's flat buffers and without autograd;
:func:`chain_loss` wraps it as one autograd node for callers that want a loss tensor.

It is the same function as the module path (``GATv2Conv`` -> ``BatchNorm1d`` -> ``relu`` -> ``+``,
then :meth:`~.predictor.GATv2Network.pool`): values, gradients of every parameter and the
running statistics agree to float rounding (``tests/models/test_chain_encoder.py``). Evaluation,
exports, DAGs and configurations the kernels do not cover take the module path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from .. import core
from .gatv2 import GATv2Conv

#: Input widths below which a hop's backward products are taken in transposed layouts: MKL runs
#: ``g @ W`` several times slower on a matrix a few columns wide (the first hop reads one scalar
#: per feature category; measured in docs/benchmarks.md, *Training step*).
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


def _roles(model: Any) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
    """The parameters :func:`chain_loss_grad` reads: the FE-MLP's (in its :meth:`parameters` order,
    that of :meth:`~.fe_mlp.FEMLP.table_and_vjp`'s gradients), the core's (per hop ``W_l``, att,
    gamma, beta; the head's two layers) and every hop's ``W_r``."""
    convs, norms, head = list(model.convs), list(model.norms), model.head
    core_params = [t for conv, norm in zip(convs, norms) for t in (conv.lin_l.weight, conv.att, norm.weight, norm.bias)]
    core_params += [head[0].weight, head[0].bias, head[2].weight, head[2].bias]
    return list(model.fe_mlp.parameters()), core_params, [conv.lin_r.weight for conv in convs]


@dataclass
class _Layout:
    """Where :func:`chain_loss_grad`'s parameters sit in a flat buffer, and the model's constants the
    core call takes (worked out once per model and buffer: the lookups through ``nn.Module``
    attributes cost a training step about 0.2 ms)."""

    tensors: list  # _roles order
    offsets: list  # of each tensor, in elements
    core_offsets: np.ndarray  # the core's parameters' (int64)
    fe: list  # (offset, size) of each FE-MLP parameter
    norms: list
    dims: tuple  # layers, heads, hidden, head_hidden
    consts: tuple  # negative slope, eps, momentum

    @classmethod
    def of(cls, model: Any, offsets: Sequence[int]) -> "_Layout":
        fe_params, core_params, w_r = roles = _roles(model)
        offs = [int(o) for o in offsets]
        n_fe, n_core = len(fe_params), len(core_params)
        main = offs[n_fe : n_fe + n_core]
        for m, w in enumerate(w_r):  # W_l and W_r are one [2HC, K] matrix in the buffer
            if offs[n_fe + n_core + m] != main[4 * m] + w.numel():
                raise ValueError("lin_r.weight must follow lin_l.weight in the flat parameter buffer")
        conv, norms = model.convs[0], list(model.norms)
        return cls([t for ts in roles for t in ts], offs, np.asarray(main, dtype=np.int64),
                   [(o, p.numel()) for o, p in zip(offs, fe_params)], norms,
                   (len(model.convs), conv.heads, conv.heads * conv.out_channels, model.head[0].out_features),
                   (float(conv.negative_slope), float(norms[0].eps), norms[0].momentum))

    def holds(self, params: torch.Tensor) -> bool:
        """Whether every tensor still sits at its offset of ``params``."""
        base, size = params.data_ptr(), params.element_size()
        return all(t.data_ptr() == base + o * size for t, o in zip(self.tensors, self.offsets))


def buffer_layout(model: Any, params: torch.Tensor) -> _Layout | None:
    """The layout of ``model``'s parameters as views of the flat ``params``, or None unless each is
    a contiguous view inside it (e.g. a frozen parameter, which an optimiser leaves out of its
    buffer) with every ``W_r`` after its ``W_l``. Remembered for the buffer and checked on every
    call by the tensors' data pointers: replacing a parameter object or a layer's constants
    (momentum, eps, slope) during training is not seen, as the optimiser holding the old tensors
    would not see it either."""
    cached = model.__dict__.get("_chain_layout")
    if cached is not None and cached.holds(params):
        return cached
    base, size, total = params.data_ptr(), params.element_size(), params.numel()
    tensors = [t for ts in _roles(model) for t in ts]
    offsets = []
    for t in tensors:
        o = (t.data_ptr() - base) // size
        if (t.dtype != params.dtype or not t.is_contiguous() or (t.data_ptr() - base) % size
                or not 0 <= o <= total - t.numel()):
            return None
        offsets.append(o)
    try:
        layout = _Layout.of(model, offsets)
    except ValueError:
        return None
    model.__dict__["_chain_layout"] = layout
    return layout


def chain_loss_grad(model: Any, idx: torch.Tensor, has_pred: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor,
                    y: torch.Tensor, rank_weight: float, params: torch.Tensor, grad: torch.Tensor,
                    offsets: Sequence[int] | None = None) -> float | None:
    """The Eq. 4 loss (authors' hop term, ``hop_loss="pearson"``) of a chain batch with standardised
    labels ``y`` and its whole gradient, without autograd. Every parameter of ``model`` (an
    :class:`~.predictor.GATv2Network`; the caller checks :func:`fusable` and
    :func:`head_fusable`) is a view into the flat float32 ``params`` (or, with ``offsets``, sits
    there at its offset, in :func:`_roles` order) and its gradient is written to the same place of
    ``grad``. ``idx`` ``[N, F]``: value indices into the FE-MLP's table (``h0 = |table[idx]|``); the
    table and its gradient are the FE-MLP's (:meth:`~.fe_mlp.FEMLP.table_and_vjp`), the rest is one
    call of the core (:func:`autobuild.core.chain_loss_grad`: the hops' and the head's matrix
    products, the hop kernels and :func:`~autobuild.core.soft_rank_pearson`). Updates the norms'
    running statistics. None, with nothing computed, where a parameter is not a contiguous view
    into ``params`` (:func:`buffer_layout`)."""
    layout = buffer_layout(model, params) if offsets is None else _Layout.of(model, offsets)
    if layout is None:
        return None
    slope, eps, momentum = layout.consts
    table, fe_vjp = model.fe_mlp.table_and_vjp()
    loss, d_table, mean, var = core.kernel("chain_loss_grad")(
        table.numpy(), idx.numpy(), has_pred.numpy().view("uint8"), batch.numpy(), counts.clamp(min=1.0).numpy(),
        y.detach().to(table.dtype).numpy(), params.detach().numpy(), layout.core_offsets, *layout.dims, slope, eps,
        float(model.fe_grad_scale), float(rank_weight), grad.detach().numpy())
    with torch.no_grad():
        norms = layout.norms
        mean, var = torch.from_numpy(mean), torch.from_numpy(var)
        torch._foreach_lerp_([bn.running_mean for bn in norms], list(mean.unbind(0)), momentum)
        torch._foreach_lerp_([bn.running_var for bn in norms], list(var.unbind(0)), momentum)
        torch._foreach_add_([bn.num_batches_tracked for bn in norms], 1)
        flat = grad.detach().numpy()
        for g, (o, n) in zip(fe_vjp(d_table), layout.fe):
            flat[o : o + n] = g.numpy().reshape(-1)
    return loss


class _ChainLoss(torch.autograd.Function):
    """``(model, idx, has_pred, batch, counts, y, rank_weight, *model.parameters()) -> loss``:
    :func:`chain_loss_grad` on a flat copy of the parameters as an autograd node; its backward
    scales the gradient the forward took by the incoming one."""

    @staticmethod
    def forward(ctx, model: Any, idx: torch.Tensor, has_pred: torch.Tensor, batch: torch.Tensor,  # noqa: ANN001, ANN205
                counts: torch.Tensor, y: torch.Tensor, rank_weight: float, *params: torch.Tensor):
        flat = torch.cat([p.detach().reshape(-1) for p in params])
        grad = torch.zeros_like(flat)
        starts = np.concatenate([[0], np.cumsum([p.numel() for p in params])])
        where = {id(p): int(o) for p, o in zip(params, starts)}
        offsets = [where[id(t)] for ts in _roles(model) for t in ts]
        loss = chain_loss_grad(model, idx, has_pred, batch, counts, y, rank_weight, flat, grad, offsets)
        ctx.grads = [grad[int(a) : int(b)].view(p.shape) for p, a, b in zip(params, starts[:-1], starts[1:])]
        return torch.tensor(loss, dtype=flat.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, d_loss: torch.Tensor):  # noqa: ANN001, ANN205
        return (None, None, None, None, None, None, None, *(g * d_loss for g in ctx.grads))


def encode_chains(convs: Sequence[GATv2Conv], norms: Sequence[nn.BatchNorm1d], h0: torch.Tensor,
                  has_pred: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor,
                  fe_grad_scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Graph norms ``[M+1, B]`` of every hop and the mean of the last hop ``[B, H*C]`` (what
    :meth:`~.predictor.GATv2Network.forward_train` needs), through the fused kernels; updates
    every norm's running statistics as its forward would. The caller checks :func:`fusable`."""
    meta = (list(convs), list(norms), has_pred, batch, counts.clamp(min=1.0), float(fe_grad_scale))
    return _ChainEncoder.apply(meta, h0, *_hop_params(convs, norms))


def chain_loss(model: Any, idx: torch.Tensor, has_pred: torch.Tensor, batch: torch.Tensor, counts: torch.Tensor,
               y: torch.Tensor, rank_weight: float) -> torch.Tensor:
    """:func:`chain_loss_grad` as a differentiable loss of ``model``'s parameters (any storage)."""
    return _ChainLoss.apply(model, idx, has_pred, batch, counts, y, rank_weight, *model.parameters())


def head_fusable(head: nn.Module) -> bool:
    """Whether :func:`chain_loss` covers this prediction head: ``Linear -> ReLU -> Linear(., 1)``
    with biases."""
    return (isinstance(head, nn.Sequential) and len(head) == 3 and isinstance(head[0], nn.Linear)
            and type(head[1]) is nn.ReLU and isinstance(head[2], nn.Linear) and head[2].out_features == 1
            and head[0].bias is not None and head[2].bias is not None)
