"""``GraphBatch``: architectures as one batch of graphs, what every space's ``graphs(codes)`` returns
and the GNN reads (PyTorch Geometric's ``Batch`` layout: ``x``, ``edge_index``, ``batch``, ``ptr``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import AutobuildError


@dataclass
class GraphBatch:
    """Node feature indices ``x[N, F]``, ``edge_index[2, E]`` (any DAG: chains from
    :func:`encode_codes`, op graphs from :meth:`from_graphs`), ``batch[N]`` and ``ptr[B+1]``."""

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

    @classmethod
    def from_graphs(cls, graphs: Sequence[tuple[np.ndarray, np.ndarray]]) -> "GraphBatch":
        """Batch graphs given as ``(x int64[n, F], edge_index int64[2, e])`` with node-local edge
        indices, edges kept as given (DAGs such as ONNX op graphs); checks shapes and bounds."""
        xs, eis, batch, ptr = [], [], [], [0]
        width = None
        for i, (x, ei) in enumerate(graphs):
            x = np.asarray(x, dtype=np.int64)
            ei = np.asarray(ei, dtype=np.int64).reshape(2, -1) if np.size(ei) else np.zeros((2, 0), np.int64)
            if x.ndim != 2 or (width is not None and x.shape[1] != width):
                raise AutobuildError(f"graph {i}: node features must be [n, {width or 'F'}], got shape {x.shape}")
            width = x.shape[1]
            if ei.size and (ei.min() < 0 or ei.max() >= len(x)):
                raise AutobuildError(f"graph {i}: an edge refers to a node outside 0..{len(x) - 1}")
            xs.append(x)
            eis.append(ei + ptr[-1])
            batch.append(np.full(len(x), i, dtype=np.int64))
            ptr.append(ptr[-1] + len(x))
        if not xs:
            raise AutobuildError("no graphs to batch")
        return cls(np.concatenate(xs), np.concatenate(eis, axis=1), np.concatenate(batch), np.asarray(ptr, np.int64))

    def onnx_feed(self) -> dict[str, np.ndarray]:
        return {"x": self.x, "edge_index": self.edge_index, "batch": self.batch, "counts": self.counts}
