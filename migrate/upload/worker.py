"""A worker: one connection's share of a run (its own state handle, its connection, the
batches it journaled and what it counted). The run's first worker is the uploader's own;
a parallel run adds more, each on its thread, all sharing one ``RunContext``."""

from __future__ import annotations

from typing import Callable

from migrate.plan import UPLOADED, PlannedMessage
from migrate.state import State
from migrate.target.base import SelectInfo, Target
from migrate.upload.connection import ConnectionKeeper
from migrate.upload.context import RunContext
from migrate.upload.outcome import UploadOutcome


class Worker:
    def __init__(self, ctx: RunContext, state: State,
                 progress_of: Callable[[], int] | None = None):
        self.ctx = ctx
        self.state = state  # this thread's own (SQLite handles are not shared)
        self.outcome = UploadOutcome()
        self.keeper = ConnectionKeeper(ctx, progress_of or self.outcome.settled)
        self.my_batches: set[int] = set()  # journaled here: after a drop, resolved here
        self.info: SelectInfo | None = None  # of the mailbox being uploaded

    @property
    def target(self) -> Target:
        """The connection the step works on (every step begins with ``connected()``)."""
        target = self.keeper.target
        if target is None:
            raise RuntimeError("a step used its connection before connecting (a bug)")
        return target

    @property
    def here(self) -> SelectInfo:
        """The mailbox the step opened (``open_mailbox`` selected it)."""
        if self.info is None:
            raise RuntimeError("a step sent to a mailbox before opening it (a bug)")
        return self.info

    def connected(self) -> Target:
        return self.keeper.connected()

    def check_stop(self) -> None:
        self.ctx.check_stop()

    def journal(self, mailbox: str, uidvalidity: int, uidnext: int | None,
                messages: list[PlannedMessage], copied: bool = False) -> int:
        """Record a batch in flight, durably, before it is sent (see ``state``)."""
        batch = self.state.begin_batch(mailbox, uidvalidity, uidnext, messages, copied=copied)
        self.my_batches.add(batch)
        self.ctx.journaled = True
        return batch

    def abandon(self, batch: int) -> None:
        """The server refused the batch: nothing of it is there (APPEND and COPY are all
        or nothing); batch ids are reused once a batch is gone."""
        self.state.abandon_batch(batch)
        self.my_batches.discard(batch)

    def placed(self, mailbox: str, p: PlannedMessage, size: int = 0,
               copied: bool = False) -> None:
        """*p* is on the server now: its plan entry, the counts, the progress line."""
        p.action = UPLOADED
        p.save()
        self.outcome.uploaded[mailbox] += 1
        if copied:
            self.outcome.copied[mailbox] += 1
        else:
            self.outcome.uploaded_bytes[mailbox] += size
        if self.ctx.progress:
            self.ctx.progress(p, mailbox)
