"""Batch encoding of architectures into graph tensors (the hot path feeding the GNN).

Wraps the core ``encode_batch`` (C++ or Numba, see :mod:`autobuild.core`) with the space's layout
and converts the result to PyTorch Geometric style tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import core
from .spaces.macro import MacroSpace


@dataclass
class GraphBatch:
    """Node feature indices ``x[N, F]``, chain ``edge_index[2, E]``, ``batch[N]`` and ``ptr[B+1]``."""

    x: np.ndarray
    edge_index: np.ndarray
    batch: np.ndarray
    ptr: np.ndarray

    @property
    def num_graphs(self) -> int:
        return len(self.ptr) - 1

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.ptr).astype(np.float32)

    def torch(self):  # noqa: ANN201 - torch is an optional import
        """``(x, edge_index, batch, counts)`` as torch tensors (shared memory, no copy)."""
        import torch

        return (
            torch.from_numpy(self.x),
            torch.from_numpy(self.edge_index),
            torch.from_numpy(self.batch),
            torch.from_numpy(self.counts),
        )

    def onnx_feed(self) -> dict[str, np.ndarray]:
        return {"x": self.x, "edge_index": self.edge_index, "batch": self.batch, "counts": self.counts}


def encode_codes(space: MacroSpace, codes: np.ndarray) -> GraphBatch:
    """Encode arch codes (``space.encode``) into one batched sequence graph."""
    x, ei, b, ptr = core.encode_batch(
        np.ascontiguousarray(codes, dtype=np.int32), space.max_depth, space.n_choices, space.choice_features, space.n_globals
    )
    return GraphBatch(x, ei, b, ptr)
