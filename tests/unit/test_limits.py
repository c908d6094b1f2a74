"""Server limits: a full account, an oversized message, and verify after tampering: the
unit tests (tests/server/test_limits.py has the rest, and says what they prove)."""

from __future__ import annotations

import pytest


def test_rate_limiter_arithmetic():
    from migrate.upload import RateLimiter
    now = [0.0]
    slept = []
    limiter = RateLimiter(None, 1000, clock=lambda: now[0], sleep=slept.append)
    limiter.wait(1, 500)  # 0.5 s worth at t=0: ahead of the cap
    limiter.wait(1, 500)
    assert slept == [0.5, 1.0]


def test_known_provider_limit_applies_without_appendlimit():
    from migrate.target.imap import IMAPTarget, TargetConfig
    office = IMAPTarget(TargetConfig(host="outlook.office365.com", user="u"))
    assert office.append_limit == 35 * 1024 * 1024
    office.capabilities = frozenset({"APPENDLIMIT=1000"})
    assert office.append_limit == 1000  # what the server says wins
    assert IMAPTarget(TargetConfig(host="imap.example.org", user="u")).append_limit is None


def test_a_uid_no_imap_server_may_give_is_a_damaged_folder_not_a_traceback():
    """UIDs are 32-bit (RFC 3501 nz-number); the array that holds them refuses others."""
    import types

    from migrate.errors import MailboxError
    from migrate.target.imap import IMAPTarget
    stub = types.SimpleNamespace(config=types.SimpleNamespace(address="imap.example:993"),
                                 selected="Archive")
    assert IMAPTarget._uid_array(stub, [5, 2]).tolist() == [2, 5]
    with pytest.raises(MailboxError, match="outside 1..4294967295 in 'Archive'.*rebuild"):
        IMAPTarget._uid_array(stub, [5, 2 ** 32])


