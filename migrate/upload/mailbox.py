"""The mailbox step, the engine's core: open a target mailbox (created even when it gets
no mail: the tree is part of the mail), settle what earlier runs left, mark what is
known, copy what the account holds, send the rest in batches, repair flags."""

from __future__ import annotations

import logging

from migrate.errors import MailboxError
from migrate.plan import (
    EVERY,
    FAILED,
    PRESENT,
    UPLOAD,
    UPLOADED,
    FolderPlan,
    all_recorded,
    apply_server_view,
    pages,
)
from migrate.reconcile import trusted_records
from migrate.target.base import SelectInfo
from migrate.upload.batches import BatchSender
from migrate.upload.copy_once import copy_known
from migrate.upload.flag_repair import repair_flags
from migrate.upload.inflight import resolve_inflight, settle
from migrate.upload.parallel import in_parallel, step
from migrate.upload.source_bytes import planned_bytes
from migrate.upload.worker import Worker

log = logging.getLogger(__name__)


def upload_mailbox(w: Worker, mailbox: str, fplans: list[FolderPlan]) -> None:
    """One mailbox: created even when it gets no mail (the tree is part of the mail).

    A problem of this mailbox alone (a name the server refuses, a mailbox
    it will not open) skips it with its reason; the run goes on.
    """
    w.check_stop()
    try:
        mailbox = open_mailbox(w, mailbox, fplans)
    except MailboxError as e:
        fail_folder(w, mailbox, fplans, str(e))
        return
    copy_known(w, mailbox, fplans)
    todo = sum(f.counts().get(UPLOAD, 0) for f in fplans)
    if todo and w.ctx.shards > 1 and todo >= 2 * w.ctx.shards:
        size = -(-todo // w.ctx.shards)
        refs = (ref for f in fplans for page in f.messages.light(UPLOAD)
                for ref, _, _ in page)  # refs alone: no message objects
        starts = [ref for i, ref in enumerate(refs) if i % size == 0]
        parts = list(zip(starts, starts[1:] + [float("inf")]))
        in_parallel(w, [step(send_shard, mailbox, fplans, part) for part in parts])
    elif todo:
        send(w, mailbox, fplans, w.here)
    repair_flags(w, mailbox, fplans)


def send(w: Worker, mailbox: str, fplans: list[FolderPlan], info: SelectInfo,
         part: tuple = EVERY) -> None:
    """Read the folders once more and send their planned messages (with refs in *part*)."""
    sender = BatchSender(w, mailbox, info)
    for p, data in planned_bytes(fplans, part):
        sender.add(p, data)
    sender.flush()


def send_shard(w: Worker, mailbox: str, fplans: list[FolderPlan], part: tuple) -> None:
    """One worker's share of a mailbox (other workers send the rest at the same time).

    After a drop it resolves only its own batches: the others' are still being
    sent, not lost. The mailbox is never still while they send, so the wait for
    the server to finish storing is a fixed ``settle_seconds``.
    """
    target = w.connected()
    if w.my_batches & {b for b, _, _ in w.state.inflight_batches(mailbox)}:
        w.ctx.sleep(w.ctx.options.settle_seconds)
    w.info = target.select(mailbox)
    resolve_inflight(w, mailbox, w.info, only=w.my_batches)
    for page in pages(fplans, UPLOAD, part=part):
        sent = trusted_records(w.state.recorded(mailbox, [p.content_hash for p in page]),
                               w.info.uidvalidity)
        for p in page:
            if p.content_hash in sent:
                p.action = UPLOADED  # this run sent it before the drop
                p.save()
    send(w, mailbox, fplans, w.info, part)


def open_mailbox(w: Worker, mailbox: str, fplans: list[FolderPlan]) -> str:
    """Create (if needed) and select *mailbox*; settle what earlier runs left. Its name."""
    target = w.connected()
    used = target.ensure_mailbox(mailbox, special_use(fplans))
    if used != mailbox:
        log.warning("the server refused the name %r; using %r", mailbox, used)
        for f in fplans:
            f.target, f.mapping_note = used, f"server refused {mailbox!r}"
        mailbox = used
    w.ctx.server.opened.add(mailbox)
    if not any(f.counts().get(UPLOAD) for f in fplans) or all_done(w, mailbox, fplans):
        return mailbox
    settle(w, mailbox)
    w.info = target.select(mailbox)
    w.ctx.server.sizes[mailbox] = w.info.exists
    resolve_inflight(w, mailbox, w.info)
    mark_known(w, mailbox, fplans, w.info)
    return mailbox


def nothing_to_do(w: Worker, mailbox: str, fplans: list[FolderPlan]) -> bool:
    """A re-run's mailbox that exists (its STATUS answered), all of whose messages
    are ours there (``all_done``) with their flags checked: no worker, login or
    round trip for it."""
    validity = w.ctx.server.validities.get(mailbox)  # (no I/O: the STATUS was asked already)
    return validity is not None and all_done(w, mailbox, fplans) and \
        not w.state.flags_unchecked(mailbox, validity)


def all_done(w: Worker, mailbox: str, fplans: list[FolderPlan]) -> bool:
    """Mark every message DONE, without opening the mailbox, when our state records
    each one there under the UIDVALIDITY the server gave as the run began (STATUS,
    asked for every mailbox at once) and no batch is in flight: the same trust as
    ``mark_known``'s, without a SELECT a mailbox (most of a no-op re-run of many
    folders over a WAN). The check at the end of the run lists them all anyway."""
    validity = w.ctx.server.validities.get(mailbox)
    if validity is None or w.state.inflight_batches(mailbox) or not all_recorded(
            fplans, lambda hashes: w.state.recorded(mailbox, hashes), validity):
        return False
    mark_known(w, mailbox, fplans, SelectInfo(validity, None, 0, frozenset()))
    return True


def fail_folder(w: Worker, mailbox: str, fplans: list[FolderPlan], reason: str) -> None:
    log.error("folder %s skipped: %s", mailbox, reason)
    w.outcome.failed_folders.append((mailbox, reason))
    # the messages held back for the copy round too ("copy", spool.hold_copies): its
    # folder is not used in that round either, and they were counted missing
    for page in pages(fplans, UPLOAD, "copy"):
        for p in page:
            p.action, p.reason = FAILED, f"its folder could not be used: {reason}"
            p.save()


def mark_known(w: Worker, mailbox: str, fplans: list[FolderPlan], info: SelectInfo) -> None:
    """Mark DONE / PRESENT / REFUSE from the state and the server (reconcile's rule).

    State records are trusted only under the mailbox's current UIDVALIDITY:
    a mailbox deleted and recreated on the server is checked again.
    """
    if w.state.recorded_count(mailbox, info.uidvalidity) < \
            w.state.recorded_count(mailbox):
        log.warning("%s was recreated on the server (new UIDVALIDITY); checking it again",
                    mailbox)

    def ours_now(page):  # sent by this run before a reconnect: not an earlier run's
        sent = w.state.sent_since(mailbox, [p.content_hash for p in page], w.ctx.started)
        for p in page:
            if p.content_hash in sent:
                p.action = UPLOADED
                p.save()

    apply_server_view(fplans, w.target if info.exists else None,
                      lambda hashes: w.state.recorded(mailbox, hashes),
                      w.target.limits, info.uidvalidity,
                      on_done=ours_now if w.ctx.journaled else None)
    for page in pages(fplans, PRESENT):
        w.state.mark_present(mailbox, page, info.uidvalidity)
    if w.ctx.settled is not None:  # this run's work is now known for the mailbox
        w.ctx.settled(mailbox, sum(f.counts().get(UPLOAD, 0) for f in fplans),
                      sum(f.bytes_for(UPLOAD) for f in fplans))


def special_use(fplans: list[FolderPlan]) -> str | None:
    """What the mailbox of *fplans* is for (RFC 6154), if one of its folders says."""
    return next((f.special_use for f in fplans if f.special_use), None)
