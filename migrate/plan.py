"""Plan a migration: which message goes where, and which does not, and why.

Pure decisions over what the readers yield (one streaming pass; message bytes
are dropped as soon as they are hashed) and, when a server is known, what it
already holds. ``plan`` and ``run`` both build the same :class:`Plan`, so the
numbers in a dry run are the numbers of the run.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import itertools
import json
import os
from array import array
from pathlib import Path
from typing import Iterable, Iterator

from migrate import fingerprint, headers, quickcheck
from migrate import spool as spooling
from migrate.errors import SourceError
from migrate.filters import Filters
from migrate.mapping import MappedFolder, MappingRules, ServerLayout, map_folder
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
from migrate.sources.base import Folder, SourceMessage, Store, printable
from migrate.sources.mbox import MboxFolder, is_mboxrd, likely_boundaries, split_mbox
from migrate.spool import EVERY, NO_BODY_HASH, PAGE, Messages, Spool
from migrate.target.base import ServerLimits  # part of the plan's vocabulary
from migrate.workers import WorkerLost, Workers, cores

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


def message_row(msg: SourceMessage, body: bool = True) -> tuple:
    """One source message hashed into its facts row (``quickcheck.COLUMNS``): what the
    plan keeps of it, the bytes not kept. A row, not an object: it goes straight to
    the spool and the state (a million of them per big mailbox).

    Without *body* the body hash is left out (``NO_BODY_HASH``): for a folder that can
    read a message again by its key, it is computed only where a duplicate must be
    ruled out (``hash_left_out_bodies``): a second SHA-256 pass over nearly every byte,
    saved."""
    data = headers.to_crlf(msg.data)
    blank = headers.crlf_blank_line(data)  # found once: the header block and the body
    fields = fingerprint.crlf_fingerprint_fields(data, blank[0] if blank else len(data))
    when = msg.internaldate
    return (msg.key.encode("utf-8", "surrogateescape"), printable(msg.location), len(data),
            fingerprint.content_hash(data),
            fingerprint.header_key_from_fields(fields, fingerprint.size_fallback(len(data))),
            # a message without a Message-ID is told from its look-alikes by its body
            # (cron reports): always hashed, for the plan and the server alike
            fingerprint.body_hash(data, blank) if body or not fields.get("message-id", b"")
            .strip() else NO_BODY_HASH,
            fingerprint.message_id_key(fields),
            when.isoformat() if when else None, quickcheck.json_set(msg.flags),
            quickcheck.json_set(msg.keywords), msg.skip_reason or None,
            json.dumps(list(msg.notes)) if msg.notes else None, int(b"\x00" in data),
            longest_line(data))


PARALLEL_MIN_BYTES = 64 << 20  # an mbox file this big is planned on every core
PART_BYTES = 16 << 20


READ_AHEAD_MIN_BYTES = 1 << 20  # a smaller mbox folder is read here, not by a worker


_cores = cores


def _mbox_size(folder: Folder) -> int:
    """The size of an mbox folder's file (0 when it cannot be read: its reading says
    why), or -1 for any other folder."""
    if not isinstance(folder, MboxFolder):
        return -1
    try:
        return os.stat(folder.path).st_size
    except OSError:
        return 0


class ReadAhead:
    """A store's folders, the mbox files among them read by the workers ahead of their
    turn, so that a store of many folders (a Thunderbird profile) is planned on every
    core like one big file is (``planned_rows_in_parts``). The rows are spooled in
    folder order as before; at most 2 folders per core are read ahead (flat memory).

    Each folder's quick-check signature is taken before its reading starts (*facts*:
    ``Facts.lookup``), as when folders were read one by one.
    """

    def __init__(self, folders: list[Folder], facts, workers: Workers):
        self.folders, self.facts, self.workers = folders, facts, workers
        self.looked: dict[int, tuple] = {}
        self.reading: dict[int, object] = {}  # folder index -> its rows, coming
        self.next = 0  # the first folder not yet considered for reading ahead
        self.window = 2 * _cores() if _cores() > 1 else 0

    def look(self, i: int) -> tuple:
        """(signature, facts rows from the state or None) of folder *i*."""
        if i not in self.looked:
            self.looked[i] = self.facts.lookup(self.folders[i]) if self.facts else (None, None)
        return self.looked[i]

    def rows(self, i: int) -> Iterator[tuple]:
        """Folder *i*'s facts rows, read by a worker or here."""
        self._read_ahead(i)
        self.looked.pop(i, None)
        coming = self.reading.pop(i, None)
        if coming is None:
            return facts_rows(self.folders[i], self.workers)
        self._read_ahead(i + 1)
        # a worker's SourceError is raised here, in turn
        return iter(self.workers.result(coming, str(self.folders[i].path))[0])

    def _read_ahead(self, i: int) -> None:
        self.next = max(self.next, i)
        while self.window and len(self.reading) < self.window and self.next < len(self.folders):
            j, self.next = self.next, self.next + 1
            size = _mbox_size(self.folders[j])
            if READ_AHEAD_MIN_BYTES <= size < PARALLEL_MIN_BYTES and self.look(j)[1] is None:
                self.reading[j] = self.workers.submit(_plan_part, str(self.folders[j].path),
                                                      0, None, None)


def planned_rows_in_parts(folder: Folder, workers: Workers | None = None
                          ) -> Iterator[tuple] | None:
    """Facts rows of a big mbox file, planned by worker processes, or None.

    Each process reads a part of the file (one per core), so hashing and
    parsing use every core; the parts are checked to join up exactly where
    the whole file would be split, else the rest is read here.
    """
    cores = _cores()
    if cores > 1:
        size = _mbox_size(folder)
        if size >= PARALLEL_MIN_BYTES:
            return _planned_in_parts(folder, size, cores, workers)
    return None


def _plan_part(path: str, begin: int, stop: int | None, unquote: bool) -> tuple[list, int]:
    """In a worker process: the facts rows of the messages in [begin, stop), and where
    the next message starts (-1: the end of the file)."""
    rows = []
    reading = MboxFolder(None, (), Path(path)).messages_between(begin, stop, unquote)
    while True:
        try:
            rows.append(message_row(next(reading), body=False))
        except StopIteration as end:
            return rows, end.value


def _planned_in_parts(folder: MboxFolder, size: int, cores: int,
                      workers: Workers | None) -> Iterator[tuple]:
    try:
        with open(folder.path, "rb") as f:
            first = next(split_mbox(f), None)  # NotAnMbox, as a read from the start says
        guesses = likely_boundaries(folder.path, list(range(PART_BYTES, size, PART_BYTES)))
    except OSError as e:
        raise SourceError(f"cannot open mbox file {folder.path}: {e.strerror}") from e
    if first is None:
        return
    unquote = is_mboxrd(first[2])
    del first  # a big first message is not held while the workers read it again
    starts = [0] + [b for b in guesses if b > 0]
    parts = collections.deque(zip(starts, starts[1:] + [None]))
    with Workers() if workers is None else contextlib.nullcontext(workers) as pool:
        running: collections.deque = collections.deque()
        expected = 0
        try:
            while parts or running:
                while parts and len(running) < 2 * cores:  # a bounded window: flat memory
                    begin, stop = parts.popleft()
                    running.append((begin, pool.submit(_plan_part, str(folder.path), begin,
                                                       stop, unquote)))
                begin, future = running.popleft()
                if begin != expected:  # a guessed boundary was inside a message: read on
                    if expected >= 0:
                        for msg in folder.messages_between(expected, None, unquote):
                            yield message_row(msg, body=False)
                    return
                rows, expected = pool.result(future, str(folder.path))
                yield from rows
        finally:
            for _, other in running:  # a shared pool goes on: nothing of ours left in it
                other.cancel()


LONG_LINE = 4000  # lines this long may be measured; provider limits are ~10,000


def longest_line(data: bytes) -> int:
    """The longest line's length when some line may reach LONG_LINE, else 0.

    Cheap for ordinary mail (it runs on every message the plan reads): a line
    of LONG_LINE or more characters covers a whole LONG_LINE/2-byte window
    without a newline, so only such windows are looked for; the exact measure
    runs only when one is found.
    """
    step = LONG_LINE // 2
    find = data.find
    for start in range(0, len(data) - step + 1, step):
        if find(b"\n", start, start + step) == -1:
            return _longest(data)
    return 0


def _longest(data: bytes) -> int:
    """The longest CRLF-ended line's length, measured in place (a split copied a
    message of one 2 GB line once more)."""
    most, pos = 0, 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return max(most, len(data) - pos)
        most = max(most, end - pos)
        pos = end + 2


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


class _Wanted:
    __slots__ = ("ref", "key", "content_hash")

    def __init__(self, ref: int, key: bytes, content_hash: str):
        self.ref, self.key, self.content_hash = ref, key.decode("utf-8", "surrogateescape"), \
            content_hash


def hash_left_out_bodies(spool: Spool, folders: dict[int, Folder]) -> None:
    """The body hashes ``message_row`` left out, where a duplicate must be ruled out:
    each message read again by its key (``Folder.read_keyed``). A message that is no
    longer there as planned (its content hash differs, its file cannot be read) gets
    a hash of its own: it is nobody's duplicate, and the upload finds the change (a
    bad folder skips that folder, not the plan)."""
    done: list[tuple[str, int]] = []
    for number, rows in itertools.groupby(spool.bodies_wanted(), key=lambda row: row[1]):
        items = (_Wanted(ref, key, content_hash) for ref, _, key, content_hash in rows)
        for item, data in folders[number].read_keyed(items, gone_if_unreadable=True):
            done.append((body_hash_again(data, item.content_hash) or f"unread {item.ref}",
                         item.ref))
            if len(done) >= PAGE:
                spool.set_body_hashes(done)
                done = []
    spool.set_body_hashes(done)


def body_hash_again(data: bytes | None, content_hash: str) -> str | None:
    """The body hash of a message read again, or None when it is not the planned one."""
    if data is None:
        return None
    crlf = headers.to_crlf(data)
    if fingerprint.content_hash(crlf) != content_hash:
        return None
    return fingerprint.body_hash(crlf, headers.crlf_blank_line(crlf))


def facts_rows(folder: Folder, workers: Workers | None = None) -> Iterator[tuple]:
    """The facts rows (``message_row``) of a folder's messages, in order."""
    rows = planned_rows_in_parts(folder, workers)
    if rows is not None:
        return rows
    body = folder.direct_reader() is None  # else where needed: hash_left_out_bodies
    return (message_row(msg, body) for msg in folder.messages())


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


def apply_server_view(fplans: list[FolderPlan], target=None, recorded=None,  # noqa: C901 - to split (issue 38)
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
    lookup = recorded or (lambda hashes: {})

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
