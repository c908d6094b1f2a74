"""How an upload behaves: batch sizes, caps, retries and waits (the CLI fills it in)."""

from __future__ import annotations

import dataclasses

from migrate.stopping import StopRequest


@dataclasses.dataclass
class UploadOptions:
    batch_messages: int = 50
    batch_bytes: int = 8 * 1024 * 1024
    pipeline_depth: int = 8  # APPENDs in flight on one connection (needs LITERAL+)
    max_messages_per_second: float | None = None
    max_bytes_per_second: float | None = None
    connections: int = 1  # mailboxes uploaded at once, one connection each (CLI default: 3)
    max_reconnects: int = 10  # in a row without progress, and ...
    give_up_after: float = 600.0  # ... seconds without progress: an outage may last a while
    max_throttles: int = 200  # in a row without progress; a throttled run slows, not stops
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    stop: StopRequest | None = None  # Ctrl-C, SIGTERM, --stop-at: stop between batches
    settle_seconds: float = 5.0  # after a drop: the mailbox must be still this long (inflight)
    settle_max: float = 120.0
    max_bytes_per_day: int | None = None  # the account's rolling 24-hour upload budget
    wait_for_budget: bool = False  # wait for it to free up instead of stopping (exit 8)
    crawl_seconds: float = 120.0  # with a daily budget: this long below 1 KB/s = it is spent
