"""The ``count:SPACE`` evaluator of the search: exact ``macs`` and ``params`` of OFA archs (``flops``
and ``params`` of U-Nets; :mod:`autobuild.networks.counts`), e.g. ``search --evaluator "onnx:acc=runs/acc;count:ofa-mbv3" --objectives
acc:max,macs:min`` to trade predicted accuracy against MACs without a latency model."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ...errors import AutobuildError


def from_spec(args: str) -> Callable[[list], dict]:
    """``args``: the space (``ofa-mbv3``, ``ofa-pn``, a U-Net space: any space with exact counts)."""
    from ...networks.counts import count_codes, counted_metrics
    from ...spaces import get_space
    from ...spaces.protocol import require

    name = args.strip()
    if not name:
        raise AutobuildError("evaluator count:SPACE needs the space, e.g. count:ofa-mbv3")
    space = get_space(name)
    require(space, "counts", f"evaluator count:{name}")

    def evaluate(archs: list) -> dict[str, np.ndarray]:
        return {k: v.astype(np.float64) for k, v in count_codes(space, space.encode(archs)).items()}

    evaluate.provides = counted_metrics(space)  # type: ignore[attr-defined]
    return evaluate
