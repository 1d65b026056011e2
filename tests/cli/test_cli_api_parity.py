"""The CLI only parses and prints: ``train``, ``build`` and ``search`` write the same bytes as the
Python API called with the same settings and seed."""

from __future__ import annotations

import json

from click.testing import CliRunner

from autobuild import Predictor, Search, build, read_scores
from autobuild.cli import cli

#: Fields of a model's report that are wall-clock timings (differ between any two runs).
TIMINGS = ("train_seconds", "seconds_per_epoch")


def _run(*args: object) -> None:
    res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output


def _config(path) -> dict:
    cfg = json.loads((path / "config.json").read_text())
    for k in TIMINGS:
        cfg["report"].pop(k, None)
    return cfg


def test_train_writes_what_the_api_writes(small_data, tmp_path):
    _run("train", "--space", "ofa-mbv3", "--data", small_data, "--target", "acc", "--epochs", 2, "--seed", 3,
         "--out", tmp_path / "cli", "--quiet")
    Predictor("ofa-mbv3", target="acc", epochs=2, seed=3).fit(str(small_data), out=tmp_path / "api")
    for name in ("model.safetensors", "model.onnx"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes(), name
    assert _config(tmp_path / "cli") == _config(tmp_path / "api")


def test_build_writes_what_the_api_writes(scores_csv, tmp_path):
    _run("build", scores_csv, "--k", 2, "--out", tmp_path / "cli.csv", "--reduced-out", tmp_path / "cli.json", "--quiet")
    b = build(read_scores(scores_csv), k=2)
    b.write(tmp_path / "api.csv")
    b.reduced.save(tmp_path / "api.json")
    assert (tmp_path / "cli.csv").read_bytes() == (tmp_path / "api.csv").read_bytes()
    assert (tmp_path / "cli.json").read_bytes() == (tmp_path / "api.json").read_bytes()
    _run("build", scores_csv, "--k", 2, "--top", 7, "--out", tmp_path / "cli7.csv", "--quiet")
    build(read_scores(scores_csv), k=2, top=7).write(tmp_path / "api7.csv")
    assert (tmp_path / "cli7.csv").read_bytes() == (tmp_path / "api7.csv").read_bytes()


def test_search_writes_what_the_api_writes(model_dir, tmp_path):
    spec = f"onnx:acc={model_dir}"
    _run("search", "--space", "ofa-mbv3", "--objectives", "acc:max", "--evaluator", spec, "--budget", 30,
         "--initial", 10, "--per-iteration", 10, "--seed", 4, "--executor", "inline", "--journal", tmp_path / "cli.db",
         "--out", tmp_path / "cli.csv", "--quiet")
    with Search("ofa-mbv3", "acc:max", spec, initial=10, per_iteration=10, seed=4, journal=tmp_path / "api.db") as s:
        s.run(30, executor="inline").write_front(tmp_path / "api.csv")
    assert (tmp_path / "cli.csv").read_bytes() == (tmp_path / "api.csv").read_bytes()
    with Search("ofa-mbv3", "acc:max", Predictor.load(model_dir), initial=10, per_iteration=10, seed=4) as s:
        s.run(30, executor="inline").write_front(tmp_path / "obj.csv")  # a Predictor object: the same run
    assert (tmp_path / "obj.csv").read_bytes() == (tmp_path / "api.csv").read_bytes()
