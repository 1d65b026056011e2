"""Cheap deterministic evaluators for the search tests (``search_evaluators:toy``)."""

from __future__ import annotations

import os
import time

import numpy as np


def _score(arch: dict) -> tuple[float, float]:
    d = arch["d"]
    acc, lat = 0.70, 1.0
    for s, depth in enumerate(d):
        for j in range(depth):
            k, e = arch["ks"][4 * s + j], arch["e"][4 * s + j]
            acc += 0.001 * (k / 7 + e / 6) * (1 + 0.1 * s)
            lat += 0.02 * k * e / 21 + 0.05
    acc += (arch["r"] - 192) / 32 * 0.01
    lat *= arch["r"] / 192
    return acc, lat


def toy(archs: list[dict]) -> dict[str, np.ndarray]:
    delay = float(os.environ.get("AUTOBUILD_TOY_DELAY", "0"))
    if delay:
        time.sleep(delay * len(archs))
    vals = np.array([_score(a) for a in archs])
    return {"acc": vals[:, 0], "latency": vals[:, 1]}


def broken(archs: list[dict]) -> dict[str, np.ndarray]:
    return {"acc": np.zeros(len(archs))}


def toy_gpu(archs: list[dict]) -> dict[str, np.ndarray]:
    out = toy(archs)
    return {"acc": out["acc"], "latency_gpu": out["latency"]}
