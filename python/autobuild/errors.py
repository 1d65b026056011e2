"""Exception types. Every user-facing failure is an :class:`AutobuildError` whose message is one
line that names the offending input (file, row, arch index, field); the CLI prints it as
``autobuild: error: <message>`` and exits with status 2."""

from __future__ import annotations


class AutobuildError(ValueError):
    """Bad user input or a bad artifact (malformed arch, unknown metric, corrupt model...)."""
