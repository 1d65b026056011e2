"""``autobuild opgraphs`` (ONNX models or OFA archs -> op-graph data) and ``autobuild subgraphs``
(score the op subgraphs of an ONNX model with an ``onnx-ir`` predictor): the paper's IR format."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .. import limits
from ..errors import AutobuildError
from .options import QUIET, warn


@click.command("opgraphs", short_help="ONNX models or OFA archs -> op-graph data (the IR format).")
@click.argument("models", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--labels", type=click.Path(dir_okay=False), default=None,
              help="CSV with a 'model' column (ONNX paths, relative to the CSV) and numeric label columns.")
@click.option("--space", "space_name", default=None, metavar="NAME",
              help="Build the subnets of OFA archs instead (ofa-mbv3 or ofa-pn), from --data.")
@click.option("--data", default=None, help="With --space: CSV/JSONL of archs (builtin:NAME allowed); "
              "its numeric columns are kept as labels.")
@click.option("--limit", type=click.IntRange(1, limits.MAX_ARCHS), default=None, help="Only the first N rows of --data.")
@click.option("--no-fold", is_flag=True, help="Keep constant sub-expressions (shape arithmetic) as ops.")
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="JSONL op-graph data to write (train --space onnx-ir --data OUT). Resumable: rerunning "
                   "keeps the rows already made (OUT.partial) and only OUT's finished file is ever written.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT.")
@QUIET
def opgraphs(models: tuple[str, ...], labels: str | None, space_name: str | None, data: str | None,
             limit: int | None, no_fold: bool, out: str, overwrite: bool, quiet: bool) -> None:
    """Convert ONNX models (or OFA archs' subnets) into op graphs: one node per primitive op,
    features op type, tensor channels and sizes, kernel, stride, dilation, groups and bias; edges
    along the dataflow. Labels ride along, so OUT trains an onnx-ir predictor directly."""
    from tqdm import tqdm

    from ..opgraphs.convert import op_graph
    from ..opgraphs.dataset import labelled_models, write_op_graphs

    out_p = Path(out)
    if out_p.suffix.lower() not in (".jsonl", ".gz") and not out.lower().endswith(".jsonl.gz"):
        raise click.BadParameter(f"{out}: op-graph data is JSONL (name it .jsonl)", param_hint="--out")
    if out_p.exists() and not overwrite:
        raise AutobuildError(f"{out}: exists (pass --overwrite to replace it)")
    if space_name is not None:
        if models or labels:
            raise click.UsageError("give ONNX models (or --labels) or --space with --data, not both")
        if data is None:
            raise click.UsageError("--space needs --data (the archs whose subnets to convert)")
        from ..data.builtin import resolve_data
        from ..data.table import read_labelled
        from ..opgraphs.dataset import ofa_op_graph
        from .options import network_space

        space = network_space(space_name)
        table = read_labelled(resolve_data(data), validate=space.validate)
        n = min(len(table), limit or len(table))
        items = [(json.dumps(space.validate(table.archs[i]), separators=(",", ":")),
                  {"what": table.archs[i], **{k: float(v[i]) for k, v in table.metrics.items()}}) for i in range(n)]

        def make(arch: dict) -> dict:
            return ofa_op_graph(space, arch)
        desc = f"opgraphs {space.name}"
    else:
        if data is not None or limit is not None:
            raise click.UsageError("--data / --limit go with --space; ONNX models are given as arguments or --labels")
        if not models and labels is None:
            raise click.UsageError("give ONNX files, --labels CSV, or --space with --data")
        items = list(labelled_models(labels, models))

        def make(path: Path) -> dict:
            return op_graph(path, fold=not no_fold)
        desc = "opgraphs"
    bar = tqdm(total=len(items), desc=desc, unit="model", disable=quiet or None, file=sys.stderr)
    shown = []

    def on_row(source: str, error: str | None) -> None:
        bar.update(1)
        if error is not None and len(shown) < 5:
            shown.append(source)
            bar.write(f"autobuild: {source[:80]}: skipped: {error}", file=sys.stderr)

    counts = write_op_graphs(out_p, items, make, on_row)
    bar.close()
    if counts["failures"]:
        warn(f"{len(counts['failures'])} of {len(items)} models could not be converted (first: "
             f"{counts['failures'][0]['source'][:80]}: {counts['failures'][0]['error']})")
    if not quiet:
        click.echo(f"wrote {out}: {counts['written'] + counts['kept']} op graphs"
                   + (f" ({counts['kept']} from an interrupted run)" if counts["kept"] else ""))


@click.command("subgraphs", short_help="Score the op subgraphs of an ONNX model (top-k per hop, drawn).")
@click.argument("model_dir", type=click.Path())
@click.argument("onnx_model", type=click.Path(dir_okay=False))
@click.option("--hop", "hops", type=click.IntRange(0, limits.MAX_LAYERS), multiple=True,
              help="Hop level(s) m: subgraphs of an op and its ancestors up to m tensors upstream [default: the deepest].")
@click.option("--top", type=click.IntRange(1, 1000), default=5, show_default=True, help="Subgraphs per hop.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="CSV of the top subgraphs (their node lists included).")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False), default=None,
              help="Figure of the top subgraphs (cf. paper Fig. 8): .png, .pdf or .svg.")
@click.option("--plot-top", type=click.IntRange(1, 8), default=3, show_default=True, help="Subgraphs drawn per hop.")
@click.option("--provider", default="cpu", show_default=True, help="ONNX Runtime execution provider.")
@click.option("--no-fold", is_flag=True, help="Keep constant sub-expressions (shape arithmetic) as ops.")
@QUIET
def subgraphs(model_dir: str, onnx_model: str, hops: tuple[int, ...], top: int, out: str | None, plot_out: str | None,
              plot_top: int, provider: str, no_fold: bool, quiet: bool) -> None:
    """Which parts of ONNX_MODEL an onnx-ir predictor (MODEL_DIR) credits with its target: every op
    roots one subgraph per hop (the op and its ancestors up to m tensors upstream), scored by its
    m-hop embedding norm standardised by the model's hop moments (z; Sec. 4.2). Prints the top
    subgraphs per hop; --out writes them, --plot draws them (Fig. 8)."""
    from ..opgraphs.convert import op_graph
    from ..opgraphs.subgraphs import require_ir_model, top_subgraphs
    from ..predictor import Predictor
    from .options import check_outputs

    check_outputs((out, "table"), (plot_out, "figure"))
    if out and out.lower().endswith(".gz"):
        raise click.BadParameter(f"{out}: write .csv or .jsonl (not compressed)", param_hint="--out")
    p = Predictor.load(model_dir)
    if p.is_ensemble:
        raise AutobuildError(f"{model_dir}: an ensemble; op subgraphs are scored by one model (give a member's directory)")
    art = p.members[0]
    require_ir_model(art)  # before the model is converted
    graph = op_graph(onnx_model, fold=not no_fold)
    pred, rows = top_subgraphs(art, graph, sorted(set(hops)) or None, top, provider)
    click.echo(f"{onnx_model}: {len(graph['ops'])} ops, {len(graph['edges'])} edges; predicted {art.target} = {pred:.4g}")
    for r in rows:
        click.echo(f"  hop {r['hop']} #{r['rank']}: z={r['z']:+.3f}  root {r['op']} {r['root']} ({r['name'][:48]}), "
                   f"{r['size']} ops")
    if out:
        import csv
        import io

        from ..io_utils import TABLE_FORMATS, atomic_write_text, output_format

        cols = ["hop", "rank", "root", "op", "name", "norm", "z", "size", "nodes"]
        if output_format(out, TABLE_FORMATS, "table").startswith("jsonl"):
            text = "".join(json.dumps({c: r[c] for c in cols}) + "\n" for r in rows)
        else:
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(cols)
            for r in rows:
                w.writerow([json.dumps(r[c]) if c == "nodes" else r[c] for c in cols])
            text = buf.getvalue()
        atomic_write_text(out, text)
        if not quiet:
            click.echo(f"wrote {out}", err=True)
    if plot_out:
        from ..report.subgraph_figure import plot_subgraphs

        drawn = [r for r in rows if r["rank"] <= plot_top]
        plot_subgraphs(graph, drawn, plot_out, title=f"{Path(onnx_model).name}: top op subgraphs under "
                                                     f"{Path(model_dir).name} [{art.target}]")
        if not quiet:
            click.echo(f"wrote {plot_out}", err=True)
