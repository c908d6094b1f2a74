"""Message identity: what makes two copies "the same message".

Two keys, computed the same way from a source message and from a server copy:

* ``content_hash``: SHA-256 of the exact bytes sent (CRLF line endings). Byte
  identity; used to tie state rows to messages.
* ``header_key``: SHA-256 over the normalised Message-ID, Date, From and
  Subject. It survives changes a store or server makes outside those fields
  (Status/X-Mozilla-* headers, a server adding Received lines), so a message
  exported twice, or uploaded before by another client, is recognised. A
  message with none of those four fields gets its size mixed in (known on both
  sides: RFC822.SIZE on the server), so header-less messages rarely collide.

The full rule, and why, is in docs/fingerprint.md. Two copies are treated as
duplicates only when ``header_key`` matches *and* the bodies agree (same body
hash in the sources; same size, or a Message-ID, on the server).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Literal

from migrate import headers

FINGERPRINT_FIELDS = ("message-id", "date", "from", "subject")
IMAP_HEADER_FIELDS = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE FROM SUBJECT)]"
_SPACE = re.compile(rb"\s+")
_ANGLE = re.compile(rb"<([^<>]*)>")


def content_hash(crlf_data: bytes) -> str:
    return hashlib.sha256(crlf_data).hexdigest()


def body_hash(crlf_data: bytes, blank: tuple[int, int] | None | Literal[False] = False) -> str:
    """Hash of the body only, trailing blank lines ignored (hashed in place: no copy).
    *blank*: ``headers._blank_line(crlf_data)`` when the caller has it already."""
    found = headers._blank_line(crlf_data) if blank is False else blank
    if not found:
        return hashlib.sha256(b"").hexdigest()
    start, end = found[1], len(crlf_data)
    while end > start and crlf_data[end - 1] in (10, 13):
        end -= 1
    with memoryview(crlf_data) as view:
        return hashlib.sha256(view[start:end]).hexdigest()


def hashes_of(crlf_data: bytes) -> tuple[str, str]:
    """(content hash, body hash) of a message as a server gives it (CRLF)."""
    return content_hash(crlf_data), body_hash(crlf_data)


def normalise_message_id(value: bytes | None) -> bytes:
    if not value:
        return b""
    m = _ANGLE.search(value)
    ident = m.group(1) if m else value
    return b"".join(ident.split()).lower()  # split() is \s for bytes: no regex per message


def _normalise_date(value: bytes | None) -> bytes:
    if not value:
        return b""
    when = headers.parse_rfc_date(value)
    if when is not None:
        return str(int(when.astimezone(dt.timezone.utc).timestamp())).encode()
    return _SPACE.sub(b" ", value.strip())


def _normalise_text(value: bytes | None) -> bytes:
    return b" ".join(value.split()) if value else b""  # = \s+ -> " " after strip()


def fingerprint_fields(block: bytes, end: int | None = None) -> dict[str, bytes]:
    """The first value of each fingerprint field in a header block (or in the first
    *end* bytes of a message: its header section, read in place)."""
    found: dict[str, bytes] = {}
    for name, value in headers.iter_headers(block, _FIELDS, end):
        if name not in found:
            found[name] = value
    return found


_FIELDS = frozenset(FINGERPRINT_FIELDS)


_WANTED = {name.encode(): name for name in FINGERPRINT_FIELDS}


def answer_fingerprint_fields(block: bytes) -> dict[str, bytes]:
    """``fingerprint_fields`` of a header block a server sent: IMAP's line ends are
    CRLF, so the CRLF reader (~10 against ~14 microseconds a block here) reads it
    unless some CR or LF stands alone (a broken server or message): then the general
    one does."""
    crlf = block.count(b"\r\n")
    if block.count(b"\r") == crlf == block.count(b"\n"):
        return crlf_fingerprint_fields(block)
    return fingerprint_fields(block)


def crlf_fingerprint_fields(block: bytes, end: int | None = None) -> dict[str, bytes]:
    """``fingerprint_fields`` of a header block whose only line ends are CRLF (what
    ``to_crlf`` makes), or of the first *end* bytes of such a message: read in place
    (no copy of the block or of a header not wanted: one of gigabytes costs a scan),
    without decoding every header name, and it stops once all four fields are found
    (it runs on every message the plan reads)."""
    end = len(block) if end is None else end
    if end <= headers.SMALL_BLOCK:  # nearly every message: split a copy, fast
        return _small_crlf_fields(block[:end] if end < len(block) else block)
    found: dict[str, bytes] = {}
    name = None  # the wanted field being read
    spans: list[tuple[int, int]] = []
    current = False  # some header is being read: indented lines continue it
    pos = 0
    while pos <= end:
        stop = block.find(b"\r\n", pos, end)
        if stop < 0:
            stop = end
        if current and block[pos:pos + 1] in (b" ", b"\t"):
            if name is not None:
                spans.append((pos, stop))
            pos = stop + 2
            continue
        if name is not None:
            found[name] = b" ".join(block[a:b].strip() for a, b in spans)
            name = None
            if len(found) == len(_WANTED):
                return found
        colon = block.find(b":", pos, min(stop, pos + headers.NAME_MOST))
        key = block[pos:colon].strip().lower() if colon > pos else b" "
        current = b" " not in key
        wanted = _WANTED.get(key)
        if wanted is not None and wanted not in found:
            name, spans = wanted, [(colon + 1, stop)]
        pos = stop + 2
    if name is not None:
        found[name] = b" ".join(block[a:b].strip() for a, b in spans)
    return found


def _small_crlf_fields(block: bytes) -> dict[str, bytes]:
    """``crlf_fingerprint_fields`` of a small block, split into lines."""
    found: dict[str, bytes] = {}
    name = None  # the wanted field being read
    value: list[bytes] = []
    current = False  # some header is being read: indented lines continue it
    for line in block.split(b"\r\n"):
        if current and line[:1] in (b" ", b"\t"):
            if name is not None:
                value.append(line)
            continue
        if name is not None:
            found[name] = b" ".join(v.strip() for v in value)
            name = None
            if len(found) == len(_WANTED):
                return found
        colon = line.find(b":", 0, headers.NAME_MOST)
        key = line[:colon].strip().lower() if colon > 0 else b" "
        current = b" " not in key
        wanted = _WANTED.get(key)
        if wanted is not None and wanted not in found:
            name, value = wanted, [line[colon + 1:]]
    if name is not None:
        found[name] = b" ".join(v.strip() for v in value)
    return found


def header_key_from_fields(found: dict[str, bytes], fallback: str = "") -> str:
    parts = [
        normalise_message_id(found.get("message-id")),
        _normalise_date(found.get("date")),
        _normalise_text(found.get("from")).lower(),
        _normalise_text(found.get("subject")),
    ]
    if not any(parts):
        parts.append(fallback.encode())
    return hashlib.sha256(b"v1\0" + b"\0".join(parts)).hexdigest()


def header_key_from_block(block: bytes, fallback: str = "") -> str:
    """header_key from a header block (or a HEADER.FIELDS fetch)."""
    return header_key_from_fields(fingerprint_fields(block), fallback)


def message_id_key(found: dict[str, bytes]) -> str:
    """The normalised Message-ID of fingerprint fields, "" when there is none."""
    return normalise_message_id(found.get("message-id")).decode("latin-1")


def has_message_id(block: bytes) -> bool:
    return bool(fingerprint_fields(block).get("message-id", b"").strip())


def size_fallback(size: int) -> str:
    return f"size:{size}"


def header_key(crlf_data: bytes) -> str:
    """header_key of a whole message (CRLF bytes, as sent)."""
    return header_key_from_fields(
        fingerprint_fields(crlf_data, headers.header_end(crlf_data)),
        size_fallback(len(crlf_data)))
