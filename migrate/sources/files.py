"""Messages stored one per file (maildir, EML folders, readpst -e/-M output)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from migrate import headers
from migrate.sources.base import SKIP_EMPTY, SKIP_UNREADABLE, SourceMessage

_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")  # obsolete syntax allows blanks before ':'
MESSAGE_SUFFIXES = {".eml"}
_FROM_LINE = re.compile(rb"From [^\r\n]*\r?\n")
PROBE = 4096


def looks_like_message(path: Path) -> bool:
    """True for .eml files, and files that start with a header line (maybe after a From_ line)."""
    if path.suffix.lower() in MESSAGE_SUFFIXES:
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(PROBE)
    except OSError:
        return True  # unreadable: let the reader report it, never drop it silently
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    m = _FROM_LINE.match(head)
    if m:
        head = head[m.end():]
    return bool(_HEADER_LINE.match(head))


def mtime(path: Path) -> dt.datetime | None:
    try:
        when = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
    except (OSError, OverflowError, ValueError):
        return None
    return when if 1971 <= when.year <= 2100 else None


def read_message_file(path: Path, key: str, strip_from_line: bool = True):
    """Read one message file: (SourceMessage, the From_ line or b"").

    An unreadable file is returned with a skip reason, never raised: one bad
    file must not stop a folder.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return SourceMessage(key=key, location=str(path), data=b"",
                             skip_reason=SKIP_UNREADABLE, notes=(e.strerror or str(e),)), b""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    from_line = b""
    if strip_from_line:
        m = _FROM_LINE.match(data)
        if m:
            from_line, data = data[: m.end()].rstrip(b"\r\n"), data[m.end():]
            if data.startswith(b">From "):
                data = data[1:]  # readpst -e quotes the first header line
    msg = SourceMessage(key=key, location=str(path), data=data)
    if not data.strip():
        msg.skip_reason = SKIP_EMPTY
    return msg, from_line


def best_date(data: bytes, from_line: bytes, path: Path) -> dt.datetime | None:
    """From_ line date, then topmost Received/Date, then the file's mtime."""
    return (headers.parse_ctime(from_line[5:]) if from_line else None) or \
        headers.header_date(data) or mtime(path)
