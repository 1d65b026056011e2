"""``autobuild score``: every module of the space scored (Eq. 5, :meth:`autobuild.Predictor.score`)."""

from __future__ import annotations

import sys

import click

from .. import limits
from ..errors import AutobuildError
from ..models.inference import RUNTIMES
from .app import cli
from .options import QUIET, check_outputs, warn_quality


# --------------------------------------------------------------------------- score / build
def _parse_globals(pairs: tuple[str, ...], resolution: int | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in pairs:
        if "=" not in p:
            raise AutobuildError(f"--global {p!r}: expected NAME=VALUE")
        k, v = p.split("=", 1)
        out[k.strip()] = v.strip()
    if resolution is not None:
        out["r"] = str(resolution)
    return out


@cli.command("score", short_help="Score every module (stage subgraph) of the space.")
@click.argument("model_dirs", nargs=-1, required=True, type=click.Path())
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Scores CSV to write.")
@click.option("--global", "globals_", multiple=True, metavar="NAME=VALUE",
              help="Global feature value the modules are scored at (default: the FE-MLP's highest-scored value).")
@click.option("--resolution", type=click.IntRange(1, 1 << 16), default=None, help="Shortcut for --global r=VALUE (OFA spaces).")
@click.option("--min-count", type=click.IntRange(2, limits.MAX_ARCHS), default=20, show_default=True,
              help="Fewest training archs per (stage, depth) cell for Eq. 5; else N(0,1) (Sec. 7.9).")
@click.option("--provider", default="cpu", show_default=True, help="ONNX Runtime execution provider.")
@click.option("--batch-size", type=click.IntRange(1, limits.MAX_BATCH), default=4096, show_default=True, help="Modules per forward pass.")
@click.option("--runtime", type=click.Choice(RUNTIMES), default="onnx", show_default=True,
              help="onnx: ONNX Runtime on --provider (no torch import); torch: PyTorch on the CPU (faster, needs torch).")
@click.option("--name", default=None, help="Model name written in the scores (default: the directory name).")
@click.option("--show", type=click.IntRange(0, 1000), default=3, show_default=True, help="Best/worst modules per stage to print.")
@QUIET
def score_cmd(model_dirs: tuple[str, ...], out: str, globals_: tuple[str, ...], resolution: int | None, min_count: int,
              provider: str, batch_size: int, runtime: str, name: str | None, show: int, quiet: bool) -> None:
    """Score every module (a stage's sequence of layers) of the space, in the target's units: the
    embedding norm of its last node, calibrated across hops and stages (the paper's Eq. 5).

    MODEL_DIRS: one model, several models of one target, or ensemble directories (`train --folds`):
    several members are combined by their held-out SRCC per hop (Sec. 5.3)."""
    from tqdm import tqdm

    from ..predictor import Predictor
    from ..scoring import write_scores
    from ..scoring.scorer import module_count

    check_outputs((out, "scores"))
    first = None
    for d in model_dirs:  # each one fit for scoring, and all of one target, before they are combined
        one = Predictor.load(d, runtime=runtime, provider=provider)
        one.require("ranks_hops", "module scoring (Eq. 5)")
        if first is not None and str(one.target) != str(first.target):
            raise AutobuildError(f"{d}: target {one.target} differs from {first.target} of {model_dirs[0]}; score "
                                 "each target separately and unite the selections in `autobuild build`")
        first = first or one
    # One directory is the predictor already read; several are read as one (their members together).
    p = first if len(model_dirs) == 1 else Predictor.load(list(model_dirs), runtime=runtime, provider=provider)
    warn_quality(p, "module scoring")
    total = module_count(p.space) * len(p.members)
    label = name or "+".join(str(d).rstrip("/") for d in model_dirs)  # as given: build finds the model(s) again
    with tqdm(total=total, desc=f"score {p.space.name} modules", unit="module", unit_scale=True,
              disable=quiet or None, file=sys.stderr) as bar:
        scores = p.score(_parse_globals(globals_, resolution), min_count=min_count, batch_size=batch_size,
                         name=label, progress=bar.update)
    write_scores(out, scores)
    for note in scores.notes if not quiet else ():
        click.echo(f"note: {note}", err=True)
    if not show and not quiet:  # with --show, the printed table says it
        for label, tied, margin in scores.tied_stages():
            click.echo(f"note: stage {label}: {tied:,} modules score within the uncertainty (±{margin:.3g}) of the best",
                       err=True)
    glob = ", ".join(f"{k}={v}" for k, v in scores.globals.items())
    if not quiet:
        click.echo(f"wrote {len(scores):,} module scores ({scores.target}; {len(p.members)} model(s); "
                   f"{glob or 'no globals'}) to {out}", err=True)
    if show:
        from ..report.figures import modules_table

        click.echo(modules_table(scores, show))
