"""The hostile-input corpus: bad input to every command, tried as a careless user and as an attacker
would. Every case must end in exit status 2 with one line ``autobuild: error: ...`` naming the
problem, no traceback, and nothing written or changed in its directory."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner
from conftest import reseal_model

from autobuild.cli import cli

EVALUATORS = '''
import sys

def good(archs):
    return {"a": [float(sum(a["d"])) for a in archs], "b": [float(sum(a["ks"])) for a in archs]}

def strings(archs):
    return {"a": ["fast"] * len(archs), "b": ["x"] * len(archs)}

def exits(archs):
    sys.exit(7)

def raises(archs):
    raise RuntimeError("boom")

def short(archs):
    return {"a": [1.0], "b": [1.0]}

def nodict(archs):
    return [1, 2]

def nan(archs):
    return {"a": [float("nan")] * len(archs), "b": [1.0] * len(archs)}

def missing(archs):
    return {"a": [1.0] * len(archs)}
'''
ARCH_JSON = ('{"ks":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"e":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],'
             '"d":[2,2,2,2,2],"r":224}')
ARCH = ARCH_JSON.replace('"', '""')  # as a quoted CSV cell: f'"{ARCH}"'



@dataclass
class Ctx:
    tmp: Path
    data: Path
    model: Path
    scores: Path

    def write(self, name: str, content: str | bytes) -> Path:
        p = self.tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
        return p

    def csv(self, name: str, *rows: str) -> Path:
        return self.write(name, "\n".join(rows) + "\n")

    def copy_model(self, name: str = "m") -> Path:
        dst = self.tmp / name
        shutil.copytree(self.model, dst)
        return dst

    def evaluators(self) -> Path:
        return self.write("ev.py", EVALUATORS)

    def journal(self, name: str = "j.db") -> Path:
        ev = self.evaluators()
        res = invoke("search", "--space", "ofa-mbv3", "--objectives", "a:max,b:min", "--evaluator", f"{ev}:good",
                     "--budget", "10", "--initial", "10", "--executor", "inline", "--journal", self.tmp / name,
                     "--quiet")
        assert res.exit_code == 0, res.output
        return self.tmp / name

    def reduced(self) -> Path:
        out = self.tmp / "reduced.json"
        res = invoke("build", self.scores, "--k", "1", "--out", self.tmp / "built.csv", "--reduced-out", out, "--quiet")
        assert res.exit_code == 0, res.output
        (self.tmp / "built.csv").unlink()
        return out


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def deep_json(n: int = 60_000) -> str:
    return "[" * n + "]" * n


def alias_bomb() -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def space_yaml(stages: str = "[{min_depth: 1, max_depth: 2}]", values: str = "[3, 5]", extra: str = "") -> str:
    return f"name: user\nlayer_features: [{{name: k, values: {values}}}]\nstages: {stages}\n{extra}"


def edit_config(c: Ctx, fn: Callable[[dict], None], reseal: bool) -> Path:
    m = c.copy_model()
    cfg = json.loads((m / "config.json").read_text())
    fn(cfg)
    (m / "config.json").write_text(json.dumps(cfg))
    if reseal:
        reseal_model(m)
    return m


def scores_rows(c: Ctx, edit: Callable[[list[list[str]]], None], name: str = "s.csv") -> Path:
    import csv

    rows = list(csv.reader(open(c.scores, newline="")))[:200]
    edit(rows)
    p = c.tmp / name
    with open(p, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return p


def _del(d: dict, *path: str) -> None:
    for k in path[:-1]:
        d = d[k]
    del d[path[-1]]


# Each case: id -> (setup returning the argument list, fragments the error line must contain).
CASES: dict[str, tuple[Callable[[Ctx], list], list[str]]] = {
    # ---------------------------------------------------------------- space
    "space-unknown": (lambda c: ["space", "nope"], ["unknown space 'nope'"]),
    "space-alias-bomb": (lambda c: ["space", c.write("bomb.yaml", alias_bomb())], ["bomb.yaml", "aliases"]),
    "space-deep-json": (lambda c: ["space", c.write("deep.json", deep_json())], ["deep.json", "nested too deeply"]),
    "space-huge-int": (lambda c: ["space", c.write("big.yaml", space_yaml(values=f"[{'1' * 5000}]"))],
                       ["big.yaml", "4300 digits"]),
    "space-max-depth": (lambda c: ["space", c.write("d.yaml", space_yaml("[{min_depth: 1, max_depth: 100000}]"))],
                        ["max_depth 100,000"]),
    "space-too-many-stages": (lambda c: ["space", c.write("s.yaml", space_yaml(
        "[" + ",".join(["{min_depth: 1, max_depth: 1}"] * 2000) + "]"))], ["2,000 stages"]),
    "space-binary": (lambda c: ["space", c.write("bin.yaml", b"\xff\xfe\x00garbage\x80")], ["bin.yaml", "UTF-8"]),
    "space-directory": (lambda c: ["space", c.write("sp.yaml/x", "") and c.tmp / "sp.yaml"], ["sp.yaml", "directory"]),
    "space-unknown-field": (lambda c: ["space", c.write("u.yaml", space_yaml(extra="colour: red\n"))],
                            ["unknown field", "colour"]),
    "space-stages-not-list": (lambda c: ["space", c.write("n.yaml", space_yaml("7"))], ["'stages' must be a list"]),
    "space-value-mapping": (lambda c: ["space", c.write("v.yaml", space_yaml(values="[{a: 1}]"))],
                            ["must be a number or a string"]),
    "space-value-list": (lambda c: ["space", c.write("l.yaml", space_yaml(values="[[1, 2]]"))],
                         ["must be a number or a string"]),
    "space-choices-int": (lambda c: ["space", c.write("c.yaml", space_yaml("[{min_depth: 1, max_depth: 2, choices: 5}]"))],
                          ["choices must be a list"]),
    "space-bad-depths": (lambda c: ["space", c.write("b.yaml", space_yaml("[{min_depth: 3, max_depth: 1}]"))],
                         ["min_depth <= max_depth"]),
    "space-nan-value": (lambda c: ["space", c.write("nan.yaml", space_yaml(values="[.nan, 1]"))], ["finite"]),
    "space-yaml-syntax": (lambda c: ["space", c.write("y.yaml", "name: [unclosed\n")], ["y.yaml", "YAML"]),
    "space-json-not-mapping": (lambda c: ["space", c.write("a.json", "[1, 2]")], ["must be a mapping"]),
    # ---------------------------------------------------------------- sample
    "sample-n-huge": (lambda c: ["sample", "--space", "ofa-mbv3", "--n", 10**12, "--out", c.tmp / "o.csv"],
                      ["--n must be between 1 and"]),
    "sample-n-zero": (lambda c: ["sample", "--space", "ofa-mbv3", "--n", 0, "--out", c.tmp / "o.csv"], ["--n must be"]),
    "sample-n-text": (lambda c: ["sample", "--space", "ofa-mbv3", "--n", "many", "--out", c.tmp / "o.csv"],
                      ["--n", "not a valid integer"]),
    "sample-seed-negative": (lambda c: ["sample", "--space", "ofa-mbv3", "--n", 3, "--seed", -1, "--out", c.tmp / "o.csv"],
                             ["--seed must be between 0 and"]),
    "sample-reduced-other-space": (lambda c: ["sample", "--space", "ofa-pn", "--reduced", c.reduced(), "--n", 3,
                                              "--out", c.tmp / "o.csv"], ["a reduced space of 'ofa-mbv3', not of --space ofa-pn"]),
    "sample-no-space": (lambda c: ["sample", "--n", 3, "--out", c.tmp / "o.csv"], ["give --space (the space to draw from) or --reduced"]),
    "sample-reduced-missing": (lambda c: ["sample", "--reduced", c.tmp / "none.json", "--n", 3, "--out", c.tmp / "o.csv"],
                               ["none.json", "not found"]),
    "sample-reduced-garbage": (lambda c: ["sample", "--reduced", c.write("r.json", "{nope"), "--n", 3, "--out",
                                          c.tmp / "o.csv"], ["r.json", "malformed JSON"]),
    "sample-reduced-deep": (lambda c: ["sample", "--reduced", c.write("r.json", deep_json()), "--n", 3, "--out",
                                       c.tmp / "o.csv"], ["r.json", "nested too deeply"]),
    "sample-reduced-wrong-format": (lambda c: ["sample", "--reduced", c.write("r.json", '{"format": "x"}'), "--n", 3,
                                               "--out", c.tmp / "o.csv"], ["not an autobuild reduced space"]),
    "sample-out-is-dir": (lambda c: ["sample", "--space", "ofa-pn", "--n", 3, "--out", c.write("od/x", "") and c.tmp / "od"],
                          ["od", "directory"]),
    "sample-out-parent-file": (lambda c: ["sample", "--space", "ofa-pn", "--n", 3, "--out",
                                          c.write("pf", "x") and c.tmp / "pf" / "o.csv"], ["not a directory"]),
    "sample-pad-bogus": (lambda c: ["sample", "--space", "ofa-pn", "--n", 3, "--pad", "nines", "--out", c.tmp / "o.csv"],
                         ["--pad", "nines"]),
    "sample-too-many-distinct": (lambda c: ["sample", "--space", c.write("t.yaml", space_yaml()), "--n", 100, "--out",
                                            c.tmp / "o.csv"], ["cannot draw 100 distinct archs"]),
    "sample-out-extension": (lambda c: ["sample", "--space", "ofa-pn", "--n", 3, "--out", c.tmp / "o.parquet"],
                             ["o.parquet", "unknown table format"]),
    # ---------------------------------------------------------------- train
    "train-dev-zero": (lambda c: ["train", "--space", "ofa-mbv3", "--data", "/dev/zero", "--out", c.tmp / "m"],
                       ["/dev/zero", "not a regular file"]),
    "train-data-missing": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.tmp / "no.csv", "--out", c.tmp / "m"],
                           ["no.csv", "not found"]),
    "train-data-directory": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.tmp, "--out", c.tmp / "m"],
                             ["is a directory"]),
    "train-data-binary": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.write("b.csv", bytes(range(256)) * 4),
                                     "--out", c.tmp / "m"], ["b.csv", "UTF-8"]),
    "train-data-bad-gzip": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.write("b.csv.gz", b"\x1f\x8bnot gzip"),
                                       "--out", c.tmp / "m"], ["b.csv.gz", "gzip"]),
    "train-data-gzip-truncated": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.write(
        "t.csv.gz", gzip.compress(("arch,acc\n" + f'"{ARCH}",0.5\n' * 200).encode())[:60]), "--out", c.tmp / "m"],
        ["t.csv.gz", "gzip"]),
    "train-data-deep-cell": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.csv("d.csv", "arch,acc",
                                                                                        f'"{deep_json()}",0.5'),
                                        "--out", c.tmp / "m"], ["d.csv", "row 1", "nested too deeply"]),
    "train-data-huge-int": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.csv("i.csv", "arch,acc",
                                                                                       f'"{"9" * 5000}",0.5'),
                                       "--out", c.tmp / "m"], ["i.csv", "row 1", "4300 digits"]),
    "train-data-long-line": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.csv("l.csv", "arch,acc",
                                                                                        "x" * (2 << 20)),
                                        "--out", c.tmp / "m"], ["l.csv", "longer than"]),
    "train-data-nan": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.csv("n.csv", "arch,acc", f'"{ARCH}",nan'),
                                  "--out", c.tmp / "m"], ["n.csv", "row 1", "NaN label"]),
    "train-data-no-arch": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.csv("a.csv", "net,acc", "x,1"),
                                      "--out", c.tmp / "m"], ["a.csv", "no column 'arch'"]),
    "train-data-empty": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.write("e.csv", ""), "--out", c.tmp / "m"],
                         ["e.csv", "empty file"]),
    "train-data-header-only": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.csv("h.csv", "arch,acc"),
                                          "--out", c.tmp / "m"], ["h.csv", "no data rows"]),
    "train-data-duplicate-column": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.csv("u.csv", "arch,acc,acc"),
                                               "--out", c.tmp / "m"], ["duplicate column 'acc'"]),
    "train-data-other-space": (lambda c: ["train", "--space", "ofa-pn", "--data", c.data, "--out", c.tmp / "m"],
                               ["row 1"]),
    "train-data-jsonl-not-object": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.write("j.jsonl", "[1]\n"),
                                               "--out", c.tmp / "m"], ["j.jsonl", "row 1", "JSON object"]),
    "train-target-unknown-metric": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--target", "speed",
                                               "--out", c.tmp / "m"], ["speed"]),
    "train-target-injection": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--target",
                                          "__import__('os').system('touch pwned')", "--out", c.tmp / "m"], ["target"]),
    "train-target-attribute": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--target", "acc.real",
                                          "--out", c.tmp / "m"], ["target"]),
    "train-epochs-zero": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--epochs", 0, "--out", c.tmp / "m"],
                          ["--epochs must be between 1 and"]),
    "train-epochs-huge": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--epochs", 10**9, "--out",
                                     c.tmp / "m"], ["--epochs must be"]),
    "train-lr-zero": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--lr", 0, "--out", c.tmp / "m"],
                      ["--lr must be > 0"]),
    "train-test-fraction": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--test-fraction", 1.5,
                                       "--out", c.tmp / "m"], ["--test-fraction must be > 0 and < 1"]),
    "train-seed-negative": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--seed", -1, "--out", c.tmp / "m"],
                            ["--seed must be"]),
    "train-threads-negative": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--threads", -1, "--out",
                                          c.tmp / "m"], ["--threads must be"]),
    "train-layers-zero": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--layers", 0, "--out", c.tmp / "m"],
                          ["--layers must be"]),
    "train-kind-bogus": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--kind", "transformer", "--out",
                                    c.tmp / "m"], ["--kind", "transformer"]),
    "train-missing-space": (lambda c: ["train", "--data", c.data, "--out", c.tmp / "m"], ["missing option --space"]),
    "train-folds-too-few-rows": (lambda c: ["train", "--space", "ofa-mbv3", "--data",
                                            c.csv("few.csv", "arch,acc", *[f'"{ARCH}",0.{i}' for i in range(1, 7)]),
                                            "--folds", 5, "--out", c.tmp / "ens"], ["need at least 10"]),
    "train-kgnn-ensemble": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--kind", "kgnn", "--folds", 2,
                                       "--epochs", 1, "--out", c.tmp / "m"], ["ensembles are not made of --kind kgnn"]),
    "train-kgnn-fe-grad-scale": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--kind", "kgnn",
                                            "--fe-grad-scale", 0.5, "--epochs", 1, "--out", c.tmp / "m"],
                                 ["--fe-grad-scale does not apply to --kind kgnn"]),
    "train-out-foreign-dir": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.write("mine/data.csv", c.data.read_text()),
                                         "--out", c.tmp / "mine"], ["mine", "not an autobuild output directory"]),
    "train-out-model-no-overwrite": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--out",
                                                c.copy_model("old")], ["old", "--overwrite"]),
    "train-out-foreign-file-in-model": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--overwrite",
                                                   "--out", (lambda m: c.write("old/notes.txt", "mine") and m)(c.copy_model("old"))],
                                          ["notes.txt", "did not write"]),
    "train-out-is-file": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--out", c.write("f", "x")],
                          ["--out", "is a file"]),
    "train-ensemble-out-foreign": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--folds", 2,
                                              "--out", c.write("ens/photo.jpg", "x") and c.tmp / "ens"],
                                   ["not an autobuild output directory"]),
    "train-ensemble-out-model": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--folds", 2,
                                            "--out", c.copy_model("ens")], ["--overwrite"]),
    # ---------------------------------------------------------------- info
    "info-missing": (lambda c: ["info", c.tmp / "nothing"], ["not a model directory"]),
    "info-file": (lambda c: ["info", c.write("f.txt", "x")], ["not a model directory"]),
    "info-foreign-dir": (lambda c: ["info", c.write("d/x.txt", "x") and c.tmp / "d"], ["config.json"]),
    "info-edited-config": (lambda c: ["info", edit_config(c, lambda d: d["report"]["test"].update(srcc_pred=0.99), False)],
                           ["config.json", "checksum mismatch"]),
    "info-deleted-report-field": (lambda c: ["info", edit_config(c, lambda d: _del(d, "report", "hop_moments"), False)],
                                  ["config.json", "checksum mismatch"]),
    "info-edited-manifest": (lambda c: ["info", (lambda m: (m / "manifest.json").write_text(
        (m / "manifest.json").read_text().replace('"model"', '"m0del"')) and m)(c.copy_model())], ["manifest.json", "seal"]),
    "info-missing-manifest": (lambda c: ["info", (lambda m: (m / "manifest.json").unlink() or m)(c.copy_model())],
                              ["manifest.json"]),
    "info-edited-weights": (lambda c: ["info", (lambda m: (m / "model.safetensors").write_bytes(b"x") and m)(c.copy_model())],
                            ["model.safetensors", "checksum mismatch"]),
    "info-resealed-bad-kind": (lambda c: ["info", edit_config(c, lambda d: d.update(kind="transformer"), True)],
                               ["unknown model kind 'transformer'"]),
    "info-resealed-bad-space": (lambda c: ["info", edit_config(c, lambda d: d["space"].update(name=7), True)],
                                ["space"]),
    # ---------------------------------------------------------------- predict
    "predict-dev-zero": (lambda c: ["predict", c.model, "--data", "/dev/zero", "--out", c.tmp / "p.csv"],
                         ["not a regular file"]),
    "predict-provider": (lambda c: ["predict", c.model, "--data", c.data, "--provider", "abacus", "--out", c.tmp / "p.csv"],
                         ["unknown provider 'abacus'"]),
    "predict-batch-zero": (lambda c: ["predict", c.model, "--data", c.data, "--batch-size", 0, "--out", c.tmp / "p.csv"],
                           ["--batch-size must be"]),
    "predict-tampered-onnx": (lambda c: ["predict", (lambda m: (m / "model.onnx").write_bytes(b"\x08\x07") and m)(
        c.copy_model()), "--data", c.data, "--out", c.tmp / "p.csv"], ["model.onnx", "checksum mismatch"]),
    "predict-other-space-arch": (lambda c: ["predict", c.model, "--data", c.csv(
        "pn.csv", "arch", '"{""ks"":[3],""e"":[3],""d"":[1,1,1,1,1,1],""r"":224}"'), "--out", c.tmp / "p.csv"],
        ["pn.csv", "row 1"]),
    "predict-out-is-dir": (lambda c: ["predict", c.model, "--data", c.data, "--out", c.write("od/x", "") and c.tmp / "od"],
                           ["directory"]),
    "predict-column-clash": (lambda c: ["predict", c.model, "--data", c.csv("pc.csv", "arch,pred", f'"{ARCH}",1'),
                                        "--out", c.tmp / "p.csv"], ["pc.csv", "column 'pred' already"]),
    "predict-wrong-space": (lambda c: ["predict", c.model, "--data", c.data, "--space", "ofa-pn", "--out", c.tmp / "p.csv"],
                            ["trained on space 'ofa-mbv3', not 'ofa-pn'"]),
    "predict-out-extension": (lambda c: ["predict", c.model, "--data", c.data, "--out", c.tmp / "p.parquet"],
                              ["p.parquet", "unknown table format"]),
    # ---------------------------------------------------------------- count / export / profile
    "count-no-space": (lambda c: ["count", "--data", c.data, "--out", c.tmp / "c.csv"], ["--space is required"]),
    "count-other-space-arch": (lambda c: ["count", "--space", "ofa-pn", "--data", c.data, "--out", c.tmp / "c.csv"],
                               ["mbv3_400.csv", "row 1", "ofa-mbv3 arch"]),
    "export-bad-json": (lambda c: ["export", "--space", "ofa-mbv3", "--arch", "{ks:", "--out", c.tmp / "m.onnx"],
                        ["--arch", "invalid JSON"]),
    "export-bad-depth": (lambda c: ["export", "--space", "ofa-mbv3", "--arch",
                                    '{"ks":[3],"e":[3],"d":[9,2,2,2,2],"r":224}', "--out", c.tmp / "m.onnx"], ["d"]),
    "export-exists": (lambda c: ["export", "--space", "ofa-mbv3", "--arch", ARCH_JSON, "--out",
                                 c.write("mine.onnx", "keep")], ["mine.onnx", "--overwrite"]),
    "profile-provider": (lambda c: ["profile", "--space", "ofa-mbv3", "--archs", c.data, "--provider", "abacus",
                                    "--out", c.tmp / "l.csv"], ["abacus", "not available"]),
    "profile-foreign-out": (lambda c: ["profile", "--space", "ofa-mbv3", "--archs", c.data, "--out",
                                       c.write("l.csv", "arch,x\n")], ["l.csv", "not written by `autobuild profile`"]),
    # ---------------------------------------------------------------- opgraphs / subgraphs
    "opgraphs-garbage-onnx": (lambda c: ["opgraphs", c.write("m.onnx", b"\x08junk"), "--out", c.tmp / "g.jsonl"],
                              ["no op graph could be made", "not an ONNX model"]),
    "opgraphs-exists": (lambda c: ["opgraphs", c.write("m.onnx", b"x"), "--out", c.write("g.jsonl", "keep")],
                        ["g.jsonl", "--overwrite"]),
    "opgraphs-labels-number": (lambda c: ["opgraphs", "--labels", c.csv("l.csv", "model,acc", "m.onnx,high"), "--out",
                                          c.tmp / "g.jsonl"], ["l.csv", "row 1", "'acc'"]),
    "opgraphs-labels-column": (lambda c: ["opgraphs", "--labels", c.csv("l.csv", "file,acc", "m.onnx,1"), "--out",
                                          c.tmp / "g.jsonl"], ["'model' column"]),
    "opgraphs-space-and-models": (lambda c: ["opgraphs", "m.onnx", "--space", "ofa-mbv3", "--data", c.data, "--out",
                                             c.tmp / "g.jsonl"], ["not both"]),
    "opgraphs-csv-out": (lambda c: ["opgraphs", "m.onnx", "--out", c.tmp / "g.csv"], ["JSONL"]),
    "opgraphs-unknown-space": (lambda c: ["opgraphs", "--space", "ofa-x", "--data", c.data, "--out", c.tmp / "g.jsonl"],
                               ["ofa-x"]),
    "sample-onnx-ir": (lambda c: ["sample", "--space", "onnx-ir", "--n", 3, "--out", c.tmp / "x.csv"],
                       ["cannot generate archs"]),
    "search-onnx-ir": (lambda c: ["search", "--space", "onnx-ir", "--objectives", "a:max,b:min", "--evaluator",
                                  f"{c.evaluators()}:good", "--out", c.tmp / "f.csv"], ["onnx-ir"]),
    "unet-attention-stage2": (lambda c: ["unet", "--arch", '{"cm":256,"mult":[1,2,3,4],"res_in":[2,2,2,2],'
                                         '"res_out":[3,3,3,3],"attn_in":[0,1,1,1],"attn_out":[0,0,1,1]}',
                                         "--out", c.tmp / "u"], ["--arch", "attn_in: stage 2"]),
    "unet-exists": (lambda c: ["unet", "--arch", "{}", "--out", c.write("u/keep.txt", "x") and c.tmp / "u"],
                    ["missing key"]),
    "unet-ofa-space": (lambda c: ["unet", "--space", "ofa-mbv3", "--arch", "{}", "--out", c.tmp / "u"],
                       ["U-Net spaces"]),
    "unet-parent": (lambda c: ["unet", "--arch", '{"cm":256,"mult":[1,2,3,4],"res_in":[2,2,2,2],"res_out":[3,3,3,3],'
                              '"attn_in":[0,0,1,1],"attn_out":[0,0,1,1]}', "--parent", c.write("p/x.txt", "x") and c.tmp / "p",
                              "--out", c.tmp / "u"], ["not a U-Net model folder"]),
    "unet-latent": (lambda c: ["unet", "--arch", "{}", "--check-latent", 12, "--out", c.tmp / "u"],
                    ["--check-latent", "multiple of 8"]),
    "count-unet-arch": (lambda c: ["count", "--space", "sdv14-unet", "--data", c.data, "--out", c.tmp / "c.csv"],
                        ["mbv3_400.csv", "row 1", "looks like an OFA arch"]),
    "exhaustive-sequence-model": (lambda c: ["exhaustive", c.model, "--out", c.tmp / "t.csv"],
                                  ["cannot be searched exhaustively"]),
    "exhaustive-bad-out": (lambda c: ["exhaustive", c.model, "--out", c.tmp / "t.parquet"], ["unknown table format"]),
    "exhaustive-missing-model": (lambda c: ["exhaustive", c.tmp / "none", "--out", c.tmp / "t.csv"],
                                 ["not a model directory"]),
    "train-loss-kgnn": (lambda c: ["train", "--space", "ofa-mbv3", "--data", c.data, "--kind", "kgnn", "--loss", "mse",
                                   "--out", c.tmp / "k"], ["--loss", "k-GNN"]),
    "subgraphs-sequence-model": (lambda c: ["subgraphs", c.model, c.write("m.onnx", b"x")], ["space 'ofa-mbv3'"]),
    "subgraphs-missing-model": (lambda c: ["subgraphs", c.tmp / "none", c.write("m.onnx", b"x")],
                                ["not a model directory"]),
    "subgraphs-bad-out": (lambda c: ["subgraphs", c.model, c.write("m.onnx", b"x"), "--out", c.tmp / "t.parquet"],
                          ["unknown table format"]),
    # ---------------------------------------------------------------- score
    "score-missing-model": (lambda c: ["score", c.tmp / "none", "--out", c.tmp / "s.csv"], ["not a model directory"]),
    "score-foreign-dir": (lambda c: ["score", c.write("d/a.txt", "x") and c.tmp / "d", "--out", c.tmp / "s.csv"],
                          ["config.json"]),
    "score-resolution": (lambda c: ["score", c.model, "--resolution", 999, "--out", c.tmp / "s.csv"],
                         ["999", "not one of [192, 208, 224]"]),
    "score-global-unknown": (lambda c: ["score", c.model, "--global", "w=3", "--out", c.tmp / "s.csv"],
                             ["unknown global feature"]),
    "score-global-syntax": (lambda c: ["score", c.model, "--global", "r", "--out", c.tmp / "s.csv"],
                            ["--global 'r'", "NAME=VALUE"]),
    "score-min-count": (lambda c: ["score", c.model, "--min-count", 1, "--out", c.tmp / "s.csv"], ["--min-count must be"]),
    "score-runtime": (lambda c: ["score", c.model, "--runtime", "tpu", "--out", c.tmp / "s.csv"], ["--runtime", "tpu"]),
    "score-edited-ensemble": (lambda c: ["score", fake_ensemble(c, tamper=True), "--out", c.tmp / "s.csv"],
                              ["ensemble.json", "seal"]),
    "score-out-is-dir": (lambda c: ["score", c.model, "--out", c.write("od/x", "") and c.tmp / "od", "--quiet"],
                         ["directory"]),
    "score-out-extension": (lambda c: ["score", c.model, "--out", c.tmp / "s.json"], ["s.json", "unknown scores format"]),
    # ---------------------------------------------------------------- build
    "build-binary": (lambda c: ["build", c.write("b.csv", b"\x89PNG\r\n\x1a\n\xff\xff"), "--out", c.tmp / "o.csv"],
                     ["b.csv", "UTF-8"]),
    "build-dev-zero": (lambda c: ["build", "/dev/zero", "--out", c.tmp / "o.csv"], ["not a regular file"]),
    "build-not-scores": (lambda c: ["build", c.data, "--out", c.tmp / "o.csv"], ["not a module scores file"]),
    "build-missing": (lambda c: ["build", c.tmp / "none.csv", "--out", c.tmp / "o.csv"], ["none.csv", "not found"]),
    "build-deep-module": (lambda c: ["build", scores_rows(c, lambda r: r[3].__setitem__(2, deep_json(5000))),
                                     "--out", c.tmp / "o.csv"], ["row 3", "nested too deeply"]),
    "build-unknown-stage": (lambda c: ["build", scores_rows(c, lambda r: r[2].__setitem__(0, "9")), "--out", c.tmp / "o.csv"],
                            ["row 2", "unknown stage '9'"]),
    "build-score-inf": (lambda c: ["build", scores_rows(c, lambda r: r[2].__setitem__(5, "inf")), "--out", c.tmp / "o.csv"],
                        ["row 2", "finite"]),
    "build-depth-text": (lambda c: ["build", scores_rows(c, lambda r: r[2].__setitem__(1, "two")), "--out", c.tmp / "o.csv"],
                         ["row 2", "depth"]),
    "build-duplicate-module": (lambda c: ["build", scores_rows(c, lambda r: r.append(r[1])), "--out", c.tmp / "o.csv"],
                               ["twice"]),
    "build-short-row": (lambda c: ["build", scores_rows(c, lambda r: r[4].pop()), "--out", c.tmp / "o.csv"],
                        ["row 4", "fields"]),
    "build-k-zero": (lambda c: ["build", c.scores, "--k", 0, "--out", c.tmp / "o.csv"], ["--k must be"]),
    "build-top-huge": (lambda c: ["build", c.scores, "--top", 10**12, "--out", c.tmp / "o.csv"], ["--top must be"]),
    "build-limit": (lambda c: ["build", c.scores, "--k", 3, "--limit", 10, "--out", c.tmp / "o.csv"], ["--limit 10"]),
    "build-space-other": (lambda c: ["build", c.scores, "--space", "ofa-pn", "--out", c.tmp / "o.csv"],
                          ["scores of space 'ofa-mbv3', not 'ofa-pn'"]),
    "build-space-out-extension": (lambda c: ["build", c.scores, "--out", c.tmp / "o.csv", "--reduced-out", c.tmp / "r.yaml"],
                                  ["r.yaml", "unknown reduced space format"]),
    # ---------------------------------------------------------------- plot
    "plot-out-extension": (lambda c: ["plot", "modules", c.scores, "--out", c.tmp / "p.jpg"], ["p.jpg", "unknown figure format"]),
    "plot-modules-binary": (lambda c: ["plot", "modules", c.write("b.csv", b"\xff\xd8\xff\xe0"), "--out", c.tmp / "p.png"],
                            ["UTF-8"]),
    "plot-modules-n": (lambda c: ["plot", "modules", c.scores, "--show", 0, "--out", c.tmp / "p.png"], ["--show must be"]),
    "plot-importance-missing": (lambda c: ["plot", "importance", c.tmp / "none", "--out", c.tmp / "p.png"],
                                ["not a model directory"]),
    "plot-arch-invalid-json": (lambda c: ["plot", "arch", c.model, "--arch", "{nope", "--out", c.tmp / "p.png"],
                               ["--arch", "invalid JSON"]),
    "plot-arch-deep": (lambda c: ["plot", "arch", c.model, "--arch", deep_json(5000), "--out", c.tmp / "p.png"],
                       ["--arch", "nested too deeply"]),
    "plot-arch-missing-file": (lambda c: ["plot", "arch", c.model, "--arch", f"@{c.tmp / 'a.json'}", "--out", c.tmp / "p.png"],
                               ["a.json", "not found"]),
    "plot-arch-dev-zero": (lambda c: ["plot", "arch", c.model, "--arch", "@/dev/zero", "--out", c.tmp / "p.png"],
                           ["not a regular file"]),
    "plot-arch-not-object": (lambda c: ["plot", "arch", c.model, "--arch", "[1, 2]", "--out", c.tmp / "p.png"],
                             ["JSON object"]),
    "plot-hops-foreign": (lambda c: ["plot", "hops", c.write("d/x", "") and c.tmp / "d", "--out", c.tmp / "p.png"],
                          ["config.json"]),
    # ---------------------------------------------------------------- search
    "search-out-extension": (lambda c: ["search", "--space", "ofa-mbv3", "--objectives", "a:max", "--evaluator",
                                        f"{c.evaluators()}:good", "--out", c.tmp / "f.xlsx", "--journal", c.tmp / "j.db"],
                             ["f.xlsx", "unknown table format"]),
    "search-no-objectives": (lambda c: ["search", "--space", "ofa-mbv3", "--evaluator", "x:y", "--journal", c.tmp / "j.db"],
                             ["--objectives"]),
    "search-bad-objectives": (lambda c: ["search", "--space", "ofa-mbv3", "--objectives", "a:up", "--evaluator",
                                         f"{c.evaluators()}:good", "--journal", c.tmp / "j.db"], ["a:up"]),
    "search-bad-evaluator-module": (lambda c: ["search", "--space", "ofa-mbv3", "--objectives", "a:max,b:min",
                                               "--evaluator", "no_such_module_xyz:fn", "--journal", c.tmp / "j.db"],
                                    ["no_such_module_xyz"]),
    "search-bad-evaluator-function": (lambda c: ["search", "--space", "ofa-mbv3", "--objectives", "a:max,b:min",
                                                 "--evaluator", f"{c.evaluators()}:nope", "--journal", c.tmp / "j.db"],
                                      ["nope", "not a function"]),
    "search-evaluator-syntax": (lambda c: ["search", "--space", "ofa-mbv3", "--objectives", "a:max,b:min",
                                           "--evaluator", "justaname", "--journal", c.tmp / "j.db"], ["module:function"]),
    "search-onnx-missing-metric": (lambda c: ["search", "--space", "ofa-mbv3", "--objectives", "acc:max,lat:min",
                                              "--evaluator", f"onnx:acc={c.model}", "--journal", c.tmp / "j.db"],
                                   ["no model for objective 'lat'"]),
    "search-onnx-other-space": (lambda c: ["search", "--space", "ofa-pn", "--objectives", "acc:max",
                                           "--evaluator", f"onnx:acc={c.model}", "--journal", c.tmp / "j.db"],
                                ["trained on space 'ofa-mbv3'"]),
    "search-budget-shape": (lambda c: ["search", "--space", "ofa-mbv3", "--objectives", "a:max,b:min", "--evaluator",
                                       f"{c.evaluators()}:good", "--budget", 55, "--journal", c.tmp / "j.db"],
                            ["--budget 55"]),
    "search-seed-negative": (lambda c: ["search", "--space", "ofa-mbv3", "--seed", -1], ["--seed must be"]),
    "search-workers-zero": (lambda c: ["search", "--space", "ofa-mbv3", "--workers", 0], ["--workers must be"]),
    "search-resume-missing": (lambda c: ["search", "--resume", c.tmp / "none.db"], ["none.db", "no such journal"]),
    "search-resume-not-sqlite": (lambda c: ["search", "--resume", c.write("notes.db", "my notes")],
                                 ["notes.db", "not a search journal"]),
    "search-resume-conflict": (lambda c: ["search", "--resume", c.journal(), "--objectives", "a:min,b:min"],
                               ["--objectives conflicts with the journal"]),
    "search-resume-smaller-budget": (lambda c: ["search", "--resume", c.journal(), "--budget", 5],
                                     ["--budget 5 is smaller"]),
    "search-resume-auto": (lambda c: ["search", "--resume", c.journal(), "--auto-equations", 2],
                           ["--auto-equations is not used with --resume"]),
    "search-journal-other-settings": (lambda c: ["search", "--space", "ofa-mbv3", "--objectives", "a:max,b:min",
                                                 "--evaluator", f"{c.evaluators()}:good", "--budget", 10, "--initial", 10,
                                                 "--seed", 3, "--executor", "inline", "--journal", c.journal()],
                                      ["holds a search with other settings"]),
    "search-edited-journal-config": (lambda c: ["search", "--resume", edit_journal(c.journal())], ["seal"]),
    "report-missing": (lambda c: ["report", c.tmp / "none", "--out", c.tmp / "r.html"],
                       ["none", "no such file or directory"]),
    "report-not-an-input": (lambda c: ["report", c.write("notes.txt", "my notes"), "--out", c.tmp / "r.html"],
                            ["notes.txt", "not a model directory, a scores CSV"]),
    "report-dev-zero": (lambda c: ["report", "/dev/zero", "--out", c.tmp / "r.html"], ["/dev/zero"]),
    "report-binary-scores": (lambda c: ["report", c.write("s.csv", b"\x89PNG\r\n\x1a\n\xff\xff"), "--out",
                                        c.tmp / "r.html"], ["s.csv"]),
    "report-not-sqlite-journal": (lambda c: ["report", c.write("j.db", b"SQLite format 3\x00" + b"\x00" * 90), "--out",
                                             c.tmp / "r.html"], ["j.db", "journal"]),
    "report-edited-journal": (lambda c: ["report", edit_journal(c.journal()), "--out", c.tmp / "r.html"], ["seal"]),
    "report-out-extension": (lambda c: ["report", c.model, "--out", c.tmp / "r.pdf"], ["r.pdf"]),
    "report-ref-syntax": (lambda c: ["report", c.journal(), "--out", c.tmp / "r.html", "--ref", "a"], ["--ref"]),
    "report-ref-missing-objective": (lambda c: ["report", c.journal(), "--out", c.tmp / "r.html", "--ref", "a=1"],
                                     ["--ref gives no value for objective 'b'"]),
    "report-data-front-no-column": (lambda c: ["report", c.journal(), "--out", c.tmp / "r.html", "--data-front", c.data],
                                    ["'a'"]),
    "search-two-journals": (lambda c: ["search", "--resume", c.tmp / "a.db", "--journal", c.tmp / "b.db"],
                            ["not two different files"]),
    "search-reduced-other-space": (lambda c: ["search", "--space", "ofa-pn", "--reduced", c.reduced(), "--objectives",
                                              "a:max,b:min", "--evaluator", f"{c.evaluators()}:good"],
                                   ["reduced space of 'ofa-mbv3', not 'ofa-pn'"]),
    "search-ref-syntax": (lambda c: ["search", "--space", "ofa-mbv3", "--objectives", "a:max,b:min", "--evaluator",
                                     f"{c.evaluators()}:good", "--ref", "a", "--executor", "inline"], ["--ref"]),
    "search-layer-insight-device": (lambda c: ["search", "--space", "ofa-mbv3", "--strategy", "layer-insight", "--device",
                                               "toaster", "--objectives", "a:max,b:min", "--evaluator",
                                               f"{c.evaluators()}:good", "--journal", c.tmp / "j.db"], ["toaster"]),
}


def _runtime_evaluator_case(fn: str) -> Callable[[Ctx], list]:
    """A search whose evaluator fails only when called (no journal: a run's journal is its state)."""
    return lambda c: ["search", "--space", "ofa-mbv3", "--objectives", "a:max,b:min", "--evaluator",
                      f"{c.evaluators()}:{fn}", "--executor", "inline", "--budget", 10, "--initial", 10,
                      "--out", c.tmp / "f.csv"]


for _fn, _fragment in (("strings", "metric 'a' is not numeric"), ("exits", "called sys.exit(7)"),
                       ("raises", "failed: RuntimeError: boom"), ("short", "1 values for"),
                       ("nodict", "must return a dict"), ("nan", "not finite"), ("missing", "returned no metric 'b'")):
    CASES[f"search-evaluator-{_fn}"] = (_runtime_evaluator_case(_fn), [_fragment])


def edit_journal(path: Path) -> Path:
    import sqlite3

    db = sqlite3.connect(path)
    (value,) = db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
    db.execute("UPDATE meta SET value = ? WHERE key = 'config'", (value.replace('"seed": 0', '"seed": 9'),))
    db.commit()
    db.close()
    return path


def fake_ensemble(c: Ctx, tamper: bool) -> Path:
    """An ensemble directory of one copied member and a sealed manifest (optionally edited after)."""
    from autobuild.manifest import seal
    from autobuild.models.artifact import load_model

    ens = c.tmp / "ens"
    ens.mkdir()
    shutil.copytree(c.model, ens / "fold0-seed0")
    art = load_model(ens / "fold0-seed0")
    doc = seal({"format": "autobuild-ensemble", "members": ["fold0-seed0"],
                "settings": {"space_fingerprint": art.space.fingerprint(), "target": str(art.target)}})
    text = json.dumps(doc)
    if tamper:
        text = text.replace('"fold0-seed0"]', '"fold0-seed0", "fold0-seed0"]')
    (ens / "ensemble.json").write_text(text)
    return ens


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns) if p.is_file() else (-1, 0)
    return out


def test_corpus_covers_every_command():
    from autobuild.cli import cli as group

    assert len(CASES) >= 80
    prefixes = {case.split("-")[0] for case in CASES}
    assert set(group.commands) - {"providers"} <= prefixes  # providers takes no input


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_input(case, tmp_path, small_data, model_dir, scores_csv, monkeypatch):
    monkeypatch.chdir(tmp_path)
    c = Ctx(tmp_path, small_data, model_dir, scores_csv)
    setup, fragments = CASES[case]
    args = setup(c)
    before = _snapshot(tmp_path)
    res = invoke(*args)
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2, (res.exit_code, res.output)
    # Status lines and warnings may come first; the error is one line, the last, and the only one.
    err = lines[-1]
    assert err.startswith("autobuild: error: "), res.stderr
    assert sum(line.startswith("autobuild: error:") for line in lines) == 1, res.stderr
    assert "Traceback" not in res.stderr and "internal error" not in err, res.stderr
    for f in fragments:
        assert f in err, (f, err)
    assert _snapshot(tmp_path) == before, "the failed command wrote or changed files"
    assert not (tmp_path / "pwned").exists()
