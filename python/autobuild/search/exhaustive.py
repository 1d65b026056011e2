"""Exhaustive Search (paper Sec. 5.3): predict every arch of a space with an ensemble and keep the
best, memoised so that all 786,432 U-Nets x 20 predictors fit in a minute on 2 cores.

Why it is exact: on a chain, the AutoBuild predictor's hop-``M`` embedding of node ``v`` is a
function of ``v`` and its ``M`` predecessors only (GATv2 attends to the node itself and the one
before it, batch norm in eval mode, ReLU and the residual skips are all per node), and the
prediction is the head of the *mean* of those embeddings. An arch's node sequence is a
concatenation of segments (U-Nets: 4 input stages, the middle, 4 output stages), so

    sum_v h_v^M = sum_segments S[context, segment],

where ``context`` is the last ``M`` nodes before the segment (empty at the start: the graph is cut
there, as in the full graph). Each distinct ``(context, segment)`` pair is embedded once, as the
chain ``context + segment``, summing the segment nodes' embeddings; every arch then costs a few
gathers and the head. :meth:`Plan.predict` equals running the model on every full graph (to float
rounding; ``tests/search/test_exhaustive.py`` checks it against brute force on a sample).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..errors import AutobuildError


def unet_segments(space: Any, codes: np.ndarray) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """``(keys int64[N, 9], nodes)``: per arch the id of each of its 9 segments (network order) and,
    per segment position, the node-feature rows of each id (from the space's own graph builder)."""
    from ..spaces.unet import N_STAGES, _AIN, _AOUT, _MULT, _RIN, _ROUT

    c = np.asarray(codes, dtype=np.int64)
    n_r = max(max(space.res_in), max(space.res_out)) + 1
    specs: list[tuple[str, int, list[int], list[int]]] = []
    for s in range(N_STAGES):
        specs.append(("in", s, [0, _MULT + s, _RIN + s, _AIN + s], [len(space.cm), space.n_mult, n_r, 2]))
    specs.append(("mid", 3, [0, _MULT + 3], [len(space.cm), space.n_mult]))
    for s in reversed(range(N_STAGES)):
        specs.append(("out", s, [0, _MULT + s, _ROUT + s, _AOUT + s], [len(space.cm), space.n_mult, n_r, 2]))
    keys = np.zeros((len(c), len(specs)), dtype=np.int64)
    nodes: list[list[np.ndarray]] = []
    for j, (kind, s, cols, radices) in enumerate(specs):
        raw = np.zeros(len(c), dtype=np.int64)
        for col, r in zip(cols, radices):
            raw = raw * r + c[:, col]
        uniq, inv = np.unique(raw, return_inverse=True)
        keys[:, j] = inv
        rows = []
        for u in uniq.tolist():
            vals = []
            for r in reversed(radices):
                vals.append(u % r)
                u //= r
            vals = vals[::-1]
            part = np.zeros(c.shape[1], dtype=np.int32)
            part[0] = vals[0]
            part[_MULT + s] = vals[1]
            if kind == "mid":  # the middle alone: Res, Attn, Res at stage 4's channels
                ch = space._channels.index(space.cm[vals[0]] * space.mult[3][vals[1]])
                rows.append(np.array([[0, ch, 1, 3], [1, ch, 1, 3], [0, ch, 1, 3]], dtype=np.int64))
                continue
            part[(_RIN if kind == "in" else _ROUT) + s] = vals[2]
            part[(_AIN if kind == "in" else _AOUT) + s] = vals[3]
            rows.append(np.asarray(space._nodes(part), dtype=np.int64).reshape(-1, 4))
        nodes.append(rows)
    return keys, nodes


class Plan:
    """What does not depend on the predictor's weights, built once for all members: per segment
    position the arch's (context, segment) pair id, the chains ``context + segment`` of the
    distinct pairs (batched) and which of their nodes belong to the segment."""

    def __init__(self, space: Any, codes: np.ndarray, window: int, batch_nodes: int = 200_000) -> None:
        from ..spaces.graph_batch import GraphBatch

        keys, nodes = unet_segments(space, codes)
        self.window, self.n = window, len(keys)
        self.count = np.zeros(self.n)
        for j in range(keys.shape[1]):
            self.count += np.array([len(r) for r in nodes[j]])[keys[:, j]]
        ctx = np.zeros(self.n, dtype=np.int64)  # context id per arch; 0 = empty (the graph's start)
        contexts: list[np.ndarray] = [np.zeros((0, 4), dtype=np.int64)]
        ctx_index: dict[bytes, int] = {contexts[0].tobytes(): 0}
        self.pair_ids: list[np.ndarray] = []
        self.batches: list[list[tuple[Any, np.ndarray, np.ndarray]]] = []  # (graph batch, node mask, owner)
        for j in range(keys.shape[1]):
            n_seg = len(nodes[j])
            uniq, inv = np.unique(ctx * n_seg + keys[:, j], return_inverse=True)
            self.pair_ids.append(inv)
            graphs, owned = [], []
            next_ctx = np.zeros(len(uniq), dtype=np.int64)
            for i, u in enumerate(uniq.tolist()):
                x = np.concatenate([contexts[u // n_seg], nodes[j][u % n_seg]])
                graphs.append((x, np.stack([np.arange(len(x) - 1), np.arange(1, len(x))])))
                owned.append((len(contexts[u // n_seg]), len(x)))
                tail = x[-window:] if window else x[:0]
                key = tail.tobytes()
                if key not in ctx_index:
                    ctx_index[key] = len(contexts)
                    contexts.append(tail)
                next_ctx[i] = ctx_index[key]
            batches, start = [], 0
            while start < len(graphs):  # bounded batches of nodes
                end, size = start, 0
                while end < len(graphs) and (size == 0 or size + len(graphs[end][0]) <= batch_nodes):
                    size += len(graphs[end][0])
                    end += 1
                g = GraphBatch.from_graphs(graphs[start:end])
                mask = np.zeros(len(g.x), dtype=bool)
                for k, (a, b) in enumerate(owned[start:end]):
                    mask[g.ptr[k] + a : g.ptr[k] + b] = True
                owner = np.repeat(np.arange(end - start), np.diff(g.ptr))[mask]
                batches.append((g, mask, owner))
                start = end
            self.batches.append(batches)
            ctx = next_ctx[inv]

    def predict(self, model: Any) -> np.ndarray:
        """Every arch's prediction (label units) by one AutoBuild predictor (torch module)."""
        import torch

        model.eval()
        if len(model.convs) != self.window:
            raise AutobuildError(f"the plan is for {self.window} hops, the model has {len(model.convs)}")
        total = None
        for ids, batches in zip(self.pair_ids, self.batches):
            parts = []
            for g, mask, owner in batches:
                x, ei, _, _ = g.torch()
                with torch.inference_mode():
                    h = model.embed(x, ei)[-1]
                s = torch.zeros(int(owner.max()) + 1 if len(owner) else 0, h.shape[1], dtype=h.dtype)
                s.index_add_(0, torch.from_numpy(owner), h[torch.from_numpy(mask)])
                parts.append(s)
            sums = torch.cat(parts)
            part = sums.index_select(0, torch.from_numpy(ids))
            total = part if total is None else total.add_(part)
        mean = total / torch.from_numpy(self.count.astype(np.float32)).unsqueeze(1)
        with torch.inference_mode():
            pred = model.head(mean).squeeze(1) * model.y_std + model.y_mean
        return pred.double().numpy()


def exhaustive_search(members: Sequence[Any], top: int = 4, codes: np.ndarray | None = None,
                      progress: Callable[[int, int], None] | None = None) -> dict:
    """Every arch of the members' space predicted by each member, combined by the members' held-out
    prediction SRCC (weights ``max(srcc, 0)``, Sec. 5.3); returns ``codes``, the combined
    ``pred`` of every arch and the ``top`` best rows."""
    if not members:
        raise AutobuildError("no predictor to search with")
    space = members[0].space
    if "enumerable" not in space.capabilities:
        raise AutobuildError(f"space {space.name!r} cannot be searched exhaustively (it is not enumerable here; "
                             "the U-Net spaces are)")
    if any(m.kind != "autobuild" for m in members):
        raise AutobuildError("Exhaustive Search runs AutoBuild predictors (train without --kind)")
    codes = space.all_codes() if codes is None else np.asarray(codes)
    w = np.array([max(float(m.report["test"]["srcc_pred"]), 0.0) for m in members])
    if not w.sum() > 0:
        w = np.ones(len(members))
    windows = {len(m.torch_model().convs) for m in members}
    plans = {k: Plan(space, codes, k) for k in windows}  # built once: independent of the weights
    total = np.zeros(len(codes))
    for i, (m, wi) in enumerate(zip(members, w)):
        model = m.torch_model()
        total += wi * plans[len(model.convs)].predict(model)
        if progress:
            progress(i + 1, len(members))
    pred = total / w.sum()
    order = np.argsort(-pred, kind="stable")[:top]
    return {"codes": codes, "pred": pred, "top": order, "weights": w}
