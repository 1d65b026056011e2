"""Interpretability figures (``autobuild.report.figures``, ``autobuild plot ...``): every figure is a valid
PNG written atomically, the module table lists the best and worst modules of every stage, bad
input is one clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from autobuild import AutobuildError
from autobuild.data import TargetEquation, builtin_data_path, read_labelled
from autobuild.models.artifact import load_model, save_result
from autobuild.models.trainer import TrainConfig, train_predictor
from autobuild.scoring import score_modules, write_scores
from autobuild.spaces import get_space

N_ROWS = 300


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny acc/latency predictor (2 epochs on 300 rows of the embedded ofa-mbv3 data)."""
    sp = get_space("ofa-mbv3")
    table = read_labelled(builtin_data_path("ofa-mbv3"), validate=sp.validate)
    codes = sp.encode(table.archs[:N_ROWS])
    eq = TargetEquation("acc*100/latency_gpu")
    y = eq.evaluate({k: v[:N_ROWS] for k, v in table.metrics.items()})
    res = train_predictor(sp, codes, y, TrainConfig(epochs=2, seed=1))
    path = tmp_path_factory.mktemp("plots") / "model"
    save_result(path, res, sp, eq, {"source": "builtin:ofa-mbv3", "n": N_ROWS})
    return load_model(path)


@pytest.fixture(scope="module")
def scores(model):
    return score_modules([model])


@pytest.fixture(scope="module")
def arch(model):
    return model.space.sample(1, seed=7)[0]


def assert_png(path: Path, min_size: int = 200) -> None:
    import matplotlib.image as mpimg

    path = Path(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    img = mpimg.imread(path)
    assert img.shape[0] > min_size and img.shape[1] > min_size, img.shape
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # atomic: no temporaries left


def test_import_is_cheap():
    code = "import sys, autobuild.report.figures; print('matplotlib' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "python"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


def test_modules_table(scores):
    from autobuild.report.figures import layer_text, modules_table

    assert layer_text({"k": 7, "e": 6}) == "k7e6"
    n_stages = len(scores.space.module_groups)
    for n in (1, 3):
        text = modules_table(scores, n)
        lines = text.splitlines()
        assert lines[0].startswith("# ") and "acc*100/latency_gpu" in lines[0]
        assert lines[1].split() == ["stage", "rank", "depth", "layers", "score", "raw_norm", "calibration"]
        rows = [ln.split() for ln in lines[3:] if ln and not ln.startswith("#")]
        assert len(rows) == 2 * n * n_stages
        for g in range(n_stages):
            label = scores.stage_label(g)
            mine = [r for r in rows if r[0] == label]
            assert [r[1] for r in mine] == ["best"] * n + ["worst"] * n
            best = scores.ranked(g)[0]
            assert mine[0][2] == f"1/{len(scores.ranked(g))}"
            assert " ".join(mine[0][4:-3]) == " ".join(layer_text(ly) for ly in scores.layers(best))
            assert float(mine[0][-3]) >= float(mine[-1][-3])
            assert all(r[-1] in ("eq5", "N(0,1)") for r in mine)
    with pytest.raises(AutobuildError, match="positive integer"):
        modules_table(scores, 0)


def test_plot_functions_write_pngs(model, scores, arch, tmp_path):
    from autobuild.report import figures as plots

    out = tmp_path / "deep" / "dir"
    assert plots.plot_modules(scores, out / "modules.png", n=2) == out / "modules.png"
    assert plots.plot_importance(model, out / "importance.png") == out / "importance.png"
    assert plots.plot_arch(model, arch, out / "arch.png") == out / "arch.png"
    assert plots.plot_hops(model, out / "hops.png") == out / "hops.png"
    for name in ("modules", "importance", "arch", "hops"):
        assert_png(out / f"{name}.png")
    # Overwrites in place.
    before = (out / "hops.png").stat().st_mtime_ns
    plots.plot_hops(model, out / "hops.png")
    assert (out / "hops.png").stat().st_mtime_ns >= before
    assert_png(out / "hops.png")


def test_arch_norms_match_the_model(model, arch):
    """Node colours = node-embedding norms of the ONNX export standardised by the hop moments."""
    import torch

    from autobuild.report.figures import arch_norms

    pred, nodes, z = arch_norms(model, arch)
    assert len(nodes) == sum(arch["d"]) and z.shape == (len(nodes), model.hops)
    g = model.space.graphs(model.space.encode([arch]))
    with torch.no_grad():
        p, node_norms, _ = model.torch_model()(*g.torch())
    hm = np.array([h["mean"] for h in model.report["hop_moments"]])
    hs = np.array([h["std"] for h in model.report["hop_moments"]])
    np.testing.assert_allclose(z, (node_norms.numpy() - hm) / hs, rtol=1e-4, atol=1e-4)
    assert pred == pytest.approx(float(p[0]), rel=1e-4, abs=1e-5)


def test_bad_input(model, scores, arch, tmp_path):
    from autobuild.cli.options import parse_arch
    from autobuild.report.figures import plot_arch, plot_modules

    bad = dict(arch, r=999)
    with pytest.raises(AutobuildError, match="r = 999"):
        plot_arch(model, bad, tmp_path / "a.png")
    with pytest.raises(AutobuildError, match="missing key"):
        plot_arch(model, {"ks": [3]}, tmp_path / "a.png")
    with pytest.raises(AutobuildError, match="invalid JSON"):
        parse_arch('{"ks": [3,')
    with pytest.raises(AutobuildError, match="JSON object"):
        parse_arch("[1, 2]")
    with pytest.raises(AutobuildError, match="file not found"):
        parse_arch(f"@{tmp_path / 'nope.json'}")
    with pytest.raises(AutobuildError, match="cannot colour by"):
        plot_modules(scores, tmp_path / "m.png", color_by="zzz")
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- CLI
def _cli():
    from autobuild.cli import cli

    if "plot" not in cli.commands:
        pytest.skip("`autobuild plot` is not registered in autobuild.cli yet")
    return cli


def run(*args):
    return CliRunner().invoke(_cli(), ["plot", *map(str, args)], catch_exceptions=False)


def assert_one_line_error(res, *fragments: str) -> None:
    assert res.exit_code == 2, res.output
    err = res.stderr.strip()
    assert err.startswith("autobuild: error: ") and "\n" not in err and "Traceback" not in err, err
    for f in fragments:
        assert f in err, err


def test_cli_end_to_end(model, scores, arch, tmp_path):
    _cli()
    csv_path = tmp_path / "scores.csv"
    # A scores file needs no full enumeration: the best and worst 4 of every stage suffice.
    rows = np.concatenate([np.r_[r[:4], r[-4:]] for r in (scores.ranked(g) for g in range(len(scores.space.module_groups)))])
    from dataclasses import replace

    sub = replace(scores, group=scores.group[rows], depth=scores.depth[rows], choices=scores.choices[rows],
                  raw_norm=scores.raw_norm[rows], hop=scores.hop[rows], score=scores.score[rows],
                  calibration=scores.calibration[rows])
    write_scores(csv_path, sub)

    res = run("modules", csv_path, "--out", tmp_path / "m.png", "--n", "2", "--space", "ofa-mbv3")
    assert res.exit_code == 0, res.output
    assert "stage" in res.stdout and res.stdout.count(" best ") == 10 and res.stdout.count(" worst ") == 10
    assert f"wrote {tmp_path / 'm.png'}" in res.stderr
    assert_png(tmp_path / "m.png")

    res = run("importance", model.path, "--out", tmp_path / "i.png")
    assert res.exit_code == 0 and "wrote" in res.stderr
    assert_png(tmp_path / "i.png")

    res = run("hops", model.path, "--out", tmp_path / "h.png")
    assert res.exit_code == 0 and "wrote" in res.stderr
    assert_png(tmp_path / "h.png")

    res = run("arch", model.path, "--arch", json.dumps(arch), "--out", tmp_path / "a.png")
    assert res.exit_code == 0, res.output
    assert_png(tmp_path / "a.png")
    (tmp_path / "arch.json").write_text(json.dumps(arch))
    res = run("arch", model.path, "--arch", f"@{tmp_path / 'arch.json'}", "--out", tmp_path / "b.png",
              "--provider", "cpu")
    assert res.exit_code == 0, res.output
    assert_png(tmp_path / "b.png")


def test_cli_errors(model, arch, tmp_path):
    _cli()
    out = tmp_path / "x.png"
    assert_one_line_error(run("arch", model.path, "--arch", '{"ks": [3,', "--out", out), "--arch", "invalid JSON")
    assert_one_line_error(run("arch", model.path, "--arch", json.dumps(dict(arch, r=999)), "--out", out),
                          "--arch", "r = 999")
    assert_one_line_error(run("arch", model.path, "--arch", "@/nonexistent/a.json", "--out", out), "file not found")
    assert_one_line_error(run("arch", model.path, "--arch", json.dumps(arch), "--out", out, "--provider", "abacus"),
                          "unknown provider")
    assert_one_line_error(run("importance", tmp_path / "nomodel", "--out", out), "not a model directory")
    assert_one_line_error(run("hops", tmp_path, "--out", out), "missing config.json")
    assert_one_line_error(run("modules", tmp_path / "none.csv", "--out", out), "file not found")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    assert_one_line_error(run("modules", tmp_path / "bad.csv", "--out", out), "not a module scores file")
    assert not out.exists()


def test_front_plot_reads_plainly(monkeypatch, tmp_path):
    """Axis labels say which way is better (no '(min)' read as minutes), iteration ticks are whole
    numbers, the hypervolume and the data's own front are in the figure."""
    import numpy as np

    import autobuild.report.figures as plots
    from autobuild.search.ea import SearchResult
    from autobuild.search.objectives import parse_objectives
    from autobuild.spaces import get_space

    figs = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, out: figs.append(fig) or out)
    rng = np.random.default_rng(0)
    n = 40
    res = SearchResult(get_space("ofa-mbv3"), parse_objectives("acc:max,latency_gpu:min"),
                       np.zeros((n, 3), np.int64), {"acc": rng.uniform(0.7, 0.8, n), "latency_gpu": rng.uniform(5, 10, n)},
                       np.repeat(np.arange(4), 10))
    data = {"acc": rng.uniform(0.7, 0.8, 30), "latency_gpu": rng.uniform(5, 10, 30)}
    plots.plot_front(res, tmp_path / "f.png", ref={"acc": 0.7, "latency_gpu": 11}, data=data, data_label="data D")
    fig = figs[0]
    ax, cax = fig.axes[0], fig.axes[1]
    assert ax.get_xlabel() == "latency_gpu (lower is better)" and ax.get_ylabel() == "acc (higher is better)"
    ticks = [t for t in cax.get_yticks() if 0 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "hypervolume" in texts and "data D" in texts
    assert any("front of the data D" in t.get_text() for t in ax.get_legend().get_texts())
