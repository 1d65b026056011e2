"""``autobuild count``: exact MACs / FLOPs and parameters (:func:`autobuild.count`)."""

from __future__ import annotations

from typing import Any

import click

from .app import cli
from .options import QUIET, SPACE, check_outputs, network_space


@cli.command("count", short_help="Exact MACs / FLOPs and parameters of OFA or U-Net archs.")
@SPACE
@click.option("--data", "data", required=True, help="CSV/JSONL with an arch column (other columns are not copied).")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Output CSV/JSONL: arch, macs, params.")
@click.option("--resolution", type=click.IntRange(32, 1024), default=None,
              help="Input resolution of archs without r (ofa's image_size is read as r).")
@QUIET
def count_cmd(space_name: str | None, data: str, out: str, resolution: int | None, quiet: bool) -> None:
    """Multiply-accumulates and parameters of every arch's subnet, counted analytically as the OFA
    authors' flops counter counts them (Conv2d and Linear at batch 1); ofa-mbv3 and ofa-pn. For the
    U-Net spaces: FLOPs at a 64 x 64 latent (as torch.utils.flop_counter) and parameters.

    The same counts are the metrics macs and params of target equations (`train --target
    "acc*100 - macs/1e7"`) when the data has no such columns."""
    from ..data.table import Records, read_records, write_records
    from ..networks.counts import count_codes

    sp = network_space(space_name, ("ofa-mbv3", "ofa-pn", "sd-unet"))  # before reading the data
    check_outputs((out, "table"))
    has_r = any(f.name == "r" for f in sp.global_features)

    def validate(a: Any) -> dict:
        if resolution is not None and has_r and isinstance(a, dict) and "r" not in a and "image_size" not in a:
            a = {**a, "r": resolution}
        return sp.validate(a)

    records = read_records(data, validate=validate)
    counts = count_codes(sp, sp.encode(records.archs))
    only_arch = Records(["arch"], [{"arch": r["arch"]} for r in records.rows], records.archs, records.jsonl,
                        records.source)
    write_records(out, only_arch, counts)
    if not quiet:
        long = {"macs": "MACs", "flops": "FLOPs (64 x 64 latent)", "params": "parameters"}
        short = {"macs": "MACs", "flops": "FLOPs", "params": "params"}
        what = " and ".join(long.get(k, k) for k in counts)
        ranges = ", ".join(f"{short.get(k, k)} {v.min():,}..{v.max():,}" for k, v in counts.items())
        click.echo(f"wrote {what} of {len(records)} {sp.name} archs to {out} ({ranges})", err=True)
