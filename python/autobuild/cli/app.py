"""Command-line interface: ``autobuild space|sample|train|info|predict|providers|score|build|plot|search``.

Every bad input, option errors included, ends in one line ``autobuild: error: ...`` and exit status
2; no traceback, and no output is left half-written.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .. import __version__
from ..errors import AutobuildError


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
    A typical session:
      autobuild train --space ofa-mbv3 --data builtin:ofa-mbv3 --target '100**acc/(log10(latency_gpu+1)+1)' --out runs/eff
      autobuild score runs/eff --out scores.csv
      autobuild build scores.csv --k 3 --out built.csv
      autobuild report runs/eff scores.csv --out report.html

    Each command's --help says what it does; the README has a walkthrough.
    Method: AutoBuild (Mills et al., CVPR 2024).
    """


def main() -> None:  # console-script entry point
    cli(prog_name="autobuild")
