"""The Predictor estimator (scikit-learn style) and the public API of ``import autobuild``."""

from __future__ import annotations

import numpy as np
import pytest

import autobuild
from autobuild import AutobuildError, Predictor


def test_public_api_resolves():
    import inspect

    classes = {"Predictor", "BuildResult", "Search", "SearchResult", "SearchSpace", "Module", "TargetEquation",
               "AutobuildError"}
    for name in autobuild.__all__:
        if name == "__version__":
            assert autobuild.__version__.count(".") == 2
            continue
        obj = getattr(autobuild, name)
        assert (inspect.isclass(obj) if name in classes else inspect.isfunction(obj)), name
        assert obj.__name__ == name and obj.__module__.startswith("autobuild."), (name, obj.__module__)
    assert set(autobuild.__all__) == classes | {"__version__", "build", "count", "get_space", "read_labelled",
                                                "read_scores", "write_scores", "load_reduced"}
    with pytest.raises(AttributeError):
        autobuild.nothing_here  # noqa: B018


def test_fit_predict_save_load(small_data, tmp_path):
    p = Predictor("ofa-mbv3", target="acc", epochs=2, seed=1).fit(small_data)
    assert "srcc_hop" in p.report["test"] and p.report["n_train"] > 0
    archs = autobuild.get_space("ofa-mbv3").sample(20, seed=3)
    onnx_pred, norms = p.predict(archs, return_norms=True)  # exported on first use (runtime="onnx")
    assert onnx_pred.shape == (20,) and norms.shape == (20, 5)
    p.runtime = "torch"
    np.testing.assert_allclose(p.predict(archs), onnx_pred, atol=1e-4)
    p.save(tmp_path / "m")
    with pytest.raises(AutobuildError, match="--overwrite|already exists"):
        p.save(tmp_path / "m")
    q = Predictor.load(tmp_path / "m")
    np.testing.assert_allclose(q.predict(archs), onnx_pred, atol=1e-6)
    assert q.kind == "autobuild" and str(q.target) == "acc" and q.hyper["epochs"] == 2
    with pytest.raises(AutobuildError):
        q.predict([{"d": [1]}])


def test_kinds_and_checks(small_data):
    k = Predictor("ofa-mbv3", target="latency_gpu", kind="kgnn", epochs=2).fit(small_data)
    assert k.kind == "kgnn" and "mape" in k.report["test"]
    with pytest.raises(AutobuildError, match="unknown model kind"):
        Predictor("ofa-mbv3", kind="transformer")
    with pytest.raises(AutobuildError, match="no hyper-parameter 'fe_grad_scale'"):
        Predictor("ofa-mbv3", kind="kgnn", fe_grad_scale=1.0)
    with pytest.raises(AutobuildError, match="epochs must be >= 1"):
        Predictor("ofa-mbv3", epochs=0)
    with pytest.raises(AutobuildError, match="runtime"):
        Predictor("ofa-mbv3", runtime="tpu")
    with pytest.raises(AutobuildError, match="not fitted"):
        Predictor("ofa-mbv3").predict([])
    archs = autobuild.get_space("ofa-mbv3").sample(30, seed=5)
    p = Predictor("ofa-mbv3", epochs=1, runtime="torch").fit(archs, y=np.linspace(0, 1, 30))
    assert p.predict(archs[:3]).shape == (3,)


def test_graph_batches_carry_any_dag(model_dir):
    """A batch built from explicit graphs equals the core's chain encoding, and a DAG runs through
    the same model (the path ONNX op graphs take)."""
    import torch

    from autobuild.spaces.graph_batch import GraphBatch
    from autobuild.models.artifact import load_model

    art = load_model(model_dir)
    sp = art.space
    g = sp.graphs(sp.encode(sp.sample(3, seed=4)))
    parts = []
    for i in range(g.num_graphs):
        lo, hi = int(g.ptr[i]), int(g.ptr[i + 1])
        m = (g.edge_index[0] >= lo) & (g.edge_index[0] < hi)
        parts.append((g.x[lo:hi], g.edge_index[:, m] - lo))
    h = GraphBatch.from_graphs(parts)
    for a, b in zip(g.torch(), h.torch()):
        assert torch.equal(a, b)
    model = art.torch_model()
    x = g.x[: int(g.ptr[1])]
    n = len(x)
    dag = np.array([[0, 0, 1, 2], [1, 2, 3, 3]]) if n >= 4 else np.array([[0], [1]])  # a diamond
    with torch.no_grad():
        pred, node_norms, graph_norms = model(*GraphBatch.from_graphs([(x, dag), (x, dag)]).torch())
    assert pred.shape == (2,) and torch.equal(pred[0], pred[1]) and torch.isfinite(node_norms).all()
    with pytest.raises(AutobuildError, match="outside"):
        GraphBatch.from_graphs([(x, np.array([[0], [n]]))])


def test_ensembles_save_load_resume_and_refuse_what_they_must(tmp_path):
    """An ensemble fitted in memory saves to a directory that loads back and resumes; saving onto
    itself keeps it; another ensemble is not written over it without ``overwrite``; a resume on
    other data (same source, other labels) is refused; members of unequal depth share their hops."""
    sp = autobuild.get_space("ofa-mbv3")
    archs = sp.sample(120, seed=0)
    y = np.linspace(0, 1, 120)
    e = Predictor(sp, "q", epochs=1).fit(archs, y=y, folds=2)
    e.save(tmp_path / "e")
    q = Predictor.load(tmp_path / "e")
    np.testing.assert_allclose(q.predict(archs[:5]), e.predict(archs[:5]), atol=1e-5)
    assert {k: q.hyper.get(k) for k in ("fold", "folds", "split_seed")} == {"fold": None, "folds": None,
                                                                             "split_seed": None}
    q.save(tmp_path / "e", overwrite=True)  # onto its own directory: every weight read first
    np.testing.assert_allclose(Predictor.load(tmp_path / "e").predict(archs[:5]), e.predict(archs[:5]), atol=1e-5)
    with pytest.raises(AutobuildError, match="exists; pass overwrite=True"):
        e.save(tmp_path / "e")
    states, members = [], []
    Predictor(sp, "q", epochs=1).fit(archs, y=y, folds=2, out=tmp_path / "e", on_start=states.append,
                                     on_member=lambda i, n, name, s: members.append(s))
    assert states == ["resume"] and members == ["kept", "kept"]
    with pytest.raises(AutobuildError, match="other settings"):  # the same archs, other labels: other data
        Predictor(sp, "q", epochs=1).fit(archs, y=-y, folds=2, out=tmp_path / "e")
    Predictor(sp, "q", epochs=1, layers=3).fit(archs, y=y, out=tmp_path / "l3")
    mixed = Predictor.load([tmp_path / "l3", tmp_path / "e"])  # members of other depths: their common hops
    pred, norms = mixed.predict(archs[:4], return_norms=True)
    assert pred.shape == (4,) and norms.shape == (4, 4) and len(mixed.report["test"]["srcc_hop"]) == 4


def test_an_ensemble_written_before_data_digests_resumes(tmp_path):
    """An ensemble directory whose settings hold no data digest (autobuild 0.5) is resumed, not refused."""
    import json

    from autobuild.manifest import seal

    sp = autobuild.get_space("ofa-mbv3")
    archs = sp.sample(80, seed=2)
    y = np.linspace(0, 1, 80)
    Predictor(sp, "q", epochs=1).fit(archs, y=y, folds=2, out=tmp_path / "e")
    mp = tmp_path / "e" / "ensemble.json"
    m = json.loads(mp.read_text())
    m.pop("seal", None)
    del m["settings"]["data"]["sha256"]
    mp.write_text(json.dumps(seal(m), indent=1) + "\n")
    states = []
    Predictor(sp, "q", epochs=1).fit(archs, y=y, folds=2, out=tmp_path / "e", on_start=states.append)
    assert states == ["resume"]


def test_a_model_replaces_an_ensemble_only_when_asked(tmp_path):
    sp = autobuild.get_space("ofa-mbv3")
    archs = sp.sample(80, seed=3)
    y = np.linspace(0, 1, 80)
    Predictor(sp, "q", epochs=1).fit(archs, y=y, folds=2, out=tmp_path / "d")
    p = Predictor(sp, "q", epochs=1).fit(archs, y=y)
    with pytest.raises(AutobuildError, match="already exists"):
        p.save(tmp_path / "d")
    p.save(tmp_path / "d", overwrite=True)
    assert not Predictor.load(tmp_path / "d").is_ensemble
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(AutobuildError, match="not an autobuild output directory"):
        p.save(tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "mine"
