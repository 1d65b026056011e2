"""The hot loops of AutoBuild, with two interchangeable backends of identical signatures:

* ``cpp`` - the compiled extension :mod:`autobuild._core` (``cpp/`` in the source tree);
* ``numba`` - :mod:`autobuild.core.numba`, JIT-compiled Python, used when the extension is
  missing (e.g. a source checkout that was not built) or when forced.

``AUTOBUILD_BACKEND=cpp|numba`` forces one; unset, the C++ core is used when importable. Tests run
both and compare their outputs.

Functions (same signature in both backends):

``enumerate_modules(min_depth, max_depth, n_choices) -> (depths int32[N], choices int32[N, max_depth])``
    every stage subgraph (paper Sec. 7.2), ordered by depth then lexicographically, padded with -1.
``encode_batch(codes, max_depth, n_choices, choice_features, n_globals) -> (x, edge_index, batch, ptr)``
    arch codes (see :mod:`autobuild.spaces.macro`) to one batched sequence graph (int64 arrays).
``calibrate_scores(norms, hops, cells, hop_mean, hop_std, cell_mean, cell_std) -> float64[N]``
    Eq. 5 (Sec. 4.2): hop-``m`` norms shifted to the label distribution of their (stage, depth) cell.

``gat_chain_forward(xl, xr, att, has_pred, negative_slope) -> (out, a_prev, a_self)``
    GATv2 attention (Brody et al. 2022) on a batch of chains with self loops, the training hot loop
    of :mod:`autobuild.models.gatv2`: ``xl``, ``xr`` float32[N, H, C] (the two linear maps of the
    node features), ``att`` float32[H, C], ``has_pred`` uint8[N] (1: node ``i - 1`` precedes node
    ``i``; 0 for node 0). Per node and head, logits ``e_self = att . lrelu(xl[i] + xr[i])`` and
    ``e_prev = att . lrelu(xl[i-1] + xr[i])`` (``-inf`` without a predecessor), softmax weights
    ``w / (w_prev + w_self + 1e-16)`` shifted by their maximum as torch-geometric's ``softmax``, and
    ``out[i] = a_prev * xl[i-1] + a_self * xl[i]``; ``a_prev``, ``a_self`` float32[N, H].
``gat_chain_backward(grad, xl, xr, att, has_pred, negative_slope, a_prev, a_self) -> (dxl, dxr, datt)``
    its vector-Jacobian product for ``grad`` = d loss / d out (float32, the shapes of the inputs).
``gat_chain_bn_forward(xlr, att, has_pred, negative_slope, gamma, beta, eps, residual=None) -> (out, a_prev, a_self, xhat, mean, invstd, var_unbiased)``
    the whole GATv2 training layer after its linear maps (:mod:`autobuild.models.chain_encoder`):
    ``xlr`` float32[N, 2, H, C] holds ``x_l`` then ``x_r`` of every node (one matrix product);
    ``a`` = the attention above, ``[N, H * C]``; batch statistics ``mean``, ``var`` (biased) per
    channel over the N nodes (float64 sums), ``invstd = 1 / sqrt(var + eps)``, ``var_unbiased`` (for
    running statistics; N >= 2 nodes); ``xhat = (a - mean) * invstd``; ``out = relu(gamma * xhat +
    beta) + residual`` (float32[N, H * C]; no residual when None).
``gat_chain_bn_backward(grad, xlr, att, has_pred, negative_slope, a_prev, a_self, xhat, invstd, gamma, beta) -> (dxlr, datt, dgamma, dbeta)``
    its vector-Jacobian product for ``grad`` = d loss / d out (the residual's gradient is ``grad``):
    ReLU mask ``gamma * xhat + beta > 0``, batch-norm backward ``(dy - mean(dy) - xhat mean(dy
    xhat)) gamma invstd``, then the attention's; ``dxlr`` float32[N, 2, H, C].
``soft_rank_pearson(values, target, strength=1.0) -> (corr, grad)``
    the hop-level ranking term of Eq. 4 in the authors' form (``ge_utils/diff_srcc.py``): per row ``b``
    of ``values`` float64[H, B], the Pearson correlation ``corr[b]`` of its L2 soft ranks (Blondel et
    al. 2020, torchsort semantics: ranks of ``values / strength``, descending stable sort, pool adjacent
    violators, blocks of isotonic values within 1e-9) with ``target`` float64[B] (not ranked), and
    ``grad[b] = d corr[b] / d values[b]`` (float64[H, B]); constant ranks or a constant target give
    correlation 0 and gradient 0.

``chain_loss_grad(table, idx, has_pred, batch, denom, y, params, offsets, layers, heads, hidden, head_hidden, negative_slope, eps, scale, rank_weight, grad, strength=1.0) -> (loss, d_table, batch_mean, batch_var)``
    the predictor's training loss (Eq. 4, the authors' hop term) on a batch of chains and its whole
    gradient in one call (:func:`autobuild.models.chain_encoder.chain_loss_grad`): ``h^0 =
    |table[idx]|`` (``table`` float32[T], the FE-MLP's scalars; ``idx`` int64[N, F]); hop ``m``:
    ``[x_l | x_r] = h^m W_m^T``, then :func:`gat_chain_bn_forward` (residual ``h^m`` for ``m >= 1``);
    graph norms ``||h_G^m||_1`` (``batch`` int64[N] in ``[0, B)``, ``denom`` float32[B] nodes per
    graph, >= 1); ``pred = relu(pool(h^M) w1^T + b1) w2 + b2``; ``loss = mean (pred - y)^2 +
    rank_weight * mean over hops (1 - soft_rank_pearson)`` (``y`` float32[B]). Parameter ``j`` is
    ``params[offsets[j]:]`` (float32[P]; ``offsets`` int64[4 * layers + 4]): per hop ``W = [W_l; W_r]``
    [2 * hidden, K_m] (``K_0 = F``, else ``hidden``), ``att`` [heads, hidden / heads], ``gamma``,
    ``beta`` [hidden]; then the head's ``w1`` [head_hidden, hidden], ``b1``, ``w2`` [head_hidden], ``b2``
    [1]; the spans may lie anywhere but must not overlap. The gradient of each is written to the same
    span of ``grad`` (float32[P], writeable, not sharing memory with ``params``; nothing else of it
    is touched); the gradient reaching ``h^0`` through the hops is scaled by ``scale`` (the FE-MLP
    gradient scale) before ``d_table`` (float32[T]). ``batch_mean``, ``batch_var`` (unbiased)
    float32[layers, hidden] are every hop's batch statistics (for running statistics).

Evolutionary search (paper Sec. 5.2, 7.5):

``hash_codes(codes int32[N, L]) -> uint64[N]``
    FNV-1a 64-bit (offset 0xcbf29ce484222325, prime 0x100000001b3) over the little-endian bytes of
    every row; pass canonical codes (padding -1) so that equal archs hash equally (dedup).
``non_dominated_rank(points float64[N, M]) -> int32[N]``
    Pareto front index of every point, minimising every objective (0 = non-dominated, 1 = the next
    front, ...), fast non-dominated sort (Deb et al. 2002); equal points share a rank; NaN -> ValueError.
``hypervolume_2d(points float64[N, 2], ref float64[2]) -> float``
    area dominated by the points (minimising both objectives) and bounded by ``ref``; points not
    strictly better than ``ref`` in both objectives add nothing; O(N log N) sweep.
``mutate(parents, n_children, seed, kind, min_depth, max_depth, allowed, group_of, n_globals, global_allowed,
table_offsets=None, table_depths=None, table_choices=None, slot_width=None) -> int32[n_children, L]``
    the EA's mutation operator: ``n_children`` canonical codes (padding -1), each one mutation of a
    parent drawn uniformly. Arguments: ``parents int32[P, L]`` (valid codes); ``kind``: 0 ``stage-full``,
    1 ``stage-table``, 2 ``layer`` (:data:`MUTATION_KINDS`); ``min_depth``, ``max_depth int32[S]``
    (``max_depth`` may be lowered below the code's slot width, e.g. for Layer-Insight); ``allowed
    uint8[S, C]`` (1 = layer choice ``c`` is allowed in stage ``s``); ``group_of int32[S]`` (module group
    of every stage, numbered 0, 1, ... in stage order; a merged group such as ProxylessNAS 5+6 has at
    most one stage of variable depth and splits a module's layers as
    :meth:`autobuild.spaces.macro.MacroSpace.stage_depths`: fixed stages take their ``min_depth``, the variable
    one the rest); ``global_allowed uint8[n_globals, V]``; for kind 1 the module table of every group
    ``g``: rows ``table_offsets[g] .. table_offsets[g + 1] - 1`` of ``table_depths int32[T]`` and
    ``table_choices int32[T, W]`` (-1 padded, layers in stage order; ignored by kinds 0 and 2);
    ``slot_width int32[S]``: slots per stage in the code layout (default ``max_depth``).

    Random numbers: one splitmix64 stream (``state += 0x9e3779b97f4a7c15``; ``z = (z ^ z >> 30) *
    0xbf58476d1ce4e5b9``; ``z = (z ^ z >> 27) * 0x94d049bb133111eb``; ``z ^ z >> 31``) whose state starts
    at ``seed`` (0 <= seed < 2**64); a uniform integer in ``[0, n)`` is ``next() % n``, one ``next()`` per
    draw, also when ``n == 1``. "The k-th of a list" below means list position ``uniform(len)``. Each child
    draws, in this order: its parent ``uniform(P)``, then

    * kind 0 / 1: a target among [groups that can change, in order; globals with >= 2 allowed values, in
      order] (kind 0: a group can change if its depth range is not a single value or one of its
      non-empty stages allows >= 2 choices; kind 1: if its table has >= 2 rows). A global takes a
      different allowed value, uniform (the k-th of the allowed values != current). Kind 0 group: depth
      ``gmin + uniform(gmax - gmin + 1)`` (sums of the group's min / max depths), then every layer's
      choice, in order, the k-th allowed choice of the stage it falls in; redrawn (depth and layers)
      until the module differs from the parent's, at most 64 draws (then the last draw is kept).
      Kind 1 group: the k-th table row among the group's rows that differ from the parent's module
      (any of the group's rows, uniform, when none differs).
    * kind 2: a target among [stages where add / remove / edit is possible, in order; globals with >= 2
      allowed values]; for a stage the k-th of its possible operations in the order add
      (depth < max_depth), remove (depth > min_depth), edit (depth >= 1 and >= 2 allowed choices);
      add: position ``uniform(depth + 1)``, then the k-th allowed choice, inserted (later layers shift);
      remove: position ``uniform(depth)``; edit: position ``uniform(depth)``, then the k-th allowed
      choice != the current one.

    Children may equal other children (dedup with :func:`hash_codes`). Bad shapes, bounds, parents or
    tables raise ``ValueError`` naming the problem (stage / group / parent / row indices 0-based); the
    dispatching functions of this module re-raise it as :class:`~autobuild.errors.AutobuildError`.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

from ..errors import AutobuildError

BACKENDS = ("cpp", "numba")
FUNCTIONS = (
    "enumerate_modules", "encode_batch", "calibrate_scores", "hash_codes", "non_dominated_rank", "hypervolume_2d",
    "mutate", "gat_chain_forward", "gat_chain_backward", "gat_chain_bn_forward", "gat_chain_bn_backward",
    "soft_rank_pearson", "chain_loss_grad",
)
#: ``kind`` argument of :func:`mutate` for each mutation operator of the EA (paper Sec. 5.2, 7.5).
MUTATION_KINDS = {"stage-full": 0, "stage-table": 1, "layer": 2}
_cache: dict[str, ModuleType] = {}


def get_backend(name: str) -> ModuleType:
    """The backend module ``cpp`` or ``numba`` (raises :class:`AutobuildError` if unavailable)."""
    if name not in BACKENDS:
        raise AutobuildError(f"unknown core backend {name!r} (choose one of: {', '.join(BACKENDS)})")
    if name not in _cache:
        mod_name = "autobuild._core" if name == "cpp" else "autobuild.core.numba"
        try:
            _cache[name] = importlib.import_module(mod_name)
        except ImportError as e:
            hint = " (build it with `pip install .`)" if name == "cpp" else ""
            raise AutobuildError(f"core backend {name!r} is not available: {e}{hint}") from None
    return _cache[name]


def available_backends() -> list[str]:
    out = []
    for b in BACKENDS:
        try:
            get_backend(b)
            out.append(b)
        except AutobuildError:
            pass
    return out


def backend_name() -> str:
    """The backend in use: ``AUTOBUILD_BACKEND`` if set, else ``cpp`` when built, else ``numba``."""
    forced = os.environ.get("AUTOBUILD_BACKEND", "").strip().lower()
    if forced:
        get_backend(forced)
        return forced
    try:
        get_backend("cpp")
        return "cpp"
    except AutobuildError:
        return "numba"


def _dispatch(fn: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(get_backend(backend_name()), fn)(*args, **kwargs)
        except AutobuildError:
            raise
        except ValueError as e:  # the kernels' input checks: one line for API users too
            raise AutobuildError(f"{fn}: {str(e).splitlines()[0] if str(e) else 'invalid input'}") from None

    call.__name__ = fn
    call.__doc__ = f"``{fn}`` of the active backend (see :mod:`autobuild.core`)."
    return call


enumerate_modules = _dispatch("enumerate_modules")
encode_batch = _dispatch("encode_batch")
calibrate_scores = _dispatch("calibrate_scores")
hash_codes = _dispatch("hash_codes")
non_dominated_rank = _dispatch("non_dominated_rank")
hypervolume_2d = _dispatch("hypervolume_2d")
mutate = _dispatch("mutate")
gat_chain_forward = _dispatch("gat_chain_forward")
gat_chain_backward = _dispatch("gat_chain_backward")
gat_chain_bn_forward = _dispatch("gat_chain_bn_forward")
gat_chain_bn_backward = _dispatch("gat_chain_bn_backward")
soft_rank_pearson = _dispatch("soft_rank_pearson")
chain_loss_grad = _dispatch("chain_loss_grad")


def kernel(fn: str) -> Any:
    """The active backend's raw ``fn`` (no per-call dispatch: for loops that call it thousands of
    times, such as training; its ``ValueError`` is not rewritten)."""
    return getattr(get_backend(backend_name()), fn)


__all__ = [
    "BACKENDS", "MUTATION_KINDS", "available_backends", "backend_name", "calibrate_scores", "chain_loss_grad",
    "encode_batch",
    "enumerate_modules", "gat_chain_backward", "gat_chain_bn_backward", "gat_chain_bn_forward", "gat_chain_forward",
    "get_backend", "kernel", "hash_codes", "hypervolume_2d", "mutate", "non_dominated_rank", "soft_rank_pearson",
]
