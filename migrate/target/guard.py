"""Limits on what a server may make the client read: the one place that wraps
imaplib's reading (``IMAP4.read``/``readline``) of a connection.

Lines are read here up to LINE_LIMIT, per connection: imaplib's own limit (1 MB, a
global) stopped a UID SEARCH answer of 140,000 messages or more, and changing the
global changed it for every imaplib user in the process.

imaplib reads a literal of whatever size the server announces into memory
(``{99999999999}`` was a MemoryError) and times out only between reads (a
server sending a line every 0.2 s kept ``plan`` waiting for ever). Here a
literal above *max_literal* is refused, and an answer still incomplete after
*timeout* seconds that arrives slower than ``MIN_RATE`` is given up: both are
``BadServerAnswer`` (exit 3, a sentence).
"""

from __future__ import annotations

import time
from typing import Any

from migrate.errors import BadServerAnswer

MIN_RATE = 1024  # bytes a second: an answer slower than this past the timeout is a hang
LITERAL_FLOOR = 1 << 30  # the largest literal read when the server states no message limit
# A UID SEARCH answer is one line: 64 MB holds the UIDs of about six million messages
# (the million-message benchmark's mailbox was cut at 1 MB by imaplib's own limit)
LINE_LIMIT = 64 * 1024 * 1024
RECV_BYTES = 64 * 1024


class ReadGuard:
    """Installed on one imaplib connection (``install``)."""

    def __init__(self, imap: Any, address: str, timeout: float, max_literal: int = LITERAL_FLOOR,
                 line_limit: int = LINE_LIMIT):
        self.imap, self.address, self.timeout = imap, address, timeout
        self.max_literal, self.line_limit = max_literal, line_limit
        self.started = time.monotonic()
        self.got = 0
        self._read, self._send = imap.read, imap.send
        imap.read, imap.readline, imap.send = self.read, self.readline, self.send

    def limit_messages_to(self, largest: int | None) -> None:
        """The server's own message limit (APPENDLIMIT) widens the bound, never narrows
        it below LITERAL_FLOOR (older mail on the server may be larger)."""
        self.max_literal = max(LITERAL_FLOOR, 2 * (largest or 0))

    def send(self, data: bytes) -> Any:
        self.started, self.got = time.monotonic(), 0  # a new command: a new deadline
        return self._send(data)

    def read(self, size: int) -> bytes:
        if size > self.max_literal:
            raise BadServerAnswer(
                f"{self.address} announced a literal of {size:,} bytes, more than any message "
                f"it could hold (mailmigrate reads up to {self.max_literal:,}); the server is "
                "broken or not an IMAP server: ask its administrator. Nothing was lost")
        data: bytes = self._read(size)
        self._check(len(data))
        return data

    def readline(self) -> bytes:
        """imaplib's ``readline`` with this connection's own line limit."""
        if hasattr(self.imap, "_readbuf"):  # Python 3.14+: imaplib buffers reads itself
            line = buffered_line(self.imap, self.line_limit)
        else:
            line = self.imap.file.readline(self.line_limit + 1)
        if len(line) > self.line_limit:
            raise self.imap.error(f"got more than {self.line_limit} bytes")
        self._check(len(line))
        return line

    def _check(self, n: int) -> None:
        self.got += n
        elapsed = time.monotonic() - self.started
        if elapsed > self.timeout and self.got < MIN_RATE * elapsed:
            raise BadServerAnswer(
                f"{self.address} sent its answer too slowly ({self.got:,} bytes in "
                f"{elapsed:.0f} s, past --timeout {self.timeout:g} s); the server or the link "
                "is not working: try again later, or ask the server's administrator. Nothing "
                "was lost")


def buffered_line(imap: Any, limit: int) -> bytes:
    """One line (up to *limit* + 1 bytes) from an imaplib that keeps its own read buffer
    (Python 3.14: ``_readbuf``, a list of received chunks its ``read`` takes in order);
    what follows the line stays at the buffer's front for the next read."""
    parts: list[bytes] = []
    length = 0
    while length <= limit:
        if imap._readbuf:
            buf = imap._readbuf.pop(0)
        else:
            try:
                buf = imap.sock.recv(RECV_BYTES)
            except ConnectionError:
                break
            if not buf:
                break
        end = buf.find(b"\n") + 1
        if end:
            parts.append(buf[:end])
            if end < len(buf):
                imap._readbuf.insert(0, buf[end:])
            break
        parts.append(buf)
        length += len(buf)
    return b"".join(parts)


def uid_number(value: bytes, what: str, address: str) -> int:
    """A UID or UIDVALIDITY from an answer: a non-zero 32-bit number (RFC 3501 nz-number
    as RFC 4315 and 9051 bound it), else ``BadServerAnswer``."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if not 0 < number < 1 << 32:
        raise BadServerAnswer(f"{address} gave {what} {str(value)[:40]!r}, which IMAP does not "
                              "allow (a 32-bit number); the server's index is damaged or it "
                              "is not behaving as IMAP: ask its administrator. What was sent "
                              "is found again by the next run")
    return number
