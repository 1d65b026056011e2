"""Module scoring (Eq. 5, Sec. 4.2), ensembles (Sec. 5.3) and building from modules (Sec. 5.1, 7.2, 7.9)."""

from __future__ import annotations

import csv
import itertools
import json

import numpy as np
import pytest
from click.testing import CliRunner

from autobuild import AutobuildError
from autobuild.construction import kbest_product, load_reduced, select_modules, unite
from autobuild.cli import cli
from autobuild.data import TargetEquation, builtin_data_path, read_labelled
from autobuild.models.artifact import load_model, save_result
from autobuild.models.inference import OnnxSession
from autobuild.models.trainer import TrainConfig, train_predictor
from autobuild.scoring import read_scores, score_modules, write_scores
from autobuild.spaces import get_space


def _train(tmp_path_factory, name: str, target: str, seed: int = 0, n: int = 400):
    sp = get_space(name)
    t = read_labelled(builtin_data_path(name), validate=sp.validate)
    eq = TargetEquation(target)
    res = train_predictor(sp, sp.encode(t.archs[:n]), eq.evaluate(t.metrics)[:n], TrainConfig(epochs=2, seed=seed, lr=1e-3))
    return load_model(save_result(tmp_path_factory.mktemp("m") / f"{name}-{seed}", res, sp, eq, {"source": "test", "n": n}))


@pytest.fixture(scope="module")
def mb(tmp_path_factory):
    return _train(tmp_path_factory, "ofa-mbv3", "acc*100/latency_gpu")


@pytest.fixture(scope="module")
def pn(tmp_path_factory):
    return _train(tmp_path_factory, "ofa-pn", "acc")


@pytest.fixture(scope="module")
def mb_scores(mb):
    return score_modules([mb])


def test_module_sets_and_merged_group():
    sp = get_space("ofa-pn")
    sizes = [len(sp.enumerate_modules(g)) for g in range(sp.n_groups)]
    assert sizes == [7371] * 4 + [66339] == [sp.module_count(g) for g in range(sp.n_groups)]
    mods = sp.enumerate_modules(4)
    assert sp.group_label(4) == "5+6" and sp.group_depths(4) == (3, 5)
    rows = np.array([0, 800, 66338])
    codes = sp.empty_codes(len(rows), [2])
    sp.place_modules(codes, 4, mods.depths[rows], mods.choices[rows])
    for r, code in zip(rows, codes):
        d = int(mods.depths[r])
        assert code[4] == d - 1 and code[5] == 1 and code[:4].tolist() == [0, 0, 0, 0]
        assert sp.module_depths(code[None], 4).tolist() == [d]
        layers = sp.module_layers(4, mods[int(r)])
        assert len(layers) == d and set(layers[0]) == {"k", "e"}
        mod = sp.parse_module(4, layers)
        assert mod == mods[int(r)] and list(mod.choices) == mods.choices[r, :d].tolist()
    texts = sp.module_texts(4, mods.depths[rows], mods.choices[rows])
    assert [json.loads(t) for t in texts] == [sp.module_layers(4, mods[int(r)]) for r in rows]
    x = sp.graphs(codes).x
    assert x[-1, 0] == 5 and x[-1, 1] == 0  # the merged group's last layer is stage 6, layer 1
    with pytest.raises(AutobuildError, match="is not a layer choice"):
        sp.parse_module(0, [{"k": 4, "e": 3}, {"k": 3, "e": 3}])
    with pytest.raises(AutobuildError, match="list of 2..4 layers"):
        sp.parse_module(0, [{"k": 3, "e": 3}])


def test_raw_norm_is_the_stage_embedding_inside_a_full_arch(mb, mb_scores):
    """Placing a module at its stage gives exactly the hop-(l-1) norm of the stage's last node in any
    architecture that contains it (directed chain edges: the receptive field is the stage)."""
    sp = mb.space
    sess = OnnxSession(mb.onnx_path)
    arch = sp.sample(1, seed=5)[0]
    code = sp.encode([arch])
    g = sp.graphs(code)
    _, node_norms, _ = sess.run(g.onnx_feed())
    end = 0
    for u in range(5):
        d = arch["d"][u]
        end += d
        layers = [{"k": arch["ks"][4 * u + j], "e": arch["e"][4 * u + j]} for j in range(d)]
        mod = sp.parse_module(u, layers)
        rows = mb_scores.group_rows(u)
        hit = rows[[mb_scores.module(int(r)) == mod for r in rows]]
        assert len(hit) == 1
        want = node_norms[end - 1, d - 1]
        if arch["r"] == mb_scores.globals["r"]:
            assert mb_scores.raw_norm[hit[0]] == pytest.approx(want, rel=1e-4)


def test_eq5_calibration(mb, mb_scores):
    rep = mb.report
    hm = {h["hop"]: (h["mean"], h["std"]) for h in rep["hop_moments"]}
    cells = {(c["group"], c["depth"]): (c["mean"], c["std"]) for c in rep["label_moments"]}
    assert len(mb_scores) == 36855 and set(mb_scores.calibration) == {"eq5"}
    for i in (0, 100, 5000, 36854):
        g, d = int(mb_scores.group[i]), int(mb_scores.depth[i])
        mu, sd = hm[d - 1]
        cm, cs = cells[(g, d)]
        assert mb_scores.hop[i] == d - 1
        assert mb_scores.score[i] == pytest.approx((mb_scores.raw_norm[i] - mu) * cs / sd + cm, rel=1e-9)


def test_fallback_to_standard_normal(mb):
    s = score_modules([mb], min_count=10_000)
    assert set(s.calibration) == {"N(0,1)"}
    assert len(s.notes) == 5 and "N(0,1)" in s.notes[0] and "(< 10000)" in s.notes[0]
    assert abs(float(np.mean(s.score))) < 5


def test_backends_give_identical_scores(mb, monkeypatch):
    from autobuild import core

    if len(core.available_backends()) < 2:
        pytest.skip("needs both backends")
    out = []
    for b in ("cpp", "numba"):
        monkeypatch.setenv("AUTOBUILD_BACKEND", b)
        out.append(score_modules([mb], {"r": 224}))
    np.testing.assert_array_equal(out[0].choices, out[1].choices)
    np.testing.assert_array_equal(out[0].depth, out[1].depth)
    np.testing.assert_allclose(out[0].score, out[1].score, rtol=1e-12)


@pytest.mark.heavy
def test_ensemble_weights(tmp_path_factory, mb):
    other = _train(tmp_path_factory, "ofa-mbv3", "acc*100/latency_gpu", seed=1)
    a, b = score_modules([mb], {"r": 208}), score_modules([other], {"r": 208})
    e = score_modules([mb, other], {"r": 208})
    wa = np.clip(np.asarray(mb.report["test"]["srcc_hop"])[a.hop], 1e-12, None)
    wb = np.clip(np.asarray(other.report["test"]["srcc_hop"])[b.hop], 1e-12, None)
    np.testing.assert_allclose(e.score, (wa * a.score + wb * b.score) / (wa + wb), rtol=1e-9)
    with pytest.raises(AutobuildError, match="differs from"):
        score_modules([mb, _train(tmp_path_factory, "ofa-mbv3", "acc", n=300)])


def test_default_resolution_is_fe_mlp_favourite(mb, mb_scores):
    imp = mb.report["fe_importance"]["r"]
    assert mb_scores.globals["r"] == imp["values"][int(np.argmax(imp["score"]))]
    with pytest.raises(AutobuildError, match="not one of"):
        score_modules([mb], {"r": 200})
    with pytest.raises(AutobuildError, match="unknown global feature"):
        score_modules([mb], {"res": 200})


def test_scores_csv_roundtrip(mb_scores, tmp_path):
    p = tmp_path / "s.csv"
    write_scores(p, mb_scores)
    r = read_scores(p)
    np.testing.assert_array_equal(r.choices, mb_scores.choices)
    np.testing.assert_array_equal(r.score, mb_scores.score)
    assert r.globals == mb_scores.globals and r.target == mb_scores.target
    rows = list(csv.reader(open(p)))
    assert rows[0][:10] == ["stage", "depth", "module", "raw_norm", "hop", "score", "calibration", "srcc", "spread", "model"]
    rows[5][2] = '[{"k": 9, "e": 3}, {"k": 3, "e": 3}]'
    bad = tmp_path / "bad.csv"
    with open(bad, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(AutobuildError, match=r"bad.csv: row 5: stage 1: layer 1 .* is not a layer choice"):
        read_scores(bad)


def test_selection(mb_scores):
    sel = select_modules(mb_scores, 3)
    for g, rows in sel.items():
        best = np.sort(mb_scores.score[mb_scores.group == g])[::-1][:3]
        np.testing.assert_allclose(mb_scores.score[rows], best)
    con = select_modules(mb_scores, 5, constrained=True)
    for g, rows in con.items():
        assert sorted(mb_scores.depth[rows].tolist()) == [2, 3, 3, 4, 4]  # Sec. 7.9: remainder to larger sizes


def test_kbest_is_exact():
    rng = np.random.default_rng(3)
    lists = [rng.normal(size=n) for n in (4, 3, 5, 2)]
    everything = sorted(itertools.product(*(range(len(x)) for x in lists)),
                        key=lambda c: -sum(lists[j][i] for j, i in enumerate(c)))
    got = [c for c, _ in kbest_product(lists, 17)]
    want_totals = [sum(lists[j][i] for j, i in enumerate(c)) for c in everything[:17]]
    got_totals = [sum(lists[j][i] for j, i in enumerate(c)) for c in got]
    np.testing.assert_allclose(got_totals, want_totals)
    assert len(set(got)) == 17


def test_reduced_space_and_build(mb_scores, pn, tmp_path):
    rs = unite([(mb_scores, select_modules(mb_scores, 3))])
    assert rs.cardinality() == 243
    combos = rs.all_combos()
    archs = rs.space.decode(rs.codes(combos))
    assert len({json.dumps(a) for a in archs}) == 243
    assert all(rs.space.validate(a) == a for a in archs)
    assert all(a["r"] == mb_scores.globals["r"] for a in archs)
    top = rs.top_combos(10)
    np.testing.assert_allclose(rs.combo_scores(top), np.sort(rs.combo_scores(combos))[::-1][:10])
    rs.save(tmp_path / "r.json")
    back = load_reduced(tmp_path / "r.json")
    np.testing.assert_array_equal(back.codes(combos), rs.codes(combos))
    # PN: merged stages 5+6 build valid 6-stage archs.
    ps = score_modules([pn])
    prs = unite([(ps, select_modules(ps, 2))])
    for a in prs.space.decode(prs.codes(prs.all_combos())):
        assert prs.space.validate(a)["d"][5] == 1
    (tmp_path / "bad.json").write_text(json.dumps({**rs.to_dict(), "space_fingerprint": "0" * 16}))
    with pytest.raises(AutobuildError, match="fingerprint"):
        load_reduced(tmp_path / "bad.json")


def test_union_of_equations(mb_scores, tmp_path_factory):
    other = score_modules([_train(tmp_path_factory, "ofa-mbv3", "acc", n=300)], {"r": 224})
    rs = unite([(mb_scores, select_modules(mb_scores, 3)), (other, select_modules(other, 3))])
    assert all(3 <= n <= 6 for n in rs.sizes[:5])
    assert rs.globals["r"] == sorted({mb_scores.globals["r"], 224})
    assert rs.score_kind != "eq5"


@pytest.mark.heavy
def test_cli_score_build_sample(mb, tmp_path):
    run = lambda *a: CliRunner().invoke(cli, [str(x) for x in a], catch_exceptions=False)  # noqa: E731
    sc = tmp_path / "s.csv"
    res = run("score", mb.path, "--out", sc, "--resolution", 224)
    assert res.exit_code == 0, res.output
    assert "stage 1" in res.output.lower() or "1" in res.output
    res = run("build", sc, "--k", 3, "--out", tmp_path / "b.csv", "--reduced-out", tmp_path / "r.json")
    assert res.exit_code == 0 and "243" in res.stderr
    rows = list(csv.DictReader(open(tmp_path / "b.csv")))
    assert len(rows) == 243 and float(rows[0]["module_score_sum"]) >= float(rows[-1]["module_score_sum"])
    res = run("sample", "--reduced", tmp_path / "r.json", "--n", 10, "--out", tmp_path / "x.csv")
    assert res.exit_code == 0 and len(list(csv.DictReader(open(tmp_path / "x.csv")))) == 10
    res = run("build", sc, "--k", 30, "--out", tmp_path / "c.csv")
    assert res.exit_code == 2 and "use --top N" in res.stderr and not (tmp_path / "c.csv").exists()
    res = run("build", sc, "--k", 30, "--top", 5, "--out", tmp_path / "c.csv")
    assert res.exit_code == 0 and len(list(csv.DictReader(open(tmp_path / "c.csv")))) == 5
    res = run("score", mb.path, "--out", tmp_path / "t.csv", "--global", "q=1")
    assert res.exit_code == 2 and "unknown global feature" in res.stderr


def test_scores_carry_their_uncertainty_and_ties(mb_scores, tmp_path):
    """One model: the held-out MAE as each score's uncertainty; ties = modules within it of the best."""
    assert mb_scores.spread is not None and np.all(mb_scores.spread >= 0)
    for g in range(len(mb_scores.space.module_groups)):
        tied, margin = mb_scores.ties(g)
        rows = mb_scores.ranked(g)
        best = mb_scores.score[rows[0]]
        assert tied == int((mb_scores.score[rows] >= best - margin).sum()) >= 1
    p = tmp_path / "s.csv"
    write_scores(p, mb_scores)
    r = read_scores(p)
    np.testing.assert_allclose(r.spread, mb_scores.spread, rtol=1e-5)
    assert [r.ties(g) for g in range(5)][0][0] == mb_scores.ties(0)[0]


def test_codes_composition_counts_depths_and_choices():
    """The summary `search` and `sample --reduced` print: depths per stage and choice shares."""
    from autobuild.construction.summary import codes_composition
    from autobuild.spaces import get_space

    sp = get_space("ofa-mbv3")
    a = {"ks": [3, 3, 7, 7] + [5] * 16, "e": [6] * 20, "d": [2, 4, 4, 4, 4], "r": 224}
    b = {**a, "d": [4, 4, 4, 4, 4]}
    lines = codes_composition(sp, sp.encode([a, b]), "front")
    assert lines[0] == "front: 2 archs; per stage the depths and the share of each layer choice:"
    # stage 1: a has layers k3 k3 (depth 2), b has k3 k3 k7 k7 (depth 4): 4 of 6 layers are k3
    assert lines[1] == "  stage 1: depth 2 x1, 4 x1; k 3:67% 7:33%; e 6:100%"
    assert len(lines) == 1 + sp.n_groups
