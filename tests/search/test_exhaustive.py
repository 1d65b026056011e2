"""Exhaustive Search (issue 15 sec. 3): the memoised all-arch prediction equals brute force, the
ensemble is weighted by held-out SRCC, and the command writes the best archs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from autobuild.cli import cli
from autobuild.spaces import get_space

torch = pytest.importorskip("torch")


def _data(tmp_path, space, n=68, seed=1):
    rng = np.random.default_rng(seed)
    path = tmp_path / "u.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "q"])
        for a in space.sample(n, seed=seed):
            q = sum(m * (4 - r) for m, r in zip(a["mult"], a["res_out"])) + 2 * sum(a["attn_in"]) + rng.normal(0, 0.1)
            w.writerow([json.dumps(a), q])
    return path


@pytest.mark.parametrize("name", ["sdv14-unet", "sdv14-unet-hw"])
def test_memoised_prediction_equals_brute_force(name):
    from autobuild.models.fitting import run_model
    from autobuild.models.gatv2_network import GATv2Network
    from autobuild.search.exhaustive import Plan

    sp = get_space(name)
    torch.manual_seed(0)
    for layers in (2, 6):
        model = GATv2Network(sp.feature_categories, layers=layers).eval()
        with torch.no_grad():  # non-trivial batch-norm statistics, as after training
            for bn in model.norms:
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.5, 2.0)
        model.y_mean.fill_(3.0)
        model.y_std.fill_(2.0)
        codes = sp.sample_codes(1500, seed=layers)
        got = Plan(sp, codes, layers).predict(model)
        ref = run_model(model, sp, codes)[0]
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.heavy
def test_exhaustive_command_on_an_mse_ensemble(tmp_path):
    sp = get_space("sdv14-unet-hw")
    data = _data(tmp_path, sp)
    r = CliRunner()
    ens = tmp_path / "es"
    res = r.invoke(cli, ["train", "--space", "sdv14-unet-hw", "--data", str(data), "--target", "q", "--loss", "mse",
                         "--folds", "2", "--seeds", "1", "--epochs", "30", "--out", str(ens), "--quiet"],
                   catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "module scoring" not in res.output  # MSE-only members are not warned about their hop SRCC
    out = tmp_path / "top.csv"
    res = r.invoke(cli, ["exhaustive", str(ens), "--top", "4", "--out", str(out), "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 4
    preds = [float(x["pred"]) for x in rows]
    assert preds == sorted(preds, reverse=True)
    # The combined prediction of the best arch is the SRCC-weighted mean of the members' own.
    from autobuild.models.ensemble import load_ensemble
    from autobuild.models.fitting import run_model

    members = load_ensemble(ens)
    w = np.array([max(m.report["test"]["srcc_pred"], 0.0) for m in members])
    best = sp.encode([json.loads(rows[0]["arch"])])
    each = np.array([run_model(m.torch_model(), sp, best)[0][0] for m in members])
    assert float(rows[0]["pred"]) == pytest.approx(float((w * each).sum() / w.sum()), rel=1e-4)
    # and no arch of a random sample beats it
    sample = sp.sample_codes(500, seed=3)
    ps = sum(wi * run_model(m.torch_model(), sp, sample)[0] for m, wi in zip(members, w)) / w.sum()
    assert ps.max() <= float(rows[0]["pred"]) + 1e-4
    res = r.invoke(cli, ["train", "--space", "sdv14-unet-hw", "--data", str(data), "--kind", "kgnn", "--loss", "mse",
                         "--out", str(tmp_path / "k")])
    assert res.exit_code == 2 and "--loss" in res.output


def test_exhaustive_refuses_spaces_it_cannot_enumerate(model_dir, tmp_path):
    res = CliRunner().invoke(cli, ["exhaustive", str(model_dir), "--out", str(tmp_path / "t.csv")])
    assert res.exit_code == 2 and "cannot be searched exhaustively" in res.output
