"""Search spaces: built-ins, user space files, validation, codes, sampling, graphs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autobuild import AutobuildError
from autobuild.spaces import get_space, load_space_file, space_from_dict


@pytest.fixture(params=["ofa-mbv3", "ofa-pn"])
def space(request):
    return get_space(request.param)


def test_cardinality_matches_paper():
    mb, pn = get_space("ofa-mbv3"), get_space("ofa-pn")
    assert mb.cardinality() == 7371**5
    assert f"{mb.cardinality():.3g}" == "2.18e+19"
    assert pn.cardinality() == 7371**5 * 9
    assert f"{pn.cardinality():.3g}" == "1.96e+20"
    assert mb.cardinality(include_globals=True) == 3 * 7371**5
    assert [mb.module_count(g) for g in range(mb.n_groups)] == [7371] * 5
    assert [pn.module_count(g) for g in range(pn.n_groups)] == [7371] * 4 + [66339]


def test_layouts(space):
    n_slots = 20 if space.name == "ofa-mbv3" else 21
    assert space.n_slots == n_slots
    assert space.code_len == space.n_stages + n_slots + 1
    a = space.sample(1, seed=3)[0]
    assert len(a["ks"]) == len(a["e"]) == n_slots
    assert list(a) == ["ks", "e", "d", "r"]


def test_roundtrip_and_canonical(space):
    codes = space.sample_codes(500, seed=1)
    assert len({c.tobytes() for c in codes}) == 500
    archs = space.decode(codes)
    np.testing.assert_array_equal(space.encode(archs), codes)
    # Padding may hold any valid choice or 0: canonical form zeroes it.
    a = archs[0]
    b = json.loads(json.dumps(a))
    s = 0
    if b["d"][s] < 4:
        b["ks"][b["d"][s]] = 7
        b["e"][b["d"][s]] = 6
    assert space.validate(b) == a


def test_sampling_is_seeded_and_uniform(space):
    c1, c2 = space.sample_codes(3000, seed=7), space.sample_codes(3000, seed=7)
    np.testing.assert_array_equal(c1, c2)
    assert not np.array_equal(c1, space.sample_codes(3000, seed=8))
    depth = c1[:, 0]
    for d in (2, 3, 4):
        assert abs((depth == d).mean() - 1 / 3) < 0.05
    if space.name == "ofa-pn":
        assert (c1[:, 5] == 1).all()


def test_matches_oracle_format(space, oracle):
    archs = oracle.sample(space.name, 300, seed=11)
    codes = space.encode(archs)
    assert [oracle.canonical(space.name, a) for a in archs] == space.decode(codes, pad="zero")
    for a in space.sample(50, seed=2):
        oracle.validate(space.name, a)
        assert oracle.to_sequence(space.name, a) == [
            [(n["e"], n["k"]) for n in space.to_graph(a)["nodes"] if n["stage"] == s + 1]
            for s in range(space.n_stages)
        ]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda a: a.pop("r"), "missing key(s) 'r'"),
        (lambda a: a.update(x=1), "unknown key(s) 'x'"),
        (lambda a: a.update(r=225), "r = 225 is not one of [192, 208, 224]"),
        (lambda a: a["d"].__setitem__(0, 5), "d[0] = 5 is outside the stage's depth range 2..4"),
        (lambda a: a["ks"].__setitem__(0, 4), "ks[0] (stage 1, layer 1) = 4 is not one of [3, 5, 7]"),
        (lambda a: a["e"].__setitem__(0, 3.0), "e[0] (stage 1, layer 1) = 3.0 is not one of [3, 4, 6]"),
        (lambda a: a["e"].__setitem__(0, True), "is not one of"),
        (lambda a: a["ks"].__setitem__(0, [3]), "ks[0] (stage 1, layer 1) = [3] is not one of [3, 5, 7]"),
        (lambda a: a["e"].__setitem__(0, {"v": 3}), "e[0] (stage 1, layer 1) = {'v': 3} is not one of"),
        (lambda a: a.update(ks=[3] * 5), "ks must be a list of 20 values"),
        (lambda a: a.update(d="x"), "d must be a list of 5 integers"),
    ],
)
def test_validation_messages(mutate, message):
    sp = get_space("ofa-mbv3")
    a = sp.sample(1, seed=0)[0]
    a["d"][0] = 2
    mutate(a)
    with pytest.raises(AutobuildError, match=None) as ei:
        sp.encode([a])
    assert message in str(ei.value)
    assert str(ei.value).startswith("arch 0: ")
    assert "\n" not in str(ei.value)


def test_pn_last_stage_fixed():
    sp = get_space("pn")
    a = sp.sample(1, seed=0)[0]
    a["d"][5] = 2
    with pytest.raises(AutobuildError, match=r"d\[5\] = 2 is outside the stage's depth range 1"):
        sp.validate(a)


def test_graph(space):
    a = space.sample(1, seed=4)[0]
    g = space.to_graph(a)
    assert len(g["nodes"]) == sum(a["d"])
    assert g["edges"] == [(i, i + 1) for i in range(sum(a["d"]) - 1)]
    first = g["nodes"][0]
    assert first["stage"] == 1 and first["layer"] == 1 and first["r"] == a["r"]
    assert (first["k"], first["e"]) == (a["ks"][0], a["e"][0])


USER_SPACE = """
name: tiny
layer_features:
  - {name: op, values: [conv, attn]}
  - {name: c, values: [32, 64], numeric: true}
global_features:
  - {name: res, values: [64, 128]}
stages:
  - {min_depth: 1, max_depth: 2, choices: [[conv, 32], [conv, 64]]}
  - {min_depth: 0, max_depth: 2}
"""


def test_user_space_yaml(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(USER_SPACE)
    sp = load_space_file(p)
    assert sp.cardinality() == (2 + 4) * (1 + 4 + 16)
    assert sp.cardinality(include_globals=True) == 2 * 126
    codes = sp.sample_codes(200, seed=0)
    archs = sp.decode(codes)
    np.testing.assert_array_equal(sp.encode(archs), codes)
    # Stage restriction is enforced.
    a = {"op": ["attn", "conv", "conv", "conv"], "c": [32, 32, 32, 32], "d": [1, 0], "res": 64}
    with pytest.raises(AutobuildError, match="stage 1, layer 1: layer choice .* is not allowed"):
        sp.validate(a)
    # JSON definition round trip via to_dict.
    q = tmp_path / "tiny.json"
    q.write_text(json.dumps(sp.to_dict()))
    assert get_space(str(q)).fingerprint() == sp.fingerprint()


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"stages": [{"min_depth": 3, "max_depth": 1}]}, "min_depth <= max_depth"),
        ({"layer_features": [{"name": "k", "values": [3, 3]}]}, "duplicate values"),
        ({"bogus": 1}, "unknown field(s) ['bogus']"),
        ({"stages": [{"min_depth": 1, "max_depth": 2, "choices": [[9]]}]}, "is not one of"),
        ({"module_groups": [[2], [1]]}, "module_groups must cover every stage once"),
    ],
)
def test_bad_space_definitions(patch, message):
    base = {"name": "x", "layer_features": [{"name": "k", "values": [3, 5]}], "stages": [{"min_depth": 1, "max_depth": 2}]}
    base.update(patch)
    with pytest.raises(AutobuildError) as ei:
        space_from_dict(base)
    assert message in str(ei.value)


def test_unknown_space():
    with pytest.raises(AutobuildError, match="unknown space 'nope'"):
        get_space("nope")


def test_space_types_rebuild_from_their_dict():
    """Stored space definitions name their type; an unknown type is one clear error, a registered
    one is rebuilt by its own function (how a U-Net space will load back from a model)."""
    from autobuild.spaces import registry, space_from_dict

    sp = get_space("ofa-pn")
    assert space_from_dict(sp.to_dict()).fingerprint() == sp.fingerprint()
    assert space_from_dict({**sp.to_dict(), "type": "macro"}).fingerprint() == sp.fingerprint()
    with pytest.raises(AutobuildError, match="model.json: unknown space type 'hypergraph' \\(known: macro"):
        space_from_dict({"type": "hypergraph", "name": "x"}, "model.json")
    with pytest.raises(AutobuildError, match="model.json: not a U-Net space definition"):
        space_from_dict({"type": "unet", "name": "x"}, "model.json")
    unet = get_space("sdv14-unet")
    assert space_from_dict(unet.to_dict()).fingerprint() == unet.fingerprint()
    registry.register_space_type("test-pn", "test_spaces:_rebuild")
    try:
        assert space_from_dict({"type": "test-pn", "seen": 1}, "here").name == "ofa-pn"
        assert _REBUILT == [({"type": "test-pn", "seen": 1}, "here")]
    finally:
        del registry.SPACE_TYPES["test-pn"]


_REBUILT: list = []


def _rebuild(d, source):
    _REBUILT.append((d, source))
    return get_space("ofa-pn")
