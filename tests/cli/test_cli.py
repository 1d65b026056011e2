"""The command line end to end: space, sample, train, info, predict, and one clear error line
with a non-zero exit for every kind of bad input (no traceback, no half-written output)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import reseal_model
from click.testing import CliRunner

from autobuild.cli import cli


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def assert_one_line_error(res, *fragments: str) -> None:
    assert res.exit_code != 0, res.output
    err = res.stderr.strip()
    assert err.startswith("autobuild: error: "), err
    assert "\n" not in err and "Traceback" not in err, err
    for f in fragments:
        assert f in err, err


def test_space_and_sample(tmp_path):
    res = run("space", "ofa-mbv3")
    assert res.exit_code == 0 and "2.18e+19" in res.output and "7,371" in res.output
    res = run("space", "pn")
    assert "1.96e+20" in res.output and "66,339" in res.output
    d = json.loads(run("space", "ofa-pn", "--json").output)
    assert d["name"] == "ofa-pn" and int(d["cardinality"]) == 7371**5 * 9
    out = tmp_path / "s.csv"
    assert run("sample", "--space", "ofa-pn", "--n", "25", "--seed", "3", "--out", out).exit_code == 0
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 25 and len({r["arch"] for r in rows}) == 25
    assert all(json.loads(r["arch"])["d"][5] == 1 for r in rows)


def test_train_info_predict(model_dir, small_data, tmp_path):
    files = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "model.onnx"} <= files
    res = run("info", model_dir)
    assert res.exit_code == 0
    for text in ("test metrics", "h0=", "h4=", "hop moments", "label moments", "FE-MLP importance", "k "):
        assert text in res.output
    info = json.loads(run("info", model_dir, "--json").output)
    assert len(info["report"]["test"]["srcc_hop"]) == 5
    assert set(info["report"]["fe_importance"]) == {"stage", "layer", "block", "k", "e", "r"}
    out = tmp_path / "p.csv"
    res = run("predict", model_dir, "--data", small_data, "--out", out)
    assert res.exit_code == 0, res.output
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 400
    with open(small_data) as f:
        given = list(csv.DictReader(f))
    # Every input column as given (the arch text untouched), then the predictions.
    assert list(rows[0]) == [*given[0], "pred", "norm_h0", "norm_h1", "norm_h2", "norm_h3", "norm_h4"]
    assert [r["arch"] for r in rows] == [g["arch"] for g in given]
    pred = np.array([float(r["pred"]) for r in rows])
    assert np.isfinite(pred).all() and 0.5 < pred.mean() < 1.0  # label units (accuracy fraction)


def test_unavailable_provider_falls_back(model_dir, small_data, tmp_path):
    res = run("predict", model_dir, "--data", small_data, "--out", tmp_path / "p.csv", "--provider", "tensorrt")
    assert res.exit_code == 0
    assert "falling back to cpu" in res.stderr
    assert_one_line_error(run("predict", model_dir, "--data", small_data, "--out", tmp_path / "q.csv",
                              "--provider", "abacus"), "unknown provider 'abacus'")
    assert not (tmp_path / "q.csv").exists()


def _write(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


GOOD = '{"ks":[3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0],"e":[3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0],"d":[2,2,2,2,2],"r":224}'


@pytest.mark.parametrize("rows, fragments", [
    ([["arch", "acc"], [GOOD, "0.7"], ['{"ks": [3,', "0.7"]], ["row 2", "JSON"]),
    ([["arch", "acc"], [GOOD, "0.7"], [GOOD.replace('"r":224', '"r":999'), "0.7"]], ["row 2", "r = 999"]),
    ([["arch", "acc"], [GOOD, "0.7"], [GOOD.replace("[2,2,2,2,2]", "[2,2,2,2,9]"), "0.7"]], ["row 2", "d[4] = 9"]),
    ([["arch", "acc"], [GOOD, "nan"]], ["row 1", "NaN"]),
    ([["arch", "acc"], [GOOD, ""]], ["row 1", "acc"]),
    ([["arch", "latency_gpu"], [GOOD, "5.0"]], ["unknown metric 'acc'"]),
    ([["acc"], ["0.7"]], ["arch"]),
])
def test_train_bad_data(tmp_path, rows, fragments):
    data = _write(tmp_path / "bad.csv", rows)
    res = run("train", "--space", "ofa-mbv3", "--data", data, "--out", tmp_path / "m", "--epochs", "1", "--quiet")
    assert_one_line_error(res, "bad.csv", *fragments)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("target, fragment", [
    ("acc*100/latency_npu", "unknown metric 'latency_npu'"),
    ("__import__('os').system('echo hi')", "target equation"),
    ("acc +", "invalid syntax"),
])
def test_train_bad_equation(tmp_path, small_data, target, fragment):
    res = run("train", "--space", "ofa-mbv3", "--data", small_data, "--target", target, "--out", tmp_path / "m",
              "--epochs", "1", "--quiet")
    assert_one_line_error(res, fragment)
    assert not (tmp_path / "m").exists()


def test_other_bad_inputs(tmp_path, small_data):
    assert_one_line_error(run("space", "nope"), "unknown space 'nope'")
    assert_one_line_error(run("train", "--space", "ofa-mbv3", "--data", tmp_path / "missing.csv", "--out",
                              tmp_path / "m", "--quiet"), "missing.csv")
    assert_one_line_error(run("train", "--space", "ofa-mbv3", "--data", "builtin:nasbench", "--out", tmp_path / "m"),
                          "unknown built-in data set")
    assert_one_line_error(run("info", tmp_path), "config.json")
    # ofa-pn archs are not ofa-mbv3 archs.
    pn = tmp_path / "pn.csv"
    run("sample", "--space", "ofa-pn", "--n", "3", "--out", pn)
    res = run("train", "--space", "ofa-mbv3", "--data", pn, "--out", tmp_path / "m", "--quiet")
    assert_one_line_error(res, "pn.csv", "row 1")


def _copy_model(model_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "model"
    shutil.copytree(model_dir, dst)
    return dst


def _edit_config(d: Path, fn, reseal: bool = True) -> None:
    (d / "config.json").write_text(fn((d / "config.json").read_text()))
    if reseal:
        reseal_model(d)


@pytest.mark.parametrize("damage, fragment", [
    (lambda d: (d / "model.onnx").write_bytes(b"garbage"), "model.onnx: checksum mismatch"),
    (lambda d: (d / "model.safetensors").unlink(), "missing model.safetensors"),
    (lambda d: (d / "manifest.json").unlink(), "missing or unreadable manifest.json"),
    (lambda d: (d / "manifest.json").write_text((d / "manifest.json").read_text().replace('"model"', '"modem"', 1)), "seal"),
    (lambda d: _edit_config(d, lambda t: t.replace('"mean": ', '"mean": 1', 1), reseal=False), "config.json: checksum mismatch"),
    (lambda d: _edit_config(d, lambda t: "{not json"), "malformed JSON"),
    (lambda d: _edit_config(d, lambda t: json.dumps({**json.loads(t), "format_version": 99})), "unsupported format version"),
    (lambda d: _edit_config(d, lambda t: t.replace('"max_depth": 4', '"max_depth": 5', 1)), "does not match its fingerprint"),
])
def test_corrupt_model(model_dir, small_data, tmp_path, damage, fragment):
    d = _copy_model(model_dir, tmp_path)
    damage(d)
    out = tmp_path / "p.csv"
    assert_one_line_error(run("predict", d, "--data", small_data, "--out", out), fragment)
    assert not out.exists()


def test_wrong_space_model(model_dir, tmp_path):
    pn = tmp_path / "pn.csv"
    run("sample", "--space", "ofa-pn", "--n", "3", "--out", pn)
    out = tmp_path / "p.csv"
    assert_one_line_error(run("predict", model_dir, "--data", pn, "--out", out, "--space", "ofa-pn"),
                          "trained on space 'ofa-mbv3', not 'ofa-pn'")
    assert_one_line_error(run("predict", model_dir, "--data", pn, "--out", out), "pn.csv", "row 1")
    assert not out.exists()


def test_console_script_exit_code(tmp_path):
    """The real process: exit status 2 and a single stderr line, no traceback."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    p = subprocess.run([sys.executable, "-m", "autobuild", "train", "--space", "ofa-mbv3", "--data",
                        str(tmp_path / "none.csv"), "--out", str(tmp_path / "m")], capture_output=True, text=True, env=env)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and p.stderr.startswith("autobuild: error: "), p.stderr
