"""The README's Python API section runs as written (at toy size: 2 epochs per predictor), in a
fresh directory, and writes only the files it asks for."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def api_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- python-api -->\s*```python\n(.*?)```\s*<!-- /python-api -->", text, re.S)
    assert m, "README: no <!-- python-api --> block"
    return m.group(1)


@pytest.mark.heavy
def test_readme_python_api_runs(tmp_path, monkeypatch):
    code = api_block()
    assert code.count("epochs=200") == 3
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(code.replace("epochs=200", "epochs=2"), "README.md python-api", "exec"), ns)  # noqa: S102
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.db", "runs"]  # only what it asked for
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["eff"]
    assert ns["pred"].shape == (1000,) and len(ns["acc"].members) == 6 and len(ns["b"]) == 243
    assert len(ns["best"]) == 10 and ns["lines"][0] == "what was built:"
    res = ns["res"]
    assert res.reused > 0 and res.reused + res.evaluated_now == len(res) <= 150  # the first run's archs reused
    assert set(ns["counts"]) == {"macs", "params"} and len(ns["counts"]["macs"]) == len(res.front)
    assert np.all(ns["counts"]["macs"] > 0)
