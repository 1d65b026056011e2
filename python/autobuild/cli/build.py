"""``autobuild build``: archs and a reduced space from the best modules (:func:`autobuild.build`)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from .. import limits
from .app import cli
from .options import PAD, QUIET, REDUCED_OUT, SPACE, check_outputs, load_space, warn


@cli.command("build", short_help="Build architectures / a reduced space from top-K modules.")
@click.argument("scores", nargs=-1, required=True, type=click.Path())
@click.option("--k", "k", type=click.IntRange(1, 100_000), default=3, show_default=True, help="Modules kept per stage and scores file.")
@click.option("--constrained", is_flag=True, help="Split K across module sizes (Sec. 7.9) instead of letting all sizes compete.")
@click.option("--top", "top", type=click.IntRange(1, limits.MAX_ARCHS), default=None,
              help="Write the N best archs by summed module score (exact k-best), not the whole reduced space.")
@click.option("--limit", type=click.IntRange(1, limits.MAX_ARCHS), default=100_000, show_default=True,
              help="Largest reduced space written whole (without --top).")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Architectures CSV to write.")
@REDUCED_OUT
@SPACE
@click.option("--evaluate", default=None, metavar="NAME=MODEL_DIR,...",
              help="Predictors whose predicted range of the built archs the summary shows (e.g. acc=runs/acc,latency_gpu=runs/lat).")
@PAD
@QUIET
def build_cmd(scores: tuple[str, ...], k: int, constrained: bool, top: int | None, limit: int, out: str,
              reduced_out: str | None, space_name: str | None, evaluate: str | None, pad: str, quiet: bool) -> None:
    """Build architectures from the top-K modules per stage of one or more scores files.

    Several files (predictors or target equations) unite their selections: up to P x K modules per
    stage (Sec. 7.2). The reduced space is the product of the per-stage selections."""
    from ..construction import build
    from ..construction.select import select_modules
    from ..construction.summary import own_models, parse_evaluate
    from ..scoring import read_scores

    check_outputs((out, "table"), (reduced_out, "reduced space"))
    sp = load_space(space_name) if space_name else None
    loaded = [read_scores(p, space=sp) for p in scores]
    b = build(loaded, k=k, top=top, constrained=constrained, limit=limit)
    kept = b.k  # what the build kept per stage (top=N may raise k)
    _warn_scores(scores, [(s, select_modules(s, kept, constrained)) for s in loaded])
    if not quiet:
        for p, s in zip(scores, loaded):
            for label, tied, margin in s.tied_stages(more_than=kept):
                click.echo(f"note: {Path(p).name}: stage {label}: the top {kept} is a pick among {tied:,} modules "
                           f"indistinguishable from the best (scores within ±{margin:.3g})", err=True)
    predictors = (parse_evaluate(evaluate, b.space, warn) if evaluate else  # checked even when --quiet
                  {} if quiet else own_models(scores, loaded))
    b.write(out, pad)
    if reduced_out:
        b.reduced.save(reduced_out)
    per_stage = " x ".join(str(n) for n in b.reduced.sizes)
    lines, extreme = b.summary({} if quiet else predictors)  # --quiet: the summary is not shown
    if not quiet:
        for n_ in b.notes:
            click.echo(f"note: {n_}", err=True)
        click.echo(f"reduced space {per_stage} = {'' if b.exact else 'up to '}{b.size:,} architectures; wrote "
                   f"{len(b):,} to {out}" + (f", reduced space to {reduced_out}" if reduced_out else ""), err=True)
        for line in lines:
            click.echo(line, err=True)
        if not evaluate:
            click.echo("  (--evaluate NAME=MODEL_DIR,... shows other predictors' range of what was built, e.g. "
                       "acc=runs/acc,latency_gpu=runs/lat)", err=True)
    if extreme:
        warn(extreme)


def _warn_scores(paths: tuple[str, ...], selections: list) -> None:
    """Warn when the modules a build keeps were scored by a predictor that ranks poorly."""
    from ..models.quality import LOW_SRCC

    for p, (s, sel) in zip(paths, selections):
        if s.srcc is None:
            continue
        rows = np.concatenate([np.asarray(r, dtype=np.int64) for r in sel.values()]) if sel else np.zeros(0, np.int64)
        vals = s.srcc[rows] if len(rows) else s.srcc
        vals = vals[np.isfinite(vals)]
        if len(vals) and float(np.median(vals)) < LOW_SRCC:
            warn(f"{p}: the kept modules were scored by a predictor with held-out SRCC {float(np.median(vals)):.2f} "
                 f"(< {LOW_SRCC}) at their hops: this build is close to random. Train longer (--epochs) or on more "
                 "data, then score again")
