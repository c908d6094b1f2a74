"""The sources read for the plan: each message hashed into its facts row, a big mbox
file or a store's folders read by worker processes on every core, the body hashes
left out read again where a duplicate must be ruled out. Rows, not objects: they go
straight to the spool and the state. The plan's decisions are in ``plan``."""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import os
from pathlib import Path
from typing import Iterator

from migrate import fingerprint, headers, quickcheck
from migrate.errors import SourceError
from migrate.sources.base import Folder, SourceMessage, printable
from migrate.sources.mbox import MboxFolder, is_mboxrd, likely_boundaries, split_mbox
from migrate.spool import NO_BODY_HASH, PAGE, Spool
from migrate.workers import Workers, cores


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


cores_here = cores  # (tests plan as on one core by replacing it)


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
        self.window = 2 * cores_here() if cores_here() > 1 else 0

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
                self.reading[j] = self.workers.submit(plan_part, str(self.folders[j].path),
                                                      0, None, None)


def planned_rows_in_parts(folder: Folder, workers: Workers | None = None
                          ) -> Iterator[tuple] | None:
    """Facts rows of a big mbox file, planned by worker processes, or None.

    Each process reads a part of the file (one per core), so hashing and
    parsing use every core; the parts are checked to join up exactly where
    the whole file would be split, else the rest is read here.
    """
    cores = cores_here()
    if cores > 1 and isinstance(folder, MboxFolder):
        size = _mbox_size(folder)
        if size >= PARALLEL_MIN_BYTES:
            return _planned_in_parts(folder, size, cores, workers)
    return None


def plan_part(path: str, begin: int, stop: int | None, unquote: bool) -> tuple[list, int]:
    """In a worker process: the facts rows of the messages in [begin, stop), and where
    the next message starts (-1: the end of the file)."""
    rows = []
    # the file alone crosses to the worker: its store stays in the planning process
    folder = MboxFolder(None, (), Path(path))  # type: ignore[arg-type]
    reading = folder.messages_between(begin, stop, unquote)
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
                    running.append((begin, pool.submit(plan_part, str(folder.path), begin,
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
