"""Weight inheritance for U-Nets of the SD spaces (issue 15 sec. 2; paper Sec. 5.3: candidates
inherit the original U-Net's weights before fine-tuning).

A child :class:`~.unet_build.SearchedUNet` takes every tensor of the parent that it has by name
(same section, stage and block index: a child keeps the first ``res_in`` / ``res_out`` blocks of
each stage), sliced as OFA slices its supernet: the leading channels of every dimension. Three
structures are sliced part by part so that channels keep their meaning:

* the input of an output block is ``[running tensor, skip]``: each part's leading channels come from
  the parent's same part (``norm1``, ``conv1`` and ``conv_shortcut`` inputs);
* attention projections are ``heads x dim_head``: the leading ``dim_head`` channels of every head
  (``to_q`` / ``to_k`` / ``to_v`` outputs, ``to_out`` input);
* where the child is wider than the parent, the parent's channels fill the leading part and the
  rest keeps its random initialisation.

Approximate where the architecture changes meaning: a smaller C_m changes the sinusoidal time
features the time embedding reads (their leading part is copied like any other channel).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from ..errors import AutobuildError

_CONCAT = {"norm1.weight": 0, "norm1.bias": 0, "conv1.weight": 1, "conv_shortcut.weight": 1}
_HEAD_OUT = ("to_q.weight", "to_q.bias", "to_k.weight", "to_k.bias", "to_v.weight", "to_v.bias")
_HEAD_IN = ("to_out.0.weight",)


def _segments(name: str, dim: int, c: int, p: int, child: Any, parent: Any) -> list[tuple[int, int, int]]:
    """``(child start, parent start, length)`` runs copied along ``dim`` of tensor ``name``."""
    block, _, leaf = name.rpartition(".")
    block, _, leaf2 = block.rpartition(".")
    leaf = f"{leaf2}.{leaf}"
    if _CONCAT.get(leaf) == dim and block in child.concat_inputs and block in parent.concat_inputs:
        (cc, cs), (pc, ps) = child.concat_inputs[block], parent.concat_inputs[block]
        return [(0, 0, min(cc, pc)), (cc, pc, min(cs, ps))]
    heads = int(child.config.heads)
    if (name.endswith(_HEAD_OUT) and dim == 0) or (name.endswith(_HEAD_IN) and dim == 1):
        dc, dp = c // heads, p // heads
        return [(h * dc, h * dp, min(dc, dp)) for h in range(heads)]
    return [(0, 0, min(c, p))]


def inherit(child: Any, parent: Any) -> dict:
    """Copy ``parent``'s weights into ``child`` (both ``SearchedUNet``) in place; returns counts of
    tensors copied whole, in part, and left at their initialisation."""
    import torch

    if int(child.config.heads) != int(parent.config.heads):
        raise AutobuildError("parent and child U-Nets must have the same number of attention heads")
    pstate = parent.state_dict()
    whole = part = fresh = 0
    with torch.no_grad():
        for name, t in child.state_dict().items():
            src = pstate.get(name)
            if src is None or src.dim() != t.dim():
                fresh += 1
                continue
            runs = [_segments(name, d, t.shape[d], src.shape[d], child, parent) for d in range(t.dim())]
            for combo in itertools.product(*runs):
                dst_idx = tuple(slice(c0, c0 + n) for c0, _, n in combo)
                src_idx = tuple(slice(p0, p0 + n) for _, p0, n in combo)
                t[dst_idx].copy_(src[src_idx])
            if tuple(t.shape) == tuple(src.shape) and all(len(r) == 1 or all(c0 == p0 for c0, p0, _ in r) for r in runs):
                whole += 1
            else:
                part += 1
    return {"whole": whole, "part": part, "fresh": fresh}


def load_parent(path: str | Path) -> Any:
    """A ``SearchedUNet`` model folder (``autobuild unet`` writes them), loaded from safetensors only."""
    from .unet_build import unet_class

    p = Path(path)
    if not (p / "config.json").is_file() or not (p / "diffusion_pytorch_model.safetensors").is_file():
        raise AutobuildError(f"{path}: not a U-Net model folder (config.json and diffusion_pytorch_model.safetensors)")
    try:
        from diffusers.utils import logging as dlog

        dlog.set_verbosity_error()  # not "install accelerate": the folder is small enough to load plainly
        return unet_class().from_pretrained(str(p), use_safetensors=True, low_cpu_mem_usage=False).eval()
    except Exception as e:  # noqa: BLE001 - any unreadable folder: one line
        raise AutobuildError(f"{path}: cannot load the parent U-Net ({str(e).splitlines()[0][:200] if str(e) else type(e).__name__})") from None
