"""Atomic file and directory writes.

Everything is first written to a temporary sibling of the destination (same directory, hence the
same file system), flushed and fsync'ed, then renamed over the destination with :func:`os.replace`.
A failure (exception, Ctrl-C) deletes the temporary and leaves the destination untouched, so a
reader never sees a half-written file or model directory. Parent directories are created.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from .errors import AutobuildError

# Final files and folders get the usual permissions (0666/0777 & ~umask), whatever wrote them.
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK
DIR_MODE = 0o777 & ~_UMASK


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


def _remove(path: str | Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)


# ----------------------------------------------------------------------------- temporaries
# A temporary is named ``.<target>.ab<pid>-<random>.tmp`` next to its target: the writer's pid lets
# the next run of any command that writes the same target remove what a killed run left behind.
_TMP = re.compile(r"^\.(?P<name>.+)\.ab(?P<pid>\d+)-[A-Za-z0-9_]+\.(tmp|old)$")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(path: str | Path) -> list[Path]:
    """Remove the temporaries of ``path`` left by killed runs (their writer is gone); returns them.

    A previous directory that a killed replace had moved aside while ``path`` itself is missing is
    moved back instead of deleted, so nothing is lost."""
    path = Path(path)
    parent = path.parent
    if not parent.is_dir():
        return []
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return []
    for e in entries:
        m = _TMP.match(e.name)
        if not m or m.group("name") != path.name or _pid_alive(int(m.group("pid"))):
            continue
        p = Path(e.path)
        if e.name.endswith(".old") and not os.path.lexists(path):
            os.replace(p, path)  # the old version, back where it was
            continue
        _remove(p)
        removed.append(p)
    return removed


def _tmp_name(path: Path) -> str:
    return f".{path.name}.ab{os.getpid()}-{secrets.token_hex(4)}"


def _exchange(a: str | Path, b: str | Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd, rename_exchange = -100, 2
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "w", encoding: str | None = "utf-8",
                newline: str | None = None) -> Iterator[IO[Any]]:
    """Yield a handle on a temporary file next to ``path``; on success it replaces ``path``.

    ``mode`` is ``"w"``/``"wt"`` (text; ``encoding``/``newline`` apply) or ``"wb"`` (binary).
    On any exception the temporary is deleted, ``path`` is left as it was and the exception
    propagates. Temporaries of ``path`` left by killed runs are removed first."""
    if mode not in ("w", "wt", "wb"):
        raise ValueError(f"atomic_file: unsupported mode {mode!r} (use 'w' or 'wb')")
    path = Path(path)
    if path.is_dir():
        raise AutobuildError(f"{path}: is a directory")
    parent = _prepare_parent(path)
    clean_stale(path)
    tmp = str(parent / (_tmp_name(path) + ".tmp"))
    try:
        if "b" in mode:
            f = open(tmp, "xb")  # noqa: SIM115
        else:
            f = open(tmp, "x", encoding=encoding, newline=newline)  # noqa: SIM115
    except BaseException:
        _remove(tmp)
        raise
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_path(parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_file(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (no newline translation)."""
    with atomic_file(path, "w", encoding=encoding, newline="") as f:
        f.write(text)


def _finish_tree(root: Path) -> None:
    """fsync every file of a new tree and give files and folders the usual modes."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                os.chmod(p, FILE_MODE)
                _fsync_path(p)
        os.chmod(dirpath, DIR_MODE)
        _fsync_path(dirpath)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[str]:
    """Yield the path of a temporary directory next to ``path``; on success it replaces ``path``.

    The replace is one atomic rename (an exchange with the previous directory where the OS offers
    it), so ``path`` is at every moment either the old or the new directory. Whether an existing
    directory may be replaced is the caller's decision (see :func:`check_output_dir`); an existing
    file or symlink is an :class:`AutobuildError`, raised before anything is written. On any
    exception the temporary directory is removed and ``path`` is left as it was."""
    path = Path(path)

    def check() -> None:
        if os.path.lexists(path) and (path.is_symlink() or not path.is_dir()):
            raise AutobuildError(f"{path}: exists and is not a directory")

    check()
    parent = _prepare_parent(path)
    clean_stale(path)
    tmp = parent / (_tmp_name(path) + ".tmp")
    os.mkdir(tmp, 0o700)
    try:
        yield str(tmp)
        check()
        _finish_tree(tmp)
        if not os.path.lexists(path):
            os.rename(tmp, path)
        elif _exchange(tmp, path):
            _remove(tmp)  # now the previous directory
        else:  # no exchange on this platform: move aside (restored by clean_stale if killed here)
            old = parent / (_tmp_name(path) + ".old")
            os.rename(path, old)
            os.rename(tmp, path)
            _remove(old)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_path(parent)


# ----------------------------------------------------------------------------- output directories
def check_output_dir(path: str | Path, overwrite: bool, owned_files: Callable[[Path], set[str] | None],
                     option: str = "--out") -> bool:
    """May the command write the directory ``path``? Returns whether it exists (to be replaced).

    Never deletes what autobuild did not write: a missing or empty directory is fine; one that
    ``owned_files`` recognises (returns the entries autobuild wrote there) may be replaced with
    ``overwrite`` only, and only if it holds nothing else; anything else is an error."""
    p = Path(path)
    if not os.path.lexists(p):
        return False
    if p.is_symlink() or not p.is_dir():
        raise AutobuildError(f"{option} {p}: exists and is not a directory")
    entries = {e for e in os.listdir(p) if not _TMP.match(e)}
    if not entries:
        return True
    owned = owned_files(p)
    if owned is None:
        raise AutobuildError(f"{option} {p}: exists and is not an autobuild output directory; "
                             "not touching it (choose another path)")
    if not overwrite:
        raise AutobuildError(f"{option} {p}: already exists; pass --overwrite to replace it")
    foreign = sorted(entries - owned)
    if foreign:
        raise AutobuildError(f"{option} {p}: holds {foreign[0]!r}, which autobuild did not write; "
                             "not replacing the directory (move that file away first)")
    return True


TABLE_FORMATS = {".csv": "csv", ".csv.gz": "csv", ".jsonl": "jsonl", ".jsonl.gz": "jsonl", ".ndjson": "jsonl",
                 ".ndjson.gz": "jsonl"}
FIGURE_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
SCORES_FORMATS = {".csv": "csv"}
REDUCED_FORMATS = {".json": "json"}
REPORT_FORMATS = {".html": "html", ".htm": "html"}
#: Output kind -> the extensions it may have (``output_format``; the CLI checks them up front).
OUTPUT_FORMATS = {"table": TABLE_FORMATS, "figure": FIGURE_FORMATS, "scores": SCORES_FORMATS,
                  "reduced space": REDUCED_FORMATS, "report": REPORT_FORMATS}


def output_format(path: str | Path, formats: dict[str, str], what: str = "output") -> str:
    """The format an output's extension names; an unknown extension is an error (never silently CSV)."""
    name = Path(path).name.lower()
    for ext in sorted(formats, key=len, reverse=True):
        if name.endswith(ext) and len(name) > len(ext):
            return formats[ext]
    raise AutobuildError(f"{path}: unknown {what} format; use one of {', '.join(sorted(formats))}")


def replace_dir_start(path: str | Path) -> None:
    """Remove a directory the caller has checked it may replace (:func:`check_output_dir`), moving
    it aside first so that a kill mid-way leaves either the old directory or none, never half."""
    path = Path(path)
    old = path.parent / (_tmp_name(path) + ".old")
    os.rename(path, old)
    _remove(old)


def read_format_json(path: str | Path, fmt: str, version: int, what: str) -> dict:
    """Read a JSON document tagged ``{"format": fmt, "format_version": version}``; one-line errors."""
    from .safe_input import parse_json, read_text

    p = Path(path)
    if not p.is_file():
        raise AutobuildError(f"{p}: file not found")
    d = parse_json(read_text(p, what), f"{p}")
    if not isinstance(d, dict) or d.get("format") != fmt:
        raise AutobuildError(f"{p}: not {what}")
    if d.get("format_version") != version:
        raise AutobuildError(f"{p}: unsupported format version {d.get('format_version')!r} (this autobuild reads {version})")
    return d


class Closing:
    """A context manager over ``close()`` (which subclasses define), closed on garbage collection too."""

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def __enter__(self):  # noqa: ANN204 - the subclass
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - interpreter shutdown order varies
        try:
            self.close()
        except Exception:
            pass
