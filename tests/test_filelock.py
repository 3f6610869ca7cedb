"""`jaxgan.filelock.exclusive`: work under the lock never interleaves between processes."""

import subprocess
import sys

import pytest

from jaxgan import filelock
from jaxgan.errors import UserError

_WORKER = """
import sys, time
from jaxgan import filelock
lock, log, name = sys.argv[1:]
with filelock.exclusive(lock):
    with open(log, "a") as f:
        f.write(f"{name} in\\n"); f.flush(); time.sleep(0.3); f.write(f"{name} out\\n")
"""


def test_two_processes_take_turns(tmp_path):
    lock, log = tmp_path / "sub" / "x.lock", tmp_path / "log"
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, str(lock), str(log), name])
             for name in ("a", "b")]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    lines = log.read_text().splitlines()
    # Each process's "in" is followed by its own "out": the 0.3 s inside never overlap.
    assert sorted(lines) == ["a in", "a out", "b in", "b out"]
    assert lines[0].split()[0] == lines[1].split()[0] and lines[2].split()[0] == lines[3].split()[0]


def test_an_unusable_lock_path_is_a_clear_error(tmp_path):
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    lock = filelock.exclusive(str(blocker / "x.lock"))
    with pytest.raises(UserError, match="cannot create the lock file .*must be writable"):
        lock.__enter__()
