"""Run the README's five-minute walkthrough as written (the `$ autobuild ...` lines between the
`<!-- walkthrough -->` markers), in a working directory of your choice.

    python tools/walkthrough.py --workdir runs/walkthrough            # as written (about 3 minutes)
    python tools/walkthrough.py --workdir /tmp/wt --epochs 2          # toy size (the test does this)

`--epochs N` is added to every `train` line that has none; nothing else is changed."""

from __future__ import annotations

import argparse
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
        r = subprocess.run([sys.executable, "-m", "autobuild", *cmd[1:]], cwd=work)
        if r.returncode:
            print(f"walkthrough: {shlex.join(cmd)} failed (exit status {r.returncode})", file=sys.stderr)
            return r.returncode
    print(f"walkthrough: done in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
