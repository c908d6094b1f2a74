"""What the tests of test_overnight share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.conftest import ROOT

SIZES = (("Inbox", 120), ("Sent", 60))


def start_run(tmp_path, account, *extra, env=None, port=None):
    args = [sys.executable, "-m", "migrate", "run", tmp_path / "src",
            *account.cli_args(port=port),
            "--backup-dir", tmp_path / "bk", "--state", tmp_path / "state.sqlite", "--yes",
            "--batch-size", "5", "--connections", "1", *extra]
    full_env = dict(os.environ, MM_TEST_PASSWORD=account.password,
                    XDG_DATA_HOME=str(tmp_path / "xdg"), **(env or {}))
    return subprocess.Popen([str(a) for a in args], cwd=ROOT, env=full_env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)


def messages_on_server(account) -> int:
    c = account.client()
    try:
        return sum(c.folder_status(name, ["MESSAGES"])[b"MESSAGES"]
                   for flags, _, name in c.list_folders()
                   if not {b"\\NOSELECT", b"\\NONEXISTENT"} & {f.upper() for f in flags})
    finally:
        c.logout()


def wait_for_uploads(account, proc, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        n = messages_on_server(account)
        if n >= at_least:
            return n
        time.sleep(0.1)
    raise AssertionError("the run did not upload in time")


def rerun(tmp_path, account, mm):
    return mm("run", tmp_path / "src", *account.cli_args(), "--backup-dir", tmp_path / "bk",
              "--state", tmp_path / "state.sqlite", "--yes", account=account)
