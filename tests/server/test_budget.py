"""The daily upload budget: counted across runs, a clean stop (exit 8), exactly once: the
server tests (tests/unit/test_budget.py has the rest, and says what they prove)."""

from __future__ import annotations

from migrate.errors import ExitCode
from tests.support.budget_shared import MSGS, SIZE
from tests.support.builders import crlf, write_mbox


def test_the_run_command_stops_with_exit_8_and_says_when(tmp_path, account, mm):
    write_mbox(tmp_path / "one.mbox", MSGS)
    args = (tmp_path / "one.mbox", *account.cli_args(), "--backup-dir", tmp_path / "bk",
            "--state", tmp_path / "state.sqlite", "--yes", "--batch-size", "5")
    first = mm("run", *args, "--max-bytes-per-day", str(SIZE // 3), account=account)
    assert first.code == ExitCode.STOPPED, first.out + first.err
    assert "daily upload budget" in first.out and "frees up at" in first.out
    sent = len(account.read_back()["INBOX"])
    again = mm("run", *args, "--max-bytes-per-day", str(SIZE // 3), account=account)
    assert again.code == ExitCode.STOPPED and len(account.read_back()["INBOX"]) == sent
    done = mm("run", *args, "--max-bytes-per-day", "0", account=account)  # 0: no budget
    assert done.code == 0, done.out + done.err
    assert sorted(m.data for m in account.read_back()["INBOX"]) == sorted(crlf(m) for m in MSGS)


