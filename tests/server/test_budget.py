"""The daily upload budget: counted across runs, a clean stop (exit 8), exactly once.

Gmail takes about 500 MB a day by IMAP; past it, it refuses or crawls. The
run stops before a batch would pass the budget, after the batches in flight
are recorded, and says when it frees up; the same command continues then.
A clock 25 hours ahead stands in for the next day.
"""

from __future__ import annotations

import time

from migrate.errors import ExitCode
from migrate.plan import build_plan
from migrate.sources import open_store
from migrate.state import State
from migrate.upload import Uploader, UploadOptions
from tests.support.builders import crlf, message, write_mbox
from tests.support.fake_target import FakeTarget

MSGS = [message(f"b{i}", body=f"budget {i}\n" * 50) for i in range(40)]
SIZE = sum(len(crlf(m)) for m in MSGS)


def run(tmp_path, server, budget, ahead=0.0, wait=False, sleeps=None, **options):
    path = tmp_path / "one.mbox"
    if not path.exists():
        write_mbox(path, MSGS)
    plan = build_plan([open_store(path)], server.layout)
    state = State(tmp_path / "state.sqlite")
    clock = {"now": time.time() + ahead}

    def sleep(seconds):
        (sleeps if sleeps is not None else []).append(seconds)
        clock["now"] += seconds

    uploader = Uploader(lambda: FakeTarget(server), state, plan,
                        UploadOptions(**{"batch_messages": 5, "settle_seconds": 0,
                                         "backoff_base": 0.01, "max_bytes_per_day": budget,
                                         "wait_for_budget": wait, **options}),
                        sleep=sleep)
    if uploader.ctx.budget is not None:
        uploader.ctx.budget.clock = lambda: clock["now"]
    try:
        uploader.run()
    finally:
        state.close()


def inbox(server):
    return [m.data for m in server.mailboxes["INBOX"].messages]


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


