"""A big mbox file planned on every core reads exactly as when read from the start: the
server tests (tests/unit/test_parallel_plan.py has the rest, and says what they prove)."""

from __future__ import annotations

from tests.support.parallel_plan_shared import _alive, _busy_tree, _while_workers_run, descendants

# -- a store of many folders: mbox files read ahead by the workers ---------------------


# -- a worker that ends without answering; Ctrl-C with workers running ------------------


def test_ctrl_c_during_a_plan_with_workers_stops_once(tmp_path, account):
    """Ctrl-C reaches the whole process group; the workers must not each run the run's
    handler (its message once per process) nor die (a broken pool)."""
    import os
    import signal
    root = _busy_tree(tmp_path / "Local Folders")
    code, err = _while_workers_run(
        ["run", root, *account.cli_args(), "--backup-dir", tmp_path / "backup",
         "--state", tmp_path / "s.sqlite", "--yes"], tmp_path,
        lambda pid, worker: os.killpg(pid, signal.SIGINT),
        env={"MM_TEST_PASSWORD": account.password})
    assert code == 130, err
    assert err.count("finishing the batches in flight") == 1, err
    assert "Traceback" not in err and "stopped from outside" not in err


def test_kill_9_during_a_plan_with_workers_leaves_no_worker_and_no_lock(tmp_path, account):
    """Forked workers hold a copy of the run's lock (flock): an orphan left by a kill -9
    kept it for ever, and every re-run said another run was using the state."""
    import os
    import signal
    import time
    root = _busy_tree(tmp_path / "Local Folders", folders=40)
    args = ["run", root, *account.cli_args(), "--backup-dir", tmp_path / "backup",
            "--state", tmp_path / "s.sqlite", "--yes"]
    seen = []

    def kill(pid, worker):
        time.sleep(0.1)  # every worker started
        seen.extend(descendants(pid))  # workers, fork server, resource tracker: none stays
        os.kill(pid, signal.SIGKILL)

    code, _ = _while_workers_run(args, tmp_path, kill,
                                 env={"MM_TEST_PASSWORD": account.password})
    assert code == -signal.SIGKILL and seen
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(p) for p in seen):
        time.sleep(0.05)
    assert not any(_alive(p) for p in seen), "a plan worker outlived its run"
    again, err = _while_workers_run(args, tmp_path, lambda pid, worker: None,
                                    env={"MM_TEST_PASSWORD": account.password})
    assert again == 0, err
    with account.client() as client:
        client.select_folder("F39", readonly=True)
        assert len(client.search("ALL")) == 36


