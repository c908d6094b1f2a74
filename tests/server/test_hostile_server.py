"""Issue 34.9: a server whose answers break IMAP's rules gets a sentence and exit 3,
never a traceback, a hang or a memory blow-up; and what a run sent before such an
answer is found again by the next run (exactly once)."""

from __future__ import annotations

import time

import pytest

from migrate.errors import ExitCode
from tests.support.builders import crlf, message, write_mbox
from tests.support.faults import HostileProxy


def no_traceback(r):
    assert "Traceback" not in r.err and "a bug" not in r.err, r.err


@pytest.fixture
def src(tmp_path):
    msgs = [message(f"m {i}") for i in range(5)]
    write_mbox(tmp_path / "src" / "Inbox", msgs)
    return tmp_path / "src", msgs


CASES = {
    "select without UIDVALIDITY": dict(rewrites={rb"\* OK \[UIDVALIDITY \d+\][^\r]*\r\n": b""}),
    "APPENDLIMIT=abc": dict(rewrites={rb"CAPABILITY IMAP4rev1": b"CAPABILITY IMAP4rev1 "
                                                              b"APPENDLIMIT=abc"}),
    "a LIST literal of 93 GB": dict(list_answer=b'* LIST () "/" {99999999999}\r\n'),
}


@pytest.mark.parametrize("case", CASES)
def test_a_broken_answer_is_a_sentence_and_exit_3(tmp_path, account, mm, src, case):
    account.append("INBOX", crlf(message("already there")))
    proxy = HostileProxy(account.server.imap_port, **CASES[case]).start()
    try:
        r = mm("plan", src[0], *account.cli_args(tls="none", port=proxy.port), account=account)
    finally:
        proxy.stop()
    no_traceback(r)
    assert r.code == ExitCode.CONNECTION, (case, r.out, r.err)
    assert "ask" in r.err and "administrator" in r.err, r.err


def test_a_uidvalidity_past_64_bits_stops_the_run_and_the_next_run_sends_nothing_twice(
        tmp_path, account, mm, src):
    root, msgs = src
    proxy = HostileProxy(account.server.imap_port, rewrites={
        rb"\[APPENDUID \d+ ": b"[APPENDUID 99999999999999999999 "}).start()
    args = ["run", root, "--backup-dir", tmp_path / "bk", "--state", tmp_path / "st.sqlite",
            "--yes"]
    try:
        r = mm(*args, *account.cli_args(tls="none", port=proxy.port), account=account)
    finally:
        proxy.stop()
    no_traceback(r)
    assert r.code == ExitCode.CONNECTION and "UIDVALIDITY" in r.err, r.err
    again = mm(*args, *account.cli_args(), account=account)
    assert again.code == 0, again.out + again.err
    assert sorted(m.data for m in account.read_back()["INBOX"]) == sorted(map(crlf, msgs))


def test_a_list_trickled_a_line_at_a_time_ends_past_the_timeout(tmp_path, account, mm, src):
    proxy = HostileProxy(account.server.imap_port, trickle=0.2, trickle_for=60).start()
    started = time.monotonic()
    try:
        r = mm("plan", src[0], *account.cli_args(tls="none", port=proxy.port), "--timeout",
               "2", account=account, timeout=120)
    finally:
        proxy.stop()
    no_traceback(r)
    assert r.code == ExitCode.CONNECTION and "too slowly" in r.err, r.err
    assert time.monotonic() - started < 30 and proxy.trickled < 100
