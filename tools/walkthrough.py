"""Run the README's five-minute walkthrough as written (the `$ autobuild ...` lines between the
`<!-- walkthrough -->` markers), in a working directory of your choice.

    python tools/walkthrough.py --workdir runs/walkthrough            # as written (about 3 minutes)
    python tools/walkthrough.py --workdir /tmp/wt --epochs 2 --in-process   # toy size (the test does this)

`--epochs N` is added to every `train` line that has none; nothing else is changed. `--in-process`
runs the commands in this interpreter (one start-up instead of one per command)."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def commands(readme: Path = README) -> list[list[str]]:
    text = readme.read_text(encoding="utf-8")
    try:
        block = text.split("<!-- walkthrough -->", 1)[1].split("<!-- /walkthrough -->", 1)[0]
    except IndexError:
        raise SystemExit(f"{readme}: no <!-- walkthrough --> ... <!-- /walkthrough --> block") from None
    return [shlex.split(line[2:]) for line in block.splitlines() if line.startswith("$ autobuild ")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", default="runs/walkthrough", help="where the walkthrough runs (created)")
    ap.add_argument("--epochs", type=int, default=None, help="train every predictor for N epochs (toy size)")
    ap.add_argument("--in-process", action="store_true", help="run the commands in this interpreter")
    a = ap.parse_args()
    work = Path(a.workdir)
    work.mkdir(parents=True, exist_ok=True)
    # A rerun starts its search afresh: a journal of other models (or other --epochs) would be
    # refused, or worse, its metrics reused. These are the walkthrough's own files, in its folder.
    for name in ("run.db", "run.db-wal", "run.db-shm", "front.csv", "front.png"):
        (work / name).unlink(missing_ok=True)
    for cmd in commands():
        if a.epochs is not None and cmd[1] == "train" and "--epochs" not in cmd:
            cmd = [*cmd, "--epochs", str(a.epochs)]
        if cmd[1] == "train" and "--overwrite" not in cmd and (work / cmd[cmd.index("--out") + 1]).exists():
            cmd = [*cmd, "--overwrite"]  # a rerun replaces the walkthrough's own models
        print("$ " + shlex.join(cmd), flush=True)
        rc = run_in_process(cmd[1:], work) if a.in_process else \
            subprocess.run([sys.executable, "-m", "autobuild", *cmd[1:]], cwd=work).returncode
        if rc:
            print(f"walkthrough: {shlex.join(cmd)} failed (exit status {rc})", file=sys.stderr)
            return rc
    print(f"walkthrough: done in {work}")
    return 0


def run_in_process(args: list[str], work: Path) -> int:
    """One command through the CLI's own entry point, in ``work``; its exit status."""
    from autobuild.cli import cli

    here = os.getcwd()
    os.chdir(work)
    try:
        cli.main(args, prog_name="autobuild")
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.chdir(here)
    return 0


if __name__ == "__main__":
    sys.exit(main())
