"""``autobuild sample``: random archs of a space or a reduced space."""

from __future__ import annotations

import click

from .. import limits
from ..errors import AutobuildError
from .app import cli
from .options import PAD, QUIET, SPACE, check_outputs, load_space, seed_option


@cli.command("sample", short_help="Draw random architectures of a space or reduced space.")
@SPACE
@click.option("--reduced", "reduced", type=click.Path(dir_okay=False), default=None,
              help="Sample a reduced space written by `autobuild build --reduced-out` instead.")
@click.option("--n", "n", type=click.IntRange(1, limits.MAX_ARCHS), required=True, help="Number of architectures.")
@seed_option()
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Output CSV/JSONL (column arch).")
@PAD
@QUIET
def sample_cmd(space_name: str | None, reduced: str | None, n: int, seed: int, out: str, pad: str, quiet: bool) -> None:
    """Draw N distinct uniformly random architectures (depths, layers, globals uniform), from a
    space or from a reduced space (then all of it when N exceeds its size)."""
    from ..data.table import write_labelled

    check_outputs((out, "table"))
    if space_name is None and reduced is None:
        raise AutobuildError("give --space (the space to draw from) or --reduced (a reduced space)")
    if reduced:
        from ..construction import load_reduced

        rs = load_reduced(reduced)
        sp = rs.space
        if space_name is not None and load_space(space_name).fingerprint() != sp.fingerprint():
            raise AutobuildError(f"{reduced}: a reduced space of {sp.name!r}, not of --space {space_name}")
        combos = rs.sample_combos(n, seed)
        if not len(combos):
            raise AutobuildError(f"{reduced}: no combination of its modules satisfies space {sp.name!r}'s constraints")
        archs = sp.decode(rs.codes(combos), pad)
        if n > len(archs):
            click.echo(f"the reduced space holds only {len(archs)} architectures: writing all of them", err=True)
    else:
        sp = load_space(space_name)
        archs = sp.sample(n, seed=seed, pad=pad)
    write_labelled(out, archs)
    if not quiet:
        click.echo(f"wrote {len(archs)} {sp.name} architectures to {out}", err=True)
        if reduced:  # what the reduced space gives: its depths and choices
            from ..construction.summary import codes_composition

            for line in codes_composition(sp, sp.encode(archs), "sample of the reduced space"):
                click.echo(line, err=True)
