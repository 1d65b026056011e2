"""Numba twin of ``cpp/encode.cpp``: arch codes to one batched sequence graph."""

from __future__ import annotations

import numpy as np
from numba import njit

@njit(cache=True)
def slot_offsets(widths):  # noqa: ANN001, ANN202
    """First slot column of every stage (after the depths) and the number of slots."""
    offset = np.zeros(widths.shape[0], dtype=np.int64)
    n_slots = 0
    for s in range(widths.shape[0]):
        offset[s] = n_slots
        n_slots += widths[s]
    return offset, n_slots


@njit(cache=True)
def _count_nodes(codes, max_depth, n_stages, ptr):  # noqa: ANN001, ANN202
    for b in range(codes.shape[0]):
        n = 0
        for s in range(n_stages):
            d = codes[b, s]
            if d < 0 or d > max_depth[s]:
                return b
            n += d
        ptr[b + 1] = ptr[b] + n
    return -1


@njit(cache=True)
def _fill_graph(codes, max_depth, n_choices, choice_features, n_globals, ptr, x, edge_index, batch):  # noqa: ANN001, ANN202
    n_stages = max_depth.shape[0]
    nf = choice_features.shape[2]
    offset, n_slots = slot_offsets(max_depth)
    e = 0
    for b in range(codes.shape[0]):
        g0 = n_stages + n_slots
        for k in range(n_globals):
            if codes[b, g0 + k] < 0:
                return b, 2
        v = ptr[b]
        for s in range(n_stages):
            for j in range(codes[b, s]):
                ch = codes[b, n_stages + offset[s] + j]
                if ch < 0 or ch >= n_choices[s]:
                    return b, 1
                x[v, 0] = s
                x[v, 1] = j
                for f in range(nf):
                    x[v, 2 + f] = choice_features[s, ch, f]
                for k in range(n_globals):
                    x[v, 2 + nf + k] = codes[b, g0 + k]
                batch[v] = b
                if v > ptr[b]:
                    edge_index[0, e] = v - 1
                    edge_index[1, e] = v
                    e += 1
                v += 1
    return -1, 0


def encode_batch(
    codes: np.ndarray, max_depth: np.ndarray, n_choices: np.ndarray, choice_features: np.ndarray, n_globals: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arch codes -> batched sequence graph ``(x, edge_index, batch, ptr)`` (paper Sec. 3.1)."""
    codes = np.ascontiguousarray(codes, dtype=np.int32)
    max_depth = np.ascontiguousarray(max_depth, dtype=np.int32)
    n_choices = np.ascontiguousarray(n_choices, dtype=np.int32)
    choice_features = np.ascontiguousarray(choice_features, dtype=np.int32)
    if codes.ndim != 2:
        raise ValueError("encode_batch: codes must be 2-D")
    if max_depth.ndim != 1 or n_choices.ndim != 1 or n_choices.shape[0] != max_depth.shape[0]:
        raise ValueError("encode_batch: max_depth and n_choices must be 1-D of equal length")
    if choice_features.ndim != 3 or choice_features.shape[0] != max_depth.shape[0]:
        raise ValueError("encode_batch: choice_features must be [stages, choices, features]")
    if np.any(n_choices > choice_features.shape[1]):
        raise ValueError("encode_batch: n_choices exceeds choice_features")
    S = max_depth.shape[0]
    if codes.shape[1] != S + int(max_depth.sum()) + int(n_globals):
        raise ValueError("encode_batch: code length does not match the space layout")
    B = codes.shape[0]
    ptr = np.zeros(B + 1, dtype=np.int64)
    bad = _count_nodes(codes, max_depth, S, ptr)
    if bad >= 0:
        raise ValueError(f"encode_batch: arch {bad}: stage depth out of range")
    nodes = int(ptr[-1])
    nonempty = int(np.count_nonzero(np.diff(ptr)))
    F = 2 + choice_features.shape[2] + int(n_globals)
    x = np.zeros((nodes, F), dtype=np.int64)
    edge_index = np.zeros((2, nodes - nonempty), dtype=np.int64)
    batch = np.zeros(nodes, dtype=np.int64)
    bad, kind = _fill_graph(codes, max_depth, n_choices, choice_features, int(n_globals), ptr, x, edge_index, batch)
    if bad >= 0:
        what = "layer choice out of range" if kind == 1 else "negative global index"
        raise ValueError(f"encode_batch: arch {bad}: {what}")
    return x, edge_index, batch, ptr
