"""A big message's bytes as sent, read from its mbox file in pieces when it is sent.

A message above ``STREAM_BYTES`` is never held whole: the APPEND's literal is
written piece by piece from the file (``IMAPTarget``), each piece unquoted
(mboxrd) and made CRLF as the whole message would be, while its SHA-256 is
taken. The command's closing CRLF is sent only when every byte was the plan's
(size and content hash): a message that changed since the plan is never
stored (the connection is dropped before the command ends, so the server
discards it) and the run stops saying so, as for any changed source.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import BinaryIO, Iterator

from migrate import headers
from migrate.errors import SourceError

UNQUOTE = re.compile(rb"(?m)^>(>*From )")  # mboxrd: one '>' less before a From_ line


def open_mbox(path: Path) -> BinaryIO:
    """*path* opened for reading only (never ``rb+``, never locked), or a SourceError."""
    try:
        return open(path, "rb")
    except OSError as e:
        raise SourceError(f"cannot open mbox file {path}: {e.strerror}") from e


STREAM_BYTES = 64 << 20  # a message this big (as sent) is streamed from its file
PIECE = 1 << 20  # read this much at a time
LONG_PIECE = 8 << 20  # a line longer than this is cut (not at a CR) and goes on: its
# start (where mboxrd quoting is) is always whole in the first piece


class Streamed:
    """Stands for a message's bytes where the engine passes them (``len`` is its size
    as sent); ``pieces`` reads them. Holds no message bytes itself."""

    def __init__(self, path: Path, at: int, length: int, unquote: bool, size: int,
                 content_hash: str, location: str):
        self.path, self.at, self.length, self.unquote = Path(path), at, length, unquote
        self.size, self.content_hash, self.location = size, content_hash, location

    def __len__(self) -> int:
        return self.size

    def __contains__(self, byte) -> bool:
        return False  # a message with NUL bytes is never streamed (a BINARY literal)

    def pieces(self) -> Iterator[bytes]:
        """The bytes as sent, a piece at a time; unchecked (``checked`` checks)."""
        left, start_of_line = self.length, True
        carry = b""
        with open_mbox(self.path) as f:
            f.seek(self.at)
            while left or carry:
                more = f.read(min(PIECE, left)) if left else b""
                if left and not more:
                    raise SourceError(f"{self.location} is shorter than when it was planned "
                                      "(the source changed); run the same command again")
                left -= len(more)
                data = carry + more
                cut = data.rfind(b"\n") + 1
                if not left:
                    cut = len(data)
                elif not cut:
                    if len(data) < LONG_PIECE:
                        carry = data
                        continue
                    cut = len(data) - (1 if data.endswith(b"\r") else 0)
                piece, carry = data[:cut], data[cut:]
                if self.unquote:
                    if start_of_line:
                        piece = UNQUOTE.sub(rb"\1", piece)
                    else:  # a long line's rest: only lines after its end may be quoted
                        nl = piece.find(b"\n") + 1
                        piece = piece[:nl] + UNQUOTE.sub(rb"\1", piece[nl:]) if nl else piece
                start_of_line = piece.endswith(b"\n")
                yield headers.to_crlf(piece)

    def checked(self) -> Iterator[bytes]:
        """``pieces``, and after the last one a SourceError unless they were exactly the
        planned bytes (size and SHA-256): the caller ends its command only after this
        generator ended normally."""
        h, n = hashlib.sha256(), 0
        for piece in self.pieces():
            n += len(piece)
            if n > self.size:
                break
            h.update(piece)
            yield piece
        if n != self.size or h.hexdigest() != self.content_hash:
            raise SourceError(f"{self.location} changed while it was being migrated; run the "
                              "same command again to re-plan")

    def read_all(self) -> bytes:
        """The whole message (tests and in-memory targets only)."""
        return b"".join(self.checked())


def stat_size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return -1
