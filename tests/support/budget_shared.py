"""What the tests of test_budget share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

from __future__ import annotations

import time

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
