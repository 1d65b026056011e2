"""``autobuild.build``: the whole reduced space, or with ``top=N`` the N best combinations that the
space's constraints allow, exactly (checked against brute force), whatever ``k`` is."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import autobuild
from autobuild import AutobuildError, Predictor, build
from autobuild.construction.kbest import kbest_product, kbest_valid


def test_kbest_valid_is_exact_against_brute_force():
    rng = np.random.default_rng(0)
    for trial in range(30):
        sizes = rng.integers(1, 6, size=int(rng.integers(1, 5)))
        lists = [np.sort(rng.normal(size=n))[::-1] for n in sizes]
        lists[0][:2] = lists[0][0]  # ties
        colour = [rng.integers(0, 2, size=n) for n in sizes]  # allowed: every chosen colour equal

        def options(prefix: tuple[int, ...]) -> np.ndarray:
            j = len(prefix)
            c = colour[j]
            return np.flatnonzero(c == colour[0][prefix[0]]) if prefix else np.arange(len(c))

        every = [(p, sum(lst[i] for lst, i in zip(lists, p))) for p in itertools.product(*(range(n) for n in sizes))
                 if len({int(colour[g][i]) for g, i in enumerate(p)}) == 1]
        n = int(rng.integers(1, 12))
        got = kbest_valid(lists, n, options)
        want = sorted(every, key=lambda t: (-t[1], t[0]))[:n]
        assert [round(t, 9) for _, t in got] == [round(t, 9) for _, t in want], trial
        assert len(set(p for p, _ in got)) == len(got)
        if all(len(set(c)) == 1 for c in colour):  # no constraint: the same as the plain k-best walk
            assert [p for p, _ in got] == [p for p, _ in kbest_product(lists, n)]


@pytest.fixture(scope="module")
def unet_scores():
    sp = autobuild.get_space("sdv14-unet")
    archs = sp.sample(200, seed=0)
    y = np.random.default_rng(1).normal(size=200) + np.array([a["cm"] for a in archs]) / 100.0
    return Predictor(sp, target="q", epochs=3, seed=0).fit(archs, y=y).score()


def _brute_force(scores, k, constrained, n):
    """The n best valid combinations of the top-k selection, by enumerating all of them."""
    from autobuild.construction.select import select_modules, unite

    rs = unite([(scores, select_modules(scores, k, constrained))])
    every = rs.all_combos()
    order = np.lexsort((np.arange(len(every)), -rs.combo_scores(every)))
    return np.sort(rs.combo_scores(every[order][:n]))[::-1]


def test_top_n_on_a_constrained_space_whatever_k(unet_scores):
    s = unet_scores
    for k, constrained in ((5, True), (5, False), (1, False)):
        b = build(s, k=k, top=4, constrained=constrained)
        assert len(b) == 4 and all(s.space.validate(a) for a in b.archs())
        assert np.all(np.diff(b.module_score_sum) <= 1e-12)
        assert b.k >= k and (b.k == k) == (not b.notes or "raised" not in b.notes[0])
        if b.k <= 6:  # small enough to enumerate: exactly the 4 best valid combinations
            np.testing.assert_allclose(b.module_score_sum, _brute_force(s, b.k, constrained, 4))
        if b.k > k:  # k raised to the smallest that holds 4 valid combinations
            from autobuild.construction.select import select_modules, unite

            fewer = unite([(s, select_modules(s, b.k - 1, constrained))]).top_combos(4)
            assert len(fewer) < 4 and "raised to" in b.notes[0]
    with pytest.raises(AutobuildError, match="--top N"):
        build(s, k=1)  # the whole top-1 product holds no valid combination


def test_build_checks_its_arguments(unet_scores):
    for bad, match in (({"k": 0}, "k must be"), ({"top": 0}, "top must be"), ({"k": "3"}, "k must be")):
        with pytest.raises(AutobuildError, match=match):
            build(unet_scores, **bad)
    with pytest.raises(AutobuildError, match="module scores"):
        build(Predictor("ofa-mbv3"))
