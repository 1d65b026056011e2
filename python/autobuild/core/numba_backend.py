"""Numba twins of the C++ core (``cpp/``): same signatures, same outputs, same errors.

Used when the compiled extension :mod:`autobuild._core` is missing or ``AUTOBUILD_BACKEND=numba``.
"""

from __future__ import annotations

import operator

import numpy as np
from numba import njit

from .isotonic import block_mean_rows, isotonic_rows


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
def _slot_offsets(widths):  # noqa: ANN001, ANN202
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
    offset, n_slots = _slot_offsets(max_depth)
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


# ---------------------------------------------------------------------------------------------
# Evolutionary search (paper Sec. 5.2, 7.5): dedup hashes, Pareto ranks, 2-D hypervolume, mutation.

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_BYTE = np.uint64(0xFF)


@njit(cache=True)
def _hash_rows(codes, out):  # noqa: ANN001, ANN202
    for i in range(codes.shape[0]):
        h = _FNV_OFFSET
        for j in range(codes.shape[1]):
            u = np.uint64(codes[i, j])
            for b in range(4):
                h ^= (u >> np.uint64(8 * b)) & _BYTE
                h *= _FNV_PRIME
        out[i] = h


def hash_codes(codes: np.ndarray) -> np.ndarray:
    """FNV-1a 64-bit hash of the little-endian bytes of every code row (pass canonical codes)."""
    codes = np.ascontiguousarray(codes, dtype=np.int32)
    if codes.ndim != 2:
        raise ValueError("hash_codes: codes must be 2-D")
    out = np.empty(codes.shape[0], dtype=np.uint64)
    _hash_rows(codes.view(np.uint32), out)
    return out


@njit(cache=True)
def _dominance(points, p, q):  # noqa: ANN001, ANN202
    p_better = False
    q_better = False
    for k in range(points.shape[1]):
        if points[p, k] < points[q, k]:
            p_better = True
        elif points[q, k] < points[p, k]:
            q_better = True
    if p_better and not q_better:
        return 1
    if q_better and not p_better:
        return -1
    return 0


@njit(cache=True)
def _nd_sort(points, out):  # noqa: ANN001, ANN202
    n = points.shape[0]
    dominated_by = np.zeros(n, dtype=np.int64)
    start = np.zeros(n + 1, dtype=np.int64)
    for p in range(n):
        for q in range(p + 1, n):
            d = _dominance(points, p, q)
            if d == 1:
                start[p + 1] += 1
                dominated_by[q] += 1
            elif d == -1:
                start[q + 1] += 1
                dominated_by[p] += 1
    for p in range(n):
        start[p + 1] += start[p]
    fill = start[:n].copy()
    dominated = np.empty(start[n], dtype=np.int64)
    for p in range(n):
        for q in range(p + 1, n):
            d = _dominance(points, p, q)
            if d == 1:
                dominated[fill[p]] = q
                fill[p] += 1
            elif d == -1:
                dominated[fill[q]] = p
                fill[q] += 1
    front = np.empty(n, dtype=np.int64)
    nxt = np.empty(n, dtype=np.int64)
    n_front = 0
    for p in range(n):
        if dominated_by[p] == 0:
            front[n_front] = p
            n_front += 1
    rank = 0
    while n_front > 0:
        n_next = 0
        for f in range(n_front):
            p = front[f]
            out[p] = rank
            for k in range(start[p], start[p + 1]):
                q = dominated[k]
                dominated_by[q] -= 1
                if dominated_by[q] == 0:
                    nxt[n_next] = q
                    n_next += 1
        front, nxt = nxt, front
        n_front = n_next
        rank += 1


def non_dominated_rank(points: np.ndarray) -> np.ndarray:
    """Pareto front index of every point, minimising all objectives (0 = non-dominated)."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    if points.ndim != 2:
        raise ValueError("non_dominated_rank: points must be 2-D")
    if np.isnan(points).any():
        raise ValueError("non_dominated_rank: points contain NaN")
    out = np.zeros(points.shape[0], dtype=np.int32)
    _nd_sort(points, out)
    return out


@njit(cache=True)
def _hv_sweep(points, order, ref0, ref1):  # noqa: ANN001, ANN202
    hv = 0.0
    best_y = ref1
    for i in order:
        x = points[i, 0]
        y = points[i, 1]
        if y < best_y:
            hv += (ref0 - x) * (best_y - y)
            best_y = y
    return hv


def hypervolume_2d(points: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of ``points[N, 2]`` (minimisation) bounded by ``ref[2]``; points not strictly
    better than ``ref`` in both objectives add nothing."""
    points = np.ascontiguousarray(points, dtype=np.float64)
    ref = np.ascontiguousarray(ref, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError("hypervolume_2d: points must be [N, 2]")
    if ref.ndim != 1 or ref.shape[0] != 2:
        raise ValueError("hypervolume_2d: ref must have 2 entries")
    if np.isnan(ref).any() or np.isnan(points).any():
        raise ValueError("hypervolume_2d: NaN in points or ref")
    inside = np.flatnonzero((points[:, 0] < ref[0]) & (points[:, 1] < ref[1]))
    order = inside[np.lexsort((points[inside, 1], points[inside, 0]))]  # by x, then y
    return float(_hv_sweep(points, order, float(ref[0]), float(ref[1])))


# splitmix64 (Steele, Lea, Flood 2014), written exactly as in cpp/evolve.cpp.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)


@njit(cache=True)
def _rng_next(state):  # noqa: ANN001, ANN202
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True)
def _uniform(state, n):  # noqa: ANN001, ANN202
    """Uniform integer in [0, n), n >= 1: next() % n."""
    return np.int64(_rng_next(state) % np.uint64(n))


def splitmix64(seed: int, n: int) -> np.ndarray:
    """The first ``n`` outputs of the splitmix64 stream of ``seed`` (for tests and documentation)."""
    state = np.array([int(seed) % (1 << 64)], dtype=np.uint64)
    return np.array([_rng_next(state) for _ in range(n)], dtype=np.uint64)


_MUTATE_ERRORS = {
    1: "code length does not match the space layout (pass slot_width when max_depth is lowered)",
    2: "stage {}: need 0 <= min_depth <= max_depth <= slot width",
    3: "stage {} allows no layer choice",
    4: "global {} allows no value",
    5: "group_of must number the groups 0, 1, ... in stage order",
    6: "group {} has more than one stage of variable depth",
    7: "no parents to mutate",
    8: "parent {}: stage depth out of range",
    9: "parent {}: layer choice out of range",
    10: "parent {}: global index out of range",
    11: "table_offsets must have one entry per group plus one",
    12: "table_offsets must rise from 0 to the number of table rows",
    13: "group {} has an empty module table",
    14: "table row {}: depth out of the group's range",
    15: "table row {}: layer choice out of range",
    16: "parent {} has no possible mutation",
    17: "nothing to mutate: no group or global has two or more options",
}


@njit(cache=True)
def _layer_ops(min_depth, max_depth, n_allowed, s, d):  # noqa: ANN001, ANN202
    ops = 0
    if d < max_depth[s]:
        ops |= 1
    if d > min_depth[s]:
        ops |= 2
    if d >= 1 and n_allowed[s] >= 2:
        ops |= 4
    return ops


@njit(cache=True)
def _mutate_layout(parents, n_children, kind, min_depth, max_depth, slot_width, allowed, group_of, global_allowed,
                   table_offsets, table_depths, table_choices):  # noqa: ANN001, ANN202
    """Validation and derived layout, in the order of cpp/evolve.cpp `check_space`; (error, index, ...)."""
    S = min_depth.shape[0]
    C = allowed.shape[1]
    G = global_allowed.shape[0]
    V = global_allowed.shape[1]
    L = parents.shape[1]
    offset, n_slots = _slot_offsets(slot_width)
    n_allowed = np.zeros(S, dtype=np.int64)
    allowed_list = np.full((S, C), -1, dtype=np.int32)
    n_gallowed = np.zeros(G, dtype=np.int64)
    n_groups = 0 if S == 0 else group_of[S - 1] + 1
    g_first = np.zeros(max(n_groups, 0), dtype=np.int64)
    g_end = np.zeros(max(n_groups, 0), dtype=np.int64)
    g_min = np.zeros(max(n_groups, 0), dtype=np.int64)
    g_max = np.zeros(max(n_groups, 0), dtype=np.int64)
    g_var = np.full(max(n_groups, 0), -1, dtype=np.int64)
    layout = (offset, n_slots, n_allowed, allowed_list, n_gallowed, n_groups, g_first, g_end, g_min, g_max, g_var)
    if L != S + n_slots + G:
        return 1, 0, layout
    for s in range(S):
        if min_depth[s] < 0 or max_depth[s] < min_depth[s] or slot_width[s] < max_depth[s]:
            return 2, s, layout
    for s in range(S):
        for c in range(C):
            if allowed[s, c]:
                allowed_list[s, n_allowed[s]] = c
                n_allowed[s] += 1
        if n_allowed[s] == 0:
            return 3, s, layout
    for k in range(G):
        for v in range(V):
            if global_allowed[k, v] != 0:
                n_gallowed[k] += 1
        if n_gallowed[k] == 0:
            return 4, k, layout
    for s in range(S):
        prev = -1 if s == 0 else group_of[s - 1]
        if group_of[s] != prev and group_of[s] != prev + 1:
            return 5, 0, layout
    for s in range(S - 1, -1, -1):
        g_first[group_of[s]] = s
    for s in range(S):
        g = group_of[s]
        g_end[g] = s + 1
        g_min[g] += min_depth[s]
        g_max[g] += max_depth[s]
        if min_depth[s] != max_depth[s]:
            if g_var[g] >= 0:
                return 6, g, layout
            g_var[g] = s
    P = parents.shape[0]
    if n_children > 0 and P == 0:
        return 7, 0, layout
    for i in range(P):
        for s in range(S):
            if parents[i, s] < 0 or parents[i, s] > slot_width[s]:
                return 8, i, layout
        for s in range(S):
            for j in range(parents[i, s]):
                ch = parents[i, S + offset[s] + j]
                if ch < 0 or ch >= C:
                    return 9, i, layout
        for k in range(G):
            v = parents[i, S + n_slots + k]
            if v < 0 or v >= V:
                return 10, i, layout
    if kind == 1:
        if table_offsets.shape[0] != n_groups + 1:
            return 11, 0, layout
        rising = table_offsets[0] == 0 and table_offsets[n_groups] == table_depths.shape[0]
        for g in range(n_groups):
            rising = rising and table_offsets[g] <= table_offsets[g + 1]
        if not rising:
            return 12, 0, layout
        for g in range(n_groups):
            if table_offsets[g] == table_offsets[g + 1]:
                return 13, g, layout
        W = table_choices.shape[1]
        for g in range(n_groups):
            for r in range(table_offsets[g], table_offsets[g + 1]):
                d = table_depths[r]
                if d < g_min[g] or d > g_max[g] or d > W:
                    return 14, r, layout
                for j in range(d):
                    ch = table_choices[r, j]
                    if ch < 0 or ch >= C:
                        return 15, r, layout
    if n_children > 0 and kind == 2:
        globals_ok = False
        for k in range(G):
            globals_ok = globals_ok or n_gallowed[k] >= 2
        if not globals_ok:
            for i in range(P):
                any_op = False
                for s in range(S):
                    if _layer_ops(min_depth, max_depth, n_allowed, s, parents[i, s]) != 0:
                        any_op = True
                        break
                if not any_op:
                    return 16, i, layout
    return 0, 0, layout


@njit(cache=True)
def _stage_share(min_depth, g_min, g_var, g, s, depth):  # noqa: ANN001, ANN202
    if s != g_var[g]:
        return min_depth[s]
    return depth - (g_min[g] - min_depth[s])


@njit(cache=True)
def _row_differs(min_depth, offset, g_first, g_end, g_min, g_var, depths, choices, g, r, c):  # noqa: ANN001, ANN202
    S = min_depth.shape[0]
    d = depths[r]
    pos = 0
    for s in range(g_first[g], g_end[g]):
        ds = _stage_share(min_depth, g_min, g_var, g, s, d)
        if ds != c[s]:
            return True
        o = S + offset[s]
        for j in range(ds):
            if choices[r, pos] != c[o + j]:
                return True
            pos += 1
    return False


@njit(cache=True)
def _mutate_global(global_allowed, col, k, c, state):  # noqa: ANN001, ANN202
    cur = c[col]
    V = global_allowed.shape[1]
    m = 0
    for v in range(V):
        if global_allowed[k, v] != 0 and v != cur:
            m += 1
    j = _uniform(state, m)
    for v in range(V):
        if global_allowed[k, v] != 0 and v != cur:
            if j == 0:
                c[col] = v
                return
            j -= 1


@njit(cache=True)
def _mutate_kernel(parents, n_children, state, kind, min_depth, max_depth, slot_width, global_allowed,
                   table_offsets, table_depths, table_choices, layout, out):  # noqa: ANN001, ANN202
    offset, n_slots, n_allowed, allowed_list, n_gallowed, n_groups, g_first, g_end, g_min, g_max, g_var = layout
    S = min_depth.shape[0]
    G = global_allowed.shape[0]
    P, L = parents.shape
    # Targets of kinds 0 and 1: groups g (as g), then globals k (as n_groups + k).
    targets = np.empty(n_groups + G, dtype=np.int64)
    n_targets = 0
    if kind != 2:
        for g in range(n_groups):
            if kind == 0:
                ok = g_min[g] < g_max[g]
                for s in range(g_first[g], g_end[g]):
                    ok = ok or (min_depth[s] > 0 and n_allowed[s] >= 2)
            else:
                ok = table_offsets[g + 1] - table_offsets[g] >= 2
            if ok:
                targets[n_targets] = g
                n_targets += 1
        for k in range(G):
            if n_gallowed[k] >= 2:
                targets[n_targets] = n_groups + k
                n_targets += 1
        if n_children > 0 and n_targets == 0:
            return 17
    tmp = np.empty(L, dtype=np.int32)
    ops_of = np.empty(S + G, dtype=np.int64)
    op_list = np.empty(3, dtype=np.int64)
    for i in range(n_children):
        parent = parents[_uniform(state, P)]
        child = out[i]
        child[:] = parent
        if kind != 2:
            t = targets[_uniform(state, n_targets)]
            if t >= n_groups:
                _mutate_global(global_allowed, S + n_slots + (t - n_groups), t - n_groups, child, state)
            elif kind == 0:
                g = t
                for _attempt in range(64):
                    tmp[:] = parent
                    d = g_min[g] + _uniform(state, g_max[g] - g_min[g] + 1)
                    for s in range(g_first[g], g_end[g]):
                        ds = _stage_share(min_depth, g_min, g_var, g, s, d)
                        tmp[s] = ds
                        o = S + offset[s]
                        for j in range(ds):
                            tmp[o + j] = allowed_list[s, _uniform(state, n_allowed[s])]
                    differs = False
                    for s in range(g_first[g], g_end[g]):
                        if tmp[s] != parent[s]:
                            differs = True
                            break
                        o = S + offset[s]
                        for j in range(tmp[s]):
                            if tmp[o + j] != parent[o + j]:
                                differs = True
                                break
                        if differs:
                            break
                    if differs:
                        break
                child[:] = tmp
            else:
                g = t
                lo = table_offsets[g]
                hi = table_offsets[g + 1]
                m = 0
                for r in range(lo, hi):
                    if _row_differs(min_depth, offset, g_first, g_end, g_min, g_var, table_depths, table_choices,
                                    g, r, parent):
                        m += 1
                pick = -1
                if m == 0:
                    pick = lo + _uniform(state, hi - lo)
                else:
                    j = _uniform(state, m)
                    for r in range(lo, hi):
                        if _row_differs(min_depth, offset, g_first, g_end, g_min, g_var, table_depths,
                                        table_choices, g, r, parent):
                            if j == 0:
                                pick = r
                                break
                            j -= 1
                d = table_depths[pick]
                pos = 0
                for s in range(g_first[g], g_end[g]):
                    ds = _stage_share(min_depth, g_min, g_var, g, s, d)
                    child[s] = ds
                    o = S + offset[s]
                    for j in range(ds):
                        child[o + j] = table_choices[pick, pos]
                        pos += 1
        else:
            # Targets: stages with a possible operation, then globals with >= 2 allowed values.
            n_t = 0
            for s in range(S):
                if _layer_ops(min_depth, max_depth, n_allowed, s, child[s]) != 0:
                    ops_of[n_t] = s
                    n_t += 1
            for k in range(G):
                if n_gallowed[k] >= 2:
                    ops_of[n_t] = S + k
                    n_t += 1
            t = ops_of[_uniform(state, n_t)]
            if t >= S:
                _mutate_global(global_allowed, S + n_slots + (t - S), t - S, child, state)
            else:
                s = t
                d = child[s]
                ops = _layer_ops(min_depth, max_depth, n_allowed, s, d)
                n_ops = 0
                for bit in range(3):
                    if ops & (1 << bit):
                        op_list[n_ops] = bit
                        n_ops += 1
                op = op_list[_uniform(state, n_ops)]
                o = S + offset[s]
                if op == 0:  # add
                    pos = _uniform(state, d + 1)
                    c = allowed_list[s, _uniform(state, n_allowed[s])]
                    for j in range(d, pos, -1):
                        child[o + j] = child[o + j - 1]
                    child[o + pos] = c
                    child[s] = d + 1
                elif op == 1:  # remove
                    pos = _uniform(state, d)
                    for j in range(pos, d - 1):
                        child[o + j] = child[o + j + 1]
                    child[s] = d - 1
                else:  # edit
                    pos = _uniform(state, d)
                    cur = child[o + pos]
                    m = 0
                    for a in range(n_allowed[s]):
                        if allowed_list[s, a] != cur:
                            m += 1
                    j = _uniform(state, m)
                    for a in range(n_allowed[s]):
                        if allowed_list[s, a] != cur:
                            if j == 0:
                                child[o + pos] = allowed_list[s, a]
                                break
                            j -= 1
        # Canonical padding.
        for s in range(S):
            for j in range(child[s], slot_width[s]):
                child[S + offset[s] + j] = -1
    return 0


def mutate(
    parents: np.ndarray, n_children: int, seed: int, kind: int, min_depth: np.ndarray, max_depth: np.ndarray,
    allowed: np.ndarray, group_of: np.ndarray, n_globals: int, global_allowed: np.ndarray,
    table_offsets: np.ndarray | None = None, table_depths: np.ndarray | None = None,
    table_choices: np.ndarray | None = None, slot_width: np.ndarray | None = None,
) -> np.ndarray:
    """EA mutation (paper Sec. 7.5): ``n_children`` canonical codes, each one mutation of a uniform
    parent; kind 0 stage-full, 1 stage-table, 2 layer (see :mod:`autobuild.core`)."""
    kind = operator.index(kind)
    n_children = operator.index(n_children)
    if kind < 0 or kind > 2:
        raise ValueError("mutate: kind must be 0 (stage-full), 1 (stage-table) or 2 (layer)")
    if n_children < 0:
        raise ValueError("mutate: n_children must be >= 0")
    seed = operator.index(seed)
    if not 0 <= seed < 1 << 64:
        raise ValueError("mutate: seed must be in [0, 2^64)")
    parents = np.ascontiguousarray(parents, dtype=np.int32)
    min_depth = np.ascontiguousarray(min_depth, dtype=np.int32)
    max_depth = np.ascontiguousarray(max_depth, dtype=np.int32)
    allowed = np.ascontiguousarray(allowed, dtype=np.uint8)
    group_of = np.ascontiguousarray(group_of, dtype=np.int32)
    global_allowed = np.ascontiguousarray(global_allowed, dtype=np.uint8)
    n_globals = int(n_globals)
    if parents.ndim != 2:
        raise ValueError("mutate: parents must be 2-D")
    if min_depth.ndim != 1 or max_depth.ndim != 1 or min_depth.shape[0] != max_depth.shape[0]:
        raise ValueError("mutate: min_depth and max_depth must be 1-D of equal length")
    S = min_depth.shape[0]
    if allowed.ndim != 2 or allowed.shape[0] != S:
        raise ValueError("mutate: allowed must be [stages, choices]")
    if group_of.ndim != 1 or group_of.shape[0] != S:
        raise ValueError("mutate: group_of must have one entry per stage")
    if global_allowed.ndim != 2 or global_allowed.shape[0] != n_globals:
        raise ValueError("mutate: global_allowed must be [n_globals, values]")
    if slot_width is None:
        slot_width = max_depth
    else:
        slot_width = np.ascontiguousarray(slot_width, dtype=np.int32)
        if slot_width.ndim != 1 or slot_width.shape[0] != S:
            raise ValueError("mutate: slot_width must have one entry per stage")
    if kind == 1:
        if table_offsets is None or table_depths is None or table_choices is None:
            raise ValueError("mutate: kind 1 (stage-table) needs table_offsets, table_depths and table_choices")
        table_offsets = np.ascontiguousarray(table_offsets, dtype=np.int64)
        table_depths = np.ascontiguousarray(table_depths, dtype=np.int32)
        table_choices = np.ascontiguousarray(table_choices, dtype=np.int32)
        if (table_offsets.ndim != 1 or table_depths.ndim != 1 or table_choices.ndim != 2
                or table_choices.shape[0] != table_depths.shape[0]):
            raise ValueError("mutate: table_offsets and table_depths must be 1-D, table_choices [rows, width]")
    else:
        table_offsets = np.zeros(1, dtype=np.int64)
        table_depths = np.zeros(0, dtype=np.int32)
        table_choices = np.zeros((0, 0), dtype=np.int32)
    err, at, layout = _mutate_layout(parents, n_children, kind, min_depth, max_depth, slot_width, allowed, group_of,
                                     global_allowed, table_offsets, table_depths, table_choices)
    if err:
        raise ValueError("mutate: " + _MUTATE_ERRORS[err].format(at))
    out = np.empty((n_children, parents.shape[1]), dtype=np.int32)
    state = np.array([seed], dtype=np.uint64)
    err = _mutate_kernel(parents, n_children, state, kind, min_depth, max_depth, slot_width, global_allowed,
                         table_offsets, table_depths, table_choices, layout, out)
    if err:
        raise ValueError("mutate: " + _MUTATE_ERRORS[err])
    return out


# ----------------------------------------------------------------------------------------------
# GATv2 attention on chains (the dense training path of autobuild.models.gatv2).


def _check_chain(xl: np.ndarray, xr: np.ndarray, att: np.ndarray, has_pred: np.ndarray) -> None:
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
    _check_chain(xl, xr, att, has_pred)
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
    _check_chain(xl, xr, att, has_pred)
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


# ----------------------------------------------------------------------------------------------
# The training layer after the linear maps: chain attention, batch norm, ReLU, residual.


def _check_layer(xlr: np.ndarray, att: np.ndarray, has_pred: np.ndarray, fn: str) -> None:
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


def _check_channels(a: np.ndarray, hc: int, what: str, fn: str) -> None:
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
    _check_layer(xlr, att, has_pred, fn)
    n, _, heads, ch = xlr.shape
    hc = heads * ch
    _check_channels(gamma, hc, "gamma", fn)
    _check_channels(beta, hc, "beta", fn)
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
    _check_layer(xlr, att, has_pred, fn)
    n, _, heads, ch = xlr.shape
    hc = heads * ch
    if grad.shape != (n, hc) or xhat.shape != (n, hc):
        raise ValueError(f"{fn}: grad and xhat must be float32[N, H * C]")
    if a_prev.shape != (n, heads) or a_self.shape != (n, heads):
        raise ValueError(f"{fn}: a_prev and a_self must be float32[N, H]")
    for a, what in ((invstd, "invstd"), (gamma, "gamma"), (beta, "beta")):
        _check_channels(a, hc, what, fn)
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


_isotonic_rows = njit(cache=True)(isotonic_rows)
_block_mean_rows = njit(cache=True)(block_mean_rows)


@njit(cache=True)
def _soft_rank_pearson(values, target, strength, corr, grad):  # noqa: ANN001, ANN202
    rows, n = values.shape
    lo, hi, ty = target[0], target[0], 0.0
    for i in range(n):
        ty += target[i]
        lo = min(lo, target[i])
        hi = max(hi, target[i])
    my = ty / n
    uy = np.empty(n)
    ny = 0.0
    for i in range(n):
        uy[i] = target[i] - my
        ny += uy[i] * uy[i]
    ny = np.sqrt(ny)
    for i in range(n):
        uy[i] = 0.0 if hi - lo <= 0.0 else uy[i] / ny
    scale = 1.0 / strength
    theta = np.empty(n)
    z = np.empty(n)
    r = np.empty(n)
    g = np.empty(n)
    g_sorted = np.empty(n)
    for b in range(rows):
        for i in range(n):
            theta[i] = values[b, i] * scale
        order = np.argsort(-theta, kind="mergesort")  # descending, ties in input order, NaN last
        for k in range(n):
            z[k] = theta[order[k]] - (n - k)
        dual = _isotonic_rows(z.reshape(1, n))[0]  # pool adjacent violators (decreasing)
        for k in range(n):
            r[order[k]] = theta[order[k]] - dual[k]
        tr, rlo, rhi = 0.0, r[0], r[0]
        for i in range(n):
            tr += r[i]
            rlo = min(rlo, r[i])
            rhi = max(rhi, r[i])
        spread = rhi - rlo
        if not spread > 0.0 and not np.isnan(spread):
            corr[b] = 0.0
            for i in range(n):
                grad[b, i] = 0.0
            continue
        mr = tr / n
        nr = 0.0
        for i in range(n):
            r[i] -= mr
            nr += r[i] * r[i]
        nr = np.sqrt(nr)
        c = 0.0
        for i in range(n):
            c += (r[i] / nr) * uy[i]
        corr[b] = c
        mg = 0.0
        for i in range(n):
            g[i] = (uy[i] - c * (r[i] / nr)) / nr
            mg += g[i]
        mg /= n
        for i in range(n):
            g[i] -= mg
        for k in range(n):
            g_sorted[k] = g[order[k]]
        pooled = _block_mean_rows(dual.reshape(1, n), g_sorted.reshape(1, n))[0]  # the isotonic VJP
        for k in range(n):
            grad[b, order[k]] = (g[order[k]] - pooled[k]) * scale


def soft_rank_pearson(values: np.ndarray, target: np.ndarray, strength: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    values = np.ascontiguousarray(values, dtype=np.float64)
    target = np.ascontiguousarray(target, dtype=np.float64)
    if values.ndim != 2 or target.ndim != 1 or values.shape[1] != target.shape[0]:
        raise ValueError("soft_rank_pearson: values must be float64[H, B] and target float64[B]")
    if target.shape[0] < 1:
        raise ValueError("soft_rank_pearson: empty inputs")
    if not strength > 0.0:
        raise ValueError("soft_rank_pearson: strength must be > 0")
    corr = np.empty(values.shape[0])
    grad = np.empty(values.shape)
    _soft_rank_pearson(values, target, float(strength), corr, grad)
    return corr, grad


def chain_param_size(j: int, f: int, layers: int, hc: int, d: int) -> int:
    """Size of parameter ``j`` of :func:`chain_loss_grad` (per hop ``W = [W_l; W_r]``, att, gamma,
    beta; then the head's w1, b1, w2, b2)."""
    if j < 4 * layers:
        return 2 * hc * (f if j < 4 else hc) if j % 4 == 0 else hc
    return (d * hc, d, d, 1)[j - 4 * layers]


def _check_chain_loss(table: np.ndarray, idx: np.ndarray, has_pred: np.ndarray, batch: np.ndarray,
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
    _check_chain_loss(table, idx, has_pred, batch, denom, y, params, offsets, layers, heads, hidden, head_hidden,
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
