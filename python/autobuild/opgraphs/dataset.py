"""Op-graph data files: one JSONL row per model, ``{"arch": <op graph>, <metric>: value, ...}``.

Rows come from OFA archs (each subnet built with ``ofa``, exported by the TorchScript exporter at
its resolution, converted; random weights, since an op graph does not depend on them) or from the
user's ONNX files. The file is a labelled data file like any other: ``autobuild train --space
onnx-ir --data FILE`` reads it; two files concatenated (``cat a.jsonl b.jsonl``) are one data set.

Writing is resumable and never leaves a half file at ``OUT``: rows are appended (and flushed) to
``OUT.partial`` as they are made, a rerun skips the sources already there, and only the finished
file is moved to ``OUT``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..errors import AutobuildError
from .convert import op_graph


def ofa_op_graph(space: Any, arch: dict, seed: int = 0) -> dict:
    """The op graph of an OFA arch's subnet (``source`` = the canonical arch as JSON)."""
    import torch

    from ..networks.ofa_build import build_subnet, onnx_bytes

    canon = space.validate(arch)
    net = build_subnet(space, canon, seed=seed)
    r = int(canon["r"])
    g = op_graph(onnx_bytes(net, torch.zeros(1, 3, r, r)))
    g["source"] = json.dumps(canon, separators=(",", ":"))
    return g


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def done_sources(out: Path) -> set[str]:
    """Sources already written to ``OUT.partial`` (a torn last line, from a killed run, is dropped)."""
    part = partial_path(out)
    if not part.exists():
        return set()
    keep, seen = [], set()
    with part.open("r", encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
                src = rec["arch"]["source"]
            except (ValueError, KeyError, TypeError):
                break  # the torn tail of an interrupted write: everything after it is redone
            keep.append(line)
            seen.add(src)
    with part.open("w", encoding="utf-8") as f:  # rewrite without the torn tail
        f.writelines(keep)
    return seen


def write_op_graphs(out: str | Path, items: Iterable[tuple[str, dict]], make: Callable[[Any], dict],
                    on_row: Callable[[str, str | None], None] | None = None) -> dict:
    """Make and write the op graph of every ``(source, {"what": ..., metric: value})`` item.

    ``make(what)`` returns the op graph; its ``source`` is set to ``source``. A failing item is
    reported to ``on_row(source, error)`` and skipped (``on_row(source, None)`` after each good
    one). Returns counts; ``OUT`` appears only when every item was tried."""
    out = Path(out)
    done = done_sources(out)
    written = kept = 0
    failures: list[dict] = []
    part = partial_path(out)
    part.parent.mkdir(parents=True, exist_ok=True)
    with part.open("a", encoding="utf-8") as f:
        for source, item in items:
            if source in done:
                kept += 1
                continue
            try:
                g = make(item["what"])
            except (AutobuildError, RuntimeError, ValueError, MemoryError) as e:
                failures.append({"source": source, "error": str(e).splitlines()[0][:300] if str(e) else type(e).__name__})
                if on_row:
                    on_row(source, failures[-1]["error"])
                continue
            g["source"] = source
            rec = {"arch": g, **{k: v for k, v in item.items() if k != "what"}}
            f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            f.flush()
            done.add(source)
            written += 1
            if on_row:
                on_row(source, None)
        os.fsync(f.fileno())
    if written + kept == 0:
        part.unlink()  # made by this call and empty: nothing of the user's is left behind
        raise AutobuildError(f"{out}: no op graph could be made ({failures[0]['error'] if failures else 'no input rows'})")
    os.replace(part, out)
    return {"written": written, "kept": kept, "failures": failures}


def labelled_models(labels: str | Path | None, models: Iterable[str]) -> Iterator[tuple[str, dict]]:
    """``(source, item)`` of ONNX files: the ``models`` given, or the rows of a ``labels`` CSV with a
    ``model`` column (paths relative to the CSV) and numeric metric columns."""
    import csv

    from ..safe_input import bounded_lines, open_text

    if labels is None:
        for m in models:
            yield str(m), {"what": Path(m)}
        return
    base = Path(labels).parent
    with open_text(labels, "labels file") as f:
        reader = csv.reader(bounded_lines(f, str(labels)))
        try:
            header = next(reader)
        except StopIteration:
            raise AutobuildError(f"{labels}: empty file") from None
        if "model" not in header:
            raise AutobuildError(f"{labels}: needs a 'model' column (path of each ONNX file), has {', '.join(header)}")
        im = header.index("model")
        for n, row in enumerate(reader, start=1):
            if not row:
                continue
            if len(row) != len(header):
                raise AutobuildError(f"{labels}: row {n}: {len(row)} cells, the header has {len(header)}")
            item: dict[str, Any] = {"what": base / row[im]}
            for j, h in enumerate(header):
                if j == im:
                    continue
                try:
                    item[h] = float(row[j])
                except ValueError:
                    raise AutobuildError(f"{labels}: row {n}: column {h!r}: {row[j][:40]!r} is not a number") from None
            yield row[im], item
