"""The read guard's own line limit, per connection (no server): imaplib's global limit is
left alone, and on an imaplib that buffers its own reads (Python 3.14) the bytes after a
line stay for the next read."""

from __future__ import annotations

import imaplib

import pytest

from migrate.target import guard
from migrate.target.guard import ReadGuard


class Socket:
    def __init__(self, chunks):
        self.chunks = list(chunks)

    def recv(self, size):
        return self.chunks.pop(0) if self.chunks else b""


class BufferingIMAP:
    """The shape of Python 3.14's imaplib connection: ``_readbuf`` holds received chunks
    in order, ``read`` takes from it first (then the socket)."""

    error = imaplib.IMAP4.error

    def __init__(self, chunks):
        self.sock = Socket(chunks)
        self._readbuf: list[bytes] = []

    def read(self, size):
        out = b""
        while len(out) < size:
            buf = self._readbuf.pop(0) if self._readbuf else self.sock.recv(size)
            if not buf:
                break
            need = size - len(out)
            out += buf[:need]
            if len(buf) > need:
                self._readbuf.insert(0, buf[need:])
        return out

    def readline(self):  # replaced by the guard
        raise AssertionError("imaplib's own readline was called")

    def send(self, data):
        pass


def test_a_line_across_chunks_and_the_rest_left_for_the_next_read():
    imap = BufferingIMAP([b"* SEARCH 1 2", b" 3\r\n{5}", b"\r\nhello tail"])
    reader = ReadGuard(imap, "test", timeout=60)
    assert imap.readline() == b"* SEARCH 1 2 3\r\n"
    assert imap.readline() == b"{5}\r\n"
    assert reader.read(5) == b"hello"
    assert imap.readline() == b" tail"  # the connection ended: what there was


def test_a_line_over_the_limit_is_refused_and_imaplib_is_untouched():
    before = imaplib._MAXLINE
    imap = BufferingIMAP([b"* SEARCH" + b" 1" * 600, b"\r\n"])
    ReadGuard(imap, "test", timeout=60, line_limit=1000)
    with pytest.raises(imaplib.IMAP4.error, match="got more than 1000 bytes"):
        imap.readline()
    assert imaplib._MAXLINE == before  # no process-wide change


def test_a_long_line_within_this_connections_limit_is_read_whole():
    line = b"* SEARCH" + b" 4294967295" * 200_000 + b"\r\n"  # 2.2 MB: over imaplib's 1 MB
    chunks = [line[i:i + 65536] for i in range(0, len(line), 65536)]
    imap = BufferingIMAP(chunks)
    ReadGuard(imap, "test", timeout=60)
    assert imap.readline() == line
    assert guard.LINE_LIMIT > len(line) > imaplib._MAXLINE


def test_the_pop_reader_leaves_poplib_as_it_found_it():
    """POP lines longer than poplib's 2 KB are read by our connection class alone (the
    real-server test sends 9,000-byte lines); poplib's own limit stays for everyone."""
    import poplib

    from migrate.sources import pop3
    assert poplib._MAXLINE == 2048
    assert pop3.LINE_LIMIT > 2048 and issubclass(pop3._POP3_SSL, poplib.POP3_SSL)
