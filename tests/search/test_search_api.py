"""``autobuild.Search`` from a script: Python evaluators where they can run, one clear line where
they cannot, and a script without a ``__main__`` guard told what is wrong."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from autobuild import AutobuildError, Search


def _macs_lite(archs: list) -> dict:
    """A Python evaluator: a cheap function of the depths."""
    return {"cost": np.array([float(sum(a["d"])) for a in archs])}


def test_python_callable_runs_inline_and_is_refused_elsewhere(tmp_path):
    with Search("ofa-mbv3", "cost:min", _macs_lite, initial=6, per_iteration=6, seed=1,
                journal=tmp_path / "j.db") as s:
        res = s.run(18, executor="inline")
    assert len(res) == 18 and res.metrics["cost"][res.front].min() == res.metrics["cost"].min()
    assert s.config.evaluator.startswith("python:")
    with pytest.raises(AutobuildError, match="rebuilds the evaluator in other processes.*executor='inline'"):
        Search("ofa-mbv3", "cost:min", _macs_lite, initial=6, per_iteration=6).run(18, executor="process")
    with pytest.raises(AutobuildError, match="Python object.*Search.resume"):
        Search.resume(tmp_path / "j.db")  # the CLI's resume: no evaluator to rebuild
    with Search.resume(tmp_path / "j.db", evaluator=_macs_lite) as s:
        again = s.run(24, executor="inline")  # extends the run: 6 more, 18 from the journal
    assert again.reused == 18 and again.evaluated_now == 6
    with pytest.raises(AutobuildError, match="extend a search, not shorten it"):
        with Search.resume(tmp_path / "j.db", evaluator=_macs_lite) as s:
            s.run(12, executor="inline")


def test_wrong_arguments_are_one_line_errors(tmp_path):
    for kw, match in (({"evaluator": 5}, "evaluator must be"), ({"objectives": "acc:up"}, "expected NAME:max"),
                      ({"initial": 0}, "initial must be"), ({"space": 3}, "space must be")):
        args = {"space": "ofa-mbv3", "objectives": "cost:min", "evaluator": _macs_lite, **kw}
        with pytest.raises(AutobuildError, match=match):
            Search(args.pop("space"), args.pop("objectives"), args.pop("evaluator"), **args)
    s = Search("ofa-mbv3", "cost:min", _macs_lite, initial=6, per_iteration=6)
    for budget, match in ((7, "multiple of --per-iteration"), (0, "budget must be"), ("10", "budget must be")):
        with pytest.raises(AutobuildError, match=match):
            s.run(budget, executor="inline")
    with pytest.raises(AutobuildError, match="executor"):
        s.run(12, executor=object())
    with pytest.raises(AutobuildError, match="no such journal"):
        Search.resume(tmp_path / "none.db")


@pytest.mark.heavy
def test_a_script_without_a_main_guard_is_told_so(tmp_path):
    body = """
        from autobuild import Search
        {guard}
            res = Search("ofa-mbv3", "macs:min", "count:ofa-mbv3", initial=4, per_iteration=4).run(8, executor="process")
            print("front", len(res.front))
    """
    bad = tmp_path / "noguard.py"
    bad.write_text(textwrap.dedent(body.format(guard="if True:")))
    good = tmp_path / "guard.py"
    good.write_text(textwrap.dedent(body.format(guard='if __name__ == "__main__":')))
    r = subprocess.run([sys.executable, str(bad)], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    assert f"imports {bad} again" in r.stderr and 'if __name__ == "__main__":' in r.stderr
    r = subprocess.run([sys.executable, str(good)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.startswith("front "), r.stderr[-2000:]
