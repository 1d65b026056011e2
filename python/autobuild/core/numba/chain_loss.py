"""Numba twin of ``cpp/chain_loss.cpp``: the whole Eq. 4 training loss of a batch of chains and its gradient in one call."""

from __future__ import annotations

import numpy as np

from .gat_chain import gat_chain_bn_backward, gat_chain_bn_forward
from .soft_rank import soft_rank_pearson

def chain_param_size(j: int, f: int, layers: int, hc: int, d: int) -> int:
    """Size of parameter ``j`` of :func:`chain_loss_grad` (per hop ``W = [W_l; W_r]``, att, gamma,
    beta; then the head's w1, b1, w2, b2)."""
    if j < 4 * layers:
        return 2 * hc * (f if j < 4 else hc) if j % 4 == 0 else hc
    return (d * hc, d, d, 1)[j - 4 * layers]


def check_chain_loss(table: np.ndarray, idx: np.ndarray, has_pred: np.ndarray, batch: np.ndarray,
                      denom: np.ndarray, y: np.ndarray, params: np.ndarray, offsets: np.ndarray, layers: int,
                      heads: int, hidden: int, head_hidden: int, grad: np.ndarray, strength: float) -> None:
    """The C++ binding's checks, in its order and words."""
    def fail(what: str) -> None:
        raise ValueError(f"chain_loss_grad: {what}")

    if table.ndim != 1 or idx.ndim != 2:
        fail("table must be float32[T] and idx int64[N, F]")
    n, f = idx.shape
    if n < 2:
        fail("batch statistics need at least 2 nodes")
    if has_pred.shape != (n,) or batch.shape != (n,):
        fail("has_pred and batch must have one entry per node")
    if has_pred[0]:
        fail("node 0 cannot have a predecessor")
    if denom.ndim != 1 or y.ndim != 1 or y.shape != denom.shape or denom.shape[0] < 1:
        fail("denom and y must be float32[B], B >= 1")
    if layers < 1 or heads < 1 or hidden < 1 or head_hidden < 1 or hidden % heads:
        fail("layers, heads, hidden, head_hidden >= 1 and hidden a multiple of heads")
    if not strength > 0.0:
        fail("strength must be > 0")
    if params.ndim != 1:
        fail("params must be float32[P]")
    p = params.shape[0]
    if layers > p or f > p // (2 * hidden) or hidden > p // (2 * hidden) or head_hidden > p // hidden:
        fail("params is too small for these layers, features and widths")
    if offsets.shape != (4 * layers + 4,):
        fail("offsets must be int64[4 * layers + 4]")
    if (not isinstance(grad, np.ndarray) or grad.dtype != np.float32 or grad.shape != params.shape
            or not grad.flags.writeable or not grad.flags.c_contiguous):
        fail("grad must be a writeable contiguous float32 array the size of params")
    spans = []
    for j, o in enumerate(offsets.tolist()):
        size = chain_param_size(j, f, layers, hidden, head_hidden)
        if o < 0 or o + size > params.shape[0]:
            fail("offsets place a parameter outside params")
        spans.append((o, o + size))
    spans.sort()
    if any(b[0] < a[1] for a, b in zip(spans, spans[1:])):
        fail("offsets make parameters overlap")
    if any(np.shares_memory(grad, a) for a in (params, table, denom, y)):
        fail("grad must not share memory with params, table, denom or y")
    if idx.size and (idx.min() < 0 or idx.max() >= table.shape[0]):
        fail("idx out of the table's range")
    if batch.min() < 0 or batch.max() >= denom.shape[0]:
        fail("batch ids must be in [0, B)")
    if np.any(has_pred[1:].astype(bool) & (batch[1:] != batch[:-1])):
        fail("has_pred links a node to one of another graph")
    if not np.all(denom >= 1.0):
        fail("denom must be >= 1")


def chain_loss_grad(table: np.ndarray, idx: np.ndarray, has_pred: np.ndarray, batch: np.ndarray, denom: np.ndarray,
                    y: np.ndarray, params: np.ndarray, offsets: np.ndarray, layers: int, heads: int, hidden: int,
                    head_hidden: int, negative_slope: float, eps: float, scale: float, rank_weight: float,
                    grad: np.ndarray, strength: float = 1.0) -> tuple:
    """The twin composes this backend's hop kernels and :func:`soft_rank_pearson` with NumPy's
    matrix products (see :mod:`autobuild.core` for the contract)."""
    f32 = np.float32
    table, denom, y, params = (np.ascontiguousarray(a, dtype=f32) for a in (table, denom, y, params))
    idx, batch, offsets = (np.ascontiguousarray(a, dtype=np.int64) for a in (idx, batch, offsets))
    has_pred = np.ascontiguousarray(has_pred, dtype=np.uint8)
    check_chain_loss(table, idx, has_pred, batch, denom, y, params, offsets, layers, heads, hidden, head_hidden,
                      grad, strength)
    n, f = idx.shape
    b, hc, hops, ch, d = denom.shape[0], hidden, layers + 1, hidden // heads, head_hidden

    def at(j: int) -> np.ndarray:
        o = int(offsets[j])
        return params[o : o + chain_param_size(j, f, layers, hc, d)]

    def put(j: int, value: np.ndarray) -> None:
        o = int(offsets[j])
        grad[o : o + chain_param_size(j, f, layers, hc, d)] = np.asarray(value, dtype=f32).ravel()

    slope = float(negative_slope)
    signed = table[idx]
    hs, saved = [np.abs(signed)], []
    mean, var = np.empty((layers, hc), f32), np.empty((layers, hc), f32)
    for m in range(layers):
        k = f if m == 0 else hc
        w, att, gamma, beta = at(4 * m).reshape(2 * hc, k), at(4 * m + 1).reshape(heads, ch), at(4 * m + 2), at(4 * m + 3)
        xlr = (hs[m] @ w.T).reshape(n, 2, heads, ch)
        out, a_prev, a_self, xhat, mean[m], invstd, var[m] = gat_chain_bn_forward(
            xlr, att, has_pred, slope, gamma, beta, eps, hs[m] if m > 0 else None)
        hs.append(out)
        saved.append((w, att, gamma, beta, xlr, a_prev, a_self, xhat, invstd))
    node_norms = np.stack([h.sum(1) for h in hs], axis=1)  # embeddings are >= 0: L1 norm = sum
    gn = np.stack([np.bincount(batch, weights=node_norms[:, m], minlength=b) for m in range(hops)], axis=1)
    gn /= denom[:, None]
    pooled = np.stack([np.bincount(batch, weights=hs[-1][:, c], minlength=b) for c in range(hc)], axis=1)
    pooled = (pooled / denom[:, None]).astype(f32)
    w1, b1, w2, b2 = at(4 * layers).reshape(d, hc), at(4 * layers + 1), at(4 * layers + 2), at(4 * layers + 3)
    z = pooled @ w1.T + b1
    a = np.maximum(z, f32(0.0))
    r = (a @ w2 + b2[0]) - y
    loss = float(np.mean(r.astype(np.float64) ** 2))
    d_pred = r * f32(2.0 / b)
    dz = np.where(z > 0, d_pred[:, None] * w2[None, :], f32(0.0)).astype(f32)
    for j, value in enumerate((dz.T @ pooled, dz.sum(0), d_pred @ a, [d_pred.sum()])):
        put(4 * layers + j, value)
    d_pooled = dz @ w1
    d_norms = np.zeros((hops, b))
    if rank_weight != 0.0:
        corr, d_corr = soft_rank_pearson(gn.T, y.astype(np.float64), strength)
        loss += rank_weight * float(np.mean(1.0 - corr))
        d_norms = d_corr * (-rank_weight / hops)
    per_node = (d_norms.T.astype(f32) / denom[:, None])[batch]  # [N, M+1]
    dh = (d_pooled / denom[:, None])[batch] + per_node[:, layers : layers + 1]
    for m in range(layers - 1, -1, -1):
        w, att, gamma, beta, xlr, a_prev, a_self, xhat, invstd = saved[m]
        dxlr, datt, dgamma, dbeta = gat_chain_bn_backward(dh, xlr, att, has_pred, slope, a_prev, a_self, xhat,
                                                          invstd, gamma, beta)
        g = dxlr.reshape(n, 2 * hc)
        for j, value in enumerate((g.T @ hs[m], datt, dgamma, dbeta)):
            put(4 * m + j, value)
        din = g @ w
        dh = dh + (din + per_node[:, m : m + 1]) if m > 0 else din * f32(scale) + per_node[:, 0:1]
    d_table = np.bincount(idx.ravel(), weights=(dh * np.sign(signed)).ravel(), minlength=table.shape[0]).astype(f32)
    return loss, d_table, mean, var
