"""A search read back from its journal, read-only: for reports and plots of a finished run, or of
one still running (the writer's lock is not taken, so a live search is never disturbed)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from .. import limits
from ..errors import AutobuildError
from .ea import SearchConfig, SearchResult
from .journal import stored_config
from .objectives import parse_objectives


def is_journal(path: str | Path) -> bool:
    """True when ``path`` is a regular SQLite file (what a search journal is); never opens a pipe
    or a device."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        with open(p, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _held(path: Path) -> bool:
    """Whether a search holds the journal now (its ``-lock`` file is flock-ed)."""
    lock = Path(f"{path}-lock")
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no flock: treat a journal with a -wal as live
        return Path(f"{path}-wal").exists()
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock taken above, if any
    return False


@contextlib.contextmanager
def _connect(p: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection that leaves nothing beside the journal.

    A journal a search holds is read through SQLite's shared memory (``mode=ro``: the writer keeps
    its ``-wal`` / ``-shm``); a closed one as ``immutable``; one a killed search left with a ``-wal``
    is copied, with it, to a temporary folder and read there."""
    live = _held(p)
    wal = Path(f"{p}-wal")
    with tempfile.TemporaryDirectory(prefix="autobuild-journal-") as tmp:
        src, mode = p, ("mode=ro" if live else "immutable=1")
        if not live and wal.exists():
            src = Path(tmp) / "journal.db"
            shutil.copyfile(p, src)
            shutil.copyfile(wal, f"{src}-wal")
            mode = "mode=ro"
        try:
            db = sqlite3.connect(f"{src.resolve().as_uri()}?{mode}", uri=True, timeout=30)
        except sqlite3.Error as e:
            raise AutobuildError(f"{p}: cannot open the journal ({e})") from None
        try:
            yield db
        finally:
            db.close()


def _read(db: sqlite3.Connection, p: Path) -> tuple[SearchConfig, list]:
    try:
        stored = stored_config(db, p)
        if stored is None:
            raise AutobuildError(f"{p}: journal holds no search configuration")
        cfg = SearchConfig.from_dict(stored, f"{p}: stored search configuration")
        n = int(db.execute("SELECT COUNT(*) FROM evals").fetchone()[0])
        if n > limits.MAX_ARCHS:
            raise AutobuildError(f"{p}: {n:,} evaluations (> {limits.MAX_ARCHS:,}, the most autobuild reads)")
        return cfg, db.execute("SELECT id, arch, metrics, iteration FROM evals ORDER BY id").fetchall()
    except sqlite3.DatabaseError as e:
        raise AutobuildError(f"{p}: not a usable search journal ({e})") from None


def read_search(path: str | Path) -> tuple[SearchConfig, SearchResult]:
    """``(config, result)`` of the search journaled in ``path``: every evaluation in the order it
    was recorded, with its iteration (bounded by :data:`autobuild.limits.MAX_ARCHS` rows)."""
    from ..spaces import space_from_dict

    p = Path(path)
    if not is_journal(p):
        raise AutobuildError(f"{p}: not a search journal (not a regular SQLite file)")
    with _connect(p) as db:
        cfg, rows = _read(db, p)
    sp = space_from_dict(cfg.space, f"{p}: search space")
    objs = parse_objectives(cfg.objectives)
    names = [o.metric for o in objs]
    archs, its, values = [], [], {k: [] for k in names}
    for rid, arch, mets, it in rows:
        try:
            a, m = json.loads(arch), json.loads(mets)
            if not isinstance(m, dict):
                raise ValueError
            for k in names:
                values[k].append(float(m[k]))
            archs.append(sp.validate(a))
            its.append(int(it))
        except (TypeError, ValueError, KeyError, RecursionError, AutobuildError):
            raise AutobuildError(f"{p}: evaluation row {rid} is corrupt") from None
    codes = sp.encode(archs) if archs else np.zeros((0, 0), np.int64)
    metrics = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    return cfg, SearchResult(sp, objs, codes, metrics, np.asarray(its, dtype=np.int64))


__all__ = ["is_journal", "read_search"]
