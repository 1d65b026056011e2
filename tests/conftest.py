"""Shared fixtures. Tests that need the reference material in ../shared skip cleanly without it."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("AUTOBUILD_SHARED", ROOT.parent / "shared"))
ORACLE_DIR = SHARED / "oracles"


def _load_oracle():
    path = ORACLE_DIR / "oracle.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("autobuild_test_oracle", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def oracle():
    """The surrogate oracle module from ../shared/oracles (skips when absent)."""
    mod = _load_oracle()
    if mod is None:
        pytest.skip(f"reference oracles not found at {ORACLE_DIR}")
    return mod


def reseal_model(d) -> None:
    """Recompute a model directory's manifest after a deliberate edit, as someone editing a model
    on purpose would: the checks behind the manifest must still refuse what is wrong."""
    from autobuild.manifest import write_manifest

    write_manifest(d, ["config.json", "model.safetensors", "model.onnx"], "model")
