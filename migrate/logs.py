"""Logging: readable terminal, detailed log file, and no secret in either.

Every :class:`~migrate.target.imap.Secret` registers its value here; a filter
on every handler replaces registered values, and the argument of LOGIN /
AUTHENTICATE lines in imapclient's protocol debug output, with ``***``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
import threading
from pathlib import Path

from migrate.textsafe import shown_lines

FORMAT = "%(asctime)s %(levelname)s %(message)s"
_secrets: set[str] = set()
_lock = threading.Lock()
# imaplib's protocol lines: "TAG LOGIN user pass", "TAG AUTHENTICATE MECH data" (upper case)
_PROTOCOL = re.compile(r'\b(LOGIN\s+\S+\s+|AUTHENTICATE\s+\S+\s+)("(?:[^"\\]|\\.)*"|[^\s\']+)')


def register_secret(value: str) -> None:
    if value and len(value) >= 3:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    text = _PROTOCOL.sub(r"\1***", text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """No secret, and no control character from data (a folder or subject with ESC
    sequences), in any log line, on the terminal or in a file."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = shown_lines(redact(message))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = shown_lines(
                redact(logging.Formatter().formatException(record.exc_info)))
            record.exc_info = None
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


def setup(level: str, log_file: Path | None = None) -> None:
    """Terminal at *level* on stderr; *log_file* (if any) at DEBUG with timestamps."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(getattr(logging, level.upper(), logging.INFO))
    console.setFormatter(logging.Formatter(FORMAT))
    console.addFilter(RedactingFilter())
    root.addHandler(console)
    root.setLevel(logging.DEBUG if log_file or level == "debug" else console.level)
    # imapclient's protocol log (LOGIN lines redacted above) only when asked for
    logging.getLogger("imapclient").setLevel(logging.DEBUG if level == "debug"
                                             else logging.WARNING)
    if log_file:
        add_file(log_file)


def add_file(path: Path) -> Path:
    """Also log everything (DEBUG) to *path*, created private to the user."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    return path


def run_log_path(state_path: Path) -> Path:
    """A new log file per run, beside the state database: <state>.logs/run-<time>.log."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(str(state_path) + ".logs") / f"run-{stamp}.log"
