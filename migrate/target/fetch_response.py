"""Read the one FETCH answer matching asks for, without a general parser (no I/O).

Planning into, or verifying, a folder that holds a million messages fetches a
million fingerprints, and imapclient's general response parser (a Python
loop per character) took 60% of that time. ``fingerprint_items`` reads
imaplib's data for the shape ``IMAPTarget.fingerprints`` requests: per
message UID, RFC822.SIZE, FLAGS and one ``BODY[HEADER.FIELDS ...]`` literal,
in any order, and FETCH answers carrying only some of them (a flag change
another session made). It gives exactly what ``imapclient.response_parser.
parse_fetch_response`` gives, or None for anything else: a quoted or NIL
body, an answer without a UID, a flag imapclient would read as a number or
NIL, leading zeros, other whitespace, an item it does not know. On None the
caller gives the same data to imapclient, so an unusual server costs time,
never a misread (a misread fingerprint is a message sent twice).
tests/unit/test_protocol_parsers.py holds the two to the same answer.
"""

from __future__ import annotations

import re
from typing import Any

_START = re.compile(rb"(0|[1-9][0-9]*) \(")  # imapclient keeps "0123" as bytes: not ours
# One item after the list's "(" or a space; FLAGS atoms are printable ASCII without
# the characters imapclient's lexer treats specially ( ( ) % " [ ] { } ), one space
# apart: written so that a failing match backtracks in linear time (an optional
# space between atoms made it exponential: a 40-byte flag from a hostile server
# would have taken days).
_ATOM = rb"[!#$&'*+,\-./0-9:;<=>?@A-Z\\^_`a-z|~]+"
_ITEM = re.compile(
    rb"UID (?P<uid>0|[1-9][0-9]*)"
    rb"|RFC822\.SIZE (?P<size>0|[1-9][0-9]*)"
    rb"|FLAGS \((?P<flags>(?:" + _ATOM + rb"(?: " + _ATOM + rb")*)?)\)"
    rb"|(?P<body>BODY\[HEADER\.FIELDS[^\]]*\]) \{(?P<length>0|[1-9][0-9]*)\}\Z"
    rb"|(?P<end>\))", re.I)
_DIGITS = re.compile(rb"[0-9]+\Z")
_SIZE, _FLAGS = b"RFC822.SIZE", b"FLAGS"


def fingerprint_items(data: list[Any]) -> dict[int, dict[bytes, Any]] | None:  # noqa: C901 - one pass of a parser, read top to bottom
    """UID -> {b"SEQ": n, b"RFC822.SIZE": n, b"FLAGS": (...), b"BODY[HEADER.FIELDS
    (...)]": bytes} as imapclient would parse imaplib's FETCH *data*; None when
    *data* is not in the shape this reads (then parse it with imapclient)."""
    out: dict[int, dict[bytes, Any]] = {}
    item: dict[bytes, Any] | None = None  # the answer being read (its items so far), between chunks
    for chunk in data:
        if isinstance(chunk, tuple):
            if len(chunk) != 2 or not isinstance(chunk[1], bytes):
                return None
            text, literal = chunk
        else:
            text, literal = chunk, None
        if not isinstance(text, bytes):
            return None
        pos = 0
        if item is None:
            m = _START.match(text)
            if m is None:
                return None
            item, uid, pos = {b"SEQ": int(m.group(1))}, None, m.end()
            first = True
        else:
            first = False  # a chunk after a literal goes on with " ITEM" or ")"
        while True:
            if not first:
                if text.startswith(b")", pos):
                    pass
                elif text.startswith(b" ", pos):
                    pos += 1
                else:
                    return None
            first = False
            m = _ITEM.match(text, pos)
            if m is None:
                return None
            kind = m.lastgroup
            if kind == "end":  # the answer ends here, and so must the line
                if m.end() != len(text) or literal is not None or uid is None:
                    return None
                out.setdefault(uid, {}).update(item)
                item = None
                break
            if kind == "uid":
                uid = int(m.group("uid"))
            elif kind == "size":
                item[_SIZE] = int(m.group("size"))
            elif kind == "flags":
                flags = tuple(m.group("flags").split())
                if any(f == b"NIL" or _DIGITS.match(f) for f in flags):
                    return None  # imapclient makes these None and int
                item[_FLAGS] = flags
            else:  # BODY[...] {n} ends the text: the literal is its value
                if literal is None or int(m.group("length")) != len(literal):
                    return None
                item[m.group("body").upper()] = literal
                literal = None
                break
            pos = m.end()
    if item is not None:
        return None  # an answer left open
    return out
