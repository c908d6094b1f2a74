"""Write test mail stores: messages and mbox files with known bytes."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

_FROM_LINE = re.compile(rb"(?m)^(>*From )")


def message(subject: str, body: str = "Hello.\n", *, msgid: str | None = "auto",
            date: str = "Mon, 03 Feb 2020 10:00:00 +0100", sender: str = "Ann <ann@example.org>",
            extra: str = "", eol: str = "\n") -> bytes:
    """A small RFC 5322 message with LF (or *eol*) line endings."""
    if msgid == "auto":
        msgid = f"<{abs(hash((subject, body, date))):x}@example.org>"
    lines = [f"From: {sender}", "To: Bob <bob@example.org>", f"Subject: {subject}",
             f"Date: {date}"]
    if msgid:
        lines.append(f"Message-ID: {msgid}")
    if extra:
        lines.extend(extra.rstrip("\n").split("\n"))
    text = "\n".join(lines) + "\n\n" + body
    return text.replace("\n", eol).encode("utf-8")


def ctime(when: dt.datetime) -> str:
    return when.strftime("%a %b %e %H:%M:%S %Y")


def mboxrd_quote(data: bytes) -> bytes:
    return _FROM_LINE.sub(rb">\1", data)


def write_mbox(path: Path, messages: list[bytes], dates: list[dt.datetime] | None = None,
               eol: bytes = b"\n", sender: str = "MAILER-DAEMON") -> Path:
    """Write an mboxrd file; each message gets a From_ line and a blank line after it."""
    out = bytearray()
    for i, msg in enumerate(messages):
        when = dates[i] if dates else dt.datetime(2020, 1, 1, 12, 0, i % 60)
        out += f"From {sender} {ctime(when)}".encode() + eol
        body = mboxrd_quote(msg)
        if not body.endswith(eol):
            body += eol
        out += body + eol
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))
    return path


def crlf(data: bytes) -> bytes:
    return re.sub(rb"\r?\n", b"\r\n", data)


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under *root* (or the file itself) with its bytes, for before/after checks."""
    root = Path(root)
    if root.is_file():
        return {root.name: root.read_bytes()}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def write_jobs(path: Path, defaults: dict, jobs: dict[str, dict]) -> Path:
    """A jobs file with *defaults* and a ``[jobs.NAME]`` table per job; strings and paths
    written as TOML strings (any path, a Windows one too), lists of them as arrays."""
    from migrate.discover import toml_string

    def value(v) -> str:
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(map(value, v)) + "]"
        return toml_string(str(v)) if isinstance(v, (str, Path)) else str(v).lower() \
            if isinstance(v, bool) else str(v)

    def table(name: str, values: dict) -> str:
        return f"[{name}]\n" + "".join(f"{k} = {value(v)}\n" for k, v in values.items())
    text = table("defaults", defaults) + "".join(
        "\n" + table(f"jobs.{name}", values) for name, values in jobs.items())
    Path(path).write_text(text, encoding="utf-8")
    return Path(path)
