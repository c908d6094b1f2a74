"""What a run did, counted per target mailbox, and the messages it names."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import typing

from migrate.verify import DETAIL_LIMIT

FAILED_KEPT = DETAIL_LIMIT  # refused messages named in memory, for run.json


class Named:
    """Rows naming messages (mailbox, location, reason), in the order named: the first
    *kept* in memory (run.json's list), the rest in an unnamed temporary file that
    run.csv reads back. A server that takes every message but none of its keywords
    names each one: a million tuples would have been the run's largest memory.
    Rows the disk has no room for stay in memory, as before: the run goes on."""

    SPILL = 1000  # rows written to the file at a time

    def __init__(self, kept: int | None = None):
        self.kept = FAILED_KEPT if kept is None else kept
        self.rows: list = []
        self.count = 0
        self._file: typing.IO[bytes] | None = None  # unbuffered; its first _size bytes
        # are whole rows
        self._size = 0
        self._full = False  # the disk refused a write: no more are tried
        self._held: list = []  # rows not in the file (yet)

    def append(self, row: tuple) -> None:
        self.count += 1
        if len(self.rows) < self.kept:
            self.rows.append(row)
            return
        self._held.append(row)
        if len(self._held) >= self.SPILL and not self._full:
            self._spill()

    def _spill(self) -> None:
        data = "".join(json.dumps(row) + "\n" for row in self._held).encode()
        try:
            if self._file is None:
                import tempfile  # private (0600) and already unlinked: nothing is left behind
                self._file = tempfile.TemporaryFile(buffering=0)
            self._file.seek(self._size)
            with memoryview(data) as view:
                done = 0
                while done < len(data):
                    done += self._file.write(view[done:])
        except OSError:
            self._full = True
            if self._file is not None:
                with contextlib.suppress(OSError):
                    self._file.truncate(self._size)  # no part of a row is read back
            return
        self._size += len(data)
        self._held = []

    def extend(self, rows) -> None:
        for row in rows:
            self.append(row)

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        yield from self.rows
        if self._size:
            with open(os.dup(self._file.fileno()), "rb") as f:
                f.seek(0)
                read = 0
                for line in f:
                    read += len(line)
                    if read > self._size:
                        break  # (what a refused write left past the rows)
                    yield tuple(json.loads(line))
        yield from self._held

    def __getitem__(self, part: slice) -> list:
        return self.rows[part]  # (the first *kept*: what run.json shows)


@dataclasses.dataclass
class UploadOutcome:
    """Counts per target mailbox, filled as the run goes."""

    uploaded: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    uploaded_bytes: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    failed: list = dataclasses.field(default_factory=list)  # the first FAILED_KEPT refused:
    failed_count: int = 0  # (mailbox, location, reason); all are FAILED in the plan's spool
    failed_folders: list = dataclasses.field(default_factory=list)  # (mailbox, reason)
    flags_dropped: Named = dataclasses.field(default_factory=Named)  # stored without keywords
    bare: dict = dataclasses.field(default_factory=dict)  # mailbox -> refs of those named there
    flags_repaired: int = 0  # messages whose flags the server dropped on APPEND, added back
    copied: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    resolved: int = 0  # in-flight messages found on the server after a drop or crash

    def merge(self, other: "UploadOutcome") -> None:
        self.uploaded.update(other.uploaded)
        self.uploaded_bytes.update(other.uploaded_bytes)
        self.failed.extend(other.failed[:FAILED_KEPT - len(self.failed)])
        self.failed_count += other.failed_count
        self.failed_folders.extend(other.failed_folders)
        self.flags_dropped.extend(other.flags_dropped)
        for mailbox, refs in other.bare.items():
            self.bare.setdefault(mailbox, set()).update(refs)
        self.resolved += other.resolved
        self.flags_repaired += other.flags_repaired
        self.copied.update(other.copied)

    def add_failed(self, mailbox: str, location: str, reason: str) -> None:
        """A message the server refused: counted; named here among the first FAILED_KEPT
        (run.json's list); run.csv names every one from the plan, where it is FAILED."""
        self.failed_count += 1
        if len(self.failed) < FAILED_KEPT:
            self.failed.append((mailbox, location, reason))

    def name_bare(self, mailbox: str, ref: int) -> bool:
        """True the first time the message *ref* of *mailbox* is named as stored without
        its keywords (sent so, or refused them back): it is named once."""
        refs = self.bare.setdefault(mailbox, set())
        if ref in refs:
            return False
        refs.add(ref)
        return True

    def settled(self) -> int:
        """Messages known to be on the server thanks to this run: the retry loop's progress."""
        return sum(list(self.uploaded.values())) + self.resolved  # list(): one atomic copy
