"""Wrong arguments to the public API end in one :class:`AutobuildError` line naming them, never a
bare ``TypeError`` / ``AttributeError`` (the README promises it)."""

from __future__ import annotations

import pytest

import autobuild
from autobuild import AutobuildError, Predictor, build


def test_read_labelled_takes_builtin_data():
    t = autobuild.read_labelled("builtin:ofa-mbv3")
    assert len(t) == 3000 and {"acc", "latency_gpu", "latency_cpu"} <= set(t.metrics)
    assert t.name == "builtin:ofa-mbv3"


@pytest.mark.parametrize("call, match", [
    (lambda: Predictor(3), "space must be"),
    (lambda: Predictor("ofa-mbv3", target=3), "target must be"),
    (lambda: Predictor("ofa-mbv3", runtime="tpu"), "runtime must be"),
    (lambda: Predictor("ofa-mbv3", layers=0), "layers"),
    (lambda: Predictor("ofa-mbv3").fit(3), "data must be"),
    (lambda: Predictor("ofa-mbv3").fit("builtin:ofa-mbv3", folds=0), "folds must be"),
    (lambda: Predictor("ofa-mbv3").fit([{"d": [2] * 5}], y=[1.0, 2.0]), "one number per arch"),
    (lambda: Predictor("ofa-mbv3").predict([]), "not fitted"),
    (lambda: Predictor("ofa-mbv3").score(), "not fitted"),
    (lambda: Predictor("ofa-mbv3").report, "not fitted"),
    (lambda: Predictor("ofa-mbv3").save("x"), "not fitted"),
    (lambda: Predictor.load(123), "model directory"),
    (lambda: Predictor.load("no/such/dir"), "not a model directory"),
    (lambda: build(5), "module scores"),
    (lambda: build([]), "module scores"),
    (lambda: autobuild.count("onnx-ir", []), "count MACs"),
    (lambda: autobuild.count("ofa-mbv3", {"d": [2]}), "list of arch dicts"),
    (lambda: autobuild.get_space(3.5), "space must be"),
    (lambda: autobuild.read_labelled("builtin:nope"), "unknown built-in data set"),
])
def test_wrong_arguments(call, match):
    with pytest.raises(AutobuildError, match=match):
        call()


def test_a_fitted_predictor_checks_what_it_is_given(model_dir):
    p = Predictor.load(model_dir)
    for call, match in ((lambda: p.predict({"d": [2] * 5}), "list of arch dicts"),
                        (lambda: p.predict([{"d": [9]}]), "d"),
                        (lambda: p.score(globals=5), "globals must map"),
                        (lambda: p.score(min_count=1), "min_count must be"),
                        (lambda: p.predict_codes(p.space.sample_codes(2), batch_size=0), "batch_size must be")):
        with pytest.raises(AutobuildError, match=match):
            call()
