"""What went wrong on a connection, classified where it is read: lost (retry on a new
one), ended as expired (``SessionEnded``), or a refusal the caller reads."""

from __future__ import annotations

import functools
import imaplib
import re
import ssl

import imapclient
from imapclient.exceptions import IMAPClientError

from migrate.errors import ConnectionFailed, SessionEnded
from migrate.target.guard import LINE_LIMIT


def lost_connection(e: BaseException) -> bool:
    """True when *e* means the connection is gone (retry on a new one), not a refusal."""
    if isinstance(e, (OSError, imaplib.IMAP4.abort, ssl.SSLError,
                      imapclient.exceptions.IMAPClientAbortError)):
        return True
    text = str(e)  # imaplib turns some socket failures into plain errors
    return isinstance(e, (IMAPClientError, imaplib.IMAP4.error)) and (
        "socket" in text.lower() or "EOF" in text)


# Gmail past ~500 MB a day: "* BYE Session expired, please login again." (imaplib keeps
# the text, not the word BYE)
_SESSION_EXPIRED = re.compile(r"(?i)\bsession expired\b")


def lost(message: str) -> ConnectionFailed:
    """A lost connection, classified where it is read: a session the server ended as
    expired is ``SessionEnded`` (the engine weighs it against the daily budget)."""
    if _SESSION_EXPIRED.search(message):
        return SessionEnded(message)
    return ConnectionFailed(message)


def connection_guard(method):
    """Turn a lost connection inside *method* into ConnectionFailed (retryable)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except ConnectionFailed:
            raise
        except Exception as e:  # classified below, re-raised otherwise
            if lost_connection(e):
                raise lost(f"connection to {self.config.address} lost during "
                           f"{method.__name__}: {type(e).__name__}: {e}") from None
            if isinstance(e, imaplib.IMAP4.error) and "got more than" in str(e):
                raise ConnectionFailed(
                    f"{self.config.address} answered {method.__name__} with one line of over "
                    f"{LINE_LIMIT >> 20} MB, more than mailmigrate reads (a mailbox of "
                    "millions of messages); nothing is lost: split that folder in the source "
                    "into smaller ones and run again") from None
            raise
    return wrapper
