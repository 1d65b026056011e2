"""``autobuild report``: one self-contained HTML page for models, ensembles, scores and searches."""

from __future__ import annotations

import click

from .options import QUIET, parse_ref


@click.command("report", short_help="One self-contained HTML page for models, scores and searches.")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="HTML page to write (.html).")
@click.option("--k", "k", type=click.IntRange(1, 100_000), default=3, show_default=True,
              help="Modules per stage of the build summarised for each scores file.")
@click.option("--constrained", is_flag=True, help="Summarise the --constrained build (K split across module sizes).")
@click.option("--ref", default=None, help="Hypervolume reference point of the searches, e.g. acc=0.74,latency_gpu=10.6 "
              "[default: the worst evaluated value per objective].")
@click.option("--data-front", "data_front", default=None, metavar="DATA",
              help="Labelled data (CSV/JSONL or builtin:NAME) whose own Pareto front the search plots draw.")
@click.option("--title", default=None, help="Page title [default: autobuild report].")
@QUIET
def report(inputs: tuple[str, ...], out: str, k: int, constrained: bool, ref: str | None, data_front: str | None,
           title: str | None, quiet: bool) -> None:
    """Write one HTML page (no network needed to view it) on every input: model or ensemble
    directories (metrics per hop, FE-MLP importance), scores CSVs (best modules per stage with
    their uncertainty, what `build --k K` builds from them), search journals (Pareto front,
    hypervolume). Each figure says how to read it."""
    from ..report import write_report
    from .options import check_outputs

    check_outputs((out, "report"))

    def status(msg: str) -> None:
        if not quiet:
            click.echo(msg + "...", err=True)

    path = write_report(list(inputs), out, k=k, constrained=constrained, ref=parse_ref(ref), data_front=data_front,
                        title=title, status=status)
    if not quiet:
        click.echo(f"wrote {path}", err=True)
