"""Shared fixtures. Tests that need the reference material in ../shared skip cleanly without it."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import csv
import gzip

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


def pytest_collection_modifyitems(items) -> None:
    """Tests marked ``heavy`` first (stable order otherwise): with ``-n 2`` the long ones then run
    while the many short ones fill the other worker, instead of one long test ending the run alone."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("heavy") else 1)


def reseal_model(d) -> None:
    """Recompute a model directory's manifest after a deliberate edit, as someone editing a model
    on purpose would: the checks behind the manifest must still refuse what is wrong."""
    from autobuild.manifest import write_manifest

    write_manifest(d, ["config.json", "model.safetensors", "model.onnx"], "model")


def shared(tmp_path_factory, name: str, make) -> Path:
    """``make(folder)`` run once per test run, its folder shared by every pytest-xdist worker (the
    others wait on a lock and reuse it): session fixtures are not rebuilt on each worker. Tests
    must treat the folder as read-only."""
    import fcntl

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's base folder, common to all workers
    folder = root / f"shared-{name}"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / f"shared-{name}.done").exists():
            folder.mkdir(exist_ok=True)
            make(folder)
            (root / f"shared-{name}.done").touch()
    return folder


@pytest.fixture(scope="session")
def small_data(tmp_path_factory) -> Path:
    """The first 400 rows of the embedded ofa-mbv3 data as a plain CSV."""
    from autobuild.data.builtin import builtin_data_path

    def make(folder: Path) -> None:
        with gzip.open(builtin_data_path("ofa-mbv3"), "rt", newline="") as f:
            rows = list(csv.reader(f))[:401]
        with open(folder / "mbv3_400.csv", "w", newline="") as f:
            csv.writer(f).writerows(rows)

    return shared(tmp_path_factory, "data", make) / "mbv3_400.csv"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, small_data) -> Path:
    """A 3-epoch accuracy predictor on ``small_data`` (trained once per test run)."""
    from click.testing import CliRunner

    from autobuild.cli import cli

    def make(folder: Path) -> None:
        res = CliRunner().invoke(cli, ["train", "--space", "ofa-mbv3", "--data", str(small_data), "--target", "acc",
                                       "--epochs", "3", "--out", str(folder / "acc"), "--quiet"], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        assert (folder / "acc" / "manifest.json").is_file()

    return shared(tmp_path_factory, "model", make) / "acc"


@pytest.fixture(scope="session")
def scores_csv(tmp_path_factory, model_dir) -> Path:
    """Module scores of ``model_dir``."""
    from click.testing import CliRunner

    from autobuild.cli import cli

    def make(folder: Path) -> None:
        res = CliRunner().invoke(cli, ["score", str(model_dir), "--out", str(folder / "scores.csv"), "--quiet",
                                       "--show", "0"], catch_exceptions=False)
        assert res.exit_code == 0, res.output

    return shared(tmp_path_factory, "scores", make) / "scores.csv"
