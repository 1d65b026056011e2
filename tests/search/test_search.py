"""The evolutionary search: strategies, evaluators, journal, resume after SIGKILL, executors, CLI."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from autobuild import AutobuildError, core
from autobuild.cli import cli
from autobuild.search import SearchConfig, make_strategy, run_search
from autobuild.search.executors import InlineExecutor, ProcessExecutor
from autobuild.search.journal import Journal
from autobuild.spaces import get_space

HERE = Path(__file__).resolve().parents[1]  # tests/, where the evaluator modules lie
EVAL = "search_evaluators:toy"


@pytest.fixture(autouse=True)
def _cwd(monkeypatch):
    monkeypatch.chdir(HERE)  # evaluators are resolved from the working directory


def _cfg(sp, strategy="stage-full", **kw):
    base = dict(space=sp.to_dict(), strategy=strategy, evaluator=EVAL, objectives="acc:max,latency:min",
                initial=20, iterations=3, per_iteration=10, seed=1)
    base.update(kw)
    return SearchConfig(**base)


@pytest.mark.parametrize("strategy", ["stage-full", "layer-full", "layer-insight"])
@pytest.mark.parametrize("name", ["ofa-mbv3", "ofa-pn"])
def test_search_runs_every_strategy(name, strategy):
    sp = get_space(name)
    strat = make_strategy(strategy, sp, device="gpu")
    res = run_search(_cfg(sp, strategy), sp, strat, InlineExecutor())
    assert len(res.codes) == 50 and res.evaluated_now == 50
    assert len({c.tobytes() for c in res.codes}) == 50  # no arch evaluated twice
    for a in sp.decode(res.codes):
        sp.validate(a)
    f = res.front
    assert len(f) >= 1 and (res.rank[f] == 0).all()
    if strategy == "layer-insight":  # the expert restrictions hold for every evaluated arch
        assert (res.codes[:, : sp.n_stages] <= strat.max_depth).all()
        for code in res.codes:
            for s in range(sp.n_stages):
                off = sp.n_stages + int(sp.slot_offset[s])
                for c in code[off : off + code[s]]:
                    assert strat.allowed[s, c]


def test_search_improves_on_random():
    sp = get_space("ofa-mbv3")
    res = run_search(_cfg(sp, iterations=6), sp, make_strategy("stage-full", sp), InlineExecutor())
    ref = {"acc": 0.70, "latency": 5.0}
    init = np.flatnonzero(res.iteration == 0)
    assert res.hypervolume(ref) > res.hypervolume(ref, init)


def test_autobuild_strategy_stays_in_reduced_space(tmp_path):
    from autobuild.construction import ReducedSpace
    from autobuild.spaces import Module

    sp = get_space("ofa-mbv3")
    rng = np.random.default_rng(0)
    groups = []
    for g in range(5):
        mods = set()
        while len(mods) < 4:
            mods.add(Module(g, tuple(int(c) for c in rng.integers(0, 9, int(rng.integers(2, 5))))))
        groups.append(sorted(mods, key=lambda m: m.choices))
    rs = ReducedSpace(sp, groups, {"r": [192, 224]})
    strat = make_strategy("autobuild", sp, reduced=rs)
    res = run_search(_cfg(sp, "autobuild", initial=10, iterations=2, per_iteration=5), sp, strat, InlineExecutor())
    allowed = {c.tobytes() for c in sp.canonical_codes(rs.codes(rs.all_combos()))}
    assert all(c.tobytes() in allowed for c in res.codes)
    with pytest.raises(AutobuildError, match="needs a reduced space"):
        make_strategy("autobuild", sp)


def test_same_seed_same_run_and_process_pool():
    sp = get_space("ofa-pn")
    a = run_search(_cfg(sp), sp, make_strategy("stage-full", sp), InlineExecutor())
    ex = ProcessExecutor(2, chunk=4)
    try:
        b = run_search(_cfg(sp), sp, make_strategy("stage-full", sp), ex)
    finally:
        ex.close()
    np.testing.assert_array_equal(a.codes, b.codes)
    c = run_search(_cfg(sp, seed=2), sp, make_strategy("stage-full", sp), InlineExecutor())
    assert not np.array_equal(a.codes, c.codes)


def test_journal_resume_in_process(tmp_path):
    sp = get_space("ofa-mbv3")
    full = run_search(_cfg(sp), sp, make_strategy("stage-full", sp), InlineExecutor())
    with Journal(tmp_path / "j.db") as j:
        part = run_search(_cfg(sp, iterations=1), sp, make_strategy("stage-full", sp), InlineExecutor(), j)
        assert j.count() == 30
    with Journal(tmp_path / "j.db") as j:
        res = run_search(_cfg(sp), sp, make_strategy("stage-full", sp), InlineExecutor(), j)
        assert res.reused == 30 and res.evaluated_now == 20 and j.count() == 50
    np.testing.assert_array_equal(res.codes, full.codes)
    np.testing.assert_array_equal(part.codes, full.codes[:30])


def test_bad_evaluators():
    sp = get_space("ofa-mbv3")
    for spec, msg in [("search_evaluators:broken", "returned no metric 'latency'"),
                      ("search_evaluators:nope", "is not a function"),
                      ("no_such_module:f", "cannot import"), ("garbage", "expected module:function")]:
        with pytest.raises(AutobuildError, match=msg):
            run_search(_cfg(sp, evaluator=spec), sp, make_strategy("stage-full", sp), InlineExecutor())


def _cli_args(journal: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "autobuild", "search", "--space", "ofa-mbv3", "--strategy", "stage-full",
            "--objectives", "acc:max,latency:min", "--evaluator", EVAL, "--budget", "120", "--initial", "40",
            "--per-iteration", "20", "--seed", "3", "--journal", str(journal), "--out", str(out), "--quiet",
            "--executor", "inline"]


def _front(path: Path) -> list[tuple]:
    with open(path) as f:
        return sorted((r["arch"], r["acc"], r["latency"]) for r in csv.DictReader(f))


def _journal_count(path: Path) -> int:
    import sqlite3

    try:
        con = sqlite3.connect(str(path), timeout=5)
        try:
            return int(con.execute("SELECT COUNT(*) FROM evals").fetchone()[0])
        finally:
            con.close()
    except sqlite3.Error:
        return 0


@pytest.mark.heavy
def test_sigkill_and_resume_gives_the_same_front(tmp_path):
    """SIGKILL the search at random points (after 10..100 of 120 evaluations), resume, and get
    the same front as an uninterrupted run of the same seed; the journal holds each arch once."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    # The uninterrupted reference and the final resume run here; the killed runs are processes.
    ref = CliRunner().invoke(cli, _cli_args(tmp_path / "a.db", tmp_path / "a.csv")[3:], catch_exceptions=False)
    assert ref.exit_code == 0, ref.output
    slow = {**env, "AUTOBUILD_TOY_DELAY": "0.01"}
    db = tmp_path / "b.db"
    args = _cli_args(db, tmp_path / "b.csv")
    resume = [*args[:4], "--resume", str(db), "--out", str(tmp_path / "b.csv"), "--quiet", "--executor", "inline"]
    thresholds = sorted(np.random.default_rng(7).integers(10, 100, size=3).tolist())
    kills = 0
    for k, threshold in enumerate(thresholds):
        p = subprocess.Popen(args if k == 0 else resume, env=slow, cwd=HERE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while p.poll() is None and _journal_count(db) < threshold and time.time() < deadline:
            time.sleep(0.02)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait()
            kills += 1
    assert kills >= 1
    assert _journal_count(db) < 120
    done = CliRunner().invoke(cli, [a for a in resume[3:] if a != "--quiet"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert "from the journal" in done.stderr
    with Journal(db) as j:
        assert j.count() == 120
    assert _front(tmp_path / "b.csv") == _front(tmp_path / "a.csv")


def test_cli_errors(tmp_path):
    run = lambda *a: CliRunner().invoke(cli, ["search", *map(str, a)])  # noqa: E731
    r = run("--space", "ofa-mbv3", "--objectives", "acc:max,latency:min", "--evaluator", EVAL, "--budget", "75")
    assert r.exit_code == 2 and "multiple of --per-iteration" in r.stderr
    r = run("--space", "ofa-mbv3", "--objectives", "acc:best", "--evaluator", EVAL)
    assert r.exit_code == 2 and "expected NAME:max or NAME:min" in r.stderr
    r = run("--resume", tmp_path / "none.db")
    assert r.exit_code == 2 and "no such journal" in r.stderr
    r = run("--space", "ofa-mbv3", "--strategy", "layer-insight", "--objectives", "acc:max", "--evaluator", EVAL)
    assert r.exit_code == 2 and "needs --device" in r.stderr
    (tmp_path / "x.db").write_bytes(b"not sqlite at all" * 100)
    r = run("--space", "ofa-mbv3", "--objectives", "acc:max", "--evaluator", EVAL, "--journal", tmp_path / "x.db")
    assert r.exit_code == 2 and "x.db" in r.stderr


def test_cli_search_writes_front_and_plot(tmp_path):
    r = CliRunner().invoke(cli, ["search", "--space", "ofa-pn", "--objectives", "acc:max,latency:min", "--evaluator", EVAL,
                                 "--budget", "60", "--initial", "20", "--per-iteration", "20", "--executor", "inline",
                                 "--out", str(tmp_path / "f.csv"), "--ref", "acc=0.7,latency=6"])
    assert r.exit_code == 0, r.output
    assert "hypervolume" in r.stderr
    rows = list(csv.DictReader(open(tmp_path / "f.csv")))
    assert rows and set(rows[0]) == {"arch", "acc", "latency"}
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.heavy
def test_ray_executor_matches_inline():
    pytest.importorskip("ray")
    from autobuild.search.executors import RayExecutor

    sp = get_space("ofa-mbv3")
    a = run_search(_cfg(sp, iterations=1), sp, make_strategy("stage-full", sp), InlineExecutor())
    ex = RayExecutor(chunk=8)
    try:
        b = run_search(_cfg(sp, iterations=1), sp, make_strategy("stage-full", sp), ex)
    finally:
        ex.ray.shutdown()
    np.testing.assert_array_equal(a.codes, b.codes)
    np.testing.assert_array_equal(a.metrics["acc"], b.metrics["acc"])


def test_auto_equations_cover_the_front():
    from autobuild.data import TargetEquation, builtin_data_path, read_labelled
    from autobuild.search.auto_equations import auto_equations
    from autobuild.search.objectives import parse_objectives

    t = read_labelled(builtin_data_path("ofa-pn"))
    acc, lat = t.metrics["acc"], t.metrics["latency_cpu"]
    eqs = auto_equations(t.metrics, parse_objectives("acc:max,latency_cpu:min"), 4)
    assert len(eqs) == 4
    best = [int(np.argmax(TargetEquation(e).evaluate(t.metrics))) for e in eqs]
    ranks = core.non_dominated_rank(np.c_[-acc, lat])
    assert all(ranks[b] == 0 for b in best)  # each equation's best arch is on the data front
    lats = [lat[b] for b in best]
    assert lats == sorted(lats, reverse=True) and len(set(lats)) == 4  # from the accurate to the fast end
    front = ranks == 0
    assert lats[0] == pytest.approx(lat[front][np.argmax(acc[front])])
    assert lats[-1] == pytest.approx(lat[front].min())
    with pytest.raises(AutobuildError, match="exactly two objectives"):
        auto_equations(t.metrics, parse_objectives("acc:max"), 2)


def test_cli_auto_equations(tmp_path):
    import gzip

    from autobuild.data.builtin import builtin_data_path

    with gzip.open(builtin_data_path("ofa-mbv3"), "rt") as f:
        lines = f.readlines()[:301]
    (tmp_path / "d.csv").write_text("".join(lines))
    r = CliRunner().invoke(cli, ["search", "--space", "ofa-mbv3", "--auto-equations", "2", "--data", str(tmp_path / "d.csv"),
                                 "--objectives", "acc:max,latency:min", "--epochs", "1", "--k", "2", "--work",
                                 str(tmp_path / "w"), "--evaluator", EVAL, "--budget", "30", "--initial", "10",
                                 "--per-iteration", "10", "--executor", "inline"])
    assert r.exit_code == 2 and "no metric 'latency'" in r.stderr  # the data's metrics name the objectives
    r = CliRunner().invoke(cli, ["search", "--space", "ofa-mbv3", "--auto-equations", "2", "--data", str(tmp_path / "d.csv"),
                                 "--objectives", "acc:max,latency_gpu:min", "--epochs", "1", "--k", "2", "--work",
                                 str(tmp_path / "w"), "--evaluator", "search_evaluators:toy_gpu", "--budget", "30",
                                 "--initial", "10", "--per-iteration", "10", "--executor", "inline",
                                 "--out", str(tmp_path / "f.csv")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "w" / "reduced.json").is_file() and "auto equations" in r.stderr


def test_search_with_builtin_onnx_evaluators(tmp_path):
    """`--evaluator onnx:acc=DIR,latency_gpu=DIR`: an AutoBuild accuracy predictor and a k-GNN
    latency predictor served by ONNX Runtime drive the search end to end."""
    from autobuild.data import TargetEquation, builtin_data_path, read_labelled
    from autobuild.models.artifact import save_result
    from autobuild.models.kgnn import KGNNConfig, train_kgnn
    from autobuild.models.trainer import TrainConfig, train_predictor

    sp = get_space("ofa-mbv3")
    t = read_labelled(builtin_data_path("ofa-mbv3"), validate=sp.validate)
    codes = sp.encode(t.archs[:300])
    acc = train_predictor(sp, codes, t.metrics["acc"][:300], TrainConfig(epochs=1))
    lat = train_kgnn(sp, codes, t.metrics["latency_gpu"][:300], KGNNConfig(epochs=1))
    save_result(tmp_path / "acc", acc, sp, TargetEquation("acc"), {"source": "test", "n": 300})
    save_result(tmp_path / "lat", lat, sp, TargetEquation("latency_gpu"), {"source": "test", "n": 300})
    r = CliRunner().invoke(cli, ["search", "--space", "ofa-mbv3", "--objectives", "acc:max,latency_gpu:min",
                                 "--evaluator", f"onnx:acc={tmp_path / 'acc'},latency_gpu={tmp_path / 'lat'}",
                                 "--budget", "40", "--initial", "20", "--per-iteration", "10", "--executor", "inline",
                                 "--out", str(tmp_path / "front.csv"), "--journal", str(tmp_path / "j.db")])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(open(tmp_path / "front.csv")))
    assert rows and 0.5 < float(rows[0]["acc"]) < 1.0 and float(rows[0]["latency_gpu"]) > 0
