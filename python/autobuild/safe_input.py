"""Reading untrusted input with bounded time and memory: regular files only, a cap on the bytes
read (after gzip decompression) and on the length of a line, JSON with a nesting cap, YAML without
aliases (no "billion laughs"). Every failure is one :class:`AutobuildError` line naming the file."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from . import limits
from .errors import AutobuildError


def check_regular_file(path: str | Path, what: str = "file", max_bytes: int | None = None) -> Path:
    """``path`` as a Path if it is an existing regular file no larger than ``max_bytes``."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise AutobuildError(f"{p}: file not found") from None
    except OSError as e:
        raise AutobuildError(f"{p}: cannot read: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise AutobuildError(f"{p}: is a directory, not a {what}")
    if not stat.S_ISREG(st.st_mode):
        raise AutobuildError(f"{p}: not a regular file (a device, pipe or socket); save the {what} to a file first")
    cap = limits.MAX_INPUT_BYTES if max_bytes is None else max_bytes
    if st.st_size > cap:
        raise AutobuildError(f"{p}: {st.st_size:,} bytes is larger than the {cap:,}-byte limit for a {what}")
    return p


class _Capped(io.RawIOBase):
    """A binary reader that fails once more than ``cap`` bytes have been read through it."""

    def __init__(self, raw: IO[bytes], cap: int, name: str) -> None:
        self.raw, self.cap, self.name, self.count = raw, cap, name, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self.raw.readinto(b)  # type: ignore[attr-defined]
        self.count += n or 0
        if self.count > self.cap:
            raise AutobuildError(f"{self.name}: more than {self.cap:,} bytes of (decompressed) data; refusing to read on")
        return n

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.raw.close()
        super().close()


@contextlib.contextmanager
def open_text(path: str | Path, what: str = "file", max_bytes: int | None = None,
              name: str | None = None) -> Iterator[IO[str]]:
    """Open a regular UTF-8 text file (gzip detected by its magic bytes) with a cap on the bytes read;
    ``name``: how messages call it (default: the path).

    Decoding and gzip errors inside the block become one-line :class:`AutobuildError`s."""
    p = check_regular_file(path, what, max_bytes)
    cap = limits.MAX_INPUT_BYTES if max_bytes is None else max_bytes
    name = str(p) if name is None else name
    raw = open(p, "rb")  # noqa: SIM115 - closed by the wrappers below
    try:
        gz = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        src: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw  # type: ignore[assignment]
        text = io.TextIOWrapper(io.BufferedReader(_Capped(src, cap, name)), encoding="utf-8-sig", newline="")
    except BaseException:
        raw.close()
        raise
    try:
        with text:
            yield text
    except UnicodeDecodeError as e:
        raise AutobuildError(f"{name}: not UTF-8 text ({e.reason} at byte {e.start}); is it a binary file?") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise AutobuildError(f"{name}: corrupt gzip data ({e or type(e).__name__})") from None
    finally:
        raw.close()


def bounded_lines(f: IO[str], name: str, max_line: int | None = None) -> Iterator[str]:
    """The lines of ``f``, each at most ``max_line`` characters (else one clear error)."""
    cap = limits.MAX_LINE_BYTES if max_line is None else max_line
    lineno = 0
    while True:
        line = f.readline(cap + 1)
        if not line:
            return
        lineno += 1
        if len(line) > cap and not line.endswith("\n"):
            raise AutobuildError(f"{name}: line {lineno} is longer than {cap:,} characters")
        yield line


def read_text(path: str | Path, what: str = "file", max_bytes: int | None = None) -> str:
    """The whole (bounded) text of a file."""
    with open_text(path, what, max_bytes) as f:
        return f.read()


def _depth_ok(obj: Any, cap: int) -> bool:
    stack = [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (dict, list)):
            if d > cap:
                return False
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return True


def _value_error(e: Exception) -> str:
    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
    if "digits" in msg and "limit" in msg:
        return "a number with more than 4300 digits"
    return msg


def parse_json(text: str, what: str = "JSON") -> Any:
    """``json.loads`` whose every failure (syntax, nesting, giant integers) is one error line."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise AutobuildError(f"{what}: malformed JSON ({e.msg} at char {e.pos})") from None
    except RecursionError:
        raise AutobuildError(f"{what}: JSON nested too deeply") from None
    except ValueError as e:  # e.g. an integer with more than 4300 digits
        raise AutobuildError(f"{what}: {_value_error(e)}") from None
    # Every level costs at least its two brackets: a shorter text cannot be nested too deeply.
    if len(text) > 2 * limits.MAX_JSON_DEPTH and not _depth_ok(obj, limits.MAX_JSON_DEPTH):
        raise AutobuildError(f"{what}: JSON nested deeper than {limits.MAX_JSON_DEPTH} levels")
    return obj


def load_yaml(text: str, what: str) -> Any:
    """``yaml.safe_load`` without aliases (an alias bomb expands a few hundred bytes into gigabytes)."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: ANN401
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise AutobuildError(f"{what}: line {mark.line + 1}: YAML aliases (*name) are not allowed")
            return super().compose_node(parent, index)

    try:
        obj = yaml.load(text, Loader=NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except AutobuildError:
        raise
    except yaml.YAMLError as e:
        raise AutobuildError(f"{what}: cannot parse YAML: {str(e).splitlines()[0]}") from None
    except RecursionError:
        raise AutobuildError(f"{what}: YAML nested too deeply") from None
    except (ValueError, OverflowError) as e:  # e.g. an integer with more than 4300 digits
        raise AutobuildError(f"{what}: {_value_error(e)}") from None
    if not _depth_ok(obj, limits.MAX_JSON_DEPTH):
        raise AutobuildError(f"{what}: nested deeper than {limits.MAX_JSON_DEPTH} levels")
    return obj
