"""The HTML that Outlook keeps inside an RTF body (``\\fromhtml1``, MS-OXRTFEX).

Outlook often stores an HTML mail only as "encapsulated" RTF: the original
HTML markup sits in ``{\\*\\htmltag ...}`` groups and the text between them is
ordinary RTF text, while ``\\htmlrtf ... \\htmlrtf0`` marks RTF that was added
for display and is not part of the HTML. Undoing that gives back the HTML,
which every mail client can show (few show text/rtf).
"""

from __future__ import annotations

import codecs
import re

_TOKEN = re.compile(rb"\\([a-zA-Z]+)(-?\d+)? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|([^\\{}\r\n]+)|"
                    rb"[\r\n]+", re.S)
# groups that hold RTF-only data (font and colour tables, pictures, ...)
_SKIP_DESTINATIONS = {b"fonttbl", b"colortbl", b"stylesheet", b"info", b"pict", b"object",
                      b"listtable", b"listoverridetable", b"rsidtbl", b"generator"}


def is_encapsulated_html(rtf: bytes) -> bool:
    return b"\\fromhtml" in rtf[:200]


def extract_html(rtf: bytes) -> str | None:  # noqa: C901 - one pass of a parser, read top to bottom
    """The HTML inside an Outlook RTF body, or None if it holds none."""
    if not is_encapsulated_html(rtf):
        return None
    found = re.search(rb"\\ansicpg(\d+)", rtf[:200])
    codec = _codec(f"cp{found.group(1).decode()}" if found else "cp1252")
    out: list[str] = []
    pending = bytearray()  # \'hh bytes, decoded together (double-byte code pages)
    # per group: (skip whole group, inside htmltag, htmlrtf suppression, \uc count)
    stack: list[list] = []
    state = [False, False, False, 1]
    skip_chars = 0
    star = False  # the last token was \*: the next control word names a destination

    def flush() -> None:
        if pending:
            out.append(pending.decode(codec, "replace"))
            pending.clear()

    def emit(text: str) -> None:
        skip, in_tag, suppressed, _ = state
        if not skip and (in_tag or not suppressed):
            flush()
            out.append(text)

    for match in _TOKEN.finditer(rtf):
        word, arg, hexbyte, symbol, brace, text = match.groups()
        if brace == b"{":
            flush()
            stack.append(state[:])
            star = False
            continue
        if brace == b"}":
            flush()
            if stack:
                state = stack.pop()
            continue
        if skip_chars and (hexbyte or text):
            if hexbyte:
                skip_chars -= 1
                continue
            drop = min(skip_chars, len(text))
            skip_chars -= drop
            text = text[drop:]
            if not text:
                continue
        if word is not None:
            if star:
                star = False
                if word == b"htmltag":
                    state[1] = True
                    continue
                if not state[1]:
                    state[0] = True  # an unknown \* destination: ignore the group
                continue
            if word in _SKIP_DESTINATIONS:
                state[0] = True
            elif word == b"htmlrtf":
                state[2] = arg != b"0"
            elif word == b"par" or word == b"line":
                emit("\r\n")
            elif word == b"tab":
                emit("\t")
            elif word == b"uc":
                state[3] = int(arg or 1)
            elif word == b"u":
                value = int(arg or 0)
                emit(chr(value + 65536 if value < 0 else value))
                skip_chars = state[3]
            continue
        if hexbyte is not None:
            skip, in_tag, suppressed, _ = state
            if not skip and (in_tag or not suppressed):
                pending.append(int(hexbyte, 16))
            continue
        if symbol is not None:
            if symbol == b"*":
                star = True
            elif symbol in (b"{", b"}", b"\\"):
                emit(symbol.decode())
            elif symbol == b"~":
                emit("\u00a0")
            continue
        if text:
            emit(text.decode(codec, "replace"))
    flush()
    html = "".join(out).strip()
    return html if "<" in html else None


def _codec(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "cp1252"
