"""Durable search journal: SQLite in WAL mode, one row per evaluated architecture, committed the
moment its evaluation returns, so a killed search loses nothing it had finished.

A journal has one writer at a time: opening it takes an exclusive ``flock`` on ``JOURNAL-lock``,
which the kernel releases when the process ends however it ends (no stale lock after ``kill -9``).
The file names the holder, so a second run is refused with who holds it. The run's settings are
stored sealed (:func:`autobuild.manifest.seal`): an edited configuration is refused, not obeyed."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..errors import AutobuildError
from ..manifest import check_seal, seal

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, so no single-writer lock
    fcntl = None  # type: ignore[assignment]


class JournalLock:
    """Exclusive, process-lifetime lock on ``<journal>-lock`` naming its holder."""

    def __init__(self, journal: Path) -> None:
        self.path = Path(f"{journal}-lock")
        self.fd: int | None = None
        if fcntl is None:
            return
        for _ in range(5):  # the file may be unlinked by a finishing holder between open and lock
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "another process"
                os.close(fd)
                raise AutobuildError(f"{journal}: in use by another search ({holder}); wait for it to end, "
                                     "or use another --journal") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        else:  # pragma: no cover - pathological churn
            raise AutobuildError(f"{journal}: cannot take the journal lock {self.path}")
        argv = " ".join(["autobuild", *sys.argv[1:]])[:400]
        info = f"pid {os.getpid()} on {socket.gethostname()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}: {argv}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode("utf-8"), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self.fd)  # releases the flock
            self.fd = None

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hash TEXT NOT NULL UNIQUE,
    arch TEXT NOT NULL,
    metrics TEXT NOT NULL,
    iteration INTEGER NOT NULL,
    seconds REAL NOT NULL,
    created REAL NOT NULL
);
"""


class Journal:
    """``Journal(path)``: open or create; ``config`` holds the run's settings (JSON)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_file():
            raise AutobuildError(f"{self.path}: not a file")
        if self.path.is_file() and self.path.stat().st_size:
            with open(self.path, "rb") as f:
                if f.read(16) != b"SQLite format 3\x00":
                    raise AutobuildError(f"{self.path}: not a search journal (not an SQLite file); not touching it")
        self.lock = JournalLock(self.path)
        try:
            self.db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            self.lock.release()
            raise AutobuildError(f"{self.path}: not a usable search journal ({e})") from None

    def close(self) -> None:
        self.db.close()
        self.lock.release()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict | None:
        """The stored run settings (seal checked), or ``None`` for a new journal."""
        return stored_config(self.db, self.path)

    def set_config(self, config: dict) -> None:
        doc = json.dumps(seal({"config": config}), sort_keys=True)
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('config', ?)", (doc,))

    # ------------------------------------------------------------------ evaluations
    def record(self, rows: Iterable[tuple[int, dict, dict, int, float]]) -> None:
        """Store ``(hash, arch, metrics, iteration, seconds)`` rows in one transaction."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR IGNORE INTO evals (hash, arch, metrics, iteration, seconds, created) VALUES (?, ?, ?, ?, ?, ?)",
                [(f"{h:016x}", json.dumps(a, separators=(",", ":")), json.dumps(m), it, s, now) for h, a, m, it, s in rows],
            )

    def load(self) -> dict[int, dict[str, float]]:
        """Every stored evaluation: hash -> metrics (a malformed row is an error naming it)."""
        out: dict[int, dict[str, float]] = {}
        for rid, h, m in self.db.execute("SELECT id, hash, metrics FROM evals ORDER BY id"):
            try:
                vals = json.loads(m)
                if not isinstance(vals, dict):
                    raise ValueError
                out[int(h, 16)] = {str(k): float(v) for k, v in vals.items()}
            except (TypeError, ValueError, RecursionError):
                raise AutobuildError(f"{self.path}: evaluation row {rid} is corrupt") from None
        return out

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM evals").fetchone()[0])


def stored_config(db: sqlite3.Connection, path: str | Path) -> dict | None:
    """The run settings stored in a journal's database (seal checked), or ``None`` when none are."""
    row = db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
    if row is None:
        return None
    where = f"{path}: stored search configuration"
    try:
        d = json.loads(row[0])
    except (TypeError, ValueError, RecursionError):
        raise AutobuildError(f"{where}: corrupt") from None
    if not isinstance(d, dict) or not isinstance(d.get("config"), dict):
        raise AutobuildError(f"{where}: corrupt or written by another version")
    check_seal(d, where)
    return d["config"]


def metrics_row(metrics: dict[str, np.ndarray], i: int) -> dict[str, float]:
    return {k: float(v[i]) for k, v in metrics.items()}
