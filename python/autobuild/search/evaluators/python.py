"""The user's own evaluator, ``module:function`` or ``path/to/file.py:function``: imported without
letting it, or its folder, shadow anything else."""

from __future__ import annotations

import os
import sys
from typing import Any

from ...errors import AutobuildError


def import_user_module(spec: str, mod_name: str) -> Any:
    """Import the user's evaluator module without letting it, or its folder, shadow anything else.

    ``path/to/file.py`` is loaded from that file under a private module name. A module name is
    imported normally, with the working directory searched *last* (appended to ``sys.path``, never
    put first), so a ``matplotlib.py`` lying in the working directory is never picked up instead of
    the library."""
    import importlib.util

    try:
        if mod_name.endswith(".py") or os.sep in mod_name or "/" in mod_name:
            path = os.path.abspath(mod_name)
            if not os.path.isfile(path):
                raise AutobuildError(f"evaluator {spec!r}: no such file {mod_name}")
            name = "_autobuild_evaluator_" + "".join(c if c.isalnum() else "_" for c in path)
            if name in sys.modules:
                return sys.modules[name]
            s = importlib.util.spec_from_file_location(name, path)
            if s is None or s.loader is None:
                raise AutobuildError(f"evaluator {spec!r}: cannot load {mod_name}")
            mod = importlib.util.module_from_spec(s)
            sys.modules[name] = mod
            try:
                s.loader.exec_module(mod)
            except BaseException:
                sys.modules.pop(name, None)
                raise
            return mod
        cwd = os.getcwd()
        if cwd not in sys.path and "" not in sys.path:
            sys.path.append(cwd)
        return importlib.import_module(mod_name)
    except AutobuildError:
        raise
    except ImportError as e:
        raise AutobuildError(f"evaluator {spec!r}: cannot import {mod_name!r}: {e}") from None
    except SystemExit as e:
        raise AutobuildError(f"evaluator {spec!r}: importing {mod_name!r} called sys.exit({e.code!r})") from None
    except Exception as e:  # noqa: BLE001 - the user's module failed while importing
        raise AutobuildError(f"evaluator {spec!r}: importing {mod_name!r} failed: {type(e).__name__}: {e}") from None
