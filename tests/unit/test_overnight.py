"""Unattended runs: SIGTERM and Ctrl-C, time limits, --json, log files, no secret anywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from migrate.errors import UsageError
from migrate.stopping import parse_duration, seconds_until
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


def test_time_limit_parsing():
    assert parse_duration("90m") == 5400 and parse_duration("1h30m") == 5400
    assert parse_duration("45") == 45 and parse_duration("2h") == 7200
    import datetime as dt
    now = dt.datetime(2026, 11, 26, 23, 0)
    assert seconds_until("06:30", now) == 7.5 * 3600  # tomorrow morning
    assert seconds_until("23:30", now) == 1800
    for bad in ("7", "25:00", "6.30"):
        with pytest.raises(UsageError, match="HH:MM"):
            seconds_until(bad, now)


def test_redaction_of_protocol_lines_and_known_secrets():
    from migrate.logs import redact
    from migrate.target.imap import Secret
    Secret("correct horse battery")  # every Secret registers itself
    assert redact("> b'NPEA3 LOGIN ann \"p\\\"w\"'") == "> b'NPEA3 LOGIN ann ***'"
    assert redact("> NPEA4 AUTHENTICATE XOAUTH2 dXNlcj1h") == "> NPEA4 AUTHENTICATE XOAUTH2 ***"
    assert redact("oops: correct horse battery in a message") == "oops: *** in a message"
    assert redact("the server refused the login for 'ann'") == \
        "the server refused the login for 'ann'"


