"""Exact counts of real networks, for every space with the ``counts`` capability: ``macs`` and
``params`` of OFA subnets (:mod:`.ofa_counts`), ``flops`` (64 x 64 latent) and ``params`` of
Stable Diffusion U-Nets (:mod:`.unet_counts`), chosen by the space's ``network_family``.

    autobuild.count("ofa-mbv3", archs)   # {"macs": int64[n], "params": int64[n]}

A new family is one counting module and one :func:`register_counter` line below.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import AutobuildError
from ..spaces.protocol import require

#: network family -> ("module:function" of ``count(space, codes) -> {metric: int64[n]}``, its metrics).
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {}


def register_counter(family: str, counter: str, metrics: tuple[str, ...]) -> None:
    """Make spaces of ``family`` countable by ``counter`` (``"module:function"``), giving ``metrics``."""
    COUNTERS[family] = (counter, metrics)


register_counter("ofa-mbv3", "autobuild.networks.ofa_counts:count_metrics", ("macs", "params"))
register_counter("ofa-pn", "autobuild.networks.ofa_counts:count_metrics", ("macs", "params"))
register_counter("sd-unet", "autobuild.networks.unet_counts:count_metrics", ("flops", "params"))


def counted_metrics(space: Any) -> tuple[str, ...]:
    """The metrics :func:`count_codes` gives for ``space`` (empty without the ``counts`` capability)."""
    family = getattr(space, "network_family", None)
    if "counts" not in getattr(space, "capabilities", ()) or family not in COUNTERS:
        return ()
    return COUNTERS[family][1]


def _counter(space: Any) -> Callable[[Any, np.ndarray], dict]:
    require(space, "counts", "counting MACs / FLOPs and parameters")
    family = space.network_family
    if family not in COUNTERS:
        raise AutobuildError(f"space {space.name!r}: no counter for networks of family {family!r} "
                             f"(known: {', '.join(COUNTERS)})")
    mod, _, fn = COUNTERS[family][0].partition(":")
    return getattr(importlib.import_module(mod), fn)


def count_codes(space: Any, codes: np.ndarray) -> dict[str, np.ndarray]:
    """Exact counts of arch codes (``space.encode``): ``{metric: int64[n]}``."""
    return _counter(space)(space, np.asarray(codes))


def count(space: Any, archs: Sequence[dict]) -> dict[str, np.ndarray]:
    """Exact counts of arch dicts of ``space`` (a name, space file or space object): for OFA spaces
    ``macs`` (multiply-accumulates at batch 1, as the OFA authors' counter) and ``params``; for the
    U-Net spaces ``flops`` at a 64 x 64 latent and ``params``."""
    from ..spaces import get_space

    sp = get_space(space)
    counter = _counter(sp)
    if isinstance(archs, dict):
        raise AutobuildError("count takes a list of arch dicts, got one dict (wrap it in a list)")
    return counter(sp, sp.encode(archs))


def with_counts(space: Any, archs: list, metrics: dict, wanted: Any) -> dict:
    """``metrics`` plus the counted metrics of ``archs`` that ``wanted`` names and the data lacks
    (a column in the data always wins); ``metrics`` unchanged where the space has no counts."""
    need = [m for m in counted_metrics(space) if m in wanted and m not in metrics]
    if not need:
        return metrics
    extra = count_codes(space, space.encode(archs))
    return {**metrics, **{m: extra[m].astype(np.float64) for m in need}}
