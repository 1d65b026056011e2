"""The AutoBuild predictor: training (Eq. 4, Sec. 7.1), statistics, artifacts and the ONNX export."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch

from autobuild import AutobuildError
from autobuild.data import TargetEquation, builtin_data_path, read_labelled
from autobuild.metrics import spearman
from autobuild.models.artifact import load_model, save_result
from autobuild.models.inference import OnnxSession
from autobuild.models.gatv2_network import GATv2Network
from autobuild.models.trainer import TrainConfig, train_predictor
from autobuild.spaces import get_space


@pytest.fixture(scope="module")
def mbv3():
    sp = get_space("ofa-mbv3")
    table = read_labelled(builtin_data_path("ofa-mbv3"), validate=sp.validate)
    return sp, sp.encode(table.archs), table.metrics


@pytest.fixture(scope="module")
def trained(mbv3):
    sp, codes, metrics = mbv3
    cfg = TrainConfig(epochs=15, seed=3, lr=2e-3)
    return train_predictor(sp, codes[:1000], metrics["acc"][:1000], cfg)


def test_learns_a_magnitude_ranked_space(trained):
    """15 epochs (lr 2e-3) on 900 archs already rank the held-out archs at every hop (Fig. 2 in small)."""
    t = trained.report["test"]
    assert t["n"] == 100 and trained.report["n_train"] == 900
    assert len(t["srcc_hop"]) == 5
    assert min(t["srcc_hop"]) > 0.5, t
    assert t["srcc_pred"] > 0.5, t


def test_statistics(trained, mbv3):
    sp, codes, metrics = mbv3
    rep = trained.report
    assert [h["hop"] for h in rep["hop_moments"]] == [0, 1, 2, 3, 4]
    assert all(h["std"] > 0 for h in rep["hop_moments"])
    # Label moments N(mu_ul, sigma_ul): 5 stages x depths 2..4, counts add up per stage.
    lm = rep["label_moments"]
    assert len(lm) == 15
    for u in range(5):
        cells = [c for c in lm if c["group"] == u]
        assert [c["depth"] for c in cells] == [2, 3, 4]
        assert sum(c["n"] for c in cells) == 900
    tr = np.array(rep["split"]["train"])
    y = metrics["acc"][:1000][tr]
    depth0 = codes[:1000][tr, 0]
    assert lm[0]["mean"] == pytest.approx(y[depth0 == 2].mean())
    imp = rep["fe_importance"]
    assert imp["k"]["values"] == [3, 5, 7] and len(imp["k"]["score"]) == 3
    assert all(s >= 0 for d in imp.values() for s in d["score"])


def test_training_is_deterministic(mbv3):
    sp, codes, metrics = mbv3
    cfg = TrainConfig(epochs=2, seed=11)
    a = train_predictor(sp, codes[:300], metrics["latency_gpu"][:300], cfg)
    b = train_predictor(sp, codes[:300], metrics["latency_gpu"][:300], cfg)
    for (ka, va), (kb, vb) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    assert a.report["loss_history"] == b.report["loss_history"]
    c = train_predictor(sp, codes[:300], metrics["latency_gpu"][:300], TrainConfig(epochs=2, seed=12))
    assert c.report["split"] != a.report["split"]


def test_gradient_scale_keeps_forward_values(mbv3):
    """The FE-MLP gradient scale changes gradients only: forward values equal those of scale 1."""
    sp, codes, _ = mbv3
    g = sp.graphs(codes[:50])
    outs = []
    for scale in (0.1, 1.0):
        torch.manual_seed(0)
        outs.append(GATv2Network(sp.feature_categories, fe_grad_scale=scale).train()(*g.torch()))
    for a, b in zip(*outs):
        torch.testing.assert_close(a, b)


def _chain_runs(sp, codes, monkeypatch):
    """Prediction, node norms and parameter gradients of one model on the edge path, the torch
    dense chain path and the fused core kernels (each available backend)."""
    import autobuild.models.gatv2 as gatv2
    import autobuild.models.gatv2_network as predictor
    from autobuild import core

    g = sp.graphs(codes).torch()
    torch.manual_seed(0)
    m = GATv2Network(sp.feature_categories, heads=1).train()
    weights = torch.randn(len(codes))
    links, fused = predictor.chain_links, gatv2._fused
    runs = {}
    modes = ["edge", "dense"] + [f"fused-{b}" for b in core.available_backends()]
    for mode in modes:
        monkeypatch.setattr(predictor, "chain_links", links if mode != "edge" else (lambda ei, n: None))
        monkeypatch.setattr(gatv2, "_fused", fused if mode.startswith("fused") else (lambda a, b: False))
        if mode.startswith("fused"):
            monkeypatch.setenv("AUTOBUILD_BACKEND", mode.split("-")[1])
        m.zero_grad()
        pred, node_norms, graph_norms = m(*g)
        ((pred * weights).sum() + (graph_norms * torch.arange(1.0, 6.0)).sum()).backward()
        runs[mode] = (pred.detach(), node_norms.detach(), {k: p.grad.clone() for k, p in m.named_parameters()})
    return runs


@pytest.mark.parametrize("name", ["ofa-mbv3", "ofa-pn"])
def test_chain_path_is_the_edge_path(name, monkeypatch):
    """On sequence graphs GATv2 takes the dense chain path (torch ops, or the core's fused kernels
    on the CPU); it computes what PyG's edge path computes, values and gradients, to 1e-5."""
    from autobuild.models.gatv2 import chain_links

    sp = get_space(name)
    codes = sp.sample_codes(128, seed=4)
    ei = torch.from_numpy(sp.graphs(codes).edge_index)
    has_pred = chain_links(ei, int(ei.max()) + 1)
    assert has_pred is not None and int(has_pred.sum()) == ei.shape[1] and not has_pred[0]
    dag = torch.cat([ei, torch.tensor([[0], [2]])], dim=1)  # a skip edge: not a chain
    assert chain_links(dag, int(ei.max()) + 1) is None
    runs = _chain_runs(sp, codes, monkeypatch)
    ref = runs.pop("edge")
    assert len(runs) >= 2
    scale = max(v.abs().max().item() for v in ref[2].values())
    for mode, (pred, norms, grads) in runs.items():
        torch.testing.assert_close(pred, ref[0], rtol=1e-5, atol=1e-5, msg=mode)
        torch.testing.assert_close(norms, ref[1], rtol=1e-5, atol=1e-5, msg=mode)
        for k, v in grads.items():
            assert (v - ref[2][k]).abs().max().item() <= 1e-5 * scale, (mode, k)


def test_bad_training_input(mbv3):
    sp, codes, metrics = mbv3
    y = metrics["acc"][:100].copy()
    y[7] = np.nan
    with pytest.raises(AutobuildError, match="NaN"):
        train_predictor(sp, codes[:100], y, TrainConfig(epochs=1))
    with pytest.raises(AutobuildError, match="all training labels are equal"):
        train_predictor(sp, codes[:100], np.ones(100), TrainConfig(epochs=1))
    with pytest.raises(AutobuildError, match="100 archs but 99 labels"):
        train_predictor(sp, codes[:100], metrics["acc"][:99], TrainConfig(epochs=1))


def test_artifact_roundtrip_and_onnx_parity(trained, mbv3, tmp_path):
    sp, codes, _ = mbv3
    eq = TargetEquation("acc")
    path = save_result(tmp_path / "m", trained, sp, eq, {"source": "test", "n": 1000})
    art = load_model(path, space=sp)
    assert art.target == eq and art.hops == 5
    assert art.config["onnx"]["parity_max_abs_diff"] <= 1e-4
    sess = OnnxSession(art.onnx_path)
    pred, norms = sess.predict(sp, codes[1000:1500], batch_size=128)
    model = art.torch_model()
    with torch.no_grad():
        p_ref, _, g_ref = model(*sp.graphs(codes[1000:1500]).torch())
    np.testing.assert_allclose(pred, p_ref.numpy(), atol=1e-4)
    np.testing.assert_allclose(norms, g_ref.numpy(), rtol=1e-4, atol=1e-4)
    # Predictions are in label units (accuracy fractions) and rank the archs.
    assert 0.7 < float(pred.mean()) < 0.8
    with pytest.raises(AutobuildError, match="trained on space 'ofa-mbv3', not 'ofa-pn'"):
        load_model(path, space=get_space("ofa-pn"))


def test_embedded_data_provenance(oracle):
    """The embedded demo data are what the surrogate oracles say (README, 'Embedded data')."""
    for name in ("ofa-mbv3", "ofa-pn"):
        sp = get_space(name)
        table = read_labelled(builtin_data_path(name), validate=sp.validate)
        assert len(table) == 3000 and len({str(a) for a in table.archs}) == 3000
        idx = np.arange(0, 3000, 60)
        archs = [table.archs[i] for i in idx]
        for metric in ("acc", "latency_gpu", "latency_cpu"):
            got = oracle.load(name, metric)(archs)
            np.testing.assert_allclose(table.metrics[metric][idx], got, rtol=1e-6)
        assert spearman(table.metrics["acc"], table.metrics["latency_gpu"]) > 0.3


def test_gatv2_is_pyg_gatv2_and_exports_without_warnings(tmp_path):
    """autobuild's GATv2Conv computes PyG's GATv2Conv exactly (values and gradients, one and two
    heads) and its ONNX export runs on ONNX Runtime at any batch size without shape warnings."""
    import subprocess
    import sys

    from torch_geometric.nn import GATv2Conv as PygGATv2Conv

    from autobuild.models.gatv2 import GATv2Conv
    from autobuild.models.onnx_export import export_onnx
    from autobuild.models.gatv2_network import GATv2Network

    torch.manual_seed(0)
    x = torch.randn(300, 8)
    ei = torch.cat([torch.randint(0, 300, (2, 700)), torch.arange(300).expand(2, -1)], dim=1)
    for heads, concat in ((1, True), (2, False)):
        ref = PygGATv2Conv(8, 16, heads=heads, concat=concat, add_self_loops=False)
        ours = GATv2Conv(8, 16, heads=heads, concat=concat, add_self_loops=False)
        ours.load_state_dict(ref.state_dict())
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = ref(xa, ei), ours(xb, ei)
        torch.testing.assert_close(yb, ya, rtol=1e-6, atol=1e-6)
        weight = torch.randn_like(ya)
        (ya * weight).sum().backward()
        (yb * weight).sum().backward()
        torch.testing.assert_close(xb.grad, xa.grad, rtol=1e-4, atol=1e-5)  # float32 summation order
    sp = get_space("ofa-pn")
    m = GATv2Network(sp.feature_categories, hidden=16, layers=3).eval()
    info = export_onnx(m, sp, tmp_path / "m.onnx")
    assert info["exporter"] == "torchscript"
    script = ("import numpy as np, onnxruntime as ort\n"
              "from autobuild.spaces import get_space\n"
              f"s = ort.InferenceSession({str(tmp_path / 'm.onnx')!r}, providers=['CPUExecutionProvider'])\n"
              "sp = get_space('ofa-pn')\n"
              "for n in (1, 7, 300):\n"
              "    s.run(None, sp.graphs(sp.sample_codes(n, seed=n)).onnx_feed())\n")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "VerifyOutputSizes" not in res.stderr and "[W:" not in res.stderr, res.stderr[:500]


def test_training_is_sized_to_the_data(monkeypatch):
    """Without --epochs a run makes about the paper's number of optimiser steps: 200 epochs on its
    2,700 training archs, more on less data, at most 1,000 (the paper's full-batch U-Net setting)."""
    from autobuild.models.fitting import SIZED_EPOCHS, planned_epochs, sized_epochs

    assert sized_epochs(2700, 128) == 200
    assert sized_epochs(720, 128) == 700  # 800 labelled archs, 90 % for training
    assert sized_epochs(61, 128) == SIZED_EPOCHS[1] == 1000  # 68 U-Nets, full batch
    assert sized_epochs(100_000, 128) == SIZED_EPOCHS[0]
    assert planned_epochs(TrainConfig(), 3000) == 200 and planned_epochs(TrainConfig(epochs=7), 3000) == 7
    # The run trains what it planned (smaller constants here, to keep the test short).
    from autobuild.models import fitting

    monkeypatch.setattr(fitting, "SIZED_STEPS", 60)
    monkeypatch.setattr(fitting, "SIZED_EPOCHS", (5, 40))
    sp = get_space("ofa-pn")
    t = read_labelled(builtin_data_path("ofa-pn"), validate=sp.validate)
    codes, y = sp.encode(t.archs[:40]), t.metrics["acc"][:40]
    res = train_predictor(sp, codes, y, TrainConfig(batch_size=16, hidden=8, layers=2))  # 3 batches: 20 epochs
    assert res.config.epochs == 20 and len(res.report["loss_history"]) == 20
    assert res.report["epochs_rule"].startswith("sized to the data: 36 training archs")
    res = train_predictor(sp, codes, y, TrainConfig(epochs=3, hidden=8, layers=2))
    assert res.config.epochs == 3 and res.report["epochs_rule"] == "given (3)"


def test_configs_before_norm_build_the_0_2_predictor():
    """A stored config without ``norm`` (autobuild 0.2) rebuilds the predictor without batch norm,
    with the GATv2 biases, so its weights load strictly; the 0.3 default has norms and no biases."""
    sp = get_space("ofa-mbv3")
    old = GATv2Network.from_hyperparameters(sp.feature_categories, {"hidden": 16, "layers": 2})
    assert all(isinstance(n, torch.nn.Identity) for n in old.norms) and old.convs[0].bias is not None
    old.load_state_dict(GATv2Network(sp.feature_categories, hidden=16, layers=2, norm="none").state_dict())
    new = GATv2Network.from_hyperparameters(sp.feature_categories, {"hidden": 16, "layers": 2, "norm": "batch"})
    assert isinstance(new.norms[0], torch.nn.BatchNorm1d) and new.convs[0].bias is None
    with pytest.raises(AutobuildError, match="norm must be one of"):
        TrainConfig(norm="layer").validate()


def test_progress_reports_the_held_out_srcc_as_it_goes():
    """A progress callback with a ``val`` argument gets the monitor's latest held-out SRCC (the CLI
    shows it in the training bar); a two-argument callback keeps working."""
    sp = get_space("ofa-pn")
    t = read_labelled(builtin_data_path("ofa-pn"), validate=sp.validate)
    codes, y = sp.encode(t.archs[:120]), t.metrics["acc"][:120]
    seen, plain = [], []
    res = train_predictor(sp, codes, y, TrainConfig(epochs=4, hidden=8, layers=2),
                          progress=lambda e, loss, val=None: seen.append((e, val)))
    hist = dict((int(e), v) for e, v in res.report["val_history"])
    assert [e for e, _ in seen] == [1, 2, 3, 4]
    assert all(v == hist[e] for e, v in seen if e in hist) and seen[-1][1] == hist[4]
    train_predictor(sp, codes, y, TrainConfig(epochs=2, hidden=8, layers=2), progress=lambda e, loss: plain.append(e))
    assert plain == [1, 2]


def test_drop_value_info_is_onnx_editing_the_proto(tmp_path):
    """The wire-format edit of an exported predictor equals onnx's own ``del graph.value_info[:]``
    (inputs, outputs and weights kept, a valid model) and refuses a truncated file."""
    import onnx

    from autobuild.models.onnx_export import _torch_export, drop_value_info

    sp = get_space("ofa-mbv3")
    torch.manual_seed(0)
    model = GATv2Network(sp.feature_categories).eval()
    _torch_export(model, sp.graphs(sp.sample_codes(4, seed=0)), str(tmp_path / "m.onnx"), "torchscript")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    # Older tracers record the example's shapes of intermediates: add some as they would.
    for node in proto.graph.node[:5]:
        proto.graph.value_info.append(onnx.helper.make_tensor_value_info(node.output[0], onnx.TensorProto.FLOAT, [7, 3]))
    raw = proto.SerializeToString()
    del proto.graph.value_info[:]
    edited = onnx.load_from_string(drop_value_info(raw))
    assert edited == proto and len(edited.graph.initializer) == len(proto.graph.initializer) > 0
    onnx.checker.check_model(edited)
    with pytest.raises(ValueError, match="protobuf"):
        drop_value_info(raw[: len(raw) // 2])


def test_fe_table_vjp_is_autograd():
    """FEMLP.table_and_vjp: the table and every parameter's gradient equal autograd's through
    FEMLP.table, on spaces with categorical and numeric categories."""
    from autobuild.models.fe_mlp import FEMLP

    for name in ("ofa-mbv3", "ofa-pn", "sdv14-unet"):
        sp = get_space(name)
        torch.manual_seed(0)
        fe = FEMLP(sp.feature_categories)
        ref = fe.table()
        d = torch.randn(ref.shape)
        (ref * d).sum().backward()
        table, vjp = fe.table_and_vjp()
        assert not table.requires_grad
        torch.testing.assert_close(table, ref.detach(), rtol=1e-6, atol=1e-7)
        grads = vjp(d)
        params = list(fe.parameters())
        assert len(grads) == len(params)
        for g, p in zip(grads, params):
            assert g.shape == p.shape
            torch.testing.assert_close(g, p.grad, rtol=0, atol=1e-6)


def test_export_skips_the_onnxscript_pass_only_where_it_does_nothing(tmp_path, monkeypatch):
    """The TorchScript export without torch's onnxscript-function pass (which imports onnx) is the
    same file byte for byte, and the wire-format check finds custom-domain nodes, also inside a
    node's subgraph, where the pass must still run."""
    import onnx
    from onnx import helper

    from autobuild.models import onnx_export as ox

    sp = get_space("ofa-pn")
    torch.manual_seed(0)
    model = GATv2Network(sp.feature_categories).eval()
    example = sp.graphs(sp.sample_codes(4, seed=0))
    ox._torch_export(model, example, str(tmp_path / "fast.onnx"), "torchscript")
    monkeypatch.setattr(ox, "_onnxscript_functions_only_where_used", contextlib.nullcontext)
    ox._torch_export(model, example, str(tmp_path / "full.onnx"), "torchscript")
    fast = (tmp_path / "fast.onnx").read_bytes()
    assert fast == (tmp_path / "full.onnx").read_bytes() and not ox.has_custom_domain(fast)

    def model_of(nodes):
        graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("a", onnx.TensorProto.FLOAT, [1])],
                                  [helper.make_tensor_value_info("b", onnx.TensorProto.FLOAT, [1])])
        return helper.make_model(graph).SerializeToString()

    plain = helper.make_node("Relu", ["a"], ["b"])
    custom = helper.make_node("MyOp", ["a"], ["b"], domain="com.example")
    sub = helper.make_graph([custom], "sub", [], [helper.make_tensor_value_info("b", onnx.TensorProto.FLOAT, [1])])
    branch = helper.make_node("If", ["a"], ["b"], then_branch=sub, else_branch=sub)
    assert not ox.has_custom_domain(model_of([plain]))
    assert ox.has_custom_domain(model_of([plain, custom])) and ox.has_custom_domain(model_of([branch]))
    with pytest.raises(ValueError, match="protobuf"):
        ox.has_custom_domain(fast[: len(fast) // 2])
