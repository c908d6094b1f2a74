"""Skip reading source folders that did not change since a run read them.

Like rsync's and git's quick check: a folder's *signature* is a hash over
the size, mtime, ctime, inode and device of every file (and directory) its
messages come from (``Folder.inputs``), the reader's options and this
module's version. A run records each folder's per-message facts (hashes,
size, date, flags: what ``plan.message_row`` computes) under its signature
in the state; a later plan or run whose folder has the same signature takes
the facts from there instead of reading and hashing the folder again.

Any change to a file shows: new content changes the size or the mtime, and
even a same-size rewrite with its mtime put back changes the ctime (which no
program can set). Files whose mtime is less than ``RACY_SECONDS`` old are
not trusted (their next change may fall in the same timestamp tick, as on
FAT's 2-second clock): such a folder is read again next time. The upload
itself re-hashes every message it sends, so a stale fact could never send
different bytes. ``--full-check`` reads everything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
from pathlib import Path

from migrate.errors import UsageError
from migrate.filestat import sha256_file, stat_text
from migrate.sources.base import Folder
from migrate.state_schema import FACT_COLUMNS

VERSION = 2  # bump when message_row's facts change meaning (2: mbox keys say where)
RACY_SECONDS = 2.0


def _racy(st) -> bool:
    return time.time_ns() - st.st_mtime_ns < RACY_SECONDS * 1e9


def signature(folder: Folder) -> str | None:
    """The folder's signature, or None when it cannot be trusted (unknown inputs,
    a file that vanished, a file modified moments ago)."""
    inputs = folder.inputs()
    if inputs is None:
        return None
    h = hashlib.sha256(f"{VERSION}\0{folder.store.kind}\0{folder.reader_options()!r}\0"
                       .encode("utf-8", "surrogateescape"))
    for path in sorted(inputs):
        try:
            st = os.stat(path)
        except OSError:
            return None
        if _racy(st):
            return None
        h.update(os.fsencode(path) + b"\0" + stat_text(st).encode() + b"\n")
    return h.hexdigest()


COLUMNS = FACT_COLUMNS  # a message's facts row: the state's table, the spool's too


class FactsDamaged(UsageError):
    """A facts row in the state cannot be read back (edited or damaged by hand)."""

    def __init__(self, e: Exception):
        super().__init__(f"the state's record of what a run read from the sources is damaged "
                         f"({type(e).__name__}: {e}); run the same command with --full-check "
                         "(it reads every source again and rewrites the record)")


def from_row(row, planned_message):
    """The PlannedMessage *row* was made from (built by *planned_message*, the class)."""
    try:
        return _from_row(row, planned_message)
    except (ValueError, TypeError, AttributeError) as e:  # only a hand-edited state does this
        raise FactsDamaged(e) from None


def _from_row(row, planned_message):
    (key, location, size, content_hash, header_key, body_hash, message_id, date, flags,
     keywords, skip_reason, notes, has_nul, longest) = row
    p = planned_message(key=key.decode("utf-8", "surrogateescape"), location=location,
                        size=size, content_hash=content_hash,
                        header_key=header_key, body_hash=body_hash, message_id=message_id,
                        internaldate=dt.datetime.fromisoformat(date) if date else None,
                        flags=_set(flags), keywords=_set(keywords),
                        notes=tuple(json.loads(notes)) if notes else (),
                        has_nul=bool(has_nul), longest_line=longest)
    if skip_reason:
        p.action, p.reason = "skip", skip_reason
    return p


_SETS: dict[str, frozenset] = {}
_JSON: dict[frozenset, str] = {}


def json_set(values: frozenset) -> str:
    """A flag or keyword set as its facts column: sorted JSON, made once per distinct set."""
    found = _JSON.get(values)
    if found is None:
        found = _JSON[values] = json.dumps(sorted(values))
    return found


def _set(text: str) -> frozenset:
    """Flag sets repeat endlessly: one frozenset per distinct value."""
    found = _SETS.get(text)
    if found is None:
        found = _SETS[text] = frozenset(json.loads(text))
    return found


def folder_id(folder: Folder) -> tuple[str, str]:
    """(store path, folder name) as the state keys them."""
    return (json.dumps(os.fsdecode(Path(folder.store.path).absolute())),
            json.dumps(list(folder.name)))  # ASCII: undecodable names are escaped


class Facts:
    """The quick check over a state: look a folder's facts up, record new ones.

    *write* False (``plan`` opens the state read-only) only looks up; *full*
    (``--full-check``) neither looks up nor trusts anything, but records.
    """

    def __init__(self, state, write: bool = True, full: bool = False):
        self.state, self.write, self.full = state, write, full
        self.reused: list[str] = []  # folders taken from the state (display names)

    def lookup(self, folder: Folder) -> tuple[str | None, object]:
        """(signature, the folder's facts rows (``COLUMNS``) from the state, read as
        they are consumed, or None)."""
        sig = signature(folder)
        if sig is None or self.full:
            return sig, None
        rows = self.state.folder_facts(*folder_id(folder), sig)
        if rows is None:
            return sig, None
        self.reused.append(folder.display_name)
        return sig, rows

    def recorder(self, folder: Folder, sig: str | None) -> "Recording | None":
        """Where a folder read now keeps its facts (None: not kept)."""
        if not self.write or sig is None:
            return None
        return Recording(self.state, folder, sig)


class Recording:
    """A folder's facts written to the state as they are read (memory stays flat);
    they count only once ``finish`` finds the folder unchanged since it was read."""

    def __init__(self, state, folder: Folder, sig: str):
        self.state, self.folder, self.sig = state, folder, sig
        self.fid = state.begin_folder_facts(*folder_id(folder))
        self.count = 0

    def add(self, rows: list) -> None:
        self.state.add_folder_facts(self.fid, self.count, rows)
        self.count += len(rows)

    def finish(self) -> None:
        if signature(self.folder) == self.sig:
            self.state.finish_folder_facts(self.fid, self.sig, self.count)


class FileHashes:
    """SHA-256 of source files for the backup gate, re-read only when a file changed."""

    def __init__(self, state, full: bool = False):
        self.state, self.full = state, full

    def sha256(self, path, st) -> str:
        if not self.full:
            found = self.state.file_hash(os.fsencode(Path(path).absolute()), stat_text(st))
            if found:
                return found
        digest = sha256_file(path)
        self.remember(path, st, digest)
        return digest

    def remember(self, path, st, digest: str) -> None:
        """Record *digest*, read from *path* while its stat was *st*, if it still is."""
        stat = stat_text(st)
        if not _racy(st) and stat_text(os.stat(path)) == stat:
            self.state.record_file_hash(os.fsencode(Path(path).absolute()), stat, digest)
