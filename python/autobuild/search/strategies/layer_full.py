"""``layer-full``: each child adds, removes or edits one layer (or changes one global value) of its
parent, anywhere in the full space (paper Sec. 7.5)."""

from __future__ import annotations

from typing import Any

from .base import Strategy


def make(space: Any, reduced: Any = None, device: str | None = None) -> Strategy:
    return Strategy.full("layer-full", space, "layer")
