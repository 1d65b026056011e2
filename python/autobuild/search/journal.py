"""Durable search journal: SQLite in WAL mode, one row per evaluated architecture, committed the
moment its evaluation returns, so a killed search loses nothing it had finished."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..errors import AutobuildError

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
        try:
            self.db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            raise AutobuildError(f"{self.path}: not a usable search journal ({e})") from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()
        return None if row is None else json.loads(row[0])

    def set_config(self, config: dict) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('config', ?)", (json.dumps(config, sort_keys=True),))

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
        """Every stored evaluation: hash -> metrics."""
        return {int(h, 16): json.loads(m) for h, m in self.db.execute("SELECT hash, metrics FROM evals ORDER BY id")}

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM evals").fetchone()[0])


def metrics_row(metrics: dict[str, np.ndarray], i: int) -> dict[str, float]:
    return {k: float(v[i]) for k, v in metrics.items()}
