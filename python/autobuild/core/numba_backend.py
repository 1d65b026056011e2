"""Numba twins of the C++ core (``cpp/``): same signatures, same outputs, same errors.

Used when the compiled extension :mod:`autobuild._core` is missing or ``AUTOBUILD_BACKEND=numba``.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def _count_modules(min_depth: int, max_depth: int, n_choices: int) -> int:
    if min_depth < 0 or max_depth < min_depth:
        raise ValueError("enumerate_modules: need 0 <= min_depth <= max_depth")
    if n_choices < 1:
        raise ValueError("enumerate_modules: need n_choices >= 1")
    total = 0
    for depth in range(min_depth, max_depth + 1):
        p = n_choices**depth
        if p > 1 << 40:
            raise ValueError("enumerate_modules: more than 2^40 modules")
        total += p
    return total


@njit(cache=True)
def _fill_modules(min_depth, max_depth, n_choices, depths, choices):  # noqa: ANN001, ANN202
    row = 0
    for depth in range(min_depth, max_depth + 1):
        digits = np.zeros(depth, dtype=np.int32)
        while True:
            depths[row] = depth
            for j in range(depth):
                choices[row, j] = digits[j]
            row += 1
            j = depth - 1
            while j >= 0:
                digits[j] += 1
                if digits[j] == n_choices:
                    digits[j] = 0
                    j -= 1
                else:
                    break
            if j < 0:
                break


def enumerate_modules(min_depth: int, max_depth: int, n_choices: int) -> tuple[np.ndarray, np.ndarray]:
    """Every stage subgraph of ``min_depth..max_depth`` layers over ``n_choices`` choices (Sec. 7.2)."""
    rows = _count_modules(int(min_depth), int(max_depth), int(n_choices))
    depths = np.zeros(rows, dtype=np.int32)
    choices = np.full((rows, int(max_depth)), -1, dtype=np.int32)
    _fill_modules(int(min_depth), int(max_depth), int(n_choices), depths, choices)
    return depths, choices


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
    offset = np.zeros(n_stages, dtype=np.int64)
    n_slots = 0
    for s in range(n_stages):
        offset[s] = n_slots
        n_slots += max_depth[s]
    n_edges = edge_index.shape[1]
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


@njit(cache=True)
def _calibrate(norms, hops, cells, hop_mean, hop_std, cell_mean, cell_std, out):  # noqa: ANN001, ANN202
    for i in range(norms.shape[0]):
        h, c = hops[i], cells[i]
        if c < 0 or c >= cell_mean.shape[0]:
            return 1
        if h >= hop_mean.shape[0]:
            return 2
        if h < 0:
            out[i] = cell_mean[c]
        else:
            out[i] = (norms[i] - hop_mean[h]) * cell_std[c] / hop_std[h] + cell_mean[c]
    return 0


def calibrate_scores(
    norms: np.ndarray, hops: np.ndarray, cells: np.ndarray, hop_mean: np.ndarray, hop_std: np.ndarray,
    cell_mean: np.ndarray, cell_std: np.ndarray,
) -> np.ndarray:
    """Eq. 5: ``(norm - hop_mean[h]) * cell_std[c] / hop_std[h] + cell_mean[c]`` (hop < 0: ``cell_mean[c]``)."""
    norms = np.ascontiguousarray(norms, dtype=np.float64)
    hops = np.ascontiguousarray(hops, dtype=np.int32)
    cells = np.ascontiguousarray(cells, dtype=np.int32)
    hop_mean, hop_std, cell_mean, cell_std = (
        np.ascontiguousarray(a, dtype=np.float64) for a in (hop_mean, hop_std, cell_mean, cell_std)
    )
    n = norms.shape[0]
    if norms.ndim != 1 or hops.ndim != 1 or cells.ndim != 1 or hops.shape[0] != n or cells.shape[0] != n:
        raise ValueError("calibrate_scores: norms, hops and cells must be 1-D of equal length")
    if hop_mean.ndim != 1 or hop_std.ndim != 1 or hop_mean.shape != hop_std.shape:
        raise ValueError("calibrate_scores: hop_mean and hop_std must be 1-D of equal length")
    if cell_mean.ndim != 1 or cell_std.ndim != 1 or cell_mean.shape != cell_std.shape:
        raise ValueError("calibrate_scores: cell_mean and cell_std must be 1-D of equal length")
    if not np.all(hop_std > 0):
        raise ValueError("calibrate_scores: hop std must be > 0")
    out = np.empty(n, dtype=np.float64)
    err = _calibrate(norms, hops, cells, hop_mean, hop_std, cell_mean, cell_std, out)
    if err == 1:
        raise ValueError("calibrate_scores: cell index out of range")
    if err == 2:
        raise ValueError("calibrate_scores: hop index out of range")
    return out
