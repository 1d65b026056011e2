"""Numba twin of ``cpp/gat_chain.cpp``: GATv2 attention on chains and the fused batch-norm / ReLU hop, each way."""

from __future__ import annotations

import numpy as np
from numba import njit

def check_chain(xl: np.ndarray, xr: np.ndarray, att: np.ndarray, has_pred: np.ndarray) -> None:
    if xl.ndim != 3 or xr.shape != xl.shape:
        raise ValueError("gat_chain: xl and xr must be float32[N, H, C] of equal shape")
    if att.shape != xl.shape[1:]:
        raise ValueError("gat_chain: att must be float32[H, C]")
    if has_pred.shape != (xl.shape[0],):
        raise ValueError("gat_chain: has_pred must be uint8[N]")
    if xl.shape[0] and has_pred[0]:
        raise ValueError("gat_chain: node 0 cannot have a predecessor")


@njit(cache=True, fastmath=True)
def _gat_chain_fwd(xl, xr, att, has_pred, slope, out, a_prev, a_self):  # noqa: ANN001, ANN202
    # Branch-free inner loops: without a predecessor, node i stands in for it with weight 0.
    n, heads, ch = xl.shape
    for i in range(n):
        p = has_pred[i] != 0
        j = i - 1 if p else i
        for h in range(heads):
            e_s = np.float32(0.0)
            e_p = np.float32(0.0)
            for c in range(ch):
                u = xl[i, h, c] + xr[i, h, c]
                v = xl[j, h, c] + xr[i, h, c]
                e_s += att[h, c] * max(u, u * slope)
                e_p += att[h, c] * max(v, v * slope)
            top = max(e_s, e_p) if p else e_s
            w_s = np.exp(e_s - top)
            w_p = np.exp(e_p - top) if p else np.float32(0.0)
            tot = (w_p + w_s) + np.float32(1e-16)
            a_p = w_p / tot
            a_s = w_s / tot
            a_prev[i, h] = a_p
            a_self[i, h] = a_s
            for c in range(ch):
                out[i, h, c] = xl[j, h, c] * a_p + xl[i, h, c] * a_s


def gat_chain_forward(xl: np.ndarray, xr: np.ndarray, att: np.ndarray, has_pred: np.ndarray,
                      negative_slope: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xl, xr, att = (np.ascontiguousarray(a, dtype=np.float32) for a in (xl, xr, att))
    has_pred = np.ascontiguousarray(has_pred, dtype=np.uint8)
    check_chain(xl, xr, att, has_pred)
    out = np.empty_like(xl)
    a_prev = np.empty(xl.shape[:2], np.float32)
    a_self = np.empty(xl.shape[:2], np.float32)
    _gat_chain_fwd(xl, xr, att, has_pred, np.float32(negative_slope), out, a_prev, a_self)
    return out, a_prev, a_self


@njit(cache=True, fastmath=True)
def _gat_chain_bwd(g, xl, xr, att, has_pred, slope, a_prev, a_self, s_self, s_prev, dxl, dxr, datt):  # noqa: ANN001, ANN202
    n, heads, ch = xl.shape
    # Pass 1: d loss / d logit of every node and head (softmax backward).
    for i in range(n):
        j = i - 1 if has_pred[i] != 0 else i
        for h in range(heads):
            d_s = np.float32(0.0)
            d_p = np.float32(0.0)
            for c in range(ch):
                d_s += g[i, h, c] * xl[i, h, c]
                d_p += g[i, h, c] * xl[j, h, c]
            a_s = a_self[i, h]
            a_p = a_prev[i, h]
            dot = a_s * d_s + a_p * d_p
            s_self[i, h] = a_s * (d_s - dot)
            s_prev[i, h] = a_p * (d_p - dot)  # 0 without a predecessor (a_p = 0)
    # Pass 2: node i receives its own terms and, as the predecessor of i + 1, that node's.
    for i in range(n):
        j = i - 1 if has_pred[i] != 0 else i
        k = i + 1 if i + 1 < n else i
        nxt = np.float32(1.0) if (i + 1 < n and has_pred[k] != 0) else np.float32(0.0)
        for h in range(heads):
            a_s = a_self[i, h]
            ss = s_self[i, h]
            sp = s_prev[i, h]
            a_n = a_prev[k, h] * nxt
            sn = s_prev[k, h] * nxt
            for c in range(ch):
                u = xl[i, h, c] + xr[i, h, c]
                v = xl[j, h, c] + xr[i, h, c]
                w = xl[i, h, c] + xr[k, h, c]
                t_s = ss * att[h, c] * (np.float32(1.0) if u > 0 else slope)
                t_p = sp * att[h, c] * (np.float32(1.0) if v > 0 else slope)
                t_n = sn * att[h, c] * (np.float32(1.0) if w > 0 else slope)
                dxr[i, h, c] = t_s + t_p
                dxl[i, h, c] = a_s * g[i, h, c] + t_s + a_n * g[k, h, c] + t_n
                datt[h, c] += ss * max(u, u * slope) + sp * max(v, v * slope)


def gat_chain_backward(grad: np.ndarray, xl: np.ndarray, xr: np.ndarray, att: np.ndarray, has_pred: np.ndarray,
                       negative_slope: float, a_prev: np.ndarray,
                       a_self: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    grad, xl, xr, att, a_prev, a_self = (np.ascontiguousarray(a, dtype=np.float32)
                                         for a in (grad, xl, xr, att, a_prev, a_self))
    has_pred = np.ascontiguousarray(has_pred, dtype=np.uint8)
    check_chain(xl, xr, att, has_pred)
    if grad.shape != xl.shape or a_prev.shape != xl.shape[:2] or a_self.shape != xl.shape[:2]:
        raise ValueError("gat_chain_backward: grad [N, H, C], a_prev and a_self [N, H] expected")
    dxl = np.empty_like(xl)
    dxr = np.empty_like(xl)
    datt = np.zeros(att.shape, np.float32)
    s_self = np.empty_like(a_self)
    s_prev = np.empty_like(a_self)
    _gat_chain_bwd(grad, xl, xr, att, has_pred, np.float32(negative_slope), a_prev, a_self, s_self, s_prev, dxl, dxr,
                   datt)
    return dxl, dxr, datt




def check_layer(xlr: np.ndarray, att: np.ndarray, has_pred: np.ndarray, fn: str) -> None:
    if xlr.ndim != 4 or xlr.shape[1] != 2:
        raise ValueError(f"{fn}: xlr must be float32[N, 2, H, C]")
    if att.shape != xlr.shape[2:]:
        raise ValueError(f"{fn}: att must be float32[H, C]")
    if has_pred.shape != (xlr.shape[0],):
        raise ValueError(f"{fn}: has_pred must be uint8[N]")
    if xlr.shape[0] < 2:
        raise ValueError(f"{fn}: batch statistics need at least 2 nodes")
    if has_pred[0]:
        raise ValueError(f"{fn}: node 0 cannot have a predecessor")


def check_channels(a: np.ndarray, hc: int, what: str, fn: str) -> None:
    if a.shape != (hc,):
        raise ValueError(f"{fn}: {what} must be float32[H * C]")


@njit(cache=True, fastmath={"contract"})
def _bn_relu_fwd(a, gamma, beta, eps, residual, has_res, out, mean, invstd, var_u):  # noqa: ANN001, ANN202
    # a [n, hc] is normalised in place into xhat; statistics in float64, two passes. Contracted
    # multiply-adds, as the C++ twin's: gamma * xhat + beta decides the ReLU mask, and a mask that
    # flips on a rounding difference changes gradients by a whole element.
    n, hc = a.shape
    s = np.zeros(hc, np.float64)
    for i in range(n):
        for c in range(hc):
            s[c] += a[i, c]
    mu = np.empty(hc, np.float32)
    for c in range(hc):
        mu[c] = np.float32(s[c] / n)
        s[c] = 0.0
    for i in range(n):
        for c in range(hc):
            d = np.float64(a[i, c]) - np.float64(mu[c])
            s[c] += d * d
    for c in range(hc):
        var = s[c] / n
        mean[c] = mu[c]
        invstd[c] = np.float32(1.0 / np.sqrt(var + np.float64(eps)))
        var_u[c] = np.float32(s[c] / (n - 1)) if n > 1 else np.float32(var)
    for i in range(n):
        for c in range(hc):
            xh = (a[i, c] - mu[c]) * invstd[c]
            a[i, c] = xh
            y = gamma[c] * xh + beta[c]
            o = y if y > np.float32(0.0) else np.float32(0.0)
            if has_res:
                o += residual[i, c]
            out[i, c] = o


def gat_chain_bn_forward(xlr: np.ndarray, att: np.ndarray, has_pred: np.ndarray, negative_slope: float,
                         gamma: np.ndarray, beta: np.ndarray, eps: float,
                         residual: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    fn = "gat_chain_bn_forward"
    xlr, att, gamma, beta = (np.ascontiguousarray(a, dtype=np.float32) for a in (xlr, att, gamma, beta))
    has_pred = np.ascontiguousarray(has_pred, dtype=np.uint8)
    check_layer(xlr, att, has_pred, fn)
    n, _, heads, ch = xlr.shape
    hc = heads * ch
    check_channels(gamma, hc, "gamma", fn)
    check_channels(beta, hc, "beta", fn)
    has_res = residual is not None
    res = np.ascontiguousarray(residual, dtype=np.float32) if has_res else np.zeros((1, hc), np.float32)
    if has_res and res.shape != (n, hc):
        raise ValueError(f"{fn}: residual must be float32[N, H * C]")
    xhat = np.empty((n, heads, ch), np.float32)
    a_prev = np.empty((n, heads), np.float32)
    a_self = np.empty((n, heads), np.float32)
    _gat_chain_fwd(xlr[:, 0], xlr[:, 1], att, has_pred, np.float32(negative_slope), xhat, a_prev, a_self)
    xhat = xhat.reshape(n, hc)
    out = np.empty((n, hc), np.float32)
    mean, invstd, var_u = (np.empty(hc, np.float32) for _ in range(3))
    _bn_relu_fwd(xhat, gamma, beta, np.float32(eps), res, has_res, out, mean, invstd, var_u)
    return out, a_prev, a_self, xhat, mean, invstd, var_u


@njit(cache=True, fastmath={"contract"})
def _bn_relu_bwd(grad, xhat, invstd, gamma, beta, d, dgamma, dbeta):  # noqa: ANN001, ANN202
    n, hc = grad.shape
    sg = np.zeros(hc, np.float64)
    sb = np.zeros(hc, np.float64)
    for i in range(n):
        for c in range(hc):
            y = gamma[c] * xhat[i, c] + beta[c]
            v = grad[i, c] if y > np.float32(0.0) else np.float32(0.0)
            d[i, c] = v
            sb[c] += v
            sg[c] += np.float64(v) * np.float64(xhat[i, c])
    md = np.empty(hc, np.float32)
    mx = np.empty(hc, np.float32)
    k = np.empty(hc, np.float32)
    for c in range(hc):
        dgamma[c] = np.float32(sg[c])
        dbeta[c] = np.float32(sb[c])
        md[c] = np.float32(sb[c] / n)
        mx[c] = np.float32(sg[c] / n)
        k[c] = gamma[c] * invstd[c]
    for i in range(n):
        for c in range(hc):
            d[i, c] = (d[i, c] - md[c] - xhat[i, c] * mx[c]) * k[c]


def gat_chain_bn_backward(grad: np.ndarray, xlr: np.ndarray, att: np.ndarray, has_pred: np.ndarray,
                          negative_slope: float, a_prev: np.ndarray, a_self: np.ndarray, xhat: np.ndarray,
                          invstd: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, ...]:
    fn = "gat_chain_bn_backward"
    grad, xlr, att, a_prev, a_self, xhat, invstd, gamma, beta = (
        np.ascontiguousarray(a, dtype=np.float32) for a in (grad, xlr, att, a_prev, a_self, xhat, invstd, gamma, beta))
    has_pred = np.ascontiguousarray(has_pred, dtype=np.uint8)
    check_layer(xlr, att, has_pred, fn)
    n, _, heads, ch = xlr.shape
    hc = heads * ch
    if grad.shape != (n, hc) or xhat.shape != (n, hc):
        raise ValueError(f"{fn}: grad and xhat must be float32[N, H * C]")
    if a_prev.shape != (n, heads) or a_self.shape != (n, heads):
        raise ValueError(f"{fn}: a_prev and a_self must be float32[N, H]")
    for a, what in ((invstd, "invstd"), (gamma, "gamma"), (beta, "beta")):
        check_channels(a, hc, what, fn)
    d = np.empty((n, hc), np.float32)
    dgamma = np.empty(hc, np.float32)
    dbeta = np.empty(hc, np.float32)
    _bn_relu_bwd(grad, xhat, invstd, gamma, beta, d, dgamma, dbeta)
    dxlr = np.empty((n, 2, heads, ch), np.float32)
    datt = np.zeros((heads, ch), np.float32)
    s_self = np.empty((n, heads), np.float32)
    s_prev = np.empty((n, heads), np.float32)
    _gat_chain_bwd(d.reshape(n, heads, ch), xlr[:, 0], xlr[:, 1], att, has_pred, np.float32(negative_slope), a_prev,
                   a_self, s_self, s_prev, dxlr[:, 0], dxlr[:, 1], datt)
    return dxlr, datt, dgamma, dbeta
