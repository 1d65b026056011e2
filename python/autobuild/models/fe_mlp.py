"""Feature Embedding MLP (paper Sec. 4.3, supp. 7.1).

Every node-feature category gets its own small feed-forward module that maps the category's value
to ONE scalar; the scalars are concatenated and passed through ``abs`` to form the 0-hop node
embedding ``h_v^0``. Because categories never interact before the message passing, ``|f_c(v)|``
is directly the importance score of value ``v`` of category ``c`` (Figs. 3, 9, 10).

Categorical categories are an embedding followed by a linear map to a scalar (as the authors'
code); numeric ones (e.g. resolution) a 1 -> dim -> 1 MLP of the standardised value. Since every
category takes finitely many values, the forward pass first evaluates each module on all of its
values (a table of ~30 scalars for the OFA spaces) and then gathers from that table: one gather
per batch whatever the number of categories, which keeps training on a CPU fast.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..spaces.macro import FeatureCategory


class FEMLP(nn.Module):
    """``x: int64[N, F]`` value indices -> ``h0: float[N, F]`` non-negative 0-hop embeddings."""

    def __init__(self, categories: Sequence[FeatureCategory], dim: int = 8) -> None:
        super().__init__()
        self.names = [c.name for c in categories]
        self.sizes = [c.size for c in categories]
        cat_ids = [i for i, c in enumerate(categories) if not c.numeric]
        num_ids = [i for i, c in enumerate(categories) if c.numeric]
        total = sum(categories[i].size for i in cat_ids)
        # Categorical: embedding rows of all categories in one table, one (dim -> 1) map each.
        self.emb = nn.Parameter(torch.randn(total, dim))
        bound = 1.0 / math.sqrt(dim)
        self.out_w = nn.Parameter(torch.empty(len(cat_ids), dim).uniform_(-bound, bound))
        self.out_b = nn.Parameter(torch.empty(len(cat_ids)).uniform_(-bound, bound))
        owner = [j for j, i in enumerate(cat_ids) for _ in range(categories[i].size)]
        self.register_buffer("emb_owner", torch.tensor(owner, dtype=torch.long), persistent=False)
        # Numeric: a 1 -> dim -> 1 MLP of the standardised value, per category.
        self.numeric = nn.ModuleList(nn.Sequential(nn.Linear(1, dim), nn.ReLU(), nn.Linear(dim, 1)) for _ in num_ids)
        for k, i in enumerate(num_ids):
            mu, sd = categories[i].scale
            vals = torch.tensor([(float(v) - mu) / sd for v in categories[i].values]).unsqueeze(1)
            self.register_buffer(f"num_values_{k}", vals, persistent=False)
        # Where each category's scalars sit in the concatenated table, in category order.
        self._order = [("cat", cat_ids.index(i)) if i in cat_ids else ("num", num_ids.index(i)) for i in range(len(categories))]
        offsets, pos = [], 0
        for s in self.sizes:
            offsets.append(pos)
            pos += s
        self.register_buffer("offsets", torch.tensor(offsets, dtype=torch.long), persistent=False)
        self._cat_start = [sum(categories[i].size for i in cat_ids[:j]) for j in range(len(cat_ids))]

    @property
    def out_dim(self) -> int:
        return len(self.sizes)

    def table(self) -> torch.Tensor:
        """Signed scalar ``f_c(v)`` of every value of every category, concatenated in category order."""
        owner = self.emb_owner
        cat_scalars = (self.emb * self.out_w[owner]).sum(1) + self.out_b[owner]
        parts = []
        for (kind, j), size in zip(self._order, self.sizes):
            if kind == "cat":
                parts.append(cat_scalars[self._cat_start[j] : self._cat_start[j] + size])
            else:
                parts.append(self.numeric[j](getattr(self, f"num_values_{j}")).squeeze(1))
        return torch.cat(parts)

    def table_and_vjp(self) -> tuple[torch.Tensor, Callable[[torch.Tensor], list[torch.Tensor]]]:
        """:meth:`table` without autograd, and its vector-Jacobian product: ``vjp(d_table)`` gives the
        gradient of every parameter, in :meth:`parameters` order. For the fused training loss
        (:mod:`.chain_encoder`), in NumPy: two dozen torch operators (or autograd nodes) on tensors of a
        few dozen numbers cost a training step about 0.25 ms, their NumPy equivalents a fifth of that.
        Equal to autograd's to float rounding (``tests/models/test_models.py``)."""
        cat_pos, owner, starts, num = self._plan()
        emb, out_w, out_b = (t.detach().numpy() for t in (self.emb, self.out_w, self.out_b))
        table = np.empty(sum(self.sizes), dtype=emb.dtype)  # every entry is written below
        w_own = out_w[owner]  # [total, dim]
        if len(cat_pos):
            table[cat_pos] = (emb * w_own).sum(1) + out_b[owner]
        mlps = []
        for lo, hi, vals, j in num:
            lin1, lin2 = self.numeric[j][0], self.numeric[j][2]
            w1, b1, w2, b2 = (t.detach().numpy() for t in (lin1.weight, lin1.bias, lin2.weight, lin2.bias))
            z = vals @ w1.T + b1  # [size, dim]
            a = np.maximum(z, 0.0)
            table[lo:hi] = (a @ w2.T + b2)[:, 0]
            mlps.append((lo, hi, vals, z, a, w2))

        def vjp(d_table: torch.Tensor | np.ndarray) -> list[torch.Tensor]:
            d = np.asarray(d_table.detach().numpy() if isinstance(d_table, torch.Tensor) else d_table, dtype=emb.dtype)
            d_cat = d[cat_pos]  # emb row order
            if len(cat_pos):  # sums over each category's rows (every category has a value: Feature)
                grads = [d_cat[:, None] * w_own, np.add.reduceat(d_cat[:, None] * emb, starts, axis=0),
                         np.add.reduceat(d_cat, starts)]
            else:
                grads = [np.zeros_like(emb), np.zeros_like(out_w), np.zeros_like(out_b)]
            for lo, hi, vals, z, a, w2 in mlps:
                d_o = d[lo:hi, None]  # [size, 1]
                d_z = (d_o * w2) * (z > 0)  # [size, dim]
                grads += [d_z.T @ vals, d_z.sum(0), d_o.T @ a, d_o.sum(0)]
            return [torch.from_numpy(np.ascontiguousarray(g, dtype=emb.dtype)) for g in grads]

        return torch.from_numpy(table), vjp

    def _plan(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        """Index arrays of :meth:`table_and_vjp` (made once): the table position and the category of
        every categorical embedding row, the first row of each categorical category, and per numeric
        category its table span, standardised values and module index."""
        plan = self.__dict__.get("_np_plan")
        if plan is None:
            bounds = self.offsets.tolist() + [sum(self.sizes)]
            cat_pos = [p for i, (kind, _) in enumerate(self._order) if kind == "cat" for p in range(bounds[i], bounds[i + 1])]
            num = [(bounds[i], bounds[i + 1], getattr(self, f"num_values_{j}").numpy().astype(np.float32), j)
                   for i, (kind, j) in enumerate(self._order) if kind == "num"]
            if any(self.sizes[i] < 1 for i, (kind, _) in enumerate(self._order) if kind == "cat"):
                raise ValueError("FEMLP: every categorical category needs at least one value")
            plan = self.__dict__["_np_plan"] = (np.asarray(cat_pos, dtype=np.int64), self.emb_owner.numpy(),
                                                np.asarray(self._cat_start, dtype=np.int64), num)
        return plan

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.table()[x + self.offsets].abs()

    @torch.no_grad()
    def importance(self) -> dict[str, list[float]]:
        """Importance ``|f_c(v)|`` of every value of every category (Figs. 9/10)."""
        t = self.table().abs().tolist()
        out, pos = {}, 0
        for name, size in zip(self.names, self.sizes):
            out[name] = t[pos : pos + size]
            pos += size
        return out
