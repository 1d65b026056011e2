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
        return self._table()[0]

    def _table(self) -> tuple[torch.Tensor, torch.Tensor, list]:
        """:meth:`table`, the gathered output weights of the categorical rows and, per numeric
        category, ``(position in category order, values, pre-activation, activation, output weight)``."""
        owner = self.emb_owner
        w_own = self.out_w[owner]  # [total, dim]
        cat_scalars = (self.emb * w_own).sum(1) + self.out_b[owner]
        parts, mlps = [], []
        for i, ((kind, j), size) in enumerate(zip(self._order, self.sizes)):
            if kind == "cat":
                parts.append(cat_scalars[self._cat_start[j] : self._cat_start[j] + size])
                continue
            lin1, lin2 = self.numeric[j][0], self.numeric[j][2]
            vals = getattr(self, f"num_values_{j}")
            z = torch.addmm(lin1.bias, vals, lin1.weight.t())  # [size, dim]: numeric[j] step by step
            a = torch.relu(z)
            parts.append(torch.addmm(lin2.bias, a, lin2.weight.t()).squeeze(1))
            mlps.append((i, vals, z, a, lin2.weight))
        return torch.cat(parts), w_own, mlps

    @torch.no_grad()
    def table_and_vjp(self) -> tuple[torch.Tensor, Callable[[torch.Tensor], list[torch.Tensor]]]:
        """:meth:`table` without autograd, and its vector-Jacobian product: ``vjp(d_table)`` gives the
        gradient of every parameter, in :meth:`parameters` order (the fused training loss,
        :mod:`.chain_encoder`, takes it by hand: two dozen autograd nodes on tensors of a few dozen
        numbers cost a training step about 0.5 ms)."""
        table, w_own, mlps = self._table()
        bounds = self.offsets.tolist() + [table.shape[0]]
        owner = self.emb_owner

        def vjp(d_table: torch.Tensor) -> list[torch.Tensor]:
            # Categorical rows in cat_ids order: the categorical categories in category order.
            d_cat = torch.cat([d_table[bounds[i] : bounds[i + 1]] for i, (kind, _) in enumerate(self._order)
                               if kind == "cat"]) if self.emb.shape[0] else d_table.new_zeros(0)
            grads = [d_cat.unsqueeze(1) * w_own,
                     torch.zeros_like(self.out_w).index_add_(0, owner, d_cat.unsqueeze(1) * self.emb),
                     torch.zeros_like(self.out_b).index_add_(0, owner, d_cat)]
            for i, vals, z, a, w2 in mlps:
                d_o = d_table[bounds[i] : bounds[i + 1]].unsqueeze(1)  # [size, 1]
                d_z = (d_o * w2).mul_(z > 0)  # [size, dim]
                grads += [d_z.t().mm(vals), d_z.sum(0), d_o.t().mm(a), d_o.sum(0)]
            return grads

        return table, vjp

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
