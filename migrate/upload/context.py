"""What every connection of one run shares: its options, caps, budget and slots, what it
learned of the account, and whether it has sent anything yet.

One object, handed to each worker: nothing is cloned field by field, so a new shared
value is added here once and every worker sees it.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

from migrate.budget import DailyBudget
from migrate.state import State
from migrate.target.base import Target
from migrate.upload.limits import ConnectionSlots, RateLimiter
from migrate.upload.options import UploadOptions


@dataclasses.dataclass
class ServerView:
    """What this run learned of the account's mailboxes (no I/O: filled as it goes)."""

    validities: dict[str, int] = dataclasses.field(default_factory=dict)  # at the start
    sizes: dict[str, int] = dataclasses.field(default_factory=dict)  # messages when looked at
    opened: set[str] = dataclasses.field(default_factory=set)  # made sure of, by these names


class RunContext:
    """The run's shared values (thread-safe where threads write: the caps, the slots)."""

    def __init__(self, connect: Callable[[], Target], options: UploadOptions, state: State,
                 progress=None, settled=None, sleep: Callable[[float], None] = time.sleep):
        self.connect = connect
        self.options = options
        self.progress = progress  # (message, mailbox) each time one is placed
        self.settled = settled  # (mailbox, messages, bytes still to send): progress's total
        pace = sleep
        if options.stop is not None and sleep is time.sleep:
            sleep = options.stop.sleep  # backoff and throttling waits end (raise) on a stop
            pace = options.stop.wait  # a rate-cap wait ends early; the next message stops
        self.sleep = sleep
        self.rate = RateLimiter(options.max_messages_per_second,
                                options.max_bytes_per_second, sleep=pace)
        self.budget = DailyBudget(options.max_bytes_per_day, state.uploaded_since,
                                  options.wait_for_budget, sleep=sleep) \
            if options.max_bytes_per_day else None
        self.slots = ConnectionSlots(options.connections)
        self.server = ServerView()
        self.started = time.time()  # state rows updated since then are this run's
        self.journaled = False  # has this run sent a batch? (then a re-look finds its own)
        self.shards = 1  # connections sharing one mailbox (no MULTIAPPEND and no LITERAL+)

    @property
    def stop(self):
        return self.options.stop

    def check_stop(self) -> None:
        if self.options.stop is not None:
            self.options.stop.check()
