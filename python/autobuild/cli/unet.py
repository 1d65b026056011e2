"""``autobuild unet``: a real U-Net of an SD-space arch, saved as a diffusers model folder
(:mod:`autobuild.networks.unet_build`)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import AutobuildError
from .options import QUIET, seed_option


@click.command("unet", short_help="Build a U-Net arch from diffusers blocks; save it as a model folder.")
@click.option("--space", "space_name", default="sdv14-unet", show_default=True, help="sdv14-unet or sdv14-unet-hw.")
@click.option("--arch", "arch_spec", required=True, help="Arch as inline JSON, or @FILE (a JSON arch, or a CSV/JSONL, see --row).")
@click.option("--row", type=click.IntRange(1, 10_000_000), default=None, help="Row of a CSV/JSONL --arch file [default: 1].")
@click.option("--check-latent", type=click.IntRange(8, 512), default=16, show_default=True,
              help="Side of the latent of the forward pass that checks the network (64 is the paper's; smaller "
                   "is quicker on a CPU; a multiple of 8).")
@click.option("--parent", type=click.Path(file_okay=False), default=None,
              help="A U-Net model folder (e.g. the original inpainting_big layout, written by `autobuild unet`) "
                   "whose weights the child inherits, sliced as OFA slices its supernet.")
@click.option("--onnx", "onnx_out", type=click.Path(dir_okay=False), default=None,
              help="Also write the U-Net as ONNX (inputs sample [1, 7, L, L] and timestep, L = --check-latent), "
                   "checked with onnx.checker and against PyTorch on ONNX Runtime.")
@seed_option("Seed of the random weights.")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Model folder to write (diffusers format).")
@click.option("--overwrite", is_flag=True, help="Replace an existing folder.")
@QUIET
def unet(space_name: str, arch_spec: str, row: int | None, check_latent: int, parent: str | None,
         onnx_out: str | None, seed: int, out: str, overwrite: bool, quiet: bool) -> None:
    """Assemble the arch's U-Net from diffusers building blocks (ResnetBlock2D, Attention, resnet
    up/down-sampling, time embedding; 7 input and 3 output channels, no cross-attention), run one
    forward pass, and save it with save_pretrained (config.json + safetensors weights). Load it back
    with autobuild.networks.unet_build.unet_class().from_pretrained(OUT)."""
    from ..io_utils import atomic_dir
    from ..spaces import get_space
    from .options import parse_arch

    if check_latent % 8:
        raise click.BadParameter(f"{check_latent} is not a multiple of 8 (three downsamplings)",
                                 param_hint="--check-latent")
    sp = get_space(space_name)
    if sp.network_family != "sd-unet":
        raise AutobuildError(f"--space {space_name}: U-Nets are built for the U-Net spaces (sdv14-unet, sdv14-unet-hw)")
    try:
        arch = sp.validate(parse_arch(arch_spec, row))
    except AutobuildError as e:
        raise AutobuildError(f"--arch: {e}") from None
    out_p = Path(out)
    if out_p.exists() and not overwrite:
        raise AutobuildError(f"{out}: exists (pass --overwrite to replace it)")
    if onnx_out and Path(onnx_out).exists() and not overwrite:
        raise AutobuildError(f"{onnx_out}: exists (pass --overwrite to replace it)")
    if not quiet:
        click.echo("building the U-Net (loading PyTorch and diffusers)...", err=True)
    import torch

    from ..networks.unet_build import build_unet
    from ..networks.unet_counts import count_unet_arch

    parent_net = None
    if parent:  # checked (and loaded) before minutes go into building the child
        from ..networks.unet_inherit import inherit, load_parent

        parent_net = load_parent(parent)
    net = build_unet(sp, arch, seed)
    inherited = ""
    if parent_net is not None:
        c = inherit(net, parent_net)
        inherited = (f"; inherited from {parent}: {c['whole']} tensors whole, {c['part']} sliced, "
                     f"{c['fresh']} not in the parent (random)")
    x = torch.randn(1, 7, check_latent, check_latent, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        y = net(x, 10)
    if tuple(y.shape) != (1, 3, check_latent, check_latent) or not bool(torch.isfinite(y).all()):
        raise AutobuildError(f"the U-Net's forward pass gave {tuple(y.shape)} (finite: {bool(torch.isfinite(y).all())})")
    onnx_note = ""
    if onnx_out:
        if not quiet:
            click.echo("exporting ONNX...", err=True)
        from ..networks.unet_build import export_unet_onnx

        d = export_unet_onnx(net, x, onnx_out)
        onnx_note = f"; wrote {onnx_out} (ONNX Runtime vs PyTorch: max abs diff {d:.2g})"
    with atomic_dir(out_p) as tmp:
        net.save_pretrained(tmp, safe_serialization=True)
    params, flops = count_unet_arch(arch)
    if not quiet:
        click.echo(f"saved {out}: {params:,} parameters, {flops / 1e9:,.1f} GFLOPs at a 64 x 64 latent; forward pass on "
                   f"{check_latent} x {check_latent}: ok{inherited}{onnx_note}")
