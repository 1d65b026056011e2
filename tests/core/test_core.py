"""The C++ core and its Numba fallback: same signatures, identical outputs, same errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from autobuild import core
from autobuild.spaces import get_space, space_from_dict

BACKENDS = core.available_backends()


def test_both_backends_present():
    # A built checkout has both; CI builds the wheel, so a missing C++ core is a failure there.
    assert "numba" in BACKENDS
    assert "cpp" in BACKENDS, "C++ core autobuild._core is not built"


@pytest.fixture(params=BACKENDS)
def backend(request):
    return core.get_backend(request.param)


@pytest.mark.parametrize("lo, hi, n", [(2, 4, 9), (3, 5, 9), (0, 2, 3), (1, 1, 1), (1, 3, 4)])
def test_enumerate_modules_against_itertools(backend, lo, hi, n):
    depths, choices = backend.enumerate_modules(lo, hi, n)
    expected = [seq for d in range(lo, hi + 1) for seq in itertools.product(range(n), repeat=d)]
    assert len(depths) == len(expected) == sum(n**d for d in range(lo, hi + 1))
    assert depths.dtype == np.int32 and choices.dtype == np.int32 and choices.shape == (len(expected), hi)
    got = [tuple(int(v) for v in row[:d]) for row, d in zip(choices, depths)]
    assert got == expected
    pad = np.arange(hi)[None, :] >= depths[:, None]
    assert (choices[pad] == -1).all()


def test_enumerate_sizes_of_paper():
    # Sec. 7.2: 7,371 modules per MBv3 stage, 66,339 for PN's merged stages 5+6.
    for b in BACKENDS:
        m = core.get_backend(b)
        assert len(m.enumerate_modules(2, 4, 9)[0]) == 7371
        assert len(m.enumerate_modules(3, 5, 9)[0]) == 66339


@pytest.mark.parametrize("args", [(3, 2, 9), (-1, 2, 9), (1, 2, 0)])
def test_enumerate_rejects_bad_bounds(backend, args):
    with pytest.raises(ValueError, match="enumerate_modules"):
        backend.enumerate_modules(*args)


def _encode(backend, space, codes):
    return backend.encode_batch(codes, space.max_depth, space.n_choices, space.choice_features, space.n_globals)


@pytest.mark.parametrize("name", ["ofa-mbv3", "ofa-pn"])
def test_backends_agree_on_encoding(name):
    sp = get_space(name)
    codes = sp.sample_codes(2000, seed=5)
    outs = [_encode(core.get_backend(b), sp, codes) for b in BACKENDS]
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            assert a.dtype == b.dtype == np.int64
            np.testing.assert_array_equal(a, b)


def test_encoding_matches_sequence_graph(backend):
    sp = get_space("ofa-pn")
    archs = sp.sample(40, seed=9)
    x, ei, batch, ptr = _encode(backend, sp, sp.encode(archs))
    cats = sp.feature_categories
    assert x.shape[1] == len(cats)
    for b, a in enumerate(archs):
        g = sp.to_graph(a)
        lo, hi = ptr[b], ptr[b + 1]
        assert hi - lo == len(g["nodes"])
        assert (batch[lo:hi] == b).all()
        for row, node in zip(x[lo:hi], g["nodes"]):
            assert {c.name: c.values[i] for c, i in zip(cats, row)} == node
        mine = ei[:, (ei[0] >= lo) & (ei[0] < hi)] - lo
        assert [tuple(e) for e in mine.T.tolist()] == g["edges"]


def test_encoding_empty_stages_and_batches(backend):
    sp = space_from_dict({
        "name": "gaps", "layer_features": [{"name": "k", "values": [1, 2]}],
        "stages": [{"min_depth": 0, "max_depth": 2}, {"min_depth": 0, "max_depth": 1}],
    })
    codes = sp.encode([{"k": [0, 0, 0], "d": [0, 0]}, {"k": [2, 1, 2], "d": [2, 1]}, {"k": [0, 0, 1], "d": [0, 1]}])
    x, ei, batch, ptr = _encode(backend, sp, codes)
    assert ptr.tolist() == [0, 0, 3, 4]
    assert ei.T.tolist() == [[0, 1], [1, 2]]
    assert batch.tolist() == [1, 1, 1, 2]
    x0, ei0, b0, p0 = _encode(backend, sp, codes[:0])
    assert x0.shape == (0, x.shape[1]) and ei0.shape == (2, 0) and p0.tolist() == [0]


@pytest.mark.parametrize("patch, message", [
    (lambda c: c.__setitem__((0, 0), 7), "stage depth out of range"),
    (lambda c: c.__setitem__((1, 5), 9), "layer choice out of range"),
    (lambda c: c.__setitem__((1, -1), -1), "negative global index"),
])
def test_encoding_rejects_bad_codes(backend, patch, message):
    sp = get_space("ofa-mbv3")
    codes = sp.sample_codes(3, seed=0)
    codes[1, 0] = 2
    patch(codes)
    with pytest.raises(ValueError, match=message):
        _encode(backend, sp, codes)
    with pytest.raises(ValueError, match="code length"):
        _encode(backend, sp, codes[:, :-1])


def test_forced_backend(monkeypatch):
    for b in BACKENDS:
        monkeypatch.setenv("AUTOBUILD_BACKEND", b)
        assert core.backend_name() == b
        sp = get_space("ofa-mbv3")
        g = sp.graphs(sp.sample_codes(10, seed=1))
        assert g.num_graphs == 10
    monkeypatch.setenv("AUTOBUILD_BACKEND", "fortran")
    from autobuild import AutobuildError

    with pytest.raises(AutobuildError, match="unknown core backend 'fortran'"):
        core.backend_name()


def test_calibrate_scores_matches_eq5(backend):
    rng = np.random.default_rng(0)
    n, H, C = 500, 5, 7
    norms = rng.normal(10, 3, n)
    hops = rng.integers(-1, H, n).astype(np.int32)
    cells = rng.integers(0, C, n).astype(np.int32)
    hm, hs = rng.normal(5, 1, H), rng.uniform(0.5, 2, H)
    cm, cs = rng.normal(77, 1, C), rng.uniform(0.1, 1, C)
    got = backend.calibrate_scores(norms, hops, cells, hm, hs, cm, cs)
    h = np.clip(hops, 0, None)
    want = np.where(hops < 0, cm[cells], (norms - hm[h]) * cs[cells] / hs[h] + cm[cells])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(ValueError, match="cell index out of range"):
        backend.calibrate_scores(norms[:1], hops[:1], np.array([C], np.int32), hm, hs, cm, cs)
    with pytest.raises(ValueError, match="hop index out of range"):
        backend.calibrate_scores(norms[:1], np.array([H], np.int32), cells[:1], hm, hs, cm, cs)
    with pytest.raises(ValueError, match="hop std must be > 0"):
        backend.calibrate_scores(norms, hops, cells, hm, np.zeros(H), cm, cs)


def test_backends_agree_on_calibration():
    rng = np.random.default_rng(1)
    args = (rng.normal(size=1000), rng.integers(0, 4, 1000).astype(np.int32), rng.integers(0, 3, 1000).astype(np.int32),
            rng.normal(size=4), rng.uniform(1, 2, 4), rng.normal(size=3), rng.uniform(1, 2, 3))
    outs = [core.get_backend(b).calibrate_scores(*args) for b in BACKENDS]
    for o in outs[1:]:
        np.testing.assert_array_equal(outs[0], o)


def _chain_inputs(n=300, heads=2, ch=8, seed=1):
    rng = np.random.default_rng(seed)
    xl, xr = (rng.standard_normal((n, heads, ch), dtype=np.float32) for _ in range(2))
    att = rng.standard_normal((heads, ch), dtype=np.float32)
    has_pred = (rng.random(n) < 0.85).astype(np.uint8)
    has_pred[0] = 0
    return xl, xr, att, has_pred


def test_gat_chain_matches_its_definition(backend):
    """Forward against the contract written out in numpy (autobuild.core docstring)."""
    xl, xr, att, hp = _chain_inputs()
    out, a_prev, a_self = backend.gat_chain_forward(xl, xr, att, hp, 0.2)
    lrelu = lambda u: np.where(u > 0, u, 0.2 * u)  # noqa: E731
    e_s = (att * lrelu(xl + xr)).sum(-1)
    prev = np.concatenate([np.zeros_like(xl[:1]), xl[:-1]])
    e_p = np.where(hp[:, None] == 1, (att * lrelu(prev + xr)).sum(-1), -np.inf)
    top = np.maximum(e_s, e_p)
    w_s, w_p = np.exp(e_s - top), np.exp(e_p - top)
    np.testing.assert_allclose(a_self, w_s / (w_s + w_p), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(a_prev, w_p / (w_s + w_p), rtol=1e-5, atol=1e-6)
    assert np.all(a_prev[hp == 0] == 0)
    np.testing.assert_allclose(out, a_prev[..., None] * prev + a_self[..., None] * xl, rtol=1e-5, atol=1e-5)


def test_backends_agree_on_gat_chain():
    xl, xr, att, hp = _chain_inputs(seed=2)
    g = np.random.default_rng(3).standard_normal(xl.shape, dtype=np.float32)
    fwd = [core.get_backend(b).gat_chain_forward(xl, xr, att, hp, 0.2) for b in BACKENDS]
    bwd = [core.get_backend(b).gat_chain_backward(g, xl, xr, att, hp, 0.2, *fwd[0][1:]) for b in BACKENDS]
    for f, b in zip(fwd[1:], bwd[1:]):  # float32, summation order differs: rounding only
        for x, y in zip(f + b, fwd[0] + bwd[0]):
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("patch, message", [
    (lambda a: (a[0][:, :1], *a[1:]), "equal shape"),
    (lambda a: (a[0], a[1], a[2][:1], a[3]), "att must be"),
    (lambda a: (a[0], a[1], a[2], a[3][:5]), "has_pred must be"),
    (lambda a: (a[0], a[1], a[2], np.ones_like(a[3])), "node 0"),
])
def test_gat_chain_rejects_bad_inputs(backend, patch, message):
    with pytest.raises(ValueError, match=message):
        backend.gat_chain_forward(*patch(_chain_inputs(n=20)), 0.2)
