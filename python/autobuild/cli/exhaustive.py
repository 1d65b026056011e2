"""``autobuild exhaustive``: the Exhaustive Search baseline of Sec. 5.3 (every arch of a U-Net space
predicted by an ensemble, memoised: :mod:`autobuild.search.exhaustive`)."""

from __future__ import annotations

import sys
import time

import click

from .. import limits
from .options import QUIET, check_outputs


@click.command("exhaustive", short_help="Predict every arch of a U-Net space with an ensemble; keep the best.")
@click.argument("model_dir", type=click.Path())
@click.option("--top", type=click.IntRange(1, limits.MAX_ARCHS), default=4, show_default=True, help="Archs to keep.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="CSV/JSONL of the top archs (arch, pred).")
@QUIET
def exhaustive(model_dir: str, top: int, out: str, quiet: bool) -> None:
    """Exhaustive Search (Sec. 5.3): every arch of the model's space (786,432 for sdv14-unet) is
    predicted by each member of MODEL_DIR (an ensemble, e.g. `train --loss mse --folds 5 --seeds 4`,
    or one model); members are weighted by their held-out prediction SRCC. Exact and memoised: a
    node's embedding depends only on its 6 predecessors, so each distinct (context, stage) pair is
    embedded once."""
    from tqdm import tqdm

    from ..data.table import write_labelled
    from ..predictor import Predictor
    from ..search.exhaustive import exhaustive_search

    check_outputs((out, "table"))
    members = Predictor.load(model_dir).members
    bar = tqdm(total=len(members), desc=f"exhaustive {members[0].space.name}", unit="predictor",
               disable=quiet or None, file=sys.stderr)
    t = time.perf_counter()
    res = exhaustive_search(members, top, progress=lambda i, n: bar.update(1))
    bar.close()
    sp = members[0].space
    archs = sp.decode(res["codes"][res["top"]])
    write_labelled(out, archs, {"pred": res["pred"][res["top"]]})
    if not quiet:
        click.echo(f"predicted {len(res['codes']):,} archs x {len(members)} predictors in {time.perf_counter() - t:.1f} s; "
                   f"best {res['pred'][res['top'][0]]:.4g} ({members[0].target}); wrote the top {len(archs)} to {out}",
                   err=True)
