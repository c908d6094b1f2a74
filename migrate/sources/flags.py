"""Translate each store's way of keeping message state into IMAP flags.

Returned flags are IMAP system flags (``\\Seen`` ...) and keywords
(``$Forwarded``, user tags). ``\\Recent`` is never produced: a client cannot set
it. A message that the store marks as deleted-but-not-compacted is returned
with a skip reason instead of a ``\\Deleted`` flag, so it is never migrated.
"""

from __future__ import annotations

import re
from typing import Any

from migrate import headers
from migrate.keywords import imap_keyword
from migrate.sources.base import SKIP_DELETED, SKIP_TRASHED

SEEN, ANSWERED, FLAGGED = "\\Seen", "\\Answered", "\\Flagged"
DELETED, DRAFT = "\\Deleted", "\\Draft"
FORWARDED = "$Forwarded"
TODO = "$Todo"  # KMail's "task" mark

# Thunderbird / Netscape X-Mozilla-Status (low 16 bits) and Status2 (high bits).
MOZ_READ, MOZ_REPLIED, MOZ_MARKED, MOZ_EXPUNGED = 0x1, 0x2, 0x4, 0x8
MOZ_PARTIAL, MOZ_FORWARDED = 0x400, 0x1000
MOZ2_IMAP_DELETED = 0x00200000

NOTE_PARTIAL = "partial"  # POP download was truncated: only part of the body exists

_ANY_STATE_HEADER = re.compile(rb"(?im)^(?:x-)?(?:status|mozilla-|keywords)")
_MOZ_HEADERS = {"status", "x-status", "x-mozilla-status", "x-mozilla-status2",
                "x-mozilla-keys", "x-keywords"}


def _hex(value: bytes | None) -> int:
    try:
        return int(value.strip()[:8], 16) if value else 0
    except ValueError:
        return 0


def valid_keywords(words) -> frozenset[str]:
    """The store's keywords as it spells them, less system-flag spellings.

    Keywords that are not IMAP atoms (``50%``, ``Müll``) are kept: the upload
    spells them as atoms (``migrate.keywords``), so no tag is lost.
    """
    return frozenset(w for w in words if imap_keyword(w))


def from_mbox_headers(data: bytes):  # noqa: C901 - one pass of a parser, read top to bottom
    """Flags from Status/X-Status, X-Mozilla-Status(2), X-Mozilla-Keys, X-Keywords.

    Returns (flags, keywords, skip_reason or None, notes).
    """
    end = headers.header_end(data)  # read in place: no copy of the header block
    if not _ANY_STATE_HEADER.search(data, 0, end):
        return frozenset(), frozenset(), None, ()
    found: dict[Any, list[Any]] = {}
    for name, value in headers.iter_headers(data, _MOZ_HEADERS, end):
        found.setdefault(name, []).append(value)
    first = {name: values[0] for name, values in found.items()}
    flags: set[str] = set()
    keywords: set[str] = set()
    skip = None
    notes: list[str] = []

    status = first.get("status", b"")
    if b"R" in status:
        flags.add(SEEN)
    xstatus = first.get("x-status", b"")
    for letter, flag in ((b"A", ANSWERED), (b"F", FLAGGED), (b"T", DRAFT)):
        if letter in xstatus:
            flags.add(flag)
    if b"D" in xstatus:
        skip = SKIP_DELETED
    # KMail's own X-Status letters (UW-IMAP writes only A F T D): U unread and N new
    # win over Status: R, G important, K a task
    if b"U" in xstatus or b"N" in xstatus:
        flags.discard(SEEN)
    if b"G" in xstatus:
        flags.add(FLAGGED)
    if b"K" in xstatus:
        keywords.add(TODO)

    if "x-mozilla-status" in first:
        moz = _hex(first["x-mozilla-status"])
        if moz & MOZ_READ:
            flags.add(SEEN)
        if moz & MOZ_REPLIED:
            flags.add(ANSWERED)
        if moz & MOZ_MARKED:
            flags.add(FLAGGED)
        if moz & MOZ_FORWARDED:
            keywords.add(FORWARDED)
        if moz & MOZ_EXPUNGED:
            skip = SKIP_DELETED
        if moz & MOZ_PARTIAL:
            notes.append(NOTE_PARTIAL)
    if _hex(first.get("x-mozilla-status2")) & MOZ2_IMAP_DELETED:
        skip = SKIP_DELETED

    for name in ("x-mozilla-keys", "x-keywords"):
        for value in found.get(name, []):
            keywords.update(value.decode("utf-8", "replace").replace(",", " ").split())
    return frozenset(flags), valid_keywords(keywords), skip, tuple(notes)


# Maildir info letters (after ":2,"); lowercase letters are keyword indexes.
_MAILDIR_FLAGS = {"S": SEEN, "R": ANSWERED, "F": FLAGGED, "D": DRAFT}


def from_maildir_info(info: str, keyword_names: dict[str, str] | None = None):
    """Flags from a maildir info string such as ``"RSa"``.

    Returns (flags, keywords, skip_reason or None). ``T`` (trashed) skips.
    """
    flags = {_MAILDIR_FLAGS[c] for c in info if c in _MAILDIR_FLAGS}
    keywords = set()
    if "P" in info:
        keywords.add(FORWARDED)
    for c in info:
        if c.islower() and keyword_names and c in keyword_names:
            keywords.add(keyword_names[c])
    skip = SKIP_TRASHED if "T" in info else None
    return frozenset(flags), valid_keywords(keywords), skip
