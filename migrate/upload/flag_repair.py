"""Flag repair: add back the flags a server dropped on APPEND, never take one away.

A step beside the mailbox step, run after it: for our uploads whose flags were not
checked yet, by the UIDs the server gave them.
"""

from __future__ import annotations

import collections
import logging

from migrate.keywords import imap_keyword
from migrate.plan import DONE, UPLOADED, FolderPlan, PlannedMessage, pages
from migrate.upload.worker import Worker

log = logging.getLogger(__name__)

SYSTEM_FLAGS = {"\\Seen", "\\Answered", "\\Flagged", "\\Draft", "\\Deleted"}


def filter_flags(p: PlannedMessage, permanent: frozenset,
                 keywords: bool = True) -> tuple[str, ...]:
    """Flags the server will keep: system flags in PERMANENTFLAGS, keywords if allowed.

    Keywords are spelled as valid IMAP atoms first (``keywords.imap_keyword``).
    """
    if not permanent:
        permanent = frozenset(SYSTEM_FLAGS)
    flags = [f for f in sorted(p.flags) if f in permanent and f != "\\Deleted"]
    if keywords:
        atoms = sorted({a for a in map(imap_keyword, p.keywords) if a})
        flags += [k for k in atoms if "\\*" in permanent or k in permanent]
    return tuple(flags)


def repair_flags(w: Worker, mailbox: str, fplans: list[FolderPlan]) -> None:
    """Add back the flags a server dropped on APPEND (read, answered, flagged, draft,
    and keywords where the mailbox keeps them).

    For our uploads whose flags were not checked yet (this run's, or an earlier
    run's that stopped before its check), by the UIDs the server gave them:
    one FETCH FLAGS per page, a UID STORE +FLAGS where some are missing (a
    flag is only ever added); then they are marked checked in the state.
    """
    link, info = w.keeper.target, w.info
    here = info.uidvalidity if link is not None and link.selected == mailbox and info else None
    if not w.state.flags_unchecked(mailbox, here):
        return  # all checked: no connection, no round trip, no pass over the plan
    target = w.connected()
    if target.selected != mailbox or info is None:
        info = w.info = target.select(mailbox)
    permanent = info.permanent_flags
    for page in pages(fplans, UPLOADED, DONE):
        ours = w.state.flags_unchecked(mailbox, info.uidvalidity,
                                       [p.content_hash for p in page])
        if not ours:
            continue
        mine = {ours[p.content_hash]: p for p in page if p.content_hash in ours}
        want = {uid: set(filter_flags(p, permanent)) for uid, p in mine.items()}
        want = {uid: flags for uid, flags in want.items() if flags}
        have = target.flags_of(sorted(want)) if want else {}
        lost: dict[tuple, list[int]] = collections.defaultdict(list)
        for uid, flags in want.items():
            if uid in have and flags - have[uid]:
                lost[tuple(sorted(flags - have[uid]))].append(uid)
        for missing, uids in lost.items():
            log.info("%s: the server dropped %s of %d messages on APPEND; adding them back",
                     mailbox, " ".join(missing), len(uids))
            if not target.add_flags(uids, missing):
                keywords_not_kept(w, mailbox, [mine[uid] for uid in uids], missing)
                missing = tuple(f for f in missing if f.startswith("\\"))
                if not missing or not target.add_flags(uids, missing):
                    continue
            w.outcome.flags_repaired += len(uids)
        w.state.mark_flags_checked(mailbox, list(ours))


def keywords_not_kept(w: Worker, mailbox: str, messages, flags: tuple) -> None:
    """The server refused to add *flags* back: name each message once (one sent
    without its keywords because the APPEND refused them is named already)."""
    keywords = " ".join(f for f in flags if not f.startswith("\\"))
    for p in messages:
        if keywords and w.outcome.name_bare(mailbox, p.ref):
            w.outcome.flags_dropped.append(
                (mailbox, p.location, f"stored without its keywords {keywords}: the "
                 "server dropped them on APPEND and refused to add them back"))
