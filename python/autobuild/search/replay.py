"""A search read back from its journal, read-only: for reports and plots of a finished run, or of
one still running (the writer's lock is not taken, so a live search is never disturbed)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np

from .. import limits
from ..errors import AutobuildError
from .ea import SearchConfig, SearchResult
from .journal import stored_config
from .objectives import parse_objectives


def is_journal(path: str | Path) -> bool:
    """True when ``path`` is an SQLite file (what a search journal is)."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            return p.is_file() and f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def read_search(path: str | Path) -> tuple[SearchConfig, SearchResult]:
    """``(config, result)`` of the search journaled in ``path``: every evaluation in the order it
    was recorded, with its iteration (bounded by :data:`autobuild.limits.MAX_ARCHS` rows)."""
    from ..spaces import space_from_dict

    p = Path(path)
    if not is_journal(p):
        raise AutobuildError(f"{p}: not a search journal (not an SQLite file)")
    # A journal a search holds (its -wal file exists) is read through SQLite's shared memory, read
    # only; a closed one as immutable, so that reading it leaves no -wal / -shm file behind.
    live = Path(f"{p}-wal").exists()
    try:
        db = sqlite3.connect(f"{p.resolve().as_uri()}?{'mode=ro' if live else 'immutable=1'}", uri=True, timeout=30)
    except sqlite3.Error as e:
        raise AutobuildError(f"{p}: cannot open the journal ({e})") from None
    try:
        stored = stored_config(db, p)
        if stored is None:
            raise AutobuildError(f"{p}: journal holds no search configuration")
        cfg = SearchConfig.from_dict(stored, f"{p}: stored search configuration")
        n = int(db.execute("SELECT COUNT(*) FROM evals").fetchone()[0])
        if n > limits.MAX_ARCHS:
            raise AutobuildError(f"{p}: {n:,} evaluations (> {limits.MAX_ARCHS:,}, the most autobuild reads)")
        rows = db.execute("SELECT id, arch, metrics, iteration FROM evals ORDER BY id").fetchall()
    except sqlite3.DatabaseError as e:
        raise AutobuildError(f"{p}: not a usable search journal ({e})") from None
    finally:
        db.close()
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
