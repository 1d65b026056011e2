"""A search space written from scratch against the protocol (not a MacroSpace, nothing outside
this file): three groups of 1-2 blocks, each block one of three widths. ``tests/spaces/test_toy_space.py``
takes it through sample, train, score, build and search."""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any, Iterable

import numpy as np

from autobuild.errors import AutobuildError
from autobuild.spaces.base import SpaceBase
from autobuild.spaces.graph_batch import GraphBatch
from autobuild.spaces.macro import FeatureCategory
from autobuild.spaces.module import Module, ModuleSet

WIDTHS = (8, 16, 32)
G, W = 3, 2  # groups, most blocks per group
TYPE = "toy-blocks"


class ToySpace(SpaceBase):
    name = "toy-blocks"
    description = "3 groups of 1-2 blocks, widths 8/16/32"
    code_len = G + G * W  # depths, then the block slots of each group (-1: none)
    capabilities = frozenset({"modules", "mutate", "independent_groups"})
    default_layers = 2
    n_groups = G
    module_width = W

    def to_dict(self) -> dict:
        return {"type": TYPE, "name": self.name}

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]

    def cardinality(self, include_globals: bool = False) -> int:
        return (len(WIDTHS) + len(WIDTHS) ** 2) ** G

    @property
    def feature_categories(self) -> tuple:
        return (FeatureCategory("group", G, tuple(range(1, G + 1))), FeatureCategory("width", len(WIDTHS), WIDTHS))

    # archs <-> codes
    def validate(self, arch: Any, pad: str = "repeat") -> dict:
        blocks = arch.get("blocks") if isinstance(arch, dict) else None
        if not isinstance(blocks, list) or len(blocks) != G:
            raise AutobuildError(f"an arch is {{'blocks': [{G} lists of 1-{W} widths]}}")
        for g, b in enumerate(blocks):
            if not isinstance(b, list) or not 1 <= len(b) <= W or any(w not in WIDTHS for w in b):
                raise AutobuildError(f"group {g + 1}: 1-{W} widths of {list(WIDTHS)}, got {b!r}")
        return {"blocks": [list(b) for b in blocks]}

    def encode(self, archs: Iterable[Any]) -> np.ndarray:
        rows = []
        for a in archs:
            blocks = self.validate(a)["blocks"]
            code = np.full(self.code_len, -1, dtype=np.int32)
            for g, b in enumerate(blocks):
                code[g] = len(b)
                code[G + g * W: G + g * W + len(b)] = [WIDTHS.index(w) for w in b]
            rows.append(code)
        return np.array(rows, dtype=np.int32).reshape(-1, self.code_len)

    def decode(self, codes: np.ndarray, pad: str = "repeat") -> list[dict]:
        return [{"blocks": [[WIDTHS[int(c)] for c in row[G + g * W: G + g * W + int(row[g])]] for g in range(G)]}
                for row in np.asarray(codes)]

    def canonical_codes(self, codes: np.ndarray) -> np.ndarray:
        codes = np.array(codes, dtype=np.int32, copy=True)
        for g in range(G):
            block = codes[:, G + g * W: G + (g + 1) * W]
            block[np.arange(W)[None, :] >= codes[:, g: g + 1]] = -1
        return codes

    def sample_codes(self, n: int, seed: int | None = 0, unique: bool = True) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out: dict[bytes, np.ndarray] = {}
        n = min(n, self.cardinality()) if unique else n
        rows = []
        while len(rows) < n:
            code = np.full(self.code_len, -1, dtype=np.int32)
            for g in range(G):
                d = int(rng.integers(1, W + 1))
                code[g] = d
                code[G + g * W: G + g * W + d] = rng.integers(0, len(WIDTHS), size=d)
            if unique and code.tobytes() in out:
                continue
            out[code.tobytes()] = code
            rows.append(code)
        return np.array(rows, dtype=np.int32).reshape(-1, self.code_len)

    # graphs: one node per block, in order, a chain
    def graphs(self, codes: np.ndarray) -> GraphBatch:
        parts = []
        for row in np.asarray(codes):
            x = [[g, int(c)] for g in range(G) for c in row[G + g * W: G + g * W + max(int(row[g]), 0)]]
            n = len(x)
            parts.append((np.array(x, dtype=np.int64).reshape(n, 2), np.array([range(n - 1), range(1, n)])))
        return GraphBatch.from_graphs(parts)

    def to_graph(self, arch: Any) -> dict:
        blocks = self.validate(arch)["blocks"]
        nodes = [{"group": g + 1, "width": w} for g, b in enumerate(blocks) for w in b]
        return {"nodes": nodes, "edges": [[i, i + 1] for i in range(len(nodes) - 1)]}

    # modules: a group's blocks
    def group_label(self, g: int) -> str:
        return str(g + 1)

    def group_depths(self, g: int) -> tuple[int, int]:
        return 1, W

    def module_count(self, g: int) -> int:
        return sum(len(WIDTHS) ** d for d in range(1, W + 1))

    def module_depths(self, codes: np.ndarray, g: int) -> np.ndarray:
        return np.asarray(codes)[:, g].astype(np.int64)

    def enumerate_modules(self, g: int) -> ModuleSet:
        mods = [Module(g, c) for d in range(1, W + 1) for c in itertools.product(range(len(WIDTHS)), repeat=d)]
        return ModuleSet.of(g, mods, W)

    def empty_codes(self, n: int, global_idx: Any = ()) -> np.ndarray:
        codes = np.full((n, self.code_len), -1, dtype=np.int32)
        codes[:, :G] = 0
        return codes

    def place_modules(self, codes: np.ndarray, g: int, depths: np.ndarray, choices: np.ndarray) -> None:
        codes[:, g] = depths
        codes[:, G + g * W: G + (g + 1) * W] = np.asarray(choices)[:, :W]

    def module_layers(self, g: int, module: Module) -> list:
        return [{"width": WIDTHS[c]} for c in module.choices]

    def parse_module(self, g: int, layers: Any) -> Module:
        if not isinstance(layers, list) or not 1 <= len(layers) <= W:
            raise AutobuildError(f"group {g + 1}: a module is 1-{W} blocks")
        try:
            return Module(g, tuple(WIDTHS.index(layer["width"]) for layer in layers))
        except (KeyError, TypeError, ValueError):
            raise AutobuildError(f"group {g + 1}: blocks are {{'width': one of {list(WIDTHS)}}}") from None

    def module_texts(self, g: int, depths: np.ndarray, choices: np.ndarray) -> list[str]:
        return [json.dumps(self.module_layers(g, Module(g, tuple(int(c) for c in row[: int(d)]))),
                           separators=(",", ":")) for d, row in zip(depths, choices)]

    def mutation_layout(self) -> dict[str, Any]:
        full = np.full(G, W, dtype=np.int32)
        return {"min_depth": np.ones(G, dtype=np.int32), "max_depth": full, "group_of": np.arange(G, dtype=np.int32),
                "n_globals": 0, "slot_width": full.copy(), "n_choices": np.full(G, len(WIDTHS), dtype=np.int32)}


def from_dict(d: dict, source: str = "space") -> ToySpace:
    if d.get("type") != TYPE:
        raise AutobuildError(f"{source}: not a {TYPE} space")
    return ToySpace()
