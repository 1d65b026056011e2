"""Search evaluators backed by the surrogate oracles (benchmarks only): ``oracle_eval:ofa_mbv3`` and
``oracle_eval:ofa_pn`` return acc, latency_gpu and latency_cpu for a list of canonical archs."""

from __future__ import annotations

import numpy as np

from oracle_util import load_oracle

_oracles: dict = {}


def _metrics(space: str, archs: list[dict]) -> dict[str, np.ndarray]:
    oracle = _oracles.get("module") or _oracles.setdefault("module", load_oracle())
    enc = oracle.encode(space, archs)
    out = {}
    for m in ("acc", "latency_gpu", "latency_cpu"):
        key = (space, m)
        if key not in _oracles:
            _oracles[key] = oracle.load(space, m)
        out[m] = np.asarray(_oracles[key](enc), dtype=np.float64)
    return out


def ofa_mbv3(archs: list[dict]) -> dict[str, np.ndarray]:
    return _metrics("ofa-mbv3", archs)


def ofa_pn(archs: list[dict]) -> dict[str, np.ndarray]:
    return _metrics("ofa-pn", archs)
