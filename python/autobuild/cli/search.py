"""``autobuild search``: the evolutionary multi-objective search (paper Sec. 5.1, 7.5)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import limits
from ..errors import AutobuildError
from ..search.strategies import STRATEGIES
from .options import PAD, QUIET, SPACE, parse_ref, seed_option, warn


def _auto_reduced(space_name, reduced, objectives, p, data, k, epochs, work, seed):  # noqa: ANN001, ANN202
    from ..data.table import read_labelled
    from ..search.auto_space import build_auto_reduced
    from ..search.objectives import parse_objectives
    from ..spaces import get_space

    if reduced:
        raise AutobuildError("give either --reduced or --auto-equations")
    if not space_name or not data or not objectives:
        raise AutobuildError("--auto-equations needs --space, --data and --objectives")
    sp = get_space(space_name)
    table = read_labelled(data, validate=sp.validate)
    rs, eqs = build_auto_reduced(sp, table, parse_objectives(objectives), p, k, epochs, work, seed,
                                 log=lambda m: click.echo(m, err=True))
    click.echo(f"auto equations -> reduced space {' x '.join(map(str, rs.sizes))} = {rs.cardinality():,} archs "
               f"(saved to {Path(work) / 'reduced.json'})", err=True)
    return rs


_AUTO_OPTIONS = ("--auto-equations", "--data", "--k", "--epochs", "--work")


def _plot_inputs(ref: str | None, data_front: str | None, objs: list) -> tuple:
    """``--ref`` and ``--data-front`` checked and read: (reference point or None, data metrics or None)."""
    from ..search.objectives import objective_columns

    ref_point = parse_ref(ref, [o.metric for o in objs])
    if data_front and len(objs) != 2:
        raise AutobuildError(f"--data-front draws a 2-objective plot; this search has {len(objs)} objectives")
    return ref_point, (objective_columns(data_front, objs) if data_front else None)


@click.command("search", short_help="Evolutionary multi-objective search for a Pareto front.")
@SPACE
@click.option("--strategy", type=click.Choice(list(STRATEGIES)), default=None,
              help="Mutation strategy [default: autobuild with --reduced, else stage-full].")
@click.option("--reduced", type=click.Path(dir_okay=False), default=None, help="Reduced space from `autobuild build --reduced-out`.")
@click.option("--device", default=None, help="Device of the layer-insight restrictions (gpu, cpu, npu, n10, max_acc).")
@click.option("--objectives", default=None, help="e.g. acc:max,latency_gpu:min")
@click.option("--evaluator", default=None,
              help="module:function, path/to/file.py:function, onnx:METRIC=MODEL_DIR,... (built-in predictors) "
                   "or count:SPACE (exact macs and params of OFA archs); A;B combines evaluators.")
@click.option("--budget", type=click.IntRange(1, limits.MAX_ARCHS), default=None,
              help="Evaluations in all [default: 250; with --resume: the journal's, or more to extend the run].")
@click.option("--initial", type=click.IntRange(1, limits.MAX_ARCHS), default=50, show_default=True, help="Random initial pool.")
@click.option("--per-iteration", type=click.IntRange(1, limits.MAX_ARCHS), default=50, show_default=True,
              help="New archs per iteration.")
@seed_option("Random seed of the run.")
@click.option("--journal", type=click.Path(dir_okay=False), default=None, help="SQLite journal (WAL) of every evaluation.")
@click.option("--resume", type=click.Path(dir_okay=False), default=None, help="Continue the run stored in this journal.")
@click.option("--executor", type=click.Choice(["process", "inline", "ray"]), default="process", show_default=True,
              help="Where evaluations run.")
@click.option("--workers", type=click.IntRange(1, limits.MAX_WORKERS), default=2, show_default=True,
              help="Processes of the local pool.")
@click.option("--ray-address", default=None, help="Ray cluster address (default: start a local Ray).")
@click.option("--ref", default=None, help="Hypervolume reference point, e.g. acc=0.74,latency_gpu=10.6.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Front CSV (arch + objectives).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="Pareto plot PNG [default: OUT.png].")
@click.option("--data-front", "data_front", default=None, metavar="DATA",
              help="Labelled data (CSV/JSONL or builtin:NAME) whose own Pareto front the plot draws for comparison.")
@click.option("--auto-equations", "auto_p", type=click.IntRange(1, 64), default=None,
              help="Derive P target equations from --data, train, score and build the reduced space (beyond the paper).")
@click.option("--data", default=None, help="Labelled data for --auto-equations (CSV/JSONL or builtin:NAME).")
@click.option("--k", "k", type=click.IntRange(1, 100_000), default=25, show_default=True,
              help="Modules per stage and equation (--auto-equations).")
@click.option("--epochs", type=click.IntRange(1, limits.MAX_EPOCHS), default=200, show_default=True,
              help="Predictor epochs (--auto-equations).")
@click.option("--work", type=click.Path(file_okay=False), default=None,
              help="Where --auto-equations keeps its predictors [default: JOURNAL.work or ./autobuild-auto].")
@PAD
@QUIET
@click.pass_context
def search(ctx, space_name, strategy, reduced, device, objectives, evaluator, budget, initial, per_iteration, seed,  # noqa: ANN001, ANN201, PLR0913
           journal, resume, executor, workers, ray_address, ref, out, plot_path, data_front, auto_p, data, k, epochs, work, pad, quiet):
    """Search a space (or a reduced space) for the Pareto front of the objectives.

    Every evaluation is written to the journal as it returns; `--resume JOURNAL` continues an
    interrupted run with nothing lost and nothing evaluated twice (a larger --budget extends it).
    A journal has one writer at a time; everything is checked before it is created."""
    from tqdm import tqdm

    from ..construction import load_reduced
    from ..search.objectives import parse_objectives
    from ..search.study import Search
    from ..spaces import get_space

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE

    def note(msg: str) -> None:
        if not quiet:
            click.echo(msg, err=True)

    from .options import check_outputs

    check_outputs((out, "table"), (plot_path, "figure"))
    if resume and journal and Path(resume) != Path(journal):
        raise AutobuildError("give either --resume JOURNAL or --journal JOURNAL, not two different files")
    jpath = resume or journal
    checked = None
    if resume:
        for opt, name in zip(_AUTO_OPTIONS, ("auto_p", "data", "k", "epochs", "work")):
            if given(name):
                raise AutobuildError(f"{opt} is not used with --resume: the journal holds the run's reduced space")
        asked: dict = {}
        for opt, name, value in (("--strategy", "strategy", strategy), ("--device", "device", device),
                                 ("--objectives", "objectives", objectives), ("--evaluator", "evaluator", evaluator),
                                 ("--initial", "initial", initial), ("--per-iteration", "per_iteration", per_iteration),
                                 ("--seed", "seed", seed)):
            if given(name):
                asked[opt] = value
        if given("space_name"):
            asked["--space"] = get_space(space_name).to_dict()
        if given("reduced"):
            asked["--reduced"] = load_reduced(reduced).to_dict()
        study = Search.resume(resume, warn=warn, **asked)
        try:  # a smaller budget is refused, a larger one said, before anything runs
            extended = study.planned(budget)
        except BaseException:
            study.close()
            raise
        if extended.budget != study.config.budget:
            note(f"extending the run to a budget of {extended.budget}")
        note(f"resuming {resume}: {study.evaluated} evaluations journaled")
    else:
        if not objectives or not evaluator:
            raise AutobuildError("give --objectives and --evaluator")
        if not reduced and not space_name:
            raise AutobuildError("give --space (or --reduced, or --resume)")
        parse_objectives(objectives)  # before --auto-equations trains anything
        from ..search.setup import budget_iterations
        from ..search.study import DEFAULT_BUDGET

        budget_iterations(DEFAULT_BUDGET if budget is None else budget, initial, per_iteration)
        rs = reduced
        if auto_p is not None:  # the evaluator checked first: a bad one trains nothing
            from ..search.setup import check_evaluator

            if space_name:  # quietly: the search's own check below says what there is to say
                check_evaluator(evaluator, get_space(space_name), [o.metric for o in parse_objectives(objectives)],
                                lambda _m: None)
            rs = _auto_reduced(space_name, reduced, objectives, auto_p, data, k, epochs, work or
                               (f"{journal}.work" if journal else "autobuild-auto"), seed)
        study = Search(space_name, objectives, evaluator,
                       reduced=rs, strategy=strategy, device=device, initial=initial, per_iteration=per_iteration,
                       seed=seed, journal=journal, warn=warn)
    with study:
        objs = study.objectives
        checked = _plot_inputs(ref, data_front, objs)  # before the journal exists: a bad one leaves nothing
        if jpath:
            ctx.meta["autobuild.resume"] = f"autobuild search --resume {jpath}" + (f" --out {out}" if out else "")
        bar = None

        def on_start(line: str) -> None:
            nonlocal bar
            note(line)
            bar = tqdm(total=study.config.budget, desc="search", unit="arch", disable=quiet or None, file=sys.stderr)

        try:
            res = study.run(budget, executor=executor, workers=workers, ray_address=ray_address,
                            progress=lambda n: bar.update(n), on_start=on_start)
        finally:
            if bar is not None:
                bar.close()
    sp, cfg = study.space, study.config
    ref_point, front_data = checked
    for n_ in res.notes:
        click.echo(f"note: {n_}", err=True)
    front = res.front
    lines = res.summary()
    msg = lines[0]
    if ref_point and len(objs) == 2:
        msg += f"; hypervolume {res.hypervolume(ref_point):.6g}"
        if front_data is not None:
            from ..search.objectives import hypervolume

            msg += f" (the front of {data_front}: {hypervolume(objs, front_data, ref_point):.6g})"
    note(msg)
    if not quiet:
        for line in lines[1:]:
            click.echo(line, err=True)
    if out:
        res.write_front(out, pad)
        note(f"wrote the front to {out}")
        plot_path = plot_path or str(Path(out).with_suffix(".png"))
    if plot_path and len(objs) == 2:
        from ..report.figures import plot_front

        plot_front(res, plot_path, title=f"{sp.name} {cfg.strategy} (seed {cfg.seed})",
                   ref=ref_point if ref_point and len(objs) == 2 else None, data=front_data,
                   data_label=f"data {data_front}")
        note(f"wrote {plot_path}")
    else:
        for i in front[:20]:
            click.echo("  " + "  ".join(f"{o.metric}={res.metrics[o.metric][i]:.5g}" for o in objs))
