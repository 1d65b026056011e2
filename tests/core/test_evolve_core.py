"""Evolutionary-search core (paper Sec. 5.2, 7.5): dedup hashes, Pareto ranks, 2-D hypervolume and
the mutation operators; C++ and Numba backends give identical outputs and errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from autobuild import core
from autobuild.spaces import get_space

BACKENDS = core.available_backends()
MASK64 = (1 << 64) - 1


@pytest.fixture(params=BACKENDS)
def backend(request):
    return core.get_backend(request.param)


def _all_backends(fn, *args, **kwargs):
    """Run ``fn`` of every backend; assert equal outputs (or equal ValueError messages)."""
    outs, errors = [], []
    for b in BACKENDS:
        try:
            outs.append(getattr(core.get_backend(b), fn)(*args, **kwargs))
        except ValueError as e:
            errors.append(str(e))
    assert not (outs and errors), f"{fn}: one backend raised {errors}, another returned"
    if errors:
        assert len(set(errors)) == 1, errors
        raise ValueError(errors[0])
    for o in outs[1:]:
        if isinstance(o, np.ndarray):
            assert o.dtype == outs[0].dtype and o.shape == outs[0].shape
            np.testing.assert_array_equal(o, outs[0])
        else:
            assert o == outs[0]
    return outs[0]


# ------------------------------------------------------------------ hash_codes
def _fnv1a(row: np.ndarray) -> int:
    h = 0xCBF29CE484222325
    for byte in np.asarray(row, dtype="<i4").tobytes():
        h = ((h ^ byte) * 0x100000001B3) & MASK64
    return h


def test_hash_codes_is_fnv1a_of_little_endian_rows():
    sp = get_space("ofa-pn")
    codes = sp.sample_codes(50, seed=3)
    got = _all_backends("hash_codes", codes)
    assert got.dtype == np.uint64 and got.shape == (50,)
    assert [int(h) for h in got] == [_fnv1a(r) for r in codes]
    assert int(_all_backends("hash_codes", np.zeros((1, 0), np.int32))[0]) == 0xCBF29CE484222325
    assert _all_backends("hash_codes", codes[:0]).shape == (0,)


def test_hash_codes_equal_iff_rows_equal():
    sp = get_space("ofa-mbv3")
    codes = sp.sample_codes(20000, seed=4)  # distinct canonical codes
    h = _all_backends("hash_codes", codes)
    assert len(np.unique(h)) == len(codes)
    dup = codes[[5, 17, 5, 17, 3]]
    hd = _all_backends("hash_codes", dup)
    assert hd[0] == hd[2] == h[5] and hd[1] == hd[3] == h[17] and hd[0] != hd[1]
    one = codes[:1].copy()
    one[0, -1] ^= 1  # one bit of the last entry
    assert _all_backends("hash_codes", one)[0] != h[0]
    with pytest.raises(ValueError, match="hash_codes: codes must be 2-D"):
        _all_backends("hash_codes", codes[0])


# ------------------------------------------------------------------ non_dominated_rank
def _brute_ranks(points: np.ndarray) -> np.ndarray:
    n = len(points)
    a, b = points[:, None, :], points[None, :, :]
    dom = np.all(a <= b, axis=-1) & np.any(a < b, axis=-1)  # dom[p, q]: p dominates q
    rank = np.full(n, -1)
    left = np.ones(n, bool)
    r = 0
    while left.any():
        front = left & ~(dom[left].any(axis=0))
        rank[front] = r
        left &= ~front
        r += 1
    return rank


@pytest.mark.parametrize("n, m, seed", [(1, 2, 0), (60, 1, 1), (150, 2, 2), (120, 3, 3), (80, 4, 4)])
def test_non_dominated_rank_matches_brute_force(n, m, seed):
    rng = np.random.default_rng(seed)
    pts = rng.integers(0, 6, size=(n, m)).astype(np.float64)  # many ties and duplicates
    pts[: n // 5] = pts[n // 5 : 2 * (n // 5)]
    got = _all_backends("non_dominated_rank", pts)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, _brute_ranks(pts))
    cont = rng.normal(size=(n, m))
    np.testing.assert_array_equal(_all_backends("non_dominated_rank", cont), _brute_ranks(cont))


def test_non_dominated_rank_matches_pymoo():
    nds = pytest.importorskip("pymoo.util.nds.non_dominated_sorting")
    rng = np.random.default_rng(7)
    for m in (2, 3):
        pts = np.round(rng.normal(size=(300, m)), 1)
        _, want = nds.NonDominatedSorting().do(pts, return_rank=True)
        np.testing.assert_array_equal(_all_backends("non_dominated_rank", pts), want)


def test_non_dominated_rank_edges():
    assert _all_backends("non_dominated_rank", np.zeros((0, 2))).shape == (0,)
    pts = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0], [2.0, 2.0], [np.inf, 0.0], [3.0, 3.0]])
    assert _all_backends("non_dominated_rank", pts).tolist() == [0, 0, 0, 1, 0, 2]
    with pytest.raises(ValueError, match="non_dominated_rank: points contain NaN"):
        _all_backends("non_dominated_rank", np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="non_dominated_rank: points must be 2-D"):
        _all_backends("non_dominated_rank", np.zeros(3))


# ------------------------------------------------------------------ hypervolume_2d
def test_hypervolume_by_hand():
    pts = np.array([[1.0, 2.0], [2.0, 1.0], [3.0, 3.0], [5.0, 0.5], [1.0, 2.0], [4.0, 0.0]])
    # (1,2) and (2,1) inside ref (4,4); (3,3) dominated; (5,.5) outside; (4,0) on the boundary: 6 + 2.
    assert _all_backends("hypervolume_2d", pts, np.array([4.0, 4.0])) == 8.0
    assert _all_backends("hypervolume_2d", pts[:0], np.array([4.0, 4.0])) == 0.0
    assert _all_backends("hypervolume_2d", pts, np.array([0.0, 0.0])) == 0.0


@pytest.mark.parametrize("seed", range(6))
def test_hypervolume_matches_pymoo(seed):
    hv_mod = pytest.importorskip("pymoo.indicators.hv")
    rng = np.random.default_rng(seed)
    n = [1, 5, 40, 200, 500, 1000][seed]
    pts = rng.normal(size=(n, 2))
    if seed % 2:
        pts = np.round(pts, 1)  # ties in either objective
    pts[: n // 4] = pts[n // 4 : 2 * (n // 4)]  # duplicates
    ref = np.array([1.0, 0.5])  # some points outside the box, some dominated
    got = _all_backends("hypervolume_2d", pts, ref)
    want = hv_mod.HV(ref_point=ref)(pts)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_hypervolume_errors(backend):
    with pytest.raises(ValueError, match=r"hypervolume_2d: points must be \[N, 2\]"):
        backend.hypervolume_2d(np.zeros((3, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="hypervolume_2d: ref must have 2 entries"):
        backend.hypervolume_2d(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="hypervolume_2d: NaN in points or ref"):
        backend.hypervolume_2d(np.array([[0.0, np.nan]]), np.ones(2))
    with pytest.raises(ValueError, match="hypervolume_2d: NaN in points or ref"):
        backend.hypervolume_2d(np.zeros((1, 2)), np.array([np.nan, 1.0]))


# ------------------------------------------------------------------ mutate: helpers
GROUP_OF = {"ofa-mbv3": [0, 1, 2, 3, 4], "ofa-pn": [0, 1, 2, 3, 4, 4]}


def _space_args(sp, allowed=None, max_depth=None, global_allowed=None) -> dict:
    S = sp.n_stages
    C = int(sp.n_choices.max())
    if allowed is None:
        allowed = np.arange(C)[None, :] < sp.n_choices[:, None]
    if global_allowed is None:
        V = max(f.size for f in sp.global_features)
        global_allowed = np.array([[v < f.size for v in range(V)] for f in sp.global_features])
    group_of = np.zeros(S, np.int32)
    for g, stages in enumerate(sp.module_groups):
        group_of[list(stages)] = g
    assert group_of.tolist() == GROUP_OF[sp.name]
    return dict(
        min_depth=sp.min_depth, max_depth=sp.max_depth if max_depth is None else np.asarray(max_depth, np.int32),
        allowed=np.asarray(allowed, np.uint8), group_of=group_of, n_globals=sp.n_globals,
        global_allowed=np.asarray(global_allowed, np.uint8), slot_width=sp.max_depth,
    )


def _table(sp, rows_per_group, seed):
    """A reduced space's module list: ``rows_per_group[g]`` distinct random modules of every group."""
    rng = np.random.default_rng(seed)
    offsets, depths, choices = [0], [], []
    width = sp.module_width
    for g, k in zip(range(sp.n_groups), rows_per_group):
        d, c = core.enumerate_modules(*sp.group_depths(g), int(sp.n_choices[sp.module_groups[g][0]]))
        pick = rng.choice(len(d), size=k, replace=False)
        depths.append(d[pick])
        choices.append(np.pad(c[pick], ((0, 0), (0, width - c.shape[1])), constant_values=-1))
        offsets.append(offsets[-1] + k)
    return np.array(offsets, np.int64), np.concatenate(depths), np.concatenate(choices)


def _modules(sp, code) -> list[tuple]:
    """Per group: the concatenated layer choices (the module); then one entry per global."""
    S = sp.n_stages
    out = []
    for g in sp.module_groups:
        layers = []
        for s in g:
            off = S + int(sp.slot_offset[s])
            layers.extend(int(v) for v in code[off : off + int(code[s])])
        out.append(tuple(layers))
    out.extend(int(v) for v in code[S + sp.n_slots :])
    return out


def _stage_layers(sp, code, s) -> list[int]:
    off = sp.n_stages + int(sp.slot_offset[s])
    return [int(v) for v in code[off : off + int(code[s])]]


def _assert_valid(sp, children):
    np.testing.assert_array_equal(sp.canonical_codes(children), children)
    for arch in sp.decode(children):
        sp.validate(arch)
    np.testing.assert_array_equal(sp.encode(sp.decode(children)), children)


def _restricted_parents(sp, n, max_depth, allowed, seed):
    """Codes of the space whose depths <= max_depth and whose layers are allowed."""
    rng = np.random.default_rng(seed)
    S = sp.n_stages
    codes = np.full((n, sp.code_len), -1, np.int32)
    for i in range(n):
        for s in range(S):
            d = int(rng.integers(sp.min_depth[s], max_depth[s] + 1))
            codes[i, s] = d
            ok = np.flatnonzero(allowed[s])
            off = S + int(sp.slot_offset[s])
            codes[i, off : off + d] = rng.choice(ok, size=d)
        codes[i, S + sp.n_slots :] = rng.integers(0, 3, size=sp.n_globals)
    return codes


# ------------------------------------------------------------------ mutate: backends, validity
@pytest.mark.parametrize("name", ["ofa-mbv3", "ofa-pn"])
@pytest.mark.parametrize("kind", [0, 1, 2])
def test_mutate_backends_agree_and_children_are_valid(name, kind):
    sp = get_space(name)
    parents = sp.sample_codes(30, seed=kind)
    args = _space_args(sp)
    if kind == 1:
        t = _table(sp, [25] * len(sp.module_groups), seed=1)
        args.update(table_offsets=t[0], table_depths=t[1], table_choices=t[2])
    for seed in (0, 1, 2**64 - 1):
        kids = _all_backends("mutate", parents, 500, seed, kind, **args)
        assert kids.dtype == np.int32 and kids.shape == (500, sp.code_len)
        _assert_valid(sp, kids)
    again = core.mutate(parents, 500, 1, kind, **args)
    np.testing.assert_array_equal(again, _all_backends("mutate", parents, 500, 1, kind, **args))
    assert not np.array_equal(again, core.mutate(parents, 500, 2, kind, **args))
    assert core.mutate(parents, 0, 1, kind, **args).shape == (0, sp.code_len)


def test_mutate_restricted_space_backends_agree():
    # Layer-Insight style: lowered max depths, restricted choices and resolutions, non-canonical parents.
    sp = get_space("ofa-pn")
    max_depth = np.array([3, 4, 3, 4, 3, 1], np.int32)
    allowed = np.zeros((6, 9), bool)
    for s, ok in enumerate([[0, 1, 2], [0, 4, 8], [8], [1, 2, 5, 7], [0, 3], [2, 6]]):
        allowed[s, ok] = True
    parents = _restricted_parents(sp, 40, max_depth, allowed, seed=0)
    parents[parents == -1] = 0  # padding need not be canonical in parents
    ga = np.array([[0, 1, 1]])
    for kind in (0, 2):
        args = _space_args(sp, allowed=allowed, max_depth=max_depth, global_allowed=ga)
        kids = _all_backends("mutate", parents, 2000, 11, kind, **args)
        _assert_valid(sp, kids)
        assert (kids[:, :6] <= max_depth).all()


# ------------------------------------------------------------------ mutate: semantics
def _diff_targets(sp, parent, child) -> list[int]:
    a, b = _modules(sp, parent), _modules(sp, child)
    return [i for i, (x, y) in enumerate(zip(a, b)) if x != y]


@pytest.mark.parametrize("name", ["ofa-mbv3", "ofa-pn"])
def test_stage_full_changes_exactly_one_group_or_global(backend, name):
    sp = get_space(name)
    args = _space_args(sp)
    n_targets = len(sp.module_groups) + sp.n_globals
    hits = np.zeros(n_targets, int)
    for i, parent in enumerate(sp.sample_codes(6, seed=8)):
        kids = backend.mutate(parent[None], 600, i, 0, **args)
        for kid in kids:
            diff = _diff_targets(sp, parent, kid)
            assert len(diff) == 1, (parent, kid)
            hits[diff[0]] += 1
    # Every group and the resolution are targets, uniformly (3600 draws, 1/6 each for both spaces).
    assert (np.abs(hits / hits.sum() - 1 / n_targets) < 0.03).all(), hits


def test_stage_full_depth_and_choice_distribution():
    sp = get_space("ofa-pn")
    S = sp.n_stages
    allowed = np.ones((S, 9), bool)
    allowed[3] = [0, 1, 0, 0, 1, 0, 0, 1, 0]  # stage 4: choices {1, 4, 7}
    args = _space_args(sp, allowed=allowed, global_allowed=np.array([[1, 0, 0]]))  # r fixed: not a target
    parent = sp.sample_codes(1, seed=2)
    parent[0, S + sp.n_slots] = 0
    kids = core.mutate(parent, 30000, 5, 0, **args)
    groups = np.array([_diff_targets(sp, parent[0], k)[0] for k in kids])
    assert set(groups) == {0, 1, 2, 3, 4}
    assert (np.abs(np.bincount(groups) / len(kids) - 0.2) < 0.015).all()
    # Depth of the new module: uniform over [sum min, sum max]; PN 5+6 keeps stage 6 at one layer.
    for g, lo in [(0, 2), (4, 3)]:
        stages = sp.module_groups[g]
        depth = kids[groups == g][:, list(stages)].sum(axis=1)
        freq = np.bincount(depth - lo, minlength=3) / len(depth)
        assert len(freq) == 3 and (np.abs(freq - 1 / 3) < 0.03).all(), freq
    assert (kids[:, 5] == 1).all()
    # Layer choices uniform over the stage's allowed choices.
    g3 = kids[groups == 3]
    layers = np.concatenate([_stage_layers(sp, k, 3) for k in g3])
    assert set(layers.tolist()) == {1, 4, 7}
    assert (np.abs(np.bincount(layers, minlength=9)[[1, 4, 7]] / len(layers) - 1 / 3) < 0.03).all()


def test_stage_table_draws_only_table_modules(backend):
    sp = get_space("ofa-pn")
    offsets, depths, choices = _table(sp, [25, 1, 25, 3, 25], seed=3)
    args = _space_args(sp)
    args.update(table_offsets=offsets, table_depths=depths, table_choices=choices)
    table = [{tuple(int(v) for v in choices[r, : depths[r]]) for r in range(offsets[g], offsets[g + 1])}
             for g in range(5)]
    # Parents built from table modules, so that a child's module must differ from its parent's.
    rng = np.random.default_rng(0)
    parents = sp.sample_codes(8, seed=1)
    for g in range(sp.n_groups):
        rows = rng.integers(offsets[g], offsets[g + 1], size=len(parents))
        sp.place_modules(parents, g, depths[rows], choices[rows])
    parents = sp.canonical_codes(parents)
    hits = np.zeros(6, int)
    for i, parent in enumerate(parents):
        kids = backend.mutate(parent[None], 300, i, 1, **args)
        _assert_valid(sp, kids)
        for kid in kids:
            diff = _diff_targets(sp, parent, kid)
            assert len(diff) == 1
            hits[diff[0]] += 1
            mods = _modules(sp, kid)
            assert all(mods[g] in table[g] for g in range(5))
    assert hits[1] == 0  # a one-row table is not a mutation target
    assert (hits[[0, 2, 3, 4, 5]] > 0).all()
    # Every module of a group's table is drawn.
    kids = backend.mutate(parents, 3000, 9, 1, **args)
    drawn = {m for k in kids for m in [_modules(sp, k)[3]]}
    assert drawn == table[3]
    # Nothing to mutate: one-row tables and a single resolution.
    one = _table(sp, [1] * 5, seed=0)
    args.update(table_offsets=one[0], table_depths=one[1], table_choices=one[2], global_allowed=np.array([[0, 1, 0]]))
    with pytest.raises(ValueError, match="mutate: nothing to mutate"):
        backend.mutate(parents, 1, 0, 1, **args)


@pytest.mark.parametrize("name", ["ofa-mbv3", "ofa-pn"])
def test_layer_mutation_adds_removes_or_edits_one_layer(backend, name):
    sp = get_space(name)
    S = sp.n_stages
    max_depth = np.minimum(sp.max_depth, [3, 4, 3, 4, 3, 1][:S]).astype(np.int32)
    allowed = np.zeros((S, 9), bool)
    for s, ok in enumerate([[0, 1, 2], [0, 4, 8], [8], [1, 2, 5, 7], [0, 3], [2, 6]][:S]):
        allowed[s, ok] = True
    args = _space_args(sp, allowed=allowed, max_depth=max_depth)
    parents = _restricted_parents(sp, 10, max_depth, allowed, seed=1)
    ops = {"add": 0, "remove": 0, "edit": 0, "global": 0}
    for i, parent in enumerate(parents):
        kids = backend.mutate(parent[None], 400, i, 2, **args)
        _assert_valid(sp, kids)
        assert (kids[:, :S] <= max_depth).all() and (kids[:, :S] >= sp.min_depth).all()
        for kid in kids:
            gdiff = np.flatnonzero(kid[S + sp.n_slots :] != parent[S + sp.n_slots :])
            sdiff = [s for s in range(S) if _stage_layers(sp, kid, s) != _stage_layers(sp, parent, s)]
            assert len(gdiff) + len(sdiff) == 1, (parent, kid)
            if len(gdiff):
                ops["global"] += 1
                continue
            s = sdiff[0]
            a, b = _stage_layers(sp, parent, s), _stage_layers(sp, kid, s)
            if len(b) == len(a) + 1:
                ops["add"] += 1
                pos = next(j for j in range(len(b)) if j == len(a) or a[j] != b[j])
                assert b[:pos] + b[pos + 1 :] == a and allowed[s, b[pos]]
            elif len(b) == len(a) - 1:
                ops["remove"] += 1
                assert any(a[:j] + a[j + 1 :] == b for j in range(len(a)))
            else:
                assert len(a) == len(b)
                ops["edit"] += 1
                pos = [j for j in range(len(a)) if a[j] != b[j]]
                assert len(pos) == 1 and allowed[s, b[pos[0]]]
    assert all(v > 0 for v in ops.values()), ops


def test_layer_mutation_uniform_over_targets_and_operations():
    # MBv3, depth 3 everywhere (add, remove and edit all possible), r fixed: 5 stages x 3 ops = 1/15 each.
    sp = get_space("ofa-mbv3")
    S = sp.n_stages
    rng = np.random.default_rng(0)
    ks, e = [], []
    for _ in range(S):
        ks += rng.choice([3, 5, 7], 3).tolist() + [0]
        e += rng.choice([3, 4, 6], 3).tolist() + [0]
    parent = sp.encode([{"ks": ks, "e": e, "d": [3] * S, "r": 224}])
    args = _space_args(sp, global_allowed=np.array([[0, 0, 1]]))
    kids = core.mutate(parent, 15000, 3, 2, **args)
    delta = kids[:, :S] - parent[:, :S]
    stage = np.array([np.flatnonzero([_stage_layers(sp, k, s) != _stage_layers(sp, parent[0], s) for s in range(S)])[0]
                      for k in kids])
    op = delta[np.arange(len(kids)), stage]  # +1 add, -1 remove, 0 edit
    cells = np.bincount(stage * 3 + (op + 1), minlength=15) / len(kids)
    assert (np.abs(cells - 1 / 15) < 0.012).all(), cells


# ------------------------------------------------------------------ mutate: RNG and errors
def test_rng_is_splitmix64():
    nb = core.get_backend("numba")
    # Reference values of splitmix64 seeded with 0 (Vigna's splitmix64.c).
    assert [int(v) for v in nb.splitmix64(0, 2)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4]
    # One parent: the first draw picks it; kind 0, MBv3 with only the resolution mutable -> the value
    # index is the (next() % 2)-th allowed value != current.
    sp = get_space("ofa-mbv3")
    args = _space_args(sp)
    args["min_depth"] = args["max_depth"] = np.full(5, 2, np.int32)
    args["allowed"] = np.eye(1, 9, dtype=np.uint8).repeat(5, axis=0)
    parent = sp.encode([{"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 208}])
    stream = nb.splitmix64(12345, 3)
    kids = _all_backends("mutate", parent, 1, 12345, 0, **args)
    # stream[0]: the parent (of 1), stream[1]: the target (of 1), stream[2]: the value (of 2).
    assert kids[0, -1] == [0, 2][int(stream[2] % np.uint64(2))]
    kids = _all_backends("mutate", parent, 64, 12345, 0, **args)
    stream = nb.splitmix64(12345, 3 * 64)
    np.testing.assert_array_equal(kids[:, -1], np.where(stream[2::3] % np.uint64(2) == 0, 0, 2))


def _bad(sp, **patch):
    args = dict(parents=sp.sample_codes(4, seed=0), n_children=3, seed=0, kind=0, **_space_args(sp))
    args.update(patch)
    return args


def _pn():
    return get_space("ofa-pn")


def _parents_with(fn):
    p = _pn().sample_codes(4, seed=0)
    fn(p)
    return p


BAD_MUTATE = [
    (dict(kind=3), "kind must be 0 (stage-full), 1 (stage-table) or 2 (layer)"),
    (dict(n_children=-1), "n_children must be >= 0"),
    (dict(seed=-1), "seed must be in [0, 2^64)"),
    (dict(seed=2**64), "seed must be in [0, 2^64)"),
    (dict(parents=np.zeros(28, np.int32)), "parents must be 2-D"),
    (dict(min_depth=np.zeros(5, np.int32)), "min_depth and max_depth must be 1-D of equal length"),
    (dict(allowed=np.ones((5, 9), np.uint8)), "allowed must be [stages, choices]"),
    (dict(group_of=np.zeros(5, np.int32)), "group_of must have one entry per stage"),
    (dict(n_globals=2), "global_allowed must be [n_globals, values]"),
    (dict(slot_width=np.full(5, 4, np.int32)), "slot_width must have one entry per stage"),
    (dict(kind=1), "kind 1 (stage-table) needs table_offsets, table_depths and table_choices"),
    (dict(kind=1, table_offsets=np.zeros(6, np.int64), table_depths=np.zeros(2, np.int32),
          table_choices=np.zeros((3, 5), np.int32)), "table_offsets and table_depths must be 1-D"),
    (dict(slot_width=np.array([4, 4, 4, 4, 4, 2], np.int32)), "code length does not match the space layout"),
    (dict(max_depth=np.array([4, 4, 4, 4, 4, 2], np.int32), slot_width=np.array([4, 4, 4, 4, 4, 1], np.int32)),
     "stage 5: need 0 <= min_depth <= max_depth <= slot width"),
    (dict(min_depth=np.array([2, 2, 5, 2, 2, 1], np.int32)), "stage 2: need 0 <= min_depth"),
    (dict(allowed=np.ones((6, 9), np.uint8) * np.array([[1], [0], [1], [1], [1], [1]], np.uint8)),
     "stage 1 allows no layer choice"),
    (dict(global_allowed=np.zeros((1, 3), np.uint8)), "global 0 allows no value"),
    (dict(group_of=np.array([0, 1, 2, 3, 5, 5], np.int32)), "group_of must number the groups"),
    (dict(group_of=np.array([1, 1, 2, 3, 4, 4], np.int32)), "group_of must number the groups"),
    (dict(group_of=np.array([0, 1, 2, 3, 3, 3], np.int32)), "group 3 has more than one stage of variable depth"),
    (dict(parents=np.zeros((0, 28), np.int32)), "no parents to mutate"),
    (dict(parents=_parents_with(lambda p: p.__setitem__((2, 1), 5))), "parent 2: stage depth out of range"),
    (dict(parents=_parents_with(lambda p: p.__setitem__((1, 6), 9))), "parent 1: layer choice out of range"),
    (dict(parents=_parents_with(lambda p: p.__setitem__((3, -1), 3))), "parent 3: global index out of range"),
]


@pytest.mark.parametrize("patch, message", BAD_MUTATE)
def test_mutate_rejects_bad_input(patch, message):
    args = _bad(_pn(), **patch)
    with pytest.raises(ValueError, match=re.escape("mutate: " + message)):
        _all_backends("mutate", **args)


def test_mutate_rejects_bad_tables():
    sp = _pn()
    offsets, depths, choices = _table(sp, [3] * 5, seed=0)

    def check(message, o=offsets, d=depths, c=choices):
        args = _bad(sp, kind=1, table_offsets=o, table_depths=d, table_choices=c)
        with pytest.raises(ValueError, match=re.escape("mutate: " + message)):
            _all_backends("mutate", **args)

    check("table_offsets must have one entry per group plus one", o=offsets[:-1])
    check("table_offsets must rise from 0 to the number of table rows", o=offsets + 1)
    check("table_offsets must rise from 0", o=np.array([0, 3, 2, 9, 12, 15]))
    check("group 1 has an empty module table", o=np.array([0, 3, 3, 9, 12, 15]))
    d = depths.copy()
    d[13] = 6  # group 4 (PN 5+6) holds 3..5 layers
    check("table row 13: depth out of the group's range", d=d)
    d[13] = 2
    check("table row 13: depth out of the group's range", d=d)
    c = choices.copy()
    c[4, 0] = 9
    check("table row 4: layer choice out of range", c=c)


def test_mutate_layer_needs_a_possible_mutation():
    sp = get_space("ofa-mbv3")
    args = _space_args(sp, allowed=np.eye(1, 9, dtype=np.uint8).repeat(5, axis=0), global_allowed=np.array([[1, 1, 0]]))
    args["min_depth"] = args["max_depth"] = np.full(5, 2, np.int32)
    parents = sp.encode([{"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "r": 192}] * 2)
    assert (_all_backends("mutate", parents, 5, 0, 2, **args)[:, -1] == 1).all()  # only the resolution moves
    args["global_allowed"] = np.array([[1, 0, 0]])
    with pytest.raises(ValueError, match="mutate: parent 0 has no possible mutation"):
        _all_backends("mutate", parents, 5, 0, 2, **args)
    with pytest.raises(ValueError, match="mutate: nothing to mutate"):
        _all_backends("mutate", parents, 5, 0, 0, **args)
    assert _all_backends("mutate", parents, 0, 0, 2, **args).shape == (0, sp.code_len)


def test_dispatch_exports():
    for fn in ("hash_codes", "non_dominated_rank", "hypervolume_2d", "mutate"):
        assert fn in core.FUNCTIONS and fn in core.__all__
        for b in BACKENDS:
            assert callable(getattr(core.get_backend(b), fn))
    # Every registered strategy names a mutation kind of the core (one table of kinds).
    from autobuild.search.strategies import STRATEGIES, make_strategy

    sp = get_space("ofa-mbv3")
    for name in set(STRATEGIES) - {"autobuild"}:
        assert make_strategy(name, sp, device="gpu").kind in core.MUTATION_KINDS
