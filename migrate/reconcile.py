"""Which server copy is which expected message: the one matching rule.

Plan (survey), the upload engine (before sending, and when it resolves
batches a crash left in flight) and verify all ask the same question: of the
messages a mailbox should hold, which are there? They all answer it here, by
the rule of docs/fingerprint.md, in this order:

1. **by UID**: our state recorded the UID the server gave the message
   (APPENDUID, under the same UIDVALIDITY) and that UID is still there. Found
   whatever the server did to its bytes.
2. **exact**: same header key and same size.
3. **altered**: same header key and the message has a Message-ID (the server
   added or changed other headers), or the same Message-ID and the same size
   (the server rewrote bytes in place, as Cyrus does with 8-bit header bytes).

Each server copy vouches for one expected message. A pass takes every
message it can before the next, looser pass starts, so a loose match never
takes a copy an exact match needed.

Where the header key is weak, headers are not enough: a message without a
Message-ID (cron reports: the same From, Subject and Date, other bodies), a key
and size that several server copies or several expected messages share, and
every match by Message-ID alone. Then the copies' bytes decide: a candidate is
this message only when its content hash, or its body hash, is the message's
(``contents``: the caller's function that fetches just those candidates). No
network I/O here: the caller fetches.
"""

from __future__ import annotations

import bisect
import dataclasses
import sqlite3
from array import array
from typing import Any, Callable, Iterable, Iterator, Protocol

from migrate.state import guarded_by
from migrate.target.base import MAX_UID, UID_TYPE, ServerCopy, Target, uid_set

# the server's copies are the contract's types (target/base.py), named here too for
# the callers that match them
REEXPORTED = (MAX_UID, uid_set)

BY_UID, EXACT, ALTERED = "uid", "exact", "altered"
PASSES = (BY_UID, EXACT, ALTERED)


@dataclasses.dataclass(frozen=True, slots=True)
class Match:
    copy: ServerCopy
    how: str  # the pass that found it: BY_UID, EXACT or ALTERED
    altered: bool = False  # the server's copy differs from what was sent


class Expected(Protocol):
    """A message the rule looks for: planned (``PlannedMessage``), in flight (``state.Row``)
    or in verify's check. ``message_id`` and ``body_hash`` where it has them."""

    header_key: str
    size: int
    content_hash: str

    @property
    def has_message_id(self) -> bool: ...


Contents = Callable[[list[int]], dict[int, tuple[str, str]]]  # uid -> (content, body) hash
CopyRow = tuple[Any, ...]  # uid, key, size, mid, flags, content hash, body hash


def trusted_records(recorded: dict[str, tuple[int | None, int | None]], uidvalidity: int | None
                    ) -> dict[str, int | None]:
    """content hash -> UID of the state's records that still hold for the mailbox.

    *recorded* maps content hashes to the (UIDVALIDITY, UID) our runs recorded.
    A record holds under the mailbox's current *uidvalidity*; one from a
    mailbox deleted and recreated since (another UIDVALIDITY) does not. A
    record without UIDVALIDITY (older runs) holds, and so does every record
    when no server was looked at (*uidvalidity* None).
    """
    return {h: uid for h, (valid, uid) in recorded.items()
            if uidvalidity is None or valid is None or valid == uidvalidity}


def _unavailable(server: object, e: Exception) -> Exception:
    from migrate.spool import SpoolUnavailable
    return SpoolUnavailable(
        f"the list of the server's messages cannot be kept in a temporary file ({e}); free "
        "space in the temporary directory (SQLite uses $SQLITE_TMPDIR, else $TMPDIR, else "
        "/var/tmp or /tmp), then run the same command again: nothing sent so far is lost or "
        "sent twice")


_guarded = guarded_by(_unavailable)


class ServerMailbox:
    """The copies one server mailbox holds; each can be claimed once.

    Kept in a private temporary SQLite database, not in Python objects: a
    mailbox of a million messages made 850 MB of objects; here memory is
    SQLite's page cache (2 MB) and the rest goes to a file SQLite creates
    0600 and unlinks at once (gone when this is collected).
    Claims take the lowest UID that fits, as the rule wants.
    """

    @_guarded
    def __init__(self, copies: Iterable[ServerCopy] = (), contents: Contents | None = None):
        """*contents(uids)*: (content hash, body hash) of those server messages,
        fetched; without it a weak match is never made (docs/fingerprint.md)."""
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._db.executescript("""
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
            CREATE TABLE copy (uid INTEGER PRIMARY KEY, key TEXT NOT NULL,
                               size INTEGER NOT NULL, mid TEXT NOT NULL, flags TEXT NOT NULL,
                               chash TEXT, bhash TEXT);
            CREATE INDEX copy_by_key ON copy (key, size, uid);
            CREATE INDEX copy_by_mid ON copy (mid, size, uid);
            CREATE TABLE expected (key TEXT NOT NULL, size INTEGER NOT NULL,
                                   mid TEXT NOT NULL, n INTEGER NOT NULL,
                                   PRIMARY KEY (key, size, mid)) WITHOUT ROWID;
            CREATE INDEX expected_by_mid ON expected (mid);
        """)
        self._count = 0
        self.contents = contents
        self.add(copies)

    @_guarded
    def add(self, copies: Iterable[ServerCopy]) -> None:
        """Take in more copies (a page of fingerprints at a time); a UID seen
        before keeps its first copy."""
        before = self._db.total_changes
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO copy VALUES (?, ?, ?, ?, ?, NULL, NULL)",
                ((c.uid, c.header_key, c.size, c.message_id, "\n".join(sorted(c.flags)))
                 for c in copies))
        self._count += self._db.total_changes - before

    def __len__(self) -> int:
        return self._count

    @_guarded
    def uids(self) -> list[int]:
        """The UIDs of the copies not claimed yet, ascending."""
        return [uid for uid, in self._db.execute("SELECT uid FROM copy ORDER BY uid")]

    @_guarded
    def expect(self, expected: Iterable[Expected]) -> None:
        """Count *expected* messages (all that will be matched, before the first pass):
        a key and size, or a Message-ID, that two of them share is contested, and a
        contested match is decided on content. Only those the server has a copy
        for with that key or Message-ID are counted (nearly none, on a first run)."""
        if not self._count:
            return
        rows = ((m.header_key, m.size, getattr(m, "message_id", "") or "") for m in expected)
        with self._db:
            self._db.executemany("""
                INSERT INTO expected SELECT ?1, ?2, ?3, 1
                WHERE EXISTS (SELECT 1 FROM copy WHERE key = ?1)
                   OR (?3 != '' AND EXISTS (SELECT 1 FROM copy WHERE mid = ?3))
                ON CONFLICT DO UPDATE SET n = n + 1""", rows)

    def _contested(self, m: Expected, by_size: bool) -> bool:
        """Whether another expected message shares *m*'s key (and size), or its
        Message-ID: then one copy could stand for either."""
        mid = getattr(m, "message_id", "") or ""
        if by_size:
            row = self._db.execute("SELECT sum(n) FROM expected WHERE key = ? AND size = ?",
                                   (m.header_key, m.size)).fetchone()
        else:
            row = self._db.execute("SELECT sum(n) FROM expected WHERE key = ?",
                                   (m.header_key,)).fetchone()
        if (row[0] or 0) > 1:
            return True
        if mid:
            row = self._db.execute("SELECT sum(n) FROM expected WHERE mid = ?", (mid,)).fetchone()
            return (row[0] or 0) > 1
        return False

    def _candidates(self, where: str, *args: object) -> list[CopyRow]:
        return self._db.execute(
            f"SELECT uid, key, size, mid, flags, chash, bhash FROM copy WHERE {where} "
            "ORDER BY uid", args).fetchall()

    def _hashes(self, rows: list[CopyRow]) -> list[CopyRow]:
        """*rows* with their content and body hashes, fetched where not known yet."""
        wanted = [r[0] for r in rows if r[5] is None]
        if wanted and self.contents is not None:
            got = self.contents(wanted)
            with self._db:
                self._db.executemany("UPDATE copy SET chash = ?, bhash = ? WHERE uid = ?",
                                     ((c, b, uid) for uid, (c, b) in got.items()))
            rows = [r[:5] + got.get(r[0], (r[5], r[6])) for r in rows]
        return rows

    def _claim(self, row: CopyRow) -> ServerCopy:
        self._db.execute("DELETE FROM copy WHERE uid = ?", (row[0],))
        self._count -= 1
        uid, key, size, mid, flags = row[:5]
        return ServerCopy(uid, key, size, mid, frozenset(flags.split("\n")) if flags else
                          frozenset())

    @_guarded
    def _take(self, m: Expected, where: str, *args: object, weak: bool = False,
              body_says: bool = True) -> ServerCopy | None:
        """The lowest-UID copy that fits *where*; when the match is *weak* (or several
        copies fit, or another expected message could take it), the lowest whose
        bytes are *m*'s: same content hash, or same body hash (headers the server
        changed, where *body_says*). A copy whose bytes cannot be read is nobody's on
        content."""
        if not self._count:
            return None
        rows = self._candidates(where, *args)
        if not rows:
            return None
        if not weak and len(rows) == 1 and not self._contested(m, by_size=True):
            return self._claim(rows[0])
        body = getattr(m, "body_hash", "") or ""
        for row in self._hashes(rows):
            if row[5] is not None and (row[5] == m.content_hash
                                       or (body_says and body and row[6] == body)):
                return self._claim(row)
        if not body and m.has_message_id and not self._contested(m, by_size=False):
            # the server changed its copy and the message's body was not hashed (an mbox
            # message with a Message-ID no other expected message shares): its
            # Message-ID says which, as before content was compared
            return self._claim(rows[0])
        return None

    def claim_uid(self, uid: int | None) -> ServerCopy | None:
        if uid is None or not self._count:
            return None
        rows = self._candidates("uid = ?", uid)
        return self._claim(rows[0]) if rows else None

    def claim_exact(self, m: Expected) -> ServerCopy | None:
        return self._take(m, "key = ? AND size = ?", m.header_key, m.size,
                          weak=not m.has_message_id)

    def claim_altered(self, m: Expected) -> ServerCopy | None:
        """Same key, another size (a Message-ID says which message it is); or the same
        Message-ID and size with other header fields: a Message-ID alone can be
        reused, so that one is always decided on content."""
        if not m.has_message_id:
            return None
        mid = getattr(m, "message_id", "")
        contested = self._contested(m, by_size=False)
        copy = self._take(m, "key = ?", m.header_key, weak=contested)
        if copy is None and mid:  # other header fields: the body is the message's only
            # where no other expected message has this Message-ID (a resent copy would)
            copy = self._take(m, "mid = ? AND size = ?", mid, m.size, weak=True,
                              body_says=not contested)
        return copy

    def match(self, expected: Iterable[Expected],
              recorded_uid: Callable[[Any], int | None] = lambda m: None,
              passes: tuple[str, ...] = PASSES) -> dict[int, Match]:
        """Match *expected* messages (anything with header_key, size, has_message_id,
        message_id): ``id(message) -> Match`` for those found. *recorded_uid(m)* is
        the UID our state trusts for *m* (same UIDVALIDITY), or None. A caller
        matching page by page runs one pass over every page before the next
        (*passes*), which keeps the rule's order."""
        expected = list(expected)
        found: dict[int, Match] = {}
        claims = {BY_UID: lambda m: self.claim_uid(recorded_uid(m)),
                  EXACT: self.claim_exact, ALTERED: self.claim_altered}
        for how in passes:
            claim = claims[how]
            for m in expected:
                if not self._count:
                    return found
                if id(m) not in found and (copy := claim(m)) is not None:
                    changed = how == ALTERED or (copy.header_key, copy.size) != (
                        m.header_key, m.size)
                    found[id(m)] = Match(copy, how, changed)
        return found

    @_guarded
    def related(self, expected: Iterable[Expected]) -> tuple[list[int], array[int]]:
        """Unclaimed copies split into (extra copies of expected messages, unrelated).

        *expected* is streamed into the database; memory holds the answer only (the
        unrelated, all of a big folder's mail when it held mail before, 4 bytes each)."""
        db = self._db
        db.executescript("""
            CREATE TEMP TABLE IF NOT EXISTS seen_key (key TEXT PRIMARY KEY) WITHOUT ROWID;
            CREATE TEMP TABLE IF NOT EXISTS seen_mid (mid TEXT PRIMARY KEY) WITHOUT ROWID;
            DELETE FROM seen_key; DELETE FROM seen_mid;
        """)
        if self._count:
            with db:
                for m in expected:
                    db.execute("INSERT OR IGNORE INTO seen_key VALUES (?)", (m.header_key,))
                    mid = getattr(m, "message_id", "")
                    if m.has_message_id and mid:
                        db.execute("INSERT OR IGNORE INTO seen_mid VALUES (?)", (mid,))
        related = ("key IN (SELECT key FROM seen_key)"
                   " OR (mid != '' AND mid IN (SELECT mid FROM seen_mid))")
        extra = [uid for uid, in db.execute(f"SELECT uid FROM copy WHERE {related} ORDER BY uid")]
        unrelated = array(UID_TYPE, (uid for uid, in db.execute(
            f"SELECT uid FROM copy WHERE NOT ({related}) ORDER BY uid")))
        return extra, unrelated


class UidSet:
    """The UIDs a server listed, sorted in an array (4 bytes a UID, whatever
    their values: a bitmap from 0 would be 500 MB for UIDs near 4 billion), and
    a bit each for whether one was claimed (vouches for a message already)."""

    def __init__(self, uids: Iterable[int] = ()):
        listed = array(UID_TYPE, uids)  # OverflowError: not an IMAP UID
        if any(a >= b for a, b in zip(listed, listed[1:])):
            listed = array(UID_TYPE, sorted(set(listed)))
        self.listed = listed
        self._claims = bytearray((len(listed) + 7) // 8)
        self.claimed = 0

    def _index(self, uid: int | None) -> int:
        if uid is None:
            return -1
        i = bisect.bisect_left(self.listed, uid)
        return i if i < len(self.listed) and self.listed[i] == uid else -1

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, int) and self._index(uid) >= 0

    def __len__(self) -> int:
        return len(self.listed)

    def claim(self, uid: int | None) -> bool:
        """Claim *uid*: False when it is not listed or was claimed before."""
        i = self._index(uid)
        if i < 0 or self._claims[i >> 3] >> (i & 7) & 1:
            return False
        self._claims[i >> 3] |= 1 << (i & 7)
        self.claimed += 1
        return True

    def unclaimed(self) -> Iterator[int]:
        """The listed UIDs not claimed, ascending."""
        claims = self._claims
        return (uid for i, uid in enumerate(self.listed) if not claims[i >> 3] >> (i & 7) & 1)


FETCH_PAGE = 20_000  # fingerprints held as objects at once while a ServerMailbox fills


def fetched_pages(target: Target, uids: Iterable[int]) -> Iterator[list[ServerCopy]]:
    """The fingerprints of *uids* in *target*'s selected mailbox, FETCH_PAGE at a
    time (a page as objects is ~10 MB; all of a big mailbox's were GBs)."""
    page = []
    for uid in uids:
        page.append(uid)
        if len(page) == FETCH_PAGE:
            yield target.fingerprints(uids=page)
            page = []
    if page:
        yield target.fingerprints(uids=page)


def fetch_copies(target: Target, uids: Iterable[int], contents: Contents | None = None
                 ) -> ServerMailbox:
    """The copies *uids* of *target*'s selected mailbox, to match (``fetched_pages``);
    weak matches read the candidates' bytes with *contents* (default: from *target*,
    its mailbox still selected)."""
    server = ServerMailbox(contents=contents or target.contents)
    for copies in fetched_pages(target, uids):
        server.add(copies)
    return server


