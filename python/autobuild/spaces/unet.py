"""The Stable Diffusion v1.4 inpainting U-Net spaces (paper Sec. 5.3, 7.8-7.10; the design note
``shared/designs/sd-unet.md``): ``sdv14-unet`` (786,432 archs) and ``sdv14-unet-hw`` (98,304).

Arch format (one JSON object; lists indexed by stage 1..4, highest resolution first)::

    {"cm": 256, "mult": [1, 2, 3, 4], "res_in": [2, 2, 2, 2], "res_out": [3, 3, 3, 3],
     "attn_in": [0, 0, 1, 1], "attn_out": [0, 0, 1, 1]}

``cm`` is the base channel count C_m; stage ``s`` has ``cm * mult[s]`` channels in its input
stage and in its output twin (the long skips need equal channels: an optional ``mult_out`` that
differs is an error); ``mult[0] = 1``; ``res_in[s]`` residual blocks per input stage, ``res_out[s]``
per output stage; ``attn_*[s]`` whether every residual block of that stage is followed by
attention (never in stages 1 and 2).

Sequence graph (Sec. 7.9): one node per block in network order - input stages 1..4
(``[Res, (Attn)] x res_in`` then ``Down`` in stages 1-3), the fixed middle (``Res, Attn, Res`` at
stage 4's channels), output stages 4..1 (``[Res, (Attn)] x res_out`` then ``Up`` in stages 4-2) -
chained ``i -> i + 1``; node features ``op`` (res, attn, down, up), ``channels`` (numeric),
``section`` (input, middle, output) and ``stage``. The long skips are not edges (as in the paper).

Modules are the input and output stages (8 groups, in network order: ``in1..in4``, ``out4..out1``;
the middle is fixed and never selected). A module's choice row has one entry per node: ``op +
4 * (mult_index + n_mult * cm_index)``, so every module carries its C_m and multiplier and
:meth:`UNetSpace.compatible` keeps combinations to one C_m with twins sharing their multiplier.
The deepest module (an output stage of 3 blocks with attention and ``Up``) has 7 nodes: these
spaces train 6 message-passing hops by default (``default_layers``).

Codes (``int32[21]``): ``cm_index, mult_index[4], res_in[4], res_out[4], attn_in[4], attn_out[4]``;
a stage with 0 blocks is absent (scoring places one module alone), the middle is in the graph only
when every stage is present.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import AutobuildError
from .base import SpaceBase
from .macro import FeatureCategory
from .module import Module, ModuleSet

N_STAGES = 4
OPS = ("res", "attn", "down", "up")
SECTIONS = ("input", "middle", "output")
KEYS = ("cm", "mult", "res_in", "res_out", "attn_in", "attn_out")
CODE_LEN = 1 + 5 * N_STAGES
_MULT, _RIN, _ROUT, _AIN, _AOUT = 1, 1 + N_STAGES, 1 + 2 * N_STAGES, 1 + 3 * N_STAGES, 1 + 4 * N_STAGES


class UNetSpace(SpaceBase):
    """A space of SD-style U-Nets (see the module docstring); capability ``"modules"``."""

    capabilities: frozenset[str] = frozenset({"modules", "enumerable", "counts", "network"})
    network_family = "sd-unet"
    global_features: tuple = ()
    code_len = CODE_LEN
    default_layers = 6
    n_groups = 2 * N_STAGES

    def __init__(self, name: str, cm: Sequence[int], mult: Sequence[Sequence[int]], res_in: Sequence[int] = (1, 2),
                 res_out: Sequence[int] = (2, 3), attn_stages: Sequence[int] = (3, 4), description: str = "") -> None:
        self.name, self.description = name, description
        self.cm = tuple(int(c) for c in cm)
        self.mult = tuple(tuple(int(m) for m in ms) for ms in mult)
        self.res_in, self.res_out = tuple(int(r) for r in res_in), tuple(int(r) for r in res_out)
        self.attn_stages = tuple(int(s) for s in attn_stages)
        if len(self.mult) != N_STAGES or self.mult[0] != (1,):
            raise AutobuildError(f"space {name!r}: mult needs 4 stages' choices, stage 1 exactly [1]")
        if not self.cm or any(c < 1 for c in self.cm) or any(not ms or min(ms) < 1 for ms in self.mult):
            raise AutobuildError(f"space {name!r}: channel counts and multipliers must be positive")
        if not self.res_in or min(self.res_in) < 1 or not self.res_out or min(self.res_out) < 1:
            raise AutobuildError(f"space {name!r}: block counts must be >= 1")
        if any(s not in (3, 4) for s in self.attn_stages):
            raise AutobuildError(f"space {name!r}: attention is searched in stages 3 and 4 only")
        self.n_mult = max(len(ms) for ms in self.mult)
        channels = sorted({c * m for c in self.cm for ms in self.mult for m in ms})
        self._channels = tuple(channels)

    # ------------------------------------------------------------------ identity
    def to_dict(self) -> dict:
        return {"type": "unet", "name": self.name, "description": self.description, "cm": list(self.cm),
                "mult": [list(m) for m in self.mult], "res_in": list(self.res_in), "res_out": list(self.res_out),
                "attn_stages": list(self.attn_stages)}

    def fingerprint(self) -> str:
        d = {k: v for k, v in self.to_dict().items() if k != "description"}
        return hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"UNetSpace({self.name!r}, cardinality={self.cardinality():,})"

    def _attn_choices(self, s: int) -> tuple[int, ...]:
        return (0, 1) if s + 1 in self.attn_stages else (0,)

    def cardinality(self, include_globals: bool = False) -> int:
        """``|C_m| x prod_s |mult_s| x prod_s |res_in| |res_out| x prod_s |attn_in| |attn_out|``."""
        n = len(self.cm) * math.prod(len(m) for m in self.mult)
        n *= (len(self.res_in) * len(self.res_out)) ** N_STAGES
        return n * math.prod(len(self._attn_choices(s)) ** 2 for s in range(N_STAGES))

    # ------------------------------------------------------------------ features and graphs
    @property
    def feature_categories(self) -> tuple:
        vals = [float(c) for c in self._channels]
        mu = sum(vals) / len(vals)
        sd = (sum((v - mu) ** 2 for v in vals) / len(vals)) ** 0.5 or 1.0
        return (FeatureCategory("op", len(OPS), OPS),
                FeatureCategory("channels", len(self._channels), self._channels, True, (mu, sd)),
                FeatureCategory("section", len(SECTIONS), SECTIONS),
                FeatureCategory("stage", N_STAGES, tuple(range(1, N_STAGES + 1))))

    def _nodes(self, code: np.ndarray) -> list[tuple[int, int, int, int]]:
        """``(op, channels value index, section, stage - 1)`` of every node of one code."""
        cm = self.cm[int(code[0])] if code[0] >= 0 else self.cm[0]
        ch = [self._channels.index(cm * self.mult[s][max(int(code[_MULT + s]), 0)]) for s in range(N_STAGES)]
        out: list[tuple[int, int, int, int]] = []
        for s in range(N_STAGES):
            for _ in range(int(code[_RIN + s])):
                out.append((0, ch[s], 0, s))
                if code[_AIN + s]:
                    out.append((1, ch[s], 0, s))
            if code[_RIN + s] and s < N_STAGES - 1:
                out.append((2, ch[s], 0, s))
        if all(code[_RIN + s] > 0 and code[_ROUT + s] > 0 for s in range(N_STAGES)):
            out += [(0, ch[3], 1, 3), (1, ch[3], 1, 3), (0, ch[3], 1, 3)]
        for s in reversed(range(N_STAGES)):
            for _ in range(int(code[_ROUT + s])):
                out.append((0, ch[s], 2, s))
                if code[_AOUT + s]:
                    out.append((1, ch[s], 2, s))
            if code[_ROUT + s] and s > 0:
                out.append((3, ch[s], 2, s))
        return out

    def graphs(self, codes: np.ndarray) -> Any:
        from .graph_batch import GraphBatch

        graphs = []
        for code in np.asarray(codes):
            x = np.asarray(self._nodes(code), dtype=np.int64).reshape(-1, 4)
            n = len(x)
            graphs.append((x, np.stack([np.arange(n - 1), np.arange(1, n)]) if n > 1 else np.zeros((2, 0), np.int64)))
        return GraphBatch.from_graphs(graphs)

    def to_graph(self, arch: Any) -> dict:
        code = self.encode([arch])[0]
        cats = self.feature_categories
        nodes = [{c.name: c.values[v] for c, v in zip(cats, row)} for row in self._nodes(code)]
        return {"nodes": nodes, "edges": [(i, i + 1) for i in range(len(nodes) - 1)]}

    # ------------------------------------------------------------------ archs and codes
    def _int_list(self, arch: dict, key: str) -> list[int]:
        v = arch[key]
        if not isinstance(v, list) or len(v) != N_STAGES or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            raise AutobuildError(f"{key} must be a list of {N_STAGES} integers (stages 1..4), got {str(v)[:60]}")
        return v

    def validate(self, arch: Any, pad: str = "repeat") -> dict:
        """The canonical arch, or one :class:`AutobuildError` line naming the field and stage."""
        if not isinstance(arch, dict):
            raise AutobuildError(f"a {self.name} arch is a JSON object with keys {', '.join(KEYS)}, got "
                                 f"{type(arch).__name__}")
        if "ks" in arch or "d" in arch:
            raise AutobuildError(f"this looks like an OFA arch (ks / e / d), not a {self.name} arch "
                                 f"(keys {', '.join(KEYS)})")
        missing = [k for k in KEYS if k not in arch]
        if missing:
            raise AutobuildError(f"missing key {missing[0]!r} (a {self.name} arch has {', '.join(KEYS)})")
        extra = [k for k in arch if k not in KEYS and k != "mult_out"]
        if extra:
            raise AutobuildError(f"unexpected key {extra[0]!r} (a {self.name} arch has {', '.join(KEYS)})")
        cm = arch["cm"]
        if isinstance(cm, bool) or cm not in self.cm:
            raise AutobuildError(f"cm: {cm!r} is not one of {list(self.cm)}")
        mult = self._int_list(arch, "mult")
        for s in range(N_STAGES):
            if mult[s] not in self.mult[s]:
                raise AutobuildError(f"mult: stage {s + 1}: {mult[s]} is not one of {list(self.mult[s])}")
        if "mult_out" in arch:
            mo = self._int_list(arch, "mult_out")
            for s in range(N_STAGES):
                if mo[s] != mult[s]:
                    raise AutobuildError(f"mult_out: stage {s + 1}: output multiplier {mo[s]} differs from its input "
                                         f"twin's {mult[s]} (the long skip needs equal channels)")
        for key, allowed in (("res_in", self.res_in), ("res_out", self.res_out)):
            v = self._int_list(arch, key)
            for s in range(N_STAGES):
                if v[s] not in allowed:
                    raise AutobuildError(f"{key}: stage {s + 1}: {v[s]} blocks is not one of {list(allowed)}")
        for key in ("attn_in", "attn_out"):
            v = self._int_list(arch, key)
            for s in range(N_STAGES):
                if v[s] not in self._attn_choices(s):
                    where = ("stages 1 and 2 have no attention" if s < 2 else
                             f"stage {s + 1} keeps no attention in this space")
                    raise AutobuildError(f"{key}: stage {s + 1}: {v[s]} is not allowed ({where}; 0 or 1 elsewhere)")
        return {"cm": cm, "mult": list(mult), "res_in": list(arch["res_in"]), "res_out": list(arch["res_out"]),
                "attn_in": list(arch["attn_in"]), "attn_out": list(arch["attn_out"])}

    def encode(self, archs: Iterable[Any]) -> np.ndarray:
        rows = []
        for i, a in enumerate(archs):
            try:
                c = self.validate(a)
            except AutobuildError as e:
                raise AutobuildError(f"arch {i}: {e}") from None
            rows.append([self.cm.index(c["cm"]), *(self.mult[s].index(c["mult"][s]) for s in range(N_STAGES)),
                         *c["res_in"], *c["res_out"], *c["attn_in"], *c["attn_out"]])
        return np.asarray(rows, dtype=np.int32).reshape(-1, CODE_LEN)

    def decode(self, codes: np.ndarray, pad: str = "repeat") -> list[dict]:
        out = []
        for c in np.asarray(codes):
            if min(c[_RIN:_AIN]) < 1:
                raise AutobuildError("a code with absent stages is a partial arch (modules placed alone), not an arch")
            out.append({"cm": self.cm[int(c[0])], "mult": [self.mult[s][int(c[_MULT + s])] for s in range(N_STAGES)],
                        "res_in": c[_RIN:_ROUT].tolist(), "res_out": c[_ROUT:_AIN].tolist(),
                        "attn_in": c[_AIN:_AOUT].tolist(), "attn_out": c[_AOUT:].tolist()})
        return out

    def canonical_codes(self, codes: np.ndarray) -> np.ndarray:
        return np.asarray(codes, dtype=np.int32)

    def sample_codes(self, n: int, seed: int | None = 0, unique: bool = True) -> np.ndarray:
        """Uniform random archs: every field uniform and independent."""
        if unique and n > self.cardinality():
            raise AutobuildError(f"cannot draw {n} distinct archs from a space of {self.cardinality():,}")
        rng = np.random.default_rng(seed)
        out, seen = [], set()
        while len(out) < n:
            c = np.zeros(CODE_LEN, dtype=np.int32)
            c[0] = rng.integers(len(self.cm))
            for s in range(N_STAGES):
                c[_MULT + s] = rng.integers(len(self.mult[s]))
                c[_RIN + s] = rng.choice(self.res_in)
                c[_ROUT + s] = rng.choice(self.res_out)
                c[_AIN + s] = rng.choice(self._attn_choices(s))
                c[_AOUT + s] = rng.choice(self._attn_choices(s))
            key = c.tobytes()
            if unique and key in seen:
                continue
            seen.add(key)
            out.append(c)
        return np.asarray(out, dtype=np.int32).reshape(-1, CODE_LEN)

    def all_codes(self) -> np.ndarray:
        """Every arch of the space as codes (``cardinality()`` rows; Exhaustive Search, Sec. 5.3)."""
        fields = [range(len(self.cm)), *(range(len(m)) for m in self.mult), *([self.res_in] * N_STAGES),
                  *([self.res_out] * N_STAGES), *(self._attn_choices(s) for s in range(N_STAGES)),
                  *(self._attn_choices(s) for s in range(N_STAGES))]
        grids = np.meshgrid(*(np.asarray(list(f), dtype=np.int32) for f in fields), indexing="ij")
        return np.stack([g.reshape(-1) for g in grids], axis=1)

    def sample(self, n: int, seed: int | None = 0, unique: bool = True, pad: str = "repeat") -> list[dict]:
        return self.decode(self.sample_codes(n, seed, unique))

    # ------------------------------------------------------------------ module groups
    def _stage_of(self, g: int) -> tuple[int, bool]:
        """``(stage index, is output)`` of group ``g`` (network order: in1..in4, out4..out1)."""
        if not 0 <= g < self.n_groups:
            raise AutobuildError(f"group {g} is not one of 0..{self.n_groups - 1}")
        return (g, False) if g < N_STAGES else (2 * N_STAGES - 1 - g, True)

    def group_label(self, g: int) -> str:
        s, out = self._stage_of(g)
        return f"{'out' if out else 'in'}{s + 1}"

    def _tail(self, s: int, out: bool) -> int:
        """1 if the stage ends with a Down / Up block."""
        return int(s > 0) if out else int(s < N_STAGES - 1)

    def _depth(self, s: int, out: bool, blocks: int, attn: int) -> int:
        return blocks * (1 + attn) + self._tail(s, out)

    def group_depths(self, g: int) -> tuple[int, int]:
        s, out = self._stage_of(g)
        res = self.res_out if out else self.res_in
        ds = [self._depth(s, out, b, a) for b in res for a in self._attn_choices(s)]
        return min(ds), max(ds)

    def group_depth_values(self, g: int) -> list[int]:
        """The depths group ``g``'s modules can have (its range has gaps: 2, 3 or 5 nodes in ``in3``)."""
        s, out = self._stage_of(g)
        return sorted({self._depth(s, out, b, a) for b in (self.res_out if out else self.res_in)
                       for a in self._attn_choices(s)})

    @property
    def module_width(self) -> int:
        return max(self.group_depths(g)[1] for g in range(self.n_groups))

    def module_count(self, g: int) -> int:
        s, out = self._stage_of(g)
        return len(self.cm) * len(self.mult[s]) * len(self.res_out if out else self.res_in) * len(self._attn_choices(s))

    def module_depths(self, codes: np.ndarray, g: int) -> np.ndarray:
        s, out = self._stage_of(g)
        codes = np.asarray(codes)
        blocks = codes[:, (_ROUT if out else _RIN) + s]
        attn = codes[:, (_AOUT if out else _AIN) + s]
        return np.where(blocks > 0, blocks * (1 + attn) + self._tail(s, out), 0)

    def _choice(self, op: int, mi: int, ci: int) -> int:
        return op + len(OPS) * (mi + self.n_mult * ci)

    def _unchoice(self, c: int) -> tuple[int, int, int]:
        op, rest = c % len(OPS), c // len(OPS)
        return op, rest % self.n_mult, rest // self.n_mult

    def _module_row(self, s: int, out: bool, ci: int, mi: int, blocks: int, attn: int) -> list[int]:
        row = []
        for _ in range(blocks):
            row.append(self._choice(0, mi, ci))
            if attn:
                row.append(self._choice(1, mi, ci))
        if self._tail(s, out):
            row.append(self._choice(3 if out else 2, mi, ci))
        return row

    def _module_params(self, g: int, row: Sequence[int]) -> tuple[int, int, int, int]:
        """``(cm index, mult index, blocks, attention)`` of a module's choice row (validated)."""
        s, out = self._stage_of(g)
        label = self.group_label(g)
        parts = [self._unchoice(int(c)) for c in row if c >= 0]
        if not parts:
            raise AutobuildError(f"stage {label}: an empty module")
        ops = [p[0] for p in parts]
        if len({(p[1], p[2]) for p in parts}) != 1:
            raise AutobuildError(f"stage {label}: a module has one C_m and one multiplier for all its blocks")
        _, mi, ci = parts[0]
        if ci >= len(self.cm) or mi >= len(self.mult[s]):
            raise AutobuildError(f"stage {label}: C_m or multiplier index out of range")
        tail = self._tail(s, out)
        body = ops[: len(ops) - tail]
        if tail and ops[-1] != (3 if out else 2):
            raise AutobuildError(f"stage {label}: must end with {'up' if out else 'down'}")
        attn = int(len(body) > 1 and body[1] == 1)
        unit = [0, 1] if attn else [0]
        blocks = len(body) // len(unit)
        if body != unit * blocks or blocks not in (self.res_out if out else self.res_in):
            raise AutobuildError(f"stage {label}: blocks must be {'[res, attn]' if attn else '[res]'} x "
                                 f"{list(self.res_out if out else self.res_in)}, got {[OPS[o] for o in ops]}")
        if attn not in self._attn_choices(s):
            raise AutobuildError(f"stage {label}: no attention in this stage")
        return ci, mi, blocks, attn

    def enumerate_modules(self, g: int) -> ModuleSet:
        s, out = self._stage_of(g)
        rows = [self._module_row(s, out, ci, mi, b, a) for ci in range(len(self.cm)) for mi in range(len(self.mult[s]))
                for b in (self.res_out if out else self.res_in) for a in self._attn_choices(s)]
        width = max(len(r) for r in rows)
        ch = np.full((len(rows), width), -1, dtype=np.int32)
        for i, r in enumerate(rows):
            ch[i, : len(r)] = r
        return ModuleSet(g, np.array([len(r) for r in rows], dtype=np.int32), ch)

    def empty_codes(self, n: int, global_idx: Any = ()) -> np.ndarray:
        if np.size(global_idx):
            raise AutobuildError(f"space {self.name!r} has no global features")
        codes = np.zeros((n, CODE_LEN), dtype=np.int32)
        codes[:, 0] = -1
        return codes

    def place_modules(self, codes: np.ndarray, g: int, depths: np.ndarray, choices: np.ndarray) -> None:
        s, out = self._stage_of(g)
        for i, (d, row) in enumerate(zip(np.asarray(depths), np.asarray(choices))):
            ci, mi, blocks, attn = self._module_params(g, row[: int(d)])
            if codes[i, 0] >= 0 and codes[i, 0] != ci:
                raise AutobuildError(f"stage {self.group_label(g)}: C_m {self.cm[ci]} differs from the arch's "
                                     f"{self.cm[int(codes[i, 0])]}")
            codes[i, 0] = ci
            codes[i, _MULT + s] = mi
            codes[i, (_ROUT if out else _RIN) + s] = blocks
            codes[i, (_AOUT if out else _AIN) + s] = attn

    def compatible_next(self, modules: Sequence[ModuleSet], prefix: Sequence[int], j: int) -> np.ndarray:
        """:meth:`compatible` on partial combinations, directly: the first chosen module's C_m, and the
        multiplier of group ``j``'s twin where it is chosen already."""
        cms, mults = self._module_cm_mult(modules[j])
        ok = np.ones(len(cms), dtype=bool)
        if len(prefix):
            ok &= cms == self._module_cm_mult(modules[0])[0][prefix[0]]
        twin = 2 * N_STAGES - 1 - j
        if 0 <= twin < len(prefix):
            ok &= mults == self._module_cm_mult(modules[twin])[1][prefix[twin]]
        return ok

    def _module_cm_mult(self, ms: ModuleSet) -> tuple[np.ndarray, np.ndarray]:
        """``(C_m index, multiplier index)`` of every module of ``ms`` (kept per module set: a build's
        best-first walk asks about the same sets thousands of times)."""
        cache = self.__dict__.setdefault("_cm_mult", {})
        key = id(ms.choices)
        hit = cache.get(key)
        if hit is None or hit[0] is not ms.choices:
            rest = np.asarray(ms.choices)[:, 0] // len(OPS)
            hit = cache[key] = (ms.choices, rest // self.n_mult, rest % self.n_mult)
            if len(cache) > 256:
                cache.clear()
                cache[key] = hit
        return hit[1], hit[2]

    def module_colour(self, color_by: str | None = None) -> tuple[int, list, str]:
        """U-Net blocks (``{"op", "cm", "mult"}``) are coloured by their channel multiplier."""
        if color_by not in (None, "mult"):
            raise AutobuildError(f"cannot colour by {color_by!r}: U-Net blocks are coloured by mult")
        return 2, sorted({m for ms in self.mult for m in ms}), "mult"

    def module_layers(self, g: int, module: Module) -> list:
        s, _ = self._stage_of(g)
        ci, mi, _, _ = self._module_params(g, module.choices)
        return [{"op": OPS[self._unchoice(c)[0]], "cm": self.cm[ci], "mult": self.mult[s][mi]} for c in module.choices]

    def module_texts(self, g: int, depths: np.ndarray, choices: np.ndarray) -> list[str]:
        return [json.dumps(self.module_layers(g, Module(g, tuple(int(c) for c in row[: int(d)]))), separators=(",", ":"))
                for d, row in zip(np.asarray(depths), np.asarray(choices))]

    def parse_module(self, g: int, layers: Any) -> Module:
        s, _ = self._stage_of(g)
        label = self.group_label(g)
        lo, hi = self.group_depths(g)
        if not isinstance(layers, list) or not lo <= len(layers) <= hi:
            raise AutobuildError(f"stage {label}: a module is a list of {lo}..{hi} blocks, got {str(layers)[:60]}")
        row = []
        for pos, b in enumerate(layers):
            if not isinstance(b, dict) or set(b) != {"op", "cm", "mult"}:
                raise AutobuildError(f"stage {label}: block {pos + 1} must be an object with keys op, cm, mult")
            if b["op"] not in OPS or b["cm"] not in self.cm or b["mult"] not in self.mult[s]:
                raise AutobuildError(f"stage {label}: block {pos + 1} {b} is not a block of this stage")
            row.append(self._choice(OPS.index(b["op"]), self.mult[s].index(b["mult"]), self.cm.index(b["cm"])))
        self._module_params(g, row)
        return Module(g, tuple(row))

    def compatible(self, modules: Sequence[ModuleSet], combos: np.ndarray) -> np.ndarray:
        """One C_m for every module, and each input stage's multiplier equal to its output twin's.
        A ``-1`` entry is a group not chosen yet: the constraints it is part of hold so far."""
        combos = np.asarray(combos, dtype=np.int64)
        n = len(combos)
        cm = np.full((n, len(modules)), -1, dtype=np.int64)
        mult = np.full((n, len(modules)), -1, dtype=np.int64)
        for g, ms in enumerate(modules):
            pick = combos[:, g]
            on = pick >= 0
            if not on.any():
                continue
            cms, mults = self._module_cm_mult(ms)
            cm[on, g] = cms[pick[on]]
            mult[on, g] = mults[pick[on]]
        first = np.max(cm, axis=1, keepdims=True)  # any chosen group's C_m (all must equal it)
        ok = np.all((cm == first) | (cm < 0), axis=1)
        for s in range(N_STAGES):
            gi, go = s, 2 * N_STAGES - 1 - s
            both = (mult[:, gi] >= 0) & (mult[:, go] >= 0)
            ok &= ~both | (mult[:, gi] == mult[:, go])
        return ok


def sdv14_unet() -> UNetSpace:
    return UNetSpace("sdv14-unet", cm=(128, 192, 256), mult=((1,), (1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4)),
                     description="SD v1.4 inpainting U-Net (Sec. 7.9): C_m in {128,192,256}, stage multipliers "
                                 "{1..4} shared by input / output twins, 1-2 input and 2-3 output residual blocks "
                                 "per stage, attention in stages 3-4 kept or removed")


def sdv14_unet_hw() -> UNetSpace:
    return UNetSpace("sdv14-unet-hw", cm=(256,), mult=((1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)),
                     description="SD v1.4 inpainting U-Net, hardware-friendly (Sec. 7.10): C_m = 256, multipliers "
                                 "never above the original [1, 2, 3, 4]")


def from_dict(d: dict, source: str = "space") -> UNetSpace:
    try:
        return UNetSpace(str(d["name"]), d["cm"], d["mult"], d["res_in"], d["res_out"], d["attn_stages"],
                         str(d.get("description", "")))
    except (KeyError, TypeError, ValueError) as e:
        raise AutobuildError(f"{source}: not a U-Net space definition ({e})") from None

