"""``autobuild predict``: predictions of archs by a model or an ensemble."""

from __future__ import annotations

from typing import Any

import click
import numpy as np

from .. import limits
from .app import cli
from .options import QUIET, SPACE, check_outputs


# --------------------------------------------------------------------------- predict
@cli.command("predict", short_help="Predict archs with a model's ONNX export.")
@click.argument("model_dir", type=click.Path())
@click.option("--data", "data", required=True, help="CSV/JSONL with an arch column (metric columns ignored).")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Output CSV/JSONL.")
@click.option("--provider", default="cpu", show_default=True, help="ONNX Runtime execution provider (see `autobuild providers`).")
@SPACE
@click.option("--batch-size", type=click.IntRange(1, limits.MAX_BATCH), default=4096, show_default=True,
              help="Archs per ONNX Runtime call.")
@QUIET
def predict_cmd(model_dir: str, data: str, out: str, provider: str, space_name: str | None, batch_size: int,
                quiet: bool) -> None:
    """Run a model's ONNX export: prediction (label units) and graph-embedding norm per hop (an
    ensemble: the mean over its members).

    The output keeps every input column as given (the arch text untouched, ids and labels too) and
    adds pred, norm_h0 ... norm_hM."""
    from ..data.table import read_records, write_records
    from ..predictor import Predictor

    check_outputs((out, "table"))
    p = Predictor.load(model_dir, provider=provider, space=space_name)
    sp = p.space
    records = read_records(data, validate=sp.validate)
    pred, norms = p.predict_codes(sp.encode(records.archs), batch_size=batch_size)
    cols: dict[str, np.ndarray] = {"pred": pred.astype(np.float64)}
    for m in range(norms.shape[1]):
        cols[f"norm_h{m}"] = norms[:, m].astype(np.float64)
    write_records(out, records, cols)
    if not quiet:
        click.echo(f"wrote {len(pred)} predictions ({p.target}) to {out} [{p.providers[0]}]", err=True)
        _compare_with_labels(records, p.target, pred, same_data=p.trained_on(data))


def _compare_with_labels(records: Any, target: Any, pred: np.ndarray, same_data: bool = False) -> None:
    """When the input holds the target's metric columns, say how well the predictions match them."""
    from ..metrics import regression_report

    if not all(m in records.header for m in target.metrics):
        return
    try:
        cols = {m: np.array([float(r[m]) for r in records.rows], dtype=np.float64) for m in target.metrics}
        y = target.evaluate(cols)
    except (TypeError, ValueError):  # AutobuildError included
        click.echo(f"note: the input's {', '.join(target.metrics)} columns are not all numbers; not compared", err=True)
        return
    r = regression_report(y, pred)
    click.echo(f"against the input's labels ({target}, {len(y)} archs): SRCC {r['srcc']:.3f}, MAE {r['mae']:.4g}, "
               f"within +-10 % {r['within10']:.1f} %", err=True)
    if same_data:
        click.echo("note: this is the data the model was trained on, so these figures are optimistic; its held-out "
                   "figures are in `autobuild info`", err=True)
