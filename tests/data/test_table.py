"""Labelled CSV/JSONL tables (reading, validation, errors, writing) and atomic file writes."""

from __future__ import annotations

import gzip
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from autobuild import AutobuildError
from autobuild.data.builtin import builtin_data_path
from autobuild.data.equation import TargetEquation
from autobuild.data.table import LabelledTable, read_labelled, write_labelled
from autobuild.io_utils import atomic_dir, atomic_file, atomic_write_bytes, atomic_write_text
from autobuild.spaces import get_space

ARCH = {"ks": [3] * 20, "e": [4] * 20, "d": [4, 4, 4, 4, 4], "r": 224}
ARCH_JSON = json.dumps(ARCH, separators=(",", ":"))


def _csv_cell(obj) -> str:
    s = json.dumps(obj, separators=(",", ":"))
    return '"' + s.replace('"', '""') + '"'


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _err(path, **kw) -> str:
    with pytest.raises(AutobuildError) as ei:
        read_labelled(path, **kw)
    msg = str(ei.value)
    assert "\n" not in msg
    return msg


def _leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.startswith("."))


# --------------------------------------------------------------------------- embedded data
@pytest.mark.parametrize("name", ["ofa-mbv3", "ofa-pn"])
def test_builtin_data(name):
    sp = get_space(name)
    t = read_labelled(builtin_data_path(name), validate=sp.validate, require_metrics=("acc", "latency_gpu"))
    assert isinstance(t, LabelledTable)
    assert len(t) == 3000 and len(t.archs) == 3000
    assert list(t.metrics) == ["acc", "latency_gpu", "latency_cpu"]
    for v in t.metrics.values():
        assert v.dtype == np.float64 and v.shape == (3000,) and np.isfinite(v).all()
    assert 0.5 < t.metrics["acc"].mean() < 0.9
    assert t.source == str(builtin_data_path(name))
    assert all(sp.validate(a) == a for a in t.archs[:50])
    y = TargetEquation("100**acc/(log10(latency_gpu+1)+1)").evaluate(t.metrics)
    assert y.shape == (3000,)


def test_builtin_aliases_and_unknown():
    assert builtin_data_path("mbv3") == builtin_data_path("ofa-mbv3")
    with pytest.raises(AutobuildError, match="unknown built-in data set"):
        builtin_data_path("nasbench")


def test_data_package_exports():
    import autobuild.data as d

    if getattr(d, "__file__", None) is None:
        pytest.skip("autobuild.data resolved as a namespace (stale editable install: re-run pip install -e .)")
    assert {"TargetEquation", "LabelledTable", "read_labelled", "write_labelled", "builtin_data_path"} <= set(d.__all__)
    assert d.read_labelled is read_labelled and d.TargetEquation is TargetEquation


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".csv.gz", ".jsonl.gz"])
def test_roundtrip(tmp_path, suffix):
    sp = get_space("ofa-mbv3")
    archs = sp.sample(40, seed=5)
    rng = np.random.default_rng(1)
    cols = {"acc": rng.uniform(0, 1, 40), "latency_gpu": rng.uniform(1, 30, 40) * 1e-7, "big": rng.uniform(0, 1, 40) * 1e300}
    cols["acc"][0] = 0.1 + 0.2  # needs 17 significant digits
    out = write_labelled(tmp_path / "sub" / "dir" / f"t{suffix}", archs, cols)
    assert out == tmp_path / "sub" / "dir" / f"t{suffix}"
    if suffix.endswith(".gz"):
        assert out.read_bytes()[:2] == b"\x1f\x8b"
    t = read_labelled(out, validate=sp.validate, require_metrics=("acc",))
    assert t.archs == archs
    assert list(t.metrics) == ["acc", "latency_gpu", "big"]
    for k in cols:
        np.testing.assert_array_equal(t.metrics[k], cols[k])  # exact, not approximate
    assert _leftovers(out.parent) == []


def test_write_format(tmp_path):
    archs = [ARCH, {**ARCH, "r": np.int64(192)}]
    p = write_labelled(tmp_path / "a.csv", archs, {"acc": np.array([0.5, 0.25], dtype=np.float32), "n": [1, 2]})
    lines = p.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "arch,acc,n"
    assert lines[1] == f"{_csv_cell(ARCH)},0.5,1.0"
    assert '""r"":192' in lines[2]
    p = write_labelled(tmp_path / "a.jsonl", archs[:1], {"acc": [0.1]})
    assert p.read_text(encoding="utf-8") == f'{{"arch":{ARCH_JSON},"acc":0.1}}\n'


def test_arch_only_files(tmp_path):
    sp = get_space("ofa-pn")
    archs = sp.sample(7, seed=0)
    for name in ("s.csv", "s.jsonl"):
        t = read_labelled(write_labelled(tmp_path / name, archs), validate=sp.validate)
        assert t.archs == archs and t.metrics == {}
    assert (tmp_path / "s.csv").read_text().splitlines()[0] == "arch"
    with pytest.raises(AutobuildError, match=r"s\.csv: no column 'acc' \(columns: arch\)"):
        read_labelled(tmp_path / "s.csv", require_metrics=("acc",))


def test_validate_canonicalises(tmp_path):
    sp = get_space("ofa-mbv3")
    a = sp.sample(1, seed=2)[0]
    raw = json.loads(json.dumps(a))
    d0 = raw["d"][0]
    if d0 < 4:
        raw["ks"][d0], raw["e"][d0] = 7, 6  # padding slot: any value, canonical form zeroes it
    p = _write(tmp_path / "c.csv", f"arch,acc\n{_csv_cell(raw)},0.5\n")
    assert read_labelled(p).archs == [raw]
    assert read_labelled(p, validate=sp.validate).archs == [a]


def test_blank_lines_crlf_bom_and_whitespace(tmp_path):
    p = tmp_path / "w.csv"
    p.write_bytes(("\ufeffarch , acc\r\n" + f"{_csv_cell(ARCH)}, 0.5 \r\n\r\n{_csv_cell(ARCH)},1e-3\r\n\r\n").encode("utf-8"))
    t = read_labelled(p)
    np.testing.assert_array_equal(t.metrics["acc"], [0.5, 0.001])
    q = _write(tmp_path / "w.jsonl", f'\n{{"arch":{ARCH_JSON},"acc":1}}\n   \n{{"acc":2,"arch":{ARCH_JSON}}}\n')
    t = read_labelled(q)
    assert len(t) == 2 and t.metrics["acc"].tolist() == [1.0, 2.0]


def test_unknown_suffix_is_sniffed(tmp_path):
    p = _write(tmp_path / "data.txt", f'{{"arch":{ARCH_JSON},"acc":0.5}}\n')
    assert read_labelled(p).metrics["acc"].tolist() == [0.5]
    q = _write(tmp_path / "data.dat", f"arch,acc\n{_csv_cell(ARCH)},0.5\n")
    assert read_labelled(q).metrics["acc"].tolist() == [0.5]
    r = tmp_path / "gz_without_suffix"
    r.write_bytes(gzip.compress(f"arch,acc\n{_csv_cell(ARCH)},0.5\n".encode()))
    assert len(read_labelled(r)) == 1


# --------------------------------------------------------------------------- CSV errors
def test_missing_empty_and_directory(tmp_path):
    assert _err(tmp_path / "nope.csv") == f"{tmp_path / 'nope.csv'}: file not found"
    assert "is a directory" in _err(tmp_path)
    assert _err(_write(tmp_path / "e.csv", "")) == f"{tmp_path / 'e.csv'}: empty file (no header row)"
    assert _err(_write(tmp_path / "h.csv", "arch,acc\n")) == f"{tmp_path / 'h.csv'}: empty file (no data rows)"
    assert _err(_write(tmp_path / "e.jsonl", "\n\n")) == f"{tmp_path / 'e.jsonl'}: empty file (no data rows)"


def test_header_errors(tmp_path):
    p = _write(tmp_path / "x.csv", "acc,latency\n0.1,2\n")
    assert _err(p) == f"{p}: no column 'arch' (columns: acc, latency)"
    p = _write(tmp_path / "y.csv", f"arch,acc\n{_csv_cell(ARCH)},0.5\n")
    assert _err(p, require_metrics=("acc", "latency_gpu")) == f"{p}: no column 'latency_gpu' (columns: arch, acc)"
    p = _write(tmp_path / "d.csv", f"arch,acc,acc\n{_csv_cell(ARCH)},0.5,0.5\n")
    assert "duplicate column 'acc'" in _err(p)
    p = _write(tmp_path / "n.csv", f"arch,,acc\n{_csv_cell(ARCH)},1,0.5\n")
    assert "empty column name" in _err(p)


@pytest.mark.parametrize(
    "cell_arch, acc, expected",
    [
        ('"{""ks"": [3,"', "0.5", "row 2: column 'arch': malformed JSON"),
        ("", "0.5", "row 2: column 'arch': empty value"),
        ('"[1,2,3]"', "0.5", "row 2: column 'arch': arch must be a JSON object, got array"),
        ('"""a string"""', "0.5", "row 2: column 'arch': arch must be a JSON object, got string"),
        (None, "", "row 2: column 'acc': empty value"),
        (None, "abc", "row 2: column 'acc': not a number: 'abc'"),
        (None, "nan", "row 2: column 'acc': NaN label"),
        (None, "NaN", "row 2: column 'acc': NaN label"),
        (None, "inf", "row 2: column 'acc': infinite label"),
        (None, "-Infinity", "row 2: column 'acc': infinite label"),
        (None, "1e999", "row 2: column 'acc': infinite label"),
    ],
)
def test_csv_cell_errors_name_file_row_column(tmp_path, cell_arch, acc, expected):
    cell = _csv_cell(ARCH) if cell_arch is None else cell_arch
    p = _write(tmp_path / "bad.csv", f"arch,acc\n{_csv_cell(ARCH)},0.5\n{cell},{acc}\n{_csv_cell(ARCH)},0.5\n")
    msg = _err(p)
    assert msg.startswith(f"{p}: {expected}"), msg


def test_csv_field_count_and_row_numbering(tmp_path):
    good = f"{_csv_cell(ARCH)},0.5"
    p = _write(tmp_path / "f.csv", f"arch,acc\n{good}\n\n{good}\n{good},7\n")  # blank line is not a data row
    assert _err(p) == f"{p}: row 3: expected 2 fields (arch, acc), got 3"
    p = _write(tmp_path / "g.csv", f"arch,acc\n{good}\n{_csv_cell(ARCH)}\n")
    assert _err(p).startswith(f"{p}: row 2: expected 2 fields")


def test_validate_errors_are_prefixed(tmp_path):
    sp = get_space("ofa-mbv3")
    bad = {**ARCH, "d": [9, 4, 4, 4, 4]}
    p = _write(tmp_path / "v.csv", f"arch,acc\n{_csv_cell(ARCH)},0.5\n{_csv_cell(ARCH)},0.5\n{_csv_cell(bad)},0.5\n")
    msg = _err(p, validate=sp.validate)
    assert msg.startswith(f"{p}: row 3: ") and "d[0] = 9" in msg
    p = _write(tmp_path / "k.csv", f"arch,acc\n{_csv_cell({'ks': [3]})},0.5\n")
    msg = _err(p, validate=sp.validate)
    assert msg.startswith(f"{p}: row 1: ") and "missing key(s)" in msg
    assert len(read_labelled(p)) == 1  # without a validator any JSON object is accepted


def test_corrupt_gzip_and_encoding(tmp_path):
    data = gzip.compress(f"arch,acc\n{_csv_cell(ARCH)},0.5\n".encode() * 50)
    p = tmp_path / "t.csv.gz"
    p.write_bytes(data[: len(data) // 2])
    assert "corrupt gzip data" in _err(p)
    q = tmp_path / "l.csv"
    q.write_bytes(b"arch,acc\n\xff\xfe,0.5\n")
    assert "not UTF-8" in _err(q)


# --------------------------------------------------------------------------- JSONL errors
@pytest.mark.parametrize(
    "line, expected",
    [
        ("{not json", "row 3: record: malformed JSON"),
        ("[1, 2]", "row 3: expected a JSON object, got array"),
        ('{"acc": 0.5}', "row 3: no key 'arch' (keys: acc)"),
        (f'{{"arch": {ARCH_JSON}}}', "row 3: missing key 'acc'"),
        (f'{{"arch": {ARCH_JSON}, "acc": 0.5, "lat": 1}}', "row 3: unexpected key 'lat'"),
        ('{"arch": [1], "acc": 0.5}', "row 3: column 'arch': arch must be a JSON object, got array"),
        (f'{{"arch": {ARCH_JSON}, "acc": NaN}}', "row 3: column 'acc': NaN label"),
        (f'{{"arch": {ARCH_JSON}, "acc": Infinity}}', "row 3: column 'acc': infinite label"),
        (f'{{"arch": {ARCH_JSON}, "acc": null}}', "row 3: column 'acc': empty value"),
        (f'{{"arch": {ARCH_JSON}, "acc": "0.5"}}', "row 3: column 'acc': not a number"),
        (f'{{"arch": {ARCH_JSON}, "acc": true}}', "row 3: column 'acc': not a number"),
    ],
)
def test_jsonl_errors_name_file_and_line(tmp_path, line, expected):
    p = _write(tmp_path / "bad.jsonl", f'{{"arch": {ARCH_JSON}, "acc": 0.5}}\n\n{line}\n')
    msg = _err(p)
    assert msg.startswith(f"{p}: {expected}"), msg


def test_jsonl_required_metric(tmp_path):
    p = _write(tmp_path / "r.jsonl", f'{{"arch": {ARCH_JSON}, "acc": 0.5}}\n')
    assert _err(p, require_metrics=["latency_gpu"]) == f"{p}: no column 'latency_gpu' (columns: arch, acc)"


# --------------------------------------------------------------------------- write errors
def test_write_rejects_bad_columns_and_writes_nothing(tmp_path):
    out = tmp_path / "o.csv"
    cases = [
        ({"acc": [0.1]}, "expected 2 values"),
        ({"acc": [0.1, float("nan")]}, "non-finite value nan at row 2"),
        ({"arch": [0.1, 0.2]}, "reserved"),
        ({"": [0.1, 0.2]}, "invalid column name"),
        ({"acc": ["x", "y"]}, "not numeric"),
    ]
    for cols, fragment in cases:
        with pytest.raises(AutobuildError, match=fragment):
            write_labelled(out, [ARCH, ARCH], cols)
    with pytest.raises(AutobuildError, match="arch 1: cannot write as JSON"):
        write_labelled(out, [ARCH, {"x": object()}])
    with pytest.raises(AutobuildError, match="arch 0: must be a dict"):
        write_labelled(out, [[1, 2]])
    assert list(tmp_path.iterdir()) == []


def test_write_replaces_existing_file(tmp_path):
    out = _write(tmp_path / "o.csv", "old content\n")
    write_labelled(out, [ARCH], {"acc": [0.5]})
    assert read_labelled(out).metrics["acc"].tolist() == [0.5]
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- atomic writes
def test_atomic_write_text_and_bytes(tmp_path):
    p = tmp_path / "a" / "b" / "f.txt"
    atomic_write_text(p, "héllo\r\nworld")
    assert p.read_bytes() == "héllo\r\nworld".encode()
    atomic_write_bytes(p, b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~_umask()
    assert _leftovers(p.parent) == []


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_atomic_file_no_file_on_error(tmp_path):
    p = tmp_path / "new.csv"
    with pytest.raises(RuntimeError):
        with atomic_file(p) as f:
            f.write("partial " * 1000)
            f.flush()
            raise RuntimeError("boom mid-write")
    assert not p.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_file_keeps_old_content_on_error(tmp_path):
    p = _write(tmp_path / "old.csv", "original\n")
    with pytest.raises(KeyboardInterrupt):
        with atomic_file(p, "wb") as f:
            f.write(b"new")
            raise KeyboardInterrupt
    assert p.read_text() == "original\n"
    assert _leftovers(tmp_path) == []
    with atomic_file(p) as f:
        assert Path(f.name).parent == tmp_path and Path(f.name) != p
        f.write("replaced\n")
    assert p.read_text() == "replaced\n"


def test_atomic_file_errors(tmp_path):
    with pytest.raises(ValueError, match="unsupported mode"):
        with atomic_file(tmp_path / "x", "a"):
            pass
    with pytest.raises(AutobuildError, match="is a directory"):
        atomic_write_text(tmp_path, "x")
    _write(tmp_path / "file", "x")
    with pytest.raises(AutobuildError, match="not a directory"):
        atomic_write_text(tmp_path / "file" / "sub.txt", "x")


def test_write_labelled_interrupted_leaves_no_file(tmp_path, monkeypatch):
    import autobuild.io_utils as io_utils

    real_replace = os.replace

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io_utils.os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_labelled(tmp_path / "x.csv", [ARCH], {"acc": [0.5]})
    monkeypatch.setattr(io_utils.os, "replace", real_replace)
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_new_and_replace(tmp_path):
    target = tmp_path / "models" / "m1"
    with atomic_dir(target) as tmp:
        assert Path(tmp).parent == target.parent and Path(tmp).is_dir() and not target.exists()
        (Path(tmp) / "config.json").write_text("{}")
    assert (target / "config.json").read_text() == "{}"
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~_umask()
    # Replacing an existing directory: the old contents are gone as a whole.
    (target / "stale.bin").write_bytes(b"x")
    (target / "nested").mkdir()
    (target / "nested" / "f").write_text("y")
    with atomic_dir(target) as tmp:
        (Path(tmp) / "config.json").write_text('{"v": 2}')
    assert sorted(p.name for p in target.iterdir()) == ["config.json"]
    assert (target / "config.json").read_text() == '{"v": 2}'
    assert _leftovers(target.parent) == []


def test_atomic_dir_error_leaves_existing_intact(tmp_path):
    target = tmp_path / "m"
    target.mkdir()
    (target / "config.json").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (Path(tmp) / "config.json").write_text("new")
            (Path(tmp) / "model.onnx").write_bytes(b"partial")
            raise RuntimeError("export failed")
    assert sorted(p.name for p in target.iterdir()) == ["config.json"]
    assert (target / "config.json").read_text() == "old"
    assert _leftovers(tmp_path) == []
    # A failure on a fresh path leaves nothing behind either.
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "fresh"):
            raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_atomic_dir_refuses_a_file(tmp_path):
    f = _write(tmp_path / "model", "not a dir")
    with pytest.raises(AutobuildError, match="exists and is not a directory"):
        with atomic_dir(f):
            pytest.fail("must not be entered")
    assert f.read_text() == "not a dir"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    # A file that appears while the directory is being written is refused too, and kept.
    g = tmp_path / "late"
    with pytest.raises(AutobuildError, match="exists and is not a directory"):
        with atomic_dir(g) as tmp:
            (Path(tmp) / "x").write_text("x")
            g.write_text("raced")
    assert g.read_text() == "raced"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late", "model"]


def test_import_needs_no_torch_or_extension():
    import subprocess
    import sys

    code = (
        "import sys; import autobuild.data, autobuild.data.table, autobuild.data.equation, autobuild.io_utils; "
        "bad = [m for m in ('torch', 'torch_geometric', 'onnxruntime', 'autobuild._core', 'pandas') if m in sys.modules]; "
        "assert not bad, bad"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "python")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr


def test_read_encoded_is_read_then_encode(tmp_path):
    """read_encoded gives read_labelled's table and the codes of encoding it, encoding each arch once
    (macro spaces) or through space.encode (others); a bad row is still named."""
    from autobuild.data.table import read_encoded
    from autobuild.spaces import get_space

    for name in ("ofa-mbv3", "ofa-pn"):
        sp = get_space(name)
        table, codes = read_encoded(builtin_data_path(name), sp)
        ref = read_labelled(builtin_data_path(name), validate=sp.validate)
        assert table.archs == ref.archs and np.array_equal(codes, sp.encode(ref.archs))
    sp = get_space("sdv14-unet")  # no encode_one: validated, then encoded
    path = tmp_path / "unet.jsonl"
    path.write_text("".join(json.dumps({"arch": a, "fid": float(i)}) + "\n" for i, a in enumerate(sp.sample(4, seed=1))),
                    encoding="utf-8")
    table, codes = read_encoded(path, sp)
    assert np.array_equal(codes, sp.encode(table.archs)) and len(table) == 4
    bad = tmp_path / "bad.csv"
    bad.write_text('arch,acc\n"{""ks"": [3]}",0.5\n', encoding="utf-8")
    with pytest.raises(AutobuildError, match="row 1"):
        read_encoded(bad, get_space("ofa-mbv3"))
