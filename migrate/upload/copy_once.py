"""Copy-once: place by UID COPY what the account already holds elsewhere (our upload of
the same bytes into another mailbox), so it is not sent again; on Gmail, one message
with several labels spends the daily budget once. A step beside the mailbox step."""

from __future__ import annotations

import collections
import logging

from migrate.errors import MailboxError
from migrate.plan import UPLOAD, FolderPlan, PlannedMessage, pages
from migrate.target.base import SelectInfo
from migrate.upload.answers import account_full, slow_down
from migrate.upload.flag_repair import SYSTEM_FLAGS, filter_flags
from migrate.upload.inflight import resolve_inflight
from migrate.upload.worker import Worker

log = logging.getLogger(__name__)

COPY_CHUNK = 500  # UIDs per UID COPY command


def copy_known(w: Worker, mailbox: str, fplans: list[FolderPlan]) -> None:
    """Place here by UID COPY what the account already holds elsewhere (our upload
    of the same bytes into another mailbox): not sent again, and on Gmail one
    message with several labels that spends the daily budget once.

    A copy is used only where it carries what an APPEND would: the same size
    and date, no flag or keyword the message should not have (missing system
    flags are added by ``flag_repair``); the rest are APPENDed as usual.
    Each COPY is journaled like an APPEND and recorded by COPYUID (RFC 4315).
    """
    here = w.info
    if here is None or not w.target.has("UIDPLUS"):
        return
    uidnext, copied = here.uidnext, False
    for page in pages(fplans, UPLOAD):
        elsewhere = w.state.uploaded_elsewhere(mailbox, [p.content_hash for p in page])
        by_source: dict[str, list] = collections.defaultdict(list)
        for p in page:
            if p.content_hash in elsewhere:
                source, validity, uid = elsewhere[p.content_hash]
                by_source[source].append((p, validity, uid))
        for source, entries in by_source.items():
            copied = True
            uidnext = copy_from(w, source, mailbox, here, entries, uidnext)
            if uidnext is None:
                break
        if uidnext is None:
            break
    if copied:
        w.info = w.target.select(mailbox)


def copy_from(w: Worker, source: str, mailbox: str, here: SelectInfo, entries,
              uidnext: int | None) -> int | None:
    """COPY *entries* (message, UIDVALIDITY, UID in *source*) into *mailbox*; the next
    UID lower bound for the journal, or None to stop copying into this mailbox."""
    target = w.target
    try:
        there = target.examine(source)
    except MailboxError:
        return uidnext  # gone, or will not open: these are APPENDed instead
    entries = [(p, uid) for p, validity, uid in entries if validity == there.uidvalidity]
    info = target.stored_info([uid for _, uid in entries]) if entries else {}
    usable = [(p, uid) for p, uid in entries
              if uid in info and carries_the_same(p, info[uid], here.permanent_flags)]
    for i in range(0, len(usable), COPY_CHUNK):
        chunk = usable[i:i + COPY_CHUNK]
        w.check_stop()
        batch = w.journal(mailbox, here.uidvalidity, uidnext, [p for p, _ in chunk],
                          copied=True)
        # A lost connection raises out of here with the copies in flight; the
        # retried mailbox step resolves them against the server, like an APPEND.
        result = target.copy([uid for _, uid in chunk], mailbox)
        if not result.ok:
            w.abandon(batch)  # COPY is all or nothing (RFC 3501)
            if result.over_quota:
                raise account_full(mailbox, result)
            if result.throttled:
                raise slow_down(result)
            log.warning("the server refused UID COPY into %s (%s); sending those "
                        "messages instead", mailbox, result.text.strip())
            return None
        if result.sources is None:  # OK without COPYUID: found like a crash's batch
            w.info = target.select(mailbox)
            resolve_inflight(w, mailbox, w.info, only={batch}, counted=False)
            placed = w.state.sent_since(mailbox, [p.content_hash for p, _ in chunk],
                                        w.ctx.started)
            copied(w, mailbox, [p for p, _ in chunk if p.content_hash in placed])
            return None
        new = dict(zip(result.sources, result.uids or []))
        rows = {r.content_hash: r.rowid for r in w.state.batch_rows(batch)}
        done = [(p, new[uid]) for p, uid in chunk if uid in new]
        w.state.resolve_batch(batch, {rows[p.content_hash]: uid for p, uid in done},
                              result.uidvalidity)
        w.my_batches.discard(batch)
        copied(w, mailbox, [p for p, _ in done])
        if result.uids:
            uidnext = max(result.uids) + 1
    return uidnext


def copied(w: Worker, mailbox: str, placed: list[PlannedMessage]) -> None:
    for p in placed:
        w.placed(mailbox, p, copied=True)


def carries_the_same(p: PlannedMessage, stored, permanent: frozenset) -> bool:
    """A copy of *stored* gives what APPENDing *p* would: same size and date, and its
    flags and keywords are *p*'s (system flags it lacks are added back afterwards)."""
    want = set(filter_flags(p, permanent))
    have = set(stored.flags) - {"\\Recent"}
    if stored.size != p.size or not have <= want or not (want - have) <= SYSTEM_FLAGS:
        return False
    if p.internaldate is None:
        return True
    return stored.internaldate is not None and \
        abs(stored.internaldate.timestamp() - p.internaldate.timestamp()) < 1
