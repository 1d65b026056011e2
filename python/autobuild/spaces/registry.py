"""The registry of built-in spaces: name -> factory, imported on first use.

A new built-in space is one file defining a factory that returns a
:class:`~autobuild.spaces.protocol.SearchSpace`, and one :func:`register_space` line below. A space
that is not a :class:`~autobuild.spaces.macro.MacroSpace` writes ``"type"`` in its ``to_dict`` and
registers how to rebuild it from that dict (:func:`register_space_type`), so that models, reduced
spaces and journals of it load back.
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
register_space("onnx-ir", ".opgraph:onnx_ir", aliases=("ir", "onnx_ir"))
register_space("sdv14-unet", ".unet:sdv14_unet", aliases=("sd-unet",))
register_space("sdv14-unet-hw", ".unet:sdv14_unet_hw", aliases=("sd-unet-hw",))


#: space type (the ``type`` field of a space's ``to_dict``) -> "module:function" that rebuilds it
#: from that dict; "macro" (no ``type`` field) is :class:`~autobuild.spaces.macro.MacroSpace`.
SPACE_TYPES: dict[str, str] = {"onnx-ir": ".opgraph:from_dict", "unet": ".unet:from_dict"}


def register_space_type(kind: str, from_dict: str) -> None:
    """Make ``space_from_dict({"type": kind, ...})`` call ``from_dict(d, source)``."""
    SPACE_TYPES[kind] = from_dict


def space_type(kind: str, source: str = "space") -> Callable[[dict, str], Any]:
    """The ``from_dict`` of a registered space type (one-line error for an unknown one)."""
    from ..errors import AutobuildError

    if kind not in SPACE_TYPES:
        raise AutobuildError(f"{source}: unknown space type {kind!r} (known: macro"
                             f"{''.join(', ' + k for k in SPACE_TYPES)})")
    mod, _, fn = SPACE_TYPES[kind].partition(":")
    return getattr(importlib.import_module(mod, __package__), fn)


def builtin_space(name: str) -> Any | None:
    """A fresh instance of the built-in space ``name`` (or alias); ``None`` if there is none."""
    key = ALIASES.get(name, name)
    if key not in SPACES:
        return None
    mod, _, fn = SPACES[key].partition(":")
    factory: Callable[[], Any] = getattr(importlib.import_module(mod, __package__), fn)
    return factory()
