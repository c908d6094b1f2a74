"""LIST answers read without imapclient's general parser (RFC 3501 7.2.2, RFC 9051).

A mailbox name is an astring: an atom, a quoted string or a literal. Servers
send names as atoms that imapclient's parser refuses (Dovecot lists
``Evil_[31mRed`` bare, and "No closing ']'" made every later command of that
account fail), so LIST is read here: one line a mailbox, whatever bytes its
name holds. No I/O: tested on byte literals.
"""

from __future__ import annotations

from typing import Any


class ListParseError(ValueError):
    """A LIST line that is not ``(flags) delimiter name``."""


def _quoted(line: bytes, i: int) -> tuple[bytes, int]:
    """The quoted string starting at line[i] == '"': (its value, index after it)."""
    out = bytearray()
    i += 1
    while i < len(line):
        c = line[i]
        if c == 0x5C and i + 1 < len(line):  # backslash: the next byte as it is
            out.append(line[i + 1])
            i += 2
            continue
        if c == 0x22:
            return bytes(out), i + 1
        out.append(c)
        i += 1
    raise ListParseError(f"no closing quote in {line[:200]!r}")


def parse_list_line(line: bytes, literal: bytes | None = None
                    ) -> tuple[tuple[bytes, ...], bytes | None, bytes]:
    """(flags, delimiter or None, raw name) of one LIST answer. *literal*: the name,
    when the server sent it as a literal (the line then ends in ``{n}``)."""
    line = line.strip()
    if not line.startswith(b"("):
        raise ListParseError(f"a LIST answer without flags: {line[:200]!r}")
    close = line.find(b")")
    if close < 0:
        raise ListParseError(f"no closing ')' in {line[:200]!r}")
    flags = tuple(line[1:close].split())
    i = close + 1
    while i < len(line) and line[i] == 0x20:
        i += 1
    if line[i:i + 1] == b'"':
        quoted, i = _quoted(line, i)
        delimiter = quoted or None
    elif line[i:i + 3].upper() == b"NIL":
        delimiter, i = None, i + 3
    else:
        raise ListParseError(f"no delimiter in {line[:200]!r}")
    while i < len(line) and line[i] == 0x20:
        i += 1
    if literal is not None:
        return flags, delimiter, literal
    if line[i:i + 1] == b'"':
        name, _ = _quoted(line, i)
        return flags, delimiter, name
    end = line.find(b" ", i)  # an atom, whatever it holds, to the next space
    name = line[i:] if end < 0 else line[i:end]
    if not name:
        raise ListParseError(f"no mailbox name in {line[:200]!r}")
    return flags, delimiter, name


def parse_list(data: list[Any]) -> list[tuple[tuple[bytes, ...], bytes | None, bytes]]:
    """Every (flags, delimiter, raw name) of LIST answers as imaplib gives them: a
    line as bytes, or a (line up to the literal, literal) pair followed by the rest
    of that line (LIST-EXTENDED data, ignored)."""
    out = []
    after_literal = False
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):
            out.append(parse_list_line(item[0], item[1]))
            after_literal = True
            continue
        if after_literal:  # the rest of the line a literal ended
            after_literal = False
            continue
        if item.strip():
            out.append(parse_list_line(item))
    return out
