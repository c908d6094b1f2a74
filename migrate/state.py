"""The state database: what is uploaded, what is in flight, what failed.

One SQLite file per (account, server), WAL mode, ``synchronous=FULL``: a
commit is on disk before the next APPEND is sent. The protocol, as in mbsync's
journal:

1. ``begin_batch``: the batch's messages are recorded as *inflight* together
   with a lower bound for the UIDs the server will give them (UIDNEXT), and
   committed;
2. APPEND;
3. ``finish_batch``: the rows become *uploaded* with their UIDs.

A crash between 1 and 3 leaves inflight rows; before anything else is sent to
that mailbox, ``upload`` resolves them against the server (UIDs >= the lower
bound, matched by fingerprint). Identity is the content hash, never a path, so
a moved source does not upload again. Schema: docs/state.md.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, TypeVar, cast, overload

from migrate.errors import UsageError
from migrate.state_schema import FACT_COLUMNS, MIGRATIONS, edited_rows

INFLIGHT, UPLOADED, PRESENT, FAILED = "inflight", "uploaded", "present", "failed"
# reconcile.trusted_records' rule in SQL (bind the mailbox's UIDVALIDITY twice): a record
# holds without a UIDVALIDITY of its own, when none is known, or under the same one
_HOLDS = "(uidvalidity IS NULL OR ? IS NULL OR uidvalidity=?)"

class PlannedLike(Protocol):
    """What the journal keeps of a message (``planned.PlannedMessage``)."""

    content_hash: str
    header_key: str
    size: int
    location: str
    message_id: str
    server_uid: int | None


StateClass = TypeVar("StateClass")


def sqlite_uri(path: str | Path) -> str:
    """A read-only open's URI for *path* (absolute) on every system: ``file:///C:/x`` for
    a drive path, ``file:////server/share/x`` for a Windows share (SQLite takes
    ``file://server/...`` for a host name, and refuses any but localhost), else
    ``file:/x``; every other character quoted."""
    text = path.as_posix() if hasattr(path, "as_posix") else str(path)
    quoted = urllib.parse.quote(text, safe="/")
    if text.startswith("//"):  # \\server\share\...
        return "file://" + quoted
    if len(text) > 1 and text[1] == ":":  # C:/...: the drive's colon kept
        return "file:///" + text[:2] + urllib.parse.quote(text[2:], safe="/")
    return "file:" + quoted


def inserted(cursor: sqlite3.Cursor) -> int:
    """The rowid an INSERT gave (sqlite3 types it optional: it is set after one)."""
    rowid = cursor.lastrowid
    if rowid is None:
        raise RuntimeError("an INSERT gave no rowid (a bug)")
    return rowid


def default_state_path(host: str | None, user: str | None) -> Path:
    """Per-user data directory: %LOCALAPPDATA%, ~/Library/Application Support, XDG."""
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in f"{user}@{host}")
    return base / "mailmigrate" / f"{safe}.sqlite"


class StateUnavailable(UsageError):
    """The state database cannot be written (disk full, I/O error): a store-level stop.

    Nothing is lost: a batch is journaled before it is sent, so whatever the
    server took is found again by the next run.
    """


Method = TypeVar("Method", bound=Callable[..., Any])


def guarded_by(error: Callable[[Any, sqlite3.OperationalError], Exception]
               ) -> Callable[[Method], Method]:
    """A method decorator: SQLite's operational errors (disk full, I/O) become
    ``error(self, e)``, an error that says what to do, not a traceback."""
    def decorate(method: Method) -> Method:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.OperationalError as e:
                raise error(self, e) from None
        return cast(Method, wrapper)
    return decorate


def _unavailable(state: State, e: Exception) -> StateUnavailable:
    full = "full" in str(e) or "I/O" in str(e)
    return StateUnavailable(
        f"the state file {state.path} cannot be written ({e}); "
        + ("free space on that disk" if full else "check that disk and the file")
        + ", then run the same command again: nothing sent so far is lost or sent twice")


_guarded = guarded_by(_unavailable)


def _damaged(state: State, e: Exception) -> UsageError:
    return UsageError(
        f"the state file {state.path} is damaged ({e}); move it aside and run the same "
        "command again without it: the run then checks the server before uploading, so "
        "nothing is sent twice (docs/state.md)")


def _guard_all(cls: type[StateClass]) -> type[StateClass]:
    """Every public method turns SQLite's operational errors into StateUnavailable, and
    a damaged file ("database disk image is malformed", which SQLite finds only when it
    reads the damaged page) into a sentence with exit 2."""
    def guard(method: Callable[..., Any]) -> Callable[..., Any]:
        guarded = _guarded(method)

        @functools.wraps(method)
        def wrapper(self: State, *args: Any, **kwargs: Any) -> Any:
            try:
                return guarded(self, *args, **kwargs)
            except sqlite3.DatabaseError as e:
                if isinstance(e, (sqlite3.OperationalError, sqlite3.ProgrammingError)):
                    raise
                raise _damaged(self, e) from None
        return wrapper
    for name, value in list(vars(cls).items()):
        if callable(value) and not name.startswith("_"):
            setattr(cls, name, guard(value))
    return cls


@_guard_all
class State:
    """Open (creating if needed) the state database at *path*.

    ``readonly=True`` opens an existing database without changing it (for
    ``plan`` and ``status``).
    """

    def __init__(self, path: Path, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        try:
            self._open(readonly)
            edited = edited_rows(self.db)
        except sqlite3.DatabaseError as e:
            raise UsageError(
                f"the state file {self.path} cannot be used ({e}); it is damaged or not a "
                "mailmigrate state. Move it aside and run again: the run checks the server "
                "before uploading, so nothing is sent twice") from None
        if edited:
            self.db.close()
            raise UsageError(
                f"the state file {self.path} holds values no run writes (in "
                f"{', '.join(edited[:5])}): it was edited by hand or damaged. Move it aside "
                "and run again without it: the run then checks the server before "
                "uploading, so nothing is sent twice")

    def _open(self, readonly: bool) -> None:
        if readonly:
            uri = sqlite_uri(self.path.resolve()) + "?mode=ro"
            self.db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
            self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            if self.db.execute("PRAGMA user_version").fetchone()[0] > len(MIGRATIONS):
                raise sqlite3.DatabaseError("written by a newer mailmigrate")
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        if self.db.execute("PRAGMA user_version").fetchone()[0] > len(MIGRATIONS):
            raise sqlite3.DatabaseError("written by a newer mailmigrate")
        self._migrate()
        if os.name != "nt":
            os.chmod(self.path, 0o600)

    def bind(self, host: str, user: str) -> None:
        """Tie the state to one account; refuse one written for another account.

        A state copied from another account would call its messages uploaded
        and they would never be sent. A state from before this check (no
        account recorded) is adopted by the first run. Read-only states are
        only checked.
        """
        account = f"{user}@{host.lower().rstrip('.')}"
        row = self.db.execute("SELECT value FROM meta WHERE key='account'").fetchone()
        if row is not None and row[0] != account:
            raise UsageError(
                f"the state file {self.path} belongs to {row[0]}, not {account}; use the "
                "state of this account (or none: --state with a new file name)")
        if row is None and not self.readonly:
            with self.db:
                self.db.execute("INSERT INTO meta VALUES ('account', ?)", (account,))

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], version + 1):
            with self.db:
                self.db.execute("BEGIN")
                for statement in script.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={number}")

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def close(self) -> None:
        self.db.close()

    # -- journal -----------------------------------------------------------

    def begin_batch(self, mailbox: str, uidvalidity: int | None, uidnext: int | None,
                    messages: Iterable[PlannedLike], copied: bool = False) -> int:
        """Record *messages* (PlannedMessage) as in flight; durable on return.

        *copied*: they are placed by UID COPY from another mailbox, not APPENDed."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if uidvalidity is not None and uidnext is not None:  # see upload_floor
                self.db.execute(
                    "INSERT OR IGNORE INTO upload_floor SELECT ?, ?, ? WHERE NOT EXISTS ("
                    " SELECT 1 FROM messages WHERE mailbox=? AND status IN (?,?)"
                    " AND (uidvalidity IS NULL OR uidvalidity=?))",
                    (mailbox, uidvalidity, uidnext, mailbox, INFLIGHT, UPLOADED, uidvalidity))
            batch = inserted(self.db.execute(
                "INSERT INTO batches (mailbox, uidvalidity, uidnext, created) VALUES (?,?,?,?)",
                (mailbox, uidvalidity, uidnext, now)))
            self.db.executemany(
                "INSERT OR REPLACE INTO messages (mailbox, content_hash, header_key, size, status,"
                " batch, reason, source, updated, message_id, copied)"
                " VALUES (?,?,?,?,?,?,NULL,?,?,?,?)",
                [(mailbox, m.content_hash, m.header_key, m.size, INFLIGHT, batch, m.location, now,
                  m.message_id, 1 if copied else None) for m in messages])
        return batch

    def finish_batch(self, batch: int, uidvalidity: int | None, uids: list[int] | None) -> None:
        """Mark the batch uploaded; *uids* in APPEND order when the server said (UIDPLUS)."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            rows = self.db.execute(
                "SELECT rowid FROM messages WHERE batch=? AND status=? ORDER BY rowid",
                (batch, INFLIGHT)).fetchall()
            if uids is not None and len(uids) == len(rows):
                self.db.executemany(
                    "UPDATE messages SET status=?, uidvalidity=?, uid=?, updated=? WHERE rowid=?",
                    [(UPLOADED, uidvalidity, uid, now, r[0]) for r, uid in zip(rows, uids)])
            else:
                self.db.execute(
                    "UPDATE messages SET status=?, uidvalidity=?, updated=? "
                    "WHERE batch=? AND status=?",
                    (UPLOADED, uidvalidity, now, batch, INFLIGHT))
            self.db.execute("DELETE FROM batches WHERE id=?", (batch,))

    def abandon_batch(self, batch: int) -> None:
        """The server refused the whole batch: nothing of it was stored."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM messages WHERE batch=? AND status=?", (batch, INFLIGHT))
            self.db.execute("DELETE FROM batches WHERE id=?", (batch,))

    def record_failed(self, mailbox: str, message: PlannedLike, reason: str) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO messages (mailbox, content_hash, header_key, size, status,"
                " reason, source, updated, message_id) VALUES (?,?,?,?,?,?,?,?,?)",
                (mailbox, message.content_hash, message.header_key, message.size, FAILED,
                 reason, message.location, time.time(), message.message_id))

    def inflight_batches(self, mailbox: str) -> list[tuple[int, int | None, int | None]]:
        return self.db.execute(
            "SELECT id, uidvalidity, uidnext FROM batches WHERE mailbox=? ORDER BY id",
            (mailbox,)).fetchall()

    def batch_rows(self, batch: int) -> list["Row"]:
        """A batch's inflight rows, in the order they were sent."""
        return [Row(*r) for r in self.db.execute(
            "SELECT rowid, content_hash, header_key, size, coalesce(message_id, '') FROM messages"
            " WHERE batch=? AND status=? ORDER BY rowid", (batch, INFLIGHT))]

    def resolve_batch(self, batch: int, found: Mapping[int, int | None],
                      uidvalidity: int | None) -> None:
        """Rows in *found* (rowid -> uid) are on the server; the rest go back to pending."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "UPDATE messages SET status=?, uid=?, uidvalidity=?, updated=? WHERE rowid=?",
                [(UPLOADED, uid, uidvalidity, now, rowid) for rowid, uid in found.items()])
            self.db.execute("DELETE FROM messages WHERE batch=? AND status=?", (batch, INFLIGHT))
            self.db.execute("DELETE FROM batches WHERE id=?", (batch,))

    # -- queries -----------------------------------------------------------

    def _among(self, sql: str, args: tuple[object, ...], hashes: Iterable[str]) -> list[Any]:
        """Rows of *sql* (ending in a WHERE clause) restricted to content hashes *hashes*,
        asked 500 at a time (by the primary key)."""
        hashes, rows = list(hashes), []
        for i in range(0, len(hashes), 500):
            part = hashes[i:i + 500]
            rows += self.db.execute(f"{sql} AND content_hash IN ({', '.join('?' * len(part))})",
                                    (*args, *part)).fetchall()
        return rows

    def recorded(self, mailbox: str, hashes: Iterable[str] | None = None
                 ) -> dict[str, tuple[int | None, int | None]]:
        """content hash -> (UIDVALIDITY, UID) of what our runs put (or found) in *mailbox*:
        of those of *hashes* (a page of messages), or all when None."""
        sql = ("SELECT content_hash, uidvalidity, uid FROM messages"  # +status: by primary key
               " WHERE mailbox=? AND +status IN (?,?)")
        args = (mailbox, UPLOADED, PRESENT)
        rows = self.db.execute(sql, args) if hashes is None else self._among(sql, args, hashes)
        return {r[0]: (r[1], r[2]) for r in rows}

    def recorded_uids(self, mailbox: str, uidvalidity: int | None) -> list[int]:
        """UIDs our records name in *mailbox* that hold under *uidvalidity* (reconcile)."""
        return [r[0] for r in self.db.execute(
            "SELECT uid FROM messages WHERE mailbox=? AND status IN (?,?) AND uid IS NOT NULL"
            f" AND {_HOLDS}",
            (mailbox, UPLOADED, PRESENT, uidvalidity, uidvalidity))]

    def upload_floor(self, mailbox: str, uidvalidity: int | None) -> int | None:
        """A UID below every copy our runs ever put into *mailbox* under *uidvalidity*
        (the UIDNEXT before the first batch), or None when unknown: recorded only by a
        first batch, when no earlier upload of ours is recorded there (a state from
        before this record). UIDs only grow, so older messages cannot be ours."""
        row = self.db.execute("SELECT uidnext FROM upload_floor WHERE mailbox=? AND "
                              "uidvalidity=?", (mailbox, uidvalidity)).fetchone()
        return row[0] if row else None

    def holds_records(self) -> bool:
        """Whether any message is recorded (a re-run), in any mailbox."""
        return self.db.execute("SELECT 1 FROM messages LIMIT 1").fetchone() is not None

    def recorded_count(self, mailbox: str, uidvalidity: int | None = None) -> int:
        """How many records of *mailbox* hold under *uidvalidity* (all when None)."""
        count: int = self.db.execute(
            f"SELECT count(*) FROM messages WHERE mailbox=? AND status IN (?,?) AND {_HOLDS}",
            (mailbox, UPLOADED, PRESENT, uidvalidity, uidvalidity)).fetchone()[0]
        return count

    @overload
    def flags_unchecked(self, mailbox: str, uidvalidity: int | None) -> bool: ...

    @overload
    def flags_unchecked(self, mailbox: str, uidvalidity: int | None,
                        hashes: Iterable[str]) -> dict[str, int]: ...

    def flags_unchecked(self, mailbox: str, uidvalidity: int | None,
                        hashes: Iterable[str] | None = None) -> bool | dict[str, int]:
        """content hash -> UID of our uploads into *mailbox* whose flags were not yet
        checked on the server (of *hashes*; with None, only whether any is left)."""
        sql = ("SELECT content_hash, uid FROM messages WHERE mailbox=? AND +status=? AND "
               f"uid IS NOT NULL AND flags_checked IS NULL AND {_HOLDS}")
        args = (mailbox, UPLOADED, uidvalidity, uidvalidity)
        if hashes is None:
            return bool(self.db.execute(sql + " LIMIT 1", args).fetchone())
        return dict(self._among(sql, args, hashes))

    def mark_flags_checked(self, mailbox: str, hashes: Iterable[str]) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("UPDATE messages SET flags_checked=1 WHERE mailbox=? AND "
                                "content_hash=?", [(mailbox, h) for h in hashes])

    def uploaded_since(self, since: float) -> list[tuple[int, int]]:
        """(minute, bytes) uploaded (or in flight) into the account since *since*; copies
        made on the server sent no bytes."""
        return self.db.execute(
            "SELECT CAST(updated / 60 AS INTEGER) * 60, sum(size) FROM messages"
            " WHERE status IN (?,?) AND updated >= ? AND copied IS NULL GROUP BY 1",
            (UPLOADED, INFLIGHT, since)).fetchall()

    def uploaded_elsewhere(self, mailbox: str, hashes: Iterable[str]
                           ) -> dict[str, tuple[str, int, int]]:
        """content hash -> (mailbox, UIDVALIDITY, UID) of one of our uploads of it into a
        mailbox other than *mailbox* (of *hashes*): a copy ``UID COPY`` can place here."""
        return {h: (box, validity, uid) for h, box, validity, uid in self._among(
            "SELECT content_hash, mailbox, uidvalidity, uid FROM messages WHERE mailbox<>? AND"
            " +status=? AND uid IS NOT NULL AND uidvalidity IS NOT NULL", (mailbox, UPLOADED),
            hashes)}

    def sent_since(self, mailbox: str, hashes: Iterable[str], since: float) -> set[str]:
        """Those of *hashes* uploaded into *mailbox* at or after *since* (this run)."""
        return {r[0] for r in self._among(
            "SELECT content_hash FROM messages WHERE mailbox=? AND +status=? AND updated>=?",
            (mailbox, UPLOADED, since), hashes)}

    def refused(self, mailbox: str) -> dict[str, str]:
        """content hash -> the server's words, for messages it refused in *mailbox*."""
        return dict(self.db.execute(
            "SELECT content_hash, reason FROM messages WHERE mailbox=? AND status=?",
            (mailbox, FAILED)))

    def mark_present(self, mailbox: str, messages: Iterable[PlannedLike],
                     uidvalidity: int | None = None) -> None:
        """*messages* were found on the server (their ``server_uid`` where known)."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT OR REPLACE INTO messages (mailbox, content_hash, header_key, size, status,"
                " source, updated, uidvalidity, uid, message_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(mailbox, m.content_hash, m.header_key, m.size, PRESENT, m.location, now,
                  uidvalidity if m.server_uid else None, m.server_uid, m.message_id)
                 for m in messages])

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for mailbox, status, n in self.db.execute(
                "SELECT mailbox, status, count(*) FROM messages GROUP BY mailbox, status"):
            out.setdefault(mailbox, {})[status] = n
        return out

    def uploaded_uids(self, mailbox: str) -> list[tuple[str, int | None, int | None]]:
        return self.db.execute(
            "SELECT content_hash, uidvalidity, uid FROM messages WHERE mailbox=? AND status=?",
            (mailbox, UPLOADED)).fetchall()

    def record_plan(self, run: int, plan: Any) -> None:
        """Sources, folder mapping, and every message not to be uploaded, for ``status``."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for store in plan.stores:
                files = store.files()
                self.db.execute("INSERT OR REPLACE INTO sources VALUES (?,?,?,?,?)",
                                (str(store.path.resolve()), store.kind, len(files),
                                 sum(f.stat().st_size for f in files), now))
            self.db.execute("DELETE FROM skipped")
            for f in plan.folders:
                self.db.execute("INSERT OR REPLACE INTO folders VALUES (?,?,?,?)",
                                (str(f.store.path.resolve()), f.folder.display_name, f.target,
                                 f.mapping_note))
                self.db.executemany(
                    "INSERT INTO skipped VALUES (?,?,?,?,?)",
                    ((f.target, p.location, p.action, p.reason, run)
                     for p in f.messages.where("skip", "duplicate", "refuse", "failed")))

    def skipped_counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for mailbox, action, n in self.db.execute(
                "SELECT mailbox, action, count(*) FROM skipped GROUP BY mailbox, action"):
            out.setdefault(mailbox, {})[action] = n
        return out

    # -- the quick check (quickcheck.py) -------------------------------------

    def folder_facts(self, store: str, folder: str, signature: str
                     ) -> Iterator[tuple[Any, ...]] | None:
        """The recorded facts rows of a folder read under *signature*, or None."""
        try:
            row = self.db.execute("SELECT id, messages FROM folder_facts WHERE store=? AND "
                                  "folder=? AND signature=?", (store, folder, signature)).fetchone()
        except sqlite3.OperationalError:  # a read-only state from before version 4
            return None
        if row is None:
            return None
        fid, count = row
        if self.db.execute("SELECT count(*) FROM message_facts WHERE folder=?",
                           (fid,)).fetchone()[0] != count:
            return None
        return self._facts_pages(fid)

    def _facts_pages(self, fid: int, page: int = 2000) -> Iterator[tuple[Any, ...]]:
        after = -1
        while True:
            rows = self.facts_page(fid, after, page)
            for r in rows:
                yield r[1:]
            if len(rows) < page:
                return
            after = rows[-1][0]

    def facts_page(self, fid: int, after: int, page: int) -> list[tuple[Any, ...]]:
        """One page of a folder's facts (guarded like every public method)."""
        return self.db.execute(f"SELECT seq, {', '.join(FACT_COLUMNS)} FROM message_facts "
                               f"WHERE folder=? AND seq>? ORDER BY seq LIMIT {page}",
                               (fid, after)).fetchall()

    def begin_folder_facts(self, store: str, folder: str) -> int:
        """Start the folder's facts afresh (they count once ``finish_folder_facts`` says)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            old = self.db.execute("SELECT id FROM folder_facts WHERE store=? AND folder=?",
                                  (store, folder)).fetchone()
            if old:
                self.db.execute("DELETE FROM message_facts WHERE folder=?", (old[0],))
                self.db.execute("DELETE FROM folder_facts WHERE id=?", (old[0],))
            return inserted(self.db.execute(
                "INSERT INTO folder_facts (store, folder, signature, messages, recorded)"
                " VALUES (?,?,'',-1,?)", (store, folder, time.time())))

    def add_folder_facts(self, fid: int, first_seq: int, rows: list[tuple[Any, ...]]) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")  # one commit (one fsync) per chunk, not per row
            self.db.executemany(
                f"INSERT INTO message_facts (folder, seq, {', '.join(FACT_COLUMNS)}) "
                f"VALUES ({', '.join('?' * (len(FACT_COLUMNS) + 2))})",
                [(fid, first_seq + i, *row) for i, row in enumerate(rows)])

    def finish_folder_facts(self, fid: int, signature: str, count: int) -> None:
        with self.db:
            self.db.execute("UPDATE folder_facts SET signature=?, messages=? WHERE id=?",
                            (signature, count, fid))

    def file_hash(self, path: bytes, stat: str) -> str | None:
        """The SHA-256 recorded for *path* when its stat was *stat*."""
        row = self.db.execute("SELECT sha256 FROM file_hashes WHERE path=? AND stat=?",
                              (path, stat)).fetchone()
        return row[0] if row else None

    def record_file_hash(self, path: bytes, stat: str, sha256: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO file_hashes VALUES (?,?,?)",
                            (path, stat, sha256))

    # -- runs and backups --------------------------------------------------

    def start_run(self, command: str) -> int:
        with self.db:
            return inserted(self.db.execute("INSERT INTO runs (command, started) VALUES (?,?)",
                                            (command, time.time())))

    def end_run(self, run: int, exit_code: int, summary: dict[str, Any]) -> None:
        with self.db:
            self.db.execute("UPDATE runs SET ended=?, exit_code=?, summary=? WHERE id=?",
                            (time.time(), exit_code, json.dumps(summary, default=str), run))

    def record_backup(self, manifest_sha256: str, path: str, forced_skip: bool = False) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO backups VALUES (?,?,?,?)",
                            (manifest_sha256, path, time.time(), int(forced_skip)))


class Row:
    """An in-flight row, shaped for ``reconcile`` (header key, size, Message-ID)."""

    __slots__ = ("rowid", "content_hash", "header_key", "size", "message_id")

    def __init__(self, rowid: int, content_hash: str, header_key: str, size: int,
                 message_id: str) -> None:
        self.rowid, self.content_hash, self.header_key = rowid, content_hash, header_key
        self.size, self.message_id = size, message_id

    @property
    def has_message_id(self) -> bool:
        return bool(self.message_id)
