"""Header access on raw message bytes, without parse-and-reserialise.

The stdlib ``email`` parser rewrites bytes and is slow; readers and
fingerprints only need a few header values, so they are read straight from the
header block here.
"""

from __future__ import annotations

import datetime as dt
import email.header
import email.utils
import functools
import re
from typing import Literal

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_EOL = re.compile(rb"\r\n|\r|\n")

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}

# "Mon Oct 16 16:18:56 2023", "Thu Jan  1 00:00:00 1970", optionally with a zone
# after the time or the year ("GMT-0700", "+0200", "PDT").
_CTIME = re.compile(
    rb"(?:[A-Za-z]{3},?\s+)?(?P<mon>[A-Za-z]{3})\s+(?P<day>\d{1,2})\s+"
    rb"(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?"
    rb"(?:\s+(?P<zone1>[A-Za-z]{1,5}(?:[+-]\d{4})?|[+-]\d{4}))?"
    rb"\s+(?P<year>\d{4})"
    rb"(?:\s+(?P<zone2>[A-Za-z]{1,5}(?:[+-]\d{4})?|[+-]\d{4}))?"
)
_OFFSET = re.compile(rb"([+-])(\d{2})(\d{2})$")

# Plausible range for a mail date; anything else is treated as missing.
_MIN_YEAR, _MAX_YEAR = 1971, 2100


def to_crlf(data: bytes) -> bytes:
    """Return *data* with every line ending (LF, CR, CRLF) made CRLF."""
    if b"\r" not in data:
        return data.replace(b"\n", b"\r\n")
    # bytes.splitlines breaks at exactly these three (in C: a regular expression
    # substitution cost 10 us a KB, and Windows files are all CRLF)
    crlf = b"\r\n".join(data.splitlines())
    return crlf + b"\r\n" if data.endswith((b"\r", b"\n")) else crlf


_WINDOW = 4096


def _blank_line(data: bytes | bytearray, begin: int = 0) -> tuple[int, int] | None:
    """Where the first blank line at or after *begin* is: what ``_HEADER_END.search``
    finds, by memchr-speed finds instead of the regex engine (it runs on every
    message; the mbox splitter also asks it of its read window)."""
    size = _WINDOW  # headers are short: look there first, not through the whole body
    while True:
        end = min(begin + size, len(data))
        nl = data.find(b"\n", begin, end)
        if nl > begin and data[nl - 1] == 13:  # CRLF lines: their blank line first, then
            crlf = data.find(b"\n\r\n", begin, end)  # an LF one only if it comes before
            lf = data.find(b"\n\n", begin, end if crlf < 0 else crlf + 3)
        else:
            lf = data.find(b"\n\n", begin, end)
            crlf = data.find(b"\n\r\n", begin, end if lf < 0 else lf + 2)
        if lf >= 0 or crlf >= 0 or end == len(data):
            break  # the earlier of two found in one window is the first in the data
        size *= 4
    i = lf if crlf < 0 or 0 <= lf < crlf else crlf
    if i < 0:
        return None
    start = i - 1 if i > begin and data[i - 1] == 13 else i  # "\r\n\r\n" starts at its "\r"
    return start, i + 2 if i == lf else i + 3


def crlf_blank_line(data: bytes) -> tuple[int, int] | None:
    """``_blank_line`` of bytes whose only line ends are CRLF (what ``to_crlf`` makes):
    one four-byte find (a CRLF header block has no "\\n\\n" to rule out)."""
    i = data.find(b"\r\n\r\n")
    return (i, i + 4) if i >= 0 else None


def header_end(data: bytes) -> int:
    """Where the header section of a raw message ends (its blank line, or the end)."""
    found = _blank_line(data)
    return found[0] if found else len(data)


def header_block(data: bytes) -> bytes:
    """Return the header section of a raw message (without the blank line)."""
    return data[: header_end(data)]


def split_headers(data: bytes) -> tuple[bytes, bytes]:
    """Split a raw message into (header block, body)."""
    found = _blank_line(data)
    if not found:
        return data, b""
    return data[: found[0]], data[found[1]:]


NAME_MOST = 998  # a header name is never longer than a line may be (RFC 5322 2.1.1)


def iter_headers(block: bytes, wanted: set[str] | frozenset | None = None,
                 end: int | None = None):
    """Yield (lowercase name, unfolded raw value) pairs from a header block, or from
    the first *end* bytes of a message, read in place: no copy of the block, and
    with *wanted* no copy of any other header's value (a header of one 2 GB line
    costs a scan, not gigabytes)."""
    end = len(block) if end is None else end
    if end <= SMALL_BLOCK:  # nearly every message: split a copy, fast
        for name, value in _iter_small(block[:end] if end < len(block) else block):
            if wanted is None or name in wanted:
                yield name, value
        return
    name = None
    spans: list[tuple[int, int]] = []
    pos = 0
    while pos <= end:
        m = _EOL.search(block, pos, end)
        stop, after = (m.start(), m.end()) if m else (end, end + 1)
        first = block[pos:pos + 1]
        if first in (b" ", b"\t") and name is not None:
            spans.append((pos, stop))
        else:
            if name is not None:
                yield name, _unfold(block, spans)
            colon = block.find(b":", pos, min(stop, pos + NAME_MOST))
            key = block[pos:colon].strip() if colon > pos else b" "
            name = None
            if b" " not in key:  # (an empty name too: its indented lines are its own)
                name = key.lower().decode("ascii", "replace")
                if wanted is not None and name not in wanted:
                    name = None  # its continuation lines are skipped with it
                    spans = []
                    pos = after
                    while pos < end and block[pos:pos + 1] in (b" ", b"\t"):
                        m = _EOL.search(block, pos, end)
                        pos = m.end() if m else end + 1
                    continue
                spans = [(colon + 1, stop)]
        pos = after
    if name is not None:
        yield name, _unfold(block, spans)


SMALL_BLOCK = 256 << 10  # a header section up to this size is read from a copy


def _iter_small(block: bytes):
    """``iter_headers`` of a small block: split into lines (a copy; quick)."""
    name = None
    value: list[bytes] = []
    for line in _EOL.split(block):
        if line[:1] in (b" ", b"\t") and name is not None:
            value.append(line)
            continue
        if name is not None:
            yield name, b" ".join(v.strip() for v in value)
        colon = line.find(b":", 0, NAME_MOST)
        if colon <= 0 or b" " in line[:colon].strip():
            name = None
            continue
        name = line[:colon].strip().lower().decode("ascii", "replace")
        value = [line[colon + 1:]]
    if name is not None:
        yield name, b" ".join(v.strip() for v in value)


def _unfold(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    return b" ".join(data[a:b].strip() for a, b in spans)


def get_headers(data: bytes, names: set[str]) -> dict[str, list[bytes]]:
    """Return {name: [values...]} for the wanted lowercase header *names*."""
    found: dict[str, list[bytes]] = {}
    for name, value in iter_headers(data, names, header_end(data)):
        found.setdefault(name, []).append(value)
    return found


def get_header(data: bytes, name: str) -> bytes | None:
    """Return the first value of header *name* (lowercase), or None."""
    values = get_headers(data, {name}).get(name)
    return values[0] if values else None


def _plausible(when: dt.datetime | None) -> dt.datetime | None:
    if when is None or not (_MIN_YEAR <= when.year <= _MAX_YEAR):
        return None
    return when


def _zone_offset(zone: bytes | None) -> dt.timezone:
    if zone:
        m = _OFFSET.search(zone)
        if m:
            sign = -1 if m.group(1) == b"-" else 1
            delta = dt.timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
            if delta <= dt.timedelta(hours=14):
                return dt.timezone(sign * delta)
    return dt.timezone.utc


@functools.lru_cache(maxsize=16)
def _ctime(text: bytes):
    """The ctime match of *text*: each From_ line is judged as a separator, then
    parsed for its date; one search serves both."""
    return _CTIME.search(text)


def has_ctime(text: bytes) -> bool:
    """True if *text* contains a ctime-style date (any year: separators only)."""
    return _ctime(bytes(text)) is not None


def parse_ctime(text: bytes) -> dt.datetime | None:
    """Parse the date of an mbox From_ line leniently; None if absent or absurd.

    RFC 4155 says the From_ date is UTC; a trailing numeric zone is honoured.
    readpst's fallback date (1 Jan 1970) counts as absent.
    """
    m = _ctime(bytes(text))
    if not m:
        return None
    mon = _MONTHS.get(m.group("mon").decode("ascii").lower())
    if mon is None:
        return None
    try:
        when = dt.datetime(int(m.group("year")), mon, int(m.group("day")),
                           int(m.group("h")), int(m.group("m")), int(m.group("s") or 0),
                           tzinfo=_zone_offset(m.group("zone1") or m.group("zone2")))
    except ValueError:
        return None
    return _plausible(when)


# The form nearly every Date: header has ("Mon, 01 Jan 2001 00:00:00 +0000"), read
# without the stdlib's general parser (a fifth of the plan's time); anything
# else goes to email.utils, and tests/unit/test_protocol_parsers.py holds the two equal.
_COMMON_DATE = re.compile(
    rb"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),[ \t]*)?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|"
    rb"Sep|Oct|Nov|Dec) (\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)")
_MONTH_NUMBER = {m.encode(): i for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)}
_ZONES: dict[int, dt.timezone] = {}


def _common_date(value: bytes) -> dt.datetime | None | Literal[False]:
    """The date in the common form; False when *value* is not in that form."""
    m = _COMMON_DATE.fullmatch(value.strip())
    if m is None:
        return False
    day, mon, year, hh, mm, ss, sign, zh, zm = m.groups()
    offset = (int(zh) * 3600 + int(zm) * 60) * (-1 if sign == b"-" else 1)
    zone = _ZONES.get(offset)
    if zone is None:
        if offset == 0:
            zone = dt.timezone.utc if sign == b"-" else dt.timezone(dt.timedelta(0))
        else:
            try:
                zone = dt.timezone(dt.timedelta(seconds=offset))
            except ValueError:
                return None
        _ZONES[offset] = zone
    try:
        when = dt.datetime(int(year), _MONTH_NUMBER[mon], int(day), int(hh), int(mm), int(ss),
                           tzinfo=zone)
    except ValueError:
        return None
    return _plausible(when)


def parse_rfc_date(value: bytes | None) -> dt.datetime | None:
    """Parse an RFC 5322 date (Date:, or the part after ';' of Received:)."""
    if not value:
        return None
    common = _common_date(value)
    if common is not False:
        return common
    text = value.decode("latin-1").strip()
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return _plausible(when)


def header_date(data: bytes) -> dt.datetime | None:
    """Best delivery date from the headers: the topmost Received:, then Date:.

    The topmost Received: is the last hop, i.e. the delivery into the mailbox,
    which is what INTERNALDATE means.
    """
    headers = get_headers(data, {"received", "date"})
    for received in headers.get("received", []):
        _, _, when = received.rpartition(b";")
        parsed = parse_rfc_date(when)
        if parsed:
            return parsed
    for value in headers.get("date", []):
        parsed = parse_rfc_date(value)
        if parsed:
            return parsed
    return None


def decode_words(value: bytes) -> str:
    """A header value for people: unfolded, RFC 2047 words decoded, never raising."""
    text = re.sub(r"\r?\n[ \t]+", " ", value.decode("utf-8", "replace")).strip()
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (ValueError, LookupError, UnicodeError):
        return text
