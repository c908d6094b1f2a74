"""Server answers read without I/O (imapclient's habit): APPENDUID and COPYUID, a
server's words for a person, LIST names and flags, a FETCH answer's fingerprint."""

from __future__ import annotations

import re
from typing import Any

from imapclient.imap_utf7 import decode as decode_utf7

from migrate import fingerprint
from migrate.target.base import AppendResult, ServerCopy
from migrate.target.guard import uid_number

UID_SET = rb"(\d+(?::\d+)?(?:,\d+(?::\d+)?)*)"  # RFC 4315 uid-set
APPENDUID = re.compile(rb"\[APPENDUID (\d+) " + UID_SET + rb"\]")
COPYUID = re.compile(rb"\[COPYUID (\d+) " + UID_SET + rb" " + UID_SET + rb"\]")
QUOTA_STORAGE = re.compile(rb"(?i)\bSTORAGE (\d+) (\d+)")
RESP_CODE = re.compile(rb"^\[([A-Z-]+)")
TOO_MANY = re.compile(r"(?i)too many (simultaneous |concurrent )?connections")
# RFC 5530: the server could not decide (Dovecot: "Temporary authentication failure"
# when its user database cannot be read), as opposed to [AUTHENTICATIONFAILED]
UNAVAILABLE = re.compile(r"(?i)\[UNAVAILABLE\]|temporary authentication failure")
SPECIAL_USE = ("\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive", "\\All", "\\Flagged")


MOST_UIDS = 100_000  # more than any APPEND or COPY of ours carries


def parse_uid_set(text: bytes) -> list[int] | None:
    """The UIDs of a uid-set ("1:3,7"), in order; None for more than MOST_UIDS (a
    server's answer never names more than we sent: the journal resolves it instead)."""
    ranges = []
    for part in text.split(b","):
        lo, _, hi = part.partition(b":")
        a, b = uid_number(lo, "a UID", "the server"), uid_number(hi or lo, "a UID", "the server")
        ranges.append((min(a, b), max(a, b)))
    if sum(b - a + 1 for a, b in ranges) > MOST_UIDS:
        return None
    return [uid for a, b in ranges for uid in range(a, b + 1)]


def parse_append_response(typ: str, data: list[Any] | None) -> AppendResult:
    """Turn an APPEND's (typ, data) into an AppendResult (APPENDUID parsed)."""
    text = b" ".join(d if isinstance(d, bytes) else str(d).encode() for d in (data or []) if d)
    ok = typ == "OK"
    m = APPENDUID.search(text)
    code = RESP_CODE.match(text)
    return AppendResult(
        ok=ok,
        uidvalidity=uid_number(m.group(1), "APPENDUID's UIDVALIDITY", "the server")
        if m else None,
        uids=parse_uid_set(m.group(2)) if m else None,
        code=code.group(1).decode() if code else None,
        text=text.decode("utf-8", "replace"),
    )


WRAPPED = re.compile(r"^(?:\w+ failed: |\w+ command error: \w+ \[b?['\"](.*)['\"]\]$)", re.S)


def server_words(e: BaseException) -> bytes:
    """What the server said, from an imaplib/imapclient error ("APPEND command error: BAD
    [b'...']", "append failed: ..."): the reason a person reads."""
    text = str(e)
    m = WRAPPED.match(text)
    if m:
        text = m.group(1) if m.group(1) is not None else text[m.end():]
    return text.encode("utf-8", "replace")


def said(e: BaseException, limit: int = 200) -> str:
    """The server's words for a person: one line of printable text, cut short (a
    hostile server's text must not reach the terminal as control characters)."""
    text = server_words(e).decode("utf-8", "replace")
    if text[:2] in ("b'", 'b"') and text[-1:] == text[1]:  # imaplib's repr of the bytes
        text = text[2:-1]
    text = "".join(c if c.isprintable() else " " for c in text).strip()
    return (text[:limit] + "...") if len(text) > limit else text or "nothing"


def parse_copy_response(typ: str, data: list[Any] | None) -> AppendResult:
    """Turn a UID COPY's (typ, data) into an AppendResult: COPYUID's source UIDs in
    ``sources``, the new ones in ``uids``, in the same order (RFC 4315)."""
    result = parse_append_response(typ, data)
    m = COPYUID.search(result.text.encode())
    if m:
        sources, uids = parse_uid_set(m.group(2)), parse_uid_set(m.group(3))
        if sources is not None and uids is not None and len(sources) == len(uids):
            result.uidvalidity, result.sources, result.uids = uid_number(
                m.group(1), "COPYUID's UIDVALIDITY", "the server"), sources, uids
    return result


def copy_of(uid: int, item: dict[bytes, Any]) -> ServerCopy:
    """A server message's fingerprint from its FETCH answer (``IMAPTarget.FINGERPRINT_ITEMS``)."""
    fields = fingerprint.answer_fingerprint_fields(header_item(item))
    size = int(item[b"RFC822.SIZE"])
    return ServerCopy(
        uid, fingerprint.header_key_from_fields(fields, fingerprint.size_fallback(size)),
        size, fingerprint.message_id_key(fields),
        frozenset(decode_atom(f) for f in item.get(b"FLAGS", ())))


def mailbox_name(raw: bytes) -> str:
    """A LIST name as text: modified UTF-7 decoded, or (a name a server sent in some
    other encoding) its bytes kept as undecodable escapes, never an error."""
    try:
        raw.decode("ascii")
        return str(decode_utf7(raw))
    except (UnicodeError, ValueError, IndexError):
        return raw.decode("utf-8", "surrogateescape")


def holds_mail(flags: tuple[bytes, ...]) -> bool:
    """A LISTed mailbox that can hold mail: a parent that exists only because a child
    was created (Dovecot lists it \\NonExistent or \\Noselect) must still be CREATEd."""
    return not ({b"\\NOSELECT", b"\\NONEXISTENT"} & {f.upper() for f in flags})


def quoted(value: bytes) -> bytes:
    """An IMAP quoted string (for values without CR, LF or NUL)."""
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def header_item(item: dict[bytes, Any]) -> bytes:
    for key, value in item.items():
        if key.startswith(b"BODY[HEADER.FIELDS"):
            return value or b""
    return b""


def decode_atom(value: object) -> str:
    """A flag or delimiter as text: IMAP makes them ASCII atoms; a server that sends
    other bytes gets U+FFFD for them, not a traceback (no kept flag is non-ASCII)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
