"""``autobuild space``: describe a search space and its size."""

from __future__ import annotations

import json

import click

from .app import cli
from .options import load_space


# --------------------------------------------------------------------------- space / sample
@cli.command("space", short_help="Describe a search space and its size.")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the space definition as JSON.")
def space_cmd(name: str | None, as_json: bool) -> None:
    """Describe a search space: stages, choices, node features and its size (paper Sec. 7.2).

    NAME is a built-in space or a .yaml/.json space file; without NAME, list the built-in spaces."""
    from ..spaces import get_space, list_spaces

    if name is None:
        for n in list_spaces():
            sp = get_space(n)
            click.echo(f"{n:<12} {sp.description}")
        return
    sp = load_space(name)
    if as_json:
        d = sp.to_dict()
        if "modules" in sp.capabilities:
            d["cardinality"] = str(sp.cardinality())
            d["cardinality_with_globals"] = str(sp.cardinality(include_globals=True))
        click.echo(json.dumps(d, indent=1))
        return
    for line in sp.describe():
        click.echo(line)
