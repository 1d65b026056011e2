"""The SD v1.4 U-Net spaces (issue 15 sec. 1): sizes, the arch format and its errors, sequence
graphs, modules and the constraints between them, and train -> score -> build on them."""

from __future__ import annotations

import csv
import itertools
import json

import numpy as np
import pytest
from click.testing import CliRunner

from autobuild.cli import cli
from autobuild.errors import AutobuildError
from autobuild.spaces import get_space, space_from_dict
from autobuild.spaces.module import ModuleSet
from autobuild.spaces.unet import UNetSpace

BASE = {"cm": 256, "mult": [1, 2, 3, 4], "res_in": [2, 2, 2, 2], "res_out": [3, 3, 3, 3],
        "attn_in": [0, 0, 1, 1], "attn_out": [0, 0, 1, 1]}


def test_sizes_are_the_papers():
    assert get_space("sdv14-unet").cardinality() == 3 * 4**3 * 2**8 * 2**4 == 786_432
    assert get_space("sdv14-unet-hw").cardinality() == 24 * 2**8 * 2**4 == 98_304
    out = CliRunner().invoke(cli, ["space", "sdv14-unet"]).output
    assert "786,432" in out and "in1: 6" in out and "out4: 48" in out


def test_arch_format_and_errors():
    sp = get_space("sdv14-unet")
    assert sp.decode(sp.encode([BASE]))[0] == BASE
    assert sp.validate({**BASE, "mult_out": [1, 2, 3, 4]}) == BASE
    for bad, msg in [
        ({**BASE, "attn_in": [0, 1, 1, 1]}, "stage 2: 1 is not allowed (stages 1 and 2 have no attention"),
        ({**BASE, "mult_out": [1, 2, 2, 4]}, "stage 3: output multiplier 2 differs from its input twin's 3"),
        ({**BASE, "mult": [2, 2, 3, 4]}, "mult: stage 1: 2 is not one of [1]"),
        ({**BASE, "cm": 320}, "cm: 320 is not one of [128, 192, 256]"),
        ({**BASE, "res_out": [3, 3, 1, 3]}, "res_out: stage 3: 1 blocks is not one of [2, 3]"),
        ({**BASE, "res_in": [2, 2, 2]}, "res_in must be a list of 4 integers"),
        ({k: v for k, v in BASE.items() if k != "attn_out"}, "missing key 'attn_out'"),
        ({"ks": [3], "e": [3], "d": [2]}, "looks like an OFA arch"),
    ]:
        with pytest.raises(AutobuildError, match=msg.replace("(", r"\(").replace("[", r"\[")):
            sp.validate(bad)
    with pytest.raises(AutobuildError, match="multipliers never|mult: stage 2: 3"):
        get_space("sdv14-unet-hw").validate({**BASE, "mult": [1, 3, 3, 4]})


def test_sequence_graph_of_the_baseline():
    sp = get_space("sdv14-unet")
    g = sp.to_graph(BASE)
    ops = [n["op"] for n in g["nodes"]]
    # in: 2 res + down, 2 res + down, (res attn) x 2 + down, (res attn) x 2; middle; out: (res attn) x 3 + up ...
    want = (["res", "res", "down"] * 2 + ["res", "attn"] * 2 + ["down"] + ["res", "attn"] * 2
            + ["res", "attn", "res"] + (["res", "attn"] * 3 + ["up"]) * 2 + ["res"] * 3 + ["up"] + ["res"] * 3)
    assert ops == want and len(ops) == 39
    assert [n["section"] for n in g["nodes"]].count("middle") == 3
    assert g["nodes"][0]["channels"] == 256 and g["nodes"][-1]["channels"] == 256
    assert {n["channels"] for n in g["nodes"] if n["stage"] == 4} == {1024}
    batch = sp.graphs(sp.encode([BASE, BASE]))
    assert batch.num_graphs == 2 and batch.edge_index.shape == (2, 76)
    assert sp.default_layers == 6 and sp.group_depths(4) == (3, 7)  # out4: (res attn) x 3 + up


def test_modules_place_and_round_trip():
    sp = get_space("sdv14-unet")
    assert [sp.module_count(g) for g in range(8)] == [6, 24, 48, 48, 48, 48, 24, 6]
    code = sp.encode([BASE])
    for g in range(8):
        ms = sp.enumerate_modules(g)
        assert len(ms) == sp.module_count(g)
        codes = sp.empty_codes(len(ms))
        sp.place_modules(codes, g, ms.depths, ms.choices)
        np.testing.assert_array_equal(sp.module_depths(codes, g), ms.depths)
        graphs = sp.graphs(codes)
        np.testing.assert_array_equal(np.diff(graphs.ptr), ms.depths)  # a module alone: its own nodes only
        for i in range(0, len(ms), 7):
            m = ms[i]
            assert sp.parse_module(g, sp.module_layers(g, m)) == m
        # The baseline's module of this group is among them.
        d = int(sp.module_depths(code, g)[0])
        assert d in set(ms.depths.tolist())
    with pytest.raises(AutobuildError, match="stage in3: blocks must be"):
        sp.parse_module(2, [{"op": "res", "cm": 256, "mult": 3}, {"op": "attn", "cm": 256, "mult": 3},
                            {"op": "res", "cm": 256, "mult": 3}, {"op": "down", "cm": 256, "mult": 3}])
    with pytest.raises(AutobuildError, match="one C_m and one multiplier"):
        sp.parse_module(1, [{"op": "res", "cm": 256, "mult": 2}, {"op": "down", "cm": 128, "mult": 2}])


def test_constraints_give_exactly_the_space():
    """Every compatible combination of modules is an arch, and they are all the archs."""
    sp = UNetSpace("tiny", cm=(8, 16), mult=((1,), (1, 2), (1, 2), (1,)), res_in=(1,), res_out=(2, 3),
                   attn_stages=(3,))
    sets = [sp.enumerate_modules(g) for g in range(8)]
    combos = np.array(list(itertools.product(*(range(len(s)) for s in sets))), dtype=np.int64)
    ok = combos[sp.compatible(sets, combos)]
    assert len(ok) == sp.cardinality()
    codes = sp.empty_codes(len(ok))
    for g, s in enumerate(sets):
        sp.place_modules(codes, g, s.depths[ok[:, g]], s.choices[ok[:, g]])
    archs = sp.decode(codes)
    assert len({json.dumps(a, sort_keys=True) for a in archs}) == sp.cardinality()
    for a in archs[::97]:
        assert sp.validate(a) == a
    # An incompatible combination cannot be placed into one arch.
    bad = sp.empty_codes(1)
    sp.place_modules(bad, 0, sets[0].depths[:1], sets[0].choices[:1])
    other_cm = int(np.flatnonzero(sets[1].choices[:, 0] // 4 // sp.n_mult != sets[0].choices[0, 0] // 4 // sp.n_mult)[0])
    with pytest.raises(AutobuildError, match="C_m"):
        sp.place_modules(bad, 1, sets[1].depths[other_cm:other_cm + 1], sets[1].choices[other_cm:other_cm + 1])
    assert space_from_dict(sp.to_dict()).fingerprint() == sp.fingerprint()


@pytest.mark.heavy
def test_train_score_build_on_a_unet_space(tmp_path):
    sp = get_space("sdv14-unet-hw")
    rng = np.random.default_rng(0)
    data = tmp_path / "u.csv"
    with open(data, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch", "q"])
        for a in sp.sample(120, seed=1):
            # A quality that likes wide, shallow output stages and attention at the input (synthetic).
            q = sum(m * (4 - r) for m, r in zip(a["mult"], a["res_out"])) + 2 * sum(a["attn_in"]) + rng.normal(0, 0.1)
            w.writerow([json.dumps(a), q])
    r = CliRunner()
    res = r.invoke(cli, ["train", "--space", "sdv14-unet-hw", "--data", str(data), "--target", "q", "--epochs", "20",
                         "--out", str(tmp_path / "m"), "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["hyperparameters"]["layers"] == 6
    res = r.invoke(cli, ["score", str(tmp_path / "m"), "--out", str(tmp_path / "s.csv"), "--quiet"],
                   catch_exceptions=False)
    assert res.exit_code == 0, res.output
    res = r.invoke(cli, ["build", str(tmp_path / "s.csv"), "--k", "16", "--top", "4", "--out", str(tmp_path / "b.csv"),
                         "--quiet"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    with open(tmp_path / "b.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    scores = [float(x["module_score_sum"]) for x in rows]
    assert scores == sorted(scores, reverse=True)
    for x in rows:
        sp.validate(json.loads(x["arch"]))  # one C_m, twins share the multiplier
    res = r.invoke(cli, ["build", str(tmp_path / "s.csv"), "--k", "1", "--out", str(tmp_path / "c.csv")])
    assert res.exit_code in (0, 2)
    if res.exit_code == 2:
        assert "constraints" in res.output and not (tmp_path / "c.csv").exists()
    res = r.invoke(cli, ["search", "--space", "sdv14-unet-hw", "--objectives", "q:max,b:min", "--evaluator",
                         "onnx:q=" + str(tmp_path / "m"), "--out", str(tmp_path / "f.csv")])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_moduleset_width_is_the_deepest_module():
    sp = get_space("sdv14-unet")
    assert sp.module_width == 7
    ms = sp.enumerate_modules(4)
    assert isinstance(ms, ModuleSet) and ms.choices.shape[1] == 7


def test_unet_scores_use_eq5_cells_of_the_depths_modules_have(tmp_path):
    """A U-Net stage has no module of some depths in its range (in3: 2, 3 or 5 nodes); Eq. 5 must
    not fall back to N(0,1) for the missing ones; and the Fig. 4 plot draws U-Net blocks."""
    from autobuild.scoring.scorer import _cell_moments

    report = {"label_moments": [{"group": 2, "depth": d, "n": 30, "mean": 1.0 * d, "std": 1.0} for d in (2, 3, 5)]}
    mean, std, reason = _cell_moments(report, 2, 2, 5, 20, needed=[2, 3, 5])
    assert reason is None and mean.tolist() == [2.0, 3.0, 0.0, 5.0]
    assert _cell_moments(report, 2, 2, 5, 20)[2] == "depth 4 has 0 training archs (< 20)"
    from autobuild.report.figures import layer_text

    assert layer_text({"op": "res", "cm": 256, "mult": 2}) == "res@256x2"


def test_compatible_next_is_compatible_on_partial_combinations():
    """The U-Net's direct answer for the next group equals ``compatible`` with -1 for what is not chosen."""
    import numpy as np

    from autobuild.spaces.base import SpaceBase

    sp = get_space("sdv14-unet")
    sets = [sp.enumerate_modules(g) for g in range(sp.n_groups)]
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(300):
        j = int(rng.integers(0, sp.n_groups))
        prefix = [int(rng.integers(0, len(sets[g]))) for g in range(j)]
        full = np.full((1, sp.n_groups), -1, dtype=np.int64)
        full[0, :j] = prefix
        if not sp.compatible(sets, full)[0]:
            continue  # the walk only extends prefixes that agree
        np.testing.assert_array_equal(sp.compatible_next(sets, prefix, j), SpaceBase.compatible_next(sp, sets, prefix, j))
        checked += 1
    assert checked > 20
