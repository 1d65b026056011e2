"""Numba twins of the C++ core (``cpp/``): same signatures, same outputs, same errors. One file per
C++ file, its helpers under the C++ helpers' names (``evolve.cpp: check_space`` is
:func:`.evolve.check_space`).

Used when the compiled extension :mod:`autobuild._core` is missing or ``AUTOBUILD_BACKEND=numba``.
"""

from __future__ import annotations

from .calibrate import calibrate_scores
from .chain_loss import chain_loss_grad, chain_param_size
from .encode import encode_batch
from .enumerate import enumerate_modules
from .evolve import hash_codes, hypervolume_2d, mutate, non_dominated_rank, splitmix64
from .gat_chain import gat_chain_backward, gat_chain_bn_backward, gat_chain_bn_forward, gat_chain_forward
from .soft_rank import soft_rank_pearson

__all__ = ["calibrate_scores", "chain_loss_grad", "chain_param_size", "encode_batch", "enumerate_modules",
           "gat_chain_backward", "gat_chain_bn_backward", "gat_chain_bn_forward", "gat_chain_forward", "hash_codes",
           "hypervolume_2d", "mutate", "non_dominated_rank", "soft_rank_pearson", "splitmix64"]
