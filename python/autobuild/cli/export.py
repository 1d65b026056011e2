"""``autobuild export``: an OFA arch's subnet as ONNX."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import AutobuildError
from .app import cli
from .options import OVERWRITE, QUIET, SPACE, network_space, seed_option


@cli.command("export", short_help="Build an OFA arch's subnet and write it as ONNX.")
@SPACE
@click.option("--arch", "arch_spec", required=True,
              help="Arch as inline JSON, or @FILE (a JSON arch, or a CSV/JSONL, see --row). ofa's own "
                   "convention is accepted: image_size for r.")
@click.option("--row", type=click.IntRange(1, 10_000_000), default=None, help="Row of a CSV/JSONL --arch file [default: 1].")
@click.option("--resolution", type=click.IntRange(32, 1024), default=None,
              help="Input resolution for an arch without r (or image_size).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None,
              help="Supernet weights (.safetensors, or a torch checkpoint, read without running pickle code) "
                   "[default: random, seeded].")
@seed_option("Seed of the random weights and of the parity-check input.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="ONNX file to write.")
@OVERWRITE
@QUIET
def export_cmd(space_name: str | None, arch_spec: str, row: int | None, resolution: int | None, weights: str | None,
               seed: int, out: str, overwrite: bool, quiet: bool) -> None:
    """Build the PyTorch subnet of an OFA arch with the ofa package and write it as ONNX at the arch's
    resolution (batch 1), checked with onnx.checker and against PyTorch on ONNX Runtime."""
    from ..networks.ofa_build import export_subnet
    from .options import parse_arch

    sp = network_space(space_name)
    if Path(out).exists() and not overwrite:
        raise AutobuildError(f"{out}: exists; pass --overwrite to replace it")
    arch = dict(parse_arch(arch_spec, row))
    if "r" not in arch and "image_size" not in arch and resolution is not None:
        arch["r"] = resolution
    sp.validate(arch)
    info = export_subnet(sp, arch, out, weights=weights, seed=seed,
                         status=None if quiet else (lambda m: click.echo(m + "...", err=True)))
    if not quiet:
        click.echo(f"wrote {out}: {sp.name} subnet at {info['resolution']}x{info['resolution']}, "
                   f"{info['macs'] / 1e6:.1f} M MACs, {info['params'] / 1e6:.2f} M params, {info['nodes']} ONNX nodes; "
                   f"ONNX Runtime = PyTorch within {info['max_abs_diff']:.2g}", err=True)
