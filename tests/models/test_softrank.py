"""Soft ranks (Blondel et al. 2020) and the differentiable SRCC of the hop loss (paper Eq. 4):
brute-force references, gradcheck, parity with torchsort when it is installed, scipy's SRCC."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy import optimize, stats

from autobuild import AutobuildError
from autobuild.models import softrank as sr


def _rows_with_ties(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Random rows where about a third of the entries repeat another entry of the same row."""
    x = rng.standard_normal(shape)
    for row in x:
        idx = rng.choice(shape[1], size=(shape[1] // 3, 2))
        row[idx[:, 0]] = row[idx[:, 1]]
    return x


# ---------------------------------------------------------------- brute-force references


def _isotonic_minmax(y: np.ndarray) -> np.ndarray:
    """Non-increasing L2 isotonic fit by the min-max formula ``min_{j<=i} max_{k>=i} mean(y[j..k])``."""
    n = len(y)
    return np.array([min(max(y[j : k + 1].mean() for k in range(i, n)) for j in range(i + 1)) for i in range(n)])


def _permutahedron_projection(theta: np.ndarray) -> np.ndarray:
    """Euclidean projection of ``theta`` onto the permutahedron of ``(n, ..., 1)`` by SLSQP over all
    ``2^n - 2`` subset constraints ``sum_S r <= n + (n-1) + ... (|S| terms)`` (the soft rank's definition)."""
    n = len(theta)
    cap = np.cumsum(np.arange(n, 0, -1, dtype=np.float64))
    subsets = [s for k in range(1, n) for s in itertools.combinations(range(n), k)]
    a = np.array([np.isin(np.arange(n), s) for s in subsets], dtype=np.float64)
    b = cap[a.sum(1).astype(int) - 1]
    cons = [
        {"type": "ineq", "fun": lambda r: b - a @ r, "jac": lambda r: -a},
        {"type": "eq", "fun": lambda r: np.array([r.sum() - cap[-1]]), "jac": lambda r: np.ones((1, n))},
    ]
    res = optimize.minimize(
        lambda r: 0.5 * np.sum((r - theta) ** 2),
        np.full(n, (n + 1) / 2.0),
        jac=lambda r: r - theta,
        constraints=cons,
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 500},
    )
    assert res.success, res.message
    return res.x


@pytest.mark.parametrize("kernels", ["numba", "python"])
def test_isotonic_kernel_matches_minmax_formula(kernels):
    iso = sr._isotonic_l2 if kernels == "numba" else sr._isotonic_l2_py
    rng = np.random.default_rng(0)
    y = np.vstack([rng.standard_normal((6, 12)), np.round(rng.standard_normal((4, 12)), 1), np.arange(12.0)[None]])
    sol = iso(np.ascontiguousarray(y))
    for row, got in zip(y, sol):
        np.testing.assert_allclose(got, _isotonic_minmax(row), atol=1e-12)
        assert np.all(np.diff(got) <= 1e-12)


def test_python_fallback_kernels_match_jitted():
    rng = np.random.default_rng(1)
    y = np.ascontiguousarray(_rows_with_ties(rng, (5, 40)))
    g = rng.standard_normal((5, 40))
    sol = sr._isotonic_l2(y)
    np.testing.assert_array_equal(sr._isotonic_l2_py(y), sol)
    np.testing.assert_array_equal(sr._block_mean_py(sol, g), sr._block_mean(sol, g))


@pytest.mark.parametrize("eps", [0.3, 1.0, 3.0])
def test_forward_matches_permutahedron_projection(eps):
    x = torch.from_numpy(np.random.default_rng(2).standard_normal((3, 5)))
    got = sr.soft_rank(x, eps, backend="inhouse").numpy()
    for row, r in zip(x.numpy(), got):
        np.testing.assert_allclose(r, _permutahedron_projection(row / eps), atol=1e-6)


def test_tiny_eps_gives_exact_average_ranks():
    rng = np.random.default_rng(3)
    x = np.vstack([rng.standard_normal((3, 20)), _rows_with_ties(rng, (3, 20))])
    got = sr.soft_rank(torch.from_numpy(x), 1e-6, backend="inhouse").numpy()
    np.testing.assert_allclose(got, stats.rankdata(x, axis=1), atol=1e-9)


def test_large_eps_flattens_towards_mean_rank():
    x = torch.randn(2, 16, dtype=torch.float64)
    r = sr.soft_rank(x, 1e6, backend="inhouse")
    torch.testing.assert_close(r, torch.full_like(r, 8.5), atol=1e-4, rtol=0)
    torch.testing.assert_close(r.sum(1), torch.full((2,), 136.0, dtype=torch.float64))


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("eps", [0.1, 0.5, 2.0])
def test_gradcheck(eps):
    x = torch.randn(3, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(4), requires_grad=True)
    rank = lambda v: sr.soft_rank(v, eps, backend="inhouse")  # noqa: E731
    assert torch.autograd.gradcheck(rank, (x,))
    assert torch.autograd.gradcheck(rank, (x[0].detach().requires_grad_(),))  # 1-D
    y = torch.randn(9, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda v: sr.spearman(v, y, eps, backend="inhouse"), (x,))


def test_dtype_and_device_kept():
    x = torch.randn(2, 10, requires_grad=True)
    r = sr.soft_rank(x, 0.5, backend="inhouse")
    assert r.dtype == torch.float32 and r.shape == x.shape
    r.pow(2).sum().backward()
    assert x.grad.dtype == torch.float32 and torch.isfinite(x.grad).all()


# ---------------------------------------------------------------- parity with torchsort


@pytest.mark.parametrize("eps", [0.01, 0.1, 1.0, 10.0])
@pytest.mark.parametrize("ties", [False, True])
def test_matches_torchsort(eps, ties):
    torchsort = pytest.importorskip("torchsort")
    rng = np.random.default_rng(int(eps * 100) + ties)
    x = _rows_with_ties(rng, (6, 128)) if ties else rng.standard_normal((6, 128))
    x = torch.from_numpy(x).requires_grad_()
    g = torch.from_numpy(rng.standard_normal((6, 128)))
    ours = sr.soft_rank(x, eps, backend="inhouse")
    ref = torchsort.soft_rank(x, regularization="l2", regularization_strength=eps)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)
    (g_ours,) = torch.autograd.grad(ours, x, g)
    (g_ref,) = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(g_ours, g_ref, atol=1e-5, rtol=0)
    # The public backends agree too, float32 included (torchsort's float32 arithmetic is looser).
    x32 = x.detach().float().requires_grad_()
    a, b = (sr.soft_rank(x32, eps, backend=k) for k in ("inhouse", "torchsort"))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    (ga,), (gb,) = (torch.autograd.grad(r, x32, g.float()) for r in (a, b))
    torch.testing.assert_close(ga, gb, atol=1e-5 / eps, rtol=1e-5)
    y = torch.from_numpy(rng.standard_normal(128))
    torch.testing.assert_close(
        sr.spearman(x.detach(), y, eps, backend="inhouse"), sr.spearman(x.detach(), y, eps, backend="torchsort")
    )


# ---------------------------------------------------------------- spearman


def test_spearman_tiny_eps_equals_scipy():
    rng = np.random.default_rng(5)
    pred = np.vstack([rng.standard_normal((3, 50)), _rows_with_ties(rng, (2, 50))])
    target = np.round(rng.standard_normal(50), 1)  # with ties
    got = sr.spearman(torch.from_numpy(pred).float(), torch.from_numpy(target).float(), 1e-6)
    assert got.shape == (5,) and got.dtype == torch.float32
    want = [stats.spearmanr(p, target.astype(np.float32)).statistic for p in pred.astype(np.float32)]
    np.testing.assert_allclose(got.numpy(), want, atol=1e-6)
    one = sr.spearman(torch.from_numpy(pred[0]), torch.from_numpy(target), 1e-6)
    assert one.dim() == 0
    assert one.item() == pytest.approx(stats.spearmanr(pred[0], target).statistic, abs=1e-9)


def test_spearman_loss_as_in_trainer():
    """``(1 - spearman(n, y)).mean()`` on standardised float32 norms [H, B] backpropagates; a
    constant hop (all norms equal) gives SRCC 0 and a zero gradient rather than NaN."""
    torch.manual_seed(6)
    n = torch.randn(4, 64, requires_grad=True)
    y = torch.randn(64)
    z = torch.cat([n[:3], n[3:].detach() * 0 + 1.5])
    z = (z - z.mean(1, keepdim=True)) / (z.std(1, keepdim=True) + 1e-8)
    srcc = sr.spearman(z, y, regularization_strength=0.1)
    assert srcc[3].item() == 0.0 and (srcc[:3].abs() < 1).all()
    loss = (1.0 - srcc).mean()
    loss.backward()
    assert torch.isfinite(n.grad).all() and n.grad[:3].abs().sum() > 0 and n.grad[3].abs().sum() == 0
    # Perfectly ordered predictions drive the loss towards 0 as eps shrinks.
    assert sr.spearman(y[None] * 3, y, 1e-3).item() == pytest.approx(1.0, abs=1e-9)


# ---------------------------------------------------------------- API


def test_one_dimensional_input():
    x = torch.tensor([0.3, -1.0, 2.0, 0.5], dtype=torch.float64, requires_grad=True)
    r = sr.soft_rank(x, 1e-6)
    assert r.shape == (4,)
    torch.testing.assert_close(r, torch.tensor([2.0, 1.0, 4.0, 3.0], dtype=torch.float64))
    r.sum().backward()  # ranks always sum to n(n+1)/2, so this gradient is 0
    torch.testing.assert_close(x.grad, torch.zeros_like(x))


def test_backends_and_errors(monkeypatch):
    x = torch.randn(2, 5, requires_grad=True)
    with pytest.raises(AutobuildError, match="backend"):
        sr.soft_rank(x, 1.0, backend="nope")
    with pytest.raises(AutobuildError, match="regularization_strength"):
        sr.soft_rank(x, 0.0)
    with pytest.raises(AutobuildError, match="1-D or 2-D"):
        sr.soft_rank(x[None], 1.0)
    with pytest.raises(AutobuildError, match="pred must be"):
        sr.spearman(x, torch.randn(4))
    monkeypatch.setattr(sr, "HAVE_TORCHSORT", False)
    monkeypatch.setattr(sr, "_torchsort", None)
    with pytest.raises(ImportError, match="torchsort"):
        sr.soft_rank(x, 1.0, backend="torchsort")
    r = sr.soft_rank(x, 1.0)  # auto falls back to the in-house implementation
    assert type(r.grad_fn).__name__.startswith("_SoftRankL2")


# ---------------------------------------------------------------- the fused hop-loss kernel


def _composed_pearson(values: np.ndarray, target: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Correlation and gradient of the composed form (soft rank, then centred unit rows), float64."""
    v = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    r = sr.soft_rank(v, eps, backend="inhouse")
    corr = (sr._unit_rows(r) * sr._unit_rows(torch.tensor(target, dtype=torch.float64))).sum(-1)
    corr.sum().backward()
    return corr.detach().numpy(), v.grad.numpy()


@pytest.mark.parametrize("backend_name", __import__("autobuild.core", fromlist=["x"]).available_backends())
@pytest.mark.parametrize("eps", [1.0, 0.1, 7.0])
def test_soft_rank_pearson_kernel_matches_composed(backend_name, eps):
    """core.soft_rank_pearson (each backend) gives the composed form's correlation and gradient, on
    rows with ties, a constant row (0 and a zero gradient) and a constant target."""
    from autobuild import core

    rng = np.random.default_rng(3)
    v = np.abs(_rows_with_ties(rng, (6, 41))) * 3.0
    v[4] = 2.5  # constant row
    y = rng.standard_normal(41)
    kernel = core.get_backend(backend_name).soft_rank_pearson
    for target in (y, np.full(41, 0.3)):
        corr, grad = kernel(v, target, eps)
        ref_corr, ref_grad = _composed_pearson(v, target, eps)
        np.testing.assert_allclose(corr, ref_corr, rtol=0, atol=1e-12)
        np.testing.assert_allclose(grad, ref_grad, rtol=0, atol=1e-12)
        assert corr[4] == 0.0 and not grad[4].any()
    assert not kernel(v, np.full(41, 0.3), eps)[1].any()
    with pytest.raises(ValueError, match="soft_rank_pearson"):
        kernel(v, y[:-1], eps)
    with pytest.raises(ValueError, match="strength"):
        kernel(v, y, 0.0)


def test_pearson_of_ranks_fused_path_is_the_composed_one():
    """pearson_of_ranks on the CPU (one core call) against the composed form, values and gradients,
    float32 and float64, 1-D and 2-D; gradcheck in float64."""
    rng = np.random.default_rng(5)
    x = rng.random((5, 64))
    y = torch.tensor(rng.standard_normal(64))
    for dtype in (torch.float32, torch.float64):
        a = torch.tensor(x, dtype=dtype, requires_grad=True)
        b = torch.tensor(x, dtype=dtype, requires_grad=True)
        fused = sr.pearson_of_ranks(a, y.to(dtype))
        ref = (sr._unit_rows(sr.soft_rank(b, 1.0, "inhouse").double()) * sr._unit_rows(y.double())).sum(-1).to(dtype)
        torch.testing.assert_close(fused, ref, rtol=0, atol=1e-6 if dtype == torch.float32 else 1e-12)
        (fused * torch.arange(1.0, 6.0, dtype=dtype)).sum().backward()
        (ref * torch.arange(1.0, 6.0, dtype=dtype)).sum().backward()
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-6 if dtype == torch.float32 else 1e-12)
        assert fused.dtype == dtype
    one = sr.pearson_of_ranks(torch.tensor(x[0]), y)
    assert one.shape == () and abs(float(one) - float(sr.pearson_of_ranks(torch.tensor(x[:1]), y)[0])) < 1e-15
    v = torch.tensor(x[:2, :12], requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: sr.pearson_of_ranks(t, y[:12], 0.5), (v,))
