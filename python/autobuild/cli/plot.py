"""``autobuild plot``: interpretability figures (PNG) of trained predictors and module scores.

Registered on the main group with ``cli.add_command(plot)``; bad input raises
:class:`~autobuild.errors.AutobuildError`, which the main group prints as one error line.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import AutobuildError
from .options import QUIET, SPACE, parse_arch

_OUT = click.option("--out", type=click.Path(dir_okay=False), required=True,
                    help="Figure to write (.png, .svg or .pdf).")


def _wrote(path: Path) -> None:
    if not click.get_current_context().params.get("quiet"):
        click.echo(f"wrote {path}", err=True)


@click.group("plot", short_help="Interpretability figures (PNG) of models and module scores.")
def plot() -> None:
    """Figures of what a model learned: best and worst modules, feature importance, node scores of
    one arch, held-out SRCC per hop (after the paper's Figs. 4, 9/10, 1 and 2)."""


@plot.command("modules", short_help="Best and worst modules per stage.")
@click.argument("scores_csv", type=click.Path())
@_OUT
@QUIET
@click.option("--show", "--n", "n", type=click.IntRange(1, 1000), default=3, show_default=True,
              help="Best and worst modules shown per stage.")
@SPACE
def modules_cmd(scores_csv: str, out: str, n: int, space_name: str | None, quiet: bool) -> None:
    """Best and worst modules per stage (paper Fig. 4) from a module scores CSV; prints the table too."""
    from ..report.figures import modules_table, plot_modules
    from ..scoring import read_scores
    from ..spaces import get_space

    scores = read_scores(scores_csv, space=get_space(space_name) if space_name else None)
    click.echo(modules_table(scores, n), nl=False)
    _wrote(plot_modules(scores, out, n=n))


@plot.command("importance", short_help="Importance of every feature value (FE-MLP).")
@click.argument("model_dir", type=click.Path())
@_OUT
@QUIET
def importance_cmd(model_dir: str, out: str, quiet: bool) -> None:
    """FE-MLP 0-hop feature importance per feature value (paper Sec. 4.3, Figs. 9/10)."""
    from ..report.figures import plot_importance
    from ..predictor import Predictor

    _wrote(plot_importance(Predictor.load(model_dir), out))


@plot.command("arch", short_help="Node scores of one arch at every hop.")
@click.argument("model_dir", type=click.Path())
@click.option("--arch", "arch_spec", required=True,
              help="Arch as inline JSON, or @FILE: a JSON arch, or a CSV/JSONL that autobuild wrote (see --row).")
@click.option("--row", type=click.IntRange(1, 10_000_000), default=None, help="Row of a CSV/JSONL --arch file [default: 1].")
@_OUT
@QUIET
@click.option("--provider", default="cpu", show_default=True, help="ONNX Runtime execution provider.")
def arch_cmd(model_dir: str, arch_spec: str, row: int | None, out: str, provider: str, quiet: bool) -> None:
    """One arch's sequence graph coloured by standardised node-embedding norm per hop (Fig. 1, Sec. 4.2)."""
    from ..report.figures import plot_arch
    from ..predictor import Predictor

    p = Predictor.load(model_dir)
    art = p.members[0]
    if p.is_ensemble:  # node norms are one model's: draw the best-ranking member
        art = max(p.members, key=lambda m: m.report["test"]["srcc_pred"])
        click.echo(f"ensemble: drawing member {art.label} (best held-out SRCC)", err=True)
    if not art.space.layer_features:
        hint = ("op graphs are drawn by `autobuild subgraphs MODEL_DIR MODEL.onnx --plot`"
                if art.space.name == "onnx-ir" else "it is not drawn for this space yet")
        raise AutobuildError(f"{model_dir}: `plot arch` draws the sequence graphs of stage / layer spaces (OFA, "
                             f"YAML spaces); space {art.space.name!r}: {hint}")
    arch = parse_arch(arch_spec, row)
    try:
        arch = art.space.validate(arch)
    except AutobuildError as e:
        raise AutobuildError(f"--arch: {e}") from None
    _wrote(plot_arch(art, arch, out, provider=provider))


@plot.command("hops", short_help="Held-out SRCC per hop level.")
@click.argument("model_dir", type=click.Path())
@_OUT
@QUIET
def hops_cmd(model_dir: str, out: str, quiet: bool) -> None:
    """Test SRCC per hop level and of the prediction (paper Fig. 2)."""
    from ..report.figures import plot_hops
    from ..predictor import Predictor

    _wrote(plot_hops(Predictor.load(model_dir), out))
