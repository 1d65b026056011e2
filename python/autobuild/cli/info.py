"""``autobuild info``: what a model or an ensemble knows."""

from __future__ import annotations

import json

import click

from .app import cli


# --------------------------------------------------------------------------- info
@cli.command("info", short_help="Show a model's metrics, moments and FE-MLP importance.")
@click.argument("model_dir", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the stored config and metrics as JSON.")
def info_cmd(model_dir: str, as_json: bool) -> None:
    """Show a trained model or ensemble: test metrics per hop (Fig. 2), statistics, FE-MLP importance."""
    from ..predictor import Predictor

    p = Predictor.load(model_dir)
    if as_json:
        click.echo(json.dumps(p.to_json(), indent=1))
        return
    for line in p.describe():
        click.echo(line)
