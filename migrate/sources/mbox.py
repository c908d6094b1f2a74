"""mbox files: mboxo, mboxrd, mboxcl/mboxcl2, LF or CRLF, Thunderbird's.

Why not ``mailbox.mbox``: it opens files ``rb+`` (and locks on ``with`` in new
Pythons), never unquotes ``>From``, ignores Content-Length, and splits on any
``From `` line. This reader opens files read-only and streams them in chunks,
so memory stays bounded by the largest single message.

Splitting rule (see docs/sources/mbox.md):

* A separator is a line starting ``From `` whose rest is empty, a single token
  (``From -``, ``From 123@xxx``), or contains a ctime-style date; and either the
  next line is a header line, or it has a date and follows a blank line (or
  starts the file). This rejects body lines such as ``From time to time`` or
  ``From Russia with love`` and accepts Netscape's files, which have no blank
  line between messages.
* A Content-Length header that lands exactly on the next separator (or the end
  of the file) wins over scanning, so mboxcl2 bodies may contain ``From `` lines.
* Quoting: one ``>`` is removed from ``^>+From `` lines (mboxrd), except in
  files written by Dovecot/UW-IMAP (mboxcl2, recognised by ``X-IMAPbase:`` or
  ``X-IMAP:`` in the first message), which do not quote at all.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO, Generator, Iterator

from migrate import headers
from migrate.errors import SourceError
from migrate.sources import flags as flagmap
from migrate.sources.base import SKIP_EMPTY, Folder, SourceMessage, Store
from migrate.sources.stream import UNQUOTE, Streamed, open_mbox
from migrate.special_use import special_use_of

CHUNK = 1 << 20
BOUNDARY_CHUNK = 64 << 10
MBOX_SUFFIXES = {".mbox", ".mbx", ".mbs"}
_BOM = b"\xef\xbb\xbf"
_HEADER_LINE = re.compile(rb"[!-9;-~]+:")
_UNQUOTE = UNQUOTE
_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*(\d+)[ \t]*\r?$")
_BLANK_LINE = re.compile(rb"\n\r?\n")
_MBOXCL2_MARKER = re.compile(rb"(?im)^x-imap(base)?:")


class NotAnMbox(SourceError):
    """The file does not start with a From_ line."""


class _Buffer:
    """A sliding window over a read-only file, addressed by absolute offsets."""

    def __init__(self, f: BinaryIO, start: int = 0, chunk: int = CHUNK):
        self.f = f
        self.chunk = chunk  # what a read asks for at least
        self.buf = bytearray()
        self.base = start
        self.eof = False
        try:
            self.size = os.fstat(f.fileno()).st_size
        except (OSError, AttributeError, ValueError):
            self.size = None  # type: ignore[assignment]  # (not a regular file)

    @property
    def end(self) -> int:
        return self.base + len(self.buf)

    def fill(self, upto: int) -> None:
        """Read until the window reaches absolute offset *upto*, or EOF."""
        while not self.eof and self.end < upto:  # a few MB a read: a big message is not
            # read whole into a second object beside the window it grows
            more = self.f.read(min(max(self.chunk, upto - self.end), 8 << 20))
            if not more:
                self.eof = True
            self.buf += more
        self._grown = self._grown or len(self.buf) > 4 * self.chunk

    def find(self, needle: bytes, pos: int) -> int:
        """Absolute offset of *needle* at or after *pos*, reading on; -1 at EOF."""
        scanned = pos
        while True:
            i = self.buf.find(needle, scanned - self.base)
            if i >= 0:
                return self.base + i
            if self.eof:
                return -1
            scanned = max(pos, self.end - len(needle) + 1)
            self.fill(self.end + self.chunk)

    def search(self, pattern: re.Pattern, pos: int, overlap: int = 4) -> re.Match | None:
        """First match of *pattern* at or after *pos* (offsets relative to ``base``)."""
        scanned = pos
        while True:
            m = pattern.search(self.buf, scanned - self.base)
            if m:
                return m
            if self.eof:
                return None
            scanned = max(pos, self.end - overlap)
            self.fill(self.end + self.chunk)

    def get(self, start: int, stop: int) -> bytes:
        if stop > self.base + len(self.buf):
            self.fill(stop)
        with memoryview(self.buf) as view:  # one copy, not two; released before any resize
            return bytes(view[start - self.base: stop - self.base])

    def discard(self, before: int) -> None:
        del self.buf[: before - self.base]
        self.base = before
        if len(self.buf) < self.chunk and self._grown:  # a big message's window: let it go
            self.buf = bytearray(self.buf)  # (a bytearray keeps its capacity when cut)
        self._grown = len(self.buf) > 4 * self.chunk

    _grown = False


def _line_at(buf: _Buffer, pos: int) -> tuple[bytes, int]:
    """Return (line without its terminator, offset after the terminator)."""
    nl = buf.find(b"\n", pos)
    if nl < 0:
        buf.fill(buf.end + 1)
        return buf.get(pos, buf.end).rstrip(b"\r"), buf.end
    return buf.get(pos, nl).rstrip(b"\r"), nl + 1


def is_envelope(rest: bytes) -> tuple[bool, bool]:
    """Judge the text after ``From ``: (could be a separator, is a strong one)."""
    if headers.has_ctime(rest):
        return True, True
    return len(rest.split()) <= 1, False


def _is_separator(buf: _Buffer, pos: int) -> bool:
    """True if the ``From `` line at *pos* starts a new message.

    The envelope must be plausible; then either the next line is a header, or
    the envelope carries a date and follows a blank line (or starts the file).
    """
    line, after = _line_at(buf, pos)
    maybe, strong = is_envelope(line[5:])
    if not maybe:
        return False
    following, _ = _line_at(buf, after)
    if _HEADER_LINE.match(following):
        return True
    return strong and (pos == 0 or _after_blank_line(buf, pos))


def _after_blank_line(buf: _Buffer, pos: int) -> bool:
    before = buf.get(pos - 3, pos) if pos >= 3 else buf.get(0, pos)
    return before.endswith(b"\n\n") or before.endswith(b"\n\r\n")


def _strip_one_eol(buf: _Buffer, stop: int, start: int) -> int:
    """Offset that drops one line terminator before *stop* (the separator's blank line)."""
    tail = buf.get(max(start, stop - 2), stop)
    if tail.endswith(b"\r\n"):
        return stop - 2
    if tail.endswith(b"\n"):
        return stop - 1
    return stop


def split_mbox(f: BinaryIO, begin: int = 0,
               stop: int | None = None) -> Iterator[tuple[int, bytes, bytes]]:
    """(offset of From_ line, From_ line, message bytes): ``mbox_spans`` without
    where the bytes are."""
    parts = mbox_spans(f, begin, stop)
    while True:
        try:
            offset, from_line, _, data = next(parts)
        except StopIteration as end:
            return end.value
        yield offset, from_line, data


def mbox_spans(f: BinaryIO, begin: int = 0, stop: int | None = None
               ) -> Generator[tuple[int, bytes, int, bytes], None, int]:
    """Yield (offset of From_ line, From_ line, offset of the message, its bytes)
    from a binary file.

    Message bytes are exactly as stored (still quoted); the blank line that
    separates messages is removed. Raises NotAnMbox if the file has content but
    does not start with a From_ line. From *begin* (a message's From_ line:
    where a split of the file starts) up to the first message that starts at
    or after *stop*: the generator then returns that message's offset (-1 at
    the end of the file). A message's end depends only on the bytes from its
    start, so a part read from a true boundary reads as the whole file does.
    """
    if begin:
        f.seek(begin)
    buf = _Buffer(f, begin)
    start = begin
    if not begin:
        buf.fill(len(_BOM) + 5)
        start = len(_BOM) if bytes(buf.buf[:3]) == _BOM else 0
        head = buf.get(start, start + 5)
        if not head.strip():
            return -1
        if head != b"From ":
            raise NotAnMbox("does not start with a 'From ' line")
    while stop is None or start < stop:
        from_line, msg_start = _line_at(buf, start)
        content_end, next_start = _find_end(buf, msg_start)
        data = buf.get(msg_start, content_end)
        # the window lets the message go before it is used: a big message is held once
        buf.discard(next_start if next_start >= 0 else buf.end)
        yield start, from_line, msg_start, data
        del data
        if next_start < 0:
            return -1
        start = next_start
    return start


def likely_boundaries(path: Path, offsets: list[int]) -> list[int]:
    """For each offset, the first strong separator after it (a blank line, then a
    From_ line with a date, then a header): where a part of the file may start.
    Only a guess: the reader of the part before confirms it (``split_mbox``).
    Read 64 KB at a time: a message is near (a megabyte each was 6% of the file
    read again, in the process every part waits for)."""
    found = []
    with open(path, "rb") as f:
        for offset in offsets:
            f.seek(offset)
            buf = _Buffer(f, offset, chunk=BOUNDARY_CHUNK)
            pos = offset + 3
            while (i := buf.find(b"\nFrom ", pos)) >= 0:
                sep = i + 1
                line, after = _line_at(buf, sep)
                if is_envelope(line[5:])[1] and _after_blank_line(buf, sep) and \
                        _HEADER_LINE.match(_line_at(buf, after)[0]):
                    found.append(sep)
                    break
                pos = sep + 1
                if pos - offset > 64 * CHUNK:
                    break  # no boundary near: this part is not split
    return sorted(set(found))


_CONTENT_LENGTH_NAME = re.compile(rb"(?i)content-length")
QUICK = True  # tests turn the quick path off to compare it with the general one


def _quick_end(buf: _Buffer, msg_start: int) -> tuple[int, int] | None:
    """``_find_end`` for the common message, or None: the same rule, on the window
    in place (no copies, a dozen calls instead of sixty: splitting was a quarter
    of the plan's time). None whenever the general path might decide otherwise:
    a Content-Length header, the window ending before the answer is certain."""
    b, base = buf.buf, buf.base
    rel = msg_start - base
    blank = headers._blank_line(b, rel)
    if blank is None:
        return None  # no blank line in the window: the general path reads on
    if _CONTENT_LENGTH_NAME.search(b, rel, blank[1]):
        return None
    pos = rel - 1
    while True:
        i = b.find(b"\nFrom ", pos)
        if i < 0:
            return None  # the end of the window or of the file: the general path
        sep = i + 1
        nl = b.find(b"\n", sep)
        nl2 = b.find(b"\n", nl + 1) if nl >= 0 else -1
        if nl2 < 0:
            return None
        if sep > rel:
            rest = buf.get(base + sep + 5, base + nl).rstrip(b"\r")
            # _is_separator's rule: a plausible envelope, then a header line, or a dated
            # envelope after a blank line; that blank line's line end is not content
            maybe, strong = is_envelope(rest)
            if maybe and (_HEADER_LINE.match(b, nl + 1, nl2)
                          or strong and b.endswith((b"\n\n", b"\n\r\n"), 0, sep)):
                end = sep - 2 if sep - 2 >= rel and b[sep - 2] == 13 else sep - 1
                return base + end, base + sep
        pos = sep


def _find_end(buf: _Buffer, msg_start: int) -> tuple[int, int]:
    """Return (end of message content, start of next From_ line or -1)."""
    if QUICK and (quick := _quick_end(buf, msg_start)) is not None:
        return quick
    by_length = _end_by_content_length(buf, msg_start)
    if by_length is not None:
        return by_length
    pos = msg_start
    while True:
        i = buf.find(b"\nFrom ", pos - 1)
        if i < 0:
            buf.fill(buf.end + 1)
            end = buf.end
            if buf.get(max(msg_start, end - 2), end).endswith(b"\n"):
                before = buf.get(max(msg_start, end - 4), end)
                if before.endswith(b"\n\n") or before.endswith(b"\n\r\n"):
                    end = _strip_one_eol(buf, end, msg_start)
            return end, -1
        sep = i + 1
        if sep > msg_start and _is_separator(buf, sep):
            return _strip_one_eol(buf, sep, msg_start), sep
        pos = sep + 1


def _end_by_content_length(buf: _Buffer, msg_start: int) -> tuple[int, int] | None:
    """Use a Content-Length header if it lands exactly on a separator or EOF."""
    blank = buf.search(_BLANK_LINE, msg_start)
    if blank is None:
        return None
    body_start = buf.base + blank.end()
    m = _CONTENT_LENGTH.search(buf.get(msg_start, body_start))
    if not m:
        return None
    end = body_start + int(m.group(1))
    if buf.size is not None and end > buf.size:
        return None
    buf.fill(end + 8)
    if end > buf.end:
        return None
    rest = buf.get(end, min(buf.end, end + 7))
    if not rest:
        return end, -1
    if rest.startswith(b"From ") and buf.get(end - 1, end) == b"\n" and _is_separator(buf, end):
        return end, end
    for eol in (b"\r\n", b"\n"):
        if rest.startswith(eol + b"From ") and _is_separator(buf, end + len(eol)):
            return end, end + len(eol)
        if rest == eol and buf.eof and buf.end == end + len(eol):
            return end, -1
    return None


def is_mboxrd(first: bytes) -> bool:
    """Unquote ``>From`` lines unless the file's first message says Dovecot/UW mboxcl2."""
    return not _MBOXCL2_MARKER.search(headers.header_block(first))


def has_quoted_from(data: bytes, tries: int = 64) -> bool:
    """``b">From " in data``, faster: a six-byte needle is searched at ~1 ns a byte,
    while most messages have only a few ``>`` (found at memchr speed) to look at."""
    i = data.find(b">")
    while i >= 0 and tries:
        if data.startswith(b"From ", i + 1):
            return True
        i = data.find(b">", i + 1)
        tries -= 1
    return i >= 0 and data.find(b">From ", i) >= 0


def mboxrd_unquoted(data: bytes) -> bytes:
    """An mboxrd message as it was before quoting: one ``>`` less on ``>+From `` lines."""
    return _UNQUOTE.sub(rb"\1", data) if has_quoted_from(data) else data


class MboxFolder(Folder):
    """One mbox file as a folder."""

    def inputs(self) -> list[Path]:
        return [self.path]

    def messages(self) -> Iterator[SourceMessage]:
        return self.messages_between(0, None, None)

    def messages_between(self, begin: int, stop: int | None, unquote: bool | None):
        """The messages that start in [*begin*, *stop*) (see ``split_mbox``), returning
        the offset of the next one; *unquote* (mboxrd) as the file's first message
        says, or None to decide here (a read from the start)."""
        with open_mbox(self.path) as f:
            parts = mbox_spans(f, begin, stop)
            while True:
                try:
                    offset, from_line, at, data = next(parts)
                except StopIteration as end:
                    return end.value
                if unquote is None:
                    unquote = is_mboxrd(data)
                key = f"@{offset}:{at}+{len(data)}"  # where its bytes are: see ``direct_reader``
                as_sent = mboxrd_unquoted(data) if unquote else data
                yield self._message(offset, key, from_line, as_sent)

    def direct_reader(self) -> "MboxAt":
        return MboxAt(self.path)

    def _message(self, offset: int, key: str, from_line: bytes, data: bytes) -> SourceMessage:
        flags, keywords, skip, notes = flagmap.from_mbox_headers(data)
        when = headers.parse_ctime(from_line[5:]) or headers.header_date(data)
        if skip is None and (not data or data.isspace()):  # = not data.strip(), no copy
            skip = SKIP_EMPTY
        return SourceMessage(
            key=key,
            location=f"{self.path} at byte {offset}",
            data=data,
            flags=flags,
            keywords=keywords,
            internaldate=when,
            skip_reason=skip,
            notes=notes,
        )


_SPAN = re.compile(r"@(\d+):(\d+)\+(\d+)\Z")


class MboxAt:
    """Read an mbox message's bytes where its key says they are, without splitting
    the file again (the upload's second read; a resumed run skips what it sent).

    ``with MboxAt(path) as read: read(key)`` gives what ``messages`` gives as
    the data of the message with that key, or None for a key it cannot
    place. The caller checks the bytes against the plan's hash: a file that
    changed since is found out there.
    """

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.f = open_mbox(self.path)
        try:
            first = next(split_mbox(self.f), None)
        except (OSError, NotAnMbox) as e:
            self.f.close()
            raise SourceError(f"cannot read mbox file {self.path}: {e}") from e
        self.unquote = first is not None and is_mboxrd(first[2])
        self.size = os.fstat(self.f.fileno()).st_size
        return self.read

    def __exit__(self, *exc) -> None:
        self.f.close()

    def stream(self, key: str, size: int, content_hash: str, location: str):
        """A ``Streamed`` for the message at *key* (its bytes read only when sent), or
        None when the file no longer reaches that far."""
        m = _SPAN.match(key)
        if not m:
            return None
        at, length = int(m.group(2)), int(m.group(3))
        if at + length > self.size:
            return None
        return Streamed(self.path, at, length, self.unquote, size, content_hash, location)

    def read(self, key: str) -> bytes | None:
        m = _SPAN.match(key)
        if not m:
            return None
        at, size = int(m.group(2)), int(m.group(3))
        if at + size > self.size:
            return None  # past the end: the file is shorter now (or the key is not ours)
        try:
            if hasattr(os, "pread"):
                data = os.pread(self.f.fileno(), size, at)
            else:  # Windows
                self.f.seek(at)
                data = self.f.read(size)
        except OSError as e:
            raise SourceError(f"cannot read mbox file {self.path}: {e.strerror}") from e
        if len(data) != size:
            return None  # the file is shorter now: the caller says it changed
        return mboxrd_unquoted(data) if self.unquote else data


class MboxStore(Store):
    """A single mbox file: one folder, mapped to INBOX.

    A file named like a special folder ("Sent.mbox", "Drafts") keeps that name,
    so it lands in the server's Sent/Drafts/... folder instead.
    """

    kind = "mbox"

    def folders(self) -> list[Folder]:
        stem = self.path.stem if self.path.suffix.lower() in MBOX_SUFFIXES else self.path.name
        name = (stem,) if special_use_of(stem) else ()
        return [MboxFolder(self, name, self.path)]


def looks_like_mbox(path: Path) -> bool:
    """True if *path* is a file that starts with a From_ line (after a BOM) or is empty."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    if head.startswith(_BOM):
        head = head[3:]
    return head.startswith(b"From ") or head == b""
