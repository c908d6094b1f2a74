"""Error classes, each carrying its own exit code.

Only ``migrate.cli.main`` turns these into a process exit status; the rest of
the code raises them with a message that tells the user what to do next.
Exit codes are documented in docs/exit-codes.md.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    SUCCESS = 0
    SKIPPED = 1  # finished, but some messages were skipped or refused (see report)
    USAGE = 2  # bad arguments, configuration, or a source that cannot be read
    CONNECTION = 3  # network or TLS failure reaching the server
    AUTH = 4  # the server refused the credentials
    QUOTA = 5  # the account is full; what was uploaded stays uploaded
    VERIFY_FAILED = 6  # verify found messages missing from the server
    BACKUP = 7  # no verified backup, or backup verification failed
    STOPPED = 8  # --stop-at / --max-duration reached; run again to continue
    INTERNAL = 70  # a bug: please report it with the log file
    INTERRUPTED = 130  # Ctrl-C / SIGTERM; state is saved, re-run to continue


class MigrateError(Exception):
    """Base class: an error the user can act on."""

    exit_code = ExitCode.INTERNAL


class UsageError(MigrateError):
    exit_code = ExitCode.USAGE


class SourceError(MigrateError):
    """A store that cannot be read at all (one clear error naming the path)."""

    exit_code = ExitCode.USAGE


class ConnectionFailed(MigrateError):
    exit_code = ExitCode.CONNECTION


class BadServerAnswer(MigrateError):
    """The server answered in a way IMAP does not allow, or too slowly to be an
    answer (a literal of gigabytes, a UID past 32 bits, a SELECT without
    UIDVALIDITY, a list trickled a line at a time): stop, with a sentence, and
    never guess. Not retried: the same server answers the same way."""

    exit_code = ExitCode.CONNECTION


class Throttled(ConnectionFailed):
    """The server asked us to slow down (Office 365); retried after *delay* seconds."""

    def __init__(self, message: str, delay: float):
        super().__init__(message)
        self.delay = delay


class SessionEnded(ConnectionFailed):
    """The server ended the session saying it expired ("* BYE Session expired, please
    login again."): Gmail says so past its daily upload budget, and so does an ordinary
    expiry. Classified by the transport; the engine decides which it was."""


class TooManyConnections(ConnectionFailed):
    """The account has all the connections its provider allows ("[ALERT] Too many
    simultaneous connections", Gmail): retried when one of ours closes, so a run
    with more connections than allowed goes on with fewer instead of failing."""


class MailboxError(MigrateError):
    """One mailbox cannot be used (name refused, CREATE or SELECT failed).

    The engine skips that folder, names it with this reason, and goes on
    with the others (mbsync's mailbox-level error).
    """

    exit_code = ExitCode.SKIPPED


class AuthFailed(MigrateError):
    exit_code = ExitCode.AUTH


class QuotaExceeded(MigrateError):
    exit_code = ExitCode.QUOTA


class BackupError(MigrateError):
    exit_code = ExitCode.BACKUP


class Interrupted(MigrateError):
    exit_code = ExitCode.INTERRUPTED


def check_line(value: str | None, what: str) -> str | None:
    """*value* unless it holds CR, LF or NUL: such a value would add protocol commands."""
    if value is not None and any(c in value for c in "\r\n\0"):
        raise UsageError(f"{what} {value!r} contains a line break or NUL; remove it")
    return value
