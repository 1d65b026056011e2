"""``autobuild profile``: on-device latency labels of OFA archs (:mod:`autobuild.networks.profile`)."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import click
import numpy as np

from .. import limits
from ..errors import AutobuildError
from .options import QUIET, SPACE, network_space, seed_option

#: Settings a resumed run must share with the file it extends (labels of one setup only).
SETUP_KEYS = ("space", "provider", "batch", "threads", "runs", "warmup", "cpu", "latent")


def _sidecar(out: Path) -> Path:
    return out.with_name(out.name + ".json")


def _arch_text(arch: dict) -> str:
    return json.dumps(arch, separators=(",", ":"))


def _write(out: Path, rows: list[dict], label: str, meta: dict) -> None:
    """The CSV (one row per measured arch, the recommended statistic as ``label``) and its JSON
    sidecar (environment, repeat pass, failures, recommendation), each replaced atomically."""
    from ..io_utils import atomic_write_text
    from ..networks.profile import STATS

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["arch", *STATS, "label"])
    for r in rows:
        w.writerow([r["arch"], *(repr(round(r[s], 6)) for s in STATS), repr(round(r[label], 6))])
    atomic_write_text(_sidecar(out), json.dumps(meta, indent=1) + "\n")
    atomic_write_text(out, buf.getvalue())


def _resume(out: Path, setup: dict, space: Any) -> tuple[list[dict], dict]:
    """Rows and sidecar of an earlier run of the same setup (nothing when ``out`` is new)."""
    from ..networks.profile import STATS

    side = _sidecar(out)
    if not out.exists():
        return [], {}
    if not side.exists():
        raise AutobuildError(f"{out}: exists but was not written by `autobuild profile` (no {side.name}); "
                             "choose another --out")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
        old = {k: meta["setup"].get(k) if k == "latent" else meta["setup"][k] for k in SETUP_KEYS}  # latent: 0.4
    except (ValueError, KeyError, TypeError):
        raise AutobuildError(f"{side}: not a profile sidecar (corrupt?); choose another --out") from None
    diff = [f"{k} {old[k]!r} -> {setup[k]!r}" for k in SETUP_KEYS if old[k] != setup[k]]
    if diff:
        raise AutobuildError(f"{out}: was measured with another setup ({'; '.join(diff)}); latencies of two setups "
                             "must not share a file: choose another --out")
    rows = []
    with out.open(newline="", encoding="utf-8") as f:
        for n, rec in enumerate(csv.DictReader(f), start=2):
            try:
                space.validate(json.loads(rec["arch"]))
                rows.append({"arch": rec["arch"], **{s: float(rec[s]) for s in STATS}})
            except (KeyError, ValueError, TypeError, AutobuildError) as e:
                raise AutobuildError(f"{out}: row {n}: unreadable ({e}); choose another --out") from None
    return rows, meta


@click.command("profile", short_help="Measure OFA or U-Net archs' latency on this device.")
@SPACE
@click.option("--archs", "archs_path", required=True, help="CSV/JSONL with an arch column (other columns ignored).")
@click.option("--provider", default="cpu", show_default=True,
              help="ONNX Runtime execution provider (cpu, cuda, tensorrt, openvino, qnn, ... or a full name; "
                   "`autobuild providers` lists them) or torch-cpu / torch-cuda (PyTorch eager).")
@click.option("--batch", type=click.IntRange(1, 1024), default=1, show_default=True, help="Images per run.")
@click.option("--threads", type=click.IntRange(0, limits.MAX_THREADS), default=1, show_default=True,
              help="Intra-op threads (0 = the runtime's default).")
@click.option("--runs", type=click.IntRange(3, 100_000), default=50, show_default=True, help="Timed runs per arch.")
@click.option("--warmup", type=click.IntRange(0, 100_000), default=10, show_default=True, help="Untimed runs first.")
@click.option("--repeat-pass", "repeat", type=click.IntRange(0, limits.MAX_ARCHS), default=0, show_default=True,
              help="After the first pass, measure this many archs again: the agreement of the two passes is "
                   "your noise ceiling, and decides which statistic is the label.")
@click.option("--latent", type=click.IntRange(8, 512), default=None,
              help="U-Net spaces: side of the latent (the paper's is 64; smaller latents are quicker on a CPU, "
                   "and the sidecar records which) [default: 64].")
@seed_option("Seed of the random weights and inputs.")
@click.option("--out", type=click.Path(dir_okay=False), required=True,
              help="Latency CSV (arch, median_ms, min_ms, p10_ms, p90_ms, label) and OUT.json beside it. An "
                   "existing profile of the same setup is resumed: its archs are not measured again.")
@QUIET
def profile(space_name: str | None, archs_path: str, provider: str, batch: int, threads: int, runs: int, warmup: int,
            repeat: int, latent: int | None, seed: int, out: str, quiet: bool) -> None:
    """Build every arch's subnet, warm it up, time it and write latency labels for `train`.

    Per arch: median, minimum, p10 and p90 of the timed runs (ms), and as `label` the statistic the
    repeat pass found most repeatable (the minimum until a repeat pass says otherwise). The
    environment (CPU, provider, library versions, threads, batch) is written to OUT.json. A failing
    arch is recorded there and skipped; rerunning the command resumes (and retries failures)."""
    from tqdm import tqdm

    from ..data.builtin import resolve_data
    from ..data.table import read_records
    from ..networks.profile import (
        STATS,
        TORCH_PROVIDERS,
        cpu_model,
        environment,
        measure,
        ort_provider,
        recommend,
    )

    space = network_space(space_name, ("ofa-mbv3", "ofa-pn", "sd-unet"))
    unet = space.network_family == "sd-unet"
    if latent is not None and not unet:
        raise click.BadParameter("applies to the U-Net spaces only (OFA archs carry their resolution r)",
                                 param_hint="--latent")
    if unet:
        latent = latent or 64
        if latent % 8:
            raise click.BadParameter(f"{latent} is not a multiple of 8 (three downsamplings)", param_hint="--latent")
    prov = provider if provider in TORCH_PROVIDERS else ort_provider(provider)
    out_p = Path(out)
    setup = {"space": space.name, "provider": prov, "batch": batch, "threads": threads, "runs": runs,
             "warmup": warmup, "cpu": cpu_model(), "latent": latent}
    rows, meta = _resume(out_p, setup, space)
    records = read_records(resolve_data(archs_path), validate=space.validate)  # canonical archs
    seen = {r["arch"] for r in rows}  # measured already (resume), then each duplicate once
    todo = []
    for i, arch in enumerate(records.archs):
        if _arch_text(arch) not in seen:
            seen.add(_arch_text(arch))
            todo.append((i, arch))
    env = environment(prov, batch, threads, runs, warmup)
    failures: list[dict] = []
    repeats: list[dict] = list(meta.get("repeat", []))

    def save(final: bool) -> None:
        by_arch = {r["arch"]: r for r in rows}
        pairs = [(by_arch[q["arch"]], q) for q in repeats if q["arch"] in by_arch]
        first = {s: np.array([r[s] for r, _ in pairs]) for s in STATS}
        second = {s: np.array([q[s] for _, q in pairs]) for s in STATS}
        rec = recommend(first, second) if repeats else {
            "label": "min_ms", "repeat_srcc": {}, "reason": "no repeat pass (--repeat-pass N measures the noise); "
            "the minimum is the usual choice: interference only adds time"}
        rec["final"] = final
        _write(out_p, rows, rec["label"], {"format": "autobuild-profile", "version": 1, "setup": setup,
                                           "environment": env, "recommendation": rec, "repeat": repeats,
                                           "failures": failures, "archs": len(rows)})

    bar = tqdm(total=len(todo) + max(0, repeat - len(repeats)), desc=f"profile {space.name} [{prov}]", unit="arch",
               disable=quiet or None, file=sys.stderr)
    for i, arch in todo:
        try:
            stats = measure(space, arch, prov, batch, threads, runs, warmup, seed, latent or 64)
        except (AutobuildError, RuntimeError, ValueError, MemoryError) as e:  # one arch failing is not fatal
            failures.append({"row": i + 1, "arch": _arch_text(arch), "error": str(e).splitlines()[0][:300]})
        else:
            rows.append({"arch": _arch_text(arch), **stats})
        bar.update(1)
        bar.set_postfix(failed=len(failures))
        save(False)
    seen = {q["arch"] for q in repeats}
    for r in rows:
        if len(repeats) >= repeat:
            break
        if r["arch"] in seen:
            continue
        try:
            repeats.append({"arch": r["arch"], **measure(space, json.loads(r["arch"]), prov, batch, threads, runs,
                                                         warmup, seed, latent or 64)})
        except (AutobuildError, RuntimeError, ValueError, MemoryError) as e:
            failures.append({"row": None, "arch": r["arch"], "error": f"repeat pass: {str(e).splitlines()[0][:300]}"})
        bar.update(1)
        save(False)
    bar.close()
    save(True)
    if not quiet:
        rec = json.loads(_sidecar(out_p).read_text())["recommendation"]
        ceiling = ", ".join(f"{k} {v:.3f}" for k, v in rec["repeat_srcc"].items())
        click.echo(f"wrote {len(rows)} latencies to {out} ({len(failures)} failed, see {_sidecar(out_p).name}); "
                   f"label = {rec['label']}: {rec['reason']}" + (f"; repeat-pass SRCC: {ceiling}" if ceiling else ""),
                   err=True)
