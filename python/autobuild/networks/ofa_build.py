"""OFA subnets as PyTorch modules and their ONNX export (needs torch and the ``ofa`` package).

The supernets are those the spaces describe (:mod:`autobuild.spaces.ofa`):
``OFAMobileNetV3(width_mult=1.2)`` and ``OFAProxylessNASNets(width_mult=1.3)``, ks {3, 5, 7},
e {3, 4, 6}, d {2, 3, 4}. A subnet is ``set_active_subnet(ks, e, d)`` then
``get_active_subnet(preserve_weight=True)``: it inherits the supernet's weights, randomly
initialised (seeded) or loaded from a supernet weight file the user has (safetensors, or a torch
checkpoint read with ``weights_only=True``: no pickle code runs).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AutobuildError

_SUPERNETS: dict[tuple[str, str, int], Any] = {}


def supernet(space_name: str, weights: str | Path | None = None, seed: int = 0) -> Any:
    """The space's OFA supernet (cached per process, weights file and seed)."""
    key = (space_name, str(weights or ""), seed)
    if key in _SUPERNETS:
        return _SUPERNETS[key]
    try:
        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3, OFAProxylessNASNets
    except ImportError as e:
        raise AutobuildError(f"building networks needs torch and the ofa package (pip install 'autobuild[nets]'): "
                             f"{e}") from None
    kw = dict(ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4])
    torch.manual_seed(seed)
    if space_name == "ofa-mbv3":
        net = OFAMobileNetV3(width_mult=1.2, **kw)
    elif space_name == "ofa-pn":
        net = OFAProxylessNASNets(width_mult=1.3, **kw)
    else:
        raise AutobuildError(f"networks are built for ofa-mbv3 and ofa-pn, not {space_name!r}")
    if weights is not None:
        _load_weights(net, Path(weights))
    net.eval()
    _SUPERNETS.clear()  # one supernet at a time: each holds tens of MB
    _SUPERNETS[key] = net
    return net


def _load_weights(net: Any, path: Path) -> None:
    import torch

    if not path.is_file():
        raise AutobuildError(f"{path}: no such weight file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file: one line
        raise AutobuildError(f"{path}: cannot read weights: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # ofa's checkpoints wrap the state dict
    if not isinstance(state, dict):
        raise AutobuildError(f"{path}: not a state dict")
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise AutobuildError(f"{path}: does not fit the supernet: {str(e).splitlines()[0]}") from None


def build_subnet(space: Any, arch: dict, weights: str | Path | None = None, seed: int = 0) -> Any:
    """The PyTorch subnet of ``arch`` (validated here; eval mode)."""
    canon = space.validate(arch)  # every slot filled (inactive ones repeat the stage's last layer), as ofa wants
    net = supernet(space.name, weights, seed)
    # ProxylessNAS's 6th stage (one layer) is fixed in ofa: five depths.
    net.set_active_subnet(ks=canon["ks"], e=canon["e"], d=canon["d"][:5])
    return net.get_active_subnet(preserve_weight=True).eval()


def onnx_bytes(net: Any, x: Any, opset: int = 17, output: str = "logits") -> bytes:
    """The TorchScript-traced ONNX export of a network at the input ``x`` (a tensor, named
    ``image``, or a dict of named input tensors), one output named ``output``."""
    import io

    import torch

    inputs = x if isinstance(x, dict) else {"image": x}
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, tuple(inputs.values()), buf, input_names=list(inputs), output_names=[output],
                          opset_version=opset, dynamo=False)
    return buf.getvalue()


def export_subnet(space: Any, arch: dict, path: str | Path, weights: str | Path | None = None, seed: int = 0,
                  opset: int = 17, status: Any = None) -> dict:
    """Write the subnet of ``arch`` as ONNX (input ``image [1, 3, r, r]``, output ``logits``),
    checked with ``onnx.checker`` and against PyTorch on ONNX Runtime; returns what was checked.
    ``status(message)`` is told of each step (they take seconds)."""
    say = status or (lambda _m: None)
    say("loading PyTorch and ofa")
    import onnx
    import onnxruntime as ort
    import torch

    from ..io_utils import atomic_write_bytes
    from .ofa_counts import count_arch

    canon = space.validate(arch)
    say("building the subnet" + (f" from {weights}" if weights else " (random weights)"))
    net = build_subnet(space, canon, weights, seed)
    r = int(canon["r"])
    x = torch.randn(1, 3, r, r, generator=torch.Generator().manual_seed(seed))
    say("exporting ONNX")
    data = onnx_bytes(net, x, opset)
    say("checking it with onnx.checker and against PyTorch on ONNX Runtime")
    proto = onnx.load_from_string(data)
    onnx.checker.check_model(proto)
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        ref = net(x).numpy()
    diff = float(np.max(np.abs(got - ref)))
    scale = max(float(np.max(np.abs(ref))), 1e-12)
    if diff > 1e-3 * scale + 1e-5:
        raise AutobuildError(f"ONNX export differs from PyTorch by {diff:.3g} (logits up to {scale:.3g})")
    atomic_write_bytes(path, data)
    macs, params = count_arch(space.name, canon)
    return {"resolution": r, "opset": opset, "max_abs_diff": diff, "macs": macs, "params": params,
            "nodes": len(proto.graph.node)}
