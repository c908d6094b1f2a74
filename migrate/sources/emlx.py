"""One Apple Mail ``.emlx`` file: byte count, message, property list (I/O-free).

Layout (Mail 1 to 16): the first line is the message's length in bytes; that
many bytes of RFC 822 message follow (LF line ends); then an XML property list
with ``flags`` (an integer: 1 read, 2 deleted, 4 answered, 0x10 flagged, 0x40
draft, 0x100 forwarded; the attachment count and priority above) and
``date-received`` (seconds since 1970).

A ``.partial.emlx`` lacks the bodies of its larger parts: each such part keeps
its headers and an ``X-Apple-Content-Length`` header, and its content is a file
in ``Attachments/<number>/<part>/`` beside ``Messages/``, where ``<part>`` is the
part's IMAP section number (``2.4``). ``rebuild`` puts each back, encoded as the
part's Content-Transfer-Encoding says.
"""

from __future__ import annotations

import base64
import datetime as dt
import plistlib
import quopri
import re
from pathlib import Path

from migrate import headers
from migrate.sources.flags import ANSWERED, DRAFT, FLAGGED, FORWARDED, SEEN

READ, DELETED, ANSWERED_BIT, FLAGGED_BIT, DRAFT_BIT, FORWARDED_BIT = (
    0x1, 0x2, 0x4, 0x10, 0x40, 0x100)
_COUNT = re.compile(rb"[ \t]*([0-9]{1,12})[ \t]*\r?\n")
_APPLE_LENGTH = re.compile(rb"(?im)^X-Apple-Content-Length:[^\n]*\n")


class EmlxError(ValueError):
    """The file is not a whole .emlx: the sentence says what is wrong."""


class Emlx:
    """The parts of one .emlx file."""

    __slots__ = ("message", "plist")

    def __init__(self, message: bytes, plist: dict):
        self.message = message
        self.plist = plist

    @classmethod
    def parse(cls, data: bytes) -> "Emlx":
        m = _COUNT.match(data)
        if not m:
            raise EmlxError("no byte count on its first line: not an .emlx file")
        count, start = int(m.group(1)), m.end()
        if start + count > len(data):
            raise EmlxError(f"its first line promises {count} bytes of message but only "
                            f"{len(data) - start} follow: the file is cut short")
        plist: dict = {}
        rest = data[start + count:].strip()
        if rest:
            try:
                loaded = plistlib.loads(rest)
                plist = loaded if isinstance(loaded, dict) else {}
            except Exception:  # noqa: BLE001 - plistlib raises many kinds; the flags are lost
                plist = {}
        return cls(data[start:start + count], plist)

    @property
    def flag_bits(self) -> int:
        value = self.plist.get("flags", 0)
        return value if isinstance(value, int) else 0

    def flags(self) -> tuple[frozenset[str], frozenset[str]]:
        bits = self.flag_bits
        flags = {flag for bit, flag in ((READ, SEEN), (ANSWERED_BIT, ANSWERED),
                                        (FLAGGED_BIT, FLAGGED), (DRAFT_BIT, DRAFT))
                 if bits & bit}
        return frozenset(flags), frozenset({FORWARDED} if bits & FORWARDED_BIT else ())

    @property
    def deleted(self) -> bool:
        return bool(self.flag_bits & DELETED)

    def received(self) -> dt.datetime | None:
        value = self.plist.get("date-received")
        if isinstance(value, (int, float)) and 0 < value < 4_102_444_800:
            return dt.datetime.fromtimestamp(value, dt.timezone.utc)
        if isinstance(value, dt.datetime):
            return value.replace(tzinfo=value.tzinfo or dt.timezone.utc)
        return None


def detached_parts(message: bytes) -> list[tuple[str, int, int, int, int]]:
    """(section, header start, body start, body end, length promised) of every part
    whose content Apple Mail kept out of the file (``X-Apple-Content-Length``)."""
    found: list = []
    _walk(message, 0, len(message), "", found, top=True)
    return found


def _walk(data: bytes, begin: int, end: int, section: str, found: list, top: bool) -> None:
    blank = headers._blank_line(data, begin)
    if blank is None or blank[0] > end:
        header_stop = body = end
    else:
        header_stop, body = blank[0], min(blank[1], end)
    block = data[begin:header_stop]
    fields = {name: value for name, value in headers.iter_headers(
        block, {"content-type", "x-apple-content-length"})}
    ctype = fields.get("content-type", b"").strip().lower()
    if ctype.startswith(b"multipart/"):
        boundary = _boundary(fields.get("content-type", b""))
        if boundary:
            for n, (a, b) in enumerate(_parts(data, body, end, boundary), 1):
                _walk(data, a, b, f"{section}.{n}" if section else str(n), found, top=False)
        return
    if ctype.startswith(b"message/rfc822") and not top:
        _walk(data, body, end, section, found, top=False)  # its parts keep this number
        return
    promised = fields.get("x-apple-content-length")
    if promised is not None and promised.strip().isdigit():
        found.append((section or "1", begin, body, end, int(promised.strip())))


def _boundary(value: bytes) -> bytes | None:
    m = re.search(rb'(?i)boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))', value)
    return (m.group(1) or m.group(2)) if m else None


def _parts(data: bytes, begin: int, end: int, boundary: bytes) -> list[tuple[int, int]]:
    """(start, end) of each body part between ``--boundary`` lines (the line end
    before a delimiter belongs to the delimiter, RFC 2046 5.1.1)."""
    delimiter = re.compile(rb"(?m)^--" + re.escape(boundary) + rb"(--)?[ \t]*\r?$")
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for m in delimiter.finditer(data, begin, end):
        if start is not None:
            stop = m.start()
            if stop > start and data[stop - 1:stop] == b"\n":
                stop -= 2 if data[stop - 2:stop] == b"\r\n" else 1
            spans.append((start, max(start, stop)))
        if m.group(1):
            return spans
        nl = data.find(b"\n", m.end(), end)
        start = end if nl < 0 else nl + 1
    if start is not None and start < end:  # no closing delimiter: the last part runs to
        spans.append((start, end))  # the end (a message cut short, as 114895 in the corpus)
    return spans


def rebuild(message: bytes, attachment_dir: Path) -> tuple[bytes, list[str]]:
    """*message* with every detached part's content put back from *attachment_dir*
    (``Attachments/<number>``): (bytes, sections whose file is not there)."""
    parts = detached_parts(message)
    if not parts:
        return message, []
    eol = b"\r\n" if b"\r\n" in message[:headers.header_end(message) + 2] else b"\n"
    out, at, missing = [], 0, []
    for section, head, body, stop, _ in parts:
        content = _attachment(attachment_dir / section)
        if content is None:
            missing.append(section)
            continue
        part_headers = message[head:body]
        encoding = headers.get_header(part_headers, "content-transfer-encoding") or b""
        out += [message[at:head], _APPLE_LENGTH.sub(b"", part_headers),
                encode(content, encoding.strip().lower(), eol)]
        at = stop
    out.append(message[at:])
    return b"".join(out), missing


def _attachment(directory: Path) -> bytes | None:
    try:
        files = [p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")]
    except OSError:
        return None
    if len(files) != 1:
        return None
    try:
        return files[0].read_bytes()
    except OSError:
        return None


def encode(content: bytes, encoding: bytes, eol: bytes) -> bytes:
    """*content* as a part's body in the transfer encoding its headers name."""
    if encoding == b"base64":
        text = base64.b64encode(content)
        return eol.join(text[i:i + 76] for i in range(0, len(text), 76)) + eol
    if encoding == b"quoted-printable":
        return quopri.encodestring(content).replace(b"\n", eol)
    return content

