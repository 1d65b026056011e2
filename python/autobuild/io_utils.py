"""Atomic file and directory writes.

Everything is first written to a temporary sibling of the destination (same directory, hence the
same file system), flushed and fsync'ed, then renamed over the destination with :func:`os.replace`.
A failure (exception, Ctrl-C) deletes the temporary and leaves the destination untouched, so a
reader never sees a half-written file or model directory. Parent directories are created.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .errors import AutobuildError

# Temporaries are created 0600/0700; final files get the usual permissions (0666/0777 & ~umask).
_UMASK = os.umask(0)
os.umask(_UMASK)


def _prepare_parent(path: Path) -> Path:
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise AutobuildError(f"{path}: parent {parent} is not a directory")
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def _fsync_path(path: str | Path) -> None:
    """fsync a file or directory (best effort; directories cannot be synced on every platform)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    """Persist a rename in ``path``."""
    _fsync_path(path)


def _remove(path: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "w", encoding: str | None = "utf-8",
                newline: str | None = None) -> Iterator[IO[Any]]:
    """Yield a handle on a temporary file next to ``path``; on success it replaces ``path``.

    ``mode`` is ``"w"``/``"wt"`` (text; ``encoding``/``newline`` apply) or ``"wb"`` (binary).
    On any exception the temporary is deleted, ``path`` is left as it was and the exception
    propagates."""
    if mode not in ("w", "wt", "wb"):
        raise ValueError(f"atomic_file: unsupported mode {mode!r} (use 'w' or 'wb')")
    path = Path(path)
    if path.is_dir():
        raise AutobuildError(f"{path}: is a directory")
    parent = _prepare_parent(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    os.close(fd)
    try:  # reopened by name so that ``f.name`` is the temporary's path
        if "b" in mode:
            f = open(tmp, "wb")  # noqa: SIM115
        else:
            f = open(tmp, "w", encoding=encoding, newline=newline)  # noqa: SIM115
    except BaseException:
        _remove(tmp)
        raise
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_dir(parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_file(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (no newline translation)."""
    with atomic_file(path, "w", encoding=encoding, newline="") as f:
        f.write(text)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                _fsync_path(p)
        _fsync_dir(Path(dirpath))


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[str]:
    """Yield the path of a temporary directory next to ``path``; on success it replaces ``path``.

    An existing directory at ``path`` is replaced as a whole (moved aside, then deleted once the
    new one is in place); an existing file (or anything else that is not a directory) is an
    :class:`AutobuildError`, raised before anything is written. On any exception the temporary
    directory is removed, ``path`` is left as it was and the exception propagates."""
    path = Path(path)

    def check() -> None:
        if os.path.lexists(path) and (path.is_symlink() or not path.is_dir()):
            raise AutobuildError(f"{path}: exists and is not a directory")

    check()
    parent = _prepare_parent(path)
    tmp = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        yield tmp
        check()
        _fsync_tree(Path(tmp))
        os.chmod(tmp, 0o777 & ~_UMASK)
        old: str | None = None
        if os.path.lexists(path):
            # A non-empty directory cannot be renamed over: move the old one aside first.
            old = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=parent)
            os.replace(path, old)  # replaces the empty placeholder directory
        try:
            os.replace(tmp, path)
        except BaseException:
            if old is not None:
                os.replace(old, path)
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_format_json(path: str | Path, fmt: str, version: int, what: str) -> dict:
    """Read a JSON document tagged ``{"format": fmt, "format_version": version}``; one-line errors."""
    import json

    p = Path(path)
    if not p.is_file():
        raise AutobuildError(f"{p}: file not found")
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise AutobuildError(f"{p}: corrupt JSON: {e}") from None
    if not isinstance(d, dict) or d.get("format") != fmt:
        raise AutobuildError(f"{p}: not {what}")
    if d.get("format_version") != version:
        raise AutobuildError(f"{p}: unsupported format version {d.get('format_version')!r} (this autobuild reads {version})")
    return d
