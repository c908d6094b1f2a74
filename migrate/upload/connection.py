"""The connection keeper: the engine asks it for a connection and it connects, reuses,
drops, and runs each step again after a drop, with backoff, until progress stops.

The transport classifies what went wrong (``ConnectionFailed``, ``Throttled``,
``SessionEnded``, ``TooManyConnections``); this decides only on those classes.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Callable

from migrate.budget import BudgetSpent, CrawlWatch
from migrate.errors import ConnectionFailed, SessionEnded, Throttled, TooManyConnections
from migrate.target.base import Target
from migrate.upload.context import RunContext

log = logging.getLogger(__name__)

BUDGET_RETRY_SECONDS = 3600  # --wait-for-budget after the provider said the budget is spent


class ConnectionKeeper:
    """One worker's connection, in one of the run's slots."""

    REUSE_SECONDS = 60  # a connection idle longer may have been closed by the server

    def __init__(self, ctx: RunContext, progress_of: Callable[[], int]):
        self.ctx = ctx
        self.progress_of = progress_of  # messages settled by the run: what counts as progress
        self.target: Target | None = None
        self.handed_out = 0.0
        self.crawl = CrawlWatch(ctx.options.crawl_seconds) if ctx.budget else None

    def connected(self) -> Target:
        if self.target is not None and time.monotonic() - self.handed_out > self.REUSE_SECONDS:
            self.drop()
        if self.target is None:
            self.ctx.slots.claim(self.ctx.stop)
            try:
                self.target = self.ctx.connect()
            except TooManyConnections:
                self.ctx.slots.refused()
                raise
            except BaseException:
                self.ctx.slots.release()
                raise
        self.handed_out = time.monotonic()
        return self.target

    def adopt(self, target: Target, idle_since: float) -> None:
        """Go on with *target* (``run`` planned on it), idle since *idle_since*
        (``time.monotonic``): saves a login, unless it has been idle too long."""
        self.drop()
        self.ctx.slots.claim()
        self.target, self.handed_out = target, idle_since

    def drop(self) -> None:
        if self.target is not None:
            try:
                self.target.close()
            finally:
                self.target = None
                self.ctx.slots.release()

    def with_retries(self, step: Callable[[], object]):
        """Run *step*, reconnecting with backoff when the connection is lost.

        Every step is idempotent: it starts by resolving in-flight batches and
        skipping what is done, so running it again after a drop is safe. Gives
        up only after ``max_reconnects`` failures in a row *and*
        ``give_up_after`` seconds without progress of any connection of this
        run (a dropped Wi-Fi for a few minutes is survived; a message that
        kills the connection every time is not retried forever). A throttling
        reply waits as long as the server asks, on its own, larger budget
        (``max_throttles``): a throttled overnight run slows, it does not stop.
        """
        options = self.ctx.options
        failures = throttles = 0
        last_progress = -1
        progress_at = time.monotonic()
        lost_at: set[str] = set()  # the steps the connection was lost at, since progress
        while True:
            try:
                try:
                    return step()
                except SessionEnded as e:
                    # Gmail past its daily upload budget says "Session expired"; so does an
                    # ordinary expiry. The budget only where one applies, with evidence: half
                    # of it gone today, or a session (of any connection) ended before with
                    # nothing settled since
                    budget = self.ctx.budget
                    if budget is not None and (budget.ended_again(self.progress_of())
                                               or budget.nearly_spent()):
                        raise BudgetSpent(
                            f"the provider ended the session because today's upload budget is "
                            f"spent ({e}); everything sent so far is recorded: run the same "
                            "command again in a few hours", time.time() + 6 * 3600) from None
                    raise
            except BudgetSpent as e:  # the provider said so (BYE, a crawl): when it frees is
                if not options.wait_for_budget:  # unknown, so try again in an hour
                    raise
                self.drop()
                log.warning("%s; waiting an hour (--wait-for-budget)", e)
                self.ctx.sleep(BUDGET_RETRY_SECONDS)
                if self.crawl is not None:
                    self.crawl = CrawlWatch(options.crawl_seconds)
            except ConnectionFailed as e:
                throttled = isinstance(e, Throttled)
                progress = self.progress_of()
                if progress != last_progress:
                    failures = throttles = 0
                    progress_at = time.monotonic()
                    lost_at.clear()
                last_progress = progress
                throttles += throttled
                failures += not throttled
                lost_at.add(str(e).partition(": ")[0])
                self.drop()
                stalled = time.monotonic() - progress_at >= options.give_up_after
                if failures > options.max_reconnects and stalled:
                    raise ConnectionFailed(f"gave up after {failures - 1} reconnects without "
                                           f"progress; last error: {e}"
                                           f"{same_step(lost_at)}") from None
                if throttles > options.max_throttles:
                    raise ConnectionFailed(
                        f"the server kept throttling without progress: {e}") from None
                tries = throttles if throttled else failures
                delay = min(options.backoff_max,
                            options.backoff_base * 2 ** min(tries - 1, 30))
                if isinstance(e, Throttled) and e.delay is not None:
                    delay = e.delay  # what the server asked for
                    log.warning("the server asks us to slow down; waiting %.1fs", delay)
                else:
                    delay *= random.uniform(0.5, 1.0)
                    log.warning("connection problem (%s); reconnecting in %.1fs", e, delay)
                self.ctx.sleep(delay)


def same_step(lost_at: set[str]) -> str:
    """Advice when every reconnect lost the connection at the same step (a server
    process that dies there: Dovecot opening a mailbox too big for its memory limit)."""
    if len(lost_at) != 1 or " lost during " not in next(iter(lost_at)):
        return ""
    return (". The connection was lost at the same step every time: the server may be "
            "failing there (its log says why; a very large mailbox can exceed a server's "
            "memory limit, e.g. Dovecot's vsz_limit). Nothing is lost: run the same "
            "command again once the server is fixed")
