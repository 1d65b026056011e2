"""Exact parameters and FLOPs of the U-Nets of the SD spaces, analytic and vectorised (issue 15
sec. 1), equal to ``sum(p.numel())`` and ``torch.utils.flop_counter`` of the instantiated
:class:`~.unet_build.SearchedUNet` (tested).

FLOPs are counted as ``torch.utils.flop_counter`` counts them (with PyTorch's math attention
backend: the counter does not see the fused CPU attention kernel), at batch 1 and a ``hw x hw``
latent (64 by default, the paper's): ``2 x`` the multiply-accumulates of every convolution and
linear layer (bias, normalisation, activations, resampling and additions not counted) plus the
two attention matmuls (``Q K^T`` and ``A V``: ``2 x 2 T^2 c`` for ``T`` tokens of ``c`` channels).
Per block (``temb = 4 C_m``; a stage ``s`` runs at ``hw / 2^s``):

* ``ResnetBlock2D(i -> o)`` at ``H``: ``9 i o H^2 + 9 o^2 H^2 + temb o`` (+ ``i o H^2`` for the 1x1
  shortcut when ``i != o``); its ``down`` form convolves at ``H / 2``, its ``up`` form at ``2 H``;
* attention on ``c`` channels, ``T = H^2``: ``4 c^2 T + 2 T^2 c``;
* time embedding ``C_m temb + temb^2``, ``conv_in`` ``9 * 7 C_m hw^2``, ``conv_out`` ``9 * 3 C_m hw^2``.

Every argument may be an integer array (one entry per arch); :func:`count_unet_codes` counts all
786,432 archs of ``sdv14-unet`` in a few tens of milliseconds (per-section tables).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


IN_CHANNELS, OUT_CHANNELS = 7, 3
#: Metrics every U-Net arch has without a measurement (target equations, ``autobuild count``).
UNET_METRICS = ("flops", "params")


def _conv(i: Any, o: Any, k: int) -> Any:
    return i * o * k * k + o


def _res_params(i: Any, o: Any, temb: Any) -> Any:
    return 2 * i + _conv(i, o, 3) + temb * o + o + 2 * o + _conv(o, o, 3) + np.where(i != o, _conv(i, o, 1), 0)


def _res_macs(i: Any, o: Any, temb: Any, h: Any) -> Any:
    return 9 * i * o * h * h + 9 * o * o * h * h + temb * o + np.where(i != o, i * o * h * h, 0)


def _attn_params(c: Any) -> Any:
    return 2 * c + 4 * (c * c + c)


def _attn_macs(c: Any, h: Any) -> Any:
    t = h * h
    return 4 * c * c * t + 2 * t * t * c


def _input_stage(s: int, cm: Any, entry: Any, c: Any, r_in: Any, a_in: Any, hw: int) -> tuple[Any, Any]:
    """Input stage ``s``: ``r_in`` blocks from ``entry`` to ``c`` channels (+ attention), then the
    downsampling block (stages 1-3). Every argument an int or an int64 array."""
    temb, h = 4 * cm, hw >> s
    p = _res_params(entry, c, temb) + a_in * _attn_params(c)
    f = _res_macs(entry, c, temb, h) + a_in * _attn_macs(c, h)
    more = r_in - 1  # blocks after the first: c -> c
    p = p + more * (_res_params(c, c, temb) + a_in * _attn_params(c))
    f = f + more * (_res_macs(c, c, temb, h) + a_in * _attn_macs(c, h))
    if s < 3:
        p, f = p + _res_params(c, c, temb), f + _res_macs(c, c, temb, h // 2)
    return p, f


def _output_stage(s: int, cm: Any, cur: Any, entry: Any, c: Any, r_in: Any, r_out: Any, a_out: Any,
                  hw: int) -> tuple[Any, Any]:
    """Output stage ``s``: ``r_out`` blocks, block ``j`` concatenating the ``j``-th most recent skip
    (of ``r_in + 1``: the stage's entry tensor, then ``r_in`` blocks' outputs of ``c`` channels)
    while there is one (the rule of :func:`~.unet_build.skip_plan`, vectorised), then the upsampling
    block (stages 4-2)."""
    temb, h = 4 * cm, hw >> s
    p = f = 0
    for j in range(3):
        on = r_out > j
        extra = np.where(j < r_in, c, np.where(j == r_in, entry, 0))  # skip j: c while blocks remain, then entry
        i = (cur if j == 0 else c) + extra
        p = p + np.where(on, _res_params(i, c, temb) + a_out * _attn_params(c), 0)
        f = f + np.where(on, _res_macs(i, c, temb, h) + a_out * _attn_macs(c, h), 0)
    if s > 0:
        p, f = p + _res_params(c, c, temb), f + _res_macs(c, c, temb, 2 * h)
    return p, f


def _fixed(cm: Any, c4: Any, hw: int) -> tuple[Any, Any]:
    """Time embedding, ``conv_in``, the middle (at stage 4's ``c4`` channels), the output head."""
    temb, h = 4 * cm, hw >> 3
    p = cm * temb + temb + temb * temb + temb + _conv(IN_CHANNELS, cm, 3) + 2 * cm + _conv(cm, OUT_CHANNELS, 3)
    f = cm * temb + temb * temb + 9 * IN_CHANNELS * cm * hw * hw + 9 * cm * OUT_CHANNELS * hw * hw
    p = p + 2 * _res_params(c4, c4, temb) + _attn_params(c4)
    f = f + 2 * _res_macs(c4, c4, temb, h) + _attn_macs(c4, h)
    return p, f


def count_unet(cm: Any, mult: Sequence[Any], res_in: Sequence[Any], res_out: Sequence[Any], attn_in: Sequence[Any],
               attn_out: Sequence[Any], hw: int = 64) -> tuple[Any, Any]:
    """``(params, flops)`` of U-Nets given per-stage fields (ints, or int64 arrays of archs): the
    sum of the sections above."""
    cm = np.asarray(cm, dtype=np.int64)
    ch = [cm * np.asarray(m, dtype=np.int64) for m in mult]
    a = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    params, macs = _fixed(cm, ch[3], hw)
    for s in range(4):
        entry = cm if s == 0 else ch[s - 1]
        p, f = _input_stage(s, cm, entry, ch[s], a(res_in[s]), a(attn_in[s]), hw)
        cur = ch[s + 1] if s < 3 else ch[3]
        p2, f2 = _output_stage(s, cm, cur, entry, ch[s], a(res_in[s]), a(res_out[s]), a(attn_out[s]), hw)
        params, macs = params + p + p2, macs + f + f2
    return params, 2 * macs


def count_unet_arch(arch: dict, hw: int = 64) -> tuple[int, int]:
    """``(params, flops)`` of one canonical U-Net arch."""
    p, f = count_unet(arch["cm"], arch["mult"], arch["res_in"], arch["res_out"], arch["attn_in"], arch["attn_out"], hw)
    return int(p), int(f)


def count_unet_codes(space: Any, codes: np.ndarray, hw: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """``(params int64[N], flops int64[N])`` of arch codes of a U-Net space (``space.encode``).

    Each section depends on a few code columns (an input stage on C_m, its own and the previous
    stage's multiplier, its blocks and attention; ...), each taking a handful of values: every
    section is evaluated once per combination of its columns (a few hundred) and gathered per
    arch, which counts the 786,432 archs of ``sdv14-unet`` in a few tens of milliseconds."""
    from ..spaces.unet import N_STAGES, _AIN, _AOUT, _MULT, _RIN, _ROUT

    c = np.asarray(codes, dtype=np.int64)
    cms = np.asarray(space.cm, dtype=np.int64)
    mults = [np.asarray(m, dtype=np.int64) for m in space.mult]
    n_r = max(max(space.res_in), max(space.res_out)) + 1

    def table(cols: list[int], radices: list[int], fn: Any) -> tuple[np.ndarray, np.ndarray]:
        grid = np.indices(radices).reshape(len(radices), -1)
        p, f = fn(*grid)
        key = np.zeros(len(c), dtype=np.int64)
        for col, r in zip(cols, radices):
            key = key * r + c[:, col]
        return np.broadcast_to(p, grid.shape[1:])[key], np.broadcast_to(f, grid.shape[1:])[key]

    nc = len(cms)
    params, macs = table([0, _MULT + 3], [nc, len(mults[3])],
                         lambda ci, m4: _fixed(cms[ci], cms[ci] * mults[3][m4], hw))
    for s in range(N_STAGES):
        prev = max(s - 1, 0)
        nxt = min(s + 1, N_STAGES - 1)

        def fin(ci: Any, mp: Any, ms: Any, r: Any, at: Any, s: int = s) -> Any:
            cm = cms[ci]
            entry = cm if s == 0 else cm * mults[s - 1][mp]
            return _input_stage(s, cm, entry, cm * mults[s][ms], r, at, hw)

        def fout(ci: Any, mp: Any, ms: Any, mn: Any, ri: Any, ro: Any, at: Any, s: int = s) -> Any:
            cm = cms[ci]
            entry = cm if s == 0 else cm * mults[s - 1][mp]
            cur = cm * mults[s + 1][mn] if s < N_STAGES - 1 else cm * mults[s][ms]
            return _output_stage(s, cm, cur, entry, cm * mults[s][ms], ri, ro, at, hw)

        p, f = table([0, _MULT + prev, _MULT + s, _RIN + s, _AIN + s], [nc, len(mults[prev]), len(mults[s]), n_r, 2], fin)
        p2, f2 = table([0, _MULT + prev, _MULT + s, _MULT + nxt, _RIN + s, _ROUT + s, _AOUT + s],
                       [nc, len(mults[prev]), len(mults[s]), len(mults[nxt]), n_r, n_r, 2], fout)
        params, macs = params + p + p2, macs + f + f2
    return params, 2 * macs


__all__ = ["UNET_METRICS", "count_unet", "count_unet_arch", "count_unet_codes"]


def count_metrics(space: Any, codes: np.ndarray) -> dict[str, np.ndarray]:
    """``{"flops", "params"}`` of arch codes at a 64 x 64 latent (the ``counts`` capability of the U-Net spaces)."""
    params, flops = count_unet_codes(space, codes)
    return {"flops": flops, "params": params}
