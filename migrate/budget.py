"""A daily upload budget, counted across runs (Gmail takes about 500 MB a day).

Past its budget a provider refuses or crawls, so the run stops cleanly first:
before each batch, the bytes uploaded into the account in the last 24 hours
(earlier runs' from the state, this run's as it goes) plus the batch must fit.
If not, the batches in flight finish and the run stops with exit 8, saying
when the budget frees up; the same command continues then (or waits, with
``--wait-for-budget``). Counted in one-minute buckets: a day holds 1,440.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from typing import Callable

from migrate.errors import ExitCode
from migrate.stopping import Stopped

WINDOW = 24 * 3600.0


class BudgetSpent(Stopped):
    """The daily upload budget is spent; the rest moves when it frees up."""

    def __init__(self, message: str, free_at: float):
        super().__init__(message, ExitCode.STOPPED)
        self.free_at = free_at


class DailyBudget:
    """At most *limit* bytes uploaded into the account in any 24 hours.

    *uploaded_since(t)* gives (minute, bytes) of what earlier runs uploaded
    since time *t* (the state). Shared by every connection of a run.
    """

    def __init__(self, limit: int, uploaded_since: Callable[[float], list], wait: bool = False,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time):
        self.limit, self.wait, self.sleep, self.clock = limit, wait, sleep, clock
        self.uploaded_since = uploaded_since
        self.buckets: collections.OrderedDict[int, int] | None = None
        self.lock = threading.Lock()
        self._used(clock())  # the state is read here, on the thread that owns it

    def _buckets(self) -> collections.OrderedDict[int, int]:
        """The window's buckets (read from the state by the first ``_used``)."""
        if self.buckets is None:
            raise RuntimeError("the budget was used before it was read (a bug)")
        return self.buckets

    def _used(self, now: float) -> int:
        if self.buckets is None:
            self.buckets = collections.OrderedDict()
            for minute, size in sorted(self.uploaded_since(now - WINDOW)):
                self.buckets[int(minute)] = self.buckets.get(int(minute), 0) + size
        while self.buckets and next(iter(self.buckets)) + 60 <= now - WINDOW:
            self.buckets.popitem(last=False)
        return sum(self.buckets.values())

    def _free_at(self, now: float, size: int) -> float:
        """When enough of the oldest uploads leave the window for *size* more."""
        used = self._used(now)
        for minute, spent in self._buckets().items():
            used -= spent
            if used + size <= self.limit:
                return minute + 60 + WINDOW
        return now

    def ended_again(self, progress) -> bool:
        """The provider ended a session at *progress* (the run's settled count): whether
        one of this run's connections saw it end before with nothing settled since. The
        second such end is the evidence an ordinary expiry never gives."""
        with self.lock:
            again = getattr(self, "_ended_at", None) == progress
            self._ended_at = progress
            return again

    def nearly_spent(self, share: float = 0.5) -> bool:
        """Whether at least *share* of the budget went up in the last 24 hours: the
        evidence that a provider ending the session ("BYE Session expired", which Gmail
        also says for an ordinary expiry) means the day's budget, not a lost session."""
        with self.lock:
            return self._used(self.clock()) >= share * self.limit

    def spend(self, size: int) -> None:
        """Count a batch of *size* bytes about to be sent, or stop (or wait) first."""
        while True:
            with self.lock:
                now = self.clock()
                used = self._used(now)
                if used == 0 or used + size <= self.limit:  # one batch always fits an empty day
                    minute = int(now // 60 * 60)
                    buckets = self._buckets()
                    buckets[minute] = buckets.get(minute, 0) + size
                    return
                free_at = self._free_at(now, size)
            when = dt.datetime.fromtimestamp(free_at).astimezone().strftime("%Y-%m-%d %H:%M %Z")
            if not self.wait:
                raise BudgetSpent(
                    f"the daily upload budget ({self.limit / 1e6:,.0f} MB in 24 hours) is spent; "
                    f"it frees up at {when}: run the same command again then (or add "
                    "--wait-for-budget to wait)", free_at)
            self.sleep(max(1.0, free_at - now))  # a stop request ends the wait


class CrawlWatch:
    """Past its daily budget Gmail may slow an account below 1 KB/s instead of saying
    BYE: uploads that crawl that slowly for *seconds* of waiting on the server are
    the budget being spent (a clean stop, exit 8), not a link to retry.

    Fed with the time each connection spent blocked on APPENDs and the bytes they
    confirmed; only where a daily budget applies (elsewhere a slow link is slow).
    """

    def __init__(self, seconds: float = 120.0, floor: float = 1024.0):
        self.seconds, self.floor = seconds, floor
        self.recent: collections.deque = collections.deque()  # (seconds, bytes)
        self.busy = self.bytes = 0.0

    def observe(self, seconds: float, size: int) -> None:
        self.recent.append((seconds, size))
        self.busy += seconds
        self.bytes += size
        while self.recent and self.busy - self.recent[0][0] >= self.seconds:
            old_seconds, old_size = self.recent.popleft()
            self.busy -= old_seconds
            self.bytes -= old_size
        if self.busy >= self.seconds and self.bytes < self.floor * self.busy:
            raise BudgetSpent(
                f"the provider slowed the upload to {self.bytes / self.busy:,.0f} bytes/s for "
                f"{self.busy:,.0f} s, which is how it says today's upload budget is spent; "
                "everything sent so far is recorded: run the same command again in a few "
                "hours", time.time() + 6 * 3600)
