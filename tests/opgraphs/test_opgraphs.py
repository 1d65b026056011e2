"""ONNX op graphs (the paper's IR format): conversion of models users bring (torchvision), of OFA
subnets (checked against exact MACs), the onnx-ir space, the opgraphs / train / subgraphs path."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from autobuild.cli import cli
from autobuild.errors import AutobuildError
from autobuild.spaces import get_space
from autobuild.spaces.opgraph import OPS, size_bins

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnx_ir")

from autobuild.opgraphs import op_graph, rooted_subgraph  # noqa: E402


def _onnx(net, shape, fold: bool = True) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (torch.randn(*shape),), buf, dynamo=False, opset_version=17,
                          do_constant_folding=fold)
    return buf.getvalue()


@pytest.fixture(scope="module")
def tv_models(tmp_path_factory):
    tv = pytest.importorskip("torchvision")
    d = tmp_path_factory.mktemp("tv")
    out = {}
    for name in ("resnet18", "mobilenet_v3_small"):
        torch.manual_seed(0)
        net = getattr(tv.models, name)()
        (d / f"{name}.onnx").write_bytes(_onnx(net, (1, 3, 224, 224)))
        out[name] = (net, d / f"{name}.onnx")
    return out


def _count(net, cls) -> int:
    return sum(isinstance(m, cls) for m in net.modules())


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_torchvision_models_convert_op_for_op(tv_models, name):
    net, path = tv_models[name]
    g = op_graph(path)
    ops = g["ops"]
    assert ops.count("Conv") == _count(net, torch.nn.Conv2d)  # BN folded into Conv by the exporter
    assert ops.count("Gemm") == _count(net, torch.nn.Linear)
    assert "Constant" not in ops and "Identity" not in ops
    assert all(u < v for u, v in g["edges"])  # topological order
    assert len(g["attrs"]) == len(ops) == len(g["names"])
    c_in, hw_in, c_out, hw_out, k, s, dil, grp, bias = g["attrs"][0]
    first = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    assert (c_in, hw_in, c_out, hw_out) == (3, 224, first.out_channels, 112)
    assert (k, s, dil, grp) == (first.kernel_size[0], 2, 1, 1) and bias == 2
    # Residual adds read two tensors made by ops of the graph.
    preds = {v: [u for u, w in g["edges"] if w == v] for v in range(len(ops))}
    assert all(len(preds[v]) == 2 for v, op in enumerate(ops) if op == "Add" and name == "resnet18")
    if name == "mobilenet_v3_small":
        x = get_space("onnx-ir").node_features(g)
        depthwise = sum(1 for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.groups > 1)
        assert int(np.sum(x[:, 8] == 2)) == depthwise
        assert ops.count("HardSwish") > 0 and ops.count("HardSigmoid") > 0


def test_constant_folding_removes_shape_arithmetic():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3)
            self.fc = torch.nn.Linear(8 * 6 * 6, 4)

        def forward(self, x):
            y = self.conv(x)
            return self.fc(y.reshape(y.shape[0], -1))

    data = _onnx(Net(), (1, 3, 8, 8), fold=False)  # the exporter's own folding off
    folded, raw = op_graph(data), op_graph(data, fold=False)
    assert folded["ops"] == ["Conv", "Reshape", "Gemm"]
    assert len(raw["ops"]) > len(folded["ops"]) and "Concat" in raw["ops"]
    assert folded["attrs"][1][:4] == [8, 6, 288, 0]  # [1, 8, 6, 6] -> [1, 288]


def test_rooted_subgraph_is_the_ancestors_within_m_hops():
    edges = [[0, 1], [1, 2], [0, 3], [2, 3], [3, 4]]  # a residual: 0 -> 1 -> 2 -> 3 <- 0
    assert rooted_subgraph(edges, 5, 4, 0) == {4: 0}
    assert rooted_subgraph(edges, 5, 4, 1) == {4: 0, 3: 1}
    assert rooted_subgraph(edges, 5, 4, 2) == {4: 0, 3: 1, 2: 2, 0: 2}
    assert set(rooted_subgraph(edges, 5, 4, 9)) == {0, 1, 2, 3, 4}
    with pytest.raises(AutobuildError):
        rooted_subgraph(edges, 5, 7, 1)


def test_size_bins_are_quarter_octaves():
    b = size_bins(np.array([0, 1, 2, 136, 408, 544, 816, 10**9]))
    assert b.tolist()[:2] == [0, 1] and b[2] == 5
    assert len(set(b[3:7].tolist())) == 4  # c_in 136 and its expansions e = 3, 4, 6 stay apart
    assert b[-1] == 81  # clipped


def test_onnx_ir_space_validates_with_one_line_errors():
    sp = get_space("onnx-ir")
    good = {"ops": ["Conv", "Relu", "Weird"], "attrs": [[3, 8, 4, 8, 3, 1, 1, 1, 2], [4, 8, 4, 8, 0, 0, 0, 0, 0],
                                                     [4, 8, 4, 8, 0, 0, 0, 0, 0]], "edges": [[0, 1], [1, 2]]}
    codes = sp.encode([good, good])
    assert codes.tolist() == [[0], [1]]
    g = sp.graphs(codes)
    assert g.num_graphs == 2 and g.x.shape == (6, 10) and g.edge_index.tolist() == [[0, 1, 3, 4], [1, 2, 4, 5]]
    assert g.x[2, 0] == len(OPS)  # an op type outside the list reads as "other"
    for bad, msg in [
        ({**good, "edges": [[1, 0]]}, "topological"),
        ({**good, "edges": [[0, 3]]}, "topological"),
        ({**good, "attrs": good["attrs"][:2]}, "one row per op"),
        ({**good, "attrs": [[3, 8, 4, 8, 3, 1, 1, 1]] * 3}, "9 non-negative integers"),
        ({**good, "attrs": [[-1] * 9] * 3}, "9 non-negative integers"),
        ({**good, "ops": []}, "non-empty list"),
        ({**good, "extra": 1}, "unexpected key"),
        ([1, 2], "op graph object"),
    ]:
        with pytest.raises(AutobuildError, match=msg):
            sp.validate(bad)
    with pytest.raises(AutobuildError, match="no module groups"):
        sp.enumerate_modules(0)
    with pytest.raises(AutobuildError, match="rows of graphs"):
        sp.graphs(np.array([[5]]))


def test_hostile_onnx_inputs(tmp_path, monkeypatch):
    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"\x00garbage" * 10)
    with pytest.raises(AutobuildError, match="not an ONNX model"):
        op_graph(bad)
    with pytest.raises(AutobuildError, match="no such file|not a regular file|not found"):
        op_graph(tmp_path / "missing.onnx")
    from autobuild import limits

    data = _onnx(torch.nn.Sequential(*[torch.nn.ReLU() for _ in range(5)]), (1, 4))
    monkeypatch.setattr(limits, "MAX_OP_NODES", 3)
    with pytest.raises(AutobuildError, match="more than 3 op nodes"):
        op_graph(data)


def test_ofa_op_graphs_carry_the_exact_macs():
    """Conv / Gemm shapes read from the ONNX graph give the analytic MAC count of the arch."""
    pytest.importorskip("ofa")
    from autobuild.networks.ofa_counts import count_arch
    from autobuild.opgraphs.dataset import ofa_op_graph

    for name in ("ofa-mbv3", "ofa-pn"):
        sp = get_space(name)
        for arch in sp.decode(sp.sample_codes(2, seed=3)):
            g = ofa_op_graph(sp, arch)
            macs = 0
            for op, (c_in, _, c_out, hw_out, k, _, _, grp, _) in zip(g["ops"], g["attrs"]):
                if op == "Conv":
                    macs += c_in // grp * k * k * c_out * hw_out * hw_out
                elif op == "Gemm":
                    macs += c_in * c_out
            assert macs == count_arch(name, arch)[0]
            assert json.loads(g["source"]) == sp.validate(arch)
            if name == "ofa-mbv3":  # h-swish and squeeze-excite: ops PN does not have
                assert "Div" in g["ops"] and "ReduceMean" in g["ops"]


@pytest.mark.heavy
def test_opgraphs_train_subgraphs_end_to_end(tmp_path, tv_models):
    pytest.importorskip("ofa")
    r = CliRunner()
    files = []
    for name in ("ofa-mbv3", "ofa-pn"):
        out = tmp_path / f"{name}.jsonl"
        res = r.invoke(cli, ["opgraphs", "--space", name, "--data", f"builtin:{name}", "--limit", "4", "--out",
                             str(out)], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        assert "4 op graphs" in res.output and not (tmp_path / f"{name}.jsonl.partial").exists()
        files.append(out)
    both = tmp_path / "both.jsonl"
    both.write_text("".join(f.read_text() for f in files))
    rec = json.loads(files[0].read_text().splitlines()[0])
    assert set(rec) == {"arch", "acc", "latency_gpu", "latency_cpu"}
    model = tmp_path / "ir"
    res = r.invoke(cli, ["train", "--space", "onnx-ir", "--data", str(both), "--target", "acc", "--epochs", "3",
                         "--out", str(model), "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    info = r.invoke(cli, ["info", str(model)], catch_exceptions=False).output
    assert "space: onnx-ir" in info
    op_line = next(line for line in info.splitlines() if line.strip().startswith("op "))
    assert "Conv:" in op_line and "Div:" in op_line and "LSTM" not in op_line  # only ops seen in training
    pred = r.invoke(cli, ["predict", str(model), "--data", str(both), "--out", str(tmp_path / "p.csv"), "--quiet"],
                    catch_exceptions=False)
    assert pred.exit_code == 0, pred.output
    # Op subgraphs of a model the predictor never saw.
    _, onnx_path = tv_models["mobilenet_v3_small"]
    res = r.invoke(cli, ["subgraphs", str(model), str(onnx_path), "--hop", "0", "--hop", "4", "--top", "3", "--out",
                         str(tmp_path / "top.csv"), "--plot", str(tmp_path / "top.png"), "--quiet"],
                   catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rows = (tmp_path / "top.csv").read_text().splitlines()
    assert rows[0] == "hop,rank,root,op,name,norm,z,size,nodes" and len(rows) == 7
    assert (tmp_path / "top.png").stat().st_size > 10_000
    last = rows[-1].split(",")
    assert last[0] == "4" and last[1] == "3"
    z = [float(x.split(",")[6]) for x in rows[4:]]
    assert z == sorted(z, reverse=True)
    res = r.invoke(cli, ["subgraphs", str(model) + "-missing", str(onnx_path)])
    assert res.exit_code == 2


def test_subgraphs_refuses_a_sequence_graph_model(model_dir, tv_models):
    res = CliRunner().invoke(cli, ["subgraphs", str(model_dir), str(tv_models["resnet18"][1])])
    assert res.exit_code == 2 and "space 'ofa-mbv3'" in res.output and "Traceback" not in res.output


def test_opgraphs_resumes_and_refuses(tmp_path, tv_models):
    r = CliRunner()
    (_, a), (_, b) = tv_models["resnet18"], tv_models["mobilenet_v3_small"]
    labels = tmp_path / "labels.csv"
    labels.write_text(f"model,acc\n{a}, 0.69\n{b},0.67\n")
    out = tmp_path / "g.jsonl"
    part = tmp_path / "g.jsonl.partial"
    # An interrupted run: one good row and a torn one.
    good = json.dumps({"arch": {**op_graph(a), "source": str(a)}, "acc": 0.69})
    part.write_text(good + "\n" + good[:50])
    res = r.invoke(cli, ["opgraphs", "--labels", str(labels), "--out", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "2 op graphs (1 from an interrupted run)" in res.output
    lines = out.read_text().splitlines()
    assert [json.loads(x)["acc"] for x in lines] == [0.69, 0.67]
    res = r.invoke(cli, ["opgraphs", str(a), "--out", str(out)])
    assert res.exit_code == 2 and "exists" in res.output and len(out.read_text().splitlines()) == 2
    bad = tmp_path / "bad.csv"
    bad.write_text(f"model,acc\n{a},high\n")
    res = r.invoke(cli, ["opgraphs", "--labels", str(bad), "--out", str(tmp_path / "h.jsonl")])
    assert res.exit_code == 2 and "row 1: column 'acc'" in res.output
    res = r.invoke(cli, ["opgraphs", str(a), "--out", str(tmp_path / "h.csv")])
    assert res.exit_code == 2 and "JSONL" in res.output
