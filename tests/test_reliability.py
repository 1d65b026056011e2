"""Results a user can trust and outputs that join back: warnings on models that rank nothing,
predictions that keep the input's rows, padding that ofa accepts, exact big numbers, runs that
extend, an existing model replaced only when asked."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import reseal_model

from autobuild.cli import cli
from autobuild.errors import AutobuildError
from autobuild.models.quality import poor_model_warning, still_rising

EVAL = '''
def evaluate(archs):
    return {"a": [float(sum(a["d"])) for a in archs], "b": [float(sum(a["ks"]) + a["r"] / 100) for a in archs]}
'''


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _poor_copy(model_dir: Path, tmp_path: Path) -> Path:
    """A model whose (resealed) report says it ranks nothing."""
    m = tmp_path / "poor"
    shutil.copytree(model_dir, m)
    cfg = json.loads((m / "config.json").read_text())
    cfg["report"]["test"]["srcc_pred"] = -0.1
    cfg["report"]["test"]["srcc_hop"] = [0.05, -0.1, 0.2, 0.1, 0.0]
    (m / "config.json").write_text(json.dumps(cfg))
    reseal_model(m)
    return m


def test_poor_models_are_flagged_loudly(model_dir, tmp_path):
    poor = _poor_copy(model_dir, tmp_path)
    res = invoke("score", poor, "--out", tmp_path / "s.csv", "--quiet", "--show", "0")
    assert res.exit_code == 0, res.output
    assert "autobuild: WARNING:" in res.stderr and "ranks poorly" in res.stderr and "prediction -0.10" in res.stderr
    res = invoke("build", tmp_path / "s.csv", "--k", "1", "--out", tmp_path / "b.csv")
    assert res.exit_code == 0
    assert "WARNING" in res.stderr and "close to random" in res.stderr
    ev = f"onnx:acc={poor}"
    res = invoke("search", "--space", "ofa-mbv3", "--objectives", "acc:max", "--evaluator", ev, "--budget", "10",
                 "--initial", "10", "--executor", "inline", "--quiet")
    assert res.exit_code == 0, res.output
    assert "WARNING" in res.stderr and "ranks poorly" in res.stderr
    # A model served under another metric name than its target is named too.
    res = invoke("search", "--space", "ofa-mbv3", "--objectives", "latency:min", "--evaluator",
                 f"onnx:latency={model_dir}", "--budget", "10", "--initial", "10", "--executor", "inline", "--quiet")
    assert res.exit_code == 0 and "trained on target acc, but serves objective 'latency'" in res.stderr


def test_quality_rules():
    good = {"test": {"srcc_pred": 0.9, "srcc_hop": [0.8, 0.9]}}
    assert poor_model_warning("m", good, "x") is None
    bad = {"test": {"srcc_pred": 0.3, "srcc_hop": [0.2, 0.9]}}
    w = poor_model_warning("m", bad, "scoring")
    assert "prediction 0.30" in w and "hop 0 0.20" in w and "hop 1" not in w
    # k-GNN per-layer norms are diagnostics: only the prediction counts.
    assert poor_model_warning("m", {"kind": "kgnn", "test": {"srcc_pred": 0.9, "srcc_hop": [0.1]}}, "x") is None
    assert still_rising({"val_history": [[10, 0.5], [80, 0.80], [90, 0.85], [100, 0.9]]}) is not None
    assert still_rising({"val_history": [[10, 0.5], [80, 0.90], [90, 0.90], [100, 0.905]]}) is None
    assert still_rising({"val_history": [[1, 0.5]]}) is None


def test_train_records_the_validation_curve(model_dir):
    hist = json.loads((model_dir / "config.json").read_text())["report"]["val_history"]
    assert [e for e, _ in hist] == [1, 2, 3]


def test_predict_keeps_the_input_rows(model_dir, small_data, tmp_path):
    with open(small_data, newline="") as f:
        rows = list(csv.DictReader(f))[:5]
    src = tmp_path / "in.csv"
    with open(src, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "arch", "note"])
        for i, r in enumerate(rows):  # spaced JSON, an id and a text column: all kept as given
            w.writerow([f"net-{i}", json.dumps(json.loads(r["arch"]), indent=None, separators=(", ", ": ")), "x y"])
    res = invoke("predict", model_dir, "--data", src, "--out", tmp_path / "p.csv", "--quiet")
    assert res.exit_code == 0, res.output
    with open(src, newline="") as f:
        given = list(csv.DictReader(f))
    with open(tmp_path / "p.csv", newline="") as f:
        out = list(csv.DictReader(f))
    assert [{k: r[k] for k in ("id", "arch", "note")} for r in out] == given
    assert list(out[0])[:4] == ["id", "arch", "note", "pred"]
    # JSONL in, JSONL out: each record as given plus the new keys.
    jl = tmp_path / "in.jsonl"
    jl.write_text("".join(json.dumps({"uid": i, "arch": json.loads(r["arch"])}) + "\n" for i, r in enumerate(rows)))
    assert invoke("predict", model_dir, "--data", jl, "--out", tmp_path / "p.jsonl").exit_code == 0
    recs = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [r["uid"] for r in recs] == list(range(5)) and all("pred" in r and "norm_h4" in r for r in recs)


def test_padding_is_valid_by_default(tmp_path):
    assert invoke("sample", "--space", "ofa-mbv3", "--n", "50", "--out", tmp_path / "a.csv").exit_code == 0
    assert invoke("sample", "--space", "ofa-mbv3", "--n", "50", "--pad", "zero", "--out", tmp_path / "z.csv").exit_code == 0
    with open(tmp_path / "a.csv") as f:
        rep = [json.loads(r["arch"]) for r in csv.DictReader(f)]
    with open(tmp_path / "z.csv") as f:
        zero = [json.loads(r["arch"]) for r in csv.DictReader(f)]
    assert all(0 not in a["ks"] and 0 not in a["e"] for a in rep)
    assert any(0 in a["ks"] for a in zero)
    from autobuild.spaces import get_space

    sp = get_space("ofa-mbv3")
    assert [sp.validate(a) for a in zero] == rep  # the same archs either way


def test_space_prints_exact_giant_counts(tmp_path):
    stages = ",".join(["{min_depth: 1, max_depth: 4}"] * 50)
    p = tmp_path / "big.yaml"
    p.write_text(f"name: big\nlayer_features: [{{name: k, values: [{','.join(map(str, range(100)))}]}}]\n"
                 f"stages: [{stages}]\n")
    res = invoke("space", p)
    assert res.exit_code == 0, res.output
    n = (100 + 100**2 + 100**3 + 100**4) ** 50
    assert f"({n:,})" in res.output and "e+400 architectures" in res.output


def test_overwrite_replaces_only_a_model(model_dir, small_data, tmp_path):
    out = tmp_path / "m"
    shutil.copytree(model_dir, out)
    before = (out / "model.safetensors").read_bytes()
    res = invoke("train", "--space", "ofa-mbv3", "--data", small_data, "--epochs", "1", "--seed", "4", "--out", out,
                 "--overwrite", "--quiet")
    assert res.exit_code == 0, res.output
    assert (out / "model.safetensors").read_bytes() != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # nothing left beside it


def test_resume_with_a_larger_budget_extends_the_run(tmp_path):
    ev = tmp_path / "ev.py"
    ev.write_text(EVAL)
    base = ["search", "--space", "ofa-mbv3", "--objectives", "a:max,b:min", "--evaluator", f"{ev}:evaluate",
            "--initial", "10", "--per-iteration", "10", "--seed", "2", "--executor", "inline", "--quiet"]
    assert invoke(*base, "--budget", "40", "--out", tmp_path / "ref.csv").exit_code == 0
    assert invoke(*base, "--budget", "20", "--journal", tmp_path / "j.db").exit_code == 0
    res = invoke("search", "--resume", tmp_path / "j.db", "--budget", "40", "--executor", "inline",
                 "--out", tmp_path / "f.csv")
    assert res.exit_code == 0, res.output
    assert "extending the run to a budget of 40" in res.stderr and "20 from the journal" in res.stderr
    assert (tmp_path / "f.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes()
    # Resuming as journaled (no flags) now runs to 40 and evaluates nothing new.
    res = invoke("search", "--resume", tmp_path / "j.db", "--executor", "inline")
    assert res.exit_code == 0 and "evaluated 0 archs now, 40 from the journal" in res.stderr


def test_arch_option_reads_what_commands_write(model_dir, tmp_path):
    from autobuild.cli.options import parse_arch

    assert invoke("sample", "--space", "ofa-mbv3", "--n", "3", "--seed", "1", "--out", tmp_path / "s.jsonl").exit_code == 0
    assert invoke("sample", "--space", "ofa-mbv3", "--n", "3", "--seed", "1", "--out", tmp_path / "s.csv").exit_code == 0
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    second = json.loads(lines[1])["arch"]
    assert parse_arch(f"@{tmp_path / 's.jsonl'}", 2) == second == parse_arch(f"@{tmp_path / 's.csv'}", 2)
    (tmp_path / "one.json").write_text(lines[0])  # a record with an "arch" key
    assert parse_arch(f"@{tmp_path / 'one.json'}") == json.loads(lines[0])["arch"]
    res = invoke("plot", "arch", model_dir, "--arch", f"@{tmp_path / 's.csv'}", "--row", "3", "--out", tmp_path / "a.png")
    assert res.exit_code == 0, res.output
    res = invoke("plot", "arch", model_dir, "--arch", f"@{tmp_path / 's.csv'}", "--row", "9", "--out", tmp_path / "b.png")
    assert res.exit_code == 2 and "--row 9" in res.stderr and not (tmp_path / "b.png").exists()


def test_commands_that_read_a_model_read_an_ensemble(small_data, tmp_path):
    ens = tmp_path / "ens"
    res = invoke("train", "--space", "ofa-mbv3", "--data", small_data, "--epochs", "1", "--folds", "2", "--out", ens,
                 "--quiet")
    assert res.exit_code == 0, res.output
    res = invoke("info", ens)
    assert res.exit_code == 0 and "2 members" in res.output and "fold1-seed0" in res.output, res.output
    assert json.loads(invoke("info", ens, "--json").output)["report"]["members"] == 2
    for args in (("hops",), ("importance",), ("arch", "--arch", f"@{small_data}")):
        res = invoke("plot", args[0], ens, *args[1:], "--out", tmp_path / f"{args[0]}.png")
        assert res.exit_code == 0, res.output
    res = invoke("predict", ens, "--data", small_data, "--out", tmp_path / "p.csv")
    assert res.exit_code == 0, res.output
    preds = []
    for member in ("fold0-seed0", "fold1-seed0"):
        assert invoke("predict", ens / member, "--data", small_data, "--out", tmp_path / f"{member}.csv").exit_code == 0
        with open(tmp_path / f"{member}.csv") as f:
            preds.append([float(r["pred"]) for r in csv.DictReader(f)])
    with open(tmp_path / "p.csv") as f:
        mean = [float(r["pred"]) for r in csv.DictReader(f)]
    assert max(abs(m - (a + b) / 2) for m, a, b in zip(mean, *preds)) < 1e-6


def test_every_option_has_help_and_long_commands_have_quiet():
    import click

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), cmd

    for name, cmd in walk(cli, []):
        opts = [p for p in cmd.params if isinstance(p, click.Option)]
        assert all(o.help for o in opts), (name, [o.opts[0] for o in opts if not o.help])
        if name not in ("space", "info", "providers"):  # these print their answer and nothing else
            assert any("--quiet" in o.opts for o in opts), name


def test_predict_on_labelled_data_reports_the_fit(model_dir, small_data, tmp_path):
    res = invoke("predict", model_dir, "--data", small_data, "--out", tmp_path / "p.csv")
    assert res.exit_code == 0
    assert "against the input's labels (acc, 400 archs): SRCC" in res.stderr and "within +-10 %" in res.stderr
    # the model was trained on these very rows: the figures are flagged as optimistic
    assert "the data the model was trained on" in res.stderr
    other = tmp_path / "other.csv"
    other.write_text(small_data.read_text())
    res = invoke("predict", model_dir, "--data", other, "--out", tmp_path / "p2.csv")
    assert "against the input's labels" in res.stderr and "trained on" not in res.stderr


def test_quiet_means_quiet(model_dir, scores_csv, small_data, tmp_path):
    """With --quiet a command prints nothing but warnings (and, for these, nothing at all)."""
    for args in (("score", model_dir, "--out", tmp_path / "s.csv", "--show", "0"),
                 ("build", scores_csv, "--k", "2", "--out", tmp_path / "b.csv"),
                 ("predict", model_dir, "--data", small_data, "--out", tmp_path / "p.csv"),
                 ("sample", "--space", "ofa-mbv3", "--n", "5", "--out", tmp_path / "a.csv"),
                 ("report", model_dir, "--out", tmp_path / "r.html")):
        res = invoke(*args, "--quiet")
        assert res.exit_code == 0, (args[0], res.output)
        lines = [ln for ln in (res.stdout + res.stderr).splitlines() if ln.strip()]
        assert all(ln.startswith("autobuild: WARNING") for ln in lines), (args[0], lines)


def test_another_spaces_arch_is_recognised(model_dir, tmp_path):
    assert invoke("sample", "--space", "ofa-pn", "--n", "2", "--out", tmp_path / "pn.csv").exit_code == 0
    res = invoke("predict", model_dir, "--data", tmp_path / "pn.csv", "--out", tmp_path / "p.csv")
    assert res.exit_code == 2 and "this looks like an ofa-pn arch, not an ofa-mbv3 one" in res.stderr


def test_build_says_what_it_built(model_dir, scores_csv, tmp_path):
    res = invoke("build", scores_csv, "--k", "2", "--out", tmp_path / "b.csv", "--evaluate", f"acc={model_dir}")
    assert res.exit_code == 0, res.output
    assert "what was built:" in res.stderr and "stage 1: depths" in res.stderr
    assert "acc (acc): built [" in res.stderr and "vs training data [" in res.stderr
    with open(tmp_path / "b.csv") as f:
        assert next(csv.reader(f)) == ["arch", "module_score_sum"]  # not a prediction: not named like one


def test_an_extreme_build_is_flagged():
    from autobuild.construction.reduced import ReducedSpace
    from autobuild.construction.summary import composition
    from autobuild.spaces import Module, get_space

    sp = get_space("ofa-mbv3")
    big = [[Module(g, (8, 8, 8, 8), 1.0)] for g in range(5)]
    _, warning = composition(ReducedSpace(sp, big, {"r": [224]}))
    assert warning and "largest" in warning and "--constrained" in warning
    mixed = [[Module(g, (8, 8, 8, 8), 1.0), Module(g, (0, 0), 0.5)] for g in range(5)]
    assert composition(ReducedSpace(sp, mixed, {"r": [224]}))[1] is None
    small = [[Module(g, (0, 0), 0.5)] for g in range(5)]
    assert "smallest" in composition(ReducedSpace(sp, small, {"r": [224]}))[1]
    with pytest.raises(AutobuildError, match="module of another stage"):
        ReducedSpace(sp, [[Module(0, (0, 0))]] * 5, {"r": [224]})


def test_long_steps_say_what_they_do(small_data, tmp_path):
    """No silent step longer than a second: loading PyTorch and exporting are announced."""
    res = invoke("train", "--space", "ofa-mbv3", "--data", small_data, "--target", "acc", "--epochs", "1",
                 "--out", tmp_path / "m")
    assert res.exit_code == 0
    assert "loading PyTorch..." in res.stderr and "exporting ONNX and saving..." in res.stderr
