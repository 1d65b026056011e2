"""Fault tests: ``kill -9`` of ``train``, ``score`` and ``search`` at random points (no partial output,
no orphan process, the rerun or resume identical to an uninterrupted run), two searches on one journal
(the second refused, naming the holder), stale temporaries cleaned, directory replaces atomic."""

from __future__ import annotations

import csv
import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from autobuild.cli import cli

pytestmark = [pytest.mark.skipif(sys.platform != "linux", reason="process-level fault tests use Linux /proc"),
              pytest.mark.heavy]

SEED = int(os.environ.get("AUTOBUILD_FAULT_SEED", "0")) or random.SystemRandom().randrange(1, 10**6)

SLOW_EVALUATOR = '''
import os, time

def evaluate(archs):
    time.sleep(float(os.environ.get("AB_EVAL_SLEEP", "0")) * len(archs))
    return {"a": [float(sum(a["d"])) for a in archs], "b": [float(sum(a["ks"]) + a["r"] / 100) for a in archs]}
'''


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _spawn(args: list, mark: str, cwd: Path, **env: str) -> subprocess.Popen:
    e = {**os.environ, "AUTOBUILD_FAULT_MARK": mark, "PYTHONWARNINGS": "ignore", **env}
    return subprocess.Popen([sys.executable, "-m", "autobuild", *map(str, args)], cwd=cwd, env=e,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def _marked(mark: str) -> list[int]:
    """Live processes (not zombies) whose environment carries ``mark``."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if f"AUTOBUILD_FAULT_MARK={mark}".encode() in (d / "environ").read_bytes():
                state = (d / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    out.append(int(d.name))
        except OSError:
            continue
    return out


def _assert_no_orphans(mark: str, wait: float = 5.0) -> None:
    deadline = time.monotonic() + wait
    while _marked(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _marked(mark)
    names = {pid: (Path(f"/proc/{pid}/cmdline").read_bytes()[:80] if Path(f"/proc/{pid}").exists() else b"") for pid in left}
    for pid in left:  # do not leave them running even when the test fails
        os.kill(pid, signal.SIGKILL)
    assert not left, f"orphan processes survived their parent: {names} (fault seed {SEED})"


def _kill_after(p: subprocess.Popen, seconds: float) -> bool:
    """SIGKILL ``p`` after ``seconds``; False if it had already finished."""
    try:
        p.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        return True


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _temporaries(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(".") and p.name.endswith((".tmp", ".old")))


def _kill_at_random_points(args: list, tmp_path: Path, out: Path, seed: int, check) -> None:
    """Run ``args --out out`` twice as a process and SIGKILL it: the first time the moment its
    output's temporary appears (mid-write, the most delicate point), the second at a random point of
    the run up to then; after each kill ``check(out)`` (never a partial output) and no orphan. Then
    the same command in this process must finish the work and clear the dead runs' temporaries."""
    rng = random.Random(seed)
    t0 = time.monotonic()
    mark = uuid.uuid4().hex
    p = _spawn([*args, "--out", out], mark, tmp_path)
    prefix = f".{out.name}.ab"
    while p.poll() is None and not any(q.name.startswith(prefix) for q in tmp_path.iterdir()):
        time.sleep(0.005)
    writing_at = time.monotonic() - t0
    assert _kill_after(p, 0), p.stderr.read().decode()  # still running: it was caught writing
    _assert_no_orphans(mark)
    assert any(q.name.startswith(prefix) for q in tmp_path.iterdir()) and not out.exists(), "killed mid-write"
    mark = uuid.uuid4().hex
    _kill_after(_spawn([*args, "--out", out], mark, tmp_path), rng.uniform(0.2, 1.0) * writing_at)
    _assert_no_orphans(mark)
    if out.exists():
        check(out)
    fin = invoke(*args, "--out", out)
    assert fin.exit_code == 0, fin.output
    assert _temporaries(tmp_path) == [], f"stale temporaries left (seed {SEED})"


def test_kill_train_at_random_points(tmp_path, small_data, model_dir):
    from autobuild.models.artifact import load_model

    # The arguments of the model_dir fixture: the finished run must give the very same weights.
    args = ["train", "--space", "ofa-mbv3", "--data", small_data, "--target", "acc", "--epochs", "3", "--quiet",
            "--overwrite"]
    out = tmp_path / "m"
    _kill_at_random_points(args, tmp_path, out, SEED, load_model)  # what is there loads, checksums and all
    assert _digest(out / "model.safetensors") == _digest(model_dir / "model.safetensors"), f"seed {SEED}"


def test_kill_score_at_random_points(tmp_path, model_dir, scores_csv):
    args = ["score", model_dir, "--quiet", "--show", "0"]  # the scores_csv fixture's arguments

    def whole(p: Path) -> None:
        assert p.read_bytes() == scores_csv.read_bytes(), f"a partial scores file (seed {SEED})"

    out = tmp_path / "s.csv"
    _kill_at_random_points(args, tmp_path, out, SEED + 1, whole)
    whole(out)


def _journal_rows(path: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return int(db.execute("SELECT COUNT(*) FROM evals").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def _search_args(ev: Path, *extra) -> list:
    return ["search", "--space", "ofa-mbv3", "--objectives", "a:max,b:min", "--evaluator", f"{ev}:evaluate",
            "--budget", "40", "--initial", "10", "--per-iteration", "10", "--seed", "5", "--quiet", *extra]


def test_kill_search_leaves_no_orphans_and_resumes_identically(tmp_path):
    ev = tmp_path / "slow_ev.py"
    ev.write_text(SLOW_EVALUATOR)
    ref = invoke(*_search_args(ev, "--executor", "inline", "--out", tmp_path / "ref.csv"))
    assert ref.exit_code == 0, ref.output
    rng = random.Random(SEED + 2)
    journal = tmp_path / "run.db"
    mark = uuid.uuid4().hex
    p = _spawn(_search_args(ev, "--executor", "process", "--workers", "2", "--journal", journal, "--out",
                            tmp_path / "front.csv"), mark, tmp_path, AB_EVAL_SLEEP="0.05")
    want = rng.randint(1, 30)  # kill once this many evaluations are journaled
    deadline = time.monotonic() + 120
    while _journal_rows(journal) < want and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert p.poll() is None, f"search ended before the kill: {p.stderr.read().decode()}"
    assert len(_marked(mark)) >= 3, "expected the search process and its pool workers"
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    _assert_no_orphans(mark)
    done = _journal_rows(journal)
    time.sleep(0.3)
    assert _journal_rows(journal) == done
    res = invoke("search", "--resume", journal, "--executor", "inline", "--out", tmp_path / "front.csv")
    assert res.exit_code == 0, res.output
    assert f"{done} from the journal" in res.stderr or done == 0
    assert (tmp_path / "front.csv").read_bytes() == (tmp_path / "ref.csv").read_bytes(), f"seed {SEED}"


def test_two_searches_on_one_journal(tmp_path):
    ev = tmp_path / "slow_ev.py"
    ev.write_text(SLOW_EVALUATOR)
    journal = tmp_path / "run.db"
    mark = uuid.uuid4().hex
    a = _spawn(_search_args(ev, "--executor", "inline", "--journal", journal), mark, tmp_path, AB_EVAL_SLEEP="0.5")
    try:
        deadline = time.monotonic() + 60
        while _journal_rows(journal) < 1 and a.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert a.poll() is None, a.stderr.read().decode()
        for args in (("search", "--resume", journal, "--executor", "inline"),
                     _search_args(ev, "--executor", "inline", "--journal", journal)):
            res = invoke(*args)
            assert res.exit_code == 2, res.output
            err = res.stderr.strip().splitlines()[-1]
            assert f"in use by another search (pid {a.pid} on" in err, err
    finally:
        os.kill(a.pid, signal.SIGKILL)
        a.wait()
    _assert_no_orphans(mark)
    # The lock died with its holder: the next run proceeds (a stale lock file blocks nothing).
    res = invoke("search", "--resume", journal, "--executor", "inline", "--quiet")
    assert res.exit_code == 0, res.output
    assert not Path(f"{journal}-lock").exists()


def test_kill_ensemble_resumes_and_a_failed_one_does_not_poison(tmp_path, small_data):
    from autobuild.models.ensemble import load_ensemble

    ens = tmp_path / "ens"
    args = ["train", "--space", "ofa-mbv3", "--data", small_data, "--epochs", "2", "--folds", "2", "--quiet", "--out", ens]
    mark = uuid.uuid4().hex
    p = _spawn(args, mark, tmp_path)
    deadline = time.monotonic() + 300
    while not (ens / "fold0-seed0" / "manifest.json").is_file() and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    _kill_after(p, 0)
    _assert_no_orphans(mark)
    res = invoke(*args)
    assert res.exit_code == 0, res.output
    assert "already trained, kept" in res.stderr or p.returncode == 0
    assert len(load_ensemble(ens)) == 2
    # A manifest with no finished member (a failed run) is replaced by a run of other settings.
    bad = tmp_path / "bad"
    bad.mkdir()
    from autobuild.manifest import seal

    (bad / "ensemble.json").write_text(__import__("json").dumps(seal(
        {"format": "autobuild-ensemble", "settings": {"other": 1}, "members": ["fold0-seed0", "fold1-seed0"]})))
    res = invoke("train", "--space", "ofa-mbv3", "--data", small_data, "--epochs", "1", "--folds", "2", "--quiet",
                 "--out", bad)
    assert res.exit_code == 0, res.output


# ----------------------------------------------------------------------------- atomic writes
def test_stale_temporaries_are_cleaned_and_an_old_dir_restored(tmp_path):
    from autobuild.io_utils import atomic_dir, atomic_write_text, clean_stale

    dead = 2**22 + 12345  # above the default pid_max: no such process
    while True:
        try:
            os.kill(dead, 0)
            dead += 1
        except ProcessLookupError:
            break
        except PermissionError:
            dead += 1
    (tmp_path / f".out.csv.ab{dead}-aaaa.tmp").write_text("half")
    (tmp_path / f".out.csv.ab{os.getpid()}-bbbb.tmp").write_text("mine, in progress")
    (tmp_path / ".other.csv.ab1-cccc.tmp").write_text("another target")
    atomic_write_text(tmp_path / "out.csv", "new\n")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert f".out.csv.ab{dead}-aaaa.tmp" not in names  # the killed writer's temporary is gone
    assert f".out.csv.ab{os.getpid()}-bbbb.tmp" in names  # a live writer's is kept
    assert ".other.csv.ab1-cccc.tmp" in names  # other targets are not touched
    # A kill between the two renames of a non-exchanging replace: the old directory comes back.
    (tmp_path / f".model.ab{dead}-dddd.old").mkdir()
    (tmp_path / f".model.ab{dead}-dddd.old" / "config.json").write_text("{}")
    clean_stale(tmp_path / "model")
    assert (tmp_path / "model" / "config.json").is_file()
    with atomic_dir(tmp_path / "model") as t:
        (Path(t) / "config.json").write_text('{"v": 2}')
    assert (tmp_path / "model" / "config.json").read_text() == '{"v": 2}'
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".model.")]


def test_directory_replace_is_one_exchange(tmp_path, monkeypatch):
    """While a model directory is replaced, every observer sees the old or the new one, never none."""
    from autobuild import io_utils

    target = tmp_path / "m"
    with io_utils.atomic_dir(target) as t:
        (Path(t) / "f").write_text("old")
    seen = []
    real = io_utils._exchange

    def spy(a, b):
        ok = real(a, b)
        seen.append((ok, (Path(b) / "f").read_text()))
        return ok

    monkeypatch.setattr(io_utils, "_exchange", spy)
    with io_utils.atomic_dir(target) as t:
        (Path(t) / "f").write_text("new")
    assert (target / "f").read_text() == "new"
    assert seen and (not seen[0][0] or seen[0][1] == "new")
    # No exchange on this platform: the fallback still ends with the new directory.
    monkeypatch.setattr(io_utils, "_exchange", lambda a, b: False)
    with io_utils.atomic_dir(target) as t:
        (Path(t) / "f").write_text("newer")
    assert (target / "f").read_text() == "newer"
    assert sorted(os.listdir(tmp_path)) == ["m"]


def test_model_files_share_one_mode(model_dir):
    modes = {(p.stat().st_mode & 0o777) for p in model_dir.iterdir()}
    assert len(modes) == 1, modes


def test_interrupted_search_prints_the_resume_command(tmp_path):
    ev = tmp_path / "ki.py"
    ev.write_text("def evaluate(archs):\n    raise KeyboardInterrupt\n")
    res = invoke("search", "--space", "ofa-mbv3", "--objectives", "a:max", "--evaluator", f"{ev}:evaluate",
                 "--executor", "inline", "--journal", tmp_path / "j.db", "--quiet")
    assert res.exit_code == 130
    assert f"resume with: autobuild search --resume {tmp_path / 'j.db'}" in res.stderr


def test_evaluator_module_shadows_nothing(tmp_path):
    """A matplotlib.py in the working directory is never imported in place of the library."""
    (tmp_path / "matplotlib.py").write_text("open('SHADOWED', 'w').write('x')\nraise SystemExit(9)\n")
    (tmp_path / "my_eval.py").write_text(SLOW_EVALUATOR)
    p = subprocess.run([sys.executable, "-m", "autobuild", "search", "--space", "ofa-mbv3", "--objectives", "a:max,b:min",
                        "--evaluator", "my_eval:evaluate", "--budget", "10", "--initial", "10", "--executor", "process",
                        "--out", "front.csv", "--quiet"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONSAFEPATH": "1"})
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "front.png").is_file()  # matplotlib (the library) drew the front
    assert not (tmp_path / "SHADOWED").exists()
    with open(tmp_path / "front.csv") as f:
        assert len(list(csv.DictReader(f))) >= 1


@pytest.mark.parametrize("body, fragment", [
    ("import sys\n    sys.exit(7)", "called sys.exit(7)"),
    ("import os\n    os._exit(3)", "an evaluation worker process died"),
])
def test_process_worker_failures_are_named(tmp_path, body, fragment):
    """An evaluator that exits or kills its worker process: exit 2 and one line, not exit 7 or a hang."""
    ev = tmp_path / "bad_ev.py"
    ev.write_text(f"def evaluate(archs):\n    {body}\n")
    mark = uuid.uuid4().hex
    p = _spawn(["search", "--space", "ofa-mbv3", "--objectives", "a:max", "--evaluator", f"{ev}:evaluate",
                "--budget", "10", "--initial", "10", "--executor", "process", "--quiet"], mark, tmp_path)
    assert p.wait(timeout=300) == 2
    lines = p.stderr.read().decode().strip().splitlines()
    assert lines[-1].startswith("autobuild: error: ") and fragment in lines[-1], lines
    assert not any("Traceback" in line for line in lines)
    _assert_no_orphans(mark)


def test_padded_archs_survive_a_later_depth_change_in_ofa():
    """ofa's set_active_subnet keeps each block's last kernel: 0-padding breaks a later depth-only
    change ("kernel size should be odd number"), the default padding does not."""
    pytest.importorskip("torchvision")
    networks = pytest.importorskip("ofa.imagenet_classification.elastic_nn.networks")
    from autobuild.spaces import get_space

    net = networks.OFAMobileNetV3(width_mult=1.2, ks_list=[3, 5, 7], expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4])
    sp = get_space("ofa-mbv3")
    arch = sp.decode(sp.sample_codes(1, seed=3))[0]
    assert 0 not in arch["ks"] and 0 not in arch["e"]
    net.set_active_subnet(ks=arch["ks"], e=arch["e"], d=arch["d"])
    net.set_active_subnet(d=[4, 4, 4, 4, 4])
    net.get_active_subnet()
    zero = sp.decode(sp.sample_codes(1, seed=3), pad="zero")[0]
    assert sp.validate(zero) == arch  # both paddings read back as the same arch
    net.set_active_subnet(ks=zero["ks"], e=zero["e"], d=zero["d"])
    with pytest.raises(Exception, match="odd"):
        net.set_active_subnet(d=[4, 4, 4, 4, 4])
        net.get_active_subnet()


def test_kill_search_with_ray_leaves_no_orphans(tmp_path):
    """A local Ray started by the search shares its fate: raylet, GCS and workers end with it."""
    pytest.importorskip("ray")
    ev = tmp_path / "slow_ev.py"
    ev.write_text(SLOW_EVALUATOR)
    mark = uuid.uuid4().hex
    p = _spawn(_search_args(ev, "--executor", "ray", "--journal", tmp_path / "run.db"), mark, tmp_path,
               AB_EVAL_SLEEP="2")
    deadline = time.monotonic() + 120
    while len(_marked(mark)) < 4 and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)  # wait until Ray runs (its processes carry the search's environment)
    assert p.poll() is None, p.stderr.read().decode()
    time.sleep(1)  # tasks are mid-evaluation (each sleeps 2 s)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    _assert_no_orphans(mark, wait=60)
