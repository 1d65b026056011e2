"""The fused training path on chains (models/chain_encoder.py, core gat_chain_bn_*) computes what
the module-by-module path computes."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from autobuild import core
from autobuild.models import gatv2_network as predictor
from autobuild.models.gatv2_network import GATv2Network
from autobuild.models.trainer import TrainConfig, train_predictor
from autobuild.spaces import get_space

BACKENDS = core.available_backends()


def _step(m: GATv2Network, g: tuple, w: torch.Tensor) -> tuple:
    m.zero_grad()
    pred, norms = m.forward_train(*g)
    ((pred * w).sum() + (norms * torch.arange(1.0, norms.shape[0] + 1).unsqueeze(1)).sum()).backward()
    return pred.detach(), norms.detach(), {k: p.grad.clone() for k, p in m.named_parameters()}


@pytest.mark.parametrize("name, scale, layers", [("ofa-mbv3", 0.03, 4), ("ofa-pn", 1.0, 4), ("ofa-mbv3", 0.5, 2)])
def test_encoder_is_the_module_path(name, scale, layers, monkeypatch):
    """Prediction, graph norms of every hop, every parameter's gradient and the batch norms'
    running statistics: the fused encoder (each backend) against the PyG-equal edge path.
    Forward values agree to 1e-5; gradients to float rounding except where a ReLU input within
    rounding of 0 flips its mask (then by that element's share: relative errors up to a few 1e-3
    on the Numba twin, whose sums run in another order; 2e-5 on C++ for these batches)."""
    sp = get_space(name)
    g = sp.graphs(sp.sample_codes(128, seed=5)).torch()
    torch.manual_seed(0)
    ref_model = GATv2Network(sp.feature_categories, layers=layers, fe_grad_scale=scale).train()
    w = torch.randn(128)
    fused_models = {b: copy.deepcopy(ref_model) for b in BACKENDS}
    links = predictor.chain_links
    monkeypatch.setattr(predictor, "chain_links", lambda ei, n: None)  # edge path everywhere
    ref = _step(ref_model, g, w)
    monkeypatch.setattr(predictor, "chain_links", links)
    for b, m in fused_models.items():
        monkeypatch.setenv("AUTOBUILD_BACKEND", b)
        calls = []
        orig = core.kernel
        monkeypatch.setattr(core, "kernel", lambda fn: calls.append(fn) or orig(fn))
        pred, norms, grads = _step(m, g, w)
        monkeypatch.setattr(core, "kernel", orig)
        assert "gat_chain_bn_forward" in calls and "gat_chain_bn_backward" in calls, b  # the fused path ran
        torch.testing.assert_close(pred, ref[0], rtol=1e-5, atol=1e-5, msg=b)
        torch.testing.assert_close(norms, ref[1], rtol=1e-5, atol=1e-4, msg=b)
        for k, v in grads.items():
            want = ref[2][k]
            assert (v - want).norm().item() <= 1e-2 * want.norm().item() + 1e-6, (b, k)
        for (k, x), (_, y) in zip(m.named_buffers(), ref_model.named_buffers()):
            torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6, msg=f"{b} {k}")


def test_encoder_only_where_it_applies(monkeypatch):
    """Evaluation, no-grad forwards, DAGs and unfused configurations take the module path."""
    sp = get_space("ofa-mbv3")
    g = sp.graphs(sp.sample_codes(16, seed=1)).torch()
    calls = []
    orig = predictor.encode_chains
    monkeypatch.setattr(predictor, "encode_chains", lambda *a: calls.append(1) or orig(*a))
    m = GATv2Network(sp.feature_categories).train()
    m.forward_train(*g)
    assert calls == [1]
    with torch.no_grad():
        m.forward_train(*g)
    m.eval()
    m.forward_train(*g)
    GATv2Network(sp.feature_categories, norm="none").train().forward_train(*g)
    x, ei, batch, counts = g
    dag = torch.cat([ei, torch.tensor([[0], [2]])], dim=1)
    GATv2Network(sp.feature_categories).train().forward_train(x, dag, batch, counts)
    assert calls == [1]


def test_training_matches_the_module_path(monkeypatch):
    """A short run on either path ends at the same model (up to float rounding, grown over steps)."""
    sp = get_space("ofa-mbv3")
    codes = sp.sample_codes(300, seed=2)
    y = np.random.default_rng(0).random(300) + (codes[:, :5] >= 0).sum(1)
    cfg = TrainConfig(epochs=3, seed=1)
    fused = train_predictor(sp, codes, y, cfg)
    monkeypatch.setattr(predictor, "fusable", lambda *a: False)
    plain = train_predictor(sp, codes, y, cfg)
    from autobuild.models.fitting import run_model

    pa, pb = (run_model(r.model, sp, codes)[0] for r in (fused, plain))
    assert np.abs(pa - pb).max() <= 1e-3 * y.std()  # measured: 2e-4
    np.testing.assert_allclose(fused.report["loss_history"], plain.report["loss_history"], rtol=1e-4)


def _layer_inputs(n=257, heads=1, ch=8, seed=0, residual=True):
    rng = np.random.default_rng(seed)
    xlr = rng.standard_normal((n, 2, heads, ch), dtype=np.float32)
    att = rng.standard_normal((heads, ch), dtype=np.float32)
    hp = (rng.random(n) < 0.9).astype(np.uint8)
    hp[0] = 0
    gamma = (rng.random(heads * ch) + 0.5).astype(np.float32)
    beta = rng.standard_normal(heads * ch, dtype=np.float32)
    res = rng.standard_normal((n, heads * ch), dtype=np.float32) if residual else None
    return xlr, att, hp, gamma, beta, res


def _torch_layer(xlr, att, hp, gamma, beta, res, eps=1e-5):
    """The layer written with torch ops (autograd gives the reference VJP)."""
    xl, xr = xlr[:, 0], xlr[:, 1]
    prev = torch.cat([torch.zeros_like(xl[:1]), xl[:-1]])
    lrelu = torch.nn.functional.leaky_relu
    e_s = (lrelu(xl + xr, 0.2) * att).sum(-1)
    e_p = torch.where(hp.bool().unsqueeze(1), (lrelu(prev + xr, 0.2) * att).sum(-1), torch.tensor(float("-inf")))
    a = torch.softmax(torch.stack([e_p, e_s]), 0)
    out = (a[0].unsqueeze(-1) * prev + a[1].unsqueeze(-1) * xl).reshape(xlr.shape[0], -1)
    y = torch.relu(torch.nn.functional.batch_norm(out, None, None, gamma, beta, training=True, eps=eps))
    return y + res if res is not None else y


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("heads, residual", [(1, True), (2, False)])
def test_gat_chain_bn_matches_torch(backend_name, heads, residual):
    be = core.get_backend(backend_name)
    xlr, att, hp, gamma, beta, res = _layer_inputs(heads=heads, residual=residual)
    out, a_prev, a_self, xhat, mean, invstd, var = be.gat_chain_bn_forward(xlr, att, hp, 0.2, gamma, beta, 1e-5, res)
    ts = [torch.tensor(a, requires_grad=True) for a in (xlr, att, gamma, beta)]
    tres = torch.tensor(res) if res is not None else None
    ref = _torch_layer(ts[0], ts[1], torch.tensor(hp), ts[2], ts[3], tres)
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    attn = torch.tensor(xhat) / torch.tensor(invstd) + torch.tensor(mean)  # undo the normalisation
    np.testing.assert_allclose(var * (len(xlr) - 1) / len(xlr), attn.var(0, unbiased=False).numpy(), rtol=1e-4)
    g = np.random.default_rng(9).standard_normal(out.shape, dtype=np.float32)
    ref.backward(torch.tensor(g))
    got = be.gat_chain_bn_backward(g, xlr, att, hp, 0.2, a_prev, a_self, xhat, invstd, gamma, beta)
    for x, t in zip(got, ts):
        want = t.grad.numpy()
        np.testing.assert_allclose(x, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


def test_backends_agree_on_gat_chain_bn():
    if len(BACKENDS) < 2:
        pytest.skip("one backend")
    args = _layer_inputs(n=600, ch=32, seed=3)
    fwd = [core.get_backend(b).gat_chain_bn_forward(*args[:3], 0.2, *args[3:5], 1e-5, args[5]) for b in BACKENDS]
    g = np.random.default_rng(4).standard_normal(fwd[0][0].shape, dtype=np.float32)
    f0 = fwd[0]
    bwd = [core.get_backend(b).gat_chain_bn_backward(g, args[0], args[1], args[2], 0.2, f0[1], f0[2], f0[3], f0[5],
                                                     args[3], args[4]) for b in BACKENDS]
    for f, b in zip(fwd[1:], bwd[1:]):
        for x, y in zip(f + b, fwd[0] + bwd[0]):
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("patch, message", [
    (lambda a: (a[0][:, :1], *a[1:]), "xlr must be"),
    (lambda a: (a[0], a[1][:, :1], *a[2:]), "att must be"),
    (lambda a: (a[0], a[1], a[2][:5], *a[3:]), "has_pred must be"),
    (lambda a: (a[0], a[1], np.ones_like(a[2]), *a[3:]), "node 0"),
    (lambda a: (a[0], a[1], a[2], a[3][:3], *a[4:]), "gamma must be"),
    (lambda a: (*a[:5], a[5][:7]), "residual must be"),
    (lambda a: (a[0][:1], a[1], a[2][:1], *a[3:5], None), "at least 2 nodes"),
])
def test_gat_chain_bn_rejects_bad_inputs(backend_name, patch, message):
    xlr, att, hp, gamma, beta, res = patch(_layer_inputs(n=20))
    with pytest.raises(ValueError, match=message):
        core.get_backend(backend_name).gat_chain_bn_forward(xlr, att, hp, 0.2, gamma, beta, 1e-5, res)


def _composed_loss(m: GATv2Network, g: tuple, y: torch.Tensor, rank_weight: float) -> torch.Tensor:
    """Eq. 4 composed of autograd ops (the soft ranks of the in-house backend, unit rows)."""
    from autobuild.models import softrank as sr

    pred, norms = m.forward_train(*g)
    r = sr.soft_rank(norms, 1.0, backend="inhouse").double()
    corr = (sr._unit_rows(r) * sr._unit_rows(y.double())).sum(-1).to(pred.dtype)
    return torch.nn.functional.mse_loss(pred, y) + rank_weight * (1.0 - corr).mean()


@pytest.mark.parametrize("name, rank_weight", [("ofa-mbv3", 1.0), ("ofa-pn", 0.5), ("ofa-mbv3", 0.0)])
def test_fused_loss_is_the_composed_loss(name, rank_weight, monkeypatch):
    """predictor.fused_loss (FE-MLP gather, hops, head, MSE and the hop term in one node) against
    the composed path: loss, every parameter's gradient (FE-MLP and head included) and the running
    statistics, on each backend."""
    sp = get_space(name)
    g = sp.graphs(sp.sample_codes(128, seed=7)).torch()
    y = torch.randn(128)
    torch.manual_seed(1)
    ref_model = GATv2Network(sp.feature_categories).train()
    models = {b: copy.deepcopy(ref_model) for b in BACKENDS}
    ref_loss = _composed_loss(ref_model, g, y, rank_weight)
    ref_loss.backward()
    for b, m in models.items():
        monkeypatch.setenv("AUTOBUILD_BACKEND", b)
        loss = m.fused_loss(*g, y, rank_weight)
        assert loss is not None and loss.shape == ()
        (loss * 1.7).backward()  # the upstream gradient scales every parameter's
        torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-6, msg=b)
        for (k, p), (_, q) in zip(m.named_parameters(), ref_model.named_parameters()):
            want = 1.7 * q.grad
            assert p.grad is not None and (p.grad - want).norm().item() <= 1e-2 * want.norm().item() + 1e-6, (b, k)
        for (k, u), (_, v) in zip(m.named_buffers(), ref_model.named_buffers()):
            torch.testing.assert_close(u, v, rtol=1e-5, atol=1e-6, msg=f"{b} {k}")
    with torch.no_grad():
        assert ref_model.fused_loss(*g, y, 1.0) is None  # no grad: the composed path
    assert ref_model.eval().fused_loss(*g, y, 1.0) is None
