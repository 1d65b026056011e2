"""Options and output helpers every command shares, so that each concept has one name, one help
line and one behaviour across every command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import limits
from ..errors import AutobuildError
from ..spaces.macro import PADS

PAD = click.option("--pad", type=click.Choice(PADS), default="repeat", show_default=True,
                   help="Unused layer slots of written archs: repeat the stage's last layer (valid for ofa's "
                        "set_active_subnet) or 0.")
SPACE_HELP = ("The search space: a built-in name (`autobuild space` lists them) or a .yaml/.json space file. Where an "
              "input (model, scores, reduced space) names its space already, this is a check (inputs of another "
              "space are refused) and gives a space file's definition.")
SPACE = click.option("--space", "space_name", default=None, metavar="NAME|FILE", help=SPACE_HELP)
REDUCED_OUT = click.option("--reduced-out", "--space-out", "reduced_out", type=click.Path(dir_okay=False), default=None,
                           help="Also write the reduced space, for `sample --reduced` and `search --reduced` "
                                "(--space-out is another name for it).")
QUIET = click.option("--quiet", is_flag=True, help="No progress bar or status lines.")
OVERWRITE = click.option("--overwrite", is_flag=True,
                         help="Replace an existing output directory that autobuild wrote (never anything else).")


def seed_option(help_: str = "Random seed.") -> Any:
    return click.option("--seed", type=click.IntRange(0, limits.MAX_SEED), default=0, show_default=True, help=help_)


OFA = ("ofa-mbv3", "ofa-pn")


def network_space(space_name: str | None, families: tuple[str, ...] = OFA) -> Any:
    """The ``--space`` of the commands that build or count real networks (``count``, ``export``,
    ``profile``): required, with the ``network`` capability and of one of ``families`` (the
    space's ``network_family``, :mod:`autobuild.networks`)."""
    if not space_name:
        raise click.UsageError("--space is required (ofa-mbv3 or ofa-pn)")
    from ..spaces import get_space

    space = get_space(space_name)
    if "network" not in space.capabilities or space.network_family not in families:
        names = [f for f in families if f in OFA] + (["the U-Net spaces"] if "sd-unet" in families else [])
        raise AutobuildError(f"real networks (MACs and parameter counts, export, profiling) are defined for "
                             f"{', '.join(names)}, not {space.name!r}")
    return space


def warn(msg: str) -> None:
    """A warning the user must not miss (stderr, one line)."""
    click.echo(f"autobuild: WARNING: {msg}", err=True)


def check_outputs(*pairs: tuple[str | None, str]) -> None:
    """Refuse unknown output extensions before any work is done: (path, kind) with kind one of
    ``table``, ``figure``, ``scores``, ``reduced space``."""
    from ..io_utils import OUTPUT_FORMATS, output_format

    for path, kind in pairs:
        if path is not None:
            output_format(path, OUTPUT_FORMATS[kind], kind)


def parse_ref(text: str | None, names: list[str] | None = None) -> dict[str, float] | None:
    """``--ref acc=0.74,latency_gpu=10.6`` -> metric -> finite value (with ``names``: one per name)."""
    import math

    if not text:
        return None
    out = {}
    for part in text.split(","):
        k, eq, v = part.partition("=")
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise AutobuildError(f"--ref {text!r}: expected METRIC=VALUE,...") from None
        if not eq or not k.strip() or not math.isfinite(out[k.strip()]):
            raise AutobuildError(f"--ref {text!r}: expected METRIC=VALUE,... with finite values")
    if names is not None and sorted(out) != sorted(names):
        raise AutobuildError(f"--ref must give a value for each objective ({', '.join(names)})")
    return out


def load_space(name: str):  # noqa: ANN201
    """``--space NAME|FILE``: a built-in space or a space file."""
    from ..spaces import get_space

    return get_space(name)


def warn_quality(predictor: Any, purpose: str) -> None:
    """Warn when a predictor ranks poorly on its held-out archs (``purpose``: what is built from it)."""
    w = predictor.quality_warning(purpose)
    for line in (w.splitlines() if w else ()):
        warn(line)


def parse_arch(spec: str, row: int | None = None) -> Any:
    """``--arch`` value: inline JSON, or ``@FILE``: a JSON arch (or a record with an ``arch`` key),
    or any table autobuild writes (CSV with an ``arch`` column, JSONL), of which ``row`` (1-based,
    default 1) is taken. Bounded size and nesting."""
    from ..io_utils import TABLE_FORMATS
    from ..safe_input import parse_json, read_text

    if spec.startswith("@"):
        p = Path(spec[1:])
        if not p.exists():
            raise AutobuildError(f"--arch: {p}: file not found")
        if p.name.lower().endswith(tuple(TABLE_FORMATS)):
            from ..data.table import read_records

            recs = read_records(p)
            r = 1 if row is None else row
            if r > len(recs):
                raise AutobuildError(f"--row {r}: {p} has {len(recs)} rows")
            return recs.archs[r - 1]
        text = read_text(p, "arch file", 1 << 20)
        where = f"--arch: {p}"
    else:
        text, where = spec, "--arch"
    if row is not None:
        raise AutobuildError("--row applies to a CSV or JSONL file given as --arch @FILE")
    try:
        arch = parse_json(text, where)
    except AutobuildError as e:
        raise AutobuildError(str(e).replace("malformed JSON", "invalid JSON")) from None
    if isinstance(arch, dict) and isinstance(arch.get("arch"), dict):
        arch = arch["arch"]  # one record of a JSONL file
    if not isinstance(arch, dict):
        raise AutobuildError(f"{where}: an arch must be a JSON object, got {type(arch).__name__}")
    return arch
