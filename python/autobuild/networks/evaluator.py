"""The ``count:SPACE`` evaluator of the search: exact ``macs`` and ``params`` of OFA archs
(:mod:`.ofa_counts`), e.g. ``search --evaluator "onnx:acc=runs/acc;count:ofa-mbv3" --objectives
acc:max,macs:min`` to trade predicted accuracy against MACs without a latency model."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import AutobuildError


def from_spec(args: str) -> Callable[[list], dict]:
    """``args``: the space name (``ofa-mbv3`` or ``ofa-pn``)."""
    from ..spaces import get_space
    from .ofa_counts import count_codes, network

    name = args.strip()
    if not name:
        raise AutobuildError("evaluator count:SPACE needs the space, e.g. count:ofa-mbv3")
    network(name)
    space = get_space(name)

    def evaluate(archs: list) -> dict[str, np.ndarray]:
        macs, params = count_codes(space, space.encode(archs))
        return {"macs": macs.astype(np.float64), "params": params.astype(np.float64)}

    evaluate.provides = ("macs", "params")  # type: ignore[attr-defined]
    return evaluate
