"""Differentiable soft ranks and a differentiable Spearman correlation (SRCC).

The hop-level ranking term of the AutoBuild loss (paper Eq. 4) needs ``1 - SRCC``, which is
differentiable only once the hard ranks are replaced by the soft ranks of Blondel et al. 2020,
"Fast Differentiable Sorting and Ranking" (ICML), with L2 regularisation: the ranks are the
Euclidean projection of ``values / eps`` onto the permutahedron of ``(n, n-1, ..., 1)``, computed
in O(n log n) by a sort and one isotonic regression (pool adjacent violators, PAV).

Two interchangeable backends give the same numbers, forward and backward:

* ``torchsort`` - ``torchsort.soft_rank(values, regularization="l2", regularization_strength=eps)``
  when that package is importable (an optional C++ extension);
* ``inhouse`` - this module: PAV in a numba kernel (the same Python kernel run by the interpreter
  if numba cannot be imported), wrapped in a :class:`torch.autograd.Function`.

Both compute in float64 and return the dtype of the input.
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from ..core.isotonic import block_mean_rows, isotonic_rows
from ..errors import AutobuildError
from ..metrics import rankdata

try:  # optional reference implementation
    import torchsort as _torchsort

    HAVE_TORCHSORT: bool = True
    _TORCHSORT_CUDA: bool = importlib.util.find_spec("torchsort.isotonic_cuda") is not None
except Exception:  # ImportError, or OSError for an extension built against another torch
    _torchsort = None
    HAVE_TORCHSORT = False
    _TORCHSORT_CUDA = False

BACKENDS = ("auto", "torchsort", "inhouse")


# --------------------------------------------------------------------------------------------
# Kernels on C-contiguous float64 arrays [batch, n]. Plain Python so that they also run without
# numba; jitted below when numba is importable.


# Row-wise PAV and its VJP, shared with the core's Numba twin of soft_rank_pearson (autobuild.core.isotonic).
_isotonic_l2_py, _block_mean_py = isotonic_rows, block_mean_rows


#: Whether the kernels below run jitted; numba itself is imported on their first call (a quarter
#: of a second that training with the default hop loss, a core kernel, does not need).
HAVE_NUMBA: bool = importlib.util.find_spec("numba") is not None
_JITTED: dict[str, Callable] = {}


def _jitted(py: Callable) -> Callable:
    fn = _JITTED.get(py.__name__)
    if fn is None:
        try:
            from numba import njit

            fn = njit(cache=True)(py)
        except ImportError:  # pure numpy / Python fallback, same numbers
            fn = py
        _JITTED[py.__name__] = fn
    return fn


def _isotonic_l2(y: np.ndarray) -> np.ndarray:
    """:func:`_isotonic_l2_py`, jitted when numba is importable."""
    return _jitted(_isotonic_l2_py)(y)


def _block_mean(sol: np.ndarray, g: np.ndarray) -> np.ndarray:
    """:func:`_block_mean_py`, jitted when numba is importable."""
    return _jitted(_block_mean_py)(sol, g)


def _as_f64(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to("cpu", torch.float64).numpy())


class _SoftRankL2(torch.autograd.Function):
    """Row-wise L2 soft rank (Blondel et al. 2020, Sec. 3-5) of a 2-D tensor; torchsort semantics.

    ``theta = x / eps``, ``s = sort(theta, descending)``, ``dual = isotonic_l2(s - w)`` with
    ``w = (n, ..., 1)``, ranks ``= s - dual`` un-permuted. The VJP is
    ``(g - P^T block_mean(P g)) / eps`` over the blocks of ``dual``."""

    @staticmethod
    def forward(ctx: Any, values: torch.Tensor, regularization_strength: float) -> torch.Tensor:
        scale = 1.0 / regularization_strength
        theta = _as_f64(values) * scale
        n = theta.shape[1]
        order = np.argsort(-theta, axis=1, kind="stable")  # descending; ties keep input order
        s = np.ascontiguousarray(np.take_along_axis(theta, order, axis=1))
        w = np.arange(n, 0, -1, dtype=np.float64)
        dual = _isotonic_l2(np.ascontiguousarray(s - w))
        ranks = np.empty_like(theta)
        np.put_along_axis(ranks, order, s - dual, axis=1)
        ctx.scale, ctx.order, ctx.dual = scale, order, dual
        return torch.from_numpy(ranks).to(device=values.device, dtype=values.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:
        g = _as_f64(grad_output)
        pooled = _block_mean(ctx.dual, np.ascontiguousarray(np.take_along_axis(g, ctx.order, axis=1)))
        back = np.empty_like(g)
        np.put_along_axis(back, ctx.order, pooled, axis=1)
        grad = torch.from_numpy((g - back) * ctx.scale)
        return grad.to(device=grad_output.device, dtype=grad_output.dtype), None


def _use_torchsort(backend: str, device: torch.device) -> bool:
    if backend not in BACKENDS:
        raise AutobuildError(f"unknown soft-rank backend {backend!r} (choose one of: {', '.join(BACKENDS)})")
    if backend == "torchsort":
        if not HAVE_TORCHSORT:
            raise ImportError(
                "soft-rank backend 'torchsort' requested but torchsort is not importable; "
                "install it (`pip install --no-build-isolation torchsort`) or use backend='inhouse'"
            )
        return True
    if backend == "inhouse":
        return False
    return HAVE_TORCHSORT and (device.type == "cpu" or (device.type == "cuda" and _TORCHSORT_CUDA))


def _checked_strength(values: torch.Tensor, regularization_strength: float) -> float:
    """The soft rank's strength as a float, after checking it and ``values`` (1-D or 2-D, floating)."""
    eps = float(regularization_strength)
    if not eps > 0.0:
        raise AutobuildError(f"soft rank: regularization_strength must be > 0, got {regularization_strength}")
    if values.dim() not in (1, 2):
        raise AutobuildError(f"soft rank: expected a 1-D or 2-D tensor, got shape {tuple(values.shape)}")
    if not values.is_floating_point():
        raise AutobuildError(f"soft rank: expected a floating-point tensor, got {values.dtype}")
    return eps


def soft_rank(values: torch.Tensor, regularization_strength: float = 1.0, backend: str = "auto") -> torch.Tensor:
    """Differentiable ascending ranks (1 = smallest) of each row of ``values`` ([n] or [batch, n]).

    L2-regularised soft rank of Blondel et al. 2020 with strength ``eps = regularization_strength``:
    ``eps -> 0`` gives the hard (average, for ties) ranks, large ``eps`` flattens them towards
    ``(n + 1) / 2``. ``backend``: ``"auto"`` (torchsort when importable, else in-house),
    ``"torchsort"`` or ``"inhouse"``. Computed in float64; returns the shape and dtype of ``values``."""
    eps = _checked_strength(values, regularization_strength)
    x = values.reshape(1, -1) if values.dim() == 1 else values
    if _use_torchsort(backend, x.device):
        r = _torchsort.soft_rank(x.double(), regularization="l2", regularization_strength=eps).to(x.dtype)
    else:
        r = _SoftRankL2.apply(x, eps)
    return r if values.dim() == 2 else r.reshape(values.shape)


def _unit_rows(r: torch.Tensor) -> torch.Tensor:
    """Centre each row and scale it to unit L2 norm; rows that are exactly constant become 0
    (SRCC 0, as :func:`autobuild.metrics.spearman`) with a zero gradient instead of NaN."""
    const = (r.amax(-1, keepdim=True) - r.amin(-1, keepdim=True)) <= 0
    c = r - r.mean(-1, keepdim=True)
    norm = torch.linalg.vector_norm(c, dim=-1, keepdim=True)
    return torch.where(const, torch.zeros_like(c), c / torch.where(const, torch.ones_like(norm), norm))


def spearman(
    pred: torch.Tensor, target: torch.Tensor, regularization_strength: float = 1.0, backend: str = "auto"
) -> torch.Tensor:
    """Differentiable SRCC of each row of ``pred`` ([H, B] or [B]) against ``target`` ([B]).

    ``pred`` is soft-ranked (:func:`soft_rank`, Blondel et al. 2020); ``target`` gets exact average
    ranks (no gradient). Pearson correlation of the two rank vectors: ``[H]``, or a scalar for 1-D
    ``pred``. The AutoBuild hop loss (paper Eq. 4) is ``(1 - spearman(norms, y)).mean()``."""
    if target.dim() != 1:
        raise AutobuildError(f"spearman: target must be 1-D, got shape {tuple(target.shape)}")
    if pred.dim() not in (1, 2) or pred.shape[-1] != target.shape[0]:
        raise AutobuildError(
            f"spearman: pred must be [B] or [H, B] with B = {target.shape[0]}, got shape {tuple(pred.shape)}"
        )
    if target.shape[0] == 0:
        raise AutobuildError("spearman: empty inputs")
    rp = soft_rank(pred, regularization_strength, backend).to(torch.float64)
    rt = torch.from_numpy(rankdata(target.detach().to("cpu", torch.float64).numpy())).to(rp.device)
    return (_unit_rows(rp) * _unit_rows(rt)).sum(-1).to(pred.dtype)


class _PearsonOfSoftRanks(torch.autograd.Function):
    """Per row of ``values`` [H, B], Pearson correlation of its L2 soft ranks with ``target`` [B],
    in one core call (:func:`autobuild.core.soft_rank_pearson`) that also gives the gradient: the
    dozens of small tensor operators of the composed form cost some 0.7 ms per training step."""

    @staticmethod
    def forward(ctx: Any, values: torch.Tensor, target: torch.Tensor, regularization_strength: float) -> torch.Tensor:
        from .. import core

        corr, grad = core.kernel("soft_rank_pearson")(_as_f64(values), _as_f64(target), regularization_strength)
        ctx.grad = grad
        return torch.from_numpy(corr).to(values.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        g = torch.from_numpy(ctx.grad) * grad_output.to(torch.float64).unsqueeze(1)
        return g.to(grad_output.dtype), None, None


def pearson_of_ranks(pred: torch.Tensor, target: torch.Tensor, regularization_strength: float = 1.0,
                     backend: str = "auto") -> torch.Tensor:
    """Pearson correlation of each row's soft ranks (``pred`` [H, B] or [B]) with the values of
    ``target`` [B] (not ranked): the correlation term of the AutoBuild authors' loss
    (``ge_utils/diff_srcc.py``), which keeps the target's spacing and so weighs the archs far
    from the mean more than a rank correlation does. On the CPU with ``backend`` ``"auto"`` or
    ``"inhouse"`` it is one core kernel (the same numbers in float64, to rounding)."""
    if target.dim() != 1 or pred.shape[-1] != target.shape[0]:
        raise AutobuildError(f"pearson_of_ranks: pred [B] or [H, B] against target [B], got "
                             f"{tuple(pred.shape)} and {tuple(target.shape)}")
    if backend in ("auto", "inhouse") and pred.device.type == "cpu" and target.shape[0] > 0:
        eps = _checked_strength(pred, regularization_strength)
        rows = pred.reshape(1, -1) if pred.dim() == 1 else pred
        corr = _PearsonOfSoftRanks.apply(rows, target.detach(), eps)
        return corr.reshape(()) if pred.dim() == 1 else corr
    rp = soft_rank(pred, regularization_strength, backend).to(torch.float64)
    return (_unit_rows(rp) * _unit_rows(target.detach().to(torch.float64))).sum(-1).to(pred.dtype)


__all__ = ["BACKENDS", "HAVE_NUMBA", "HAVE_TORCHSORT", "pearson_of_ranks", "soft_rank", "spearman"]
