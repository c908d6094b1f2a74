"""One mbox file into INBOX of a real Dovecot: bytes, flags, dates, and a read-only source."""

from __future__ import annotations

import datetime as dt

from tests.support.builders import message, write_mbox

UTC = dt.timezone.utc


def sample_mbox(path):
    msgs = [
        message("read", extra="Status: RO"),
        message("answered", extra="Status: RO\nX-Status: A"),
        message("flagged", extra="X-Status: F"),
        message("quoted", body="Line one\nFrom the start, a body line.\n>From already quoted\n"),
        message("unread no id", msgid=None, body="No Message-ID here.\n"),
        message("deleted", extra="Status: RO\nX-Status: D"),
    ]
    dates = [dt.datetime(2019, 3, 4, 5, 6, 7 + i) for i in range(len(msgs))]
    write_mbox(path, msgs, dates)
    return msgs, dates


def test_plan_without_server(tmp_path, mm):
    sample_mbox(tmp_path / "one.mbox")
    r = mm("plan", tmp_path / "one.mbox")
    assert r.code == 0, r.err
    lines = [line.split() for line in r.out.splitlines()]
    total = next(line for line in lines if line and line[0] == "TOTAL")
    assert total[1] == "6"  # messages
    assert "deleted" in r.out


