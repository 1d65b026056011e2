"""The README's five-minute walkthrough runs as written (at toy size: 2 epochs per predictor)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import walkthrough  # noqa: E402


def test_walkthrough_block_is_found_and_sane():
    cmds = walkthrough.commands()
    verbs = [c[1] for c in cmds]
    assert verbs == ["train", "train", "train", "score", "build", "search", "report"]
    assert all(c[0] == "autobuild" for c in cmds)


@pytest.mark.heavy
def test_readme_walkthrough_runs_at_toy_size(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(ROOT / "python"), env.get("PYTHONPATH", "")] if p) \
        if not _installed() else env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "walkthrough.py"), "--workdir", str(tmp_path),
                        "--epochs", "2", "--in-process"], capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "walkthrough: done" in r.stdout
    for name in ("runs/eff/model.onnx", "scores.csv", "built.csv", "reduced.json", "run.db", "front.csv",
                 "front.png", "report.html"):
        assert (tmp_path / name).is_file(), name
    assert "what was built:" in r.stderr and "predicted by:" in r.stderr
    assert (tmp_path / "report.html").read_text().count("data:image/png;base64,") >= 8


def _installed() -> bool:
    """autobuild importable as installed (CI: the wheel) rather than from the source tree."""
    import autobuild

    return "site-packages" in str(Path(autobuild.__file__).resolve())
