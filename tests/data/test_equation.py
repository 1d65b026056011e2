"""Target equations: safe AST evaluation, validation, errors and serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autobuild import AutobuildError
from autobuild.data.equation import FUNCTIONS, TargetEquation


@pytest.fixture
def metrics() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 50
    return {
        "acc": rng.uniform(0.6, 0.8, n),
        "latency_gpu": rng.uniform(5, 20, n),
        "latency_cpu": rng.uniform(100, 600, n),
        "pq": rng.uniform(30, 70, n),
        "flops": rng.uniform(100, 900, n),
    }


def _one_line_error(text: str) -> str:
    with pytest.raises(AutobuildError) as ei:
        TargetEquation(text)
    msg = str(ei.value)
    assert "\n" not in msg
    t = text.strip()
    shown = repr(t) if len(t) <= 80 else f"{t[:60]!r}... ({len(t):,} characters)"  # long ones are shortened
    assert msg.startswith(f"target equation {shown}: ")
    return msg


# --------------------------------------------------------------------------- evaluation
@pytest.mark.parametrize(
    "text, expected",
    [
        ("acc", lambda m: m["acc"]),
        ("acc*100/latency_gpu", lambda m: m["acc"] * 100 / m["latency_gpu"]),
        ("100**acc/(log10(latency_gpu+1)+1)", lambda m: 100 ** m["acc"] / (np.log10(m["latency_gpu"] + 1) + 1)),
        ("sqrt(pq)-sqrt(flops)", lambda m: np.sqrt(m["pq"]) - np.sqrt(m["flops"])),
        ("-latency_cpu", lambda m: -m["latency_cpu"]),
    ],
)
def test_paper_equations(metrics, text, expected):
    eq = TargetEquation(text)
    out = eq.evaluate(metrics)
    assert out.dtype == np.float64 and out.shape == (50,)
    np.testing.assert_allclose(out, expected(metrics), rtol=1e-12)


def test_operators_and_functions(metrics):
    m = metrics
    cases = {
        "+acc - -acc": m["acc"] + m["acc"],
        "acc % 0.25": np.mod(m["acc"], 0.25),
        "2 ** 3 * acc": 8 * m["acc"],
        "(acc + 1) * (acc - 1)": (m["acc"] + 1) * (m["acc"] - 1),
        "log(acc) + log2(acc) + log1p(acc) + exp(acc)": np.log(m["acc"]) + np.log2(m["acc"]) + np.log1p(m["acc"]) + np.exp(m["acc"]),
        "abs(acc - 0.7) + tanh(acc)": np.abs(m["acc"] - 0.7) + np.tanh(m["acc"]),
        "minimum(acc, 0.7) + maximum(latency_gpu, 10)": np.minimum(m["acc"], 0.7) + np.maximum(m["latency_gpu"], 10),
        "1e-3 * latency_cpu": 1e-3 * m["latency_cpu"],
        "3 + acc": 3 + m["acc"],  # int constants become float64
        "acc / 4": m["acc"] / 4,
    }
    for text, want in cases.items():
        np.testing.assert_allclose(TargetEquation(text).evaluate(m), want, rtol=1e-12, err_msg=text)


def test_python_semantics_do_not_leak():
    # Python would give a complex number for (-8)**(1/3) and raise on 1/0; numpy float64 gives
    # nan/inf, which evaluate() reports as an error naming the row.
    m = {"x": np.array([1.0, 0.0, 2.0])}
    with pytest.raises(AutobuildError, match=r"gives inf at row 2$"):
        TargetEquation("1/x").evaluate(m)
    with pytest.raises(AutobuildError, match=r"gives nan at row 1$"):
        TargetEquation("(-8*x)**(1/3)").evaluate(m)
    with pytest.raises(AutobuildError, match=r"gives -inf at row 2$"):
        TargetEquation("log(x)").evaluate(m)


def test_metrics_and_text():
    eq = TargetEquation("  100**acc/(log10(latency_gpu+1)+1) + acc ")
    assert eq.text == "100**acc/(log10(latency_gpu+1)+1) + acc"
    assert str(eq) == eq.text
    assert eq.metrics == ("acc", "latency_gpu")
    assert TargetEquation("sqrt(pq)-sqrt(flops)").metrics == ("flops", "pq")
    assert "TargetEquation(" in repr(eq)


def test_unknown_metric_lists_available(metrics):
    eq = TargetEquation("acc*100/latency_npu")
    with pytest.raises(AutobuildError) as ei:
        eq.evaluate({k: metrics[k] for k in ("acc", "latency_gpu", "latency_cpu")})
    assert str(ei.value) == (
        "unknown metric 'latency_npu' in target equation 'acc*100/latency_npu' (available: acc, latency_cpu, latency_gpu)"
    )


def test_nan_result_names_first_bad_row():
    acc = np.array([0.5, 0.6, 0.7, 0.8, -1.0, -2.0])
    with pytest.raises(AutobuildError) as ei:
        TargetEquation("sqrt(acc)").evaluate({"acc": acc})
    assert str(ei.value) == "target equation 'sqrt(acc)' gives nan at row 5"


def test_overflow_is_reported_and_warnings_suppressed():
    with np.errstate(all="raise"):  # evaluate() must not let numpy warn or raise
        with pytest.raises(AutobuildError, match="gives inf at row 1"):
            TargetEquation("exp(x)").evaluate({"x": np.array([1000.0])})
        with pytest.raises(AutobuildError, match="gives inf at row 1"):
            TargetEquation("10**10**x").evaluate({"x": np.array([10.0])})


def test_bad_metric_columns():
    with pytest.raises(AutobuildError, match="different lengths"):
        TargetEquation("a+b").evaluate({"a": np.ones(3), "b": np.ones(4)})
    with pytest.raises(AutobuildError, match="1-d"):
        TargetEquation("a").evaluate({"a": np.ones((2, 2))})


def test_list_input_is_accepted():
    np.testing.assert_array_equal(TargetEquation("a*2").evaluate({"a": [1, 2, 3]}), [2.0, 4.0, 6.0])


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "text, fragment",
    [
        ("acc*", "invalid syntax"),
        ("(acc", "invalid syntax"),
        ("acc = 1", "invalid syntax"),
        ("import os", "invalid syntax"),
        ("", "empty"),
        ("   ", "empty"),
        ("system('x')", "unknown function 'system'"),
        ("__import__('os').system('x')", "unsupported syntax: attribute access"),
        ("acc.__class__", "unsupported syntax: attribute access"),
        ("acc.__class__.__bases__[0].__subclasses__()", "unsupported syntax: attribute access"),
        ("[x for x in ()]", "unsupported syntax: comprehension"),
        ("(x for x in ())", "unsupported syntax: comprehension"),
        ("lambda: 1", "unsupported syntax: lambda"),
        ("open('f')", "unknown function 'open'"),
        ("eval('1')", "unknown function 'eval'"),
        ("__import__('os')", "unknown function '__import__'"),
        ("acc[0]", "unsupported syntax: subscript"),
        ("acc < 1", "unsupported syntax: comparison"),
        ("acc and 1", "unsupported syntax: boolean operator"),
        ("acc if acc else 1", "unsupported syntax: conditional expression"),
        ("(acc, 1)", "unsupported syntax: tuple"),
        ("[acc]", "unsupported syntax: list"),
        ("{'a': acc}", "unsupported syntax: dict"),
        ("(y := acc)", "unsupported syntax: assignment expression"),
        ("f'{acc}'", "unsupported syntax: f-string"),
        ("'acc'", "unsupported constant"),
        ("acc + True", "unsupported constant"),
        ("acc + None", "unsupported constant"),
        ("acc * 1j", "unsupported constant"),
        ("100^acc", "unsupported operator '^' (use ** for powers)"),
        ("acc // 2", "unsupported operator '//'"),
        ("~acc", "unsupported operator '~'"),
        ("not acc", "unsupported operator 'not'"),
        ("acc @ acc", "unsupported operator '@'"),
        ("log(acc, 10)", "function 'log' takes 1 argument, got 2"),
        ("minimum(acc)", "function 'minimum' takes 2 arguments, got 1"),
        ("sqrt(x=acc)", "keyword argument"),
        ("sqrt(*acc)", "starred"),
        ("np.log(acc)", "unsupported syntax: attribute access"),
        ("(lambda: acc)()", "unsupported syntax: lambda"),
        ("1e999 * acc", "number too large"),
        ("1" + "0" * 400 + " * acc", "number too large"),
        ("2 + 3", "uses no metric column"),
        ("acc\n+1", "one line"),
        ("acc + " * 300 + "acc", "longer than"),
    ],
)
def test_rejected(text, fragment):
    assert fragment in _one_line_error(text)


def test_deep_nesting_is_one_error():
    assert TargetEquation("(" * 150 + "acc" + ")" * 150).metrics == ("acc",)  # parentheses add no nodes
    assert "invalid syntax" in _one_line_error("(" * 300 + "acc" + ")" * 300)  # parser's own limit
    assert "too deeply nested" in _one_line_error("sqrt(" * 150 + "acc" + ")" * 150)
    text = "-" * 200 + "acc"
    assert "too deeply nested" in _one_line_error(text)


def test_non_string():
    with pytest.raises(AutobuildError, match="must be a string"):
        TargetEquation(3)  # type: ignore[arg-type]


def test_injection_never_runs(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    payloads = [
        f"__import__('os').system('touch {marker}')",
        f"open('{marker}', 'w')",
        f"[__import__('os').system('touch {marker}') for _ in (1,)]",
        f"(lambda: __import__('os').system('touch {marker}'))()",
    ]
    for p in payloads:
        with pytest.raises(AutobuildError):
            TargetEquation(p)
    assert not marker.exists()


def test_whitelist_is_small():
    assert set(FUNCTIONS) == {"log", "log10", "log2", "log1p", "exp", "sqrt", "abs", "tanh", "minimum", "maximum"}


# --------------------------------------------------------------------------- serialisation / equality
def test_to_from_dict_roundtrip():
    eq = TargetEquation("100**acc/(log10(latency_gpu+1)+1)")
    d = eq.to_dict()
    assert d == {"equation": "100**acc/(log10(latency_gpu+1)+1)", "metrics": ["acc", "latency_gpu"]}
    back = TargetEquation.from_dict(json.loads(json.dumps(d)))
    assert back == eq and back.metrics == eq.metrics
    assert TargetEquation.from_dict({"equation": "acc"}) == TargetEquation("acc")


@pytest.mark.parametrize(
    "d, fragment",
    [
        (None, "invalid target record"),
        ("acc", "invalid target record"),
        ({}, "invalid target record"),
        ({"equation": 3}, "invalid target record"),
        ({"equation": "acc*", "metrics": ["acc"]}, "invalid syntax"),
        ({"equation": "acc", "metrics": ["latency_gpu"]}, "do not match"),
        ({"equation": "open('x')", "metrics": []}, "unknown function 'open'"),
    ],
)
def test_from_dict_validates(d, fragment):
    with pytest.raises(AutobuildError) as ei:
        TargetEquation.from_dict(d)
    assert fragment in str(ei.value) and "\n" not in str(ei.value)


def test_equality_and_hash():
    a, b, c = TargetEquation("acc*100/latency_gpu"), TargetEquation("acc * 100 / (latency_gpu)"), TargetEquation("acc")
    assert a == b and hash(a) == hash(b)
    assert a != c
    assert a != "acc*100/latency_gpu"
    assert len({a, b, c}) == 2
