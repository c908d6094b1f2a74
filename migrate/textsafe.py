"""Text from mail, file names and servers, made safe to show a person.

A subject, folder or file name can carry terminal control sequences (ESC[2J
clears the screen, an OSC sequence can retitle the window or forge a link),
bidirectional overrides that make text read backwards, or bytes a file
system holds but no codec decodes. Shown raw they act on the terminal; here
they become visible escapes (``\\x1b``, ``\\u202e``, ``\\xe9``).
"""

from __future__ import annotations

import io
import re

# C0 and C1 controls, DEL, and the bidirectional embeddings, overrides and isolates
_OTHER_CONTROLS = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f{_OTHER_CONTROLS}\udc80-\udcff]")
_UNSAFE_IN_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHER_CONTROLS}\udc80-\udcff]")  # \t \n kept


def _escape(m: re.Match) -> str:
    c = m.group(0)
    if "\udc80" <= c <= "\udcff":  # an undecodable file-name byte
        return f"\\x{ord(c) - 0xdc00:02x}"
    return c.encode("unicode_escape").decode("ascii")


def shown(text) -> str:
    """One line of *text* from data, safe to print or write into a report: every
    control character (newlines too: a name must not forge a line), bidi control
    and undecodable byte as an escape."""
    text = str(text)
    return _UNSAFE.sub(_escape, text) if _UNSAFE.search(text) else text


def shown_lines(text: str, keep: str = "") -> str:
    """*text* of many lines: tab and newline kept (and any of *keep*), the rest as
    in :func:`shown`."""
    if not _UNSAFE_IN_LINES.search(text):
        return text
    return _UNSAFE_IN_LINES.sub(lambda m: m.group(0) if m.group(0) in keep else _escape(m),
                                text)


def writable(stream) -> None:
    """Make *stream* (stdout, stderr) take any text: UTF-8 where it is not a console (a
    file, a pipe: on Windows it was the ANSI code page, and a Cyrillic or CJK folder
    name was exit 70, after a successful upload when the output went to a log), and
    escapes (``\\u0416``) for what a console's encoding cannot show."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is None:
        return
    try:
        if stream.isatty():
            reconfigure(errors="backslashreplace")
        else:
            reconfigure(encoding="utf-8", errors="backslashreplace")
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # a stream already written to in another encoding keeps it (tests' captures)


# names Windows keeps for devices, whatever follows a dot (CON, aux.txt, COM0...)
WINDOWS_DEVICES = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                             *(f"LPT{i}" for i in range(10))})


def windows_device(name: str) -> bool:
    """Whether Windows takes file name *name* for a device (CON, aux.txt, COM1)."""
    return name.split(".")[0].upper() in WINDOWS_DEVICES


class SafeStream(io.TextIOBase):
    """A text stream (stdout, stderr) that lets no control sequence through: the last
    line of defence for whatever was printed without :func:`shown`. *keep*: the
    controls our own output uses there (progress bars redraw with carriage return)."""

    def __init__(self, inner, keep: str = ""):
        self._inner, self._keep = inner, keep

    def write(self, text: str) -> int:
        self._inner.write(shown_lines(text, self._keep))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self):
        return getattr(self._inner, "encoding", "utf-8")

    @property
    def errors(self):
        return getattr(self._inner, "errors", "strict")

    @property
    def buffer(self):
        return self._inner.buffer

    def __getattr__(self, name):
        return getattr(self._inner, name)


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def csv_cell(value):
    """A text cell a spreadsheet shows as text: a leading = + - @ (or tab, CR) would make
    it a live formula (``=HYPERLINK(...)`` in a folder name), so it gets a leading '."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
