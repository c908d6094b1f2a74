"""Read the answers of pipelined looks into many mailboxes (no I/O).

``IMAPTarget.statuses``, ``look_into`` and ``copies_in`` send STATUS, EXAMINE
and UID SEARCH (or FETCH) for many mailboxes at once and read imaplib's
untagged data themselves, command after command. These read that data: the
items of a STATUS answer, the UIDs of a SEARCH answer (straight into an
array: imapclient made a Python int per UID of a list), the EXAMINE answer's
UIDVALIDITY, UIDNEXT and EXISTS. Each returns None for any shape it does not
know (a literal mailbox name, a token that is not a number); the caller then
looks into that mailbox the ordinary way, so an unusual server costs round
trips, never a misread.
"""

from __future__ import annotations

import re
from array import array
from typing import Any

_STATUS_ITEMS = re.compile(rb"\(([A-Z0-9 ]*)\)\s*$")
_DIGITS = re.compile(rb"[0-9]+")
_PIECE = 1 << 16  # bytes of a SEARCH answer read at a time (no list of a million)


def status_items(answers: list[Any]) -> dict[bytes, int] | None:
    """The items of the one STATUS answer in *answers* (imaplib's untagged data):
    {b"MESSAGES": 3, b"UIDVALIDITY": ...}, or None."""
    if len(answers) != 1 or not isinstance(answers[0], bytes):
        return None
    m = _STATUS_ITEMS.search(answers[0])
    if m is None:
        return None
    items = m.group(1).split()
    if len(items) % 2 or not all(map(_DIGITS.fullmatch, items[1::2])):
        return None
    return {name: int(value) for name, value in zip(items[::2], items[1::2])}


def search_uids(answers: list[Any], uid_type: str, max_uid: int) -> array[int] | None:
    """The UIDs of SEARCH answers, ascending and distinct, or None when some token is not
    a UID (a number from 1 to *max_uid*)."""
    out = array(uid_type)
    for data in answers:
        if not isinstance(data, bytes):
            return None
        start = 0
        while start < len(data):
            stop = data.find(b" ", start + _PIECE)
            stop = len(data) if stop < 0 else stop
            tokens = data[start:stop].split()
            if not all(map(_DIGITS.fullmatch, tokens)):
                return None
            numbers = list(map(int, tokens))
            if numbers and (min(numbers) < 1 or max(numbers) > max_uid):
                return None
            out.extend(numbers)
            start = stop
    if any(a >= b for a, b in zip(out, out[1:])):
        out = array(uid_type, sorted(set(out)))
    return out


def examined(untagged: dict[str, Any]) -> tuple[int, int | None, int] | None:
    """(UIDVALIDITY, UIDNEXT or None, EXISTS) of an EXAMINE's untagged data, or None."""
    def last(key: str) -> int | None:
        values = untagged.get(key) or [None]
        value = values[-1]
        return int(value) if isinstance(value, bytes) and _DIGITS.fullmatch(value) else None
    validity, exists = last("UIDVALIDITY"), last("EXISTS")
    if validity is None or exists is None:
        return None
    return validity, last("UIDNEXT"), exists
