"""The k-GNN latency predictor (paper supp. Sec. 7.4), its model directory kind, its ONNX export
and the built-in ONNX evaluator of the search."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnxruntime as ort
import pytest
from conftest import reseal_model
import torch

from autobuild import AutobuildError
from autobuild.data import TargetEquation, builtin_data_path, read_labelled
from autobuild.models.artifact import load_model, save_result
from autobuild.search.evaluators.onnx import OnnxEvaluator
from autobuild.models.inference import OnnxSession, resolve_provider
from autobuild.models.kgnn import KGNNConfig, GraphConvNetwork, latency_loss, train_kgnn
from autobuild.models.gatv2_network import GATv2Network
from autobuild.models.fitting import TrainResult
from autobuild.models.trainer import TrainConfig, train_predictor
from autobuild.spaces import get_space


@pytest.fixture(scope="module")
def mbv3():
    sp = get_space("ofa-mbv3")
    table = read_labelled(builtin_data_path("ofa-mbv3"), validate=sp.validate)
    return sp, sp.encode(table.archs), table.metrics, table.archs


@pytest.fixture(scope="module")
def trained(mbv3):
    sp, codes, metrics, _ = mbv3
    return train_kgnn(sp, codes[:600], metrics["latency_gpu"][:600], KGNNConfig(epochs=4, seed=1))


@pytest.fixture(scope="module")
def saved(trained, mbv3, tmp_path_factory):
    sp = mbv3[0]
    return save_result(tmp_path_factory.mktemp("kgnn") / "lat", trained, sp, TargetEquation("latency_gpu"),
                      {"source": "test", "n": 600})


@pytest.fixture(scope="module")
def autobuild_dir(mbv3, tmp_path_factory):
    sp, codes, metrics, _ = mbv3
    res = train_predictor(sp, codes[:200], metrics["acc"][:200], TrainConfig(epochs=1, seed=0))
    return save_result(tmp_path_factory.mktemp("ab") / "acc", res, sp, TargetEquation("acc"), {"source": "test", "n": 200})


def test_report_fields_and_learning(trained):
    rep = trained.report
    assert trained.kind == "kgnn" and rep["kind"] == "kgnn"
    t = rep["test"]
    assert t["n"] == 60 and rep["n_train"] == 540
    for k in ("mae", "mape", "srcc", "within10", "srcc_pred"):
        assert np.isfinite(t[k]), k
    assert t["srcc_pred"] == t["srcc"] and 0 <= t["within10"] <= 100
    assert len(t["srcc_hop"]) == 5
    assert set(rep["train"]) == {"mae", "mape", "srcc", "within10"}
    # 4 epochs on 540 archs already rank and fit GPU latency (ms) well.
    assert t["srcc"] > 0.8, t
    assert t["mape"] < 15 and t["within10"] > 50, t
    assert len(rep["loss_history"]) == 4 and rep["seconds_per_epoch"] > 0
    assert len(rep["hop_moments"]) == 5 and len(rep["label_moments"]) == 15 and rep["fe_importance"] == {}
    assert sorted(rep["split"]["train"] + rep["split"]["test"]) == list(range(600))


def test_training_is_deterministic(mbv3):
    sp, codes, metrics, _ = mbv3
    y = metrics["latency_cpu"][:200]
    cfg = KGNNConfig(epochs=2, seed=5, hidden=32)
    a, b = train_kgnn(sp, codes[:200], y, cfg), train_kgnn(sp, codes[:200], y, cfg)
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    assert a.report["loss_history"] == b.report["loss_history"]
    c = train_kgnn(sp, codes[:200], y, KGNNConfig(epochs=2, seed=6, hidden=32))
    assert c.report["split"] != a.report["split"]


def test_loss_is_eq6(mbv3):
    y = torch.tensor([0.0, 1.0, 2.0, 3.0])
    assert latency_loss(y.clone(), y, rank_weight=0.0).item() == 0.0
    # A perfect ranking leaves the MAE (+ the small soft-rank gap); a reversed one adds ~2.
    good = latency_loss(y + 0.5, y, eps=1e-3).item()
    bad = latency_loss(3.0 - y, y, eps=1e-3).item()
    assert good == pytest.approx(0.5, abs=1e-3) and bad == pytest.approx(2.0 + 2.0, abs=1e-3)


def test_type_table_path_equals_plain_path_and_pyg_graphconv(mbv3):
    from torch_geometric.nn import GraphConv

    for name in ("ofa-mbv3", "ofa-pn"):
        sp = get_space(name)
        torch.manual_seed(0)
        m = GraphConvNetwork(sp.feature_categories, hidden=64).eval()
        assert m.use_type_table
        g = sp.graphs(sp.sample_codes(40, seed=2))
        x, ei, _, _ = g.torch()
        with torch.no_grad():
            n_a, hs_a = m.layers_out(x, ei, use_table=True)
            n_b, hs_b = m.layers_out(x, ei, use_table=False)
            torch.testing.assert_close(n_a, n_b, rtol=1e-5, atol=1e-5)
            for a, b in zip(hs_a, hs_b):
                torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
            h, e = torch.randn(50, 64), torch.randint(0, 50, (2, 120))
            torch.testing.assert_close(m.convs[1](h, e), GraphConv.forward(m.convs[1], h, e), rtol=1e-5, atol=1e-5)
    # A space with too many feature tuples for the table falls back to the plain path.
    m = GraphConvNetwork(get_space("ofa-mbv3").feature_categories, hidden=8, max_type_table=10)
    assert not m.use_type_table


def test_onnx_parity_and_dynamic_batch(saved, mbv3):
    sp, codes, _, _ = mbv3
    art = load_model(saved, space=sp)
    onnx_info = art.config["onnx"]
    assert onnx_info["parity_pred_std_diff"] <= 1e-4 and onnx_info["parity_max_rel_diff"] <= 1e-5
    model = art.torch_model()
    sess = ort.InferenceSession(str(art.onnx_path), providers=["CPUExecutionProvider"])
    for lo, hi in ((0, 1), (1, 8), (600, 1100)):
        g = sp.graphs(codes[lo:hi])
        got = sess.run(["pred", "node_norms", "graph_norms"], g.onnx_feed())
        with torch.no_grad():
            ref = [t.numpy() for t in model(*g.torch())]
        assert got[0].shape == (hi - lo,) and got[1].shape == (len(g.x), 5) and got[2].shape == (hi - lo, 5)
        # Standardised prediction within 1e-4; every output within 1e-5 of its scale (label units: ms).
        assert np.max(np.abs(got[0] - ref[0])) / float(model.y_std) <= 1e-4
        for a, b in zip(got, ref):
            assert np.max(np.abs(a - b)) <= 1e-5 * max(1.0, float(np.max(np.abs(b))))
    # Predictions are in label units (GPU latency in ms).
    pred, norms = OnnxSession(art.onnx_path).predict(sp, codes[600:1100], batch_size=128)
    assert 5.0 < float(pred.mean()) < 11.0 and norms.shape == (500, 5)


def test_artifact_kinds(saved, autobuild_dir, mbv3, tmp_path, trained):
    sp = mbv3[0]
    art = load_model(saved, space=sp)
    assert art.kind == "kgnn" and art.config["kind"] == "kgnn" and art.hops == 5
    m = art.torch_model()
    assert isinstance(m, GraphConvNetwork)
    for (k, v), (k2, v2) in zip(m.state_dict().items(), trained.model.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    ab = load_model(autobuild_dir, space=sp)
    assert ab.kind == "autobuild" and isinstance(ab.torch_model(), GATv2Network)
    with pytest.raises(AutobuildError, match="module scoring needs a model of kind 'autobuild'"):
        art.require("ranks_hops", "module scoring")
    # A config written before the "kind" field means an AutoBuild predictor.
    old = tmp_path / "old"
    shutil.copytree(autobuild_dir, old)
    cfg = json.loads((old / "config.json").read_text())
    del cfg["kind"]
    (old / "config.json").write_text(json.dumps(cfg))
    reseal_model(old)
    assert load_model(old).kind == "autobuild" and isinstance(load_model(old).torch_model(), GATv2Network)
    cfg["kind"] = "transformer"
    (old / "config.json").write_text(json.dumps(cfg))
    reseal_model(old)
    with pytest.raises(AutobuildError, match="unknown model kind 'transformer'"):
        load_model(old)
    # A result whose declared kind contradicts its model is refused.
    bad = TrainResult(trained.model, trained.config, trained.report, kind="autobuild")
    with pytest.raises(AutobuildError, match="says kind 'autobuild' but holds a 'kgnn' model"):
        save_result(tmp_path / "bad", bad, sp, TargetEquation("latency_gpu"), {})


def test_onnx_evaluator(saved, autobuild_dir, mbv3, tmp_path):
    sp, codes, _, archs = mbv3
    with OnnxEvaluator({"latency_gpu": saved, "acc": autobuild_dir}, workers=2, run_size=100) as ev:
        assert ev.names == ["latency_gpu", "acc"] and ev.targets == {"latency_gpu": "latency_gpu", "acc": "acc"}
        out = ev(archs[1000:1450])
        assert set(out) == {"latency_gpu", "acc"}
        for v in out.values():
            assert v.shape == (450,) and v.dtype == np.float64
        g = sp.graphs(codes[1000:1450])
        with torch.no_grad():
            ref_lat = load_model(saved).torch_model()(*g.torch())[0].numpy()
            ref_acc = load_model(autobuild_dir).torch_model()(*g.torch())[0].numpy()
        np.testing.assert_allclose(out["latency_gpu"], ref_lat, rtol=1e-5)
        np.testing.assert_allclose(out["acc"], ref_acc, rtol=1e-5, atol=1e-5)
        fast = ev.encode_and_predict_codes(codes[1000:1450])
        for k in out:
            np.testing.assert_array_equal(fast[k], out[k])
        empty = ev([])
        assert all(v.shape == (0,) for v in empty.values())
        # Bad input: one-line errors.
        with pytest.raises(AutobuildError, match="arch 1:"):
            ev([archs[0], {"ks": [3]}])
        with pytest.raises(AutobuildError, match="codes must be an int array"):
            ev.encode_and_predict_codes(codes[:5, :3])
        bad = codes[:5].copy()
        bad[2, 0] = 9
        with pytest.raises(AutobuildError, match="invalid arch codes"):
            ev.encode_and_predict_codes(bad)
    # Sequential (one worker, one run per batch) gives the same numbers.
    with OnnxEvaluator({"latency_gpu": saved}, workers=1, batch_size=450) as ev1:
        np.testing.assert_allclose(ev1.encode_and_predict_codes(codes[1000:1450])["latency_gpu"], out["latency_gpu"],
                                   rtol=1e-5)
    with pytest.raises(AutobuildError, match="at least one"):
        OnnxEvaluator({})
    with pytest.raises(AutobuildError, match="batch_size"):
        OnnxEvaluator({"x": saved}, batch_size=0)


def test_onnx_evaluator_refuses_mixed_spaces(saved, tmp_path):
    # A model directory that declares space ofa-pn (edited and resealed; the weights do not
    # matter for this check, and it saves an ONNX export).
    pn = get_space("ofa-pn")
    pn_dir = tmp_path / "pn"
    shutil.copytree(saved, pn_dir)
    cfg = json.loads((pn_dir / "config.json").read_text())
    cfg.update(space=pn.to_dict(), space_fingerprint=pn.fingerprint())
    (pn_dir / "config.json").write_text(json.dumps(cfg))
    reseal_model(pn_dir)
    assert load_model(pn_dir).space.name == "ofa-pn"
    with pytest.raises(AutobuildError, match="all models must share one space"):
        OnnxEvaluator({"mbv3": saved, "pn": pn_dir})


def test_bad_training_input(mbv3):
    sp, codes, metrics, _ = mbv3
    y = metrics["latency_gpu"][:100].copy()
    y[3] = np.nan
    with pytest.raises(AutobuildError, match="NaN"):
        train_kgnn(sp, codes[:100], y, KGNNConfig(epochs=1))
    with pytest.raises(AutobuildError, match="100 archs but 99 labels"):
        train_kgnn(sp, codes[:100], metrics["latency_gpu"][:99], KGNNConfig(epochs=1))
    with pytest.raises(AutobuildError, match="all training labels are equal"):
        train_kgnn(sp, codes[:100], np.ones(100), KGNNConfig(epochs=1))
    with pytest.raises(AutobuildError, match="codes must be an int array"):
        train_kgnn(sp, codes[:100, :4], metrics["latency_gpu"][:100], KGNNConfig(epochs=1))
    bad = codes[:100].copy()
    bad[0, 0] = 7
    with pytest.raises(AutobuildError, match="invalid arch codes"):
        train_kgnn(sp, bad, metrics["latency_gpu"][:100], KGNNConfig(epochs=1))
    for kw, msg in (({"epochs": 0}, "epochs"), ({"batch_size": 1}, "batch size"), ({"schedule": "step"}, "schedule"),
                    ({"test_fraction": 1.0}, "test fraction"), ({"rank_eps": 0.0}, "rank_eps"),
                    ({"weight_decay": -1.0}, "weight decay")):
        with pytest.raises(AutobuildError, match=msg):
            train_kgnn(sp, codes[:100], metrics["latency_gpu"][:100], KGNNConfig(**kw))


def test_cuda_provider_falls_back_to_cpu(saved, capsys):
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("CUDA execution provider available: no fallback to test")
    assert resolve_provider("cuda") == ["CPUExecutionProvider"]
    err = capsys.readouterr().err
    assert "provider 'cuda' is not available" in err and "falling back to cpu" in err
    assert resolve_provider("cuda", warn=False) == ["CPUExecutionProvider"]
    assert capsys.readouterr().err == ""
    ev = OnnxEvaluator({"lat": saved}, provider="cuda")
    assert ev.providers == ["CPUExecutionProvider"] and ev.workers >= 1
    assert capsys.readouterr().err.count("falling back to cpu") == 1
    with pytest.raises(AutobuildError, match="unknown provider"):
        resolve_provider("warp-drive")


def test_exporters_agree_and_the_fallback_is_used(tmp_path, monkeypatch):
    """Both ONNX exporters reach parity on a k-GNN (the TorchScript one needs the ScatterND-add
    symbolic of index_add: without it graph pooling overwrites instead of summing); when the first
    exporter fails, the next one is used and recorded."""
    from autobuild.models import onnx_export

    sp = get_space("ofa-pn")
    torch.manual_seed(0)
    m = GraphConvNetwork(sp.feature_categories, hidden=16).eval()
    info = onnx_export.export_onnx(m, sp, tmp_path / "t.onnx", exporters=("torchscript",))
    assert info["exporter"] == "torchscript" and info["parity_max_rel_diff"] <= 1e-5
    real = onnx_export._torch_export

    def broken(model, example, path, exporter):
        if exporter == "torchscript":
            raise RuntimeError("tracer gone")
        real(model, example, path, exporter)

    monkeypatch.setattr(onnx_export, "_torch_export", broken)
    info = onnx_export.export_onnx(m, sp, tmp_path / "f.onnx")  # returns only once parity is reached
    assert info["exporter"] == "dynamo" and info["parity_max_rel_diff"] <= 1e-5
    with pytest.raises(AutobuildError, match="torchscript: RuntimeError: tracer gone"):
        onnx_export.export_onnx(m, sp, tmp_path / "g.onnx", exporters=("torchscript",))


def test_linear_macs_baseline_and_early_stopping(trained, mbv3):
    """Every k-GNN report carries the linear-MACs baseline (least squares on the training split);
    with val_fraction the weights of the best validation epoch are kept."""
    from autobuild.metrics import regression_report
    from autobuild.models.kgnn import summary
    from autobuild.networks.ofa_counts import count_codes

    sp, codes, metrics, _ = mbv3
    b = trained.report["baselines"]["linear_macs"]
    tr, te = (np.array(trained.report["split"][k]) for k in ("train", "test"))
    y = metrics["latency_gpu"][:600]
    macs = count_codes(sp, codes[:600])[0] / 1e9
    coef = np.polyfit(macs[tr], y[tr], 1)
    want = regression_report(y[te], np.polyval(coef, macs[te]))
    assert b["srcc"] == pytest.approx(want["srcc"]) and b["mae"] == pytest.approx(want["mae"], rel=1e-6)
    assert "linear fit on MACs" in summary(trained.report)
    res = train_kgnn(sp, codes[:300], y[:300], KGNNConfig(epochs=6, seed=2, val_fraction=0.2))
    rep = res.report
    assert rep["n_val"] == 54 and 1 <= rep["selected_epoch"] <= 6
    best = max(rep["val_history"], key=lambda p: p[1])
    assert rep["selected_epoch"] == best[0]
    with pytest.raises(AutobuildError, match="val_fraction"):
        KGNNConfig(val_fraction=0.7).validate()


def test_noise_ceiling_from_a_profile_sidecar(tmp_path):
    from autobuild.networks.profile import noise_ceiling

    data = tmp_path / "lat.csv"
    data.write_text("arch,min_ms\n")
    meta = {"format": "autobuild-profile", "recommendation": {"label": "min_ms", "repeat_srcc": {"min_ms": 0.93,
            "median_ms": 0.8}}, "repeat": [{}] * 40}
    (tmp_path / "lat.csv.json").write_text(json.dumps(meta))
    assert noise_ceiling(data, TargetEquation("label")) == {"statistic": "min_ms", "srcc": 0.93, "n": 40,
                                                           "source": "lat.csv.json"}
    assert noise_ceiling(data, TargetEquation("median_ms"))["srcc"] == 0.8
    assert noise_ceiling(data, TargetEquation("min_ms*2")) is None  # an equation is not the measured statistic
    assert noise_ceiling(tmp_path / "other.csv", TargetEquation("min_ms")) is None


def test_api_fit_reads_the_noise_ceiling_of_a_profile(tmp_path, mbv3):
    """Predictor.fit on an `autobuild profile` output carries the noise ceiling, as `train` does."""
    from autobuild import Predictor

    sp, _, metrics, archs = mbv3
    data = tmp_path / "lat.csv"
    rows = ["arch,min_ms"] + ['"' + json.dumps(a).replace('"', '""') + f'",{v}' for a, v in
                              zip(archs[:40], metrics["latency_gpu"][:40])]
    data.write_text("\n".join(rows) + "\n")
    meta = {"format": "autobuild-profile", "recommendation": {"label": "min_ms", "repeat_srcc": {"min_ms": 0.9}},
            "repeat": [{}] * 5}
    (tmp_path / "lat.csv.json").write_text(json.dumps(meta))
    p = Predictor("ofa-mbv3", target="min_ms", kind="kgnn", epochs=1).fit(str(data))
    assert p.report["noise_ceiling"]["srcc"] == 0.9


def test_macs_prior_is_exact_and_the_starting_line(mbv3):
    """The MACs prior: the model computes every graph's exact MACs from its node types (also in
    its ONNX export), starts as the least-squares line on them and is the default on OFA spaces."""
    from autobuild.networks.ofa_counts import count_codes, node_type_macs

    for name in ("ofa-mbv3", "ofa-pn"):
        sp = get_space(name)
        codes = sp.sample_codes(64, seed=4)
        m = GraphConvNetwork(sp.feature_categories, hidden=16, prior="macs")
        layer, fixed = node_type_macs(sp)
        m.set_macs_prior(layer / 1e9, fixed / 1e9, 0.0, 1.0, [0.0, 1.0])
        x, _, b, c = sp.graphs(codes).torch()
        with torch.no_grad():
            got = m.graph_macs(x, b, c).double().numpy()
        np.testing.assert_allclose(got, count_codes(sp, codes)[0] / 1e9, rtol=1e-5)
    sp, codes, metrics, _ = mbv3
    macs = count_codes(sp, codes[:400])[0] / 1e9
    y = 2.0 + 30.0 * macs  # a latency that is a line on MACs
    res = train_kgnn(sp, codes[:400], y, KGNNConfig(epochs=1, seed=0, lr=1e-9))  # no learning: the prior alone
    assert res.config.prior == "macs" and res.report["test"]["mape"] < 1e-3
    assert train_kgnn(sp, codes[:400], y, KGNNConfig(epochs=1, prior="none")).config.prior == "none"
    with pytest.raises(AutobuildError, match="prior"):
        KGNNConfig(prior="flops").validate()


def test_macs_prior_needs_counts(tmp_path):
    from autobuild.spaces import load_space_file

    f = tmp_path / "s.yaml"
    f.write_text("name: tiny\nlayer_features:\n  - {name: k, values: [3, 5]}\nstages:\n  - {min_depth: 1, max_depth: 2}\n")
    sp = load_space_file(f)
    codes = sp.sample_codes(8, seed=0, unique=False)
    with pytest.raises(AutobuildError, match="needs exact MAC counts"):
        train_kgnn(sp, codes, np.arange(8.0), KGNNConfig(epochs=1, prior="macs"))
    assert train_kgnn(sp, codes, np.arange(8.0), KGNNConfig(epochs=1)).config.prior == "none"
