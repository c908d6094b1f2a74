"""Issue 35: what differs on Windows and macOS, tested here where it can be (the: the
server tests (tests/unit/test_platforms.py has the rest, and says what they prove)."""

from __future__ import annotations

# -- the same results under every start method and in a simulated Windows process ----
import os
import signal
import sys

import pytest

from tests.support.platforms_shared import (
    MODES,
    tree,  # noqa: F401 - a fixture
)


@pytest.mark.parametrize("mode", ["fork", "spawn", "windows"])
def test_run_and_verify_of_the_same_tree_in_each_mode(tmp_path, tree, account, mm, mode):
    env = MODES[mode]
    run = mm("run", tree, *account.cli_args(), "--backup-dir", tmp_path / "bk", "--state",
             tmp_path / "st.sqlite", "--yes", account=account, env=env)
    assert run.code == 0, run.err[-3000:]
    check = mm("verify", tree, *account.cli_args(), account=account, env=env)
    assert check.code == 0 and "Traceback" not in check.err, check.out + check.err
    boxes = account.read_back()
    assert len(boxes["Sent"]) == 16 and len(boxes["Входящие"]) == 8


def test_jobs_and_discover_in_a_simulated_windows_process(tmp_path, tree, account, mm):
    env = MODES["windows"]
    found = mm("discover", tree.parent, "--write-jobs", tmp_path / "jobs.toml", env=env)
    assert found.code == 0 and "Traceback" not in found.err, found.err
    text = (tmp_path / "jobs.toml").read_text(encoding="utf-8")
    text = text.replace('host = "imap.example.net"  # CHANGE: the IMAP server',
                        f'host = "127.0.0.1"\nport = {account.server.imaps_port}\n'
                        f"ca_file = '{account.server.ca_file}'")
    text = text.replace('"CHANGE-ME@example.net"', f'"{account.user}"').replace(
        'password = "keyring"', 'password = "env:MM_TEST_PASSWORD"')
    (tmp_path / "jobs.toml").write_text(text, encoding="utf-8")
    plan = mm("jobs", "plan", tmp_path / "jobs.toml", env=env, account=account)
    assert plan.code == 0, plan.out + plan.err
    pages = list((tmp_path / "work").glob("*/plan/plan.html"))
    assert pages and "送信済み" in pages[0].read_text(encoding="utf-8")


def test_kill_9_leaves_no_process_under_any_start_method(tmp_path, account):
    """kill -9 of a run while its plan's workers read: its workers, fork server and
    resource tracker all end, whichever way they were started."""
    import subprocess
    import time

    from tests.conftest import ROOT
    from tests.support.parallel_plan_shared import _alive, _busy_tree, descendants, plan_workers
    root = _busy_tree(tmp_path / "busy", folders=120)  # long enough to be caught at it
    for mode in ("fork", "forkserver", "spawn"):
        args = ["run", str(root), *account.cli_args(), "--backup-dir", str(tmp_path / mode),
                "--state", str(tmp_path / f"{mode}.sqlite"), "--yes"]
        proc = subprocess.Popen([sys.executable, "-m", "migrate", *args], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True,
                                env=dict(os.environ, MM_TEST_PASSWORD=account.password,
                                         XDG_DATA_HOME=str(tmp_path / "xdg"), **MODES[mode]))
        deadline, seen = time.monotonic() + 60, []
        while time.monotonic() < deadline and not seen and proc.poll() is None:
            if plan_workers(proc.pid) or (mode == "fork" and descendants(proc.pid)):
                time.sleep(0.05)
                seen = descendants(proc.pid)
            time.sleep(0.002)
        assert seen, mode
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in seen):
            time.sleep(0.05)
        assert not any(_alive(p) for p in seen), (mode, "a process outlived the plan")


