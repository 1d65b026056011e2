"""Access to the surrogate oracles of the reference material (../shared/oracles), for benchmarks.

Set AUTOBUILD_SHARED to point elsewhere. Nothing of the oracles is copied into the project."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AUTOBUILD_SHARED", ROOT.parent / "shared"))


def load_oracle():  # noqa: ANN201
    path = SHARED / "oracles" / "oracle.py"
    if not path.is_file():
        sys.exit(f"reference oracles not found at {path} (set AUTOBUILD_SHARED)")
    spec = importlib.util.spec_from_file_location("autobuild_bench_oracle", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod
