"""Scores of the op subgraphs of one ONNX model under an ``onnx-ir`` predictor (paper Sec. 3.3,
4.2, Fig. 8).

The ``m``-hop embedding of node ``v`` sees exactly the subgraph rooted at ``v``: ``v`` and every
op at most ``m`` tensors upstream of it (message passing follows the dataflow). Its norm
``||h_v^m||_1``, standardised by the model's hop moments ``N(mu_m, sigma_m)`` (Sec. 4.2), is that
subgraph's score: ``z > 0`` means more of the target than the average ``m``-hop subgraph of the
training data. Op graphs have no stage / depth cells, so the Eq. 5 shift to label moments does not
apply; ``z`` compares subgraphs within one hop and across hops (the N(0, 1) normalisation).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Sequence

import numpy as np

from ..errors import AutobuildError


def rooted_subgraph(edges: Sequence[Sequence[int]], n: int, root: int, hops: int) -> dict[int, int]:
    """``{node: distance}`` of ``root`` and its ancestors within ``hops`` edges (breadth first)."""
    if not 0 <= root < n:
        raise AutobuildError(f"root {root} is not a node of a graph of {n} ops")
    preds: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        preds[v].append(u)
    dist = {root: 0}
    queue = deque([root])
    while queue:
        v = queue.popleft()
        if dist[v] == hops:
            continue
        for u in preds[v]:
            if u not in dist:
                dist[u] = dist[v] + 1
                queue.append(u)
    return dist


def require_ir_model(artifact: Any) -> None:
    """One line unless ``artifact`` is an ``onnx-ir`` predictor trained to rank its hops."""
    if artifact.space.name != "onnx-ir":
        raise AutobuildError(f"{artifact.path}: a predictor of space {artifact.space.name!r}; op subgraphs are scored "
                             "by an onnx-ir predictor (autobuild opgraphs, then train --space onnx-ir)")
    artifact.require("ranks_hops", "op-subgraph scores")


def node_scores(artifact: Any, graph: dict, provider: str = "cpu") -> tuple[float, np.ndarray, np.ndarray]:
    """``(prediction, norms [n, M+1], z [n, M+1])`` of an op graph's nodes under ``artifact``."""
    from ..spaces.graph_batch import GraphBatch
    from ..models.inference import OnnxSession

    from ..scoring.scorer import hop_z

    require_ir_model(artifact)
    x, ei = artifact.space.encode_graph(graph)
    g = GraphBatch.from_graphs([(x, ei)])
    pred, norms, _ = OnnxSession(artifact.onnx_path, provider=provider).run(g.onnx_feed())
    return float(pred[0]), norms.astype(np.float64), hop_z(artifact.report, norms)


def top_subgraphs(artifact: Any, graph: dict, hops: Sequence[int] | None = None, top: int = 5,
                  provider: str = "cpu") -> tuple[float, list[dict]]:
    """The prediction for the whole model and, per hop in ``hops`` (default: the deepest), the
    ``top`` highest-scored rooted subgraphs: ``hop, rank, root, op, name, norm, z, nodes``."""
    pred, norms, z = node_scores(artifact, graph, provider)
    M = norms.shape[1] - 1
    hops = [M] if hops is None else list(hops)
    for m in hops:
        if not 0 <= m <= M:
            raise AutobuildError(f"--hop {m}: the model has hops 0..{M}")
    n = len(graph["ops"])
    names = graph.get("names") or [f"{op}_{i}" for i, op in enumerate(graph["ops"])]
    rows = []
    for m in hops:
        order = np.argsort(-z[:, m], kind="stable")[: max(0, top)]
        for rank, v in enumerate(order.tolist(), start=1):
            sub = rooted_subgraph(graph["edges"], n, v, m)
            rows.append({"hop": m, "rank": rank, "root": v, "op": graph["ops"][v], "name": names[v],
                         "norm": float(norms[v, m]), "z": float(z[v, m]), "size": len(sub),
                         "nodes": sorted(sub)})
    return pred, rows

