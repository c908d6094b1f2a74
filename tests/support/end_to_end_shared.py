"""What the tests of test_end_to_end share across their layers (unit, functional,
server): helpers and fixtures, defined once."""

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
