"""Unattended runs: SIGTERM and Ctrl-C, time limits, --json, log files, no secret anywhere."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from migrate.errors import ExitCode
from tests.server.test_exactly_once import assert_exactly_once, make_store
from tests.support.faults import FaultProxy
from tests.support.overnight_shared import (
    SIZES,
    messages_on_server,
    rerun,
    start_run,
    wait_for_uploads,
)


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_sigterm_stops_cleanly_then_rerun_completes_exactly_once(tmp_path, account, mm):
    expected = make_store(tmp_path / "src", SIZES)
    proc = start_run(tmp_path, account, "--max-messages-per-second", "40")
    wait_for_uploads(account, proc, 20)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "SIGTERM: finishing the batches in flight" in err
    assert "STOPPED EARLY: stopped by SIGTERM" in out and "left for the next run" in out
    summary = json.loads((tmp_path / "state.run.json").read_text())
    assert summary["exit_code"] == 130 and summary["left_for_next_run"] > 0
    on_server = messages_on_server(account)
    assert on_server == summary["totals"]["uploaded"]  # stopped between batches: all recorded
    assert 20 <= on_server < 180
    again = rerun(tmp_path, account, mm)
    assert again.code == 0, again.err
    assert_exactly_once(account, expected)


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_second_signal_exits_at_once_and_is_still_safe(tmp_path, account, mm):
    expected = make_store(tmp_path / "src", SIZES)
    proxy = FaultProxy(account.server.imaps_port).start()
    proxy.delay = 0.4  # a slow link: finishing the batches in flight takes a while
    try:
        proc = start_run(tmp_path, account, port=proxy.port)
        wait_for_uploads(account, proc, 10)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.1)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - started < 2
    finally:
        proxy.stop()
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert "SIGINT again: stopping now" in err
    again = rerun(tmp_path, account, mm)
    assert again.code == 0, again.err
    assert_exactly_once(account, expected)


def test_max_duration_leaves_the_rest_for_the_next_night(tmp_path, account, mm):
    expected = make_store(tmp_path / "src", SIZES)
    proc = start_run(tmp_path, account, "--max-messages-per-second", "30",
                     "--max-duration", "3s", "--json")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == ExitCode.STOPPED, err
    summary = json.loads(out)  # --json: stdout is the summary only
    assert "--max-duration 3s reached" in summary["stopped"]
    assert 0 < summary["totals"]["uploaded"] < 180 and summary["left_for_next_run"] > 0
    assert summary["totals"]["uploaded"] + summary["left_for_next_run"] == 180
    again = mm("run", tmp_path / "src", *account.cli_args(), "--backup-dir", tmp_path / "bk",
               "--state", tmp_path / "state.sqlite", "--yes", "--json", account=account)
    assert again.code == 0, again.err
    done = json.loads(again.out)
    assert done["totals"]["uploaded"] == summary["left_for_next_run"]
    assert done["totals"]["done"] == summary["totals"]["uploaded"]
    assert_exactly_once(account, expected)


def test_log_file_per_run_and_no_secret_anywhere(tmp_path, account, mm):
    make_store(tmp_path / "src", (("Inbox", 30),))
    r = mm("--log-level", "debug", "run", tmp_path / "src", *account.cli_args(),
           "--backup-dir", tmp_path / "bk", "--state", tmp_path / "state.sqlite", "--yes",
           account=account)
    assert r.code == 0, r.err
    logs = sorted((tmp_path / "state.sqlite.logs").glob("run-*.log"))
    assert len(logs) == 1
    text = logs[0].read_text()
    assert "uploaded" in text.lower() and text[:4].isdigit()  # timestamped lines
    assert "LOGIN" in text or "login" in text.lower()  # the protocol log is there, redacted
    assert "UID FETCH" in text  # imaplib's lines too (silenced only when nobody asked)
    v = mm("--log-file", tmp_path / "verify.log", "--log-level", "debug", "verify",
           tmp_path / "src", *account.cli_args(), account=account)
    assert v.code == 0, v.err
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "src" not in p.parts]
    assert any(p.name == "verify.log" for p in written)
    secret = account.password.encode()
    for path in written:
        assert secret not in path.read_bytes(), path
    assert account.password not in r.out + r.err + v.out + v.err


def test_no_prompt_without_a_terminal(tmp_path, account, mm):
    """Not on a TTY and no password source: a clear error at once, never a wait for input."""
    make_store(tmp_path / "src", (("Inbox", 3),))
    args = [a for a in account.cli_args() if a not in ("--password-env", "MM_TEST_PASSWORD")]
    r = mm("run", tmp_path / "src", *args, "--backup-dir", tmp_path / "bk", "--state",
           tmp_path / "state.sqlite", timeout=60)
    assert r.code == ExitCode.USAGE
    assert "no password found" in r.err and "credentials set" in r.err
    assert not Path(tmp_path / "bk").exists() or not any((tmp_path / "bk").iterdir())


def test_connection_frozen_by_sleep_is_detected_and_recovered(tmp_path, account, mm):
    """A laptop that slept: the connection stays open but silent; the timeout finds it."""
    expected = make_store(tmp_path / "src", SIZES)
    proxy = FaultProxy(account.server.imaps_port).start()
    try:
        proc = start_run(tmp_path, account, "--max-messages-per-second", "60", "--timeout",
                         "3", port=proxy.port)
        wait_for_uploads(account, proc, 20)
        proxy.freeze()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "reconnecting" in err
        assert proxy.connections >= 2
    finally:
        proxy.stop()
    assert_exactly_once(account, expected)
