"""Compare the sources with the server, mailbox by mailbox: one verdict per message.

Needs no state database: the plan is rebuilt from the sources and each
mailbox's fingerprints are read back (headers only, EXAMINE: read-only).
With a state, the UIDs it recorded are matched first and the messages it
records as refused keep the server's words. Matching is reconcile's rule.
``run`` ends with the same check, so both say the same. Per message:

* *present*: on the server as sent;
* *altered*: on the server, but the server changed it on arrival (found by
  the UID it gave, or by reconcile's looser rule);
* *refused*: the server will not take it (too large, NUL without BINARY,
  refused in a run with its words): running again cannot help;
* *missing*: belongs there, not found, and nothing says it would be refused:
  running again uploads it.

Per mailbox also: whether it exists at all (every planned folder must, empty
or not), *duplicated* server copies of expected messages, and *unexpected*
server messages no source message accounts for (not an error).
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import itertools
from array import array
from typing import Any, Iterator, Sequence

from migrate import headers
from migrate import spool as spooling
from migrate.errors import MailboxError
from migrate.plan import (
    DONE,
    FAILED,
    PRESENT,
    REFUSE,
    UPLOAD,
    UPLOADED,
    Plan,
    PlannedMessage,
    Refs,
    apply_server_view,
    pages,
)
from migrate.reconcile import (
    ALTERED,
    EXACT,
    ServerMailbox,
    UidSet,
    fetch_copies,
    trusted_records,
)
from migrate.target.base import UID_TYPE, Target, uid_set
from migrate.textsafe import windows_device

SHOULD_BE_THERE = (UPLOAD, UPLOADED, DONE, PRESENT)
WILL_NOT_MOVE = (REFUSE, FAILED)
WANTED = SHOULD_BE_THERE + WILL_NOT_MOVE
DETAIL_LIMIT = 1000  # messages described per mailbox and kind in verify.json (all in the CSV)
KEPT_FLAGS = ("\\Seen", "\\Answered", "\\Flagged", "\\Draft")


class Named:
    """Messages a check names (missing, refused, altered, lacking flags): a ref per
    message and folder plan, with a byte of *mark* (which KEPT_FLAGS it lacks), read
    back in source order a page at a time. A million message objects were GBs."""

    def __init__(self):
        self._folders: dict[int, tuple] = {}  # id(folder plan) -> (it, array of ref << 8 | mark)

    def add(self, f, p: PlannedMessage, mark: int = 0) -> None:
        entry = self._folders.get(id(f))
        if entry is None:
            entry = self._folders[id(f)] = (f, array("q"))
        entry[1].append(p.ref << 8 | mark)

    def __len__(self) -> int:
        return sum(len(refs) for _, refs in self._folders.values())

    def __bool__(self) -> bool:
        return any(refs for _, refs in self._folders.values())

    def __iter__(self) -> Iterator[PlannedMessage]:
        for _, marked in self.folders():
            for p, _ in marked:
                yield p

    def folders(self) -> Iterator[tuple[object, Iterator[tuple[PlannedMessage, int]]]]:
        """(folder plan, its named messages with their marks in source order), folders in
        the order of their first naming; each folder's messages are read as consumed."""
        for f, refs in self._folders.values():
            yield f, self._read(f, refs)

    @staticmethod
    def _read(f, refs: array) -> Iterator[tuple[PlannedMessage, int]]:
        if any(refs[i] > refs[i + 1] for i in range(len(refs) - 1)):
            refs = array("q", sorted(refs))  # named by two passes: back to source order
        for i in range(0, len(refs), spooling.PAGE):
            marks = {v >> 8: v & 0xFF for v in refs[i:i + spooling.PAGE]}
            for p in f.messages.get(list(marks)):
                yield p, marks[p.ref]


def lacking(mark: int) -> tuple[str, ...]:
    return tuple(flag for i, flag in enumerate(KEPT_FLAGS) if mark >> i & 1)


@dataclasses.dataclass
class MailboxCheck:
    mailbox: str
    expected: int
    on_server: int
    missing: Named = dataclasses.field(default_factory=Named)
    duplicated_uids: Sequence[int] = dataclasses.field(default_factory=list)  # extra copies of
    # expected messages
    unexpected_uids: Sequence[int] = dataclasses.field(default_factory=list)  # server messages no
    # source message accounts for (an array)
    details: dict[int, dict[str, str]] = dataclasses.field(default_factory=dict)  # uid -> headers
    altered: Named = dataclasses.field(default_factory=Named)
    refused: Named = dataclasses.field(default_factory=Named)  # reason in .reason
    exists: bool = True
    matched_by: dict = dataclasses.field(default_factory=dict)  # reconcile pass -> messages
    flags_missing: Named = dataclasses.field(default_factory=Named)  # mark: the flags lacking
    unopened: str = ""  # why the server would not open the mailbox (nothing could be checked)

    @property
    def duplicated(self) -> int:
        return len(self.duplicated_uids)

    @property
    def unexpected(self) -> int:
        return len(self.unexpected_uids)

    @property
    def ok(self) -> bool:
        return self.exists and not self.missing and not self.duplicated_uids


def expect_refusals(target: Target, plan: Plan, state=None) -> None:
    """Settle a fresh plan as a run would: what the server refuses is not expected.

    With a *state*: what it records as uploaded is DONE, and what a run saw
    the server refuse is FAILED with the server's words.
    """
    for mailbox, fplans in plan.by_target().items():
        apply_server_view(fplans, None,
                          (lambda hashes, m=mailbox: state.recorded(m, hashes)) if state else None,
                          target.limits)
        refused = state.refused(mailbox) if state else {}
        if refused:
            for page in pages(fplans, UPLOAD):
                for p in page:
                    if p.content_hash in refused:
                        p.action, p.reason = FAILED, refused[p.content_hash]
                        p.save()


def verify_plan(target: Target, plan: Plan, describe_server: bool = False,
                recorded=None, quick: bool = False, floor=None,
                sizes=None, present=frozenset()) -> list[MailboxCheck]:
    """Check every mailbox *plan* maps a folder to; read-only on the server.

    *recorded(mailbox, hashes)* gives the state's content hash -> (UIDVALIDITY,
    UID) for those hashes. With *quick* (the end of ``run``), a message whose
    recorded UID the server still lists is taken as there without fetching it
    (UIDs are never reused under one UIDVALIDITY); header fingerprints are
    fetched only for the other server messages. What the server changed on
    arrival is then seen only by the full check (``verify``). Messages are
    read from the plan a page at a time.

    *floor(mailbox, uidvalidity)* (with *quick*): a UID below every copy our runs
    put into the mailbox, or None (``State.upload_floor``). When every expected
    message was found by its UID, only the server's messages from the floor up
    are fetched: older ones cannot be copies of ours, so a mailbox that held a
    million messages before the migration is not read again at the end of each
    run. Duplicates are then those among what the migration put there;
    ``verify`` compares every message. *sizes* (mailbox -> about how many messages
    it holds, as the run saw them) spares the quick check's listing a round trip.
    *present*: mailboxes the run saw on the server under exactly these names (it
    created or selected them, or asked their STATUS): not listed again, a round
    trip less; one gone since fails to open below, and is counted missing.
    """
    checks = []
    targets = plan.by_target()
    asked = [name for name in targets if name not in present]
    listed = target.existing_names(asked) if asked else {}  # or their fallback spellings
    names = {name: name if name in present else listed[name] for name in targets}
    # many mailboxes' listings (the quick check) or copies (the full one) at once: a
    # round trip or three per mailbox were most of a check of many folders over a WAN
    there = list(dict.fromkeys(filter(None, names.values())))
    looked = target.look_into(there, sizes) if quick else target.copies_in(there)
    for planned_name, fplans in targets.items():
        existing = names[planned_name]
        mailbox = existing or planned_name
        check, unopened = None, ""
        if existing:
            try:
                info, seen = looked.get(existing) or (target.examine(existing), None)
                ours = (lambda hashes, m=existing: recorded(m, hashes)) if recorded else None
                low = floor(existing, info.uidvalidity) if quick and floor else None
                check = _check(target, fplans, info, ours, quick, low, seen,
                               lambda m=existing: target.examine(m))
            except MailboxError as e:  # this mailbox alone; the others are checked
                unopened = str(e)
        if check is None:  # nothing on the server to compare with
            check = MailboxCheck(mailbox, 0, 0, exists=existing is not None, unopened=unopened)
            for f in fplans:
                for p in f.messages.where(*WANTED):
                    wanted = p.action in SHOULD_BE_THERE
                    check.expected += wanted
                    (check.missing if wanted else check.refused).add(f, p)
        check.mailbox = mailbox
        if describe_server and existing and (check.duplicated or check.unexpected):
            if existing in looked:
                target.examine(existing)
            check.details = target.header_fields(
                list(check.duplicated_uids[:DETAIL_LIMIT])
                + list(check.unexpected_uids[:DETAIL_LIMIT]))
        checks.append(check)
    return checks


def _check(target: Target, fplans, info, recorded, quick: bool,  # noqa: C901 - the matching passes in their order (issue 40 tests them first)
           floor: int | None = None, seen=None, reopen=None) -> MailboxCheck:
    """One existing mailbox, in memory bounded by a page of messages (plus 8 bytes
    a message not found by UID, 4 a server UID; the server's fingerprints are in
    reconcile's temporary database).

    By UID first: a message whose recorded UID the server lists claims it. The
    quick check takes it as there; the full check fetches every server message
    and compares (changed on arrival? flags kept?). Then one pass of the rule
    over all the others, then the next, looser one (reconcile's order).

    *seen*: what was read of the mailbox already, many at once: its UIDs for the
    quick check (``look_into``), its copies for the full one (``copies_in``); then
    *reopen()* selects it again before anything more is fetched."""
    copies = None
    if seen is None:
        listed, reopen = (target.uids() if info.exists else []), None
    elif quick:
        listed = seen
    else:
        copies, listed = seen, [c.uid for c in seen]
    uids = UidSet(listed)
    del listed  # (held once: as the set's array)
    check = MailboxCheck("", 0, len(uids))
    contents = _contents_after(reopen, target)
    server = None if quick else (ServerMailbox(copies, contents) if copies is not None
                                 else fetch_copies(target, uids.listed, contents))
    del copies
    unsettled, by_uid = Refs(fplans), 0
    unfound = 0  # expected messages not found by UID
    for f in fplans:
        for page in f.messages.light(*WANTED):
            ours = trusted_records(recorded([h for _, h, _ in page]) if recorded else {},
                                   info.uidvalidity)
            claimed = {}  # ref -> the UID it claimed
            for ref, h, action in page:
                check.expected += action in SHOULD_BE_THERE
                uid = ours.get(h)
                if uids.claim(uid):
                    claimed[ref] = uid
                else:
                    unsettled.add(f, (ref,))
                    unfound += action in SHOULD_BE_THERE
            if quick:  # there, as sent: not fetched
                by_uid += len(claimed)
                continue
            assert server is not None  # (the full check fetched every copy above)
            for p in f.messages.get(list(claimed)) if claimed else ():
                copy = server.claim_uid(claimed[p.ref])
                if copy is None:  # expunged since it was listed
                    unsettled.add(f, (p.ref,))
                    continue
                by_uid += 1
                if (copy.header_key, copy.size) != (p.header_key, p.size):
                    check.altered.add(f, p)
                _compare_flags(check, f, p, copy)
    older = array(UID_TYPE)  # server messages below the floor: neither fetched nor ours
    if quick:
        unclaimed = array(UID_TYPE, uids.unclaimed())
        if floor is not None and not unfound:  # every expected message found by UID; a
            # refused one's copy, if any, came since the plan looked (or it was PRESENT)
            cut = bisect.bisect_left(unclaimed, floor)
            older, unclaimed = unclaimed[:cut], unclaimed[cut:]
        if len(unclaimed) and reopen is not None:
            reopen()
            contents = target.contents
        server = fetch_copies(target, unclaimed, contents)
    del uids
    assert server is not None  # (fetched above: all of them, or the quick check's rest)
    for _, page in unsettled.pages():
        server.expect(page)
    found = 0
    left = Refs(fplans)
    for f, page in unsettled.pages():  # the rule's first pass over every page ...
        hits = server.match(page, passes=(EXACT,))
        found += len(hits)
        left.add(f, (p.ref for p in page if id(p) not in hits))
        if not quick:
            for p in page:
                if id(p) in hits:
                    _compare_flags(check, f, p, hits[id(p)].copy)
    for f, page in left.pages():  # ... then the looser one
        hits = server.match(page, passes=(ALTERED,))
        found += len(hits)
        for p in page:
            hit = hits.get(id(p))
            if hit is not None:
                check.altered.add(f, p)
                if not quick:
                    _compare_flags(check, f, p, hit.copy)
            elif p.action in SHOULD_BE_THERE:
                check.missing.add(f, p)
            else:
                check.refused.add(f, p)
    check.matched_by = {how: n for how, n in (("uid", by_uid), ("headers", found)) if n}
    if len(server):
        check.duplicated_uids, check.unexpected_uids = server.related(
            p for page in pages(fplans, *WANTED) for p in page)
    if older:
        check.unexpected_uids = older + array(UID_TYPE, check.unexpected_uids)
    return check


def _contents_after(reopen, target):
    """``target.contents``, selecting the mailbox again first when others were
    looked into since it was read (``copies_in``): once."""
    if reopen is None:
        return target.contents
    opened = []

    def contents(uids):
        if not opened:
            reopen()
            opened.append(True)
        return target.contents(uids)
    return contents


def _compare_flags(check: MailboxCheck, f, p, copy) -> None:
    """Note *p* when the server's copy lacks its read/answered/flagged/draft."""
    mark = sum(1 << i for i, flag in enumerate(KEPT_FLAGS)
               if flag in p.flags and flag not in copy.flags)
    if mark:
        check.flags_missing.add(f, p, mark)


def verdict(checks: list[MailboxCheck]) -> dict:
    """The counts ``run`` and ``verify`` both report, and the exit code they imply."""
    from migrate.errors import ExitCode
    counts = {
        "missing": sum(len(c.missing) for c in checks),
        "folders_missing": [c.mailbox for c in checks if not c.exists],
        "refused": sum(len(c.refused) for c in checks),
        "altered": sum(len(c.altered) for c in checks),
        "duplicated": sum(c.duplicated for c in checks),
    }
    if counts["missing"] or counts["folders_missing"]:
        code = ExitCode.VERIFY_FAILED
    elif counts["refused"]:
        code = ExitCode.SKIPPED
    else:
        code = ExitCode.SUCCESS
    counts["exit_code"] = int(code)
    return counts


WHO = ("message-id", "date", "from", "subject")


def described(f, messages: Iterator[PlannedMessage]) -> Iterator[tuple[PlannedMessage, dict]]:
    """(message, its Message-ID, Date, From, Subject re-read from the source) for *messages*
    of folder plan *f*, in source order (``Folder.read_keyed``). A message the source no
    longer has, or a source that can no longer be read, is described by nothing ({})."""
    for p, data in f.folder.read_keyed(iter(messages), gone_if_unreadable=True):
        yield p, _who(data) if data is not None else {}


def _who(data: bytes) -> dict[str, str]:
    found = headers.get_headers(data, set(WHO))
    return {name: headers.decode_words(values[0]) for name, values in found.items()}


def export_refused(plan: Plan, directory) -> list:
    """Write every message the server refuses (or refused) as an .eml file in *directory*,
    one sub-folder per source folder, so the person can deal with it (print it, save the
    attachment, send it in smaller parts). Bytes as in the source, CRLF line endings."""
    from pathlib import Path

    from migrate.plan import FAILED, REFUSE
    directory = Path(directory)
    check_export_dir(plan.stores, directory)
    written = []
    for n, f in enumerate(plan.folders):
        refused = {p.key: p for p in f.messages.where(REFUSE, FAILED)}
        if not refused:
            continue
        folder = _private_dir(directory, f"{n:03d}-{_file_safe(f.folder.display_name)}")
        for i, msg in enumerate(m for m in f.folder.messages() if m.key in refused):
            path = _write_new(folder, f"{i + 1:04d}", headers.to_crlf(msg.data))
            written.append((path, refused[msg.key].reason))
    return written


def _private_dir(directory, name: str):
    """*directory*/*name*, made 0700 where missing; a link at either is refused (an
    export is private mail: it is never written through a link someone planted)."""
    from migrate.errors import UsageError
    for path in (directory, directory / name):
        if path.is_symlink():
            raise UsageError(f"--export-refused: {path} is a symbolic link; nothing is written "
                             "through one: give a real directory")
        if not path.exists():
            path.mkdir(parents=True, mode=0o700)
        elif not path.is_dir():
            raise UsageError(f"--export-refused: {path} exists and is not a directory")
    return directory / name


def _write_new(folder, stem: str, data: bytes):
    """Write *data* to a new file *stem*.eml in *folder* (0600, no link followed, nothing
    overwritten): a name taken by another file or a link gets -2, -3... A file that
    already holds exactly *data* (an export run again) is kept as it is."""
    import os
    for n in range(1, 10_000):
        path = folder / (f"{stem}.eml" if n == 1 else f"{stem}-{n}.eml")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                         | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0), 0o600)
        except FileExistsError:
            if not path.is_symlink() and path.is_file() and path.stat().st_size == len(data) \
                    and path.read_bytes() == data:
                return path
            continue
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return path
    from migrate.errors import UsageError
    raise UsageError(f"--export-refused: {folder} holds too many files named {stem}-N.eml; "
                     "choose an empty directory")


def check_export_dir(stores, directory) -> None:
    """Sources are never written to: refuse an export directory inside one (checked
    before the command does any work, and again before writing)."""
    from migrate.errors import UsageError
    from migrate.sources.base import source_containing
    inside = source_containing(stores, directory)
    if inside is not None:
        raise UsageError(f"--export-refused {directory} is inside the source {inside.path}; "
                         "choose a directory outside every source")


def _file_safe(name: str) -> str:
    """*name* as one part of a file name on every system: letters, digits and " -_."
    kept, at most 60 characters, no trailing dot or space, never a Windows device name
    (CON, AUX, NUL, COM1...): an export written on a Linux server is copied to Windows."""
    safe = "".join(c if c.isalnum() or c in " -_." else "_" for c in name).strip()[:60]
    safe = safe.rstrip(". ") or "_"
    if windows_device(safe):
        safe = "_" + safe
    return safe


NAMED = ("missing", "refused", "altered", "flags_missing")  # source messages, by kind


def named_rows(c: MailboxCheck, kind: str) -> Iterator[dict]:
    """verify.json's rows of *c*'s messages of *kind* (NAMED), in source order, read as
    consumed: the source is read again for their headers."""
    for f, marked in getattr(c, kind).folders():
        marks: dict[int, Any] = {}

        def messages(marked=marked, marks=marks):
            for p, mark in marked:
                marks[p.ref] = mark
                yield p
        for p, found in described(f, messages()):
            mark = marks.pop(p.ref)  # held only while described() looks ahead
            row: dict[str, Any] = {"source": p.location, **_fields(found)}
            if kind == "refused":
                row["reason"] = p.reason
            if kind == "flags_missing":
                row["flags"] = list(lacking(mark))
            yield row


def check_report(checks: list[MailboxCheck]) -> dict:
    """The verification as data (verify.json): per mailbox the counts, and the first
    DETAIL_LIMIT messages of each kind named (``write_csv`` names every one)."""
    counts = verdict(checks)
    limit = DETAIL_LIMIT

    def server_rows(c: MailboxCheck, uids) -> list[dict]:
        return [{"uid": uid, **_fields(c.details.get(uid, {}))} for uid in uids]

    def box(c: MailboxCheck) -> dict:
        out = {"mailbox": c.mailbox, "exists": c.exists, "expected": c.expected,
               "on_server": c.on_server, "matched_by": c.matched_by}
        for kind in NAMED:
            out[f"{kind}_count"] = len(getattr(c, kind))
            out[kind] = list(itertools.islice(named_rows(c, kind), limit))
        out.update({
            "duplicated_count": c.duplicated,
            "duplicated": server_rows(c, c.duplicated_uids[:limit]),
            "duplicated_more": uid_set(c.duplicated_uids[limit:]).decode(),
            "unexpected_count": c.unexpected,
            "unexpected": server_rows(c, c.unexpected_uids[:limit]),
            "unexpected_more": uid_set(c.unexpected_uids[limit:]).decode(),
            **({"unopened": c.unopened} if c.unopened else {})})
        return out

    return {
        "schema": "mailmigrate-verify/3",
        "ok": not counts["missing"] and not counts["folders_missing"],
        "exit_code": counts["exit_code"],
        "missing": counts["missing"],
        "folders_missing": counts["folders_missing"],
        "refused": counts["refused"],
        "altered": counts["altered"],
        "flags_missing": sum(len(c.flags_missing) for c in checks),
        "duplicated": counts["duplicated"],
        "unexpected": sum(c.unexpected for c in checks),
        "detail_limit": limit,
        "mailboxes": [box(c) for c in checks],
    }


CSV_FIELDS = ("mailbox", "problem", "source", "message_id", "date", "from", "subject", "why")
PROBLEMS = {"missing": "missing", "refused": "refused by the server",
            "altered": "changed by the server on arrival", "flags_missing": "stored without"}


def write_csv(checks: list[MailboxCheck], path) -> int:
    """verify.csv: every message the check names, a row each, written as read (a
    million missing messages are named in flat memory). Returns the rows written."""
    from migrate.textsafe import csv_cell
    written = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(CSV_FIELDS)
        for c in checks:
            for kind in NAMED:
                for row in named_rows(c, kind):
                    why = row.get("reason") or " ".join(row.get("flags", ()))
                    out.writerow([csv_cell(v) for v in (
                        c.mailbox, PROBLEMS[kind], row["source"], row["message_id"],
                        row["date"], row["from"], row["subject"], why)])
                    written += 1
    return written


def _fields(found: dict[str, str]) -> dict[str, str | None]:
    return {"message_id": found.get("message-id"), "date": found.get("date"),
            "from": found.get("from"), "subject": found.get("subject")}
