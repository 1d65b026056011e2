"""``autobuild train``: a predictor or an ensemble from labelled archs (:meth:`autobuild.Predictor.fit`)."""

from __future__ import annotations

import sys

import click

from .. import limits
from ..errors import AutobuildError
from ..models.kinds import KINDS
from .app import cli
from .options import OVERWRITE, QUIET, seed_option, warn, warn_quality


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
                   "code) or spearman (soft rank correlation) [default: pearson; AutoBuild "
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
    training run, README "What each command costs")."""
    from ..predictor import Predictor

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
    p.check_fit(folds, seeds, out, overwrite)  # before reading data or training: never lose a minute to it
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
            warn_quality(p, "module scoring")
        if not quiet:
            click.echo(f"saved ensemble {out}: {p.summary()}")
        return
    if not quiet:
        click.echo(f"saved {out}: {p.summary()}")
    _training_notes(out, p.report, quiet)


def _training_notes(out: str, report: dict, quiet: bool = False) -> None:
    from ..models.quality import poor_model_warning, still_rising

    note = still_rising(report)
    if note and not quiet:
        click.echo(f"note: {note}", err=True)
    w = poor_model_warning(out, report, "anything built or searched")
    if w:
        warn(w)
