"""Numba twin of ``cpp/evolve.cpp``: dedup hashes, Pareto ranks, 2-D hypervolume and the EA's mutation (paper Sec. 5.2, 7.5)."""

from __future__ import annotations

import operator

import numpy as np
from numba import njit

from .encode import slot_offsets

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
def dominance(points, p, q):  # noqa: ANN001, ANN202
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
            d = dominance(points, p, q)
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
            d = dominance(points, p, q)
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
def rng_next(state):  # noqa: ANN001, ANN202
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True)
def uniform(state, n):  # noqa: ANN001, ANN202
    """Uniform integer in [0, n), n >= 1: next() % n."""
    return np.int64(rng_next(state) % np.uint64(n))


def splitmix64(seed: int, n: int) -> np.ndarray:
    """The first ``n`` outputs of the splitmix64 stream of ``seed`` (for tests and documentation)."""
    state = np.array([int(seed) % (1 << 64)], dtype=np.uint64)
    return np.array([rng_next(state) for _ in range(n)], dtype=np.uint64)


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
def layer_ops(min_depth, max_depth, n_allowed, s, d):  # noqa: ANN001, ANN202
    ops = 0
    if d < max_depth[s]:
        ops |= 1
    if d > min_depth[s]:
        ops |= 2
    if d >= 1 and n_allowed[s] >= 2:
        ops |= 4
    return ops


@njit(cache=True)
def check_space(parents, n_children, kind, min_depth, max_depth, slot_width, allowed, group_of, global_allowed,
                   table_offsets, table_depths, table_choices):  # noqa: ANN001, ANN202
    """Validation and derived layout, in the order of cpp/evolve.cpp `check_space`; (error, index, ...)."""
    S = min_depth.shape[0]
    C = allowed.shape[1]
    G = global_allowed.shape[0]
    V = global_allowed.shape[1]
    L = parents.shape[1]
    offset, n_slots = slot_offsets(slot_width)
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
                    if layer_ops(min_depth, max_depth, n_allowed, s, parents[i, s]) != 0:
                        any_op = True
                        break
                if not any_op:
                    return 16, i, layout
    return 0, 0, layout


@njit(cache=True)
def stage_share(min_depth, g_min, g_var, g, s, depth):  # noqa: ANN001, ANN202
    if s != g_var[g]:
        return min_depth[s]
    return depth - (g_min[g] - min_depth[s])


@njit(cache=True)
def row_differs(min_depth, offset, g_first, g_end, g_min, g_var, depths, choices, g, r, c):  # noqa: ANN001, ANN202
    S = min_depth.shape[0]
    d = depths[r]
    pos = 0
    for s in range(g_first[g], g_end[g]):
        ds = stage_share(min_depth, g_min, g_var, g, s, d)
        if ds != c[s]:
            return True
        o = S + offset[s]
        for j in range(ds):
            if choices[r, pos] != c[o + j]:
                return True
            pos += 1
    return False


@njit(cache=True)
def mutate_global(global_allowed, col, k, c, state):  # noqa: ANN001, ANN202
    cur = c[col]
    V = global_allowed.shape[1]
    m = 0
    for v in range(V):
        if global_allowed[k, v] != 0 and v != cur:
            m += 1
    j = uniform(state, m)
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
        parent = parents[uniform(state, P)]
        child = out[i]
        child[:] = parent
        if kind != 2:
            t = targets[uniform(state, n_targets)]
            if t >= n_groups:
                mutate_global(global_allowed, S + n_slots + (t - n_groups), t - n_groups, child, state)
            elif kind == 0:
                g = t
                for _attempt in range(64):
                    tmp[:] = parent
                    d = g_min[g] + uniform(state, g_max[g] - g_min[g] + 1)
                    for s in range(g_first[g], g_end[g]):
                        ds = stage_share(min_depth, g_min, g_var, g, s, d)
                        tmp[s] = ds
                        o = S + offset[s]
                        for j in range(ds):
                            tmp[o + j] = allowed_list[s, uniform(state, n_allowed[s])]
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
                    if row_differs(min_depth, offset, g_first, g_end, g_min, g_var, table_depths, table_choices,
                                    g, r, parent):
                        m += 1
                pick = -1
                if m == 0:
                    pick = lo + uniform(state, hi - lo)
                else:
                    j = uniform(state, m)
                    for r in range(lo, hi):
                        if row_differs(min_depth, offset, g_first, g_end, g_min, g_var, table_depths,
                                        table_choices, g, r, parent):
                            if j == 0:
                                pick = r
                                break
                            j -= 1
                d = table_depths[pick]
                pos = 0
                for s in range(g_first[g], g_end[g]):
                    ds = stage_share(min_depth, g_min, g_var, g, s, d)
                    child[s] = ds
                    o = S + offset[s]
                    for j in range(ds):
                        child[o + j] = table_choices[pick, pos]
                        pos += 1
        else:
            # Targets: stages with a possible operation, then globals with >= 2 allowed values.
            n_t = 0
            for s in range(S):
                if layer_ops(min_depth, max_depth, n_allowed, s, child[s]) != 0:
                    ops_of[n_t] = s
                    n_t += 1
            for k in range(G):
                if n_gallowed[k] >= 2:
                    ops_of[n_t] = S + k
                    n_t += 1
            t = ops_of[uniform(state, n_t)]
            if t >= S:
                mutate_global(global_allowed, S + n_slots + (t - S), t - S, child, state)
            else:
                s = t
                d = child[s]
                ops = layer_ops(min_depth, max_depth, n_allowed, s, d)
                n_ops = 0
                for bit in range(3):
                    if ops & (1 << bit):
                        op_list[n_ops] = bit
                        n_ops += 1
                op = op_list[uniform(state, n_ops)]
                o = S + offset[s]
                if op == 0:  # add
                    pos = uniform(state, d + 1)
                    c = allowed_list[s, uniform(state, n_allowed[s])]
                    for j in range(d, pos, -1):
                        child[o + j] = child[o + j - 1]
                    child[o + pos] = c
                    child[s] = d + 1
                elif op == 1:  # remove
                    pos = uniform(state, d)
                    for j in range(pos, d - 1):
                        child[o + j] = child[o + j + 1]
                    child[s] = d - 1
                else:  # edit
                    pos = uniform(state, d)
                    cur = child[o + pos]
                    m = 0
                    for a in range(n_allowed[s]):
                        if allowed_list[s, a] != cur:
                            m += 1
                    j = uniform(state, m)
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
    err, at, layout = check_space(parents, n_children, kind, min_depth, max_depth, slot_width, allowed, group_of,
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
