"""Compile the Numba twins ahead of time into Numba's on-disk cache: ``python -m autobuild.cli.warm``.

Numba compiles a kernel on its first call (about 10 s for all of them on 2 cores) and caches the
machine code next to the module. Installing runs this once (``tools/bootstrap.sh``), so that the
first search, training run or test on a machine without the C++ core does not pay for it.
"""

from __future__ import annotations

import os
import time

import numpy as np


def warm() -> list[str]:
    """Call every Numba kernel once on small valid inputs of a built-in space; return their names."""
    from .. import core
    from ..construction.reduced import ReducedSpace
    from ..search.strategies import make_strategy
    from ..spaces import get_space

    old = os.environ.get("AUTOBUILD_BACKEND")
    os.environ["AUTOBUILD_BACKEND"] = "numba"
    try:
        core.get_backend("numba")
        sp = get_space("ofa-pn")
        codes = sp.sample_codes(8, seed=0)
        mods = [sp.enumerate_modules(g) for g in range(sp.n_groups)]
        core.encode_batch(codes, sp.max_depth, sp.n_choices, sp.choice_features, sp.n_globals)
        core.calibrate_scores(np.ones(3), np.zeros(3, np.int32), np.zeros(3, np.int32), np.zeros(1), np.ones(1),
                              np.zeros(1), np.ones(1))
        core.hash_codes(codes)
        pts = np.random.default_rng(0).random((8, 2))
        core.non_dominated_rank(pts)
        core.hypervolume_2d(pts, np.array([2.0, 2.0]))
        for name in ("stage-full", "layer-full"):
            make_strategy(name, sp).mutate(codes, 4, 1)
        reduced = ReducedSpace(sp, [[m[0], m[1]] for m in mods], {"r": [224]})
        _warm_gat_chain()
        core.soft_rank_pearson(np.array([[0.3, 0.1, 0.2]]), np.array([1.0, 0.0, 2.0]), 1.0)
        make_strategy("autobuild", sp, reduced=reduced).mutate(sp.canonical_codes(reduced.codes(reduced.all_combos()[:2])), 4, 1)
    finally:
        if old is None:
            os.environ.pop("AUTOBUILD_BACKEND", None)
        else:
            os.environ["AUTOBUILD_BACKEND"] = old
    names = list(core.FUNCTIONS)
    try:  # the in-house soft rank (training), when torch is installed
        from ..models import softrank
    except ImportError:
        return names
    if softrank.HAVE_NUMBA:
        softrank._isotonic_l2(np.zeros((1, 3)))
        softrank._block_mean(np.zeros((1, 3)), np.zeros((1, 3)))
        names.append("softrank")
    return names


def _warm_gat_chain() -> None:
    """The chain attention and the fused training layer (training on sequence graphs)."""
    from .. import core

    rng = np.random.default_rng(0)
    xl, xr = (rng.standard_normal((4, 1, 2), dtype=np.float32) for _ in range(2))
    att = np.ones((1, 2), np.float32)
    hp = np.array([0, 1, 1, 0], np.uint8)
    out, a_prev, a_self = core.gat_chain_forward(xl, xr, att, hp, 0.2)
    core.gat_chain_backward(out, xl, xr, att, hp, 0.2, a_prev, a_self)
    xlr = np.stack([xl, xr], axis=1)
    ones, res = np.ones(2, np.float32), np.zeros((4, 2), np.float32)
    f = core.gat_chain_bn_forward(xlr, att, hp, 0.2, ones, ones, 1e-5, res)
    core.gat_chain_bn_forward(xlr, att, hp, 0.2, ones, ones, 1e-5, None)
    core.gat_chain_bn_backward(res, xlr, att, hp, 0.2, f[1], f[2], f[3], f[5], ones, ones)
    # The whole training loss: 2 features, 1 hop of width 2, head width 2 (sizes 8, 2, 2, 2 | 4, 2, 2, 1).
    offsets = np.array([0, 8, 10, 12, 14, 18, 20, 22], np.int64)
    params = np.full(23, 0.5, np.float32)
    core.chain_loss_grad(np.array([0.3, -0.2, 0.1], np.float32), np.array([[0, 1], [2, 1], [1, 0], [0, 2]]), hp,
                         np.array([0, 0, 0, 1]), np.array([3.0, 1.0], np.float32), np.array([0.5, -0.5], np.float32),
                         params, offsets, 1, 1, 2, 2, 0.2, 1e-5, 0.03, 1.0, np.zeros_like(params))


if __name__ == "__main__":
    t0 = time.perf_counter()
    done = warm()
    print(f"numba kernels compiled and cached ({', '.join(done)}) in {time.perf_counter() - t0:.1f} s")
