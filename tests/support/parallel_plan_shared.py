"""What the tests of test_parallel_plan share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

import pytest

from migrate import plan_rows
from migrate.sources import open_store
from tests.support.builders import message, write_mbox

FAKE_SEPARATOR = "\n\nFrom fake@example.org Mon Jan  1 00:00:00 2001\nSubject: inside a body\n\n"


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(plan_rows, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(plan_rows, "PART_BYTES", 700)


def both_ways(path):
    [folder] = open_store(path).folders()
    parallel = plan_rows.planned_rows_in_parts(folder)
    assert parallel is not None
    sequential = [plan_rows.message_row(m, body=False) for m in folder.messages()]
    return list(parallel), sequential


def _tree(root):
    """A Thunderbird-like tree: mbox folders of several sizes (one empty), a subfolder,
    and a maildir beside them, read in that order."""
    for n in range(7):
        write_mbox(root / f"F{n}", [message(f"f{n} m{i}", body=f"line {i}\n" * (i % 9 + n))
                                    for i in range(n * 5)])
    write_mbox(root / "F2.sbd" / "Inner", [message(f"inner {i}") for i in range(6)])
    return root


def plan_fields(plan):
    return [(f.folder.display_name, f.target, [(m.location, m.size, m.content_hash,
                                                m.header_key, m.body_hash, m.action, m.reason,
                                                m.internaldate, m.flags)
                                               for m in f.messages]) for f in plan.folders]


def _dies(*call):
    import os
    import signal
    os.kill(os.getpid(), signal.SIGKILL)


def _busy_tree(root, folders=60):
    """Folders of ~1.1 MB: read ahead by the workers, enough of them to be caught at it."""
    root.mkdir(parents=True)
    body = ("x" * 76 + "\n") * 400
    for n in range(folders):
        (root / f"F{n}").write_bytes(b"".join(
            b"From s@example.org Mon Jan  1 00:00:00 2001\n"
            + message(f"f{n} m{i}", body=body) + b"\n" for i in range(36)))
    return root


def _while_workers_run(args, tmp_path, act, env=None):
    """Start mailmigrate in its own process group; once a plan worker exists, act(pid,
    worker pid); return (exit code, stderr)."""
    import os
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT
    err = tmp_path / "stderr.txt"
    with open(err, "wb") as errors:
        proc = subprocess.Popen([sys.executable, "-m", "migrate", *map(str, args)], cwd=ROOT,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=errors, start_new_session=True,
                                env=dict(os.environ, XDG_DATA_HOME=str(tmp_path / "x"),
                                         **(env or {})))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        workers = plan_workers(proc.pid)
        if workers:
            act(proc.pid, int(workers[0]))
            break
        time.sleep(0.002)
    else:
        proc.kill()
        pytest.fail("no plan worker was seen")
    return proc.wait(timeout=120), err.read_text()


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []


def descendants(pid: int) -> list[int]:
    """Every process below *pid* (the fork server, its workers, the resource tracker)."""
    out, todo = [], _children(pid)
    while todo:
        child = todo.pop()
        out.append(child)
        todo += _children(child)
    return out


def plan_workers(pid: int) -> list[int]:
    """The plan's worker processes below *pid*, whatever the start method: children of
    the fork server (forkserver), or children started by spawn; not the fork server
    itself, nor the resource tracker."""
    def cmdline(p):
        try:
            return open(f"/proc/{p}/cmdline", "rb").read()
        except OSError:
            return b""
    found = []
    for child in _children(pid):
        line = cmdline(child)
        if b"forkserver" in line:
            found += _children(child)
        elif b"spawn_main" in line:
            found.append(child)
    return found


def _alive(pid) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
