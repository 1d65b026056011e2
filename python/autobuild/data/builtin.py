"""Embedded demo data: 3,000 labelled archs per OFA space (see README, "Embedded data").

Generated with the surrogate oracles of the project's reference material (``oracle.py sample
--seed 1`` then ``label`` with acc, latency_gpu, latency_cpu)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import AutobuildError

BUILTIN_DATA = {"ofa-mbv3": "ofa_mbv3_3k.csv.gz", "ofa-pn": "ofa_pn_3k.csv.gz"}
_ALIASES = {"mbv3": "ofa-mbv3", "pn": "ofa-pn"}


def builtin_data_path(name: str) -> Path:
    """Path of an embedded data set (``ofa-mbv3`` or ``ofa-pn``)."""
    key = _ALIASES.get(name, name)
    if key not in BUILTIN_DATA:
        raise AutobuildError(f"unknown built-in data set {name!r} (available: {', '.join(f'builtin:{k}' for k in BUILTIN_DATA)})")
    return Path(str(resources.files("autobuild.data").joinpath("demo", BUILTIN_DATA[key])))


def builtin_name(path: str | Path) -> str | None:
    """``builtin:NAME`` when ``path`` is an embedded data set (for messages), else ``None``."""
    try:
        p = Path(path).resolve()
    except OSError:
        return None
    for key, fname in BUILTIN_DATA.items():
        if p == Path(str(resources.files("autobuild.data").joinpath("demo", fname))).resolve():
            return f"builtin:{key}"
    return None


def display_name(path: str | Path) -> str:
    """How a file is named in messages: embedded demo data as ``builtin:NAME``, else the path."""
    return builtin_name(path) or str(path)


def resolve_data(spec: str | Path) -> Path:
    """``builtin:ofa-mbv3`` -> the embedded demo data; anything else is a path."""
    s = str(spec)
    if s.startswith("builtin:"):
        return builtin_data_path(s.split(":", 1)[1])
    return Path(s)
