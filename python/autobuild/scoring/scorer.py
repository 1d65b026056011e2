"""Score every module of a space with trained predictors (paper Sec. 4.2, 5.1, 5.3).

For each module: place it at its stage, run the GNN (ONNX Runtime, large batches), take the L1 norm
of its last node's embedding at hop ``m = depth - 1`` and calibrate it with Eq. 5 - standardise by
the hop moments ``N(mu_m^h, sigma_m^h)``, unstandardise by the label moments ``N(mu^y_{u,l},
sigma^y_{u,l})`` of its (stage, depth) cell. A stage with a cell of fewer than ``min_count``
training archs is standardised to ``N(0, 1)`` instead (Sec. 7.9) and flagged. Several predictors of
one target form an ensemble (Sec. 5.3): a module's score is the mean of its scores weighted by each
predictor's held-out SRCC at the module's hop level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .. import core
from ..errors import AutobuildError
from ..safe_input import parse_json
from ..spaces.module import Module, ModuleSet
from ..spaces.protocol import SearchSpace, require
from ..spaces.protocol import module_total as module_count  # modules of every group of a space

FALLBACK = "N(0,1)"
EQ5 = "eq5"


@dataclass
class ModuleScores:
    """Scores of modules, one row each (all modules of a space, or those read from a file)."""

    space: SearchSpace
    target: str
    model: str
    globals: dict[str, Any]
    group: np.ndarray
    depth: np.ndarray
    choices: np.ndarray
    raw_norm: np.ndarray
    hop: np.ndarray
    score: np.ndarray
    calibration: np.ndarray
    srcc: np.ndarray | None = None  # held-out SRCC of the predictor(s) at each module's hop
    spread: np.ndarray | None = None  # uncertainty of each score (see :func:`score_modules`)
    notes: list[str] = field(default_factory=list)
    source: str = ""  # the scores file read (empty: scored in this process)

    def __len__(self) -> int:
        return len(self.score)

    def group_rows(self, g: int) -> np.ndarray:
        return np.flatnonzero(self.group == g)

    def module_set(self, g: int, rows: np.ndarray | None = None) -> ModuleSet:
        rows = self.group_rows(g) if rows is None else rows
        return ModuleSet(g, self.depth[rows], self.choices[rows])

    def module(self, row: int) -> Module:
        """Row ``row`` as a :class:`Module` record carrying its score."""
        d = int(self.depth[row])
        return Module(int(self.group[row]), tuple(int(c) for c in self.choices[row, :d]), float(self.score[row]),
                      {self.model: float(self.score[row])})

    def layers(self, row: int) -> list[dict[str, Any]]:
        return self.space.module_layers(int(self.group[row]), self.module(row))

    def stage_label(self, g: int) -> str:
        return self.space.group_label(g)

    def ties(self, g: int) -> tuple[int, float]:
        """How many modules of group ``g`` are indistinguishable from its best, and the margin used:
        those scoring within the best module's uncertainty (``spread``) of it (1 = a clear winner)."""
        rows = self.ranked(g)
        if len(rows) == 0 or self.spread is None or not np.isfinite(self.spread[rows[0]]):
            return (1 if len(rows) else 0), 0.0
        margin = float(self.spread[rows[0]])
        return int((self.score[rows] >= self.score[rows[0]] - margin).sum()), margin

    def tied_stages(self, more_than: int = 1) -> list[tuple[str, int, float]]:
        """``(stage label, tied, margin)`` of every group whose best is tied with more than
        ``more_than`` modules (:meth:`ties`): where a top-``more_than`` pick is a pick among equals."""
        out = []
        for g in range(self.space.n_groups):
            tied, margin = self.ties(g)
            if tied > more_than:
                out.append((self.stage_label(g), tied, margin))
        return out

    def ranked(self, g: int) -> np.ndarray:
        """Rows of group ``g`` from best to worst score (ties: shorter module, then enumeration order)."""
        rows = self.group_rows(g)
        return rows[np.lexsort((rows, self.depth[rows], -self.score[rows]))]


def hop_moments(report: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(mu_m, sigma_m)`` of a model's node-embedding norms per hop (Sec. 4.2), a zero sigma read as 1."""
    hm = np.array([h["mean"] for h in report["hop_moments"]], dtype=np.float64)
    hs = np.array([h["std"] for h in report["hop_moments"]], dtype=np.float64)
    return hm, np.where(hs > 0, hs, 1.0)


def hop_z(report: dict, norms: np.ndarray) -> np.ndarray:
    """Node norms ``[n, hops]`` standardised by the model's hop moments: ``(||h_v^m||_1 - mu_m) / sigma_m``."""
    hm, hs = hop_moments(report)
    hops = min(norms.shape[1], len(hm))
    return (np.asarray(norms, dtype=np.float64)[:, :hops] - hm[:hops]) / hs[:hops]


def default_globals(models: Sequence[Any], space: SearchSpace) -> dict[str, Any]:
    """Per global feature, the value the FE-MLP scores highest (summed over the models)."""
    out = {}
    for f in space.global_features:
        total = np.zeros(f.size)
        for m in models:
            total += np.asarray(m.report["fe_importance"][f.name]["score"], dtype=np.float64)
        out[f.name] = f.values[int(np.argmax(total))]
    return out


def _resolve_globals(space: SearchSpace, models: Sequence[Any], given: Mapping[str, Any] | None) -> dict[str, Any]:
    given = dict(given or {})
    names = {f.name for f in space.global_features}
    unknown = sorted(set(given) - names)
    if unknown:
        raise AutobuildError(f"unknown global feature(s) {unknown} (space {space.name!r} has: {sorted(names) or 'none'})")
    out = default_globals(models, space)
    for f in space.global_features:
        if f.name in given:
            v = given[f.name]
            match = [x for x in f.values if str(x) == str(v)]
            if not match:
                raise AutobuildError(f"{f.name} = {v!r} is not one of {list(f.values)}")
            out[f.name] = match[0]
    return out


def _cell_moments(report: dict, g: int, lo: int, hi: int, min_count: int,
                  needed: Any = None) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Label moments of group ``g`` by depth; ``None`` reason unless a cell is too thin. Only the
    ``needed`` depths (those the group's modules have; default every depth ``lo..hi``) must be
    filled: a U-Net stage of 2 or 3 blocks with or without attention has no module of 4 nodes."""
    cells = {c["depth"]: c for c in report["label_moments"] if c["group"] == g}
    mean, std = np.zeros(hi - lo + 1), np.ones(hi - lo + 1)
    for l in (range(lo, hi + 1) if needed is None else sorted(int(d) for d in needed)):
        c = cells.get(l)
        n = 0 if c is None else int(c["n"])
        if c is None or n < min_count or c["std"] is None or not c["std"] > 0:
            return np.zeros_like(mean), np.ones_like(std), f"depth {l} has {n} training archs (< {min_count})"
        mean[l - lo], std[l - lo] = c["mean"], c["std"]
    return mean, std, None


class _TorchRunner:
    """The model's PyTorch module (CPU), for a process that has no ONNX export at hand or wants
    PyTorch's numbers (``benchmarks/score_speed.py`` compares the two runtimes)."""

    def __init__(self, artifact: Any) -> None:
        self.model = artifact.torch_model()

    def run(self, feed: dict) -> tuple:
        import torch

        with torch.inference_mode():
            out = self.model(*(torch.from_numpy(feed[k]) for k in ("x", "edge_index", "batch", "counts")))
        return tuple(t.numpy() for t in out)


def _runner(artifact: Any, runtime: str, provider: str) -> Any:
    from ..models.inference import RUNTIMES, OnnxSession

    if runtime == "torch":
        if provider != "cpu":
            raise AutobuildError(f"runtime 'torch' scores on the CPU; use runtime 'onnx' for provider {provider!r}")
        return _TorchRunner(artifact)
    if runtime == "onnx":
        return OnnxSession(artifact.onnx_path, provider=provider)
    raise AutobuildError(f"unknown runtime {runtime!r} ({', '.join(RUNTIMES)})")


def _last_node_norms(sess: Any, space: SearchSpace, codes: np.ndarray, depths: np.ndarray) -> np.ndarray:
    g = space.graphs(codes)
    _, node_norms, _ = sess.run(g.onnx_feed())
    out = np.full(len(codes), np.nan)
    nonempty = depths > 0
    last = g.ptr[1:][nonempty] - 1
    out[nonempty] = node_norms[last, depths[nonempty] - 1]
    return out


def score_modules(
    models: Sequence[Any],
    globals_: Mapping[str, Any] | None = None,
    min_count: int = 20,
    provider: str = "cpu",
    batch_size: int = 4096,
    name: str | None = None,
    progress: Callable[[int], None] | None = None,
    runtime: str = "onnx",
) -> ModuleScores:
    """Score every module of the models' space (one model, or an ensemble of one target).

    ``runtime`` is an explicit choice, never guessed: ``"onnx"`` (default; ONNX Runtime on
    ``provider``, no torch import needed) or ``"torch"`` (the PyTorch module on the CPU). Both give
    the same norms to the export's parity tolerance (1e-4), which can reorder near-ties."""

    if not models:
        raise AutobuildError("no model to score with")
    for m in models:
        m.require("ranks_hops", "module scoring (Eq. 5)")
    space = models[0].space
    require(space, "modules", "module scoring")
    for m in models[1:]:
        if m.config["space_fingerprint"] != models[0].config["space_fingerprint"]:
            raise AutobuildError(f"{m.name}: trained on space {m.space.name!r}, not {space.name!r} like {models[0].name}")
        if m.target != models[0].target:
            raise AutobuildError(
                f"{m.name}: target {m.target} differs from {models[0].target} of {models[0].name}; score each target "
                "separately and unite the selections in `autobuild build`"
            )
    for m in models:
        if m.hops < 2:
            raise AutobuildError(f"{m.name}: needs at least 1 message-passing layer to score modules")
    glob = _resolve_globals(space, models, globals_)
    gidx = [f.values.index(glob[f.name]) for f in space.global_features]
    sessions = [_runner(m, runtime, provider) for m in models]
    max_w = space.module_width
    from .. import limits

    total = module_count(space)
    if total > limits.MAX_MODULES:
        raise AutobuildError(f"space {space.name!r} has {total:,} modules, more than scoring enumerates "
                             f"({limits.MAX_MODULES:,}; AUTOBUILD_MAX_MODULES raises it)")
    parts: dict[str, list] = {k: [] for k in ("group", "depth", "choices", "raw", "hop", "score", "cal", "srcc",
                                              "spread")}
    notes = []
    for g in range(space.n_groups):
        mods = space.enumerate_modules(g)
        lo, hi = space.group_depths(g)
        label = space.group_label(g)
        if hi - 1 >= models[0].hops:
            raise AutobuildError(
                f"stage {label}: modules of up to {hi} layers need {hi - 1} hops; the model has {models[0].hops - 1}"
            )
        # Eq. 5 needs every (stage, depth) cell; too few archs in one -> N(0,1) for the whole stage.
        needed = np.unique(mods.depths)
        moments = [_cell_moments(m.report, g, lo, hi, min_count, needed) for m in models]
        reasons = [r for *_, r in moments if r]
        fallback = bool(reasons)
        if fallback:
            notes.append(f"stage {label}: {reasons[0]}; its scores are standardised to N(0,1) (Sec. 7.9)")
        hops = (mods.depths - 1).astype(np.int32)
        cells = (mods.depths - lo).astype(np.int32)
        num = np.zeros(len(mods))
        sq_num = np.zeros(len(mods))
        srcc_num = np.zeros(len(mods))
        raw_num = np.zeros(len(mods))
        wsum = np.zeros(len(mods))
        for m, sess, (cm, cs, _) in zip(models, sessions, moments):
            raw = np.empty(len(mods))
            for i in range(0, len(mods), batch_size):
                rows = np.arange(i, min(i + batch_size, len(mods)))
                codes = space.empty_codes(len(rows), gidx)
                space.place_modules(codes, g, mods.depths[rows], mods.choices[rows])
                raw[rows] = _last_node_norms(sess, space, codes, mods.depths[rows])
                if progress:
                    progress(len(rows))
            hm, hs = hop_moments(m.report)
            if fallback:
                cm, cs = np.zeros_like(cm), np.ones_like(cs)
            s = core.calibrate_scores(np.nan_to_num(raw), hops, cells, hm, hs, cm, cs)
            srcc = np.asarray(m.report["test"]["srcc_hop"], dtype=np.float64)
            w = np.clip(srcc[np.clip(hops, 0, None)], 0.0, None) if len(models) > 1 else np.ones(len(mods))
            w = np.where(w > 0, w, 1e-12)
            num += w * s
            sq_num += w * s * s
            srcc_num += w * srcc[np.clip(hops, 0, len(srcc) - 1)]
            raw_num += w * np.nan_to_num(raw)
            wsum += w
        parts["group"].append(np.full(len(mods), g, dtype=np.int32))
        parts["depth"].append(mods.depths)
        ch = np.full((len(mods), max_w), -1, dtype=np.int32)
        ch[:, : mods.choices.shape[1]] = mods.choices
        parts["choices"].append(ch)
        parts["raw"].append(np.where(mods.depths > 0, raw_num / wsum, np.nan))
        parts["hop"].append(hops)
        parts["score"].append(num / wsum)
        parts["cal"].append(np.full(len(mods), FALLBACK if fallback else EQ5, dtype=object))
        parts["srcc"].append(srcc_num / wsum)
        if len(models) > 1:  # the spread of the members' scores, weighted like the mean
            spread = np.sqrt(np.clip(sq_num / wsum - (num / wsum) ** 2, 0.0, None))
        else:  # one model: its held-out MAE in the units of the scores (labels, or N(0,1) units)
            rep = models[0].report
            mae = float(rep["test"]["mae"])
            spread = np.full(len(mods), mae / float(rep.get("label_std") or 1.0) if fallback else mae)
        parts["spread"].append(spread)
    label = name or (models[0].name if len(models) == 1 else f"ensemble of {len(models)}")
    return ModuleScores(
        space, str(models[0].target), label, glob,
        np.concatenate(parts["group"]), np.concatenate(parts["depth"]), np.concatenate(parts["choices"]),
        np.concatenate(parts["raw"]), np.concatenate(parts["hop"]), np.concatenate(parts["score"]),
        np.concatenate(parts["cal"]), np.concatenate(parts["srcc"]), np.concatenate(parts["spread"]), notes,
    )


# ----------------------------------------------------------------------------- CSV
COLUMNS = ("stage", "depth", "module", "raw_norm", "hop", "score", "calibration", "srcc", "spread", "model", "target",
           "space")


def write_scores(path: str | Path, scores: ModuleScores) -> None:
    """CSV, one row per module: stage, depth, module (JSON layers), raw_norm, hop, score, calibration,
    srcc (the predictor's held-out SRCC at the module's hop), spread (the score's uncertainty: the
    ensemble members' spread, or one model's held-out MAE), model, target, space, then one column per
    global feature value the modules were scored at."""
    import csv

    from ..io_utils import SCORES_FORMATS, atomic_file, output_format

    output_format(path, SCORES_FORMATS, "scores")
    gnames = list(scores.globals)
    texts = _module_texts(scores)
    srcc = ["" if scores.srcc is None or not np.isfinite(v) else f"{v:.4f}"
            for v in (scores.srcc if scores.srcc is not None else np.full(len(scores), np.nan))]
    spread = ["" if scores.spread is None or not np.isfinite(v) else f"{v:.6g}"
              for v in (scores.spread if scores.spread is not None else np.full(len(scores), np.nan))]
    with atomic_file(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*COLUMNS, *gnames])
        tail = [scores.model, scores.target, scores.space.name, *[scores.globals[n] for n in gnames]]
        labels = [scores.stage_label(g) for g in range(scores.space.n_groups)]
        w.writerows(
            [labels[int(scores.group[i])], int(scores.depth[i]), texts[i],
             "" if np.isnan(scores.raw_norm[i]) else repr(float(scores.raw_norm[i])), int(scores.hop[i]),
             repr(float(scores.score[i])), scores.calibration[i], srcc[i], spread[i], *tail]
            for i in range(len(scores))
        )


def _module_texts(scores: ModuleScores) -> list[str]:
    """Compact JSON of every module's layers, in row order (the space builds them per group)."""
    out = np.empty(len(scores), dtype=object)
    for g in range(scores.space.n_groups):
        rows = scores.group_rows(g)
        out[rows] = scores.space.module_texts(g, scores.depth[rows], scores.choices[rows])
    return list(out)


def read_scores(path: str | Path, space: SearchSpace | None = None) -> ModuleScores:
    """Read a scores CSV written by :func:`write_scores` (``space``: needed for non-built-in spaces)."""
    import csv

    from ..spaces import get_space

    from ..safe_input import bounded_lines, open_text

    p = Path(path)
    try:
        with open_text(p, "scores file") as f:
            reader = csv.reader(bounded_lines(f, str(p)))
            header = next(reader, None)
            if header is None or tuple(header[: len(COLUMNS)]) != COLUMNS:
                raise AutobuildError(f"{p}: not a module scores file of this autobuild (expected columns "
                                     f"{', '.join(COLUMNS)}); score again with `autobuild score`")
            rows = list(reader)
    except csv.Error as e:
        raise AutobuildError(f"{p}: malformed CSV ({e})") from None
    if not rows:
        raise AutobuildError(f"{p}: no rows")
    first = rows[0]
    if len(first) != len(header):
        raise AutobuildError(f"{p}: row 1: expected {len(header)} fields, got {len(first)}")
    sp_name, target, model = first[11], first[10], first[9]
    if space is None:
        try:
            space = get_space(sp_name)
        except AutobuildError:
            raise AutobuildError(f"{p}: scores of space {sp_name!r}; pass its space file with --space") from None
    elif space.name != sp_name:
        raise AutobuildError(f"{p}: scores of space {sp_name!r}, not {space.name!r}")
    gnames = header[len(COLUMNS):]
    if sorted(gnames) != sorted(f.name for f in space.global_features):
        raise AutobuildError(f"{p}: global columns {gnames} do not match space {space.name!r}")
    labels = {space.group_label(g): g for g in range(space.n_groups)}
    max_w = space.module_width
    n = len(rows)
    group, depth, hop = (np.zeros(n, np.int32) for _ in range(3))
    choices = np.full((n, max_w), -1, np.int32)
    raw, score, srcc, spread = np.zeros(n), np.zeros(n), np.full(n, np.nan), np.full(n, np.nan)
    cal = np.empty(n, dtype=object)
    glob: dict[str, Any] = {}
    gvalues = {f.name: {str(x): x for x in f.values} for f in space.global_features}
    seen: set[tuple] = set()
    # A whole scores file: look each module's text up among the texts write_scores gives every
    # module of the space (a dictionary lookup instead of a JSON parse and a check per row).
    written: list[dict[str, tuple[int, tuple[int, ...]]]] = []
    if n >= 1000 and module_count(space) <= 4 * n:
        for g in range(space.n_groups):
            ms = space.enumerate_modules(g)
            texts = space.module_texts(g, ms.depths, ms.choices)
            written.append({t: (int(d), tuple(int(c) for c in ch[:d]))
                            for t, d, ch in zip(texts, ms.depths.tolist(), ms.choices.tolist())})
    for i, r in enumerate(rows):
        where = f"{p}: row {i + 1}"
        if len(r) != len(header):
            raise AutobuildError(f"{where}: expected {len(header)} fields, got {len(r)}")
        if r[9] != model or r[10] != target or r[11] != sp_name:
            raise AutobuildError(f"{where}: mixes models/targets/spaces; one scores file holds one model's scores")
        g = labels.get(r[0])
        if g is None:
            raise AutobuildError(f"{where}: unknown stage {r[0]!r} (stages: {', '.join(labels)})")
        try:
            known = written[g].get(r[2]) if written else None
            if known is None:  # not as write_scores writes it: parse and check it
                mod = space.parse_module(g, parse_json(r[2], "module"))
                d, row = mod.depth, mod.choices
            else:
                d, row = known
            s = float(r[5])
            rn = float(r[3]) if r[3] else np.nan
            sr = float(r[7]) if r[7] else np.nan
            spr = float(r[8]) if r[8] else np.nan
            if not (np.isnan(spr) or 0 <= spr < np.inf):
                raise ValueError(f"spread {r[8][:20]!r} must be a finite number >= 0")
            h = int(r[4])
            if not 0 <= h < 1024:
                raise ValueError(f"hop {h} out of range")
        except (ValueError, OverflowError) as e:
            raise AutobuildError(f"{where}: {e}") from None
        except AutobuildError as e:
            raise AutobuildError(f"{where}: {e}") from None
        if not np.isfinite(s):
            raise AutobuildError(f"{where}: score is not a finite number")
        if r[1].strip() != str(d):
            raise AutobuildError(f"{where}: depth {r[1][:20]!r} does not match the module's {d} layers")
        if r[6] not in (EQ5, FALLBACK):
            raise AutobuildError(f"{where}: calibration {r[6][:20]!r} is not {EQ5} or {FALLBACK}")
        key = (g, tuple(row))
        if key in seen:
            raise AutobuildError(f"{where}: the same module appears twice in stage {r[0]}")
        seen.add(key)
        group[i], depth[i], hop[i], raw[i], score[i], cal[i], srcc[i], spread[i] = g, d, h, rn, s, r[6], sr, spr
        choices[i, : len(row)] = row
        for k, name in enumerate(gnames):
            v = r[len(COLUMNS) + k]
            if v not in gvalues[name]:
                raise AutobuildError(f"{where}: {name} = {v!r} is not one of {list(gvalues[name].values())}")
            if glob.setdefault(name, gvalues[name][v]) != gvalues[name][v]:
                raise AutobuildError(f"{where}: {name} differs between rows")
    return ModuleScores(space, target, model, glob, group, depth, choices, raw, hop, score, cal, srcc, spread,
                        source=str(path))
