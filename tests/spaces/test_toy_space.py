"""A space that is not a MacroSpace goes through sample, train, score, build and search through the
public API, written against the protocol alone (``tests/toy_space.py``): nothing else knows it."""

from __future__ import annotations

import numpy as np

import autobuild
from autobuild import Predictor, Search, build
from autobuild.spaces.registry import register_space_type

from toy_space import WIDTHS, ToySpace


def test_toy_space_end_to_end(tmp_path):
    register_space_type("toy-blocks", "toy_space:from_dict")  # so saved models of it load back
    sp = ToySpace()
    archs = sp.sample(300, seed=1)
    assert len({str(a) for a in archs}) == 300 and all(sp.validate(a) == a for a in archs)
    # the target: wide blocks in group 2 pay, many blocks in group 1 cost
    y = np.array([sum(a["blocks"][1]) / 32 - len(a["blocks"][0]) for a in archs], dtype=np.float64)
    p = Predictor(sp, target="y", epochs=120, seed=0).fit(archs, y=y)
    assert p.report["test"]["srcc_pred"] > 0.8
    p.save(tmp_path / "toy")
    q = Predictor.load(tmp_path / "toy")
    np.testing.assert_allclose(q.predict(archs[:20]), p.predict(archs[:20]), atol=1e-5)
    scores = q.score()
    assert len(scores) == sp.n_groups * sp.module_count(0)
    b = build(scores, k=2)
    assert len(b) == 2 ** sp.n_groups and b.archs() and all(sp.validate(a) for a in b.archs())
    best = b.archs()[0]["blocks"]
    assert max(best[1]) == max(WIDTHS) and len(best[0]) == 1  # what the target rewards
    with Search(sp, "y:max", q, journal=tmp_path / "toy.db", initial=10, per_iteration=10, seed=0) as s:
        res = s.run(30, executor="inline")
    assert len(res) == 30 and len(res.front) >= 1
    with Search.resume(tmp_path / "toy.db", evaluator=q) as s:  # a journal of a Python evaluator resumes from Python
        again = s.run(executor="inline")
    assert again.evaluated_now == 0 and again.reused == 30
    np.testing.assert_array_equal(again.codes[again.front], res.codes[res.front])
    assert autobuild.get_space(sp) is sp
