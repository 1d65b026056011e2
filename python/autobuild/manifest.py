"""Tamper-evident output directories: ``manifest.json`` holds the SHA-256 of every file autobuild
wrote there (the config included) and a seal, the SHA-256 of its own content, so that an edited
config, weight file, ONNX graph or manifest is refused with one line naming the file.

This detects accidental or careless edits and corruption; it is not a signature (whoever can write
the directory can recompute the hashes), which the README states."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from .errors import AutobuildError

MANIFEST = "manifest.json"
FORMAT = "autobuild-manifest"
FORMAT_VERSION = 1


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _digest(d: dict) -> str:
    blob = json.dumps({k: v for k, v in d.items() if k != "sha256"}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def seal(d: dict) -> dict:
    """``d`` with a ``sha256`` field over the rest of its content."""
    out = {k: v for k, v in d.items() if k != "sha256"}
    out["sha256"] = _digest(out)
    return out


def check_seal(d: dict, where: str) -> None:
    if not isinstance(d.get("sha256"), str) or d["sha256"] != _digest(d):
        raise AutobuildError(f"{where}: content does not match its seal (edited or corrupt); "
                             "autobuild files are not meant to be edited: write a new one")


def write_manifest(directory: str | Path, files: list[str], kind: str) -> None:
    """Hash ``files`` (names inside ``directory``) into its manifest (call last, inside the temporary)."""
    d = Path(directory)
    doc = seal({"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind,
                "files": {name: sha256_file(d / name) for name in sorted(files)}})
    (d / MANIFEST).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def read_manifest(directory: str | Path) -> dict | None:
    """The parsed manifest of ``directory``, or ``None`` when it has none that autobuild wrote."""
    from .safe_input import parse_json, read_text

    p = Path(directory) / MANIFEST
    if not p.is_file():
        return None
    try:
        doc = parse_json(read_text(p, "manifest", 1 << 20), str(p))
    except AutobuildError:
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("files"), dict):
        return None
    return doc


def verify(directory: str | Path, kind: str, required: tuple[str, ...]) -> dict[str, str]:
    """Check the manifest's seal and every file's hash; returns name -> hash."""
    d = Path(directory)
    doc = read_manifest(d)
    if doc is None:
        raise AutobuildError(f"{d}: missing or unreadable {MANIFEST} (not an autobuild {kind} directory, "
                             "or one written by autobuild < 0.2: retrain it)")
    where = str(d / MANIFEST)
    check_seal(doc, where)
    if doc.get("format_version") != FORMAT_VERSION or doc.get("kind") != kind:
        raise AutobuildError(f"{where}: not a version-{FORMAT_VERSION} manifest of a {kind} directory")
    files: dict[str, Any] = doc["files"]
    for name in required:
        if name not in files:
            raise AutobuildError(f"{where}: does not list {name}")
    for name, h in files.items():
        f = d / name
        if "/" in name or name.startswith("."):
            raise AutobuildError(f"{where}: bad file name {name!r}")
        if not f.is_file():
            raise AutobuildError(f"{d}: missing {name}")
        if sha256_file(f) != h:
            raise AutobuildError(f"{f}: checksum mismatch (edited or corrupt file; autobuild files are not meant "
                                 "to be edited: retrain or restore it)")
    return dict(files)


def owned_files(directory: str | Path) -> set[str] | None:
    """The entries autobuild wrote in ``directory`` (its manifest and the files it lists), or None."""
    doc = read_manifest(directory)
    if doc is None:
        return None
    return {MANIFEST, *map(str, doc["files"])}
