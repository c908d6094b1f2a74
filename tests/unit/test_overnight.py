"""Unattended runs: SIGTERM and Ctrl-C, time limits, --json, log files, no secret anywhere:
the unit tests (tests/server/test_overnight.py has the rest, and says what they prove)."""

from __future__ import annotations

import pytest

from migrate.errors import UsageError
from migrate.stopping import parse_duration, seconds_until


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


