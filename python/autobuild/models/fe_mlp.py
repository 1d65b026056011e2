"""Feature Embedding MLP (paper Sec. 4.3, supp. 7.1).

Every node-feature category gets its own small feed-forward module that maps the category's value
to ONE scalar; the scalars are concatenated and passed through ``abs`` to form the 0-hop node
embedding ``h_v^0``. Because categories never interact before the message passing, ``|module_c(v)|``
is directly the importance score of value ``v`` of category ``c`` (Figs. 3, 9, 10).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..spaces.macro import FeatureCategory


class _Categorical(nn.Module):
    """Embedding of the value index followed by a linear map to a scalar."""

    def __init__(self, size: int, dim: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(size, dim)
        self.out = nn.Linear(dim, 1)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.out(self.emb(idx))


class _Numeric(nn.Module):
    """1 -> dim -> 1 MLP on the standardised numeric value (looked up from the value index)."""

    def __init__(self, values: Sequence[float], scale: tuple[float, float], dim: int) -> None:
        super().__init__()
        mu, sd = scale
        self.register_buffer("table", torch.tensor([(float(v) - mu) / sd for v in values]).unsqueeze(1))
        self.mlp = nn.Sequential(nn.Linear(1, dim), nn.ReLU(), nn.Linear(dim, 1))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.table[idx])


class FEMLP(nn.Module):
    """``x: int64[N, F]`` value indices -> ``h0: float[N, F]`` non-negative 0-hop embeddings."""

    def __init__(self, categories: Sequence[FeatureCategory], dim: int = 8) -> None:
        super().__init__()
        self.names = [c.name for c in categories]
        self.modules_ = nn.ModuleList(
            _Numeric(c.values, c.scale, dim) if c.numeric else _Categorical(c.size, dim) for c in categories
        )

    @property
    def out_dim(self) -> int:
        return len(self.modules_)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cols = [m(x[:, i]) for i, m in enumerate(self.modules_)]
        return torch.cat(cols, dim=1).abs()

    @torch.no_grad()
    def importance(self) -> dict[str, list[float]]:
        """Importance ``|module_c(v)|`` of every value of every category (Figs. 9/10)."""
        out = {}
        for name, m in zip(self.names, self.modules_):
            n = m.table.shape[0] if isinstance(m, _Numeric) else m.emb.num_embeddings
            idx = torch.arange(n)
            out[name] = m(idx).abs().squeeze(1).tolist()
        return out
