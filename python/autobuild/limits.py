"""Bounds on every input, so that a hostile or mistaken input ends in a clear error quickly and with
bounded memory instead of exhausting the machine. One home for every limit; each can be raised by an
environment variable for the rare legitimate giant (``AUTOBUILD_MAX_INPUT_BYTES=...``)."""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


#: Largest data / scores / space / arch file read (after gzip decompression).
MAX_INPUT_BYTES = _env_int("AUTOBUILD_MAX_INPUT_BYTES", 2 << 30)
#: Longest line of a text input (one CSV row, one JSONL record).
MAX_LINE_BYTES = _env_int("AUTOBUILD_MAX_LINE_BYTES", 1 << 20)
#: Largest space definition file.
MAX_SPACE_FILE_BYTES = _env_int("AUTOBUILD_MAX_SPACE_FILE_BYTES", 16 << 20)
#: Deepest JSON nesting accepted anywhere (archs are 2 levels deep).
MAX_JSON_DEPTH = 64

#: Space definitions.
MAX_STAGES = 1024
MAX_STAGE_DEPTH = 256
MAX_FEATURE_VALUES = 4096
MAX_SLOTS = 65536
MAX_CHOICES = 100_000  # layer choices per stage
#: ONNX models read by ``opgraphs`` / ``subgraphs`` (the graph only: external weight files are not
#: read), and the op nodes one op graph may have.
MAX_ONNX_BYTES = _env_int("AUTOBUILD_MAX_ONNX_BYTES", 4 << 30)
MAX_OP_NODES = _env_int("AUTOBUILD_MAX_OP_NODES", 50_000)
#: Modules enumerated by ``score`` (per space).
MAX_MODULES = _env_int("AUTOBUILD_MAX_MODULES", 50_000_000)

#: Counts given on the command line.
MAX_ARCHS = 1_000_000  # sample --n, build --top / --limit, search --budget (each arch is a dict)
MAX_EPOCHS = 1_000_000
MAX_BATCH = 1 << 20
MAX_HIDDEN = 4096
MAX_LAYERS = 64
MAX_MEMBERS = 100  # --folds, --seeds
MAX_WORKERS = 512
MAX_THREADS = 1024
MAX_SEED = 2**63 - 1
