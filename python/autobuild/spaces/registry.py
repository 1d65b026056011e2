"""The registry of built-in spaces: name -> factory, imported on first use.

A new built-in space is one file defining a factory that returns a
:class:`~autobuild.spaces.protocol.SearchSpace`, and one :func:`register_space` line below.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

#: name -> "module:function" (relative to this package) of the factory.
SPACES: dict[str, str] = {}
#: other accepted spellings -> name.
ALIASES: dict[str, str] = {}


def register_space(name: str, factory: str, aliases: tuple[str, ...] = ()) -> None:
    """Make ``get_space(name)`` (and each alias) call ``factory`` (``"module:function"``)."""
    SPACES[name] = factory
    for a in aliases:
        ALIASES[a] = name


register_space("ofa-mbv3", ".ofa:ofa_mbv3", aliases=("mbv3", "ofa_mbv3"))
register_space("ofa-pn", ".ofa:ofa_pn", aliases=("pn", "ofa_pn"))


def builtin_space(name: str) -> Any | None:
    """A fresh instance of the built-in space ``name`` (or alias); ``None`` if there is none."""
    key = ALIASES.get(name, name)
    if key not in SPACES:
        return None
    mod, _, fn = SPACES[key].partition(":")
    factory: Callable[[], Any] = getattr(importlib.import_module(mod, __package__), fn)
    return factory()
