"""``autobuild providers``: the ONNX Runtime execution providers here."""

from __future__ import annotations

import click

from .app import cli


@cli.command("providers")
def providers_cmd() -> None:
    """List the ONNX Runtime execution providers available here."""
    from ..models.inference import available_providers

    for p in available_providers():
        click.echo(p)
