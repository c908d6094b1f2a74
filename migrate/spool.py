"""The plan's per-message records on disk, so memory does not grow with the mailbox.

A plan of a million messages held as Python objects needs well over a
gigabyte; here each folder's planned messages are rows of a private SQLite
file (``Spool``) and :class:`Messages` reads them back a page at a time.
Objects read from it are fresh each time: a change is kept by
``PlannedMessage.save()``. Counts and sums are SQL, never a Python pass.

The file is scratch (no journal, no fsync): it is rebuilt by every command
and deleted when the command ends; a killed command's file is removed by the
next one started in the same directory.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import re
import sqlite3
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Iterator

from migrate import quickcheck
from migrate.errors import UsageError
from migrate.planned import PlannedMessage
from migrate.state import guarded_by

PAGE = 2000
EVERY = (0, float("inf"))  # a range of refs [first, past the last): all messages
_NO_REF = 2 ** 62  # beyond every ref SQLite gives (EVERY's end, as an integer)
DEDUP_BY = ("header_key", "body_hash")  # one message, whatever else differs (fingerprint.md)
NO_BODY_HASH = ""  # left out by the plan's first reading; computed where a twin needs it
_DECISIONS = ("action", "reason", "server_uid")
_NAME = re.compile(r"mailmigrate-plan-(\d+)-\w+\.sqlite$")


class SpoolUnavailable(UsageError):
    """The plan's work file cannot be written (disk full, I/O error): a store-level stop."""


_guarded = guarded_by(lambda spool, e: SpoolUnavailable(
    f"the plan's work file {spool.path} cannot be written ({e}); free space on that disk (it "
    "is beside the state file, or in the temporary directory), then run the same command "
    "again: nothing sent so far is lost or sent twice"))


_BY_HASH = "CREATE INDEX m_hash ON m (content_hash, id) WHERE action='upload'"


def _uploaded_elsewhere(also: str = "") -> str:
    """SQL: an upload whose bytes an upload planned earlier for another mailbox carries
    (and *also*, a condition on that one, ``f``)."""
    return ("action='upload' AND EXISTS (SELECT 1 FROM m f WHERE f.content_hash="
            f"m.content_hash AND f.action='upload' AND f.id<m.id AND f.scope<>m.scope{also})")


class Spool:
    """A private SQLite file of planned messages (``directory``: beside the state)."""

    def __init__(self, directory: Path | None = None):
        try:
            self._open(directory)
        except (OSError, sqlite3.OperationalError) as e:
            raise SpoolUnavailable(
                f"the plan's work file cannot be made in {directory or tempfile.gettempdir()} "
                f"({e}); free space there (or choose --state elsewhere), then run the same "
                "command again") from None

    def _open(self, directory: Path | None) -> None:
        if directory is not None:
            Path(directory).mkdir(parents=True, exist_ok=True)
        _remove_stale(Path(directory or tempfile.gettempdir()))
        fd, name = tempfile.mkstemp(prefix=f"mailmigrate-plan-{os.getpid()}-", suffix=".sqlite",
                                    dir=directory)
        os.close(fd)
        self.path, self.owner = Path(name), os.getpid()
        self.lock = threading.RLock()
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-8000",
                       "temp_store=FILE"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.execute(f"""CREATE TABLE m (id INTEGER PRIMARY KEY, folder INTEGER NOT NULL,
            {', '.join(quickcheck.COLUMNS)}, action TEXT, reason TEXT, server_uid INTEGER,
            scope INTEGER, dkey INTEGER)""")
        self.db.execute("BEGIN")  # one long transaction: scratch data, no commit needed
        self._finalizer = weakref.finalize(self, _delete, self.db, self.path, self.owner)
        self._insert = (f"INSERT INTO m (folder, {', '.join(quickcheck.COLUMNS)}, action, reason,"
                        f" scope, dkey) VALUES ({', '.join('?' * (len(quickcheck.COLUMNS) + 5))})")
        self._columns = ", ".join(("id",) + quickcheck.COLUMNS + _DECISIONS)
        self._folders = 0

    def close(self) -> None:
        """Delete the file (also when the spool is no longer referenced, and at exit)."""
        with self.lock:
            self._finalizer()

    def folder(self) -> "Messages":
        self._folders += 1
        return Messages(self, self._folders)

    # -- used by Messages ------------------------------------------------------

    @_guarded
    def add(self, folder: int, rows: list) -> tuple[int, int]:
        """Insert *rows*; the refs they got lie in the returned range (inclusive)."""
        with self.lock:
            before = self.db.execute("SELECT coalesce(max(id), 0) FROM m").fetchone()[0]
            self.db.executemany(self._insert, rows)
            return before + 1, self.db.execute("SELECT coalesce(max(id), 0) FROM m").fetchone()[0]

    @_guarded
    def page(self, columns: str, folder: int, after: int, before: int, actions: tuple) -> list:
        """The next page of *columns* (the first is the ref) of *folder*'s messages with
        refs in (*after*, *before*) and one of *actions* (any when empty)."""
        where = f" AND action IN ({', '.join('?' * len(actions))})" if actions else ""
        with self.lock:
            return self.db.execute(
                f"SELECT {columns} FROM m WHERE folder=? AND id>? AND id<?{where} ORDER BY id "
                f"LIMIT {PAGE}", (folder, after, before, *actions)).fetchall()

    @_guarded
    def save(self, p) -> None:
        with self.lock:
            self.db.execute("UPDATE m SET action=?, reason=?, server_uid=? WHERE id=?",
                            (p.action, p.reason, p.server_uid, p.ref))

    @_guarded
    def set_action(self, refs: list[int], action: str, reason: str | None = None) -> None:
        with self.lock:
            self.db.executemany("UPDATE m SET action=?, reason=? WHERE id=?",
                                [(action, reason, ref) for ref in refs])

    @_guarded
    def query(self, sql: str, args=()) -> list:
        with self.lock:
            return self.db.execute(sql, args).fetchall()

    @_guarded
    def mark_duplicates(self, hash_bodies=None) -> None:
        """Within a dedup scope (a target mailbox, or all with --dedup-across-folders),
        every upload after the first with the same header key and body hash is a
        duplicate of the first (docs/fingerprint.md). The same bytes give the same
        header key and body hash, so this also covers "same content hash".

        *hash_bodies* is called first (``plan.hash_left_out_bodies``): it must give a
        body hash (``set_body_hashes``) to every upload whose hash was left out and
        that shares its header key with another upload of its scope
        (``bodies_wanted``); a hash still left out never matches."""
        same = " AND ".join(["f.dkey=m.dkey", "f.action='upload'", "f.scope=m.scope"]
                            + [f"f.{c}=m.{c}" for c in DEDUP_BY])
        with self.lock:
            # by scope too: the same header key in many mailboxes (a message filed in
            # each) is no twin, and must not be compared across them (quadratic)
            self.db.execute("CREATE INDEX m_dkey ON m (dkey, scope, id) WHERE action='upload'")
            # the uploads with a twin (another of their scope with their header key): only
            # these can be duplicates, and nearly every header key is unique
            self.db.execute("DROP TABLE IF EXISTS temp.twin")
            self.db.execute("CREATE TEMP TABLE twin (id INTEGER PRIMARY KEY)")
            self.db.execute("""
                INSERT INTO twin SELECT m.id FROM (SELECT dkey, scope FROM m
                    WHERE action='upload' GROUP BY dkey, scope HAVING count(*) > 1) d
                    JOIN m ON m.dkey=d.dkey AND m.scope=d.scope
                WHERE m.action='upload' AND EXISTS (SELECT 1 FROM m f WHERE f.dkey=m.dkey
                    AND f.action='upload' AND f.scope=m.scope AND f.header_key=m.header_key
                    AND f.id<>m.id)""")
            if hash_bodies is not None:
                hash_bodies(self)
            self.db.execute(f"""
                UPDATE m SET action='duplicate', reason='same message as ' || (
                    SELECT f.location FROM m f WHERE {same} ORDER BY f.id LIMIT 1)
                WHERE id IN (SELECT id FROM twin) AND action='upload'
                    AND body_hash<>'{NO_BODY_HASH}'
                    AND EXISTS (SELECT 1 FROM m f WHERE {same} AND f.id<m.id)""")
            self.db.execute("DROP INDEX m_dkey")
            self.db.execute("DROP TABLE temp.twin")

    def bodies_wanted(self) -> Iterator[tuple[int, int, bytes, str]]:
        """(ref, folder, key, content hash) of each upload whose body hash was left out
        and that has a twin (``mark_duplicates``, which calls the function that asks):
        the body decides whether one is a duplicate. In ref order (each folder's in
        store order), a page at a time: ``set_body_hashes`` may run in between."""
        after = 0
        while True:
            page = self.query(
                "SELECT m.id, m.folder, m.key, m.content_hash FROM twin JOIN m ON m.id=twin.id "
                f"WHERE twin.id>? AND m.body_hash='{NO_BODY_HASH}' ORDER BY twin.id "
                f"LIMIT {PAGE}", (after,))
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1][0]

    @_guarded
    def set_body_hashes(self, rows: list[tuple[str, int]]) -> None:
        """(body hash, ref) for each of *rows*."""
        with self.lock:
            self.db.executemany("UPDATE m SET body_hash=? WHERE id=?", rows)


    @_guarded
    def hold_copies(self) -> set[int]:
        """Mark ``copy`` every upload whose bytes an earlier upload for another mailbox
        carries (the engine places it by UID COPY once that one is on the server);
        the folders holding such. ``release_copies`` undoes it."""
        with self.lock:
            self.db.execute(_BY_HASH)
            self.db.execute(f"UPDATE m SET action='copy' WHERE {_uploaded_elsewhere()}")
            self.db.execute("DROP INDEX m_hash")
            return {r[0] for r in self.db.execute("SELECT DISTINCT folder FROM m WHERE "
                                                  "action='copy'")}

    @_guarded
    def copies(self) -> tuple[int, int]:
        """(messages, bytes) the server will copy instead of receiving them again: their
        bytes, date, flags and keywords are planned for an earlier other mailbox too
        (the run's rule, ``upload.copy_once.carries_the_same``, also copies where only system
        flags differ the right way: so this is the least it copies)."""
        with self.lock:
            self.db.execute(_BY_HASH)
            found = self.db.execute(
                "SELECT count(*), coalesce(sum(size), 0) FROM m WHERE "
                + _uploaded_elsewhere(" AND f.internaldate IS m.internaldate AND f.flags IS "
                                      "m.flags AND f.keywords IS m.keywords")).fetchone()
            self.db.execute("DROP INDEX m_hash")
            return found

    @_guarded
    def release_copies(self) -> None:
        with self.lock:
            self.db.execute("UPDATE m SET action='upload' WHERE action='copy'")


class Messages:
    """One folder's planned messages, read from the spool a page at a time."""

    def __init__(self, spool: Spool, folder: int):
        self.spool, self.folder = spool, folder
        self._len = 0
        # every ref of this folder lies in [lo, hi]: its queries read that range of the
        # table, not the whole table (a profile of 500 folders asked ~9 questions of
        # each, and each read every message of every folder)
        self.lo, self.hi = _NO_REF, 0
        self._tallied: tuple[int, list] | None = None  # (spool changes then, _tally())

    def append_rows(self, rows: list) -> None:
        if not rows:
            return
        lo, hi = self.spool.add(self.folder, rows)
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)
        self._len += len(rows)

    def _query(self, sql: str, args: tuple = ()) -> list:
        """*sql* with ``{mine}`` standing for this folder's rows (our own integers)."""
        return self.spool.query(sql.replace(
            "{mine}", f"folder={self.folder} AND id BETWEEN {self.lo} AND {self.hi}"), args)

    def __len__(self) -> int:
        return self._len

    def rescope(self, scope: int) -> None:
        """Dedup these messages within *scope* (their target is another folder's too)."""
        self._query("UPDATE m SET scope=? WHERE {mine}", (scope,))

    def __bool__(self) -> bool:
        return self._len > 0

    def __iter__(self) -> Iterator:
        return self.where()

    def where(self, *actions: str, part: tuple = EVERY) -> Iterator:
        """The messages (with one of *actions*, if given; refs in *part*), in source order."""
        for rows in self._pages(self.spool._columns, actions, part):
            for row in rows:
                yield self._message(row, PlannedMessage)

    def light(self, *actions: str, part: tuple = EVERY) -> Iterator[list]:
        """Pages of (ref, content hash, action) of the messages with *actions*: for
        passes that need no more, so no message object is made."""
        return self._pages("id, content_hash, action", actions, part)

    def _pages(self, columns: str, actions: tuple, part: tuple) -> Iterator[list]:
        """Keyset pages by ref: a page's messages may be saved before the next is read."""
        after, before = max(part[0], self.lo) - 1, min(part[1], _NO_REF, self.hi + 1)
        while True:
            rows = self.spool.page(columns, self.folder, after, before, actions)
            if rows:
                yield rows
            if len(rows) < PAGE:
                return
            after = rows[-1][0]

    def save(self, p) -> None:
        self.spool.save(p)

    def get(self, refs: list[int]) -> list:
        """The messages *refs* (in ref order), as objects."""
        out = []
        for i in range(0, len(refs), 500):
            part = refs[i:i + 500]
            for row in self.spool.query(
                    f"SELECT {self.spool._columns} FROM m WHERE id IN "
                    f"({', '.join('?' * len(part))}) ORDER BY id", part):
                out.append(self._message(row, PlannedMessage))
        return out

    def _message(self, row, planned_message):
        p = quickcheck.from_row(row[1:1 + len(quickcheck.COLUMNS)], planned_message)
        p.action, p.reason, p.server_uid = row[-3:]
        p.ref, p.home = row[0], self
        return p

    # -- aggregates (SQL) --------------------------------------------------------

    def _tally(self) -> list[tuple]:
        """(action, reason, year, messages, bytes) of this folder's messages: one scan
        answers counts, reasons, bytes, reasons per action and years (a report asks
        all of them, each a pass over a million rows), kept until any row of the
        spool is written (SQLite's ``total_changes`` of its one connection)."""
        with self.spool.lock:
            changes = self.spool.db.total_changes
            if self._tallied is None or self._tallied[0] != changes:
                self._tallied = (changes, self._query(
                    "SELECT action, reason, coalesce(substr(internaldate, 1, 4), 'unknown'), "
                    "count(*), coalesce(sum(size), 0) FROM m WHERE {mine} GROUP BY 1, 2, 3"))
            return self._tallied[1]

    def counts(self) -> collections.Counter:
        out: collections.Counter = collections.Counter()
        for action, _, _, n, _ in self._tally():
            out[action] += n
        return out

    def reasons(self) -> collections.Counter:
        out: collections.Counter = collections.Counter()
        for _, reason, _, n, _ in self._tally():
            if reason:
                out[reason] += n
        return out

    def bytes_for(self, action: str | None = None) -> int:
        return sum(size for act, _, _, _, size in self._tally() if not action or act == action)

    def date_range(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """Oldest and newest INTERNALDATE (compared as instants, whatever their zones)."""
        ends = []
        for order in ("", "DESC"):  # the first such message in source order, as min() gives
            row = self._query(
                "SELECT internaldate FROM m WHERE {mine} AND internaldate IS NOT NULL "
                f"ORDER BY julianday(internaldate) {order}, id LIMIT 1")
            ends.append(dt.datetime.fromisoformat(row[0][0]) if row else None)
        return ends[0], ends[1]

    def noted(self) -> collections.Counter:
        """Note (``SourceMessage.notes``) -> messages that carry it."""
        out: collections.Counter = collections.Counter()
        for notes, n in self._query("SELECT notes, count(*) FROM m WHERE {mine} AND notes IS "
                                    "NOT NULL GROUP BY 1"):
            try:
                found = json.loads(notes)
                if not isinstance(found, list):
                    raise ValueError(f"notes {notes[:40]!r} are not a list")
            except ValueError as e:  # only a hand-edited state's facts row does this
                raise quickcheck.FactsDamaged(e) from None
            for note in map(str, found):
                out[note] += n
        return out

    def by_reason(self) -> collections.Counter:
        """(action, reason) -> messages."""
        out: collections.Counter = collections.Counter()
        for action, reason, _, n, _ in self._tally():
            out[(action, reason)] += n
        return out

    def years(self) -> collections.Counter:
        out: collections.Counter = collections.Counter()
        for _, _, year, n, _ in self._tally():
            out[year] += n
        return out


def _delete(db, path: Path, owner: int) -> None:
    if os.getpid() != owner:
        return  # a worker process forked from the command: the file is not its own
    db.close()
    path.unlink(missing_ok=True)


def _remove_stale(directory: Path) -> None:
    """Spool files of commands that no longer run (killed): they are scratch."""
    for path in directory.glob("mailmigrate-plan-*.sqlite"):
        m = _NAME.search(path.name)
        if m and not _alive(int(m.group(1))):
            try:
                path.unlink(missing_ok=True)
            except OSError:
                pass  # another user's, in a shared temporary directory: theirs to remove


def _alive(pid: int) -> bool:
    from migrate.workers import is_alive  # never os.kill(pid, 0) on Windows: Ctrl-C
    return is_alive(pid)
