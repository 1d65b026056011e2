"""Real U-Nets of the SD v1.4 inpainting spaces, assembled from ``diffusers`` building blocks
(issue 15 sec. 2; the original: CompVis ``inpainting_big``, ``shared/designs/sd-unet.md``).

No stock diffusers class expresses these archs: ``UNet2DModel`` has one block count for every
stage (``layers_per_block``, and ``+ 1`` output blocks) and one ``attention_head_dim``, so not
8 heads at every width; not even the original is one (768 and 1024 channels need head dims 96
and 128). :class:`SearchedUNet` assembles the blocks:

* time embedding: ``Timesteps(C_m)`` + ``TimestepEmbedding(C_m, 4 C_m)``;
* ``conv_in`` 3x3, 7 -> C_m; input stage ``s``: ``res_in[s]`` ``ResnetBlock2D`` (each followed by
  an ``Attention`` block when ``attn_in[s]``; 8 heads, group norm, residual: LDM's AttentionBlock
  as diffusers converts it), then (stages 1-3) a ``ResnetBlock2D(down=True)`` (``resblock_updown``);
* middle: ``ResnetBlock2D``, ``Attention``, ``ResnetBlock2D`` at stage 4's channels;
* output stage ``s`` (4..1): ``res_out[s]`` ``ResnetBlock2D`` on the concatenation of the running
  tensor and a skip, (``Attention`` when ``attn_out[s]``), then (stages 4-2) ``ResnetBlock2D(up=True)``;
* ``GroupNorm`` + SiLU + ``conv_out`` 3x3, C_m -> 3. No cross-attention (concat conditioning only).

**The skip rule** (the original's, generalised to unequal depths): the skips of stage ``s`` are
the tensor entering input stage ``s`` (``conv_in``'s output, or the previous stage's downsampled
output) and the output of each of its blocks, ``res_in[s] + 1`` tensors at that resolution. Output
block ``j`` of stage ``s`` concatenates the most recent skip of the stage not yet taken (as the
original pops its stack); a stage with more output blocks than skips runs its extra (last) blocks
without a skip, and skips left over are not used. With ``res_in = 2`` and ``res_out = 3`` (the
original) every block takes exactly one skip, as in ``inpainting_big``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from ..errors import AutobuildError

ARCH_KEYS = ("cm", "mult", "res_in", "res_out", "attn_in", "attn_out")


def _diffusers() -> Any:
    try:
        import torch  # noqa: F401 - fail early with the install hint
        from diffusers import ConfigMixin, ModelMixin
        from diffusers.configuration_utils import register_to_config
        from diffusers.models.attention_processor import Attention
        from diffusers.models.embeddings import TimestepEmbedding, Timesteps
        from diffusers.models.resnet import ResnetBlock2D
    except ImportError as e:
        raise AutobuildError(f"building U-Nets needs torch and diffusers (pip install 'autobuild[nets]'): {e}") from None
    return ConfigMixin, ModelMixin, register_to_config, Attention, TimestepEmbedding, Timesteps, ResnetBlock2D


def skip_plan(res_in: Sequence[int], res_out: Sequence[int]) -> list[list[bool]]:
    """Per output stage (network order 4..1), per block: whether it takes a skip (the rule above)."""
    return [[j < res_in[s] + 1 for j in range(res_out[s])] for s in reversed(range(len(res_in)))]


def _make_class() -> type:
    ConfigMixin, ModelMixin, register_to_config, Attention, TimestepEmbedding, Timesteps, ResnetBlock2D = _diffusers()
    import torch
    from torch import nn

    class SearchedUNet(ModelMixin, ConfigMixin):
        """A U-Net of an ``sdv14-unet`` arch (see the module docstring); ``forward(sample [B, 7, H, W],
        timestep [B] or scalar) -> [B, 3, H, W]``."""

        config_name = "config.json"

        @register_to_config
        def __init__(self, cm: int = 256, mult: Sequence[int] = (1, 2, 3, 4), res_in: Sequence[int] = (2, 2, 2, 2),
                     res_out: Sequence[int] = (3, 3, 3, 3), attn_in: Sequence[int] = (0, 0, 1, 1),
                     attn_out: Sequence[int] = (0, 0, 1, 1), in_channels: int = 7, out_channels: int = 3,
                     heads: int = 8, groups: int = 32) -> None:
            super().__init__()
            ch = [cm * m for m in mult]
            temb = 4 * cm
            self.time_proj = Timesteps(cm, flip_sin_to_cos=True, downscale_freq_shift=0)
            self.time_embedding = TimestepEmbedding(cm, temb)
            self.conv_in = nn.Conv2d(in_channels, cm, 3, padding=1)

            def res(i: int, o: int, **kw: Any) -> nn.Module:
                return ResnetBlock2D(in_channels=i, out_channels=o, temb_channels=temb, groups=groups, eps=1e-5, **kw)

            def attn(c: int) -> nn.Module:
                return Attention(c, heads=heads, dim_head=c // heads, rescale_output_factor=1.0, eps=1e-5,
                                 norm_num_groups=groups, residual_connection=True, bias=True, upcast_softmax=True,
                                 _from_deprecated_attn_block=True)

            self.down_blocks, self.down_attns, self.downsamplers = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
            skip_ch: list[list[int]] = []
            cur = cm
            for s in range(4):
                stage_skips = [cur]
                blocks, attns = nn.ModuleList(), nn.ModuleList()
                for _ in range(res_in[s]):
                    blocks.append(res(cur, ch[s]))
                    attns.append(attn(ch[s]) if attn_in[s] else nn.Identity())
                    cur = ch[s]
                    stage_skips.append(cur)
                self.down_blocks.append(blocks)
                self.down_attns.append(attns)
                self.downsamplers.append(res(cur, cur, down=True) if s < 3 else nn.Identity())
                skip_ch.append(stage_skips)
            self.mid = nn.ModuleList([res(cur, cur), attn(cur), res(cur, cur)])
            # Input channels of the blocks that read a concatenation: (running tensor, skip), for
            # weight inheritance (networks/unet_inherit.py slices each part separately).
            self.concat_inputs: dict[str, tuple[int, int]] = {}
            self.up_blocks, self.up_attns, self.upsamplers = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
            for k, s in enumerate(reversed(range(4))):
                plan = skip_plan(res_in, res_out)[k]
                stack = list(skip_ch[s])
                blocks, attns = nn.ModuleList(), nn.ModuleList()
                for j, takes in enumerate(plan):
                    extra = stack.pop() if takes else 0
                    self.concat_inputs[f"up_blocks.{k}.{j}"] = (cur, extra)
                    blocks.append(res(cur + extra, ch[s]))
                    attns.append(attn(ch[s]) if attn_out[s] else nn.Identity())
                    cur = ch[s]
                self.up_blocks.append(blocks)
                self.up_attns.append(attns)
                self.upsamplers.append(res(cur, cur, up=True) if s > 0 else nn.Identity())
            self.conv_norm_out = nn.GroupNorm(groups, cur, eps=1e-5)
            self.conv_act = nn.SiLU()
            self.conv_out = nn.Conv2d(cur, out_channels, 3, padding=1)
            self._plan = skip_plan(res_in, res_out)

        def forward(self, sample: torch.Tensor, timestep: torch.Tensor | float | int) -> torch.Tensor:
            t = torch.as_tensor(timestep, dtype=sample.dtype, device=sample.device).reshape(-1)
            t = t.expand(sample.shape[0]) if t.numel() == 1 else t
            emb = self.time_embedding(self.time_proj(t).to(sample.dtype))
            h = self.conv_in(sample)
            skips: list[list[torch.Tensor]] = []
            for s in range(4):
                stage = [h]
                for block, at in zip(self.down_blocks[s], self.down_attns[s]):
                    h = at(block(h, emb))
                    stage.append(h)
                skips.append(stage)
                if s < 3:
                    h = self.downsamplers[s](h, emb)
            h = self.mid[2](self.mid[1](self.mid[0](h, emb)), emb)
            for k, s in enumerate(reversed(range(4))):
                stack = list(skips[s])
                for takes, block, at in zip(self._plan[k], self.up_blocks[k], self.up_attns[k]):
                    if takes:
                        h = torch.cat([h, stack.pop()], dim=1)
                    h = at(block(h, emb))
                if s > 0:
                    h = self.upsamplers[k](h, emb)
            return self.conv_out(self.conv_act(self.conv_norm_out(h)))

    return SearchedUNet


_CLASS: list[type] = []


def unet_class() -> type:
    """The ``SearchedUNet`` class (a diffusers ``ModelMixin``: ``save_pretrained`` /
    ``from_pretrained``), made on first use so that importing autobuild needs no diffusers."""
    if not _CLASS:
        _CLASS.append(_make_class())
    return _CLASS[0]


def build_unet(space: Any, arch: dict, seed: int = 0) -> Any:
    """The U-Net of ``arch`` (validated by ``space``), randomly initialised (seeded), eval mode."""
    import torch

    canon = space.validate(arch)
    torch.manual_seed(seed)
    return unet_class()(**{k: canon[k] for k in ARCH_KEYS}).eval()


def export_unet_onnx(net: Any, sample: Any, path: str | Path, opset: int = 17) -> float:
    """Write ``net`` as ONNX (inputs ``sample`` and ``timestep``, output ``noise``), checked with
    ``onnx.checker`` and against PyTorch on ONNX Runtime; returns the max abs difference."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch

    from ..io_utils import atomic_write_bytes
    from .ofa_build import onnx_bytes

    t = torch.tensor([10.0])
    data = onnx_bytes(net, {"sample": sample, "timestep": t}, opset, output="noise")
    onnx.checker.check_model(onnx.load_from_string(data))
    got = ort.InferenceSession(data, providers=["CPUExecutionProvider"]).run(
        None, {"sample": sample.numpy(), "timestep": t.numpy()})[0]
    with torch.no_grad():
        ref = net(sample, t).numpy()
    diff = float(np.max(np.abs(got - ref)))
    if diff > 1e-3 * max(float(np.max(np.abs(ref))), 1e-6) + 1e-4:
        raise AutobuildError(f"U-Net ONNX export differs from PyTorch by {diff:.3g}")
    atomic_write_bytes(path, data)
    return diff
