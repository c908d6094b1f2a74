"""What a refused APPEND or COPY means for the run (the transport's result, read once)."""

from __future__ import annotations

from migrate.errors import QuotaExceeded, Throttled


def account_full(mailbox: str, result) -> QuotaExceeded:
    """A refused APPEND or COPY that says the account is full: a store-level stop."""
    return QuotaExceeded(
        f"the account is full: the server refused more mail in {mailbox!r} "
        f"({result.text.strip()}); everything uploaded so far is kept. Free space "
        "or raise the quota, then run the same command again")


def slow_down(result) -> Throttled:
    """A throttling answer: the step is retried after the time the server asks for."""
    return Throttled(f"throttled by the server ({result.text.strip()})", result.suggested_delay)
