"""Batches a crash or a lost connection left in flight: wait for the server to finish
storing them, then find each message there (reconcile's rule) before anything is sent
again. The journal protocol's other half (``state``)."""

from __future__ import annotations

import logging
import time

from migrate.reconcile import UidSet, fetch_copies
from migrate.target.base import SelectInfo
from migrate.upload.worker import Worker

log = logging.getLogger(__name__)


def settle(w: Worker, mailbox: str) -> None:
    """Before in-flight batches are resolved, let the server finish them.

    A connection that dropped (or a process killed) right after the last
    byte of an APPEND leaves the server still storing that batch for a
    moment; looked at too soon, the batch seems lost and would be sent
    twice. So, when batches are in flight, wait until the mailbox's
    UIDNEXT and message count stay the same for ``settle_seconds``.
    """
    if not w.state.inflight_batches(mailbox):
        return
    deadline = time.monotonic() + w.ctx.options.settle_max
    last = None
    while True:
        now = w.target.status(mailbox)
        if now == last or time.monotonic() > deadline:
            return
        if last is not None:
            log.info("the server is still storing mail in %s; waiting", mailbox)
        last = now
        w.ctx.sleep(w.ctx.options.settle_seconds)


def resolve_inflight(w: Worker, mailbox: str, info: SelectInfo, only: set | None = None,
                     counted: bool = True) -> None:
    """Settle batches a crash or lost connection left in flight (see ``state``);
    what is found counts as resolved unless the caller counts it (*counted*).

    The server's copies from the journaled UIDNEXT on, less those our state
    already accounts for, are matched to the batch by reconcile's rule.
    """
    for batch, uidvalidity, uidnext in w.state.inflight_batches(mailbox):
        if only is not None and batch not in only:
            continue  # another worker's, still on its way
        rows = w.state.batch_rows(batch)
        start = uidnext if (uidvalidity == info.uidvalidity and uidnext) else 1
        known = UidSet(w.state.recorded_uids(mailbox, info.uidvalidity))
        server = fetch_copies(w.target, (u for u in w.target.uids(start)
                                         if u not in known))
        server.expect(rows)
        matches = server.match(rows)
        found = {r.rowid: matches[id(r)].copy.uid for r in rows if id(r) in matches}
        log.info("resolved in-flight batch %s in %s: %d of %d already on the server",
                 batch, mailbox, len(found), len(rows))
        if counted:
            w.outcome.resolved += len(found)
        w.state.resolve_batch(batch, found, info.uidvalidity)
        w.my_batches.discard(batch)
