"""Command-line interface: ``autobuild space|sample|train|info|predict|providers|score|build|plot|search``.

Every bad input, option errors included, ends in one line ``autobuild: error: ...`` and exit status
2; no traceback, and no output is left half-written.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np

from . import __version__, limits
from .errors import AutobuildError
from .cli_options import OVERWRITE, PAD, QUIET, REDUCED_OUT, SPACE, check_outputs, network_space, seed_option, warn
from .data.builtin import resolve_data
from .models.inference import RUNTIMES
from .models.kinds import KINDS


def _describe_range(t: Any) -> str:
    lo, hi = t.min, t.max
    lo_op = ">" if t.min_open else ">="
    hi_op = "<" if t.max_open else "<="
    if lo is not None and hi is not None:
        if not t.min_open and not t.max_open:
            return f"between {lo} and {hi}"
        return f"{lo_op} {lo} and {hi_op} {hi}"
    if lo is not None:
        return f"{lo_op} {lo}"
    return f"{hi_op} {hi}"


def usage_message(e: click.ClickException) -> str:
    """A click usage error as one line like the rest: ``--epochs must be >= 1 (got 0)``."""
    ctx = getattr(e, "ctx", None)
    hint = f" (see '{ctx.command_path} -h')" if ctx is not None else ""
    param = getattr(e, "param", None)
    if isinstance(e, click.MissingParameter) and param is not None:
        kind = "option" if isinstance(param, click.Option) else "argument"
        name = max(param.opts, key=len) if kind == "option" else param.human_readable_name
        return f"missing {kind} {name}{hint}"
    if isinstance(e, click.BadParameter) and param is not None:
        name = max(param.opts, key=len) if isinstance(param, click.Option) else param.human_readable_name
        msg = " ".join(str(e.message).split())
        if isinstance(param.type, (click.IntRange, click.FloatRange)) and " is not in the range" in msg:
            got = msg.split(" is not in the range")[0]
            return f"{name} must be {_describe_range(param.type)} (got {got})"
        return f"{name}: {msg.rstrip('.')}"
    return " ".join(e.format_message().split()).rstrip(".") + hint


class _Group(click.Group):
    """Turns AutobuildError / OSError / usage errors into one error line and exit status 2."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as e:
            _fail(usage_message(e))
        except click.exceptions.Abort:
            click.echo("autobuild: interrupted", err=True)
            sys.exit(130)
        sys.exit(rv if isinstance(rv, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AutobuildError as e:
            _fail(str(e))
        except BrokenPipeError:  # e.g. `autobuild info DIR | head`
            sys.stderr.close()
            sys.exit(0)
        except OSError as e:
            _fail(f"{e.filename or ''}{': ' if e.filename else ''}{e.strerror or e}")
        except ImportError as e:
            _fail(f"{e}; install the learning stack with: pip install 'autobuild[ml]'")
        except RecursionError:
            _fail("input nested too deeply")
        except MemoryError:
            _fail("out of memory (an input too large for this machine?)")
        except KeyboardInterrupt:
            resume = ctx.meta.get("autobuild.resume")
            click.echo("autobuild: interrupted" + (f"; resume with: {resume}" if resume else ""), err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as e:  # a bug, not bad input: still one line unless debugging
            if os.environ.get("AUTOBUILD_DEBUG"):
                raise
            _fail(f"internal error: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''} "
                  "(set AUTOBUILD_DEBUG=1 for a traceback, and please report it)")


def _fail(msg: str) -> None:
    line = " ".join(msg.split())
    if len(line) > 1000:  # an error that quotes a giant input stays readable
        line = f"{line[:700]} ...[{len(line) - 900:,} characters]... {line[-200:]}"
    click.echo(f"autobuild: error: {line}", err=True)
    sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="autobuild")
def cli() -> None:
    """Build neural architectures from what a predictor learned, instead of blind search.

    Label a few hundred architectures (accuracy, latency, ...), train a predictor on them, and
    let it score every building block ("module") of the search space; the best modules are
    combined into new architectures or into a small space to search.

    \b
    A typical session (about three minutes on 2 CPU cores):
      autobuild train --space ofa-mbv3 --data builtin:ofa-mbv3 --target '100**acc/(log10(latency_gpu+1)+1)' --out runs/eff
      autobuild score runs/eff --out scores.csv
      autobuild build scores.csv --k 3 --out built.csv
      autobuild report runs/eff scores.csv --out report.html

    Each command's --help says what it does; the README has a walkthrough.
    Method: AutoBuild (Mills et al., CVPR 2024).
    """


def main() -> None:  # console-script entry point
    cli(prog_name="autobuild")


# --------------------------------------------------------------------------- helpers
def _space(name: str):  # noqa: ANN202
    from .spaces import get_space

    return get_space(name)


def _warn_models(predictor: Any, purpose: str) -> None:
    w = predictor.quality_warning(purpose)
    if w:
        for line in w.splitlines():
            warn(line)



# --------------------------------------------------------------------------- space / sample
@cli.command("space", short_help="Describe a search space and its size.")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the space definition as JSON.")
def space_cmd(name: str | None, as_json: bool) -> None:
    """Describe a search space: stages, choices, node features and its size (paper Sec. 7.2).

    NAME is a built-in space or a .yaml/.json space file; without NAME, list the built-in spaces."""
    from .spaces import get_space, list_spaces

    if name is None:
        for n in list_spaces():
            sp = get_space(n)
            click.echo(f"{n:<12} {sp.description}")
        return
    sp = _space(name)
    if as_json:
        d = sp.to_dict()
        if "modules" in sp.capabilities:
            d["cardinality"] = str(sp.cardinality())
            d["cardinality_with_globals"] = str(sp.cardinality(include_globals=True))
        click.echo(json.dumps(d, indent=1))
        return
    for line in sp.describe():
        click.echo(line)


@cli.command("sample", short_help="Draw random architectures of a space or reduced space.")
@SPACE
@click.option("--reduced", "reduced", type=click.Path(dir_okay=False), default=None,
              help="Sample a reduced space written by `autobuild build --reduced-out` instead.")
@click.option("--n", "n", type=click.IntRange(1, limits.MAX_ARCHS), required=True, help="Number of architectures.")
@seed_option()
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Output CSV/JSONL (column arch).")
@PAD
@QUIET
def sample_cmd(space_name: str | None, reduced: str | None, n: int, seed: int, out: str, pad: str, quiet: bool) -> None:
    """Draw N distinct uniformly random architectures (depths, layers, globals uniform), from a
    space or from a reduced space (then all of it when N exceeds its size)."""
    from .data.table import write_labelled

    check_outputs((out, "table"))
    if space_name is None and reduced is None:
        raise AutobuildError("give --space (the space to draw from) or --reduced (a reduced space)")
    if reduced:
        from .construction import load_reduced

        rs = load_reduced(reduced)
        sp = rs.space
        if space_name is not None and _space(space_name).fingerprint() != sp.fingerprint():
            raise AutobuildError(f"{reduced}: a reduced space of {sp.name!r}, not of --space {space_name}")
        combos = rs.sample_combos(n, seed)
        if not len(combos):
            raise AutobuildError(f"{reduced}: no combination of its modules satisfies space {sp.name!r}'s constraints")
        archs = sp.decode(rs.codes(combos), pad)
        if n > len(archs):
            click.echo(f"the reduced space holds only {len(archs)} architectures: writing all of them", err=True)
    else:
        sp = _space(space_name)
        archs = sp.sample(n, seed=seed, pad=pad)
    write_labelled(out, archs)
    if not quiet:
        click.echo(f"wrote {len(archs)} {sp.name} architectures to {out}", err=True)
        if reduced:  # what the reduced space gives: its depths and choices
            from .construction.summary import codes_composition

            for line in codes_composition(sp, sp.encode(archs), "sample of the reduced space"):
                click.echo(line, err=True)


# --------------------------------------------------------------------------- train
@cli.command("train", short_help="Train a predictor (or an ensemble) on labelled archs.")
@click.option("--space", "space_name", required=True, metavar="NAME|FILE",
              help="Search space of the data: a built-in name (`autobuild space` lists them) or a .yaml/.json space file.")
@click.option("--data", "data", required=True, help="Labelled CSV/JSONL, or builtin:ofa-mbv3 / builtin:ofa-pn.")
@click.option("--target", default="acc", show_default=True, help="Target equation over metric columns.")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Model directory to write.")
@click.option("--kind", type=click.Choice(list(KINDS)), default="autobuild", show_default=True,
              help="autobuild: the interpretable predictor (Eq. 4); kgnn: the latency/efficiency predictor (Sec. 7.4).")
@click.option("--epochs", type=click.IntRange(1, limits.MAX_EPOCHS), default=None,
              help="Passes over the training archs [default: autobuild sized to the data (200 on 2,700 archs as in "
                   "the paper, up to 1,000 on few archs; `info` says which), 500 kgnn].")
@click.option("--batch-size", type=click.IntRange(2, limits.MAX_BATCH), default=None,
              help="Archs per optimiser step [default: 128 autobuild, 32 kgnn].")
@click.option("--lr", type=click.FloatRange(min=0, max=10, min_open=True), default=None,
              help="AdamW learning rate [default: 1e-3, decayed by --schedule].")
@click.option("--schedule", type=click.Choice(["cosine", "constant"]), default=None,
              help="Learning-rate schedule: cosine decay to 0 over the run, or constant [default: cosine].")
@click.option("--norm", type=click.Choice(["batch", "none"]), default=None,
              help="Normalisation after each message-passing layer [default: batch; AutoBuild predictors only].")
@click.option("--hop-loss", type=click.Choice(["pearson", "spearman"]), default=None,
              help="Form of the hop-ranking term: pearson (label vs soft ranks of the norms, as the authors' "
                   "code) or spearman (soft rank correlation, autobuild 0.2) [default: pearson; AutoBuild "
                   "predictors only].")
@click.option("--weight-decay", type=click.FloatRange(min=0, max=10), default=None,
              help="AdamW weight decay [default: 1e-5 autobuild, 1e-4 kgnn].")
@click.option("--hidden", type=click.IntRange(1, limits.MAX_HIDDEN), default=None,
              help="Embedding width [default: 32 autobuild, 128 kgnn].")
@click.option("--layers", type=click.IntRange(1, limits.MAX_LAYERS), default=None,
              help="Message-passing hops M [default: 4; 6 on the U-Net spaces, whose modules span 7 blocks].")
@click.option("--test-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.1, show_default=True,
              help="Share of the archs held out for the test metrics.")
@seed_option("Seed of the split and of the initial weights.")
@click.option("--fe-grad-scale", type=click.FloatRange(0, 1), default=None,
              help="Scale of the gradient the GNN hops send into the FE-MLP (1 = plain backprop) "
                   "[default: 0.03; AutoBuild predictors only].")
@click.option("--threads", type=click.IntRange(0, limits.MAX_THREADS), default=1, show_default=True,
              help="torch CPU threads for training (0 = torch default).")
@click.option("--val-fraction", type=click.FloatRange(0, 0.5, max_open=True), default=None,
              help="Share of the training archs held out to keep the best epoch (early stopping); k-GNN "
                   "predictors only [default: 0.1 with the MACs prior, else 0].")
@click.option("--loss", type=click.Choice(["eq4", "mse"]), default="eq4", show_default=True,
              help="eq4: MSE + the hop-level ranking term (AutoBuild); mse: the prediction's MSE only (the "
                   "Exhaustive Search baseline's predictors, Sec. 5.3).")
@click.option("--prior", type=click.Choice(["auto", "macs", "none"]), default=None,
              help="--kind kgnn: start from a line on the exact MACs and learn its correction (auto: where "
                   "the space has MAC counts, the OFA spaces) [default: auto].")
@click.option("--folds", type=click.IntRange(1, limits.MAX_MEMBERS), default=1, show_default=True,
              help="Ensemble (Sec. 5.3): k-fold splits, one member per fold and seed.")
@click.option("--seeds", type=click.IntRange(1, limits.MAX_MEMBERS), default=1, show_default=True,
              help="Ensemble: members per fold with seeds seed, seed+1, ...")
@OVERWRITE
@QUIET
def train_cmd(space_name: str, data: str, target: str, out: str, kind: str, epochs: int | None, batch_size: int | None,
              lr: float | None, schedule: str | None, norm: str | None, hop_loss: str | None,
              weight_decay: float | None, hidden: int | None, layers: int, test_fraction: float,
              seed: int, fe_grad_scale: float | None, threads: int, val_fraction: float | None, loss: str,
              prior: str | None, folds: int, seeds: int, overwrite: bool,
              quiet: bool) -> None:
    """Train a predictor of TARGET on labelled archs and save it to OUT (weights, ONNX export,
    held-out metrics). Besides predicting, it learns to rank archs by the size of its embeddings at
    every message-passing hop (the paper's hop-level ranking loss, Eq. 4): what module scores use.

    --kind kgnn trains the k-GNN efficiency predictor of Sec. 7.4 instead (latency, energy, FLOPs...:
    loss MAE + (1 - SRCC), sum aggregation). With --folds/--seeds > 1, train an ensemble of folds x seeds predictors into OUT (resumable:
    rerunning the same command keeps the members already trained; each member costs about one
    training run: 5 x 4 on 3,000 archs took 12 minutes on 2 CPU cores)."""
    from .predictor import Predictor

    if loss == "mse" and kind != "autobuild":
        raise click.BadParameter("applies to --kind autobuild (the k-GNN has its own loss, Eq. 6)", param_hint="--loss")
    given = {k: v for k, v in dict(epochs=epochs, batch_size=batch_size, lr=lr, schedule=schedule, norm=norm,
                                    hop_loss=hop_loss, weight_decay=weight_decay, hidden=hidden,
                                    fe_grad_scale=fe_grad_scale, val_fraction=val_fraction, prior=prior).items()
             if v is not None}
    if loss == "mse":
        given["rank_weight"] = 0.0
    known = Predictor.hyperparameter_names(kind)
    for name in given:
        if name not in known:
            raise AutobuildError(f"--{name.replace('_', '-')} does not apply to --kind {kind}")
    if layers:
        given["layers"] = layers
    p = Predictor(space_name, target, kind=kind, test_fraction=test_fraction, seed=seed, threads=threads, **given)
    ensemble = folds * seeds > 1
    if ensemble and not KINDS[kind].ensembles:
        raise AutobuildError(f"--folds/--seeds ensembles are not made of --kind {kind} predictors "
                             f"(kinds with ensembles: {', '.join(k for k, v in KINDS.items() if v.ensembles)})")
    if not ensemble:  # before reading data or training: never lose a minute to a refused --out
        from .io_utils import check_output_dir
        from .models.artifact import model_dir_files

        check_output_dir(out, overwrite, model_dir_files)
    table = p.read(data)
    n = len(table)
    p.labels(table)  # a bad equation or label fails before torch is loaded
    if not quiet:  # importing torch takes a few seconds: say so rather than sit silent
        click.echo(f"read {n} labelled archs from {data}; loading PyTorch...", err=True)
    import torch  # noqa: F401 - fail early with the install hint if missing
    from tqdm import tqdm

    epochs_planned = p.planned_epochs(n, folds)  # epochs=None: sized to the data (each member's split)
    eq = p.target
    bar = tqdm(total=epochs_planned, desc=f"train {kind} {p.space.name} [{eq}]", unit="epoch",
               disable=quiet or None, file=sys.stderr)

    def progress(epoch: int, loss: float, val: float | None = None) -> None:
        bar.update(1)
        # The held-out SRCC as it goes (the monitor's latest point): whether the model ranks yet.
        bar.set_postfix({"loss": f"{loss:.4f}", **({"held-out SRCC": f"{val:.3f}"} if val is not None else {})})

    def on_start(state: str) -> None:  # called once every member is known trainable and --out is safe
        if state == "resume":
            click.echo(f"{out}: resuming the ensemble (members already trained are kept)", err=True)

    def on_member(i: int, n_members: int, name: str, status: str) -> None:
        if status == "save":
            if not ensemble and not quiet:
                bar.close()
                click.echo("exporting ONNX and saving...", err=True)
            return
        if not ensemble:
            return
        bar.reset(total=epochs_planned)
        bar.set_description(f"{name} ({i + 1}/{n_members}) [{eq}]")
        if status == "kept":
            click.echo(f"{name}: already trained, kept", err=True)

    if ensemble:
        click.get_current_context().meta["autobuild.resume"] = "rerun the same command (finished members are kept)"
    p.fit(table, folds=folds, seeds=seeds, out=out, overwrite=overwrite, progress=progress,
          on_member=on_member, on_start=on_start)
    bar.close()
    if ensemble:
        if loss != "mse":  # MSE-only members are not trained to rank hops: nothing to warn about there
            _warn_models(p, "module scoring")
        if not quiet:
            click.echo(f"saved ensemble {out}: {p.summary()}")
        return
    if not quiet:
        click.echo(f"saved {out}: {p.summary()}")
    _training_notes(out, p.report, quiet)


def _training_notes(out: str, report: dict, quiet: bool = False) -> None:
    from .models.quality import poor_model_warning, still_rising

    note = still_rising(report)
    if note and not quiet:
        click.echo(f"note: {note}", err=True)
    w = poor_model_warning(out, report, "anything built or searched")
    if w:
        warn(w)


# --------------------------------------------------------------------------- info
@cli.command("info", short_help="Show a model's metrics, moments and FE-MLP importance.")
@click.argument("model_dir", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the stored config and metrics as JSON.")
def info_cmd(model_dir: str, as_json: bool) -> None:
    """Show a trained model or ensemble: test metrics per hop (Fig. 2), statistics, FE-MLP importance."""
    from .predictor import Predictor

    p = Predictor.load(model_dir)
    if as_json:
        click.echo(json.dumps(p.to_json(), indent=1))
        return
    for line in p.describe():
        click.echo(line)


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
    from .data.table import read_records, write_records
    from .predictor import Predictor

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
    from .metrics import regression_report

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


@cli.command("count", short_help="Exact MACs / FLOPs and parameters of OFA or U-Net archs.")
@SPACE
@click.option("--data", "data", required=True, help="CSV/JSONL with an arch column (other columns are not copied).")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="Output CSV/JSONL: arch, macs, params.")
@click.option("--resolution", type=click.IntRange(32, 1024), default=None,
              help="Input resolution of archs without r (ofa's image_size is read as r).")
@QUIET
def count_cmd(space_name: str | None, data: str, out: str, resolution: int | None, quiet: bool) -> None:
    """Multiply-accumulates and parameters of every arch's subnet, counted analytically as the OFA
    authors' flops counter counts them (Conv2d and Linear at batch 1); ofa-mbv3 and ofa-pn. For the
    U-Net spaces: FLOPs at a 64 x 64 latent (as torch.utils.flop_counter) and parameters.

    The same counts are the metrics macs and params of target equations (`train --target
    "acc*100 - macs/1e7"`) when the data has no such columns."""
    from .data.table import Records, read_records, write_records
    from .networks.counts import count_codes

    sp = network_space(space_name, ("ofa-mbv3", "ofa-pn", "sd-unet"))  # before reading the data
    check_outputs((out, "table"))
    has_r = any(f.name == "r" for f in sp.global_features)

    def validate(a: Any) -> dict:
        if resolution is not None and has_r and isinstance(a, dict) and "r" not in a and "image_size" not in a:
            a = {**a, "r": resolution}
        return sp.validate(a)

    records = read_records(data, validate=validate)
    counts = count_codes(sp, sp.encode(records.archs))
    only_arch = Records(["arch"], [{"arch": r["arch"]} for r in records.rows], records.archs, records.jsonl,
                        records.source)
    write_records(out, only_arch, counts)
    if not quiet:
        long = {"macs": "MACs", "flops": "FLOPs (64 x 64 latent)", "params": "parameters"}
        short = {"macs": "MACs", "flops": "FLOPs", "params": "params"}
        what = " and ".join(long.get(k, k) for k in counts)
        ranges = ", ".join(f"{short.get(k, k)} {v.min():,}..{v.max():,}" for k, v in counts.items())
        click.echo(f"wrote {what} of {len(records)} {sp.name} archs to {out} ({ranges})", err=True)


@cli.command("export", short_help="Build an OFA arch's subnet and write it as ONNX.")
@SPACE
@click.option("--arch", "arch_spec", required=True,
              help="Arch as inline JSON, or @FILE (a JSON arch, or a CSV/JSONL, see --row). ofa's own "
                   "convention is accepted: image_size for r.")
@click.option("--row", type=click.IntRange(1, 10_000_000), default=None, help="Row of a CSV/JSONL --arch file [default: 1].")
@click.option("--resolution", type=click.IntRange(32, 1024), default=None,
              help="Input resolution for an arch without r (or image_size).")
@click.option("--weights", type=click.Path(dir_okay=False), default=None,
              help="Supernet weights (.safetensors, or a torch checkpoint, read without running pickle code) "
                   "[default: random, seeded].")
@seed_option("Seed of the random weights and of the parity-check input.")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="ONNX file to write.")
@OVERWRITE
@QUIET
def export_cmd(space_name: str | None, arch_spec: str, row: int | None, resolution: int | None, weights: str | None,
               seed: int, out: str, overwrite: bool, quiet: bool) -> None:
    """Build the PyTorch subnet of an OFA arch with the ofa package and write it as ONNX at the arch's
    resolution (batch 1), checked with onnx.checker and against PyTorch on ONNX Runtime."""
    from .cli_plot import parse_arch
    from .networks.ofa_build import export_subnet

    sp = network_space(space_name)
    if Path(out).exists() and not overwrite:
        raise AutobuildError(f"{out}: exists; pass --overwrite to replace it")
    arch = dict(parse_arch(arch_spec, row))
    if "r" not in arch and "image_size" not in arch and resolution is not None:
        arch["r"] = resolution
    sp.validate(arch)
    info = export_subnet(sp, arch, out, weights=weights, seed=seed,
                         status=None if quiet else (lambda m: click.echo(m + "...", err=True)))
    if not quiet:
        click.echo(f"wrote {out}: {sp.name} subnet at {info['resolution']}x{info['resolution']}, "
                   f"{info['macs'] / 1e6:.1f} M MACs, {info['params'] / 1e6:.2f} M params, {info['nodes']} ONNX nodes; "
                   f"ONNX Runtime = PyTorch within {info['max_abs_diff']:.2g}", err=True)


@cli.command("providers")
def providers_cmd() -> None:
    """List the ONNX Runtime execution providers available here."""
    from .models.inference import available_providers

    for p in available_providers():
        click.echo(p)

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

    from .predictor import Predictor
    from .scoring import write_scores
    from .scoring.scorer import module_count

    check_outputs((out, "scores"))
    p = Predictor.load(list(model_dirs), runtime=runtime, provider=provider)
    _warn_models(p, "module scoring")
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
        from .plots import modules_table

        click.echo(modules_table(scores, show))


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
    from .construction import build
    from .construction.select import select_modules
    from .construction.summary import own_models, parse_evaluate
    from .scoring import read_scores

    check_outputs((out, "table"), (reduced_out, "reduced space"))
    sp = _space(space_name) if space_name else None
    loaded = [read_scores(p, space=sp) for p in scores]
    names = [f"{Path(p).name} ({s.target})" for p, s in zip(scores, loaded)]
    _warn_scores(scores, [(s, select_modules(s, k, constrained)) for s in loaded])
    if not quiet:
        for p, s in zip(scores, loaded):
            for label, tied, margin in s.tied_stages(more_than=k):
                click.echo(f"note: {Path(p).name}: stage {label}: the top {k} is a pick among {tied:,} modules "
                           f"indistinguishable from the best (scores within ±{margin:.3g})", err=True)
    b = build(loaded, k=k, top=top, constrained=constrained, limit=limit, names=names)
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
    from .models.quality import LOW_SRCC

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



def _register() -> None:
    from .cli_exhaustive import exhaustive
    from .cli_opgraph import opgraphs, subgraphs
    from .cli_plot import plot
    from .cli_profile import profile
    from .cli_report import report
    from .cli_search import search
    from .cli_unet import unet

    cli.add_command(exhaustive)
    cli.add_command(opgraphs)
    cli.add_command(plot)
    cli.add_command(profile)
    cli.add_command(report)
    cli.add_command(search)
    cli.add_command(subgraphs)
    cli.add_command(unet)


_register()


if __name__ == "__main__":  # pragma: no cover
    main()
