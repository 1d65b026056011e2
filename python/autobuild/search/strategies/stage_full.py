"""``stage-full``: each child swaps one whole module (or one global value) of its parent for a random
one of the full space (paper Sec. 7.5)."""

from __future__ import annotations

from typing import Any

from .base import Strategy


def make(space: Any, reduced: Any = None, device: str | None = None) -> Strategy:
    return Strategy.full("stage-full", space, "stage-full")
