"""core.chain_loss_grad (the fused training loss of Eq. 4 and its gradient in one call) against
the same function written with torch ops and autograd, on both backends, on shapes the
predictors use and on ragged ones (feature counts and widths off the vector width, two heads,
more features than channels), with the parameters anywhere in a flat buffer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autobuild import core
from autobuild.core.numba import chain_param_size
from autobuild.models import softrank as sr

from test_chain_encoder import _torch_layer

BACKENDS = core.available_backends()


def _problem(f, layers, heads, hidden, d, b=23, table=17, seed=0, gap=3):
    """Random chains (2..9 nodes per graph), inputs and parameters at shuffled offsets of a flat
    buffer with gaps between them."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 10, size=b)
    n = int(sizes.sum())
    batch = np.repeat(np.arange(b), sizes).astype(np.int64)
    has_pred = np.ones(n, np.uint8)
    has_pred[np.concatenate([[0], np.cumsum(sizes)[:-1]])] = 0
    sizes_p = [chain_param_size(j, f, layers, hidden, d) for j in range(4 * layers + 4)]
    order = rng.permutation(len(sizes_p))
    offsets = np.zeros(len(sizes_p), np.int64)
    pos = gap
    for j in order:
        offsets[j] = pos
        pos += sizes_p[j] + gap
    params = rng.standard_normal(pos).astype(np.float32) * 0.3
    for m in range(layers):  # batch-norm scales near 1
        o = offsets[4 * m + 2]
        params[o : o + hidden] = 1.0 + 0.2 * rng.standard_normal(hidden)
    return dict(
        table=rng.standard_normal(table).astype(np.float32), idx=rng.integers(0, table, (n, f)).astype(np.int64),
        has_pred=has_pred, batch=batch, denom=sizes.astype(np.float32),
        y=rng.standard_normal(b).astype(np.float32), params=params, offsets=offsets, layers=layers, heads=heads,
        hidden=hidden, head_hidden=d)


def _call(backend, p, rank_weight=1.0, scale=0.03, grad=None):
    grad = np.full_like(p["params"], np.nan) if grad is None else grad
    out = core.get_backend(backend).chain_loss_grad(
        p["table"], p["idx"], p["has_pred"], p["batch"], p["denom"], p["y"], p["params"], p["offsets"], p["layers"],
        p["heads"], p["hidden"], p["head_hidden"], 0.2, 1e-5, scale, rank_weight, grad)
    return out, grad


def _reference(p, rank_weight=1.0, scale=0.03):
    """Loss, gradient of every parameter (by role) and of the table, batch statistics: torch + autograd."""
    f, layers, heads, hc, d = p["idx"].shape[1], p["layers"], p["heads"], p["hidden"], p["head_hidden"]
    ch = hc // heads
    flat = torch.tensor(p["params"])
    leaves = []
    for j, o in enumerate(p["offsets"]):
        t = flat[o : o + chain_param_size(j, f, layers, hc, d)].clone().requires_grad_(True)
        leaves.append(t)
    table = torch.tensor(p["table"], requires_grad=True)
    idx, hp = torch.tensor(p["idx"]), torch.tensor(p["has_pred"])
    batch, denom, y = torch.tensor(p["batch"]), torch.tensor(p["denom"]), torch.tensor(p["y"])
    signed = table[idx]
    h0 = signed.abs()
    h = h0 * scale + h0.detach() * (1.0 - scale)  # the FE-MLP gradient scale of predictor.embed
    hs = [h0]
    for m in range(layers):
        k = f if m == 0 else hc
        w, att, gamma, beta = leaves[4 * m].view(2 * hc, k), leaves[4 * m + 1], leaves[4 * m + 2], leaves[4 * m + 3]
        xlr = (h @ w.t()).view(-1, 2, heads, ch)
        h = _torch_layer(xlr, att.view(heads, ch), hp, gamma, beta, h if m > 0 else None)
        hs.append(h)
    node_norms = torch.stack([t.sum(1) for t in hs], dim=1)
    gn = torch.zeros(len(denom), layers + 1).index_add(0, batch, node_norms) / denom.unsqueeze(1)
    pooled = torch.zeros(len(denom), hc).index_add(0, batch, hs[-1]) / denom.unsqueeze(1)
    w1, b1, w2, b2 = leaves[4 * layers].view(d, hc), leaves[4 * layers + 1], leaves[4 * layers + 2], leaves[4 * layers + 3]
    pred = torch.relu(pooled @ w1.t() + b1) @ w2 + b2
    loss = torch.nn.functional.mse_loss(pred, y)
    if rank_weight:
        r = sr.soft_rank(gn.t(), 1.0, backend="inhouse").double()
        corr = (sr._unit_rows(r) * sr._unit_rows(y.double())).sum(-1).to(pred.dtype)
        loss = loss + rank_weight * (1.0 - corr).mean()
    loss.backward()
    return loss.item(), [t.grad.numpy() for t in leaves], table.grad.numpy()


SHAPES = [  # f, layers, heads, hidden, head_hidden
    (6, 4, 1, 32, 32),  # ofa-mbv3
    (7, 4, 1, 32, 32),  # ofa-pn
    (3, 2, 1, 20, 16),  # widths off the 8-lane vectors
    (40, 3, 2, 24, 8),  # more features than channels, two heads
    (9, 1, 1, 8, 5),
]


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("rank_weight", [1.0, 0.0])
def test_chain_loss_grad_is_autograd(backend_name, shape, rank_weight):
    p = _problem(*shape, seed=sum(shape))
    (loss, d_table, mean, var), grad = _call(backend_name, p, rank_weight)
    ref_loss, ref_grads, ref_table = _reference(p, rank_weight)
    assert loss == pytest.approx(ref_loss, rel=1e-5, abs=1e-6)
    f, layers, hc, d = shape[0], shape[1], shape[3], shape[4]
    covered = np.zeros(grad.shape, bool)
    for j, (o, want) in enumerate(zip(p["offsets"], ref_grads)):
        got = grad[o : o + chain_param_size(j, f, layers, hc, d)]
        covered[o : o + got.size] = True
        # float rounding, and ReLU masks that flip on it (then by that element's share)
        assert np.linalg.norm(got - want) <= 2e-3 * np.linalg.norm(want) + 1e-6, (j, backend_name)
    assert np.isnan(grad[~covered]).all()  # nothing else of grad is written
    assert np.linalg.norm(d_table - ref_table) <= 2e-3 * np.linalg.norm(ref_table) + 1e-7
    assert mean.shape == var.shape == (layers, hc) and np.all(var >= 0)


def test_chain_loss_grad_backends_agree():
    if len(BACKENDS) < 2:
        pytest.skip("one backend")
    for shape in SHAPES:
        p = _problem(*shape, seed=7)
        outs = [_call(b, p) for b in BACKENDS]
        (l0, t0, m0, v0), g0 = outs[0]
        for (l1, t1, m1, v1), g1 in outs[1:]:
            assert l1 == pytest.approx(l0, rel=1e-5)
            np.testing.assert_allclose(m1, m0, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(v1, v0, rtol=1e-4, atol=1e-6)
            fin = ~np.isnan(g0)
            assert np.array_equal(fin, ~np.isnan(g1))
            assert np.linalg.norm(g1[fin] - g0[fin]) <= 2e-3 * np.linalg.norm(g0[fin])
            assert np.linalg.norm(t1 - t0) <= 2e-3 * np.linalg.norm(t0) + 1e-7


def _patched(p, **changes):
    q = dict(p)
    q.update(changes)
    return q


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("patch, message", [
    (lambda p: _patched(p, idx=p["idx"][:1]), "at least 2 nodes"),
    (lambda p: _patched(p, batch=p["batch"][:-1]), "one entry per node"),
    (lambda p: _patched(p, has_pred=np.ones_like(p["has_pred"])), "node 0"),
    (lambda p: _patched(p, y=p["y"][:-1]), "denom and y"),
    (lambda p: _patched(p, hidden=31), "multiple of heads|wrong size|outside"),
    (lambda p: _patched(p, offsets=p["offsets"][:-1]), "offsets must be"),
    (lambda p: _patched(p, offsets=np.zeros_like(p["offsets"])), "overlap"),
    (lambda p: _patched(p, offsets=p["offsets"] + len(p["params"])), "outside params"),
    (lambda p: _patched(p, idx=p["idx"] + len(p["table"])), "table's range"),
    (lambda p: _patched(p, batch=p["batch"] + 1), r"\[0, B\)"),
    (lambda p: _patched(p, denom=p["denom"] * 0), "denom must be >= 1"),
    (lambda p: _patched(p, has_pred=np.r_[0, np.ones(len(p["has_pred"]) - 1, np.uint8)]), "another graph"),
    (lambda p: _patched(p, offsets=np.r_[p["offsets"][:-1], np.iinfo(np.int64).max - 3]), "outside params"),
    (lambda p: _patched(p, layers=2 ** 62 + 1), "too small"),
    (lambda p: _patched(p, hidden=2 ** 40, heads=1), "too small"),
])
def test_chain_loss_grad_rejects_bad_inputs(backend_name, patch, message):
    p = patch(_problem(6, 2, 2, 16, 8))
    with pytest.raises(ValueError, match=message):
        _call(backend_name, p)


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_chain_loss_grad_rejects_bad_grad_buffers(backend_name):
    p = _problem(6, 2, 1, 16, 8)
    n = len(p["params"])
    shared = np.zeros(n + len(p["table"]), np.float32)  # the table's first values are grad's last
    with_table_inside = _patched(p, table=shared[n - 2 : n - 2 + len(p["table"])])
    for q, grad, message in [(p, np.zeros(3, np.float32), "size of params"),
                             (p, np.zeros(n, np.float64), "float32"),
                             (p, torch.zeros(n), "float32 array"),  # not a NumPy array: never written
                             (p, p["params"], "share memory"),
                             (with_table_inside, shared[:n], "share memory")]:
        with pytest.raises(ValueError, match=message):
            _call(backend_name, q, grad=grad)


def test_fused_step_falls_back_where_a_parameter_is_not_in_the_buffer():
    """A frozen parameter (left out of the optimiser's buffer): the fused step declines, so that the
    loop takes autograd's gradient instead of failing."""
    from autobuild.models.flat_adamw import FlatAdamW
    from autobuild.models.gatv2_network import GATv2Network
    from autobuild.spaces import get_space

    sp = get_space("ofa-mbv3")
    g = sp.graphs(sp.sample_codes(32, seed=3)).torch()
    y = torch.randn(32)
    m = GATv2Network(sp.feature_categories).train()
    opt = FlatAdamW(m, 1e-3, 0.0)
    assert m.fused_loss_grad(*g, y, 1.0, opt.params, opt.grad) is not None
    frozen = GATv2Network(sp.feature_categories).train()
    frozen.head[2].bias.requires_grad_(False)
    opt = FlatAdamW(frozen, 1e-3, 0.0)
    assert frozen.fused_loss_grad(*g, y, 1.0, opt.params, opt.grad) is None
