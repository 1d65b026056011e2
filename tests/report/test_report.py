"""``autobuild report``: one self-contained HTML page for a model, an ensemble, a scores file and a
search journal; every figure has a caption and renders (in headless Chromium where one is installed)."""

from __future__ import annotations

import base64
import csv
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from autobuild.cli import cli

HERE = Path(__file__).resolve().parents[1]  # tests/, where the evaluator modules lie
EVAL = "search_evaluators:toy"


def _run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, model_dir, scores_csv, small_data):
    """A model, an ensemble, a scores file and a search journal (toy evaluator)."""
    tmp = tmp_path_factory.mktemp("report")
    r = _run("train", "--space", "ofa-mbv3", "--data", small_data, "--target", "acc", "--epochs", "2", "--folds", "2",
             "--seeds", "1", "--out", tmp / "ens", "--quiet")
    assert r.exit_code == 0, r.output
    here = Path.cwd()
    try:
        os.chdir(HERE)  # the toy evaluator is resolved from the working directory
        r = _run("search", "--space", "ofa-mbv3", "--objectives", "acc:max,latency:min", "--evaluator", EVAL,
                 "--budget", "60", "--initial", "20", "--per-iteration", "20", "--executor", "inline",
                 "--journal", tmp / "run.db", "--quiet")
    finally:
        os.chdir(here)
    assert r.exit_code == 0, r.output
    with open(small_data) as f:  # labelled data with the objectives' columns, for --data-front
        rows = list(csv.DictReader(f))[:50]
    with open(tmp / "front_data.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "acc", "latency"])
        for row in rows:
            w.writerow([row["arch"], row["acc"], row["latency_gpu"]])
    return {"model": model_dir, "ensemble": tmp / "ens", "scores": scores_csv, "journal": tmp / "run.db",
            "data": tmp / "front_data.csv", "tmp": tmp}


@pytest.fixture(scope="module")
def page(inputs):
    out = inputs["tmp"] / "report.html"
    r = _run("report", inputs["model"], inputs["ensemble"], inputs["scores"], inputs["journal"], "--out", out,
             "--data-front", inputs["data"], "--title", "test report")
    assert r.exit_code == 0, r.output
    assert "reading" in r.stderr and f"wrote {out}" in r.stderr
    # reading the closed journal left nothing beside it (no -wal / -shm of SQLite)
    assert sorted(p.name for p in inputs["tmp"].glob("run.db*")) == ["run.db"]
    return out


def test_report_is_one_self_contained_page(page):
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<title>test report</title>" in text
    # nothing outside the file: every src/href is a data URI or an in-page anchor, no script at all
    refs = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert refs and all(u.startswith(("data:image/png;base64,", "#")) for u in refs)
    assert "<script" not in text.lower() and "http://" not in text and "https://" not in text
    imgs = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    for b in imgs:
        assert base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n"
    # model (hops + importance), ensemble (hops + importance), scores (modules), search (front)
    assert len(imgs) == 6
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", text, re.S)
    assert len(captions) == len(imgs) and all(len(c) > 120 for c in captions)  # each says how to read it
    for needle in ("Model acc", "Model ens", "ensemble of 2 predictors", "Module scores scores.csv",
                   "score (Eq. 5)", "uncertainty", "what was built:", "predicted by:", "Search run.db",
                   "hypervolume", "front of the data", "stage 1: best 5 of 7,371"):
        assert needle in text, needle


def test_report_bad_inputs(tmp_path, inputs):
    r = _run("report", tmp_path / "nope", "--out", tmp_path / "r.html")
    assert r.exit_code == 2 and "no such file or directory" in r.stderr and "Traceback" not in r.output
    (tmp_path / "notes.txt").write_text("hello")
    r = _run("report", tmp_path / "notes.txt", "--out", tmp_path / "r.html")
    assert r.exit_code == 2 and "not a model directory, a scores CSV" in r.stderr
    r = _run("report", inputs["model"], "--out", tmp_path / "r.pdf")
    assert r.exit_code == 2 and "r.pdf" in r.stderr
    r = _run("report", inputs["journal"], "--out", tmp_path / "r.html", "--ref", "acc=0.7")
    assert r.exit_code == 2 and "--ref gives no value for objective 'latency'" in r.stderr
    r = _run("report", inputs["journal"], "--out", tmp_path / "r.html", "--ref", "acc=nan,latency=3")
    assert r.exit_code == 2 and "finite" in r.stderr
    assert not (tmp_path / "r.html").exists()  # nothing half-written


def test_report_reads_a_journal_a_search_holds(tmp_path, inputs):
    """A live search holds its journal's writer lock; the report reads it read-only all the same."""
    from autobuild.search.journal import Journal
    from autobuild.search.replay import read_search

    db = tmp_path / "held.db"
    shutil.copy(inputs["journal"], db)
    with Journal(db):
        cfg, res = read_search(db)
        r = _run("report", db, "--out", tmp_path / "r.html", "--quiet")
    assert r.exit_code == 0 and r.stderr == "", r.output
    assert len(res.codes) == cfg.budget == 60 and set(res.metrics) == {"acc", "latency"}
    assert sorted(set(res.iteration.tolist())) == [0, 1, 2]


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_chromium() is None, reason="no Chromium installed (the page is checked without a browser)")
def test_report_renders_in_headless_chromium(page, tmp_path):
    """Every figure decodes and has a size in a real browser; a probe script is added to a copy."""
    probe = ("<script>window.addEventListener('load', () => { const im = [...document.images];"
             " const ok = im.filter(i => i.complete && i.naturalWidth > 100 && i.naturalHeight > 100).length;"
             " document.title = 'rendered ' + ok + ' of ' + im.length; });</script>")
    copy = tmp_path / "probe.html"
    copy.write_text(page.read_text().replace("</body>", probe + "</body>"))
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", "--dump-dom", copy.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    m = re.search(r"<title>rendered (\d+) of (\d+)</title>", dom)
    assert m, dom[:500]
    assert m.group(1) == m.group(2) == "6"
    shot = tmp_path / "page.png"
    subprocess.run([*cmd[:-2], "--window-size=1200,2000", f"--screenshot={shot}", copy.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.read_bytes()[:4] == b"\x89PNG"


def test_search_plot_overlays_the_data_front(tmp_path, inputs, monkeypatch):
    monkeypatch.chdir(HERE)
    r = _run("search", "--resume", inputs["journal"], "--out", tmp_path / "f.csv", "--executor", "inline",
             "--ref", "acc=0.7,latency=12", "--data-front", inputs["data"])
    assert r.exit_code == 0, r.output
    assert re.search(r"hypervolume [\d.]+ \(the front of .*front_data.csv: [\d.]+\)", r.stderr)
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
    bad = tmp_path / "bad.csv"
    bad.write_text('arch,acc\n"{}",0.7\n')
    r = _run("search", "--resume", inputs["journal"], "--executor", "inline", "--data-front", bad)
    assert r.exit_code == 2 and "latency" in r.stderr and "bad.csv" in r.stderr


def test_data_front_is_the_pareto_front():
    import numpy as np

    from autobuild.report.figures import data_front
    from autobuild.search.objectives import parse_objectives

    objs = parse_objectives("acc:max,latency:min")
    acc = np.array([0.7, 0.8, 0.75, 0.9, 0.6])
    lat = np.array([1.0, 2.0, 3.0, 4.0, 0.5])
    x, y = data_front(objs, {"acc": acc, "latency": lat})
    assert x.tolist() == [0.5, 1.0, 2.0, 4.0] and y.tolist() == [0.6, 0.7, 0.8, 0.9]  # (3.0, 0.75) is dominated
    perm = np.array([3, 0, 4, 2, 1])  # the row order does not matter; a row with a NaN metric is left out
    x2, y2 = data_front(objs, {"acc": np.append(acc[perm], np.nan), "latency": np.append(lat[perm], 0.1)})
    assert x2.tolist() == x.tolist() and y2.tolist() == y.tolist()


def test_report_on_a_latency_predictor_shows_its_baseline(tmp_path, small_data):
    r = _run("train", "--kind", "kgnn", "--space", "ofa-mbv3", "--data", small_data, "--target", "latency_gpu",
             "--epochs", "2", "--out", tmp_path / "lat", "--quiet")
    assert r.exit_code == 0, r.output
    r = _run("report", tmp_path / "lat", "--out", tmp_path / "r.html", "--quiet")
    assert r.exit_code == 0, r.output
    text = (tmp_path / "r.html").read_text()
    assert "MAPE" in text and "line on exact MACs" in text and "within ±10 %" in text


def test_journal_left_by_a_killed_search_is_read_without_touching_it(tmp_path, inputs):
    """A -wal a killed search left is read (from a copy), and nothing new appears beside it."""
    import sqlite3

    from autobuild.search.replay import read_search

    db = tmp_path / "crash.db"
    shutil.copy(inputs["journal"], db)
    con = sqlite3.connect(db)  # a writer that dies with its WAL not checkpointed
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("UPDATE evals SET iteration = iteration WHERE id = 1")
    con.commit()
    shutil.copy(db, tmp_path / "copy.db")
    shutil.copy(f"{db}-wal", tmp_path / "copy.db-wal")
    con.close()  # closing checkpoints; put the crash state back from the copies
    for p in tmp_path.glob("crash.db*"):
        p.unlink()
    shutil.copy(tmp_path / "copy.db", db)
    shutil.copy(tmp_path / "copy.db-wal", f"{db}-wal")
    before = sorted(p.name for p in tmp_path.glob("crash.db*"))
    cfg, res = read_search(db)
    assert len(res.codes) == 60
    assert sorted(p.name for p in tmp_path.glob("crash.db*")) == before == ["crash.db", "crash.db-wal"]


def test_report_refuses_a_pipe_and_misplaced_data_front(tmp_path, inputs):
    fifo = tmp_path / "f.db"
    os.mkfifo(fifo)
    r = _run("report", fifo, "--out", tmp_path / "r.html")  # must not block on the pipe
    assert r.exit_code == 2 and "not a regular file" in r.stderr
    r = _run("report", inputs["model"], "--out", tmp_path / "r.html", "--data-front", inputs["data"])
    assert r.exit_code == 2 and "--data-front" in r.stderr
