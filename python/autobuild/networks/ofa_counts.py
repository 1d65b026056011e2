"""Exact MACs and parameter counts of OFA subnets, analytic and vectorised (no torch, no ``ofa``).

The networks are the subnets of the ``ofa`` package's supernets that the two spaces describe
(:mod:`autobuild.spaces.ofa`): ``OFAMobileNetV3(width_mult=1.2)`` and
``OFAProxylessNASNets(width_mult=1.3)`` with ks {3, 5, 7}, e {3, 4, 6}, d {2, 3, 4}, 1,000 classes.
Each is written out below as the list of its convolutions and linear maps (:class:`Op`), layer by
layer as ``ofa`` builds it (``elastic_nn/networks/ofa_mbv3.py``, ``ofa_proxyless.py``, and the
subnet's ``MBConvLayer`` / ``SEModule`` of ``utils/layers.py``).

Counting rules, as the OFA authors' ``ofa/utils/flops_counter.py``: MACs are
``(C_in / groups) * k * k * C_out * H_out * W_out`` per Conv2d plus ``in * out`` per Linear at
batch 1 (no bias, BN, activation, SE multiply or residual add); this equals
``torch.utils.flop_counter`` FLOPs / 2 on these nets. Parameters are ``sum(p.numel())`` of the
subnet: conv and linear weights, their biases, BN weight and bias (running statistics are buffers).
``tests/networks/test_networks.py`` checks both against instantiated subnets.

Vectorised: a variable layer's cost depends only on its stage, whether it opens the stage, its
kernel, its expansion ratio and the resolution, so the counts of any number of archs are a fixed
cost per resolution plus one table gather per layer slot (:func:`count_codes`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import AutobuildError

KS = (3, 5, 7)
ES = (3, 4, 6)
RS = (192, 208, 224)
N_CLASSES = 1000
DIVISOR = 8  # ofa's MyNetwork.CHANNEL_DIVISIBLE


def make_divisible(v: float, divisor: int = DIVISOR) -> int:
    """``ofa.utils.make_divisible``: round ``v`` to a multiple of ``divisor``, never below 90 %."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def conv_out(h: int, k: int, stride: int) -> int:
    """Spatial size after a ``k x k`` conv with ``ofa``'s same padding ``k // 2``."""
    return (h + 2 * (k // 2) - k) // stride + 1


@dataclass(frozen=True)
class Op:
    """One Conv2d (``k >= 1``) or Linear (``k == 0``): its MACs at input size ``h`` and parameters."""

    c_in: int
    c_out: int
    k: int = 1
    stride: int = 1
    groups: int = 1
    bias: bool = False
    bn: bool = True
    h: int = 1  # input height = width

    @property
    def h_out(self) -> int:
        return 1 if self.k == 0 else conv_out(self.h, self.k, self.stride)

    @property
    def macs(self) -> int:
        if self.k == 0:
            return self.c_in * self.c_out
        return self.c_in // self.groups * self.k * self.k * self.c_out * self.h_out ** 2

    @property
    def params(self) -> int:
        kk = 1 if self.k == 0 else self.k * self.k
        return (self.c_in // self.groups * kk * self.c_out + (self.c_out if self.bias else 0)
                + (2 * self.c_out if self.bn else 0))


def mbconv(c_in: int, c_out: int, k: int, e: float, stride: int, se: bool, h: int) -> list[Op]:
    """``ofa``'s ``MBConvLayer``: 1x1 expansion (absent for ``e == 1``), depthwise ``k x k``,
    squeeze-excite on the expanded channels (two biased 1x1 convs at 1 x 1, reduction 4), 1x1
    projection; every conv without bias, followed by BN (SE excepted). Mid channels as
    ``DynamicMBConvLayer.active_middle_channel``."""
    mid = make_divisible(round(c_in * e)) if e != 1 else c_in
    ops = []
    if e != 1:
        ops.append(Op(c_in, mid, 1, 1, h=h))
    dw = Op(mid, mid, k, stride, groups=mid, h=h)
    ops.append(dw)
    if se:
        red = make_divisible(mid // 4)
        ops += [Op(mid, red, 1, bias=True, bn=False), Op(red, mid, 1, bias=True, bn=False)]
    ops.append(Op(mid, c_out, 1, 1, h=dw.h_out))
    return ops


@dataclass(frozen=True)
class OfaNet:
    """An OFA supernet's fixed layers and variable stages (the subnet's shape for any arch)."""

    name: str
    stem: int  # first conv's output channels (3x3, stride 2)
    first: tuple[int, bool]  # first block (e = 1, k = 3, stride 1): output channels, SE
    stages: tuple[tuple[int, int, bool], ...]  # variable stages: width, first stride, SE
    tail: str  # "mbv3": expand 1x1 (BN) -> pool -> mix 1x1 (no BN) -> FC; "pn": mix 1x1 (BN) -> pool -> FC
    expand: int  # mbv3: final expand width; pn: unused
    last: int  # feature-mix width (classifier input)

    def fixed_ops(self, r: int) -> list[Op]:
        """Layers every subnet has, at resolution ``r``."""
        stem = Op(3, self.stem, 3, 2, h=r)
        h = stem.h_out
        ops = [stem] + mbconv(self.stem, self.first[0], 3, 1, 1, self.first[1], h)
        h_last = self.spatial(r)[-1]
        c = self.stages[-1][0]
        if self.tail == "mbv3":
            ops += [Op(c, self.expand, 1, h=h_last), Op(self.expand, self.last, 1, bias=False, bn=False)]
        else:
            ops += [Op(c, self.last, 1, h=h_last)]
        return ops + [Op(self.last, N_CLASSES, 0, bias=True, bn=False)]

    def spatial(self, r: int) -> list[int]:
        """Input size of every variable stage's first layer, then the final feature-map size."""
        h = conv_out(r, 3, 2)  # stem; the first block keeps it (stride 1)
        out = []
        for _, stride, _ in self.stages:
            out.append(h)
            h = conv_out(h, 3, stride)  # any odd kernel gives the same size
        return out + [h]

    def layer_ops(self, stage: int, first: bool, k: int, e: float, r: int) -> list[Op]:
        """One variable layer: the stage's opening layer takes the previous width and the stride."""
        width, stride, se = self.stages[stage]
        h_in = self.spatial(r)[stage]
        if first:
            c_in = self.stages[stage - 1][0] if stage else self.first[0]
            return mbconv(c_in, width, k, e, stride, se, h_in)
        return mbconv(width, width, k, e, 1, se, conv_out(h_in, 3, stride))

    def arch_ops(self, arch: dict) -> list[Op]:
        """Every Conv2d / Linear of the subnet of ``arch`` (``ks``, ``e``, ``d``, ``r``)."""
        r = int(arch["r"])
        ops = self.fixed_ops(r)
        slot = 0
        for s, depth in enumerate(arch["d"]):
            width = 4 if s < 5 else 1
            for i in range(int(depth)):
                ops += self.layer_ops(s, i == 0, int(arch["ks"][slot + i]), float(arch["e"][slot + i]), r)
            slot += width
        return ops


def _w(base: int, mult: float) -> int:
    return make_divisible(base * mult)


def _mbv3(mult: float = 1.2) -> OfaNet:
    b = [16, 16, 24, 40, 80, 112, 160, 960, 1280]  # ofa_mbv3.py base_stage_width
    strides, se = [2, 2, 2, 1, 2], [False, True, False, True, True]  # stages 2..6 of ofa (1 = first block)
    return OfaNet("ofa-mbv3", _w(b[0], mult), (_w(b[1], mult), False),
                  tuple((_w(b[i + 2], mult), strides[i], se[i]) for i in range(5)), "mbv3", _w(b[7], mult),
                  _w(b[8], mult))


def _pn(mult: float = 1.3) -> OfaNet:
    b = [32, 16, 24, 40, 80, 96, 192, 320, 1280]  # ofa_proxyless.py base_stage_width (ProxylessNAS)
    strides = [2, 2, 2, 1, 2, 1]
    return OfaNet("ofa-pn", _w(b[0], mult), (_w(b[1], mult), False),
                  tuple((_w(b[i + 2], mult), strides[i], False) for i in range(6)), "pn", 0, _w(b[8], mult))


NETS: dict[str, OfaNet] = {"ofa-mbv3": _mbv3(), "ofa-pn": _pn()}


def network(space_name: str) -> OfaNet:
    if space_name not in NETS:
        raise AutobuildError(f"real networks (MACs and parameter counts, export, profiling) are defined for "
                             f"{', '.join(NETS)}, not {space_name!r}")
    return NETS[space_name]


def count_arch(space_name: str, arch: dict) -> tuple[int, int]:
    """``(macs, params)`` of one arch, layer by layer (the reference :func:`count_codes` must equal)."""
    ops = network(space_name).arch_ops(arch)
    return sum(o.macs for o in ops), sum(o.params for o in ops)


@functools.lru_cache(maxsize=None)
def _tables(space_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fixed MACs per resolution, fixed params, and per-layer tables ``[stage, first, k, e, r]``
    (built once per space)."""
    net = network(space_name)
    n = len(net.stages)
    macs = np.zeros((n, 2, len(KS), len(ES), len(RS)), np.int64)
    params = np.zeros((n, 2, len(KS), len(ES)), np.int64)
    for s in range(n):
        for f in (0, 1):
            for ki, k in enumerate(KS):
                for ei, e in enumerate(ES):
                    for ri, r in enumerate(RS):
                        ops = net.layer_ops(s, bool(f), k, e, r)
                        macs[s, f, ki, ei, ri] = sum(o.macs for o in ops)
                    params[s, f, ki, ei] = sum(o.params for o in ops)
    fixed_macs = np.array([sum(o.macs for o in net.fixed_ops(r)) for r in RS], np.int64)
    fixed_params = np.int64(sum(o.params for o in net.fixed_ops(RS[0])))
    return fixed_macs, fixed_params, macs, params


def node_type_macs(space: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per sequence-graph node type (the mixed-radix number of its feature value indices, in
    ``space.feature_categories`` order): the layer's MACs and the arch's fixed MACs (first conv,
    head; they depend on ``r`` only), both float64. Summing the first over an arch's nodes and
    adding the second of any node gives :func:`count_codes`' MACs (the k-GNN's MACs prior)."""
    fixed_macs, _, t_macs, _ = _tables(space.name)
    cats = space.feature_categories
    names = [c.name for c in cats]
    sizes = [c.size for c in cats]
    idx = np.indices(sizes).reshape(len(sizes), -1)  # [F, T], the last category fastest
    col = {n: idx[names.index(n)] for n in ("stage", "layer", "k", "e", "r")}
    layer = t_macs[col["stage"], (col["layer"] == 0).astype(np.int64), col["k"], col["e"], col["r"]]
    return layer.astype(np.float64), fixed_macs[col["r"]].astype(np.float64)


def count_codes(space: Any, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(macs int64[N], params int64[N])`` of arch codes of an OFA space (``space.encode``)."""
    fixed_macs, fixed_params, t_macs, t_params = _tables(space.name)
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != space.code_len:
        raise AutobuildError(f"codes must be [n, {space.code_len}] for space {space.name!r}, got {codes.shape}")
    n_st = space.n_stages
    depths = codes[:, :n_st]
    ri = codes[:, -1]
    # choice_features columns: the constants, then the layer features (k, e) as value indices.
    k_col, e_col = len(space.constants), len(space.constants) + 1
    macs = fixed_macs[ri].copy()
    params = np.full(len(codes), fixed_params, np.int64)
    for s in range(n_st):
        off = int(space.slot_offset[s])
        for i in range(int(space.max_depth[s])):
            c = codes[:, n_st + off + i]
            on = depths[:, s] > i
            cc = np.where(on, c, 0)
            ki = space.choice_features[s, cc, k_col]
            ei = space.choice_features[s, cc, e_col]
            first = 1 if i == 0 else 0
            macs += np.where(on, t_macs[s, first, ki, ei, ri], 0)
            params += np.where(on, t_params[s, first, ki, ei], 0)
    return macs, params


def count_metrics(space: Any, codes: np.ndarray) -> dict[str, np.ndarray]:
    """``{"macs", "params"}`` of arch codes (the ``counts`` capability of the OFA spaces)."""
    macs, params = count_codes(space, codes)
    return {"macs": macs, "params": params}
