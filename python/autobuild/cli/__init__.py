"""The command line, one file per command: each parses its options (click checks types and ranges),
makes one library call (:class:`autobuild.Predictor`, :func:`autobuild.build`, :class:`autobuild.Search`,
...) and prints. :mod:`.app` holds the group and the one-line error handling, :mod:`.options` the
options and helpers the commands share.
"""

from __future__ import annotations

from . import (  # noqa: F401 - @cli.command
    build,
    count,
    export,
    info,
    predict,
    providers,
    sample,
    score,
    space,
    train,
)
from .app import cli, main, usage_message
from .exhaustive import exhaustive
from .opgraphs import opgraphs, subgraphs
from .plot import plot
from .profile import profile
from .report import report
from .search import search
from .unet import unet

for _command in (exhaustive, opgraphs, plot, profile, report, search, subgraphs, unet):
    cli.add_command(_command)

__all__ = ["cli", "main", "usage_message"]
