"""Exact MACs and parameter counts of OFA subnets (issue 14 sec. 1): analytic, vectorised, equal to
the instantiated ``ofa`` subnets; the `count` command, the macs/params metrics and the evaluator."""

from __future__ import annotations

import csv
import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from autobuild.cli import cli
from autobuild.data import TargetEquation
from autobuild.networks.counts import with_counts
from autobuild.networks.ofa_counts import count_arch, count_codes, make_divisible
from autobuild.search.evaluators import load_evaluator
from autobuild.spaces import get_space


def _extremes(sp):
    """The smallest and the largest subnet at the smallest and the largest resolution."""
    small = {"ks": [3] * sp.n_slots, "e": [3] * sp.n_slots, "d": [int(d) for d in sp.min_depth], "r": 192}
    big = {"ks": [7] * sp.n_slots, "e": [6] * sp.n_slots, "d": [int(d) for d in sp.max_depth], "r": 224}
    return [sp.decode(sp.encode([a]))[0] for a in (small, big)]


def test_make_divisible_is_ofas():
    # ofa.utils.make_divisible on the widths of the two supernets (x1.2, x1.3)
    assert [make_divisible(b * 1.2) for b in (16, 24, 40, 80, 112, 160, 960, 1280)] == [24, 32, 48, 96, 136, 192,
                                                                                       1152, 1536]
    assert [make_divisible(b * 1.3) for b in (32, 16, 24, 40, 80, 96, 192, 320, 1280)] == [40, 24, 32, 56, 104, 128,
                                                                                          248, 416, 1664]


@pytest.mark.parametrize("name", ["ofa-mbv3", "ofa-pn"])
def test_vectorised_counts_are_the_layer_by_layer_counts(name):
    sp = get_space(name)
    codes = sp.sample_codes(300, seed=5)
    macs, params = count_codes(sp, codes)
    assert macs.dtype == np.int64 and params.dtype == np.int64
    ref = [count_arch(name, a) for a in sp.decode(codes)]
    assert macs.tolist() == [m for m, _ in ref] and params.tolist() == [p for _, p in ref]
    lo, hi = (count_arch(name, a) for a in _extremes(sp))
    assert lo[0] < macs.min() <= macs.max() < hi[0] and lo[1] < params.min() <= params.max() < hi[1]


@pytest.mark.heavy
@pytest.mark.parametrize("name", ["ofa-mbv3", "ofa-pn"])
def test_counts_equal_the_instantiated_subnets(name):
    """MACs = torch.utils.flop_counter FLOPs / 2 of the ofa subnet at batch 1; params = sum(numel)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("ofa")
    from torch.utils.flop_counter import FlopCounterMode

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3, OFAProxylessNASNets
    sup = (OFAMobileNetV3(width_mult=1.2, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4])
           if name == "ofa-mbv3" else
           OFAProxylessNASNets(width_mult=1.3, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4]))
    sp = get_space(name)
    archs = _extremes(sp) + sp.decode(sp.sample_codes(3, seed=11))
    macs, params = count_codes(sp, sp.encode(archs))
    for a, m, p in zip(archs, macs, params):
        sup.set_active_subnet(ks=a["ks"], e=a["e"], d=a["d"][:5])
        sub = sup.get_active_subnet(preserve_weight=False).eval()
        with FlopCounterMode(display=False) as fc, torch.no_grad():
            sub(torch.zeros(1, 3, a["r"], a["r"]))
        assert fc.get_total_flops() // 2 == m, a
        assert sum(t.numel() for t in sub.parameters()) == p, a


def test_count_command(tmp_path):
    sp = get_space("ofa-pn")
    archs = sp.decode(sp.sample_codes(7, seed=2))
    data = tmp_path / "archs.csv"
    with data.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "arch"])
        w.writerows([[i, json.dumps(a)] for i, a in enumerate(archs)])
    out = tmp_path / "counts.csv"
    res = CliRunner().invoke(cli, ["count", "--space", "ofa-pn", "--data", str(data), "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["arch", "macs", "params"]
    macs, params = count_codes(sp, sp.encode(archs))
    assert [int(r["macs"]) for r in rows] == macs.tolist() and [int(r["params"]) for r in rows] == params.tolist()
    # wrong space, missing --space, a space without counts: one line, exit 2, nothing written
    for args, text in ((["--space", "ofa-mbv3"], "looks like an ofa-pn arch"), ([], "--space is required")):
        res = CliRunner().invoke(cli, ["count", *args, "--data", str(data), "--out", str(tmp_path / "x.csv")])
        assert res.exit_code == 2 and text in res.output, res.output
        assert not (tmp_path / "x.csv").exists()


def test_macs_and_params_are_metrics_and_an_evaluator():
    sp = get_space("ofa-mbv3")
    archs = sp.decode(sp.sample_codes(20, seed=3))
    macs, params = count_codes(sp, sp.encode(archs))
    eq = TargetEquation("sqrt(acc) - sqrt(macs) / 1e5")
    metrics = with_counts(sp, archs, {"acc": np.full(20, 0.75)}, eq.metrics)
    np.testing.assert_array_equal(metrics["macs"], macs)
    assert "params" not in metrics
    np.testing.assert_allclose(eq.evaluate(metrics), np.sqrt(0.75) - np.sqrt(macs) / 1e5)
    given = {"acc": np.ones(20), "macs": np.arange(20.0)}  # a column in the data wins
    assert with_counts(sp, archs, given, eq.metrics) is given
    ev = load_evaluator("count:ofa-mbv3")(archs)
    np.testing.assert_array_equal(ev["macs"], macs)
    np.testing.assert_array_equal(ev["params"], params)


@pytest.mark.heavy
def test_train_on_a_macs_equation(small_data, tmp_path):
    """`train --target` may use macs / params of OFA archs without such columns (Sec. 5.2 equations)."""
    pytest.importorskip("torch")
    out = tmp_path / "m"
    res = CliRunner().invoke(cli, ["train", "--space", "ofa-mbv3", "--data", str(small_data), "--target",
                                   "acc*100 - macs/1e8", "--epochs", "2", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    from autobuild.models.artifact import load_model

    rep = load_model(out).config["report"]
    sp = get_space("ofa-mbv3")
    from autobuild.data import read_labelled

    t = read_labelled(small_data, validate=sp.validate)
    y = t.metrics["acc"] * 100 - count_codes(sp, sp.encode(t.archs))[0] / 1e8
    assert rep["label_range"][0] >= y.min() - 1e-9 and rep["label_range"][1] <= y.max() + 1e-9


@pytest.mark.heavy
def test_export_writes_a_checked_onnx_subnet(tmp_path):
    """`export` builds the ofa subnet (ofa's image_size convention accepted) and writes ONNX that
    ONNX Runtime runs at the arch's resolution; a supernet weight file is loaded without pickle."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("ofa")
    import onnx
    import onnxruntime as ort

    from autobuild.networks.ofa_build import build_subnet, supernet

    sp = get_space("ofa-pn")
    arch = sp.decode(sp.sample_codes(1, seed=8))[0]
    arch["image_size"] = arch.pop("r")
    out = tmp_path / "m.onnx"
    res = CliRunner().invoke(cli, ["export", "--space", "ofa-pn", "--arch", json.dumps(arch), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "M MACs" in res.output
    onnx.checker.check_model(onnx.load(str(out)))
    r = arch["image_size"]
    y = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(
        None, {"image": np.zeros((1, 3, r, r), np.float32)})[0]
    assert y.shape == (1, 1000)
    res = CliRunner().invoke(cli, ["export", "--space", "ofa-pn", "--arch", json.dumps(arch), "--out", str(out)])
    assert res.exit_code == 2 and "--overwrite" in res.output  # never replaced unasked
    # weights: a supernet state dict (safetensors) gives the same subnet as the supernet it came from
    from safetensors.torch import save_file

    ref = supernet("ofa-pn", seed=5)
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(tmp_path / "w.safetensors"))
    a = {k: v for k, v in arch.items() if k != "image_size"} | {"r": r}
    x = torch.randn(1, 3, r, r)
    with torch.no_grad():
        want = build_subnet(sp, a, seed=5)(x)
        got = build_subnet(sp, a, weights=tmp_path / "w.safetensors")(x)
    torch.testing.assert_close(got, want)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    res = CliRunner().invoke(cli, ["export", "--space", "ofa-pn", "--arch", json.dumps(a), "--weights",
                                   str(tmp_path / "bad.pt"), "--out", str(tmp_path / "n.onnx")])
    assert res.exit_code == 2 and "cannot read weights" in res.output and not (tmp_path / "n.onnx").exists()


def _arch_file(tmp_path, sp, n, seed):
    archs = sp.decode(sp.sample_codes(n, seed=seed))
    p = tmp_path / f"archs{seed}.csv"
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch"])
        w.writerows([[json.dumps(a)] for a in archs])
    return p, archs


def test_profile_resumes_records_failures_and_picks_the_label(tmp_path, monkeypatch):
    """Resumable (measured archs are skipped, failures retried), a failing arch is recorded and not
    fatal, the repeat pass decides the label, and another setup refuses the file."""
    import autobuild.networks.profile as prof

    sp = get_space("ofa-mbv3")
    data, archs = _arch_file(tmp_path, sp, 6, 1)
    calls = []
    noise = {"n": 0}

    def fake(space, arch, provider, batch, threads, runs, warmup, seed, latent=64):
        calls.append(json.dumps(arch, separators=(",", ":")))
        if arch["r"] == -1 or (arch == archs[2] and not noise.get("fixed")):
            raise RuntimeError("out of memory")
        base = float(sum(arch["d"]))
        noise["n"] += 1
        jitter = 5.0 * ((noise["n"] * 7919) % 13) / 13  # the medians are noisy, the minimums are not
        return {"median_ms": base + jitter, "min_ms": base, "p10_ms": base + 0.1, "p90_ms": base + 9}

    monkeypatch.setattr(prof, "measure", fake)
    out = tmp_path / "lat.csv"
    args = ["profile", "--space", "ofa-mbv3", "--archs", str(data), "--runs", "5", "--warmup", "0", "--out", str(out)]
    res = CliRunner().invoke(cli, [*args, "--repeat-pass", "4"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 5 and list(rows[0]) == ["arch", "median_ms", "min_ms", "p10_ms", "p90_ms", "label"]
    meta = json.loads((tmp_path / "lat.csv.json").read_text())
    assert [f["row"] for f in meta["failures"]] == [3] and "out of memory" in meta["failures"][0]["error"]
    assert len(meta["repeat"]) == 4 and meta["recommendation"]["label"] == "min_ms"
    assert all(r["label"] == r["min_ms"] for r in rows)
    assert {"provider", "threads", "batch", "cpu"} <= set(meta["environment"])
    n = len(calls)
    noise["fixed"] = True
    res = CliRunner().invoke(cli, [*args, "--repeat-pass", "4"])
    assert res.exit_code == 0, res.output
    assert len(calls) == n + 1  # only the failed arch again
    assert len(list(csv.DictReader(out.open()))) == 6
    res = CliRunner().invoke(cli, [*args, "--threads", "2"])
    assert res.exit_code == 2 and "another setup" in res.output
    (tmp_path / "mine.csv").write_text("arch,x\n")
    res = CliRunner().invoke(cli, [*args[:-1], str(tmp_path / "mine.csv")])
    assert res.exit_code == 2 and "not written by `autobuild profile`" in res.output
    assert (tmp_path / "mine.csv").read_text() == "arch,x\n"


@pytest.mark.heavy
def test_profile_times_real_subnets(tmp_path):
    pytest.importorskip("ofa")
    sp = get_space("ofa-pn")
    data, _ = _arch_file(tmp_path, sp, 2, 4)
    out = tmp_path / "lat.csv"
    res = CliRunner().invoke(cli, ["profile", "--space", "ofa-pn", "--archs", str(data), "--runs", "3", "--warmup", "1",
                                   "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 2
    for r in rows:
        assert 0 < float(r["min_ms"]) <= float(r["p10_ms"]) <= float(r["median_ms"]) <= float(r["p90_ms"])


@pytest.mark.heavy
def test_walkthrough_profile_train_search_export(tmp_path, small_data):
    """README *On-device search*, at toy size: profile -> latency predictor -> search with it and an
    accuracy predictor -> export the front's best -> profile the front to confirm."""
    pytest.importorskip("ofa")
    run = lambda *a: CliRunner().invoke(cli, [str(x) for x in a])  # noqa: E731
    steps = [
        ("sample", "--space", "ofa-mbv3", "--n", 8, "--seed", 1, "--out", tmp_path / "archs.csv"),
        ("profile", "--space", "ofa-mbv3", "--archs", tmp_path / "archs.csv", "--runs", 3, "--warmup", 1,
         "--repeat-pass", 3, "--out", tmp_path / "lat.csv", "--quiet"),
        ("train", "--kind", "kgnn", "--space", "ofa-mbv3", "--data", tmp_path / "lat.csv", "--target", "label",
         "--epochs", 3, "--test-fraction", 0.2, "--out", tmp_path / "lat", "--quiet"),
        ("train", "--space", "ofa-mbv3", "--data", small_data, "--target", "acc", "--epochs", 2,
         "--out", tmp_path / "acc", "--quiet"),
        ("search", "--space", "ofa-mbv3", "--evaluator", f"onnx:acc={tmp_path / 'acc'},label={tmp_path / 'lat'}",
         "--objectives", "acc:max,label:min", "--budget", 12, "--initial", 6, "--per-iteration", 6,
         "--executor", "inline", "--out", tmp_path / "front.csv", "--quiet"),
        ("export", "--space", "ofa-mbv3", "--arch", f"@{tmp_path / 'front.csv'}", "--row", 1,
         "--out", tmp_path / "best.onnx", "--quiet"),
        ("profile", "--space", "ofa-mbv3", "--archs", tmp_path / "front.csv", "--runs", 3, "--warmup", 1,
         "--out", tmp_path / "front_lat.csv", "--quiet"),
    ]
    for step in steps:
        res = run(*step)
        assert res.exit_code == 0, (step[0], res.output)
    from autobuild import Predictor

    rep = Predictor.load(tmp_path / "lat").report
    assert rep["noise_ceiling"]["n"] == 3 and "linear_macs" in rep["baselines"]
    front = list(csv.DictReader((tmp_path / "front.csv").open()))
    assert len(list(csv.DictReader((tmp_path / "front_lat.csv").open()))) == len({r["arch"] for r in front})
    assert (tmp_path / "best.onnx").stat().st_size > 1e6


def test_combined_evaluator(model_dir):
    """`A;B` joins evaluators: predicted acc with exact MACs; objectives are checked against both."""
    from autobuild.search.setup import check_evaluator

    sp = get_space("ofa-mbv3")
    archs = sp.decode(sp.sample_codes(9, seed=4))
    spec = f"onnx:acc={model_dir};count:ofa-mbv3"
    out = load_evaluator(spec)(archs)
    assert set(out) == {"acc", "macs", "params"} and len(out["acc"]) == 9
    np.testing.assert_array_equal(out["macs"], count_codes(sp, sp.encode(archs))[0])
    check_evaluator(spec, sp, ["acc", "macs"], lambda m: None)
    from autobuild import AutobuildError

    with pytest.raises(AutobuildError, match="no model for objective 'latency'"):
        check_evaluator(spec, sp, ["acc", "latency"], lambda m: None)
    with pytest.raises(AutobuildError, match="given by two of its parts"):
        load_evaluator("count:ofa-mbv3;count:ofa-mbv3")(archs)


def test_ofa_conventions(tmp_path):
    """ofa's image_size is read as r everywhere; --resolution supplies a missing r to `count`."""
    sp = get_space("ofa-mbv3")
    arch = sp.decode(sp.sample_codes(1, seed=6))[0]
    ofa_style = {k: v for k, v in arch.items() if k != "r"} | {"image_size": arch["r"]}
    assert sp.validate(ofa_style) == sp.validate(arch)
    data = tmp_path / "a.jsonl"
    data.write_text(json.dumps({"arch": {k: v for k, v in arch.items() if k != "r"}}) + "\n")
    res = CliRunner().invoke(cli, ["count", "--space", "ofa-mbv3", "--data", str(data), "--out", str(tmp_path / "c.csv")])
    assert res.exit_code == 2 and "missing key(s) 'r'" in res.output
    res = CliRunner().invoke(cli, ["count", "--space", "ofa-mbv3", "--data", str(data), "--resolution", "208",
                                   "--out", str(tmp_path / "c.csv")])
    assert res.exit_code == 0, res.output
    row = next(csv.DictReader((tmp_path / "c.csv").open()))
    assert int(row["macs"]) == count_arch("ofa-mbv3", {**arch, "r": 208})[0]
