"""Plan a migration: which message goes where, and which does not, and why.

Pure decisions over what the readers yield (one streaming pass; message bytes
are dropped as soon as they are hashed) and, when a server is known, what it
already holds. ``plan`` and ``run`` both build the same :class:`Plan`, so the
numbers in a dry run are the numbers of the run.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
from array import array
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from migrate import quickcheck
from migrate import spool as spooling
from migrate.filters import Filters
from migrate.mapping import MappedFolder, MappingRules, ServerLayout, map_folder
from migrate.plan_rows import (
    ReadAhead,
    hash_left_out_bodies,
)
from migrate.planned import (  # the message model (planned.py), named here too: callers
    DONE,  # import the plan's vocabulary from the plan
    DUPLICATE,
    FAILED,
    LATER,
    PRESENT,
    REFUSE,
    SKIP,
    UPLOAD,
    UPLOADED,
    PlannedMessage,
)
from migrate.reconcile import ALTERED, EXACT, UidSet, fetch_copies, trusted_records
from migrate.sources.base import Folder, Store
from migrate.spool import EVERY, Messages, Spool
from migrate.target.base import ServerLimits  # part of the plan's vocabulary
from migrate.workers import WorkerLost, Workers

# names callers take from the plan though it does not use them itself
REEXPORTED = (DUPLICATE, FAILED, ServerLimits, WorkerLost)


@dataclasses.dataclass
class FolderPlan:
    store: Store
    folder: Folder
    target: str
    mapping_note: str | None
    messages: Messages  # on disk (spool): iterate, or ask for counts
    special_use: str | None = None  # create the mailbox with this use, if the server can
    excluded: bool = False  # --folder/--exclude-folder leave the whole folder for later

    def counts(self) -> collections.Counter:
        return self.messages.counts()

    def reasons(self) -> collections.Counter:
        return self.messages.reasons()

    def bytes_for(self, action: str | None = None) -> int:
        """Bytes of the messages with *action* (all messages when None)."""
        return self.messages.bytes_for(action)

    def date_range(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """Oldest and newest message date (the INTERNALDATE that will be sent)."""
        return self.messages.date_range()


@dataclasses.dataclass
class Plan:
    folders: list[FolderPlan]
    layout: ServerLayout
    stores: list[Store] = dataclasses.field(default_factory=list)
    spool: Spool | None = None
    _unread: list | None = dataclasses.field(default=None, repr=False)

    def close(self) -> None:
        """Delete the spool file (also done at exit)."""
        if self.spool is not None:
            self.spool.close()

    def non_mail(self) -> list:
        """Files in the stores that are not mail (listed, never uploaded)."""
        return [item for store in self.stores for item in store.non_mail]

    def unread(self) -> list:
        """Files under the sources that no reader took and no rule knows
        (``sources.accounting``): named in every report, mail-like ones exit 1."""
        if self._unread is None:
            from migrate.sources.accounting import unread_files
            self._unread = [item for store in self.stores for item in unread_files(
                store, [f.folder for f in self.folders if f.store is store])]
        return self._unread

    def totals(self) -> collections.Counter[str]:
        total: collections.Counter[str] = collections.Counter()
        for f in self.folders:
            total.update(f.counts())
        return total

    def per_year(self) -> dict[str, int]:
        """Messages per year of their date ("unknown" when a message has none)."""
        years: collections.Counter[str] = collections.Counter()
        for f in self.folders:
            years.update(f.messages.years())
        return dict(sorted(years.items()))

    def by_target(self) -> dict[str, list[FolderPlan]]:
        """Target mailbox -> its folders, leaving out mailboxes this pass does not touch."""
        groups: dict[str, list[FolderPlan]] = {}
        for f in self.folders:
            groups.setdefault(f.target, []).append(f)
        return {t: fs for t, fs in groups.items() if not all(f.excluded for f in fs)}


def build_plan(stores: Iterable[Store], layout=None,
               across_folders: bool = False, rules: MappingRules | None = None,
               filters: Filters | None = None, facts=None,
               spool_dir: Path | None = None, check=None) -> Plan:
    """Read every folder of every store once and decide each message's action.

    Within one target mailbox, a message is uploaded once: a second copy with
    the same content hash, or the same header key and body hash, is a
    DUPLICATE (see docs/fingerprint.md). With *across_folders*, a copy already
    planned for any other mailbox is a DUPLICATE too. Two folders whose server
    names differ only in case are merged into the first one, with a note
    (case-insensitive servers would merge them anyway, silently). With
    *facts* (``quickcheck.Facts``), a folder unchanged since a run read it
    is not read again. The messages go to a spool file in *spool_dir* (or
    the temporary directory): memory does not grow with their number.

    The sources are read before the folders are named for the server, so
    *layout* may be a function that returns it (``run`` logs in while the
    sources are read); *check* is called between chunks of messages (it
    raises to stop the reading, e.g. when that login failed).
    """
    stores = list(stores)
    spool = Spool(spool_dir)
    plan = Plan([], ServerLayout(), stores, spool)  # the spool file goes when nothing holds it
    filters = filters or Filters()
    read: list[tuple[Store, Folder, Messages, bool]] = []
    with Workers() as workers:
        for store in stores:
            ahead = ReadAhead(store.folders(), facts, workers)
            for i, folder in enumerate(ahead.folders):
                if check:
                    check()
                excluded = not filters.takes_folder(folder.name)
                messages = spool.folder()
                scope = 0 if across_folders else messages.folder  # until names are known
                sig, known = ahead.look(i)
                if known is not None:
                    _spool_rows(messages, known, scope, excluded, filters, check=check)
                else:
                    recording = facts.recorder(folder, sig) if facts else None
                    _spool_rows(messages, ahead.rows(i), scope, excluded, filters,
                                recording, check)
                    if recording:
                        recording.finish()
                read.append((store, folder, messages, excluded))
    plan.layout = (layout() if callable(layout) else layout) or ServerLayout()
    scopes: dict[str, int] = {}
    spelling: dict[str, str] = {}
    for store, folder, messages, excluded in read:
        mapped = _merge_case(map_folder(folder.name, plan.layout, rules), spelling)
        if not across_folders:  # one scope per target mailbox: the first folder's number
            scope = scopes.setdefault(mapped.target.casefold(), messages.folder)
            if scope != messages.folder:
                messages.rescope(scope)
        plan.folders.append(FolderPlan(store, folder, mapped.target, mapped.note, messages,
                                       mapped.special_use, excluded))
    folders = {messages.folder: folder for _, folder, messages, _ in read}
    spool.mark_duplicates(lambda s: hash_left_out_bodies(s, folders))
    return plan


def _spool_rows(messages: Messages, rows, scope: int, excluded: bool, filters: Filters,
                recording=None, check=None) -> None:
    """Spool a folder's facts rows with this pass's decisions (no objects made).

    *recording* (``quickcheck.Recording``) keeps them for the quick check;
    *check* is called after each chunk."""
    col = {name: i for i, name in enumerate(quickcheck.COLUMNS)}
    skip, date, size = col["skip_reason"], col["internaldate"], col["size"]
    header_key = col["header_key"]
    out: list = []
    seen: list = []
    for row in rows:
        action, reason = (SKIP, row[skip]) if row[skip] else (UPLOAD, None)
        if action == UPLOAD and (excluded or filters):
            later = ("folder not selected by this pass" if excluded else filters.leaves(
                _date(row[date]), row[size]))
            if later:
                action, reason = LATER, "left for a later pass: " + later
        out.append((messages.folder, *row, action, reason, scope, hash(row[header_key])))
        seen.append(row)
        if len(out) >= 5000:
            messages.append_rows(out)
            if recording:
                recording.add(seen)
            out, seen = [], []
            if check:
                check()
    messages.append_rows(out)
    if recording:
        recording.add(seen)


def _date(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except (ValueError, TypeError) as e:  # a facts row from a state edited by hand
        raise quickcheck.FactsDamaged(e) from None


def _merge_case(mapped: MappedFolder, spelling: dict[str, str]) -> MappedFolder:
    first = spelling.setdefault(mapped.target.casefold(), mapped.target)
    if first == mapped.target:
        return mapped
    note = f"merged into {first!r} (the names differ only in case)"
    return MappedFolder(first, "; ".join(filter(None, [mapped.note, note])))


def pages(fplans: list[FolderPlan], *actions: str, part: tuple = EVERY):
    """The messages of *fplans* with one of *actions* (refs in *part*), a page at a time.

    A page's messages may be changed and saved: later pages are read afresh."""
    page: list[PlannedMessage] = []
    for f in fplans:
        for p in f.messages.where(*actions, part=part):
            page.append(p)
            if len(page) == spooling.PAGE:
                yield page
                page = []
    if page:
        yield page


class Refs:
    """Refs of messages not accounted for yet, per folder plan, in source order:
    8 bytes a message (a million objects were GBs), read back a page at a time."""

    def __init__(self, fplans: list[FolderPlan]):
        self.refs = {id(f): (f, array("q")) for f in fplans}

    def add(self, f: FolderPlan, refs: Iterable[int]) -> None:
        self.refs[id(f)][1].extend(refs)

    def pages(self) -> Iterator[tuple[FolderPlan, list[PlannedMessage]]]:
        for f, refs in self.refs.values():
            for i in range(0, len(refs), spooling.PAGE):
                yield f, f.messages.get(refs[i:i + spooling.PAGE].tolist())


def all_recorded(fplans: list[FolderPlan], recorded, uidvalidity: int) -> bool:
    """Whether a record of ours trusted under *uidvalidity* vouches for every message
    still to upload in *fplans*: ``apply_server_view`` then reads nothing on the server,
    so the mailbox need not be opened (a round trip a mailbox, many over a WAN)."""
    for f in fplans:
        for page in f.messages.light(UPLOAD):
            ours = trusted_records(recorded([h for _, h, _ in page]), uidvalidity)
            if any(h not in ours for _, h, _ in page):
                return False
    return True


NO_LIMITS = ServerLimits()  # frozen: one shared default


def apply_server_view(fplans: list[FolderPlan], target=None, recorded=None,  # noqa: C901 - the matching passes in their order (issue 40 tests them first)
                      limits: ServerLimits = NO_LIMITS, uidvalidity: int | None = None,
                      on_done=None) -> None:
    """Mark messages DONE (our state says uploaded), PRESENT, or REFUSE (see *limits*).

    *fplans* all map to one server mailbox; *target* has it selected (or
    examined), or is None when there is nothing on the server to look at.
    *recorded(hashes)* gives the (UIDVALIDITY, UID) our state recorded for
    those content hashes in this mailbox; a record is trusted only under the
    mailbox's current *uidvalidity* (None: no server looked at, trust it).
    Copies our own uploads account for are claimed first (reconcile's rule),
    so they cannot vouch for a different message; the server is read only
    when some message is not accounted for, and then only the copies that
    are not ours. *on_done(page)* sees each page of DONE messages.
    """
    lookup: Callable[[Any], dict[str, Any]] = recorded or (lambda hashes: {})

    pending = False
    for f in fplans:  # by hash alone: no message object needed
        for page in f.messages.light(UPLOAD):
            ours = trusted_records(lookup([h for _, h, _ in page]), uidvalidity)
            done = [ref for ref, h, _ in page if h in ours]
            f.messages.spool.set_action(done, DONE)
            pending = pending or len(done) < len(page)
    if target is not None and pending:
        listed, unclaimed = UidSet(target.uids()), Refs(fplans)
        for f in fplans:  # ours, by earlier runs or this one: claim their UIDs
            for page in f.messages.light(DONE, UPLOADED):
                ours = trusted_records(lookup([h for _, h, _ in page]), uidvalidity)
                unclaimed.add(f, (ref for ref, h, _ in page if not listed.claim(ours.get(h))))
        server = fetch_copies(target, listed.unclaimed())
        del listed
        for _, page in unclaimed.pages():
            server.expect(page)
        for page in pages(fplans, UPLOAD):
            server.expect(page)
        left = Refs(fplans)  # ours not found by UID vouch for copies next, by the rule
        for f, page in unclaimed.pages():
            found = server.match(page, passes=(EXACT,))
            left.add(f, (p.ref for p in page if id(p) not in found))
        for _, page in left.pages():
            server.match(page, passes=(ALTERED,))
        del unclaimed, left
        for how in (EXACT, ALTERED):
            for page in pages(fplans, UPLOAD):
                found = server.match(page, passes=(how,))
                for p in page:
                    hit = found.get(id(p))
                    if hit is not None:
                        p.action, p.server_uid = PRESENT, hit.copy.uid
                        p.reason = ("already in the account (the server changed it on "
                                    "arrival)" if hit.altered else "already in the account")
                        p.save()
    for page in pages(fplans, UPLOAD):
        for p in page:
            if (reason := limits.refusal(p)) is not None:
                p.action, p.reason = REFUSE, reason
                p.save()
    if on_done:
        for page in pages(fplans, DONE):
            on_done(page)
