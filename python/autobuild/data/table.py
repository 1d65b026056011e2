"""Labelled architecture files: CSV or JSONL, optionally gzipped.

* CSV: a header row; column ``arch`` holds each architecture as a JSON object, every other column
  is a numeric metric (``acc``, ``latency_gpu``...). Empty cells, non-numbers and NaN/inf are errors.
* JSONL: one JSON object per line, key ``arch`` plus one key per metric; blank lines are skipped.
  Every record must have the keys of the first one.

Gzip is detected from the file's magic bytes (``.csv.gz``/``.jsonl.gz``). Every error is one
:class:`AutobuildError` line naming the file and, where it applies, the 1-based data row (CSV) or
line (JSONL) and the column.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import itertools
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AutobuildError
from ..io_utils import TABLE_FORMATS, atomic_write_bytes, atomic_write_text, output_format
from ..safe_input import bounded_lines, open_text, parse_json
from .builtin import display_name

ARCH = "arch"
Validator = Callable[[Any], dict]


@dataclass
class LabelledTable:
    """Architectures (canonical dicts when read with a validator) and their metric columns."""

    archs: list[dict]
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    source: str = ""  # the file read
    name: str = ""  # the data as the user named it (``builtin:ofa-mbv3`` or the path given)
    codes: np.ndarray | None = None  # the archs' codes in the space that validated them (read_encoded)

    def __len__(self) -> int:
        return len(self.archs)


# --------------------------------------------------------------------------- reading
def _is_jsonl(path: Path, first: str) -> bool:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith((".jsonl", ".ndjson")):
        return True
    if name.endswith(".csv"):
        return False
    return first.lstrip().startswith("{")  # unknown suffix: sniff the first non-blank line


def _number(v: Any, col: str, text: bool = True) -> float:
    """A finite float from a CSV cell (``text``: a str) or a JSON value (a JSON number)."""
    if text:
        s = v.strip()
        if not s:
            raise AutobuildError(f"column {col!r}: empty value")
        try:
            x = float(s)
        except ValueError:
            raise AutobuildError(f"column {col!r}: not a number: {s[:40]!r}") from None
    elif v is None:
        raise AutobuildError(f"column {col!r}: empty value (null)")
    elif isinstance(v, (bool, str)) or not isinstance(v, (int, float)):
        raise AutobuildError(f"column {col!r}: not a number: {json.dumps(v)[:40]}")
    else:
        try:
            x = float(v)
        except OverflowError:
            x = math.inf
    if math.isnan(x):
        raise AutobuildError(f"column {col!r}: NaN label")
    if math.isinf(x):
        raise AutobuildError(f"column {col!r}: infinite label")
    return x


def _arch(v: Any, validate: Validator | None) -> dict:
    if not isinstance(v, dict):
        raise AutobuildError(f"column {ARCH!r}: arch must be a JSON object, got {_json_type(v)}")
    return validate(v) if validate is not None else v


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}.get(type(v), type(v).__name__)


def _check_columns(path: str, columns: Sequence[str], require: Iterable[str]) -> None:
    for name in require:
        if name not in columns:
            raise AutobuildError(f"{path}: no column {name!r} (columns: {', '.join(columns)})")


@dataclass
class Records:
    """The rows of an arch file as given: ``header`` (column / key order), per row the raw cells
    (CSV: the text of every cell; JSONL: the parsed values) and the validated arch dicts."""

    header: list[str]
    rows: list[dict[str, Any]]
    archs: list[dict]
    jsonl: bool
    source: str = ""

    def __len__(self) -> int:
        return len(self.rows)


def _csv_rows(name: str, lines: Iterator[str]) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    reader = csv.reader(lines)
    header = next(reader, None)
    while header is not None and not header:  # leading blank lines
        header = next(reader, None)
    if header is None:
        raise AutobuildError(f"{name}: empty file (no header row)")
    header = [h.strip() for h in header]
    for j, h in enumerate(header):
        if not h:
            raise AutobuildError(f"{name}: header: empty column name (column {j + 1})")
        if header.index(h) != j:
            raise AutobuildError(f"{name}: header: duplicate column {h!r}")
    if ARCH not in header:
        raise AutobuildError(f"{name}: no column {ARCH!r} (columns: {', '.join(header)})")

    def rows() -> Iterator[tuple[int, list[str]]]:
        n = 0
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            n += 1
            if len(row) != len(header):
                raise AutobuildError(f"{name}: row {n}: expected {len(header)} fields ({', '.join(header)}), got {len(row)}")
            yield n, row

    return header, rows()


def _jsonl_rows(name: str, lines: Iterator[str]) -> Iterator[tuple[int, dict]]:
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = parse_json(line, "record")
            if not isinstance(rec, dict):
                raise AutobuildError(f"expected a JSON object, got {_json_type(rec)}")
            if ARCH not in rec:
                raise AutobuildError(f"no key {ARCH!r} (keys: {', '.join(rec) or 'none'})")
        except AutobuildError as e:
            raise AutobuildError(f"{name}: row {lineno}: {e}") from None
        yield lineno, rec


def _arch_cell(cell: str) -> Any:
    cell = cell.strip()
    if not cell:
        raise AutobuildError(f"column {ARCH!r}: empty value")
    return parse_json(cell, f"column {ARCH!r}")


@contextlib.contextmanager
def _open_rows(path: Path) -> Iterator[tuple[str, bool, Iterator[str]]]:
    """(display name, is JSONL, bounded line iterator) of a data file; errors name the file."""
    name = display_name(path)
    with open_text(path, "data file", name=name) as f:
        lines = bounded_lines(f, name)
        first = ""
        buffered: list[str] = []
        for line in lines:  # sniff the first non-blank line, keep what was read
            buffered.append(line)
            if line.strip():
                first = line
                break
        try:
            yield name, _is_jsonl(path, first), itertools.chain(buffered, lines)
        except csv.Error as e:
            raise AutobuildError(f"{name}: malformed CSV ({e})") from None


def read_labelled(path: str | Path, validate: Validator | None = None, require_metrics: Iterable[str] = ()) -> LabelledTable:
    """Read a labelled CSV/JSONL file (gzip allowed; bounded size and line length), or the embedded
    data named ``builtin:NAME``.

    ``validate`` maps each arch dict to its canonical form or raises :class:`AutobuildError`
    (e.g. ``MacroSpace.validate``); ``require_metrics`` are metric columns that must be present."""
    from .builtin import resolve_data

    given = str(path)
    path = resolve_data(path)
    require = list(require_metrics)
    archs: list[dict] = []
    values: dict[str, list[float]] = {}
    with _open_rows(path) as (name, jsonl, lines):
        if jsonl:
            keys: list[str] | None = None  # arch + metric keys of the first record
            for lineno, rec in _jsonl_rows(name, lines):
                if keys is None:
                    keys = [ARCH] + [k for k in rec if k != ARCH]
                    _check_columns(name, keys, require)
                    values = {k: [] for k in keys[1:]}
                try:
                    missing = [k for k in keys if k not in rec]
                    extra = [k for k in rec if k not in values and k != ARCH]
                    if missing:
                        raise AutobuildError(f"missing key {missing[0]!r} (the first record has: {', '.join(keys)})")
                    if extra:
                        raise AutobuildError(f"unexpected key {extra[0]!r} (the first record has: {', '.join(keys)})")
                    arch = _arch(rec[ARCH], validate)
                    nums = [_number(rec[k], k, text=False) for k in values]
                except AutobuildError as e:
                    raise AutobuildError(f"{name}: row {lineno}: {e}") from None
                archs.append(arch)
                for k, x in zip(values, nums):
                    values[k].append(x)
        else:
            header, rows = _csv_rows(name, lines)
            _check_columns(name, header, require)
            ia = header.index(ARCH)
            mcols = [(j, h) for j, h in enumerate(header) if j != ia]
            values = {h: [] for _, h in mcols}
            for n, row in rows:
                try:
                    arch = _arch(_arch_cell(row[ia]), validate)
                    nums = [_number(row[j], h, text=True) for j, h in mcols]
                except AutobuildError as e:
                    raise AutobuildError(f"{name}: row {n}: {e}") from None
                archs.append(arch)
                for (_, h), x in zip(mcols, nums):
                    values[h].append(x)
    if not archs:
        raise AutobuildError(f"{name}: empty file (no data rows)")
    metrics = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    return LabelledTable(archs, metrics, str(path), given)


def read_records(path: str | Path, validate: Validator | None = None) -> Records:
    """Read an arch file keeping every row as given (any extra columns, the arch text untouched);
    only the arch is validated. For commands that add columns to the user's rows (``predict``)."""
    from .builtin import resolve_data

    path = resolve_data(path)
    rows: list[dict[str, Any]] = []
    archs: list[dict] = []
    with _open_rows(path) as (name, jsonl, lines):
        if jsonl:
            header: list[str] = []
            for lineno, rec in _jsonl_rows(name, lines):
                for k in rec:
                    if k not in header:
                        header.append(k)
                try:
                    archs.append(_arch(rec[ARCH], validate))
                except AutobuildError as e:
                    raise AutobuildError(f"{name}: row {lineno}: {e}") from None
                rows.append(rec)
        else:
            header, it = _csv_rows(name, lines)
            ia = header.index(ARCH)
            for n, row in it:
                try:
                    archs.append(_arch(_arch_cell(row[ia]), validate))
                except AutobuildError as e:
                    raise AutobuildError(f"{name}: row {n}: {e}") from None
                rows.append(dict(zip(header, row)))
    if not rows:
        raise AutobuildError(f"{name}: empty file (no data rows)")
    return Records(header, rows, archs, jsonl, str(path))


def write_records(path: str | Path, records: Records, columns: Mapping[str, Any]) -> Path:
    """Write ``records`` as given plus new numeric ``columns`` (CSV, or JSONL by the name's
    extension; ``.gz`` gzips); integer columns stay integers. An input column with the name of a
    new one is an error."""
    path = Path(path)
    jsonl_out = output_format(path, TABLE_FORMATS, "table") == "jsonl"
    n = len(records)
    ints = {k for k, v in columns.items() if np.issubdtype(np.asarray(v).dtype, np.integer)}
    cols = _columns(columns, n)
    num = {k: (int if k in ints else float) for k in cols}
    clash = [c for c in cols if c in records.header]
    if clash:
        raise AutobuildError(f"{records.source}: has a column {clash[0]!r} already; rename it so that the new one "
                             "does not hide it")
    buf = io.StringIO()
    if jsonl_out:
        for i, row in enumerate(records.rows):
            rec = dict(row)
            if not records.jsonl:  # CSV cells: the arch as its JSON object, the rest as text
                rec[ARCH] = parse_json(row[ARCH], ARCH)
            rec.update({k: num[k](c[i]) for k, c in cols.items()})
            buf.write(json.dumps(rec, separators=(",", ":"), allow_nan=False) + "\n")
    else:
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([*records.header, *cols])
        for i, row in enumerate(records.rows):
            cells = [row.get(h, "") if not records.jsonl else _cell_text(row.get(h, "")) for h in records.header]
            w.writerow([*cells, *(repr(num[k](c[i])) for k, c in cols.items())])
    _write_text(path, buf.getvalue())
    return path


def _cell_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    return json.dumps(v, separators=(",", ":"))


def _write_text(path: Path, text: str) -> None:
    if path.name.lower().endswith(".gz"):
        atomic_write_bytes(path, gzip.compress(text.encode("utf-8"), mtime=0))
    else:
        atomic_write_text(path, text)


# --------------------------------------------------------------------------- writing
def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def _dump_arch(a: Any, i: int) -> str:
    if not isinstance(a, Mapping):
        raise AutobuildError(f"arch {i}: must be a dict, got {type(a).__name__}")
    try:
        return json.dumps(dict(a), separators=(",", ":"), default=_json_default, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise AutobuildError(f"arch {i}: cannot write as JSON ({e})") from None


def _columns(columns: Mapping[str, Any] | None, n: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, col in (columns or {}).items():
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise AutobuildError(f"invalid column name {name!r}")
        if name == ARCH:
            raise AutobuildError(f"column name {ARCH!r} is reserved for the architectures")
        try:
            arr = np.asarray(col, dtype=np.float64)
        except (TypeError, ValueError):
            raise AutobuildError(f"column {name!r}: not numeric") from None
        if arr.shape != (n,):
            raise AutobuildError(f"column {name!r}: expected {n} values (one per arch), got shape {arr.shape}")
        bad = np.flatnonzero(~np.isfinite(arr))
        if len(bad):
            raise AutobuildError(f"column {name!r}: non-finite value {arr[bad[0]]} at row {int(bad[0]) + 1}")
        out[name] = arr
    return out


def _iter_csv(archs: Sequence[Any], cols: dict[str, np.ndarray]) -> Iterator[list[str]]:
    yield [ARCH, *cols]
    for i, a in enumerate(archs):
        yield [_dump_arch(a, i), *(repr(float(c[i])) for c in cols.values())]


def write_labelled(path: str | Path, archs: Sequence[Any], columns: Mapping[str, Any] | None = None) -> Path:
    """Write archs (compact JSON) and numeric columns as CSV, or JSONL when the name ends in
    ``.jsonl``; a trailing ``.gz`` gzips. Floats are written with ``repr`` (exact round trip).
    The file is replaced atomically; parent directories are created."""
    path = Path(path)
    jsonl = output_format(path, TABLE_FORMATS, "table") == "jsonl"
    archs = list(archs)
    cols = _columns(columns, len(archs))
    buf = io.StringIO()
    if jsonl:
        for i, a in enumerate(archs):
            arch = _dump_arch(a, i)
            extra = "".join(f",{json.dumps(k)}:{float(c[i])!r}" for k, c in cols.items())
            buf.write(f'{{"{ARCH}":{arch}{extra}}}\n')
    else:
        w = csv.writer(buf, lineterminator="\n")
        w.writerows(_iter_csv(archs, cols))
    _write_text(path, buf.getvalue())
    return path


def read_encoded(path: str | Path, space: Any, require_metrics: Iterable[str] = ()) -> tuple[LabelledTable, np.ndarray]:
    """:func:`read_labelled` validated by ``space`` and the arch codes of its rows (``space.encode``
    of the canonical archs), each arch encoded once: spaces with ``encode_one`` / ``decode_one``
    keep the code their validation computes (validating then encoding 2,700 OFA archs encoded each
    twice, half a second of a training run)."""
    from ..spaces.base import SpaceBase

    if getattr(type(space), "encode_one", None) is SpaceBase.encode_one:  # no faster one-arch path of its own
        table = read_labelled(path, validate=space.validate, require_metrics=require_metrics)
        table.codes = space.encode(table.archs)
        return table, table.codes
    encode_one, decode_one = space.encode_one, space.decode_one
    codes: list[np.ndarray] = []

    def validate(arch: Any) -> dict:
        code = encode_one(arch)
        codes.append(code)
        return decode_one(code)

    table = read_labelled(path, validate=validate, require_metrics=require_metrics)
    table.codes = np.stack(codes)
    return table, table.codes
