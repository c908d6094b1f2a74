"""What a run may use at once: the rate caps and the connections the provider allows.

Both are shared by every connection of a run (thread-safe).
"""

from __future__ import annotations

import logging
import threading
import time

from migrate.stopping import StopRequest

log = logging.getLogger(__name__)


class RateLimiter:
    """Keep average messages/s and bytes/s under caps (Gmail: ~500 MB a day by IMAP).

    Called before each batch is sent: it sleeps just long enough that what has
    been sent since the start stays under both caps.
    """

    def __init__(self, max_messages: float | None, max_bytes: float | None,
                 clock=time.monotonic, sleep=time.sleep):
        self.max_messages, self.max_bytes = max_messages, max_bytes
        self.clock, self.sleep = clock, sleep
        self.started: float | None = None
        self.messages = self.bytes = 0
        self.lock = threading.Lock()

    def wait(self, messages: int, size: int, meanwhile=None) -> None:
        """Sleep until *messages* (*size* bytes) more may go; *meanwhile* is called
        first when there is a wait (the pipeline takes its answers in that time, so
        progress moves with what the server confirmed, not when the mailbox ends)."""
        if not (self.max_messages or self.max_bytes):
            return
        with self.lock:  # shared by the connections of a parallel run
            now = self.clock()
            if self.started is None:
                self.started = now
            started = self.started
            self.messages += messages
            self.bytes += size
            due = max(self.messages / self.max_messages if self.max_messages else 0,
                      self.bytes / self.max_bytes if self.max_bytes else 0)
            ahead = started + due - now
        if ahead > 0 and meanwhile is not None:
            meanwhile()
            ahead = started + due - self.clock()
        if ahead > 0:
            self.sleep(ahead)


class ConnectionSlots:
    """How many connections the run may have open at once, lowered when the provider
    says "[ALERT] Too many simultaneous connections" (the user's phone holds some).

    A connection is opened only in a free slot; a refused login gives its slot up
    and lowers the limit to what the run has open, so that worker waits for one of
    the run's own connections to close instead of hammering the server.
    """

    def __init__(self, limit: int):
        self.limit, self.open = max(1, limit), 0
        self.changed = threading.Condition()

    def claim(self, stop: StopRequest | None = None) -> None:
        with self.changed:
            while self.open >= self.limit:
                if stop is not None:
                    stop.check()
                self.changed.wait(0.5)
            self.open += 1

    def release(self) -> None:
        with self.changed:
            self.open -= 1
            self.changed.notify()

    def refused(self) -> None:
        """A claimed slot's login was refused: give it up, allow what is open now."""
        with self.changed:
            self.open -= 1
            if max(1, self.open) < self.limit:
                self.limit = max(1, self.open)
                log.warning("the server takes no more connections from this account; going "
                            "on with %d", self.limit)
            self.changed.notify()
